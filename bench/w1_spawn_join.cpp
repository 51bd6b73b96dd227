// W1 spawn-join (shared BENCH.md): spawn N tasks (1,000,000), each returns its index;
// await them all; print the sum. Reports ns per task and peak RSS per task.
//
//   build/release/bench/w1_spawn_join [--tasks=1000000]

#include "workload.hpp"

#include <corio/corio.hpp>

#include <vector>

namespace {

corio::task<long> work(long i) {
    co_return i;
}

corio::task<long> spawn_join(long n) {
    std::vector<corio::join_handle<long>> handles;
    handles.reserve(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i) {
        handles.push_back(corio::spawn(work(i)));
    }
    long sum = 0;
    for (auto& h : handles) {
        sum += co_await h;
    }
    co_return sum;
}

} // namespace

int main(int argc, char** argv) {
    const long n = corio_bench::arg(argc, argv, "tasks", 1'000'000);
    const long rss_before = corio_bench::peak_rss_bytes();
    const auto start = corio_bench::stopwatch::now();
    const long sum = corio::run(spawn_join(n));
    const double elapsed = corio_bench::seconds_since(start);
    const long rss_after = corio_bench::peak_rss_bytes();
    if (sum != n * (n - 1) / 2) {
        std::fprintf(stderr, "w1: wrong sum %ld\n", sum);
        return 1;
    }
    std::printf("{\"workload\":\"W1\",\"runtime\":\"corio\",\"tasks\":%ld,\"sum\":%ld,"
                "\"seconds\":%.4f,\"ns_per_task\":%.1f,\"peak_rss_bytes\":%ld,"
                "\"bytes_per_task\":%.1f}\n",
                n, sum, elapsed, elapsed * 1e9 / static_cast<double>(n), rss_after,
                static_cast<double>(rss_after - rss_before) / static_cast<double>(n));
    return 0;
}
