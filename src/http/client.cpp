// http::client: requests over pooled keep-alive connections, each exchange driven through
// an h1::connection (the HTTP/1.1 state machine, src/http/h1/connection.hpp), which frames
// the request and the response and decides whether the connection can be reused.
//
// Each "host:port" has a pool: a stack of idle streams (the most recently used is reused
// first, so that rarely used connections age out) and a semaphore of
// max_connections_per_host permits. A request holds a permit for its whole exchange, takes
// an idle stream or opens one only when none is idle, so a host never has more open
// connections than permits. A stream goes back to the pool only when its response was read
// whole and the state machine says the connection persists (framed by a length or chunked
// coding, neither side asked to close, nothing followed it); any other end (an error, a
// cancellation, a body delimited by the close) closes it. Connections are opened by
// open_connection, or by client_options::connect for a stream corio does not make.

#include "corio/http/client.hpp"

#include "content.hpp"
#include "h1/connection.hpp"

#include "corio/cancel_scope.hpp"
#include "corio/errors.hpp"
#include "corio/net/tcp.hpp"
#include "corio/sync/semaphore.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace corio::http {

redirect_error::~redirect_error() = default;

namespace detail {

/// An idle connection in a pool.
struct idle_connection {
    stream s;
    clock::time_point since;
};

/// The connections to one host:port.
struct host_pool {
    explicit host_pool(std::size_t permits) : slots(permits) {}
    /// One permit per connection a request may use at once.
    semaphore slots;
    /// Idle connections, the most recently used last.
    std::vector<idle_connection> idle;
    /// Open connections, idle and busy.
    std::size_t open = 0;
};

class client_state {
public:
    /// Keeps its own copy of the text `o.user_agent` refers to, and of the TLS context.
    explicit client_state(const client_options& o) : options(o), user_agent(o.user_agent.view()) {
        options.user_agent = user_agent;
        if (const tls_context* ctx = o.tls.get()) {
            tls = *ctx;
        }
        options.tls = {};
    }

    /// The context https connections use: the options', else (made at the first https
    /// request) the system's defaults, `tls_context::client()`.
    const tls_context& tls_for_https() const {
        if (!tls) {
            tls = tls_context::client();
        }
        return tls;
    }
    client_state(const client_state&) = delete;
    client_state& operator=(const client_state&) = delete;

    host_pool& pool(const std::string& key) {
        std::unique_ptr<host_pool>& p = pools[key];
        if (!p) {
            p = std::make_unique<host_pool>(options.max_connections_per_host);
        }
        return *p;
    }

    void close_idle() noexcept {
        for (auto& [key, p] : pools) {
            for (idle_connection& c : p->idle) {
                c.s.abort();
            }
            open -= p->idle.size();
            p->open -= p->idle.size();
            p->idle.clear();
        }
    }

    /// `user_agent` refers to the member below.
    client_options options;
    std::string user_agent;
    mutable tls_context tls;
    std::unordered_map<std::string, std::unique_ptr<host_pool>> pools;
    std::size_t open = 0;
    /// The client object is gone: connections are closed instead of pooled.
    bool closed = false;
};

} // namespace detail

namespace {

using detail::client_state;
using detail::host_pool;

/// The most bytes a read asks the stream to buffer.
constexpr std::size_t max_read = 16 * 1024;

bool is_redirect(int status) noexcept {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool is_idempotent(std::string_view method) noexcept {
    return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
           method == "PUT" || method == "DELETE";
}

void check_scheme(const url& u) {
    if (u.scheme != "http" && u.scheme != "https") {
        throw std::invalid_argument("http client: unsupported URL scheme \"" + u.scheme + "\" (" +
                                    u.str() + ")");
    }
}

/// Point `req` at `u`: its target, Host header and User-Agent.
void address_request(request& req, const url& u, const client_options& options) {
    req.target = u.target;
    req.headers.set("Host", u.authority());
    if (!options.user_agent.empty() && !req.headers.contains("User-Agent")) {
        req.headers.set("User-Agent", std::string(options.user_agent.view()));
    }
}

std::string seconds_text(clock::duration d) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", std::chrono::duration<double>(d).count());
    return text;
}

/// A permit of a host's pool, returned on destruction (or by release()). Movable, so that
/// a response read in pieces takes it along.
class permit {
public:
    explicit permit(host_pool& p) noexcept : m_pool(&p) {}
    permit(permit&& other) noexcept : m_pool(std::exchange(other.m_pool, nullptr)) {}
    permit& operator=(permit&&) = delete;
    permit(const permit&) = delete;
    permit& operator=(const permit&) = delete;
    ~permit() { release(); }

    void release() noexcept {
        if (m_pool != nullptr) {
            std::exchange(m_pool, nullptr)->slots.release();
        }
    }

private:
    host_pool* m_pool;
};

/// A connection in use by one request: closed on destruction unless given back.
class lease {
public:
    lease(client_state& state, host_pool& pool) noexcept : m_state(&state), m_pool(&pool) {}
    /// Movable (the stream goes with it), so that a response read in pieces takes it along.
    lease(lease&& other) noexcept
        : m_state(other.m_state), m_pool(other.m_pool), m_stream(std::move(other.m_stream)),
          m_reused(other.m_reused) {}
    lease& operator=(lease&&) = delete;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease() { close(); }

    /// Hold `s`, a connection just opened or taken from the pool (counted as open).
    void hold(stream s, bool reused) {
        m_stream = std::move(s);
        m_reused = reused;
    }
    [[nodiscard]] bool holds() const noexcept { return m_stream.valid(); }
    [[nodiscard]] bool reused() const noexcept { return m_reused; }
    stream& get() noexcept { return m_stream; }

    /// Put the connection back in the pool (or close it if the client is gone).
    void give_back(clock::time_point now) {
        if (m_state->closed || m_stream.is_closing()) {
            close();
            return;
        }
        m_pool->idle.push_back(detail::idle_connection{std::move(m_stream), now});
    }

    /// Close the connection now (dropping anything unsent).
    void close() noexcept {
        if (m_stream.valid()) {
            m_stream.abort();
            m_stream = stream();
            --m_pool->open;
            --m_state->open;
        }
    }

private:
    client_state* m_state;
    host_pool* m_pool;
    stream m_stream;
    bool m_reused = false;
};

/// "http client: GET http://host/path: ", which every error of a request starts with.
std::string error_prefix(const request& req, const url& target) {
    return "http client: " + req.method + " " + target.str() + ": ";
}

/// `e` with the request's method and URL in front of its message, and the same code.
std::system_error with_url(const std::system_error& e, const request& req, const url& target) {
    // what() is "<what_arg>: <the code's message>": the message is added again.
    std::string what = e.what();
    const std::string message = ": " + e.code().message();
    if (what.size() >= message.size() &&
        what.compare(what.size() - message.size(), message.size(), message) == 0) {
        what.resize(what.size() - message.size());
    } else if (what == e.code().message()) {
        what.clear();
    }
    std::string prefix = error_prefix(req, target);
    prefix.resize(prefix.size() - 2); // without its ": "
    return std::system_error(e.code(), what.empty() ? prefix : prefix + ": " + what);
}

/// Throw `e` with the request's method and URL in front of its message: a tls_error stays
/// one (its reason and verify result kept), any other system_error keeps its code.
[[noreturn]] void throw_with_url(const std::system_error& e, const request& req,
                                 const url& target) {
    if (const auto* tls = dynamic_cast<const tls_error*>(&e)) {
        throw tls_error(error_prefix(req, target) + tls->what(), tls->reason(),
                        tls->verify_result());
    }
    throw with_url(e, req, target);
}

/// Raised when a connection ends before the first byte of a response.
std::system_error closed_before_response(const request& req, const url& target) {
    return std::system_error(std::make_error_code(std::errc::connection_reset),
                             error_prefix(req, target) +
                                 "the server closed the connection before responding");
}

/// Read the response to the request `conn` has sent from `s`, parsing in the stream's
/// buffer: whole, or (`head_only`) until its head is in, returning nothing if its body is
/// still to come (the head is then `conn.their_response()`).
task<std::optional<response>> read_response(stream& s, h1::connection& conn, const request& req,
                                            const url& target, bool head_only) {
    while (true) {
        switch (conn.next_event()) {
        case h1::event::message:
            co_return conn.take_response();
        case h1::event::body:
            if (head_only) {
                co_return std::nullopt;
            }
            break;
        case h1::event::error:
            throw protocol_error(conn.error_status(), conn.error_message());
        case h1::event::closed:
            throw closed_before_response(req, target);
        default:
            break;
        }
        // The state machine takes every byte it is given (those past the response too, which
        // it drops), unless it fails.
        if (const std::string_view in = s.buffered(); !in.empty()) {
            s.consume(conn.receive(in));
            continue;
        }
        const std::size_t n = co_await s.fill(max_read);
        if (n == 0) {
            conn.receive_eof(); // completes a body delimited by the close, or fails
        }
    }
}

/// A connection to `target`, by the client's connect hook or by open_connection; for
/// https, with TLS started on it (the client's context, checked against the URL's host).
task<stream> open_stream(const client_state& state, const url& target) {
    const client_options& options = state.options;
    const bool https = target.scheme == "https";
    if (options.connect.function == nullptr) {
        connect_options how;
        how.timeout = options.connect_timeout;
        if (https) {
            how.tls = state.tls_for_https();
            how.server_hostname = target.host;
            how.tls_handshake_timeout = options.connect_timeout;
        }
        co_return co_await open_connection(target.host, target.port, how);
    }
    task<stream> connecting = options.connect.function(target, options.connect.context);
    std::optional<stream> s;
    if (options.connect_timeout <= clock::duration::zero()) {
        s.emplace(co_await std::move(connecting));
    } else {
        s = co_await move_on_after(options.connect_timeout, std::move(connecting));
        if (!s) {
            throw timeout_error("connect " + target.authority() + ": no connection within " +
                                seconds_text(options.connect_timeout) + " s");
        }
    }
    if (https) {
        co_await s->start_tls(
            state.tls_for_https(),
            {.server_hostname = target.host, .handshake_timeout = options.connect_timeout});
    }
    co_return std::move(*s);
}

/// The limits of a response read in pieces: no body is too long (body_stream::read_all
/// enforces max_body on what it keeps).
http::limits streamed_limits(const http::limits& l) noexcept {
    http::limits out = l;
    out.max_body = static_cast<std::size_t>(-1);
    return out;
}

/// A response body read in pieces from the connection its head came on, which goes back
/// to the pool once the body's end has been read (or is closed if the body is dropped
/// before it, or fails).
class response_body final : public body_source {
public:
    response_body(std::shared_ptr<client_state> state, permit held, lease conn,
                  std::unique_ptr<h1::connection> machine, std::string prefix)
        : m_state(std::move(state)), m_permit(std::move(held)), m_lease(std::move(conn)),
          m_machine(std::move(machine)), m_prefix(std::move(prefix)) {}
    response_body(const response_body&) = delete;
    response_body& operator=(const response_body&) = delete;
    ~response_body() override {
        m_lease.close(); // unless it was given back
        m_permit.release();
    }

    task<std::optional<std::string>> next() override {
        if (m_done) {
            co_return std::nullopt;
        }
        if (m_failed) {
            throw invalid_state_error(m_prefix + "the response body is read after it failed");
        }
        m_failed = true; // until this read ends well
        stream& s = m_lease.get();
        while (true) {
            const h1::event ev = m_machine->next_event();
            if (std::string& held = m_machine->their_response().body; !held.empty()) {
                std::string piece;
                piece.swap(held);
                m_failed = false;
                co_return piece;
            }
            if (ev == h1::event::message) {
                m_machine->take_response();
                if (m_machine->keep_alive()) {
                    m_lease.give_back(get_running_loop().time());
                } else {
                    m_lease.close();
                }
                m_permit.release();
                m_done = true;
                m_failed = false;
                co_return std::nullopt;
            }
            if (ev == h1::event::error) {
                throw protocol_error(m_machine->error_status(),
                                     m_prefix + m_machine->error_message());
            }
            if (const std::string_view in = s.buffered(); !in.empty()) {
                s.consume(m_machine->receive(in));
                continue;
            }
            std::size_t n = 0;
            try {
                n = co_await s.fill(max_read);
            } catch (const std::system_error& e) {
                std::string prefix = m_prefix;
                prefix.resize(prefix.size() - 2);
                throw std::system_error(e.code(), prefix + ": reading the body: " + e.what());
            }
            if (n == 0) {
                m_machine->receive_eof(); // completes a body delimited by the close, or fails
            }
        }
    }

private:
    std::shared_ptr<client_state> m_state;
    permit m_permit;
    lease m_lease;
    std::unique_ptr<h1::connection> m_machine;
    std::string m_prefix;
    bool m_done = false;
    bool m_failed = false;
};

/// Send the body of `req` in pieces from its streamed_body, after the head in `wire`.
task<> send_pieces(stream& s, h1::connection& machine, const request& req, std::string& wire) {
    s.write(wire);
    wire.clear();
    body_stream& pieces = *req.streamed_body;
    while (std::optional<std::string> piece = co_await pieces.next()) {
        machine.send_data(*piece, wire);
        s.write(wire);
        wire.clear();
        co_await s.drain();
    }
    machine.send_end(wire);
}

/// Frame `req` for `machine` into `wire`: whole, or its head (adding chunked framing if it
/// has none) when its body goes in pieces.
void frame_request(h1::connection& machine, request& req, std::string& wire) {
    if (!req.streamed_body) {
        machine.send_request(req, wire);
        return;
    }
    if (!req.body.empty()) {
        throw std::invalid_argument("http: a request with both a body and a streamed_body");
    }
    if (!req.headers.contains("Content-Length") && !req.headers.contains("Transfer-Encoding")) {
        if (req.version_minor == 0) {
            throw std::invalid_argument("http: an HTTP/1.0 request whose body goes in pieces "
                                        "needs a Content-Length (HTTP/1.0 has no chunked coding)");
        }
        req.headers.set("Transfer-Encoding", "chunked");
    }
    machine.send_head(req, wire);
}

/// One request and its response over a pooled connection, retried once on a fresh
/// connection when a reused one turns out to be closed (not with a body sent in pieces,
/// which cannot be sent again). `streamed`: the response's body is read in pieces, the
/// connection staying with it.
task<response> exchange(std::shared_ptr<client_state> state, request& req, const url& target,
                        bool streamed) {
    const client_options& options = state->options;
    const http::limits limits = streamed ? streamed_limits(options.limits) : options.limits;
    // The request is refused before a connection is taken if its framing fields disagree
    // with its body (or its method or target would break the request line).
    auto machine = std::make_unique<h1::connection>(h1::role::client, limits);
    std::string wire;
    try {
        frame_request(*machine, req, wire);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(error_prefix(req, target) + e.what());
    }
    host_pool& pool =
        state->pool(target.scheme + "://" + target.host + ":" + std::to_string(target.port));
    co_await pool.slots.acquire();
    permit held(pool);
    event_loop& loop = get_running_loop();

    for (int attempt = 0;; ++attempt) {
        lease conn(*state, pool);
        // A retry always takes a fresh connection: the idle ones may be as stale.
        while (attempt == 0 && !pool.idle.empty()) {
            detail::idle_connection c = std::move(pool.idle.back());
            pool.idle.pop_back();
            conn.hold(std::move(c.s), true);
            const bool stale = loop.time() - c.since >= options.idle_timeout ||
                               conn.get().is_closing() || conn.get().at_eof();
            if (!stale) {
                break;
            }
            conn.close();
        }
        if (!conn.holds()) {
            task<stream> connecting = open_stream(*state, target);
            std::optional<stream> opened;
            try {
                opened.emplace(co_await std::move(connecting));
            } catch (const std::system_error& e) {
                throw_with_url(e, req, target); // the address is in e's message
            } catch (const timeout_error& e) {
                throw timeout_error(error_prefix(req, target) + e.what());
            }
            stream s = std::move(*opened);
            ++pool.open;
            ++state->open;
            conn.hold(std::move(s), false);
        }

        if (attempt != 0) {
            // A fresh connection, a fresh state machine (the request is framed as before).
            machine = std::make_unique<h1::connection>(h1::role::client, limits);
            wire.clear();
            frame_request(*machine, req, wire);
        }
        std::exception_ptr failure;
        bool retry = false;
        try {
            if (req.streamed_body) {
                co_await send_pieces(conn.get(), *machine, req, wire);
            }
            conn.get().write(wire);
            co_await conn.get().drain();
            task<std::optional<response>> reading =
                read_response(conn.get(), *machine, req, target, streamed);
            std::optional<response> whole = co_await std::move(reading);
            if (!whole) {
                // The head is in; its body follows in pieces, from this connection.
                response& head = machine->their_response();
                response res;
                res.status = head.status;
                res.reason = std::move(head.reason);
                res.version_minor = head.version_minor;
                res.headers = std::move(head.headers);
                auto body =
                    std::make_unique<response_body>(state, std::move(held), std::move(conn),
                                                    std::move(machine), error_prefix(req, target));
                res.streamed_body =
                    std::make_shared<body_stream>(std::move(body), options.limits.max_body);
                co_return res;
            }
            if (machine->keep_alive()) {
                conn.give_back(loop.time());
            } else {
                conn.close();
            }
            co_return std::move(*whole);
        } catch (const protocol_error& e) {
            // The parser's message says what was wrong; the client's says with which URL.
            throw protocol_error(e.status(), error_prefix(req, target) + e.what());
        } catch (const std::system_error& e) {
            failure = std::current_exception();
            const auto code = e.code();
            retry = attempt == 0 && conn.reused() && !machine->received_any() &&
                    is_idempotent(req.method) && !req.streamed_body &&
                    (code == std::errc::connection_reset || code == std::errc::broken_pipe);
        }
        conn.close();
        if (!retry) {
            try {
                std::rethrow_exception(failure);
            } catch (const std::system_error& e) {
                // An I/O error names the request; closed_before_response already does.
                if (std::string_view(e.what()).rfind("http client: ", 0) == 0) {
                    throw;
                }
                throw_with_url(e, req, target);
            }
        }
    }
}

/// Undo the content codings of `res` (its Content-Encoding), whole or (`streamed`, the
/// response of `open`) in pieces, even if the coded body arrived whole with its head.
void decode_body(response& res, const client_options& options, const std::string& prefix,
                 bool streamed) {
    const std::optional<std::string_view> field = res.headers.get("Content-Encoding");
    if (!field) {
        return;
    }
    if (streamed && !res.streamed_body) {
        res.streamed_body = std::make_shared<body_stream>(std::move(res.body));
        res.body.clear();
    }
    std::vector<content_coding> applied;
    try {
        applied = parse_content_encoding(*field);
    } catch (const protocol_error& e) {
        throw protocol_error(e.status(), prefix + e.what());
    }
    if (applied.empty()) {
        // identity only: nothing to undo
    } else if (res.streamed_body) {
        res.streamed_body = std::make_shared<body_stream>(
            detail::decoding_source(std::move(res.streamed_body), std::move(applied), prefix,
                                    options.limits.max_body),
            options.limits.max_body);
    } else {
        try {
            res.body = decode(applied, res.body, options.limits.max_body);
        } catch (const protocol_error& e) {
            throw protocol_error(e.status(), prefix + e.what());
        }
    }
    res.headers.erase("Content-Encoding");
    res.headers.erase("Content-Length");
}

/// `req` to `target`, following redirects.
task<response> follow(std::shared_ptr<client_state> state, request req, url target, bool streamed) {
    const client_options& options = state->options;
    const std::string first = target.str();
    // The client decodes what it asked to be coded, not what the program asked for.
    const bool decode = options.decompress && !req.headers.contains("Accept-Encoding");
    if (decode) {
        req.headers.set("Accept-Encoding", std::string(accept_encoding_value()));
    }
    address_request(req, target, options);
    int redirects = 0;
    while (true) {
        task<response> exchanging = exchange(state, req, target, streamed);
        response res = co_await std::move(exchanging);
        res.url = target.str();
        res.redirects = redirects;
        if (!is_redirect(res.status) || options.max_redirects <= 0) {
            if (decode) {
                decode_body(res, options, error_prefix(req, target), streamed);
            }
            co_return res;
        }
        // A body sent in pieces cannot be sent again: a redirect that would repeat it (307,
        // 308) is returned as it is.
        const bool drops_body = (res.status == 303 && req.method != "HEAD") ||
                                ((res.status == 301 || res.status == 302) && req.method == "POST");
        if (req.streamed_body && !drops_body) {
            co_return res;
        }
        const std::optional<std::string_view> location = res.headers.get("Location");
        if (!location) {
            throw redirect_error("http client: " + std::to_string(res.status) + " from " + res.url +
                                 " without a Location header");
        }
        std::optional<url> next = target.resolve(*location);
        if (!next) {
            throw redirect_error("http client: " + std::to_string(res.status) + " from " + res.url +
                                 " with an unusable Location \"" + std::string(*location) + "\"");
        }
        if (redirects >= options.max_redirects) {
            throw redirect_error("http client: more than " + std::to_string(options.max_redirects) +
                                 " redirects from " + first + " (the last from " + res.url +
                                 " to " + next->str() + ")");
        }
        check_scheme(*next);
        ++redirects;
        // 303 turns into GET (HEAD stays HEAD); so do 301 and 302 after a POST, as browsers
        // do. 307 and 308 repeat the request as it was.
        if (drops_body) {
            req.method = "GET";
            req.body.clear();
            req.streamed_body.reset();
            req.headers.erase("Content-Length");
            req.headers.erase("Content-Type");
            req.headers.erase("Transfer-Encoding");
        }
        if (next->scheme != target.scheme || next->host != target.host ||
            next->port != target.port) {
            // Credentials meant for one origin are not sent to another.
            req.headers.erase("Authorization");
            req.headers.erase("Cookie");
        }
        target = std::move(*next);
        address_request(req, target, options);
    }
}

client_state& checked(const std::shared_ptr<client_state>& state, const char* operation) {
    if (!state) {
        throw invalid_state_error(std::string("http::client::") + operation +
                                  ": moved-from client");
    }
    return *state;
}

} // namespace

client::client(client_options options) {
    if (options.max_connections_per_host == 0) {
        throw std::invalid_argument("http::client: max_connections_per_host must be at least 1");
    }
    if (const tls_context* ctx = options.tls.get(); ctx != nullptr && ctx->is_server()) {
        throw std::invalid_argument(
            "http::client: options.tls is a server context (make it with tls_context::client)");
    }
    m_state = std::make_shared<detail::client_state>(options);
}

client::client(client&&) noexcept = default;

client& client::operator=(client&& other) noexcept {
    if (this != &other) {
        if (m_state) {
            m_state->close_idle();
            m_state->closed = true;
        }
        m_state = std::move(other.m_state);
    }
    return *this;
}

client::~client() {
    if (m_state) {
        m_state->close_idle();
        m_state->closed = true;
    }
}

namespace {

/// Copied here, before the lazy task exists: what `req` refers to need only live until the
/// call that copies it returns.
request owned_request(const request_ref& req) {
    request owned;
    owned.method = std::string(req.method.view());
    owned.version_minor = req.version_minor;
    if (req.headers.get() != nullptr) {
        owned.headers = *req.headers.get();
    }
    owned.body = std::string(req.body.view());
    return owned;
}

} // namespace

task<response> client::send(request_ref req, url target) {
    return send_request(owned_request(req), std::move(target), false);
}

task<response> client::send_request(request req, url target, bool streamed) {
    std::shared_ptr<client_state> state = m_state;
    const clock::duration timeout = checked(state, "send").options.timeout;
    check_scheme(target);
    if (req.method == "CONNECT") {
        // A 2xx would turn the connection into a tunnel, which the client does not hand over.
        throw std::invalid_argument("http client: CONNECT " + target.str() +
                                    ": CONNECT is not supported (the client cannot hand over "
                                    "the connection for a tunnel)");
    }
    const std::string what = req.method + " " + target.str();
    std::optional<clock::time_point> deadline;
    if (timeout > clock::duration::zero()) {
        deadline = corio::detail::deadline_after(timeout);
    }
    task<response> following =
        follow(std::move(state), std::move(req), std::move(target), streamed);
    if (!deadline) {
        co_return co_await std::move(following);
    }
    cancel_scope scope(*deadline);
    std::optional<response> res = co_await scope.run(std::move(following));
    if (!res) {
        throw timeout_error("http client: " + what + ": no response within " +
                            seconds_text(timeout) + " s");
    }
    co_return std::move(*res);
}

task<response> client::open(request_ref req, url target) {
    return send_request(owned_request(req), std::move(target), true);
}

task<response> client::open(std::string url_text) {
    url target = url::parse(url_text);
    request req;
    req.method = "GET";
    task<response> sending = send_request(std::move(req), std::move(target), true);
    co_return co_await std::move(sending);
}

task<response> client::get(std::string url_text) {
    url target = url::parse(url_text);
    request req;
    req.method = "GET";
    task<response> sending = send_request(std::move(req), std::move(target));
    co_return co_await std::move(sending);
}

task<response> client::head(std::string url_text) {
    url target = url::parse(url_text);
    request req;
    req.method = "HEAD";
    task<response> sending = send_request(std::move(req), std::move(target));
    co_return co_await std::move(sending);
}

task<response> client::post(std::string url_text, std::string body, std::string content_type) {
    url target = url::parse(url_text);
    request req;
    req.method = "POST";
    req.body = std::move(body);
    req.headers.set("Content-Type", std::move(content_type));
    task<response> sending = send_request(std::move(req), std::move(target));
    co_return co_await std::move(sending);
}

task<response> client::post(std::string url_text, std::string body) {
    task<response> sending =
        post(std::move(url_text), std::move(body), std::string("application/octet-stream"));
    co_return co_await std::move(sending);
}

std::size_t client::connections() const noexcept {
    return m_state ? m_state->open : 0;
}

void client::close_idle() {
    checked(m_state, "close_idle").close_idle();
}

} // namespace corio::http
