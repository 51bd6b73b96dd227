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
#include "corio/task.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace corio::http {

/// More redirects than `client_options::max_redirects` allows, or a redirect without a
/// usable Location. The message names the URL.
class redirect_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
    ~redirect_error() override;
};

/// Options for `client`.
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
    /// The `User-Agent` header; empty for none.
    std::string user_agent = "corio";
};

namespace detail {
class client_state;
}

/// An HTTP/1.1 client. Requests may run concurrently from many tasks of one loop; each
/// takes a pooled connection to its host (or opens one) and returns it when the response
/// has been read whole. A request is retried once on a fresh connection when a reused one
/// turns out to have been closed by the server before any byte of the response arrived
/// (idempotent methods only). Cancelling a request closes its connection.
/// Only "http" URLs are supported (https: std::invalid_argument).
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
    /// GET without a body).
    /// \throws std::system_error (connect, I/O), protocol_error (a malformed response, or
    /// more than `limits::max_interim_responses` 1xx responses before the final one),
    /// timeout_error, redirect_error, std::invalid_argument (a bad URL, a request whose
    /// framing fields disagree with its body, CONNECT). Every message starts with the
    /// method and URL ("http client: GET http://a/: connect 10.0.0.1:80: Connection
    /// refused"); a system_error keeps its code.
    task<response> send(request req, url target);
    /// A GET of `url_text`. \throws as `send`; std::invalid_argument for a bad URL.
    task<response> get(std::string url_text);
    /// A HEAD of `url_text` (the response has no body).
    task<response> head(std::string url_text);
    /// A POST of `body` to `url_text`, sent with `Content-Type: content_type`.
    task<response> post(std::string url_text, std::string body, std::string content_type);
    /// A POST with `Content-Type: application/octet-stream`. An overload rather than a
    /// default argument: g++ 12 destroys a defaulted class-type argument twice when the call
    /// sits in a `co_await` expression.
    task<response> post(std::string url_text, std::string body);

    /// Open connections, idle and busy.
    [[nodiscard]] std::size_t connections() const noexcept;
    /// Close every idle connection (busy ones close when their request ends).
    void close_idle();

private:
    /// Shared with the requests in flight, which may outlive the client object.
    std::shared_ptr<detail::client_state> m_state;
};

} // namespace corio::http
