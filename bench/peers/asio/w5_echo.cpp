// W5 TCP echo (shared BENCH.md): Boost.Asio with C++20 coroutines (awaitable, co_spawn,
// use_awaitable), one io_context, one coroutine per connection.
//
//   w5_echo --port=PORT

#include "workload.hpp"

#include <boost/asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

awaitable<void> echo(tcp::socket socket) {
    char data[64 * 1024];
    try {
        for (;;) {
            const std::size_t n =
                co_await socket.async_read_some(asio::buffer(data), use_awaitable);
            co_await asio::async_write(socket, asio::buffer(data, n), use_awaitable);
        }
    } catch (const std::exception&) {
        // end of stream or reset: the connection is done
    }
}

awaitable<void> listener(unsigned short port) {
    auto executor = co_await asio::this_coro::executor;
    tcp::acceptor acceptor(executor, {asio::ip::make_address("127.0.0.1"), port});
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
        socket.set_option(tcp::no_delay(true));
        asio::co_spawn(executor, echo(std::move(socket)), asio::detached);
    }
}

} // namespace

int main(int argc, char** argv) {
    long port = -1;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--port=", 7) == 0)
            port = std::strtol(argv[i] + 7, nullptr, 10);
    }
    if (port <= 0 || port > 65535) {
        std::fprintf(stderr, "usage: w5_echo --port=PORT\n");
        return 2;
    }
    asio::io_context io(1);
    asio::co_spawn(io, listener(static_cast<unsigned short>(port)), asio::detached);
    io.run();
    return 0;
}
