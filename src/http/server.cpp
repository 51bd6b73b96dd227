// http::serve: one task per connection, reading requests through a request_parser and
// writing responses in order.
//
// The read side: a connection owns one buffer (4 KiB, doubling up to 64 KiB while reads fill
// it) that stream::read_into fills at its free tail; the parser is fed from it and copies
// what it keeps, so between requests the buffer is empty unless the client pipelined. The
// write side: responses are serialized into one string per connection, and that string is
// handed to stream::write only when the connection is about to wait for more input (or when
// it holds 64 KiB), so a batch of pipelined requests costs one send. drain() is awaited only
// when the stream's write buffer is above its high water mark, before reading more. The
// fields the server adds (Server, Date, Connection) are not added to the handler's response
// object, which would allocate: their lines (the Date line formatted once a second) are
// spliced into the serialized response after its status line.
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

#include "common.hpp"

#include "corio/cancel_scope.hpp"
#include "corio/errors.hpp"
#include "corio/join_handle.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <span>
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
};

} // namespace detail

namespace {

using usage_access = detail::server_usage_access;

constexpr std::size_t initial_read_buffer = 4 * 1024;
constexpr std::size_t max_read_buffer = 64 * 1024;
/// Serialized responses are handed to the stream once they reach this size, even when more
/// pipelined requests are waiting.
constexpr std::size_t flush_threshold = 64 * 1024;
/// A response string that grew past this is released after it is sent, not kept.
constexpr std::size_t max_kept_output = 1024 * 1024;
/// After the last response of a connection the server half-closes and reads what the
/// client still sends for up to this long before closing, so that unread input does not
/// make the kernel reset the connection and destroy the response in flight.
constexpr std::chrono::seconds linger_time{1};

constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

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

using detail::ascii_iequals;

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
class connection {
public:
    connection(stream& s, const handler& h, const server_options& options, server_usage& usage)
        : m_stream(s), m_handler(h), m_options(options), m_usage(usage), m_loop(get_running_loop()),
          m_parser(options.limits), m_server_line(server_line(options.server_name.view())) {}
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
    task<> serve();
    /// Answer the complete request in the parser; false if the connection must close.
    task<bool> respond();
    /// Answer with `status` (a malformed or late request) and close.
    task<> fail(int status, std::string_view why);
    /// Send what is left, half-close, linger, and leave the stream to be closed.
    task<> finish();
    task<> discard_input();

    /// Feed the parser what is buffered, until it holds a complete request or the buffer
    /// is empty. \throws protocol_error.
    void parse_buffered();
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
    /// The free tail of the read buffer, grown if the last read filled it.
    std::span<char> read_room();
    /// The deadline for the wait about to start, and what it waits for.
    void set_deadline(waiting what, clock::time_point deadline);
    void clear_deadline() noexcept { m_waiting = waiting::nothing; }
    static void on_timer(void* self);
    void arm(clock::time_point when);
    /// Serialize `res` into m_out with the Server, Date and Connection fields the server
    /// adds (those the handler did not set). Returns whether the connection stays open:
    /// `keep_alive`, unless the response says `Connection: close`. \throws
    /// std::invalid_argument, with nothing appended, for a response whose framing fields
    /// disagree with its body (the serializer's rules).
    bool append_response(response& res, bool head_only, bool keep_alive, int request_minor);

    stream& m_stream;
    const handler& m_handler;
    const server_options& m_options;
    server_usage& m_usage;
    event_loop& m_loop;
    request_parser m_parser;
    /// "Server: <name>\r\n", or empty.
    std::string m_server_line;

    std::unique_ptr<char[]> m_buffer;
    std::size_t m_capacity = 0;
    std::size_t m_begin = 0;
    std::size_t m_end = 0;
    bool m_grow = false;

    std::string m_out;

    // Per request.
    std::size_t m_body_held = 0;  // body bytes of it counted in m_usage
    bool m_started = false;       // a byte of the current request was parsed
    bool m_continue_sent = false; // 100 Continue was sent for it
    std::optional<clock::time_point> m_head_deadline;
    std::optional<clock::time_point> m_body_deadline;
    std::uint64_t m_requests = 0;

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
        std::optional<int> error_status;
        std::string error_text;
        try {
            parse_buffered();
        } catch (const protocol_error& e) {
            error_status = e.status();
            error_text = e.what();
        }
        if (error_status) {
            co_await fail(*error_status, error_text);
            co_return;
        }
        if (m_parser.state() != parse_state::head) {
            if (const int status = reserve_body(); status != 0) {
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
        }
        if (m_parser.state() != parse_state::head && m_parser.message().method == "CONNECT") {
            // A 2xx would make the rest of the connection a tunnel (RFC 9110 §9.3.6), which
            // a handler has no way to take over: what follows the request is not HTTP, so
            // the connection closes after the answer.
            co_await fail(501, "http: CONNECT is not supported (a handler cannot take over the "
                               "connection for a tunnel)");
            co_return;
        }

        if (m_parser.state() == parse_state::complete) {
            if (!co_await respond()) {
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
        }

        const clock::time_point now = m_loop.time();
        if (m_parser.state() == parse_state::body) {
            if (m_parser.expects_continue() && !m_continue_sent) {
                m_continue_sent = true;
                m_stream.write(continue_response);
            }
            if (!m_body_deadline && limited(m_options.body_timeout)) {
                m_body_deadline = after(now, m_options.body_timeout);
            }
            if (m_body_deadline) {
                set_deadline(waiting::body, *m_body_deadline);
            }
        } else if (m_started) {
            if (!m_head_deadline && limited(m_options.header_timeout)) {
                m_head_deadline = after(now, m_options.header_timeout);
            }
            if (m_head_deadline) {
                set_deadline(waiting::head, *m_head_deadline);
            }
        } else if (m_requests == 0) {
            if (limited(m_options.header_timeout)) {
                set_deadline(waiting::first_request, after(m_start, m_options.header_timeout));
            }
        } else if (limited(m_options.keep_alive_timeout)) {
            set_deadline(waiting::idle, after(now, m_options.keep_alive_timeout));
        }

        const std::span<char> room = read_room();
        const std::size_t n = co_await m_stream.read_into(room);
        clear_deadline();
        if (n == 0) {
            // End of stream. A request cut short gets no answer: nobody would read it.
            co_return;
        }
        m_grow = n == room.size();
        m_end += n;
    }
}

task<> connection::drain_writes() {
    if (limited(m_options.keep_alive_timeout)) {
        set_deadline(waiting::writing, after(m_loop.time(), m_options.keep_alive_timeout));
    }
    co_await m_stream.drain();
    clear_deadline();
}

void connection::parse_buffered() {
    while (m_begin < m_end && m_parser.state() != parse_state::complete) {
        const std::size_t used =
            m_parser.feed(std::string_view(m_buffer.get() + m_begin, m_end - m_begin));
        if (used == 0) {
            break;
        }
        m_begin += used;
        m_started = true;
    }
    if (m_begin == m_end) {
        m_begin = m_end = 0;
    }
}

/// The Content-Length of `req`, which the parser has checked (digits, or a list of one
/// value repeated), if it has one.
std::optional<std::uint64_t> declared_length(const request& req) {
    const std::optional<std::string_view> value = req.headers.get("Content-Length");
    if (!value) {
        return std::nullopt;
    }
    std::uint64_t n = 0;
    for (const char c : *value) {
        if (c == ' ' || c == '\t') {
            continue;
        }
        if (c < '0' || c > '9') {
            break; // the comma of "5, 5"
        }
        constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
        n = n > (max - 9) / 10 ? max : n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

int connection::reserve_body() {
    const std::size_t cap = m_options.max_buffered_body_bytes;
    if (cap == 0) {
        return 0;
    }
    const request& req = m_parser.message();
    std::uint64_t want = req.body.size();
    if (const std::optional<std::uint64_t> length = declared_length(req)) {
        want = std::max(want, *length);
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

std::span<char> connection::read_room() {
    if (m_begin == m_end) {
        m_begin = m_end = 0;
    }
    std::size_t want = m_capacity == 0 ? initial_read_buffer : m_capacity;
    if (m_grow && m_capacity < max_read_buffer) {
        want = m_capacity * 2;
    }
    m_grow = false;
    if (want != m_capacity || m_capacity - m_end == 0) {
        const std::size_t have = m_end - m_begin;
        while (want < have + initial_read_buffer) {
            want *= 2;
        }
        auto bigger = std::make_unique_for_overwrite<char[]>(want);
        if (have > 0) {
            std::memcpy(bigger.get(), m_buffer.get() + m_begin, have);
        }
        m_buffer = std::move(bigger);
        m_capacity = want;
        m_begin = 0;
        m_end = have;
    }
    return {m_buffer.get() + m_end, m_capacity - m_end};
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

bool connection::append_response(response& res, bool head_only, bool keep_alive,
                                 int request_minor) {
    // One pass over the handler's fields for the three the server may add.
    bool has_server = m_server_line.empty();
    bool has_date = !m_options.date;
    bool has_connection = false;
    for (const auto& [name, value] : res.headers) {
        if (name.size() == 6 && ascii_iequals(name, "Server")) {
            has_server = true;
        } else if (name.size() == 4 && ascii_iequals(name, "Date")) {
            has_date = true;
        } else if (name.size() == 10 && ascii_iequals(name, "Connection")) {
            has_connection = true;
        }
    }
    if (has_connection && keep_alive && res.headers.has_token("Connection", "close")) {
        keep_alive = false; // the handler closes the connection
    }
    std::string_view connection_line;
    if (!keep_alive) {
        if (!has_connection || !res.headers.has_token("Connection", "close")) {
            res.headers.erase("Connection");
            connection_line = "Connection: close\r\n";
        }
    } else if (request_minor == 0 && !res.headers.has_token("Connection", "keep-alive")) {
        res.headers.erase("Connection");
        connection_line = "Connection: keep-alive\r\n";
    }
    const std::string_view server_line = has_server ? std::string_view() : m_server_line;
    const std::string_view date_line = has_date ? std::string_view() : http_date_line();
    // The server's fields go right after the status line (first, as most servers send
    // them), written by the serializer: the handler's response is not touched.
    detail::serialize_response(res, m_out, head_only, request_minor == 0,
                               {server_line, date_line, connection_line});
    return keep_alive;
}

task<bool> connection::respond() {
    request req = m_parser.take();
    // The body stays counted until the handler is done with it.
    struct release_at_end {
        connection* c;
        ~release_at_end() { c->release_body(); }
    } release{this};
    m_started = false;
    m_continue_sent = false;
    m_head_deadline.reset();
    m_body_deadline.reset();
    ++m_requests;

    const std::size_t out_mark = m_out.size();
    const bool head_only = req.method == "HEAD";
    std::exception_ptr failure;
    bool refused = false; // the handler returned a response the serializer refuses
    try {
        task<response> handling = m_handler(req);
        response res = co_await std::move(handling);
        try {
            if (res.status < 200) {
                // Another response must follow an interim one: the client would take the
                // next request's response for this request's.
                throw std::invalid_argument("http: the response's status " +
                                            std::to_string(res.status) +
                                            " is interim (1xx); a handler answers with a final "
                                            "status");
            }
            co_return append_response(res, head_only, req.keep_alive(), req.version_minor);
        } catch (const std::invalid_argument&) {
            refused = true;
            failure = std::current_exception();
        }
    } catch (const cancelled_error&) {
        throw;
    } catch (...) {
        failure = std::current_exception();
    }

    {
        std::string message = "http::serve: the handler of " + req.method + " " + req.target;
        try {
            const socket_address peer = m_stream.peer_address();
            if (!peer.empty()) {
                message += " from " + peer.to_string();
            }
        } catch (const std::exception&) {
            // the connection is gone: the message names no peer
        }
        if (refused) {
            message += " returned a response that cannot be sent as it is (answered 500; "
                       "nothing of it was sent, so the connection stays usable)";
        } else {
            message += " threw an exception (answered 500, connection closed)";
        }
        exception_context context;
        context.message = std::move(message);
        context.exception = failure;
        if (const std::optional<task_info> t = current_task()) {
            context.task_name = t->name;
        }
        m_loop.call_exception_handler(context);
    }
    m_out.resize(out_mark); // nothing half-written stays before the 500
    response res(500, "Internal Server Error\n");
    res.headers.set("Content-Type", "text/plain; charset=utf-8");
    co_return append_response(res, head_only, refused && req.keep_alive(), req.version_minor);
}

task<> connection::fail(int status, std::string_view why) {
    // What the request holds goes now, not after the linger.
    m_parser.reset();
    release_body();
    response res(status, std::string(reason_phrase(status)) + ": " + std::string(why) + "\n");
    res.headers.set("Content-Type", "text/plain; charset=utf-8");
    append_response(res, false, false, 1);
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
        m_begin = m_end = 0;
        const std::span<char> room = read_room();
        if (co_await m_stream.read_into(room) == 0) {
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
    server_usage usage;
};

task<> serve_shared(stream s, std::shared_ptr<serve_context> context) {
    co_await serve_connection(std::move(s), context->h, context->options, context->usage);
}

} // namespace

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
    const corio::server_options tcp = context->options.tcp;
    task<corio::server> starting =
        start_server(std::move(on_connection), std::move(host), port, tcp);
    co_return co_await std::move(starting);
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
    return start_serving(std::move(context), std::move(host), port);
}

task<corio::server> serve(handler h, std::string host, std::uint16_t port) {
    return serve(std::move(h), std::move(host), port, server_options{});
}

} // namespace corio::http
