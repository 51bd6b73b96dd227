#pragma once
// HTTP/1.1's connection rules as a state machine that does no I/O, after h11's Connection:
// bytes and end of stream go in, events and bytes to send come out. http::serve
// (src/http/server.cpp) and http::client (src/http/client.cpp) both drive one per
// connection and keep only the I/O, the timeouts, the pool and the handler call.
//
// What it owns: the state of both sides of the connection (ours: what we send; theirs:
// what we receive), the keep-alive decision (HTTP/1.0 without `keep-alive`,
// `Connection: close` either way, a body delimited by the close, an error, bytes nobody
// asked for), pipelining (the next request is parsed only once the previous one is
// answered), 100-continue, which responses have no body (to HEAD; 1xx, 204, 304), and the
// limits. Framing is the parsers' and serializers' (src/http/parser.cpp, serialize.cpp):
// this type tells them what the other side's message was (the method a response answers,
// the version a response goes to).
//
// The facts it relies on (RFC 9112): messages on a connection alternate, request then
// response, and a response answers the oldest unanswered request (§9.3.2, pipelining); a
// connection persists unless either message says `Connection: close`, or the request is
// HTTP/1.0 without `Connection: keep-alive` (§9.3); a response whose body runs until the
// close ends the connection (§6.3); after a protocol error the framing of what follows
// cannot be known, so the connection is closed (§9.3, §11.2). One exchange (a cycle, in
// h11's words) ends when both sides are done; then both start again from idle, or, if the
// connection does not persist, it must close.

#include "corio/http/message.hpp"
#include "corio/http/parser.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace corio::http::h1 {

/// Which end of the connection this is.
enum class role : std::uint8_t { client, server };

/// Where one side of the connection is (h11's states, with the head split out).
enum class state : std::uint8_t {
    idle,       ///< between messages: nothing of the next one yet
    head,       ///< (their side) some bytes of a head have arrived
    body,       ///< the head is complete (sent or received); the body is under way
    done,       ///< the message is complete; the other side's is still under way
    must_close, ///< the message is complete and the connection ends after this exchange
    closed,     ///< (their side) the peer ended the stream between messages
    error,      ///< (their side) a protocol error: nothing more can be read
};

/// What the bytes received so far amount to (`connection::next_event`). Level-triggered:
/// the same event comes again until the caller acts on it.
enum class event : std::uint8_t {
    need_data,     ///< no whole head yet (or nothing at all): receive more
    body,          ///< the head is in (`their_request()`), the body is not whole: receive more
    send_continue, ///< as `body`, and the client waits for `100 Continue`: send_continue()
    message,       ///< a whole message: take_request() or take_response()
    paused,        ///< (server) the request was taken and is not answered yet
    closed,        ///< the peer ended the stream with no message under way
    error,         ///< a protocol error: error_status(), error_message()
};

/// A header field a server adds to each response that has no field of that name:
/// `{"Server", "Server: corio\r\n"}`. `line` is written whole; an empty line adds nothing.
struct added_field {
    std::string_view name;
    std::string_view line;
};

/// One HTTP/1.1 connection, seen from one end. Not copyable or movable.
class connection {
public:
    connection(role r, const http::limits& limits);
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection();

    [[nodiscard]] role which() const noexcept { return m_role; }
    [[nodiscard]] state our_state() const noexcept { return m_our; }
    [[nodiscard]] state their_state() const noexcept { return m_their; }
    /// Whether the connection can carry another exchange after this one, as far as is known.
    [[nodiscard]] bool keep_alive() const noexcept { return m_keep_alive; }

    // --- What the peer sends ---

    /// Take bytes from the front of `data`; returns how many were used. A server takes none
    /// while a request it has taken is unanswered (`event::paused`): the rest is the next,
    /// pipelined, request, to be given again. A client takes and drops bytes that follow a
    /// whole response (no request asked for them), and the connection will not be reused. A
    /// protocol error is not thrown: it is `event::error`.
    std::size_t receive(std::string_view data);
    /// The peer ended the stream (a read returned nothing). A client completes a body
    /// delimited by the close; a message cut short is `event::error` for a client, and
    /// `event::closed` for a server (a request cut short gets no answer).
    void receive_eof();
    /// What the bytes received so far amount to.
    [[nodiscard]] event next_event();

    /// (server) The request so far: its head once `next_event()` says body, send_continue
    /// or message.
    [[nodiscard]] request& their_request() noexcept { return m_requests.message(); }
    /// (client) The response so far: its head once `next_event()` says body or message.
    [[nodiscard]] response& their_response() noexcept { return m_responses.message(); }
    /// (server) The handler reads the body of the request under way in pieces, taking them
    /// from `their_request().body` as they arrive (`next_event()` is `body` until the end,
    /// `send_continue` until `100 Continue` is sent, then `message`: take_request()). A
    /// response may then go before the body is whole: the connection closes after it (the
    /// rest of the body is not read), and it is framed for the request's method and version.
    void stream_their_body() noexcept { m_body_streamed = true; }
    /// (server) The whole request (`event::message`); their side is then done.
    request take_request();
    /// (client) The whole response (`event::message`); their side is then done.
    response take_response();
    /// Whether any byte of the message under way (interim responses included) arrived.
    [[nodiscard]] bool received_any() const noexcept { return m_received; }
    /// The status a server answers `event::error` with (400, 408, 413, 414, 431, 501, 505).
    [[nodiscard]] int error_status() const noexcept { return m_error_status; }
    /// What was wrong ("http: both Content-Length and Transfer-Encoding").
    [[nodiscard]] const std::string& error_message() const noexcept { return m_error; }

    // --- What we send ---

    /// (client) Append `r`, whole, to `out`: our side is then done, and the response
    /// expected is framed for its method. \throws std::invalid_argument as `serialize`,
    /// nothing appended; invalid_state_error if a request is already under way.
    void send_request(const request& r, std::string& out);
    /// (server) Append the answer to the request taken (or, before one was taken whole, to
    /// a request that failed: as to HTTP/1.1, not HEAD) to `out`, with each of `added` whose
    /// name `r` lacks, and the Connection field the keep-alive decision needs (a
    /// `Connection` field of `r` that would contradict it is dropped from `r`). `close`: the
    /// connection ends after it, whatever the request said. Returns whether the connection
    /// persists: if so both sides are idle again, and the next request may be received.
    /// \throws std::invalid_argument (a 1xx status, or fields the serializer refuses):
    /// nothing appended, the state unchanged (the `Connection` fields of `r` may be gone);
    /// invalid_state_error if the response was sent already.
    bool send_response(response& r, std::string& out, std::span<const added_field> added,
                       bool close);
    /// (server) Append `100 Continue` (after `event::send_continue`).
    void send_continue(std::string& out);

    // --- A body sent in pieces ---

    /// (client) Append the head of `r` to `out`: its body must be empty, and its fields
    /// frame the body to come (`Content-Length`, or `Transfer-Encoding: chunked`; neither:
    /// no body). Our side is then `body`. \throws std::invalid_argument as `send_request`.
    void send_head(const request& r, std::string& out);
    /// (server) As `send_response`, for a response whose body (empty in `r`) follows in
    /// pieces, framed by its fields: `Content-Length`, `Transfer-Encoding: chunked` (not to
    /// an HTTP/1.0 request: std::invalid_argument), or neither, and then the body runs until
    /// the connection closes (which it then must). No body at all follows a response to
    /// HEAD, a 204 or a 304. Our side is then `body`. Returns whether the connection will
    /// persist.
    bool send_head(response& r, std::string& out, std::span<const added_field> added, bool close);
    /// Append `data`, the next piece of the body, to `out` (as a chunk if chunked).
    /// \throws std::invalid_argument past the Content-Length or where no body may be;
    /// invalid_state_error outside a body.
    void send_data(std::string_view data, std::string& out);
    /// End the body (the last chunk if chunked). \throws std::invalid_argument if fewer
    /// bytes than the Content-Length were sent.
    void send_end(std::string& out);
    /// Whether the body sent in pieces has bytes to carry: false after the head of a
    /// response to HEAD, a 204 or a 304 (send_end() it at once), and outside a body.
    [[nodiscard]] bool body_wanted() const noexcept {
        return m_our == state::body && m_send_mode != send_mode::none;
    }

private:
    /// How the body we send in pieces is framed.
    enum class send_mode : std::uint8_t { none, length, chunked, until_close };

    void fail(const protocol_error& e);
    bool write_response(response& r, std::string& out, std::span<const added_field> added,
                        bool close, bool body_follows);
    /// Our side or theirs is done: when both are, the exchange is over.
    void finish_exchange() noexcept;

    role m_role;
    state m_our = state::idle;
    state m_their = state::idle;
    bool m_keep_alive = true;
    bool m_received = false;                 // a byte of their current message arrived
    bool m_continue_sent = false;            // 100 Continue was sent for the current request
    bool m_head_request = false;             // the request under way is HEAD
    bool m_request_1_0 = false;              // ... is HTTP/1.0
    bool m_body_streamed = false;            // its body is read in pieces by the handler
    send_mode m_send_mode = send_mode::none; // of our body in pieces
    std::uint64_t m_send_left = 0;           // bytes of a body in pieces still due (Content-Length)
    int m_error_status = 0;
    std::string m_error;
    // One parser, as the role says: a server parses requests, a client responses.
    union {
        request_parser m_requests;
        response_parser m_responses;
    };
};

} // namespace corio::http::h1
