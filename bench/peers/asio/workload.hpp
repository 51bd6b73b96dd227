#pragma once
// What the Boost.Asio workload programs share: `--name=N` arguments, peak RSS, the clock,
// and the switches Boost 1.74 needs for C++20 coroutines.

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

// Boost 1.74 turns on its C++20 coroutine support for g++ only; clang++ 14 with
// libstdc++'s <coroutine> works as well.
#if defined(__clang__) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace asio_bench {

inline long arg(int argc, char** argv, const char* name, long fallback) {
    const std::size_t len = std::strlen(name);
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--", 2) == 0 && std::strncmp(argv[i] + 2, name, len) == 0 &&
            argv[i][2 + len] == '=') {
            return std::strtol(argv[i] + 3 + len, nullptr, 10);
        }
    }
    return fallback;
}

/// VmHWM of /proc/self/status: the peak RSS of this program (getrusage's ru_maxrss
/// carries the parent's across fork and exec).
inline long peak_rss_bytes() {
    long kib = -1;
    if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        while (kib < 0 && std::fgets(line, sizeof line, f) != nullptr) {
            if (std::strncmp(line, "VmHWM:", 6) == 0) {
                kib = std::strtol(line + 6, nullptr, 10);
            }
        }
        std::fclose(f);
    }
    if (kib < 0) {
        rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        kib = usage.ru_maxrss;
    }
    return kib * 1024L;
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace asio_bench
