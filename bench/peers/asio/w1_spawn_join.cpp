// W1 spawn-join (shared BENCH.md): Boost.Asio with C++20 coroutines. co_spawn N coroutines
// (1,000,000) on one io_context, each returns its index; each completion handler adds the
// result to the sum; io_context::run returns when all have finished. (Boost 1.74 has no
// parallel_group to await a set of coroutines: a completion handler is its idiom.)
//
//   w1_spawn_join [--tasks=1000000]

#include "workload.hpp"

#include <boost/asio.hpp>

#include <cstdio>
#include <exception>

namespace asio = boost::asio;

namespace {

asio::awaitable<long> work(long i) {
    co_return i;
}

asio::awaitable<void> spawn_all(long n, long& sum, long& pending) {
    auto executor = co_await asio::this_coro::executor;
    for (long i = 0; i < n; ++i) {
        asio::co_spawn(executor, work(i), [&sum, &pending](std::exception_ptr e, long v) {
            if (e) {
                std::rethrow_exception(e);
            }
            sum += v;
            --pending;
        });
    }
}

} // namespace

int main(int argc, char** argv) {
    const long n = asio_bench::arg(argc, argv, "tasks", 1'000'000);
    const long rss_before = asio_bench::peak_rss_bytes();
    const auto start = std::chrono::steady_clock::now();
    long sum = 0;
    long pending = n;
    asio::io_context io(1);
    asio::co_spawn(io, spawn_all(n, sum, pending), asio::detached);
    io.run();
    const double elapsed = asio_bench::seconds_since(start);
    const long rss_after = asio_bench::peak_rss_bytes();
    if (pending != 0 || sum != n * (n - 1) / 2) {
        std::fprintf(stderr, "w1: wrong sum %ld\n", sum);
        return 1;
    }
    std::printf("{\"workload\":\"W1\",\"runtime\":\"asio\",\"tasks\":%ld,\"sum\":%ld,"
                "\"seconds\":%.4f,\"ns_per_task\":%.1f,\"peak_rss_bytes\":%ld,"
                "\"bytes_per_task\":%.1f}\n",
                n, sum, elapsed, elapsed * 1e9 / static_cast<double>(n), rss_after,
                static_cast<double>(rss_after - rss_before) / static_cast<double>(n));
    return 0;
}
