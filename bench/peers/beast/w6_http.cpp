// W6 HTTP hello (shared BENCH.md): Boost.Beast's HTTP/1.1 server on Boost.Asio's C++20
// coroutines (awaitable, co_spawn, use_awaitable), one io_context: a coroutine per
// connection reads a request with http::async_read, answers it with http::async_write,
// and keeps the connection while the request allows, as Beast's coroutine examples do.
//
//   w6_http --port=PORT

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

// Boost 1.74 turns on its C++20 coroutine support for g++ only; clang++ 14 with
// libstdc++'s <coroutine> works as well.
#if defined(__clang__) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

awaitable<void> session(beast::tcp_stream stream) {
    beast::flat_buffer buffer;
    try {
        for (;;) {
            http::request<http::string_body> req;
            co_await http::async_read(stream, buffer, req, use_awaitable);
            http::response<http::string_body> res{http::status::ok, req.version()};
            res.set(http::field::server, BOOST_BEAST_VERSION_STRING);
            res.set(http::field::content_type, "text/plain");
            res.keep_alive(req.keep_alive());
            res.body() = "Hello, World!";
            res.prepare_payload();
            co_await http::async_write(stream, res, use_awaitable);
            if (!req.keep_alive()) {
                break;
            }
        }
        stream.socket().shutdown(tcp::socket::shutdown_send);
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
        asio::co_spawn(executor, session(beast::tcp_stream(std::move(socket))), asio::detached);
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
        std::fprintf(stderr, "usage: w6_http --port=PORT\n");
        return 2;
    }
    asio::io_context io(1);
    asio::co_spawn(io, listener(static_cast<unsigned short>(port)), asio::detached);
    io.run();
    return 0;
}
