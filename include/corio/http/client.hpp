#pragma once
/// \file
/// `http::client`: an HTTP/1.1 client with a pool of keep-alive connections per host,
/// redirects and timeouts.
///
/// ```cpp
/// corio::http::client c;
/// corio::http::response r = co_await c.get("http://127.0.0.1:8080/index.html");
/// std::cout << r.status << ' ' << r.body.size() << " bytes from " << r.url << '\n';
/// ```

#include "corio/event_loop.hpp"
#include "corio/http/message.hpp"
#include "corio/http/parser.hpp"
#include "corio/http/url.hpp"
#include "corio/net/stream.hpp"
#include "corio/string_ref.hpp"
#include "corio/task.hpp"

#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace corio::http {

/// More redirects than `client_options::max_redirects` allows, or a redirect without a
/// usable Location. The message names the URL.
class redirect_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~redirect_error() override;
};

/// How a `client` opens its connections, when not with `open_connection`: a function and
/// the context it is called with, so that any stream (a socketpair adopted with
/// `stream::from_socket`, a Unix socket, a stream over a transport of the program's own)
/// can carry the client's requests. The function is called with the URL a request goes to
/// (`target.host`, `target.port`) whenever the pool for that host:port has no idle
/// connection; the stream it returns is pooled, reused and closed like any other.
/// `client_options::connect_timeout` bounds it (timeout_error after that); what it throws
/// reaches the request. A function pointer and a pointer, so that `client_options` stays
/// trivially destructible:
///
/// ```cpp
/// corio::task<corio::stream> to_socket(const corio::http::url&, void* context) {
///     co_return corio::stream::from_socket(*static_cast<int*>(context));
/// }
/// int fd = ...;
/// corio::http::client c({.connect = {.function = to_socket, .context = &fd}});
/// ```
struct client_connect {
    /// nullptr: `open_connection(target.host, target.port)`.
    task<stream> (*function)(const url& target, void* context) = nullptr;
    /// Passed to `function` as is.
    void* context = nullptr;
};

/// Options for `client`. An aggregate: `http::client c({.timeout = 5s, .user_agent = "me/1"});`
///
/// Trivially destructible on purpose, so it may be written in place inside `co_await`
/// (`co_await http::client({.max_redirects = 0}).get(url)`): g++ 12 destroys an aggregate
/// temporary written inside a `co_await` expression twice, which is harmless only for such
/// a type. That is why `user_agent` refers to a string the caller owns; the client copies
/// it when constructed.
struct client_options {
    /// The whole of one request, redirects included: timeout_error after it. Zero: none.
    clock::duration timeout = std::chrono::seconds(30);
    /// Connecting to a host (passed to `open_connection`).
    clock::duration connect_timeout = std::chrono::seconds(10);
    /// Redirects (301, 302, 303, 307, 308) followed before `redirect_error`; 0 returns
    /// the redirect response itself.
    int max_redirects = 10;
    /// Open connections kept per host:port, busy or idle; further requests wait for one.
    std::size_t max_connections_per_host = 8;
    /// An idle pooled connection older than this is closed instead of reused.
    clock::duration idle_timeout = std::chrono::seconds(30);
    /// Limits on the responses read (max_body guards memory).
    http::limits limits{};
    /// The `User-Agent` header; empty for none. Refers to the caller's text (a literal, a
    /// named `std::string`, a `std::string_view`; not a temporary `std::string`, a compile
    /// error), which the client's constructor copies.
    corio::string_ref user_agent = "corio";
    /// Ask for compressed responses (`Accept-Encoding: gzip, deflate, br`) and decode them:
    /// the response's body is the decoded one, its Content-Encoding and Content-Length
    /// fields removed (as Go's client does). `limits.max_body` bounds the decoded size, so a
    /// decompression bomb is a protocol_error (413) after that many bytes; a body read in
    /// pieces (`open`) is decoded in pieces of at most 64 KiB. Not when the request names its
    /// own Accept-Encoding: the body then comes as the server coded it.
    bool decompress = true;
    /// How connections are opened (default: `open_connection`): see `client_connect`.
    client_connect connect{};
    /// The TLS context of https connections (`{.tls = ctx}`, a client context, copied by
    /// the constructor); unset: `tls_context::client()`, the system's CA store with
    /// hostname checking. Each https connection checks the URL's host; `connect_timeout`
    /// bounds its handshake too.
    tls_context_ref tls{};
};
static_assert(std::is_trivially_destructible_v<client_options>,
              "http::client_options is written inside co_await, where g++ 12 destroys it twice");

/// Header fields a `request_ref` refers to without owning them: a named `http::headers`,
/// which must live until `client::send` is called (it copies the fields). Not a temporary
/// one (a compile error: name it first).
class headers_ref {
public:
    /// No fields.
    constexpr headers_ref() noexcept = default;
    // Implicit, for `.headers = fields` in a designated initializer.
    headers_ref(const http::headers& fields) noexcept // NOLINT(google-explicit-constructor)
        : m_fields(&fields) {}
    /// A temporary would dangle: name it first.
    headers_ref(http::headers&&) = delete;

    /// The fields referred to; nullptr if none were given.
    [[nodiscard]] constexpr const http::headers* get() const noexcept { return m_fields; }

private:
    const http::headers* m_fields = nullptr;
};

/// A request for `client::send` written in place, referring to the caller's strings:
/// `co_await c.send({.method = "PUT", .headers = fields, .body = data}, url)`.
///
/// Trivially destructible on purpose: g++ 12 destroys an aggregate temporary written inside
/// a `co_await` expression twice, which would free the strings of an `http::request` written
/// there (so write `{...}`, not `http::request{...}`, inside the `co_await`). The text
/// and fields it refers to (literals, named strings and headers; temporaries are a compile
/// error) need only live until `send` is called: `send` copies them into the task it
/// returns. There is no target: `send` takes it from the URL.
struct request_ref {
    /// "GET", "POST", ... (case-sensitive).
    corio::string_ref method = "GET";
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    int version_minor = 1;
    /// Fields to send; `send` adds Host (and User-Agent unless given).
    headers_ref headers{};
    /// The body.
    corio::string_ref body{};
};
static_assert(std::is_trivially_destructible_v<request_ref>,
              "http::request_ref is written inside co_await, where g++ 12 destroys it twice");

namespace detail {
class client_state;
/// An `http::request`, of any value category (for `client::send`).
template <class T>
concept http_request = std::same_as<std::remove_cvref_t<T>, request>;
} // namespace detail

/// An HTTP/1.1 client. Requests may run concurrently from many tasks of one loop; each
/// takes a pooled connection to its host (or opens one) and returns it when the response
/// has been read whole. A request is retried once on a fresh connection when a reused one
/// turns out to have been closed by the server before any byte of the response arrived
/// (idempotent methods only). Cancelling a request closes its connection.
/// "http" and "https" URLs; connections are pooled per scheme, host and port, and a
/// redirect may go from one scheme to the other (credentials are dropped when the origin
/// changes). A certificate that does not verify is a tls_error naming the URL.
class client {
public:
    /// \throws std::invalid_argument if `options.max_connections_per_host` is 0.
    explicit client(client_options options = {});
    client(client&&) noexcept;
    client& operator=(client&&) noexcept;
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    /// Closes every idle pooled connection; a request still in flight closes its own when
    /// it ends.
    ~client();

    /// Send `req` to `target` (its Host header and target are filled from the URL) and
    /// read the response, following redirects (303, and 301/302 after POST, turn into
    /// GET without a body). Not a coroutine itself: what `req` refers to is copied before
    /// it returns, and the request goes out when the returned task is awaited.
    /// \throws (from the await) std::system_error (connect, I/O), protocol_error (a
    /// malformed response, or more than `limits::max_interim_responses` 1xx responses
    /// before the final one), timeout_error, redirect_error, std::invalid_argument (a bad
    /// URL, a request whose framing fields disagree with its body, CONNECT). Every message
    /// starts with the method and URL ("http client: GET http://a/: connect 10.0.0.1:80:
    /// Connection refused"); a system_error keeps its code.
    task<response> send(request_ref req, url target);
    /// Send an `http::request`, copied (an lvalue) or moved (an rvalue) into the returned
    /// task; otherwise as above. A request whose `streamed_body` is set sends its body in
    /// pieces as they come (chunked unless it has a Content-Length), with the connection's
    /// backpressure; it is not retried, and a 307 or 308 redirect, which would send the body
    /// again, is returned as it is. (A template only so that a braced `{...}` goes to the
    /// `request_ref` overload: write a request in place that way, not as
    /// `http::request{...}`, which g++ 12 destroys twice inside a `co_await`.)
    template <detail::http_request Request>
    task<response> send(Request&& req, url target) {
        return send_request(std::forward<Request>(req), std::move(target));
    }
    /// As `send`, but the response comes back as soon as its head has arrived, its body to
    /// be read in pieces, as it arrives, from `res.body_stream()` (`res.body` is empty), so
    /// a download of any size takes a bounded buffer (64 KiB at a time): `limits.max_body`
    /// bounds only `body_stream().read_all()`. The connection stays with the body until its
    /// end has been read, then goes back to the pool; dropping the response before that
    /// closes the connection. `timeout` bounds the wait for the head, not the reading of
    /// the body (bound that with `fail_after`, or cancel it). A response whose body arrived
    /// with its head (a small one) is given whole, in `body`; `body_stream()` reads either.
    /// 	hrows as `send`; reading the body throws protocol_error (malformed, cut short)
    /// and std::system_error (the connection failed), each naming the method and URL.
    task<response> open(request_ref req, url target);
    /// `open` with an `http::request` (copied or moved), whose `streamed_body` may be set.
    template <detail::http_request Request>
    task<response> open(Request&& req, url target) {
        return send_request(std::forward<Request>(req), std::move(target), true);
    }
    /// A GET of `url_text`, its body read in pieces: see `open`.
    task<response> open(std::string url_text);
    /// A GET of `url_text`. \throws as `send`; std::invalid_argument for a bad URL.
    task<response> get(std::string url_text);
    /// A HEAD of `url_text` (the response has no body).
    task<response> head(std::string url_text);
    /// A POST of `body` to `url_text`, sent with `Content-Type: content_type`.
    task<response> post(std::string url_text, std::string body, std::string content_type);
    /// A POST with `Content-Type: application/octet-stream`.
    task<response> post(std::string url_text, std::string body);

    /// Open connections, idle and busy.
    [[nodiscard]] std::size_t connections() const noexcept;
    /// Close every idle connection (busy ones close when their request ends).
    void close_idle();

private:
    /// What every `send`, `open`, `get`, `head` and `post` runs: a coroutine owning its
    /// request. `streamed`: the response's body is left to be read in pieces.
    task<response> send_request(request req, url target, bool streamed = false);

    /// Shared with the requests in flight, which may outlive the client object.
    std::shared_ptr<detail::client_state> m_state;
};

} // namespace corio::http
