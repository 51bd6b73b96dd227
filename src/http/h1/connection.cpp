// The HTTP/1.1 connection state machine: see connection.hpp for what it owns and the rules
// it follows.

#include "connection.hpp"

#include "../common.hpp"
#include "../syntax.hpp"

#include "corio/errors.hpp"

#include <charconv>
#include <new>
#include <stdexcept>
#include <utility>

namespace corio::http::h1 {

namespace {

constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

using detail::ascii_iequals;

} // namespace

connection::connection(role r, const http::limits& limits) : m_role(r) {
    if (r == role::server) {
        ::new (&m_requests) request_parser(limits);
    } else {
        ::new (&m_responses) response_parser(limits);
    }
}

connection::~connection() {
    if (m_role == role::server) {
        m_requests.~request_parser();
    } else {
        m_responses.~response_parser();
    }
}

void connection::fail(const protocol_error& e) {
    m_their = state::error;
    m_keep_alive = false;
    m_error_status = e.status();
    m_error = e.what();
}

// --- What the peer sends ----------------------------------------------------------------

std::size_t connection::receive(std::string_view data) {
    if (m_their != state::idle && m_their != state::head && m_their != state::body) {
        if (m_role == role::client && m_their != state::error) {
            m_keep_alive = false; // bytes after the response: nobody asked for them
            return data.size();
        }
        return 0; // (server) a pipelined request waits until this one is answered
    }
    if (m_role == role::client && m_our == state::idle) {
        m_keep_alive = false; // no request is under way: the server sent it unasked
        return data.size();
    }
    std::size_t used = 0;
    try {
        if (m_role == role::server) {
            while (used < data.size() && m_requests.state() != parse_state::complete) {
                const std::size_t step = m_requests.feed(data.substr(used));
                if (step == 0) {
                    break;
                }
                used += step;
            }
            if (used != 0) {
                m_received = true;
                m_their = m_requests.state() == parse_state::head ? state::head : state::body;
            }
        } else {
            while (used < data.size() && m_responses.state() != parse_state::complete) {
                const std::size_t step = m_responses.feed(data.substr(used));
                if (step == 0) {
                    break;
                }
                used += step;
            }
            if (used != 0) {
                m_received = true;
                m_their = m_responses.state() == parse_state::head ? state::head : state::body;
            }
            if (used < data.size() && m_responses.state() == parse_state::complete) {
                m_keep_alive = false; // bytes after the response: nobody asked for them
                used = data.size();
            }
        }
    } catch (const protocol_error& e) {
        fail(e);
    }
    return used;
}

void connection::receive_eof() {
    m_keep_alive = false;
    if (m_their == state::error || m_their == state::closed) {
        return;
    }
    if (m_role == role::server) {
        // A request cut short gets no answer: nobody would read it. A whole request is
        // still answered (the peer may have shut down only its writing side).
        if (m_their != state::done && m_their != state::must_close &&
            m_requests.state() != parse_state::complete) {
            m_requests.reset();
            m_their = state::closed;
        }
        return;
    }
    if (m_their == state::done || m_their == state::must_close) {
        return;
    }
    if (!m_received) {
        m_their = state::closed;
        return;
    }
    try {
        m_responses.feed_eof(); // completes a body delimited by the close, or throws
    } catch (const protocol_error& e) {
        fail(e);
    }
}

event connection::next_event() {
    switch (m_their) {
    case state::error:
        return event::error;
    case state::closed:
        return event::closed;
    case state::done:
    case state::must_close:
        return event::paused;
    default:
        break;
    }
    const parse_state ps = m_role == role::server ? m_requests.state() : m_responses.state();
    switch (ps) {
    case parse_state::head:
        return event::need_data;
    case parse_state::body:
        if (m_role == role::server && m_requests.expects_continue() && !m_continue_sent &&
            m_our == state::idle) {
            return event::send_continue;
        }
        return event::body;
    case parse_state::complete:
        break;
    }
    return event::message;
}

request connection::take_request() {
    if (m_role != role::server) {
        throw invalid_state_error("http: take_request() on a client connection");
    }
    request r = m_requests.take();
    m_head_request = r.method == "HEAD";
    m_request_1_0 = r.version_minor == 0;
    if (!r.keep_alive()) {
        m_keep_alive = false;
    }
    m_received = false;
    m_their = m_keep_alive ? state::done : state::must_close;
    return r;
}

response connection::take_response() {
    if (m_role != role::client) {
        throw invalid_state_error("http: take_response() on a server connection");
    }
    const bool until_close = m_responses.body_until_close();
    response r = m_responses.take();
    if (until_close || r.status == 101 || !r.keep_alive()) {
        // A body delimited by the close ends the connection; so does 101, whose protocol
        // the client does not speak.
        m_keep_alive = false;
    }
    m_received = false;
    m_their = m_keep_alive ? state::done : state::must_close;
    finish_exchange();
    return r;
}

void connection::finish_exchange() noexcept {
    const bool ours = m_our == state::done || m_our == state::must_close;
    const bool theirs = m_their == state::done || m_their == state::must_close;
    if (!ours || !theirs) {
        return;
    }
    if (m_keep_alive) {
        m_our = m_their = state::idle;
        m_continue_sent = false;
        m_head_request = false;
        m_request_1_0 = false;
        m_body_streamed = false;
    } else {
        m_our = m_their = state::must_close;
    }
}

// --- What we send -----------------------------------------------------------------------

void connection::send_request(const request& r, std::string& out) {
    if (m_role != role::client || m_our != state::idle) {
        throw invalid_state_error("http: send_request() while a request is under way");
    }
    serialize(r, out);
    m_responses.expect(r.method);
    if (!r.keep_alive()) {
        m_keep_alive = false;
    }
    m_our = m_keep_alive ? state::done : state::must_close;
}

namespace {

/// How the fields `h` of a message frame a body sent in pieces: chunked, a length, or
/// neither. The serializer has checked them already.
struct piece_framing {
    bool chunked = false;
    bool length = false;
    std::uint64_t length_value = 0;
};

piece_framing framing_of(const headers& h) {
    piece_framing f;
    for (const auto& [name, value] : h) {
        if (name.size() == 17 && ascii_iequals(name, "Transfer-Encoding")) {
            f.chunked = true; // the serializer made sure it ends in chunked
        } else if (name.size() == 14 && ascii_iequals(name, "Content-Length")) {
            f.length = true;
            detail::parse_length(value, f.length_value);
        }
    }
    return f;
}

} // namespace

void connection::send_head(const request& r, std::string& out) {
    if (m_role != role::client || m_our != state::idle) {
        throw invalid_state_error("http: send_head() while a request is under way");
    }
    if (!r.body.empty()) {
        throw std::invalid_argument("http: send_head() of a request with a body; send_data() it");
    }
    detail::serialize_request_head(r, out);
    const piece_framing f = framing_of(r.headers);
    m_send_mode = f.chunked ? send_mode::chunked : send_mode::length;
    m_send_left = f.length_value; // no framing field: no body
    m_responses.expect(r.method);
    if (!r.keep_alive()) {
        m_keep_alive = false;
    }
    m_our = state::body;
}

bool connection::send_head(response& r, std::string& out, std::span<const added_field> added,
                           bool close) {
    if (!r.body.empty()) {
        throw std::invalid_argument("http: send_head() of a response with a body; send_data() it");
    }
    return write_response(r, out, added, close, true);
}

void connection::send_data(std::string_view data, std::string& out) {
    if (m_our != state::body) {
        throw invalid_state_error("http: send_data() outside a body");
    }
    if (data.empty()) {
        return;
    }
    switch (m_send_mode) {
    case send_mode::chunked: {
        char buf[24];
        const auto end = std::to_chars(buf, buf + sizeof buf, data.size(), 16).ptr;
        out.append(buf, end);
        out += "\r\n";
        out += data;
        out += "\r\n";
        return;
    }
    case send_mode::until_close:
        out += data;
        return;
    case send_mode::none:
        throw std::invalid_argument("http: body data for a response that has no body (to "
                                    "HEAD, or 204 or 304)");
    case send_mode::length:
        break;
    }
    if (data.size() > m_send_left) {
        throw std::invalid_argument("http: body data past the Content-Length (" +
                                    std::to_string(data.size() - m_send_left) + " bytes more)");
    }
    m_send_left -= data.size();
    out += data;
}

void connection::send_end(std::string& out) {
    if (m_our != state::body) {
        throw invalid_state_error("http: send_end() outside a body");
    }
    if (m_send_mode == send_mode::chunked) {
        out += "0\r\n\r\n";
    } else if (m_send_mode == send_mode::length && m_send_left != 0) {
        throw std::invalid_argument("http: the body ended " + std::to_string(m_send_left) +
                                    " bytes short of its Content-Length");
    }
    m_our = m_keep_alive ? state::done : state::must_close;
    finish_exchange();
}

bool connection::send_response(response& r, std::string& out, std::span<const added_field> added,
                               bool close) {
    return write_response(r, out, added, close, false);
}

bool connection::write_response(response& r, std::string& out, std::span<const added_field> added,
                                bool close, bool body_follows) {
    if (m_role != role::server) {
        throw invalid_state_error("http: a response on a client connection");
    }
    if (m_our != state::idle) {
        throw invalid_state_error("http: a second response to one request");
    }
    if (r.status < 200) {
        // Another response must follow an interim one: the client would take the next
        // request's response for this request's.
        throw std::invalid_argument("http: the response's status " + std::to_string(r.status) +
                                    " is interim (1xx); a handler answers with a final status");
    }
    // An answer before the request was taken whole is to a request that failed: the
    // connection closes after it, and it goes as to HTTP/1.1, not HEAD. Unless its handler
    // reads the body in pieces: then it answers the request whose head it has, and the
    // connection closes after it since the rest of the body will not be read.
    const bool taken = m_their == state::done || m_their == state::must_close;
    const bool early = !taken && m_body_streamed && m_their == state::body;
    const bool answering = taken || early;
    if (early) {
        const request& head = m_requests.message();
        m_head_request = head.method == "HEAD";
        m_request_1_0 = head.version_minor == 0;
    }
    const bool head_only = answering && m_head_request;
    const bool to_1_0 = answering && m_request_1_0;
    bool keep_alive = taken && m_keep_alive && !close;

    piece_framing pieces;
    const bool bodiless = head_only || r.status == 204 || r.status == 304;
    if (body_follows && !bodiless) {
        pieces = framing_of(r.headers);
        if (pieces.chunked && to_1_0) {
            throw std::invalid_argument("http: a chunked response to an HTTP/1.0 request (it "
                                        "knows no chunked coding; give a Content-Length, or "
                                        "none for a body that ends with the connection)");
        }
        if (!pieces.chunked && !pieces.length) {
            keep_alive = false; // the body runs until the connection closes
        }
    }

    // One pass over the response's fields for the ones a server may add.
    bool has[2] = {false, false};
    const std::size_t n_added = added.size() < 2 ? added.size() : 2;
    bool has_connection = false;
    for (const auto& [name, value] : r.headers) {
        for (std::size_t i = 0; i < n_added; ++i) {
            if (name.size() == added[i].name.size() && ascii_iequals(name, added[i].name)) {
                has[i] = true;
            }
        }
        if (name.size() == 10 && ascii_iequals(name, "Connection")) {
            has_connection = true;
        }
    }
    const bool says_close = has_connection && r.headers.has_token("Connection", "close");
    if (says_close) {
        keep_alive = false; // the handler closes the connection
    }
    std::string_view connection_line;
    if (!keep_alive) {
        if (!says_close) {
            connection_line = "Connection: close\r\n";
        }
    } else if (to_1_0 && !r.headers.has_token("Connection", "keep-alive")) {
        connection_line = "Connection: keep-alive\r\n";
    }
    const std::string_view first = n_added > 0 && !has[0] ? added[0].line : std::string_view();
    const std::string_view second = n_added > 1 && !has[1] ? added[1].line : std::string_view();
    if (has_connection && !connection_line.empty()) {
        r.headers.erase("Connection"); // it would contradict the line written
    }
    // Fields the serializer refuses throw here, before anything is appended.
    if (body_follows) {
        detail::serialize_response_head(r, out, to_1_0, {first, second, connection_line});
    } else {
        detail::serialize_response(r, out, head_only, to_1_0, {first, second, connection_line});
    }

    if (!answering) {
        m_requests.reset(); // what the failed request holds goes now
        m_their = state::must_close;
    }
    // (early: the handler may still read the body while the response is sent.)
    if (!keep_alive) {
        m_keep_alive = false;
    }
    if (body_follows) {
        m_send_mode = bodiless         ? send_mode::none
                      : pieces.chunked ? send_mode::chunked
                      : pieces.length  ? send_mode::length
                                       : send_mode::until_close;
        m_send_left = pieces.length_value;
        m_our = state::body;
        return m_keep_alive;
    }
    m_our = m_keep_alive ? state::done : state::must_close;
    finish_exchange();
    return m_keep_alive;
}

void connection::send_continue(std::string& out) {
    out += continue_response;
    m_continue_sent = true;
}

} // namespace corio::http::h1
