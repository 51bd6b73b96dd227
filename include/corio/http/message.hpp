#pragma once
/// \file
/// HTTP/1.1 messages: `http::headers`, `http::request`, `http::response`, and the
/// `http::protocol_error` a malformed or oversized message raises.
///
/// ```cpp
/// corio::http::response r;
/// r.status = 200;
/// r.headers.set("Content-Type", "text/plain");
/// r.body = "Hello, World!";
/// ```

#include "corio/http/body.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corio::http {

/// The header fields of a message, in the order they arrived or were added. Names keep
/// their spelling; every lookup ignores ASCII case (RFC 9110 §5.1). A name may repeat.
class headers {
public:
    using value_type = std::pair<std::string, std::string>;
    using const_iterator = std::vector<value_type>::const_iterator;

    /// Append a field (a repeat of the name is kept as a second field).
    void add(std::string name, std::string value);
    /// Replace every field of that name by one field.
    void set(std::string name, std::string value);
    /// The value of the first field of that name, if any.
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
    /// The values of every field of that name, in order.
    [[nodiscard]] std::vector<std::string_view> get_all(std::string_view name) const;
    [[nodiscard]] bool contains(std::string_view name) const;
    /// Whether some field of that name lists `token` in its comma-separated value, ASCII
    /// case ignored (`Connection: keep-alive, Upgrade` has the token "upgrade").
    [[nodiscard]] bool has_token(std::string_view name, std::string_view token) const;
    /// Remove every field of that name; returns how many were removed.
    std::size_t erase(std::string_view name);
    void clear() noexcept { m_fields.clear(); }

    [[nodiscard]] std::size_t size() const noexcept { return m_fields.size(); }
    [[nodiscard]] bool empty() const noexcept { return m_fields.empty(); }
    [[nodiscard]] const_iterator begin() const noexcept { return m_fields.begin(); }
    [[nodiscard]] const_iterator end() const noexcept { return m_fields.end(); }

private:
    std::vector<value_type> m_fields;
};

/// A request. A server fills it from the wire; a client sends it.
struct request {
    /// "GET", "POST", ... (case-sensitive, as RFC 9110 says).
    std::string method = "GET";
    /// The request target as sent: "/path?query" (origin form), or "http://host/path"
    /// (absolute form), "host:port" (CONNECT), "*" (OPTIONS).
    std::string target = "/";
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    int version_minor = 1;
    http::headers headers;
    /// The whole body, de-chunked (empty when it is read in pieces: `body_stream()`).
    std::string body;
    /// A body read in pieces as it arrives: set by a server with
    /// `server_options::stream_request_bodies` (and then `body` is empty), or by a client
    /// program sending a body it produces in pieces (`client::send` sends it chunked unless
    /// a Content-Length is given). Shared by copies of the request.
    std::shared_ptr<http::body_stream> streamed_body;

    /// The body, read in pieces: `streamed_body`, or (made at the first call) a stream
    /// over `body`, which it takes. In a handler:
    /// `while (auto piece = co_await req.body_stream().next()) { ... }`.
    http::body_stream& body_stream();

    /// Whether the connection stays open after this request: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    [[nodiscard]] bool keep_alive() const;
    /// The path of the target, without the query ("/a/b" for "/a/b?c=d").
    [[nodiscard]] std::string_view path() const;
    /// The query of the target without its '?', empty if none.
    [[nodiscard]] std::string_view query() const;
};

/// A response. A server's handler returns one; a client receives one.
struct response {
    int status = 200;
    /// The reason phrase; empty means the standard one for `status` when sent.
    std::string reason;
    int version_minor = 1;
    http::headers headers;
    /// The whole body (empty when it comes in pieces: `streamed_body`).
    std::string body;
    /// A body in pieces: one a handler sends as it is produced (`stream_body`; chunked
    /// unless a Content-Length is given, or until the connection closes to HTTP/1.0), or
    /// one a client reads as it arrives (`client::open`). Shared by copies.
    std::shared_ptr<http::body_stream> streamed_body;
    /// Client only: the URL this response came from, after any redirects.
    std::string url;
    /// Client only: how many redirects were followed to reach it.
    int redirects = 0;

    response() = default;
    response(int status_code, std::string body_text)
        : status(status_code), body(std::move(body_text)) {}

    /// Whether the connection stays open after this response (as `request::keep_alive`).
    [[nodiscard]] bool keep_alive() const;

    /// Send the body in pieces from `source` (and not `body`, which must be empty).
    void stream_body(std::unique_ptr<body_source> source);
    /// ... from what an async generator yields, as it yields it.
    void stream_body(async_generator<std::string> pieces);
    /// ... from what a stream reads until its end (a process's output, a socket).
    void stream_body(corio::stream s);
    /// The body, read in pieces (`client::open`'s response): `streamed_body`, or a stream
    /// over `body`, which it takes.
    http::body_stream& body_stream();
};

/// The standard reason phrase for a status code ("Not Found"), or "Unknown".
[[nodiscard]] std::string_view reason_phrase(int status) noexcept;

/// A message that breaks HTTP/1.1 or one of the configured limits. `status()` is the
/// status a server answers with: 400 (malformed; the connection is closed), 408 (the
/// header section did not arrive in time), 413 (body too large), 414 (request line too
/// long), 431 (header section too large), 501 (unknown transfer coding), 505 (version).
/// The message says what was wrong ("http: both Content-Length and Transfer-Encoding").
class protocol_error : public std::runtime_error {
public:
    protocol_error(int status, const std::string& what);
    ~protocol_error() override;
    [[nodiscard]] int status() const noexcept { return m_status; }

private:
    int m_status;
};

} // namespace corio::http
