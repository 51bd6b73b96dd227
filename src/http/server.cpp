// http::serve: one task per connection, driving an h1::connection (the HTTP/1.1 state
// machine, src/http/h1/connection.hpp: keep-alive, pipelining, 100-continue, HEAD, framing,
// limits) with the stream's I/O, the timeouts, the server-wide memory caps and the handler.
//
// The read side: the state machine parses in the stream's own read buffer (stream::buffered,
// consume, fill), so the only copy of a request's bytes after the stream received them is
// the parser's, into the request. It is given at most 64 KiB at a time, and the body caps
// are checked after each such step; fill() asks for at most 64 KiB buffered. The parser
// copies what it keeps, so between requests the buffer is empty unless the client
// pipelined (the state machine takes a pipelined request only once the one before it is
// answered). The write side: responses are serialized into one string per connection, and
// that string is handed to stream::write only when the connection is about to wait for
// more input (or when it holds 64 KiB), so a batch of pipelined requests costs one send.
// drain() is awaited only when the stream's write buffer is above its high water mark,
// before reading more. The fields the server adds (Server, Date, and the state machine's
// Connection) are not added to the handler's response object, which would allocate: their
// lines (the Date line formatted once a second) are spliced into the serialized response
// after its status line.
//
// Memory: the connections of one server share a server_usage, which counts them against
// max_connections and the request body bytes they hold against max_buffered_body_bytes.
// A body is counted (reserve_body) right after each parse of new input once its head is in:
// whole by its Content-Length, or as much as a chunked body holds so far; it is given back
// when the handler's task ends (or when the request is answered with an error), so a
// request refused for want of room has never had its body read.
//
// Timeouts cost no allocation and no timer operation per request: the connection runs
// inside one cancel_scope and keeps one loop timer for itself. Before each read it sets the
// deadline of the wait (the header, body or keep-alive timeout); the timer, when it fires,
// either finds the deadline passed while the connection waits (and cancels the scope) or
// re-arms itself for the deadline now in force. A keep-alive connection whose requests keep
// coming thus re-arms its timer once per timeout period, not once per request.

#include "corio/http/server.hpp"

#include "../net/listeners.hpp"
#include "common.hpp"
#include "content.hpp"
#include "h1/connection.hpp"
#include "syntax.hpp"

#include "corio/cancel_scope.hpp"
#include "corio/errors.hpp"
#include "corio/join_handle.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace corio::http {

namespace detail {

/// How a connection counts itself and its request bodies in a server_usage.
struct server_usage_access {
    static std::size_t& connections(server_usage& u) noexcept { return u.m_connections; }
    static std::size_t& body_bytes(server_usage& u) noexcept { return u.m_body_bytes; }
    static void link_idle(server_usage& u, idle_connection& c) noexcept {
        c.prev = nullptr;
        c.next = u.m_idle;
        if (u.m_idle != nullptr) {
            u.m_idle->prev = &c;
        }
        u.m_idle = &c;
    }
    static void unlink_idle(server_usage& u, idle_connection& c) noexcept {
        if (c.prev != nullptr) {
            c.prev->next = c.next;
        } else if (u.m_idle == &c) {
            u.m_idle = c.next;
        }
        if (c.next != nullptr) {
            c.next->prev = c.prev;
        }
        c.prev = nullptr;
        c.next = nullptr;
    }
};

} // namespace detail

namespace {

using usage_access = detail::server_usage_access;

/// The most bytes the state machine is given at once (the body caps are checked after each
/// step), and the most a read asks the stream to buffer.
constexpr std::size_t max_read_step = 64 * 1024;
/// Serialized responses are handed to the stream once they reach this size, even when more
/// pipelined requests are waiting.
constexpr std::size_t flush_threshold = 64 * 1024;
/// A response string that grew past this is released after it is sent, not kept.
constexpr std::size_t max_kept_output = 1024 * 1024;
/// After the last response of a connection the server half-closes and reads what the
/// client still sends for up to this long before closing, so that unread input does not
/// make the kernel reset the connection and destroy the response in flight.
constexpr std::chrono::seconds linger_time{1};

/// The Date field line for the current second ("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
/// formatted once a second per thread.
std::string_view http_date_line() {
    struct cache {
        std::time_t second = -1;
        char text[48] = {};
        std::size_t size = 0;
    };
    thread_local cache c;
    const std::time_t now = std::time(nullptr);
    if (now != c.second) {
        static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        std::tm tm{};
        ::gmtime_r(&now, &tm);
        const int n =
            std::snprintf(c.text, sizeof c.text, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                          days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                          tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        c.size = n > 0 ? std::min(static_cast<std::size_t>(n), sizeof c.text - 1) : 0;
        c.second = now;
    }
    return {c.text, c.size};
}

/// The Server field line for `name` ("Server: corio\r\n"), empty for no name.
/// \throws std::invalid_argument if the name would break the line.
std::string server_line(std::string_view name) {
    if (name.empty()) {
        return {};
    }
    if (name.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
        throw std::invalid_argument("http::serve: server_name contains CR, LF or NUL");
    }
    std::string line = "Server: ";
    line += name;
    line += "\r\n";
    return line;
}

/// True for a positive duration (zero or less means "no limit").
bool limited(clock::duration d) noexcept {
    return d > clock::duration::zero();
}

/// `now + d`, or the clock's end when that lies beyond it (a timeout of hours::max()).
clock::time_point after(clock::time_point now, clock::duration d) noexcept {
    return d >= clock::time_point::max() - now ? clock::time_point::max() : now + d;
}

/// The limits a connection's parser enforces: with bodies read in pieces, no body is too
/// long for it (`body_stream::read_all` enforces `max_body`, on what it keeps).
http::limits parser_limits(const server_options& options) noexcept {
    http::limits l = options.limits;
    if (options.stream_request_bodies) {
        l.max_body = static_cast<std::size_t>(-1);
    }
    return l;
}

/// What a connection is waiting for when its deadline is set.
enum class waiting : std::uint8_t {
    nothing,       ///< not waiting on the client (handler running, or between steps)
    first_request, ///< the first request of the connection, no byte yet
    idle,          ///< a keep-alive connection between requests, no byte yet
    head,          ///< the rest of a request's header section
    body,          ///< the rest of a request's body
    writing,       ///< the client to take the responses written (drain)
};

/// One connection being served.
class connection : private detail::idle_connection {
public:
    connection(stream& s, const handler& h, const server_options& options, server_usage& usage)
        : m_stream(s), m_handler(h), m_options(options), m_usage(usage), m_loop(get_running_loop()),
          m_conn(h1::role::server, parser_limits(options)),
          m_server_line(server_line(options.server_name.view())) {}
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() {
        if (m_timer_armed) {
            m_loop.cancel_timer(m_timer);
        }
        release_body();
    }

    task<> run();
    /// Answer 503 at once (the server serves max_connections already) and close.
    task<> refuse();

private:
    class request_body;

    task<> serve();
    /// Call the handler with the complete request in the parser, or (`streamed`) with the
    /// request whose head is in, its body read in pieces by the handler (through m_body),
    /// and send what it answers; false if the connection must close.
    task<bool> respond(bool streamed);
    /// The request under way as a handler reading its body in pieces gets it.
    request streamed_request();
    /// The complete request, or (`streamed`) the one whose head is in.
    request next_request(bool streamed);
    /// After the handler of a request read in pieces: if its whole body has arrived, end
    /// the exchange as for a whole request (the connection may persist).
    void finish_streamed_request();
    /// Serialize the head of `res`, whose body goes in pieces (chunked to HTTP/1.1 unless
    /// framed). \throws std::invalid_argument as `send`, and for a response with both a
    /// body and a streamed_body.
    void send_head(const request& req, response& res, bool close);
    /// Answer what went wrong with the handler of `req`: with the status of `failure`, a
    /// protocol_error, if `bad_body` (reading the body in pieces failed; the connection
    /// closes), or 500 after reporting `failure` (the connection stays open if `refused`:
    /// nothing of the response was sent). Returns whether the connection persists.
    bool answer_failure(const request& req, std::exception_ptr failure, bool refused,
                        bool bad_body);
    /// Send the body of `res` in pieces from its source, once its head went; false if the
    /// connection must close (the source failed: the connection is aborted).
    task<bool> send_pieces(const request& req, response& res);
    /// The next piece of the body of the request under way, for its handler.
    task<std::optional<std::string>> next_body_piece();
    /// Report `failure`, which the handler of `req` threw (or the response it gave, which
    /// could not be sent), through the loop's exception handler.
    void report(const request& req, std::exception_ptr failure, std::string_view what);
    /// Answer with `status` (a malformed or late request) and close.
    task<> fail(int status, std::string_view why);
    /// Send what is left, half-close, linger, and leave the stream to be closed.
    task<> finish();
    task<> discard_input();

    /// Give the state machine what the stream holds (up to max_read_step, or up to the end
    /// of a request), and drop from the stream what it took; m_unparsed is what is left.
    void receive_buffered();
    /// Count the body of the request being read (its Content-Length once the head is in,
    /// or what a chunked body holds so far) in the server's usage. 0 if it fits under
    /// max_buffered_body_bytes, else the status to answer: 413 when the body alone is over
    /// it, 503 when the server holds too much already.
    int reserve_body();
    /// Give the body bytes this connection holds back to the server's usage.
    void release_body() noexcept;
    /// Hand the serialized responses to the stream.
    void flush();
    /// True when the stream holds more than its high water mark of unsent responses.
    [[nodiscard]] bool writes_backed_up() const {
        return m_stream.write_buffer_size() > stream::default_high_water;
    }
    /// Wait until the client has taken enough of them: keep_alive_timeout at most, then the
    /// connection is dropped.
    task<> drain_writes();
    /// The deadline for the wait about to start, and what it waits for.
    void set_deadline(waiting what, clock::time_point deadline);
    void clear_deadline() noexcept { m_waiting = waiting::nothing; }
    static void on_timer(void* self);
    void arm(clock::time_point when);
    /// The server shuts down while this connection waits for a request: close it.
    static void close_idle(detail::idle_connection* self) noexcept;
    /// Serialize `res` into m_out with the Server and Date fields the server adds (those
    /// the handler did not set), through the state machine (which adds Connection).
    /// Returns whether the connection stays open. `close`: it does not, whatever the
    /// request said. \throws std::invalid_argument, with nothing appended, for a response
    /// the serializer refuses.
    bool send(response& res, bool close);

    stream& m_stream;
    const handler& m_handler;
    const server_options& m_options;
    server_usage& m_usage;
    event_loop& m_loop;
    h1::connection m_conn;
    /// "Server: <name>\r\n", or empty.
    std::string m_server_line;

    /// Bytes the stream held that the last receive_buffered did not give the state machine.
    std::size_t m_unparsed = 0;
    std::string m_out;

    // Per request.
    std::size_t m_body_held = 0; // body bytes of it counted in m_usage
    std::optional<clock::time_point> m_head_deadline;
    std::optional<clock::time_point> m_body_deadline;
    std::uint64_t m_requests = 0;
    /// The source of the body of the request under way, when its handler reads it in pieces.
    request_body* m_body = nullptr;

    // The deadline and its timer.
    cancel_scope* m_scope = nullptr;
    clock::time_point m_start{};
    clock::time_point m_deadline{};
    waiting m_waiting = waiting::nothing;
    waiting m_timed_out = waiting::nothing;
    timer_handle m_timer;
    clock::time_point m_timer_at{};
    bool m_timer_armed = false;
};

task<> connection::run() {
    m_start = m_loop.time();
    bool completed = true;
    bool broken = false;
    try {
        cancel_scope scope;
        m_scope = &scope;
        struct forget {
            connection* c;
            ~forget() {
                c->m_scope = nullptr;
                c->clear_deadline();
            }
        } guard{this};
        task<> body = serve();
        completed = co_await scope.run(std::move(body));
    } catch (const std::system_error&) {
        broken = true; // the client reset the connection or vanished: nothing to answer
    }
    if (broken) {
        m_stream.abort();
        co_return;
    }
    if (completed) {
        co_return;
    }
    // A deadline passed.
    switch (m_timed_out) {
    case waiting::first_request:
    case waiting::head:
        try {
            co_await fail(408, "http: the request's header section did not arrive in time");
        } catch (const std::system_error&) {
            broken = true;
        }
        break;
    case waiting::body:
        try {
            co_await fail(408, "http: the request's body did not arrive in time");
        } catch (const std::system_error&) {
            broken = true;
        }
        break;
    case waiting::idle:
        m_stream.close();
        break;
    case waiting::writing:
    case waiting::nothing:
        m_stream.abort();
        break;
    }
    if (broken) {
        m_stream.abort();
    }
}

task<> connection::serve() {
    while (true) {
        receive_buffered();
        const h1::event ev = m_conn.next_event();
        if (ev == h1::event::error) {
            co_await fail(m_conn.error_status(), m_conn.error_message());
            co_return;
        }
        if (ev == h1::event::closed) {
            // End of stream. A request cut short gets no answer: nobody would read it.
            co_return;
        }
        if (ev != h1::event::need_data) {
            // The head is in: body, send_continue or message.
            if (const int status = m_options.stream_request_bodies ? 0 : reserve_body();
                status != 0) {
                const std::string cap = std::to_string(m_options.max_buffered_body_bytes);
                const std::string why =
                    status == 413
                        ? "http: body longer than the server's max_buffered_body_bytes (" + cap +
                              ")"
                        : "http: the server holds as many request bodies as it may (" + cap +
                              " bytes, max_buffered_body_bytes); try again later";
                co_await fail(status, why);
                co_return;
            }
            if (m_conn.their_request().method == "CONNECT") {
                // A 2xx would make the rest of the connection a tunnel (RFC 9110 §9.3.6),
                // which a handler has no way to take over: what follows the request is not
                // HTTP, so the connection closes after the answer.
                co_await fail(501, "http: CONNECT is not supported (a handler cannot take over "
                                   "the connection for a tunnel)");
                co_return;
            }
        }

        // With bodies in pieces, the handler is called as soon as the head is in.
        const bool streamed = ev != h1::event::need_data && m_options.stream_request_bodies;
        if (streamed || ev == h1::event::message) {
            const bool persists = co_await respond(streamed);
            if (!persists) {
                co_await finish();
                co_return;
            }
            if (m_out.size() >= flush_threshold) {
                flush();
                if (writes_backed_up()) {
                    co_await drain_writes();
                }
            }
            continue;
        }

        // More input is needed: send what was answered so far, first.
        flush();
        if (writes_backed_up()) {
            co_await drain_writes();
            // A stream that receives in the background (io_uring) may have taken more in.
            m_unparsed = m_stream.buffered().size();
        }

        if (ev == h1::event::send_continue) {
            m_conn.send_continue(m_out);
            flush();
        }
        if (m_unparsed != 0) {
            continue; // more than one step arrived: the rest is parsed before reading again
        }

        const clock::time_point now = m_loop.time();
        if (ev == h1::event::body || ev == h1::event::send_continue) {
            if (!m_body_deadline && limited(m_options.body_timeout)) {
                m_body_deadline = after(now, m_options.body_timeout);
            }
            if (m_body_deadline) {
                set_deadline(waiting::body, *m_body_deadline);
            }
        } else if (m_conn.their_state() == h1::state::head) {
            if (!m_head_deadline && limited(m_options.header_timeout)) {
                m_head_deadline = after(now, m_options.header_timeout);
            }
            if (m_head_deadline) {
                set_deadline(waiting::head, *m_head_deadline);
            }
        } else if (m_requests == 0) {
            // A new connection's request may be on its way even when the server shuts
            // down: it is answered (with Connection: close), as Go's Shutdown does.
            if (limited(m_options.header_timeout)) {
                set_deadline(waiting::first_request, after(m_start, m_options.header_timeout));
            }
        } else {
            // An idle keep-alive connection: a server shutting down closes it here.
            if (m_usage.shutting_down()) {
                m_stream.close();
                co_return;
            }
            usage_access::link_idle(m_usage, *this);
            close_now = &connection::close_idle;
            if (limited(m_options.keep_alive_timeout)) {
                set_deadline(waiting::idle, after(now, m_options.keep_alive_timeout));
            }
        }

        struct leave_idle {
            connection* c;
            ~leave_idle() { usage_access::unlink_idle(c->m_usage, *c); }
        } idle_guard{this};
        const std::size_t n = co_await m_stream.fill(max_read_step);
        clear_deadline();
        if (n == 0) {
            m_conn.receive_eof();
        }
    }
}

void connection::close_idle(detail::idle_connection* self) noexcept {
    auto* c = static_cast<connection*>(self);
    if (c->m_scope != nullptr) {
        c->m_timed_out = waiting::idle; // run() closes the stream, as after keep_alive_timeout
        c->m_scope->cancel();
    }
}

task<> connection::drain_writes() {
    if (limited(m_options.keep_alive_timeout)) {
        set_deadline(waiting::writing, after(m_loop.time(), m_options.keep_alive_timeout));
    }
    co_await m_stream.drain();
    clear_deadline();
}

void connection::receive_buffered() {
    const std::string_view in = m_stream.buffered();
    if (in.empty()) {
        m_unparsed = 0;
        return;
    }
    const std::size_t used = m_conn.receive(in.substr(0, max_read_step));
    m_stream.consume(used);
    m_unparsed = in.size() - used;
}

int connection::reserve_body() {
    const std::size_t cap = m_options.max_buffered_body_bytes;
    if (cap == 0) {
        return 0;
    }
    const request& req = m_conn.their_request();
    std::uint64_t want = req.body.size();
    if (const std::optional<std::string_view> value = req.headers.get("Content-Length")) {
        std::uint64_t length = 0;
        detail::parse_length(*value, length); // the parser has checked it
        want = std::max(want, length);
    }
    if (want <= m_body_held) {
        return 0;
    }
    if (want > cap) {
        return 413;
    }
    std::size_t& held = usage_access::body_bytes(m_usage);
    const std::size_t more = static_cast<std::size_t>(want) - m_body_held;
    if (more > cap - std::min(held, cap)) {
        return 503;
    }
    held += more;
    m_body_held += more;
    return 0;
}

void connection::release_body() noexcept {
    usage_access::body_bytes(m_usage) -= m_body_held;
    m_body_held = 0;
}

void connection::flush() {
    if (m_out.empty()) {
        return;
    }
    m_stream.write(m_out);
    if (m_out.capacity() > max_kept_output) {
        std::string().swap(m_out);
    } else {
        m_out.clear();
    }
}

bool connection::send(response& res, bool close) {
    const h1::added_field added[] = {
        {"Server", m_server_line},
        {"Date", m_options.date ? http_date_line() : std::string_view()},
    };
    return m_conn.send_response(res, m_out, added, close);
}

/// The body of the request under way, read in pieces by its handler: what the parser has
/// taken out of the connection, and then more, read as it is asked for.
class connection::request_body final : public body_source {
public:
    explicit request_body(connection& c) noexcept : m_connection(&c) {}
    request_body(const request_body&) = delete;
    request_body& operator=(const request_body&) = delete;
    ~request_body() override {
        if (m_connection != nullptr) {
            m_connection->m_body = nullptr;
        }
    }

    task<std::optional<std::string>> next() override {
        if (m_connection == nullptr) {
            throw invalid_state_error("http: the body of a request read after its handler ended");
        }
        co_return co_await m_connection->next_body_piece();
    }

    /// The handler is over: the body can no longer be read.
    void detach() noexcept { m_connection = nullptr; }
    /// The request was taken whole from the state machine (its end has been read).
    bool taken = false;

private:
    connection* m_connection;
};

task<std::optional<std::string>> connection::next_body_piece() {
    request_body& source = *m_body;
    while (!source.taken) {
        // What the parser holds goes first: at most one step (64 KiB) is parsed at a time.
        if (std::string& held = m_conn.their_request().body; !held.empty()) {
            std::string piece;
            piece.swap(held);
            co_return piece;
        }
        receive_buffered();
        const h1::event ev = m_conn.next_event();
        if (std::string& held = m_conn.their_request().body; !held.empty()) {
            continue;
        }
        switch (ev) {
        case h1::event::message:
            m_conn.take_request();
            source.taken = true;
            continue;
        case h1::event::error:
            throw protocol_error(m_conn.error_status(), m_conn.error_message());
        case h1::event::closed:
            throw protocol_error(400, "http: the connection closed before the request's body "
                                      "ended");
        case h1::event::send_continue:
            m_conn.send_continue(m_out);
            break;
        default:
            break;
        }
        flush();
        if (writes_backed_up()) {
            co_await drain_writes();
        }
        if (!m_stream.buffered().empty()) {
            continue;
        }
        // Each wait for more of the body has body_timeout.
        if (limited(m_options.body_timeout)) {
            set_deadline(waiting::body, after(m_loop.time(), m_options.body_timeout));
        }
        const std::size_t n = co_await m_stream.fill(max_read_step);
        clear_deadline();
        if (n == 0) {
            m_conn.receive_eof();
        }
    }
    co_return std::nullopt;
}

/// The head of the request under way, its body left to arrive in the parser's request,
/// from which `source` takes it.
request connection::streamed_request() {
    const request& head = m_conn.their_request();
    request req;
    req.method = head.method;
    req.target = head.target;
    req.version_minor = head.version_minor;
    req.headers = head.headers;
    m_conn.stream_their_body();
    auto source = std::make_unique<request_body>(*this);
    m_body = source.get();
    req.streamed_body = std::make_shared<body_stream>(std::move(source), m_options.limits.max_body);
    return req;
}

request connection::next_request(bool streamed) {
    // Returned as prvalues, so the request is built where respond() keeps it.
    if (streamed) {
        return streamed_request();
    }
    return m_conn.take_request();
}

task<bool> connection::respond(bool streamed) {
    request req = next_request(streamed);
    // A whole body stays counted until the handler is done with it. A body read in pieces
    // may be kept by the program past the handler: its source is detached then, and
    // reading it throws (it clears m_body itself if it goes first).
    struct end_of_request {
        connection& c;
        ~end_of_request() {
            c.release_body();
            if (c.m_body != nullptr) {
                c.m_body->detach();
                c.m_body = nullptr;
            }
        }
    } ending{*this};
    m_head_deadline.reset();
    m_body_deadline.reset();
    ++m_requests;

    const std::size_t out_mark = m_out.size();
    std::exception_ptr failure;
    bool refused = false;  // the handler returned a response the serializer refuses
    bool bad_body = false; // reading the streamed body failed: `failure` is its protocol_error
    try {
        task<response> handling = m_handler(req);
        response res = co_await std::move(handling);
        if (streamed) {
            finish_streamed_request();
        }
        try {
            if (m_options.compress) {
                detail::compress_response(req, res, m_options.compress_min_size);
            }
            // A server shutting down closes the connection after this answer.
            const bool close = m_usage.shutting_down();
            if (!res.streamed_body) {
                co_return send(res, close);
            }
            send_head(req, res, close);
        } catch (const std::invalid_argument&) {
            refused = true;
            failure = std::current_exception();
        }
        if (!refused) {
            co_return co_await send_pieces(req, res);
        }
    } catch (const cancelled_error&) {
        throw;
    } catch (const protocol_error&) {
        bad_body = streamed;
        failure = std::current_exception();
    } catch (...) {
        failure = std::current_exception();
    }

    m_out.resize(out_mark); // nothing half-written stays before the error's answer
    co_return answer_failure(req, std::move(failure), refused, bad_body);
}

void connection::finish_streamed_request() {
    if (m_body != nullptr && !m_body->taken && m_conn.next_event() == h1::event::message) {
        // The whole body arrived (unread, or its end not asked for): the exchange can end
        // as usual, and the connection persist.
        m_conn.take_request();
        m_body->taken = true;
    }
}

void connection::send_head(const request& req, response& res, bool close) {
    if (!res.body.empty()) {
        throw std::invalid_argument("http: a response with both a body and a streamed_body");
    }
    if (!res.headers.contains("Content-Length") && !res.headers.contains("Transfer-Encoding") &&
        req.version_minor == 1) {
        res.headers.set("Transfer-Encoding", "chunked");
    }
    const h1::added_field added[] = {
        {"Server", m_server_line},
        {"Date", m_options.date ? http_date_line() : std::string_view()},
    };
    m_conn.send_head(res, m_out, added, close);
}

bool connection::answer_failure(const request& req, std::exception_ptr failure, bool refused,
                                bool bad_body) {
    if (bad_body) {
        // The client's body was malformed, cut short or too long: its fault, answered with
        // the status the error carries, and the connection closed (as an unread body
        // leaves it).
        try {
            std::rethrow_exception(failure);
        } catch (const protocol_error& e) {
            response res(e.status(),
                         std::string(reason_phrase(e.status())) + ": " + e.what() + "\n");
            res.headers.set("Content-Type", "text/plain; charset=utf-8");
            send(res, true);
        }
        return false;
    }
    report(req, std::move(failure),
           refused ? " returned a response that cannot be sent as it is (answered 500; "
                     "nothing of it was sent, so the connection stays usable)"
                   : " threw an exception (answered 500, connection closed)");
    response res(500, "Internal Server Error\n");
    res.headers.set("Content-Type", "text/plain; charset=utf-8");
    return send(res, !refused);
}

task<bool> connection::send_pieces(const request& req, response& res) {
    if (!m_conn.body_wanted()) {
        m_conn.send_end(m_out); // the head of a response to HEAD, a 204 or a 304
        co_return m_conn.keep_alive();
    }
    body_stream& pieces = *res.streamed_body;
    try {
        while (true) {
            std::optional<std::string> piece = co_await pieces.next();
            if (!piece) {
                break;
            }
            m_conn.send_data(*piece, m_out);
            flush(); // each piece goes as it comes (server-sent events must not wait)
            if (writes_backed_up()) {
                co_await drain_writes();
            }
        }
        m_conn.send_end(m_out);
    } catch (const cancelled_error&) {
        throw;
    } catch (...) {
        // The head went: all that can be said now is that the body is cut short.
        report(req, std::current_exception(),
               "'s body failed while it was being sent (the connection is aborted, so the "
               "client sees the body cut short)");
        m_out.clear();
        m_stream.abort();
        co_return false;
    }
    co_return m_conn.keep_alive();
}

void connection::report(const request& req, std::exception_ptr failure, std::string_view what) {
    std::string message = "http::serve: the handler of " + req.method + " " + req.target;
    try {
        const socket_address peer = m_stream.peer_address();
        if (!peer.empty()) {
            message += " from " + peer.to_string();
        }
    } catch (const std::exception&) {
        // the connection is gone: the message names no peer
    }
    message += what;
    exception_context context;
    context.message = std::move(message);
    context.exception = std::move(failure);
    if (const std::optional<task_info> t = current_task()) {
        context.task_name = t->name;
    }
    m_loop.call_exception_handler(context);
}

task<> connection::fail(int status, std::string_view why) {
    // What the request holds goes now, not after the linger (the state machine drops the
    // parser's part as it sends the answer).
    release_body();
    if (m_conn.our_state() != h1::state::idle) {
        // A response (in pieces) was under way: it can only be cut short.
        m_stream.abort();
        co_return;
    }
    response res(status, std::string(reason_phrase(status)) + ": " + std::string(why) + "\n");
    res.headers.set("Content-Type", "text/plain; charset=utf-8");
    send(res, true);
    co_await finish();
}

task<> connection::refuse() {
    const std::string why = "http: the server serves as many connections as it may (" +
                            std::to_string(m_options.max_connections) +
                            ", max_connections); try again later";
    co_await fail(503, why);
}

task<> connection::finish() {
    flush();
    if (m_stream.is_closing()) {
        co_return;
    }
    if (m_stream.can_write_eof()) {
        m_stream.write_eof();
    }
    task<> discarding = discard_input();
    co_await move_on_after(linger_time, std::move(discarding));
    m_stream.close();
}

task<> connection::discard_input() {
    while (true) {
        m_stream.consume(m_stream.buffered().size());
        // The count is named: with the co_await inside the if condition, g++ 12 (-O0)
        // resumed this coroutine at a resume index that does not exist.
        const std::size_t n = co_await m_stream.fill(max_read_step);
        if (n == 0) {
            co_return;
        }
    }
}

void connection::set_deadline(waiting what, clock::time_point deadline) {
    if (deadline == clock::time_point::max()) {
        return; // no limit
    }
    m_waiting = what;
    m_deadline = deadline;
    if (!m_timer_armed || deadline < m_timer_at) {
        arm(deadline);
    }
}

void connection::arm(clock::time_point when) {
    if (m_timer_armed) {
        m_loop.cancel_timer(m_timer);
    }
    m_timer = m_loop.add_timer(when, &on_timer, this);
    m_timer_at = when;
    m_timer_armed = true;
}

void connection::on_timer(void* self) {
    auto& c = *static_cast<connection*>(self);
    c.m_timer_armed = false;
    if (c.m_waiting == waiting::nothing || c.m_scope == nullptr) {
        return; // re-armed by the next wait that has a deadline
    }
    if (c.m_loop.time() < c.m_deadline) {
        c.arm(c.m_deadline);
        return;
    }
    c.m_timed_out = c.m_waiting;
    c.m_waiting = waiting::nothing;
    c.m_scope->cancel();
}

/// What `serve` shares between its connections: its own copy of the options, whose
/// `server_name` refers to `server_name` here.
struct serve_context {
    handler h;
    server_options options;
    std::string server_name;
    /// The server's TLS context (from options.tls or options.tcp.tls), else empty.
    tls_context tls;
    server_usage usage;
};

task<> serve_shared(stream s, std::shared_ptr<serve_context> context) {
    co_await serve_connection(std::move(s), context->h, context->options, context->usage);
}

} // namespace

void server_usage::shutdown() noexcept {
    m_shutting_down = true;
    while (m_idle != nullptr) {
        detail::idle_connection* c = m_idle;
        usage_access::unlink_idle(*this, *c);
        c->close_now(c);
    }
}

task<> serve_connection(stream s, const handler& h, const server_options& options,
                        server_usage& usage) {
    if (!h) {
        throw std::invalid_argument("http::serve_connection: empty handler");
    }
    connection c(s, h, options, usage);
    std::size_t& connections = usage_access::connections(usage);
    if (options.max_connections != 0 && connections >= options.max_connections) {
        try {
            co_await c.refuse();
        } catch (const std::system_error&) {
            s.abort(); // the client went away first
        }
        co_return;
    }
    ++connections;
    struct count_end {
        std::size_t& connections;
        ~count_end() { --connections; }
    } counted{connections};
    co_await c.run();
}

task<> serve_connection(stream s, const handler& h, const server_options& options) {
    server_usage usage;
    co_await serve_connection(std::move(s), h, options, usage);
}

namespace {

task<corio::server> start_serving(std::shared_ptr<serve_context> context, std::string host,
                                  std::uint16_t port) {
    if (!context->h) {
        throw std::invalid_argument("http::serve: empty handler");
    }
    server_line(context->server_name); // refuse a name that would break the line now
    corio::connection_handler on_connection = [context](stream s) {
        return serve_shared(std::move(s), context);
    };
    corio::server_options tcp = context->options.tcp;
    tcp.tls = {};
    if (context->tls) {
        tcp.tls = context->tls; // start_server copies it
    }
    task<corio::server> starting =
        start_server(std::move(on_connection), std::move(host), port, tcp);
    corio::server srv = co_await std::move(starting);
    // The server's shutdown() ends the connections gracefully (server_usage::shutdown).
    corio::detail::on_server_shutdown(srv, [weak = std::weak_ptr<serve_context>(context)] {
        if (const std::shared_ptr<serve_context> c = weak.lock()) {
            c->usage.shutdown();
        }
    });
    co_return srv;
}

} // namespace

task<corio::server> serve(handler h, std::string host, std::uint16_t port, server_options options) {
    // Copied here, before the lazy task exists: the text `options.server_name` refers to
    // need only live until this call returns.
    auto context = std::make_shared<serve_context>();
    context->h = std::move(h);
    context->server_name = std::string(options.server_name.view());
    context->options = options;
    context->options.server_name = context->server_name;
    if (const tls_context* ctx = options.tls.get()) {
        context->tls = *ctx;
    } else if (const tls_context* tcp_ctx = options.tcp.tls.get()) {
        context->tls = *tcp_ctx;
    }
    context->options.tls = {};
    context->options.tcp.tls = {};
    return start_serving(std::move(context), std::move(host), port);
}

task<corio::server> serve(handler h, std::string host, std::uint16_t port) {
    return serve(std::move(h), std::move(host), port, server_options{});
}

} // namespace corio::http
