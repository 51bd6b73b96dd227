// W6 HTTP hello (shared BENCH.md): Boost.Asio with C++20 coroutines (awaitable, co_spawn,
// use_awaitable), one io_context, a hand-written keep-alive responder: a coroutine per
// connection reads, counts the requests in what it read (each ends at "\r\n\r\n"; GET, no
// body) and writes one fixed response for each.
//
//   w6_http --port=PORT

#include "workload.hpp"

#include <boost/asio.hpp>

#include <cstdio>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

constexpr std::string_view response =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

awaitable<void> session(tcp::socket socket) {
    std::string in;
    std::string out;
    char data[4096];
    try {
        for (;;) {
            const std::size_t n =
                co_await socket.async_read_some(asio::buffer(data), use_awaitable);
            in.append(data, n);
            std::size_t used = 0;
            for (std::size_t end; (end = in.find("\r\n\r\n", used)) != std::string::npos;) {
                used = end + 4;
                out += response;
            }
            in.erase(0, used);
            if (!out.empty()) {
                co_await asio::async_write(socket, asio::buffer(out), use_awaitable);
                out.clear();
            }
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
        asio::co_spawn(executor, session(std::move(socket)), asio::detached);
    }
}

} // namespace

int main(int argc, char** argv) {
    const long port = asio_bench::arg(argc, argv, "port", -1);
    if (port <= 0 || port > 65535) {
        std::fprintf(stderr, "usage: w6_http --port=PORT\n");
        return 2;
    }
    asio::io_context io(1);
    asio::co_spawn(io, listener(static_cast<unsigned short>(port)), asio::detached);
    io.run();
    return 0;
}
