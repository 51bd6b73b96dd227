#pragma once
/// \file
/// `http::serve`: an HTTP/1.1 server on corio's TCP streams.
///
/// ```cpp
/// corio::task<corio::http::response> hello(corio::http::request& req) {
///     co_return corio::http::response{200, "Hello, World!"};
/// }
/// corio::server srv = co_await corio::http::serve(hello, "127.0.0.1", 8080);
/// co_await srv.serve_forever();
/// ```
///
/// Each connection runs as a task reading requests one after another: pipelined requests
/// are answered in order, keep-alive is the default for HTTP/1.1, `Connection: close`
/// (either side) ends the connection after the response, HEAD gets the head of what GET
/// would send, `Expect: 100-continue` is answered before the body is read. A malformed
/// request is answered with 400 (or the `protocol_error` status: 413, 414, 431, 501, 505)
/// and the connection is closed. CONNECT is answered with 501 and the connection closed: a
/// handler cannot take the connection over for the tunnel a 2xx would open (RFC 9110
/// §9.3.6), and what the client sends after it is not HTTP. A client that does not send a
/// whole header section within `header_timeout` gets 408 and is disconnected; an idle
/// keep-alive connection is closed after `keep_alive_timeout`. Memory is bounded
/// server-wide by `max_connections` and `max_buffered_body_bytes` (503 past either). An
/// exception escaping the handler is answered with 500 (the connection is closed) and
/// reported through the loop's exception handler.
///
/// The serializer owns the framing (see `serialize` in `<corio/http/parser.hpp>`): a
/// handler's response whose `Content-Length` disagrees with its body, that has both
/// `Content-Length` and `Transfer-Encoding`, a `Transfer-Encoding` not ending in `chunked`,
/// or an interim (1xx) status is not sent: it is answered with 500 and reported through the
/// loop's exception handler, and as nothing of it was written the connection stays open.
/// `Content-Length` and `Transfer-Encoding` are dropped from a 204; an answer to HEAD or a
/// 304 keeps a given `Content-Length`; a chunked response to an HTTP/1.0 request is sent
/// with its `Content-Length` instead.

#include "corio/event_loop.hpp"
#include "corio/http/message.hpp"
#include "corio/http/parser.hpp"
#include "corio/net/tcp.hpp"
#include "corio/string_ref.hpp"
#include "corio/task.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>

namespace corio::http {

/// Handles one request. The request stays valid until the returned task finishes.
using handler = std::function<task<response>(request&)>;

/// Options for `serve` and `serve_connection`. An aggregate:
/// `co_await http::serve(handler, "127.0.0.1", 8080, {.server_name = "mine/1", .date = false})`.
///
/// Trivially destructible on purpose, so it may be written in place inside `co_await`: g++ 12
/// destroys an aggregate temporary written inside a `co_await` expression twice (whatever
/// the parameter it is passed to), which is harmless only for such a type. That is why
/// `server_name` refers to a string the caller owns; `serve` copies it when it is called.
struct server_options {
    http::limits limits{};
    /// Time allowed for a request's whole header section to arrive, from its first byte
    /// (or from the connection's start): 408 after that. Zero (or less) for no limit, as
    /// for the other timeouts.
    clock::duration header_timeout = std::chrono::seconds(10);
    /// An idle keep-alive connection is closed after this; so is a connection whose client
    /// stops taking the responses (the write buffer stays above its high water mark).
    clock::duration keep_alive_timeout = std::chrono::seconds(60);
    /// Time allowed to read a request's body once its head arrived (408 after that).
    clock::duration body_timeout = std::chrono::seconds(60);
    /// The `Server` header of every response; empty for none. Refers to the caller's text (a
    /// literal, a named `std::string`, a `std::string_view`; not a temporary `std::string`,
    /// a compile error), which `serve` copies when called; for `serve_connection` it must
    /// outlive the connection's task, as the options must.
    corio::string_ref server_name = "corio";
    /// Add a `Date` header to every response (cached, updated once a second).
    bool date = true;
    /// Connections served at once by one server (by one `server_usage`). One more is
    /// answered 503 with `Connection: close` as soon as it is accepted, without its request
    /// being read, and closed (after lingering up to a second for what the client still
    /// sends, so that the 503 is not lost to a reset). Zero: no limit.
    std::size_t max_connections = 10000;
    /// Request body bytes one server (one `server_usage`) holds at once: the bodies being
    /// read and those of requests whose handler is running. A body framed by Content-Length
    /// is counted whole as soon as its head arrives (before any `100 Continue`), a chunked
    /// one as it arrives (checked after each read, so at most one read buffer, 64 KiB, past
    /// the cap). A request that would pass the cap is answered 503 and its connection closed,
    /// its body unread; one whose body alone is larger than the cap is answered 413. Bytes
    /// are counted until the handler's task ends. Zero: no limit.
    std::size_t max_buffered_body_bytes = 128 * 1024 * 1024;
    /// Call the handler as soon as a request's head has arrived, with its body to be read
    /// in pieces (`req.body_stream()`; `req.body` is empty), so a body of any size costs
    /// at most 64 KiB of buffer plus the read buffer (another 64 KiB) per connection,
    /// whatever `max_buffered_body_bytes` says (which then counts nothing). The body is
    /// read only as the handler asks, which is the client's backpressure; `100 Continue`
    /// is sent when the handler first asks. `limits.max_body` then bounds only
    /// `body_stream().read_all()` (413). `body_timeout` bounds each wait for more of the
    /// body, not the whole of it. A handler that answers before reading the whole body gets
    /// its response sent, and the connection closes after it. A `protocol_error` escaping
    /// the handler (a malformed body, `read_all()` past its limit) is answered with its
    /// status, and the connection closed.
    bool stream_request_bodies = false;
    /// Compress responses as the request's Accept-Encoding allows (br, gzip or deflate, the
    /// client's preference first, then that order), when they are worth it: a type that
    /// compresses (text/*, JSON, JavaScript, XML, SVG, +json, +xml), no Content-Encoding of
    /// the handler's, not 206 or bodiless, no `Cache-Control: no-transform`, and a body of
    /// at least `compress_min_size` bytes or a streamed one (each piece then flushed as it
    /// comes, so server-sent events arrive at once). Adds Content-Encoding and
    /// `Vary: Accept-Encoding`, drops the handler's Content-Length.
    bool compress = false;
    /// The smallest whole body `compress` compresses.
    std::size_t compress_min_size = 1024;
    /// Passed on to `start_server` (reuse_port, backlog, tls_handshake_timeout, ...).
    corio::server_options tcp{};
    /// HTTPS: TLS on every connection with this server context (`{.tls = ctx}`, copied by
    /// `serve`); a client whose handshake fails never reaches the handler (see
    /// `corio::server_options::tls`). Unset: plain HTTP (or `tcp.tls`, the same thing).
    tls_context_ref tls{};
};
static_assert(std::is_trivially_destructible_v<server_options>,
              "http::server_options is written inside co_await, where g++ 12 destroys it twice");

namespace detail {
struct server_usage_access;
/// A connection waiting for the first byte of its next request, which
/// `server_usage::shutdown()` ends at once (a node of the usage's list).
struct idle_connection {
    idle_connection* prev = nullptr;
    idle_connection* next = nullptr;
    void (*close_now)(idle_connection*) noexcept = nullptr;
};
} // namespace detail

/// What the connections of one server share, counted against
/// `server_options::max_connections` and `max_buffered_body_bytes`. `serve` keeps one per
/// server; a program that runs `serve_connection` itself passes one to every connection it
/// wants counted together. It must outlive those connections' tasks. One loop only.
class server_usage {
public:
    server_usage() = default;
    server_usage(const server_usage&) = delete;
    server_usage& operator=(const server_usage&) = delete;

    /// Connections being served (refused ones not counted).
    [[nodiscard]] std::size_t connections() const noexcept { return m_connections; }
    /// Request body bytes held (being read, or waiting for their handler to finish).
    [[nodiscard]] std::size_t buffered_body_bytes() const noexcept { return m_body_bytes; }

    /// End the connections counted here gracefully: idle keep-alive connections (waiting
    /// for the first byte of their next request) close now; the others answer the request
    /// in progress, or the first request of a new connection (which may be on its way:
    /// `header_timeout` bounds the wait), with `Connection: close` and close. `serve` calls
    /// it when its server's `shutdown()` begins (and so when `serve_forever()` is cancelled
    /// with a `grace_period`). Idempotent; it cannot be undone.
    void shutdown() noexcept;
    /// True once shutdown() was called.
    [[nodiscard]] bool shutting_down() const noexcept { return m_shutting_down; }

private:
    friend struct detail::server_usage_access;
    std::size_t m_connections = 0;
    std::size_t m_body_bytes = 0;
    bool m_shutting_down = false;
    /// The connections waiting for a request (a doubly linked list).
    detail::idle_connection* m_idle = nullptr;
};

/// Listen on `host`:`port` and serve HTTP/1.1 with `h`. The returned server is
/// `corio::server`: `port()`, `serve_forever()`, `close()` (cancels the connections'
/// tasks), `wait_closed()`.
/// Not a coroutine itself: `options` (with the text of `server_name`) is copied before it
/// returns, and the returned task starts the server when it is awaited.
/// \throws (from the await) std::invalid_argument if `h` is empty or `options.server_name`
/// holds a CR, LF or NUL; std::system_error as `start_server`.
task<corio::server> serve(handler h, std::string host, std::uint16_t port, server_options options);
/// With the default options.
task<corio::server> serve(handler h, std::string host, std::uint16_t port);

/// Serve HTTP/1.1 on one connection until it closes (what `serve` runs per connection):
/// any stream, one a corio server accepted or one the program made (a socketpair end
/// adopted with `stream::from_socket`, a pipe pair, a stream over its own transport). Counted in
/// `usage` against `options.max_connections` and `max_buffered_body_bytes`. `h`, `options` (and the
/// text its `server_name` refers to) and `usage` must outlive the returned task; options written
/// inside the `co_await` do
/// (`co_await http::serve_connection(std::move(s), h, {.date = false})`). A peer that
/// vanishes (a reset, a broken pipe) ends it quietly. \throws std::invalid_argument as
/// `serve`.
task<> serve_connection(corio::stream s, const handler& h, const server_options& options,
                        server_usage& usage);
/// As above, the connection counted alone (its own `server_usage`).
task<> serve_connection(corio::stream s, const handler& h, const server_options& options);

} // namespace corio::http
