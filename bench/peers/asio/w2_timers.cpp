// W2 timers (shared BENCH.md): Boost.Asio with C++20 coroutines. co_spawn N coroutines
// (1,000,000) on one io_context, each waits on a steady_timer for (i*7919) % 1000 ms;
// io_context::run returns when all have finished. Reports the wall time (ideal 1.0 s) and
// peak RSS per sleeping coroutine.
//
//   w2_timers [--tasks=1000000]

#include "workload.hpp"

#include <boost/asio.hpp>

#include <cstdio>

namespace asio = boost::asio;

namespace {

asio::awaitable<void> sleeper(long i) {
    asio::steady_timer timer(co_await asio::this_coro::executor,
                             std::chrono::milliseconds((i * 7919) % 1000));
    co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<void> spawn_all(long n, long& done) {
    auto executor = co_await asio::this_coro::executor;
    for (long i = 0; i < n; ++i) {
        asio::co_spawn(executor, sleeper(i), [&done](std::exception_ptr e) {
            if (e) {
                std::rethrow_exception(e);
            }
            ++done;
        });
    }
}

} // namespace

int main(int argc, char** argv) {
    const long n = asio_bench::arg(argc, argv, "tasks", 1'000'000);
    const long rss_before = asio_bench::peak_rss_bytes();
    const auto start = std::chrono::steady_clock::now();
    long done = 0;
    asio::io_context io(1);
    asio::co_spawn(io, spawn_all(n, done), asio::detached);
    io.run();
    const double elapsed = asio_bench::seconds_since(start);
    const long rss_after = asio_bench::peak_rss_bytes();
    std::printf("{\"workload\":\"W2\",\"runtime\":\"asio\",\"tasks\":%ld,\"seconds\":%.4f,"
                "\"peak_rss_bytes\":%ld,\"bytes_per_task\":%.1f}\n",
                done, elapsed, rss_after,
                static_cast<double>(rss_after - rss_before) / static_cast<double>(n));
    return done == n ? 0 : 1;
}
