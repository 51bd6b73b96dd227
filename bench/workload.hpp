#pragma once
// What the workload programs share: the clock, peak RSS, and the JSON line they print.

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace corio_bench {

/// Peak resident set size of this program so far, in bytes: VmHWM of /proc/self/status.
/// (getrusage's ru_maxrss is no good here: Linux carries it across fork and exec, so a
/// program started by a large parent, such as the Python driver, starts at its size.)
inline long peak_rss_bytes() {
    if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        long kib = -1;
        while (std::fgets(line, sizeof line, f) != nullptr) {
            if (std::strncmp(line, "VmHWM:", 6) == 0) {
                kib = std::strtol(line + 6, nullptr, 10);
                break;
            }
        }
        std::fclose(f);
        if (kib >= 0) {
            return kib * 1024L;
        }
    }
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
