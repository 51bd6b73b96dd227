// W4 generator (shared BENCH.md): sum a generator yielding 0..N-1 (N = 10,000,000), then
// the same values through a chain of `yield_from` DEPTH levels deep (1,000). Reports ns per
// value for each. The chain is built before the clock starts: building it is DEPTH
// allocations, not per-value work.
//
//   build/release/bench/w4_generator [--values=10000000] [--deep-values=10000000]
//                                    [--depth=1000]

#include "workload.hpp"

#include <corio/generator.hpp>

#include <utility>

namespace {

corio::generator<long> count(long n) {
    for (long i = 0; i < n; ++i) {
        co_yield i;
    }
}

/// One level of the chain: delegates everything to `inner`.
corio::generator<long> delegate(corio::generator<long> inner) {
    co_yield corio::yield_from(std::move(inner));
}

/// Sum what `g` yields; returns the sum and stores the seconds taken in `elapsed`.
long sum_of(corio::generator<long>& g, double& elapsed) {
    const auto start = corio_bench::stopwatch::now();
    long sum = 0;
    for (long v : g) {
        sum += v;
    }
    elapsed = corio_bench::seconds_since(start);
    return sum;
}

} // namespace

int main(int argc, char** argv) {
    const long n = corio_bench::arg(argc, argv, "values", 10'000'000);
    const long deep_n = corio_bench::arg(argc, argv, "deep-values", n);
    const long depth = corio_bench::arg(argc, argv, "depth", 1'000);

    double plain_seconds = 0;
    auto plain = count(n);
    const long plain_sum = sum_of(plain, plain_seconds);

    corio::generator<long> deep = count(deep_n);
    for (long level = 0; level < depth; ++level) {
        deep = delegate(std::move(deep));
    }
    double deep_seconds = 0;
    const long deep_sum = sum_of(deep, deep_seconds);

    if (plain_sum != n * (n - 1) / 2 || deep_sum != deep_n * (deep_n - 1) / 2) {
        std::fprintf(stderr, "w4: wrong sums %ld %ld\n", plain_sum, deep_sum);
        return 1;
    }
    std::printf("{\"workload\":\"W4\",\"runtime\":\"corio\",\"values\":%ld,\"seconds\":%.4f,"
                "\"ns_per_value\":%.2f,\"depth\":%ld,\"deep_values\":%ld,\"deep_seconds\":%.4f,"
                "\"deep_ns_per_value\":%.2f,\"peak_rss_bytes\":%ld}\n",
                n, plain_seconds, plain_seconds * 1e9 / static_cast<double>(n), depth, deep_n,
                deep_seconds, deep_seconds * 1e9 / static_cast<double>(deep_n),
                corio_bench::peak_rss_bytes());
    return 0;
}
