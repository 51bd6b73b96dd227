#pragma once
/// \file
/// The HTTP/1.1 message parsers (RFC 9112), free of I/O: bytes in, messages out. The
/// server and client in `<corio/http/server.hpp>` and `<corio/http/client.hpp>` drive
/// them through one connection state machine (keep-alive, pipelining, 100-continue; see
/// docs/http.md); they are public for tests, fuzzing, and programs with their own transport.
///
/// ```cpp
/// corio::http::request_parser p;
/// std::string_view in = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
/// while (!in.empty() && p.state() != corio::http::parse_state::complete)
///     in.remove_prefix(p.feed(in));          // throws http::protocol_error on bad input
/// corio::http::request r = p.take();        // and the parser is ready for the next one
/// ```
///
/// What is rejected, each with the status a server answers: a request line longer than
/// `max_request_line` (414); a header section longer than `max_header_bytes` or with more
/// than `max_headers` fields (431); a body longer than `max_body` (413); and as malformed
/// (400): a bare CR or LF (lines end in CRLF) or a NUL anywhere in the head, obs-fold (a
/// field line starting with SP/HTAB), whitespace between a field name and its colon, a
/// field name that is not a token, Content-Length together with Transfer-Encoding,
/// repeated Content-Length fields that differ, a Content-Length that is not a decimal
/// number, a Transfer-Encoding whose last coding is not "chunked" (501 for a coding other
/// than chunked), a request without Host in HTTP/1.1 or with two Host fields, a Host that
/// is not uri-host [":" port] (RFC 9112 §3.2: "a b", "a/b"), a bad chunk
/// size or chunk terminator. A version other than 1.0/1.1 is 505. Leading empty lines
/// before a request line are skipped (RFC 9112 §2.2). Chunk extensions are ignored;
/// trailer fields are checked, counted toward `max_header_bytes` and `max_headers`, and
/// dropped.

#include "corio/http/message.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace corio::http {

/// Size limits a parser enforces.
struct limits {
    /// The request line or status line, without its CRLF (414 when exceeded).
    std::size_t max_request_line = 8 * 1024;
    /// The whole head: start line, fields and the empty line (431 when exceeded).
    std::size_t max_header_bytes = 32 * 1024;
    /// The number of header fields (431 when exceeded).
    std::size_t max_headers = 100;
    /// The body, after de-chunking (413 when exceeded).
    std::size_t max_body = 16 * 1024 * 1024;
    /// Responses only: the interim (1xx) responses skipped before a final one. One more is
    /// a protocol_error, so a server sending 1xx for ever cannot keep a client reading.
    std::size_t max_interim_responses = 16;
};

/// Where a parser is in the current message.
enum class parse_state : std::uint8_t {
    head,     ///< Reading the start line and header fields.
    body,     ///< The head is complete (`message()` has it); reading the body.
    complete, ///< The message is complete: `take()` it.
};

/// Parses requests, one after another, from a byte stream. After `take()` it parses the
/// next request, so pipelined requests come out in order.
class request_parser {
public:
    explicit request_parser(http::limits limits = {});

    /// Consume bytes from the front of `data` and return how many were used. Stops early
    /// when the head becomes complete (so a server can answer `Expect: 100-continue`
    /// before reading the body) and when the message becomes complete; what it did not
    /// use belongs to what comes next. Returns 0 only in state `complete` or for empty
    /// `data`.
    /// \throws protocol_error; the parser is then unusable until `reset()`.
    std::size_t feed(std::string_view data);

    [[nodiscard]] parse_state state() const noexcept { return m_state; }
    /// The request so far: its head once the state is `body`, all of it at `complete`. A
    /// reader of the body in pieces may take what `message().body` holds at any time (the
    /// parser appends what follows); `max_body` still counts the whole body.
    [[nodiscard]] request& message() noexcept { return m_message; }
    /// Whether the head asked for `100 Continue` (`Expect: 100-continue`, HTTP/1.1).
    [[nodiscard]] bool expects_continue() const noexcept { return m_expects_continue; }
    /// Move the complete request out and start on the next one.
    /// \throws invalid_state_error if the request is not complete.
    request take();
    /// Forget the current message (after an error, or to reuse the parser).
    void reset();

private:
    // The implementation (src/http/parser.cpp) owns the layout below this line. The head
    // is parsed in place, line by line, from the bytes fed; only a line split across two
    // feeds is copied (into m_line) until its end arrives.
    template <class Parser>
    friend struct parser_core;

    http::limits m_limits;
    parse_state m_state = parse_state::head;
    bool m_expects_continue = false;
    bool m_failed = false;        // a protocol_error was thrown: feed() refuses until reset()
    bool m_started = false;       // the request line has been parsed
    std::uint8_t m_body_mode = 0; // none, length, or the chunked sub-state
    std::uint8_t m_framing = 0;   // Content-Length, Transfer-Encoding, Host, Expect seen
    request m_message;
    std::string m_line;             // a head, chunk-size or trailer line split across feeds
    std::size_t m_head_bytes = 0;   // bytes of the head (and then the trailer) so far
    std::size_t m_fields = 0;       // header (and then trailer) fields so far
    std::uint64_t m_length = 0;     // the Content-Length
    std::uint64_t m_remaining = 0;  // body bytes still expected (length or current chunk)
    std::uint64_t m_body_total = 0; // body bytes parsed (some may have been taken from body)
};

/// Parses responses from a byte stream. A response's framing depends on the request it
/// answers, so `expect(method)` must be called before each response is fed.
class response_parser {
public:
    explicit response_parser(http::limits limits = {});

    /// The method of the request the next response answers: after "HEAD" (and for a
    /// 1xx/204/304 status) the response has no body whatever its headers say.
    void expect(std::string_view method);
    /// As `request_parser::feed`. Interim 1xx responses other than 101 are skipped, up to
    /// `limits::max_interim_responses` of them (then protocol_error).
    std::size_t feed(std::string_view data);
    /// The peer closed the connection: completes a body delimited by the close.
    /// \throws protocol_error if the message was cut short.
    void feed_eof();

    [[nodiscard]] parse_state state() const noexcept { return m_state; }
    /// As `request_parser::message`: the body may be taken in pieces as it arrives.
    [[nodiscard]] response& message() noexcept { return m_message; }
    /// Whether the body runs until the connection closes (no length, not chunked).
    [[nodiscard]] bool body_until_close() const noexcept;
    /// \throws invalid_state_error if the response is not complete.
    response take();
    void reset();

private:
    // As request_parser's; src/http/parser.cpp owns the layout.
    template <class Parser>
    friend struct parser_core;

    http::limits m_limits;
    parse_state m_state = parse_state::head;
    std::uint8_t m_method = 0; // other, HEAD or CONNECT: what expect() was told
    std::size_t m_interim = 0; // interim responses skipped before the current one
    bool m_failed = false;
    bool m_started = false;       // the status line has been parsed
    std::uint8_t m_body_mode = 0; // none, length, until close, or the chunked sub-state
    std::uint8_t m_framing = 0;
    response m_message;
    std::string m_line;
    std::size_t m_head_bytes = 0;
    std::size_t m_fields = 0;
    std::uint64_t m_length = 0;
    std::uint64_t m_remaining = 0;
    std::uint64_t m_body_total = 0;
};

/// Write `r` as an HTTP/1.1 response head and body into `out` (appended). The serializer
/// owns the framing (RFC 9112 §6): it never writes a message whose framing fields disagree
/// with its body, and refuses one rather than repair it, since which of the two the sender
/// meant cannot be known.
/// - Without `Content-Length` or `Transfer-Encoding`, a `Content-Length` of the body is
///   added (not to a 1xx, 204 or 304 response).
/// - `Content-Length` fields must all give the body's size; they are written as one field,
///   in place of the first ("5, 5" and "005" become "5"). When no body is sent (`head_only`,
///   the head of a response to HEAD, or a 304) and `r.body` is empty, the given value is
///   kept: it is the length a GET would have got (RFC 9110 §8.6, §9.3.2).
/// - `Transfer-Encoding` must list codings ending in `chunked` (once, without parameters),
///   which the serializer applies: the body is written as one chunk and the last chunk.
///   Codings before it (`gzip, chunked`) are taken as already applied to the body.
///   `Content-Length` with `Transfer-Encoding` is refused (RFC 9112 §6.2), and so is
///   `Transfer-Encoding` in an HTTP/1.0 message.
/// - A 1xx or 204 response gets no body and neither field, whatever `r` holds (RFC 9110
///   §8.6, RFC 9112 §6.1); a 304's body, and a response to HEAD's, is not written.
/// The reason phrase is the standard one if `r.reason` is empty. A CR, LF or NUL in a field
/// or the reason is written as a space, so no value can end a line early.
/// \throws std::invalid_argument (before anything is appended) naming what disagrees, as
/// "http: the response's Content-Length (5) disagrees with its body (15 bytes)", or for a
/// status outside 100–999.
void serialize(const response& r, std::string& out, bool head_only = false);
/// Write `r` as an HTTP/1.1 request into `out` (appended), framed by the same rules as a
/// response, a `Content-Length` being added when there is a body (or the method is
/// POST/PUT/PATCH) and no framing field is given. The fields are written as for a response,
/// and a space or control byte in the target is percent-encoded.
/// \throws std::invalid_argument as for a response, and for a method that is not a token
/// (RFC 9110 §9.1) or an empty target.
void serialize(const request& r, std::string& out);

} // namespace corio::http
