// W2 timers (shared BENCH.md): N tasks (1,000,000) each sleep (i*7919) % 1000 ms; wait for
// all. Reports wall time (ideal: 1.0 s, the longest sleep) and peak RSS per sleeping task.
//
//   build/release/bench/w2_timers [--tasks=1000000]

#include "workload.hpp"

#include <corio/corio.hpp>

#include <chrono>
#include <vector>

namespace {

corio::task<> sleeper(long i) {
    co_await corio::sleep(std::chrono::milliseconds((i * 7919) % 1000));
}

corio::task<long> sleep_all(long n) {
    std::vector<corio::join_handle<>> handles;
    handles.reserve(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i) {
        handles.push_back(corio::spawn(sleeper(i)));
    }
    for (auto& h : handles) {
        co_await h;
    }
    co_return n;
}

} // namespace

int main(int argc, char** argv) {
    const long n = corio_bench::arg(argc, argv, "tasks", 1'000'000);
    const long rss_before = corio_bench::peak_rss_bytes();
    const auto start = corio_bench::stopwatch::now();
    const long done = corio::run(sleep_all(n));
    const double elapsed = corio_bench::seconds_since(start);
    const long rss_after = corio_bench::peak_rss_bytes();
    std::printf("{\"workload\":\"W2\",\"runtime\":\"corio\",\"tasks\":%ld,\"seconds\":%.4f,"
                "\"peak_rss_bytes\":%ld,\"bytes_per_task\":%.1f}\n",
                done, elapsed, rss_after,
                static_cast<double>(rss_after - rss_before) / static_cast<double>(n));
    return 0;
}
