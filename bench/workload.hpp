#pragma once
// What the workload programs share: the clock, peak RSS, and the JSON line they print.

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace corio_bench {

/// Peak resident set size of this process so far, in bytes.
inline long peak_rss_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss * 1024L;
}

/// The value of `--name=value` on the command line, or `fallback`.
inline long arg(int argc, char** argv, const std::string& name, long fallback) {
    const std::string prefix = "--" + name + "=";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind(prefix, 0) == 0) {
            return std::strtol(a.c_str() + prefix.size(), nullptr, 10);
        }
    }
    return fallback;
}

using stopwatch = std::chrono::steady_clock;

inline double seconds_since(stopwatch::time_point start) {
    return std::chrono::duration<double>(stopwatch::now() - start).count();
}

} // namespace corio_bench
