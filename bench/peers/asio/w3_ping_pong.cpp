// W3 ping-pong (shared BENCH.md): Boost.Asio with C++20 coroutines. Two coroutines pass an
// int through two bounded channels of capacity 1, 1,000,000 round trips. Boost 1.74 has no
// channel (asio::experimental::channel arrived in 1.80); its idiom for one is a queue plus
// a steady_timer that never expires and is cancelled to wake the waiter.
//
//   w3_ping_pong [--trips=1000000]

#include "workload.hpp"

#include <boost/asio.hpp>

#include <cstdio>
#include <deque>

namespace asio = boost::asio;

namespace {

template <class T>
class channel {
public:
    channel(asio::any_io_executor executor, std::size_t capacity)
        : m_capacity(capacity), m_not_empty(executor), m_not_full(executor) {}

    asio::awaitable<void> send(T value) {
        while (m_items.size() >= m_capacity) {
            co_await wait(m_not_full);
        }
        m_items.push_back(std::move(value));
        m_not_empty.cancel_one();
    }

    asio::awaitable<T> receive() {
        while (m_items.empty()) {
            co_await wait(m_not_empty);
        }
        T value = std::move(m_items.front());
        m_items.pop_front();
        m_not_full.cancel_one();
        co_return value;
    }

private:
    static asio::awaitable<void> wait(asio::steady_timer& timer) {
        timer.expires_at(asio::steady_timer::time_point::max());
        boost::system::error_code ec; // operation_aborted: woken
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }

    std::deque<T> m_items;
    std::size_t m_capacity;
    asio::steady_timer m_not_empty;
    asio::steady_timer m_not_full;
};

asio::awaitable<void> ping(channel<long>& out, channel<long>& in, long trips, long& last) {
    for (long i = 0; i < trips; ++i) {
        co_await out.send(i);
        last = co_await in.receive();
    }
}

asio::awaitable<void> pong(channel<long>& in, channel<long>& out, long trips) {
    for (long i = 0; i < trips; ++i) {
        const long v = co_await in.receive();
        co_await out.send(v + 1);
    }
}

} // namespace

int main(int argc, char** argv) {
    const long trips = asio_bench::arg(argc, argv, "trips", 1'000'000);
    const auto start = std::chrono::steady_clock::now();
    asio::io_context io(1);
    channel<long> there(io.get_executor(), 1);
    channel<long> back(io.get_executor(), 1);
    long last = -1;
    asio::co_spawn(io, ping(there, back, trips, last), asio::detached);
    asio::co_spawn(io, pong(there, back, trips), asio::detached);
    io.run();
    const double elapsed = asio_bench::seconds_since(start);
    if (last != trips) {
        std::fprintf(stderr, "w3: wrong last value %ld\n", last);
        return 1;
    }
    std::printf("{\"workload\":\"W3\",\"runtime\":\"asio\",\"round_trips\":%ld,"
                "\"seconds\":%.4f,\"ns_per_round_trip\":%.1f,\"peak_rss_bytes\":%ld}\n",
                trips, elapsed, elapsed * 1e9 / static_cast<double>(trips),
                asio_bench::peak_rss_bytes());
    return 0;
}
