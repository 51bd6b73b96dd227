#pragma once
/// \file
/// TCP and Unix stream connections and servers: `open_connection`, `start_server`,
/// `open_unix_connection`, `start_unix_server` (asyncio's streams API).
///
/// ```cpp
/// corio::task<> echo(corio::stream s) {
///     while (true) {
///         std::string line = co_await s.read_line();
///         if (line.empty()) co_return;          // end of stream
///         s.write(line);
///         co_await s.drain();
///     }
/// }
/// corio::server srv = co_await corio::start_server(echo, "127.0.0.1", 8888);
/// co_await srv.serve_forever();
/// ```

#include "corio/event_loop.hpp"
#include "corio/net/address.hpp"
#include "corio/net/stream.hpp"
#include "corio/net/tls.hpp"
#include "corio/string_ref.hpp"
#include "corio/task.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace corio {

/// Options for `open_connection` / `open_unix_connection`.
struct connect_options {
    /// Give up (timeout_error) if no connection is established within this time; zero
    /// waits as long as the kernel does.
    clock::duration timeout = clock::duration::zero();
    /// Happy Eyeballs (RFC 8305): start the next address this long after the previous
    /// attempt if it has neither connected nor failed yet. Zero tries addresses one at a
    /// time, each to its end.
    std::chrono::milliseconds happy_eyeballs_delay{250};
    /// AF_INET or AF_INET6 to use only that family; AF_UNSPEC for both.
    int family = AF_UNSPEC;
    /// Bind the socket to this address before connecting.
    std::optional<socket_address> local_address{};
    /// The stream's `read_until` limit.
    std::size_t limit = stream::default_limit;
    /// TCP_NODELAY on the new connection (asyncio sets it too).
    bool nodelay = true;
    /// TLS over the connection, with a client context (`{.tls = ctx}`; Python's `ssl=`):
    /// the stream returned has finished its handshake. Unset: plain TCP.
    tls_context_ref tls{};
    /// The name a TLS client sends (SNI) and checks the server's certificate against;
    /// empty: the `host` connected to (an address list or a Unix path gives none, so a
    /// context that checks hostnames needs it then).
    string_ref server_hostname{};
    /// Give up on the TLS handshake (timeout_error) after this; zero: no limit. Python's
    /// ssl_handshake_timeout, 60 s. Separate from `timeout`, which bounds the TCP connect.
    clock::duration tls_handshake_timeout = std::chrono::seconds(60);
};
static_assert(std::is_trivially_destructible_v<connect_options>,
              "connect_options is written inside co_await, where g++ 12 destroys it twice");

/// Open a TCP connection to `host`:`port`, trying every address `getaddrinfo` gives,
/// interleaving IPv6 and IPv4 as RFC 8305 says: the next attempt starts when the previous
/// one failed or after `happy_eyeballs_delay`; the first to connect wins and the others are
/// closed. Cancellable (every attempt is closed).
/// \throws std::system_error naming the address ("connect 127.0.0.1:9: Connection
/// refused"); when several addresses failed differently, the message lists each;
/// timeout_error after `options.timeout`, naming the target as it was given ("connect
/// 127.0.0.1:9: timed out after 5.000 s").
///
/// With `options.tls`, the TLS handshake follows (see tls.hpp): tls_error if it fails
/// ("tls handshake with 127.0.0.1:8443 (example.test): certificate verify failed:
/// self-signed certificate"), timeout_error after `tls_handshake_timeout`. The options
/// (the context, `server_hostname`) are copied when this is called.
task<stream> open_connection(std::string host, std::uint16_t port, connect_options options = {});
/// Connect to the first of `addresses` that answers, racing them as above in the order
/// given (resolve and order them yourself, or pass addresses from elsewhere).
/// \throws std::invalid_argument if `addresses` is empty; otherwise as above.
task<stream> open_connection(std::vector<socket_address> addresses, connect_options options = {});
/// Connect to the Unix socket at `path` (a leading '@' names an abstract socket).
task<stream> open_unix_connection(std::string path, connect_options options = {});

/// Options for `start_server` / `start_unix_server`.
struct server_options {
    /// listen(2) backlog: how many connections the kernel completes and queues before the
    /// server accepts them. Unset, the kernel's own limit: net.core.somaxconn, read from
    /// /proc/sys/net/core/somaxconn when the server starts (SOMAXCONN if it cannot be read),
    /// as nginx and Go use; asyncio's 100 makes bursts of connects wait for SYN retries
    /// (2,000 back-to-back connects took 7.3 s). A larger value is cut to somaxconn by the
    /// kernel. \throws std::invalid_argument from start_server if negative.
    std::optional<int> backlog{};
    /// SO_REUSEADDR (TCP): rebind a port at once after a restart.
    bool reuse_address = true;
    /// SO_REUSEPORT (TCP): several sockets (processes, loops) share one port.
    bool reuse_port = false;
    /// Each stream's `read_until` limit.
    std::size_t limit = stream::default_limit;
    /// TCP_NODELAY on accepted connections.
    bool nodelay = true;
    /// After accept fails for lack of fds (EMFILE, ENFILE, ENOBUFS, ENOMEM) the server
    /// stops accepting for this long, then retries (asyncio waits 1 s too); connections
    /// wait in the backlog meanwhile.
    clock::duration accept_retry_delay = std::chrono::seconds(1);
    /// Start accepting at once; otherwise at `start_serving()` / `serve_forever()`.
    bool start_serving = true;
    /// TLS on every accepted connection, with a server context (`{.tls = ctx}`; Python's
    /// `ssl=`): the handler gets the stream once its handshake is done. A connection whose
    /// handshake fails or times out is closed without reaching the handler (reported to the
    /// loop's exception handler in debug mode only, as asyncio does: it is the peer's
    /// doing). Unset: plain TCP.
    tls_context_ref tls{};
    /// Give up on a connection's TLS handshake after this; zero: no limit (Python: 60 s).
    clock::duration tls_handshake_timeout = std::chrono::seconds(60);
    /// What cancelling `serve_forever()` does. Zero (the default): it closes the server,
    /// cancelling every connection handler. Longer: it runs `shutdown(grace_period)` first
    /// (shielded): the server stops listening and the connections get this long to end by
    /// themselves (an HTTP server finishes the requests in progress and closes its idle
    /// connections), then what is left is cancelled. A graceful stop for SIGTERM, as
    /// run_workers and run_per_core deliver it.
    clock::duration grace_period{};
};
static_assert(std::is_trivially_destructible_v<server_options>,
              "server_options is written inside co_await, where g++ 12 destroys it twice");

/// A connection handler: gets the connected stream; runs as its own task.
using connection_handler = std::function<task<>(stream)>;

namespace detail {
class server_state;
}

/// A listening server (asyncio.Server). A handle: copies refer to the same server.
///
/// Dropping every handle of a server that is serving does not close it: as asyncio's, it
/// goes on accepting and running handlers while its loop runs (its accept tasks own it),
/// until `close()` is called through a handle or the loop cancels its tasks at the end of
/// `run()`, which closes the listening sockets. So
/// `(void)co_await corio::start_server(handler, host, port);` serves for the rest of the
/// loop. A server that is not serving (`start_serving = false`, never started) is closed
/// when its last handle is dropped, since nothing could start it any more.
class server {
public:
    server() noexcept = default;
    server(const server&) noexcept;
    server(server&&) noexcept;
    server& operator=(const server&) noexcept;
    server& operator=(server&&) noexcept;
    ~server();

    /// The port of the first listening socket (0 for Unix servers).
    [[nodiscard]] std::uint16_t port() const;
    /// The address of every listening socket.
    [[nodiscard]] std::vector<socket_address> addresses() const;
    /// True while accepting connections.
    [[nodiscard]] bool is_serving() const;
    /// Start accepting (if `start_serving` was false). Idempotent.
    void start_serving();
    /// Accept until the server is closed; cancelling this closes the server.
    task<> serve_forever();
    /// Stop listening (the sockets are closed at once; a Unix socket's path is unlinked)
    /// and cancel every connection handler still running. Idempotent.
    void close();
    /// A graceful stop (Go's `Server.Shutdown`): stop listening, let the connection handlers
    /// end by themselves for up to `grace`, then cancel those still running (`close()`), and
    /// wait until they have all finished. Handlers are not told, except through the server's
    /// protocol: an HTTP server (`http::serve`) closes its idle keep-alive connections at
    /// once and answers the requests in progress with `Connection: close`. Connections the
    /// kernel completed but the server had not accepted yet are reset by the kernel when
    /// the listening socket closes (unless a run_workers supervisor keeps it: then another
    /// worker takes them). Cancelling it cancels the handlers at once.
    task<> shutdown(clock::duration grace);
    /// Wait until the server is closed and every handler has finished.
    task<> wait_closed();
    /// Connection handlers running now.
    [[nodiscard]] std::size_t active_connections() const;

private:
    friend class detail::server_state;
    explicit server(std::shared_ptr<detail::server_state> state) noexcept;
    detail::server_state& state(const char* operation) const;

    std::shared_ptr<detail::server_state> m_state;
};

/// Listen on `host`:`port` (every address the host resolves to; "" or "0.0.0.0"/"::" for
/// all interfaces) and run `handler` as a new task for each accepted connection. Port 0
/// picks a free port (`server::port()`), the same one for every address.
/// \throws std::system_error naming the address ("bind 127.0.0.1:80: Permission denied").
task<server> start_server(connection_handler handler, std::string host, std::uint16_t port,
                          server_options options = {});
/// Listen on the Unix socket `path` (a stale socket file there is replaced; a leading
/// '@' names an abstract socket).
task<server> start_unix_server(connection_handler handler, std::string path,
                               server_options options = {});

} // namespace corio
