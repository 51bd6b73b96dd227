// The HTTP/1.1 message parsers (RFC 9112): request_parser and response_parser.
//
// The head is parsed line by line, in place, in the bytes a caller feeds: each byte of a
// line is looked at once, through a 256-entry class table (no per-byte call, no regex),
// and what the line holds goes straight into the message's strings. Only a line that is
// split across two feeds is copied, into m_line, and parsed when its LF arrives. So a small
// request that arrives in one read is never copied as a whole.
//
// Being strict is what keeps a server safe behind a proxy that parses differently
// (request smuggling): a line ends in CRLF and nowhere else, so a bare CR or LF, a NUL, a
// field line starting with whitespace (obs-fold), whitespace before a field's colon, and a
// message framed by both Content-Length and Transfer-Encoding are all rejected rather than
// interpreted. A parse error leaves the parser failed: the connection cannot be resynced.

#include "corio/http/parser.hpp"

#include "syntax.hpp"

#include "corio/errors.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>

namespace corio::http {

namespace {

using detail::bad_byte;
using detail::check_codings;
using detail::check_host;
using detail::fail;
using detail::hex_char;
using detail::iequals;
using detail::is;
using detail::is_digit;
using detail::is_ows;
using detail::length_parse;
using detail::malformed;
using detail::parse_chunk_size;
using detail::parse_length;
using detail::skip;
using detail::target_char;
using detail::token_char;
using detail::value_char;

/// What a parser has seen of the framing fields so far (m_framing).
enum framing_bit : std::uint8_t {
    has_length = 1,
    has_coding = 2,
    has_host = 4,
    has_expect = 8,
};

/// How the body is read (m_body_mode).
enum body_mode : std::uint8_t {
    no_body,
    by_length,
    until_close,
    chunk_size,
    chunk_data,
    chunk_cr,
    chunk_lf,
    trailer,
};

/// What expect() was told (response_parser::m_method).
enum method_kind : std::uint8_t { other_method, head_method, connect_method };

/// A chunk-size line (size and extensions) longer than this is refused.
constexpr std::size_t chunk_line_max = 4096;

} // namespace

// --- The parsers' shared machinery ---------------------------------------------------------

/// The parsing itself, shared by request_parser and response_parser (whose private
/// members it reaches as a friend); `Parser` picks the start line and framing rules.
template <class Parser>
struct parser_core {
    static constexpr bool is_request = std::is_same_v<Parser, request_parser>;

    static std::size_t feed(Parser& p, std::string_view data) {
        if (p.m_failed) {
            throw invalid_state_error("http: feed() after a protocol error; reset() first");
        }
        if (data.empty() || p.m_state == parse_state::complete) {
            return 0;
        }
        try {
            const char* const b = data.data();
            const char* const e = b + data.size();
            return p.m_state == parse_state::head ? head(p, b, e) : body(p, b, e);
        } catch (...) {
            p.m_failed = true;
            throw;
        }
    }

    /// Forget the message: the parser starts on the next one.
    static void next_message(Parser& p) {
        p.m_message = {};
        p.m_state = parse_state::head;
        p.m_failed = false;
        p.m_started = false;
        p.m_body_mode = no_body;
        p.m_framing = 0;
        p.m_line.clear(); // keeps its capacity for the next split line
        p.m_head_bytes = 0;
        p.m_fields = 0;
        p.m_length = 0;
        p.m_remaining = 0;
        p.m_body_total = 0;
        if constexpr (is_request) {
            p.m_expects_continue = false;
        } else {
            p.m_method = other_method;
            p.m_interim = 0;
        }
    }

    [[noreturn]] static void malformed_interim(const Parser& p) {
        fail(400, "http: more than " + std::to_string(p.m_limits.max_interim_responses) +
                      " interim (1xx) responses before the final one");
    }

    // --- The head ---

    static std::size_t head(Parser& p, const char* const begin, const char* const end) {
        const char* cur = begin;
        if (!p.m_line.empty()) {
            // A line split across feeds: complete it, parse it from m_line.
            const auto* lf = static_cast<const char*>(std::memchr(cur, '\n', end - cur));
            if (lf == nullptr) {
                keep_partial(p, cur, end);
                return static_cast<std::size_t>(end - begin);
            }
            cur = lf + 1;
            p.m_line.append(begin, cur);
            const char* const lb = p.m_line.data();
            const char* const le = lb + p.m_line.size();
            bool end_of_head = false;
            // m_line holds one LF, its last byte: the line is taken whole or rejected.
            if (line(p, lb, le, end_of_head) != le) {
                malformed("http: malformed line in the head");
            }
            p.m_line.clear();
            if (end_of_head && finish_head(p)) {
                return static_cast<std::size_t>(cur - begin);
            }
        }
        while (cur < end) {
            bool end_of_head = false;
            const char* const next = line(p, cur, end, end_of_head);
            if (next == nullptr) {
                keep_partial(p, cur, end);
                return static_cast<std::size_t>(end - begin);
            }
            cur = next;
            if (end_of_head && finish_head(p)) {
                return static_cast<std::size_t>(cur - begin);
            }
        }
        return static_cast<std::size_t>(end - begin);
    }

    /// Keep the start of a line whose end has not arrived, within the limits.
    static void keep_partial(Parser& p, const char* b, const char* e) {
        const std::size_t n = p.m_line.size() + static_cast<std::size_t>(e - b);
        if (!p.m_started) {
            // A trailing CR may be the line's own.
            const std::size_t line_length = n - (e[-1] == '\r' ? 1 : 0);
            if (line_length > p.m_limits.max_request_line) {
                start_line_too_long(p);
            }
        }
        if (p.m_head_bytes + n > p.m_limits.max_header_bytes) {
            head_too_large(p);
        }
        p.m_line.append(b, e);
    }

    [[noreturn]] static void start_line_too_long(const Parser& p) {
        fail(414, std::string(is_request ? "http: request line" : "http: status line") +
                      " longer than " + std::to_string(p.m_limits.max_request_line) + " bytes");
    }

    [[noreturn]] static void head_too_large(const Parser& p) {
        fail(431, "http: header section longer than " +
                      std::to_string(p.m_limits.max_header_bytes) + " bytes");
    }

    /// Count `n` more bytes of head (or trailer) against max_header_bytes.
    static void count(Parser& p, std::size_t n) {
        p.m_head_bytes += n;
        if (p.m_head_bytes > p.m_limits.max_header_bytes) {
            head_too_large(p);
        }
    }

    /// Parse one line of the head from `b`: the start line, a field line, or the empty line
    /// that ends the head (`end_of_head`). Returns where the next line starts, or nullptr if
    /// the line does not end before `e` (nothing of it is kept in the message then).
    static const char* line(Parser& p, const char* b, const char* e, bool& end_of_head) {
        if (*b == '\r' || *b == '\n') {
            if (*b == '\n') {
                bad_byte(b, e, "");
            }
            if (b + 1 == e) {
                return nullptr;
            }
            if (b[1] != '\n') {
                bad_byte(b, e, "");
            }
            count(p, 2);
            // Before the start line, empty lines are skipped (RFC 9112 §2.2).
            end_of_head = p.m_started;
            return b + 2;
        }
        if (!p.m_started) {
            if constexpr (is_request) {
                return request_line(p, b, e);
            } else {
                return status_line(p, b, e);
            }
        }
        return field_line<false>(p, b, e);
    }

    /// Match `pattern` ('#' a digit) at `q`: past it, or nullptr if `e` comes first.
    static const char* match(const char* q, const char* e, std::string_view pattern,
                             const char* what) {
        for (const char want : pattern) {
            if (q == e) {
                return nullptr;
            }
            const bool ok = want == '#' ? is_digit(*q) : *q == want;
            if (!ok) {
                if (want == '\n') {
                    malformed("http: bare CR (a CR not followed by LF)");
                }
                if (*q == '\r' && q + 1 == e) {
                    return nullptr; // CRLF or bare CR: which one, the next feed tells
                }
                bad_byte(q, e, what);
            }
            ++q;
        }
        return q;
    }

    /// method SP request-target SP HTTP-version CRLF (RFC 9112 §3).
    static const char* request_line(request_parser& p, const char* b, const char* e) {
        static constexpr const char* bad = "http: malformed request line (method SP target SP "
                                           "HTTP/1.x CRLF)";
        const char* q = b;
        while (q < e && is(*q, token_char)) {
            ++q;
        }
        if (q == e || (*q == '\r' && q + 1 == e)) {
            return nullptr;
        }
        if (q == b || *q != ' ') {
            bad_byte(q, e, bad);
        }
        const char* const method_end = q++;
        const char* const target = q;
        q = skip(q, e, target_char, 0x21);
        if (q == e || (*q == '\r' && q + 1 == e)) {
            return nullptr;
        }
        if (q == target || *q != ' ') {
            bad_byte(q, e, bad);
        }
        const char* const target_end = q++;
        const char* const version = q;
        // Nearly always "HTTP/1.1\r\n": one comparison instead of the pattern's ten.
        const bool usual = e - q >= 10 && std::memcmp(q, "HTTP/1.1\r\n", 10) == 0;
        const char* const next = usual ? q + 10 : match(q, e, "HTTP/#.#\r\n", bad);
        if (next == nullptr) {
            return nullptr;
        }
        if (static_cast<std::size_t>(next - 2 - b) > p.m_limits.max_request_line) {
            start_line_too_long(p);
        }
        count(p, static_cast<std::size_t>(next - b));
        check_version(version);
        request& m = p.m_message;
        m.method.assign(b, method_end);
        m.target.assign(target, target_end);
        m.version_minor = version[7] - '0';
        p.m_started = true;
        return next;
    }

    /// HTTP-version SP status-code SP [reason-phrase] CRLF (RFC 9112 §4). The SP before an
    /// empty reason may be missing, as many servers send it.
    static const char* status_line(response_parser& p, const char* b, const char* e) {
        static constexpr const char* bad = "http: malformed status line (HTTP/1.x SP "
                                           "status SP reason CRLF)";
        const char* q = match(b, e, "HTTP/#.# ###", bad);
        if (q == nullptr) {
            return nullptr;
        }
        const char* reason = q;
        if (q < e && *q == ' ') {
            reason = ++q;
            while (q < e && is(*q, value_char)) {
                ++q;
            }
        }
        const char* const reason_end = q;
        const char* const next = match(q, e, "\r\n", bad);
        if (next == nullptr) {
            return nullptr;
        }
        if (static_cast<std::size_t>(reason_end - b) > p.m_limits.max_request_line) {
            start_line_too_long(p);
        }
        count(p, static_cast<std::size_t>(next - b));
        check_version(b);
        const int status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
        if (status < 100) {
            malformed("http: status code below 100");
        }
        response& m = p.m_message;
        m.status = status;
        m.reason.assign(reason, reason_end);
        while (!m.reason.empty() && is_ows(m.reason.back())) {
            m.reason.pop_back();
        }
        m.version_minor = b[7] - '0';
        p.m_started = true;
        return next;
    }

    /// "HTTP/x.y" at `v`, already matched as such: only 1.0 and 1.1 are spoken.
    static void check_version(const char* v) {
        if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) {
            fail(505, "http: unsupported version HTTP/" + std::string(1, v[5]) + "." +
                          std::string(1, v[7]));
        }
    }

    /// field-name ":" OWS field-value OWS CRLF (RFC 9112 §5). Trailer fields are checked
    /// and counted but not kept.
    template <bool Trailer>
    static const char* field_line(Parser& p, const char* b, const char* e) {
        if (is_ows(*b)) {
            malformed("http: obs-fold (a field line starting with whitespace)");
        }
        const char* q = b;
        while (q < e && is(*q, token_char)) {
            ++q;
        }
        if (q == e) {
            return nullptr;
        }
        if (*q != ':') {
            if (*q == '\r' && q + 1 == e) {
                return nullptr;
            }
            if (is_ows(*q)) {
                malformed("http: whitespace between a field name and its colon");
            }
            if (*q == '\r' && q[1] == '\n') {
                malformed("http: field line without a colon");
            }
            bad_byte(q, e, "http: field name is not a token");
        }
        if (q == b) {
            malformed("http: empty field name");
        }
        const char* const name_end = q++;
        while (q < e && is_ows(*q)) {
            ++q;
        }
        const char* const value = q;
        q = skip(q, e, value_char, 0x20);
        if (q == e || (*q == '\r' && q + 1 == e)) {
            return nullptr;
        }
        if (*q != '\r' || q[1] != '\n') {
            bad_byte(q, e, "http: control character in a field value");
        }
        const char* value_end = q;
        while (value_end > value && is_ows(value_end[-1])) {
            --value_end;
        }
        count(p, static_cast<std::size_t>(q + 2 - b));
        if (++p.m_fields > p.m_limits.max_headers) {
            fail(431,
                 "http: more than " + std::to_string(p.m_limits.max_headers) + " header fields");
        }
        if constexpr (!Trailer) {
            field(p, std::string_view(b, static_cast<std::size_t>(name_end - b)),
                  std::string_view(value, static_cast<std::size_t>(value_end - value)));
        }
        return q + 2;
    }

    /// Note the fields that frame the message, and keep the field.
    static void field(Parser& p, std::string_view name, std::string_view value) {
        switch (name.size()) {
        case 4:
            if constexpr (is_request) {
                if (iequals(name, "host")) {
                    if ((p.m_framing & has_host) != 0) {
                        malformed("http: more than one Host field");
                    }
                    check_host(value);
                    p.m_framing |= has_host;
                }
            }
            break;
        case 6:
            if constexpr (is_request) {
                if (iequals(name, "expect") && iequals(value, "100-continue")) {
                    p.m_framing |= has_expect;
                }
            }
            break;
        case 14:
            if (iequals(name, "content-length")) {
                std::uint64_t length = 0;
                const length_parse r = parse_length(value, length);
                if (r == length_parse::not_a_number) {
                    malformed("http: Content-Length is not a decimal number");
                }
                if (r == length_parse::differs ||
                    ((p.m_framing & has_length) != 0 && length != p.m_length)) {
                    malformed("http: Content-Length fields that differ");
                }
                p.m_length = length;
                p.m_framing |= has_length;
            }
            break;
        case 17:
            if (iequals(name, "transfer-encoding")) {
                p.m_framing |= has_coding;
            }
            break;
        default:
            break;
        }
        p.m_message.headers.add(std::string(name), std::string(value));
    }

    /// The head is complete: decide how the body is framed. Returns false for an interim
    /// response, which is dropped (the parser reads the next head).
    static bool finish_head(Parser& p) {
        auto& m = p.m_message;
        if constexpr (is_request) {
            if (m.version_minor == 1 && (p.m_framing & has_host) == 0) {
                malformed("http: HTTP/1.1 request without Host");
            }
            p.m_expects_continue = m.version_minor == 1 && (p.m_framing & has_expect) != 0;
        } else {
            const int status = m.status;
            if (status < 200 && status != 101) {
                const auto method = p.m_method;
                const std::size_t interim = p.m_interim + 1;
                if (interim > p.m_limits.max_interim_responses) {
                    malformed_interim(p);
                }
                next_message(p);
                p.m_method = method;
                p.m_interim = interim;
                return false;
            }
            if (status < 200 || status == 204 || status == 304 || p.m_method == head_method ||
                (p.m_method == connect_method && status < 300)) {
                p.m_state = parse_state::complete;
                return true;
            }
        }
        if ((p.m_framing & has_coding) != 0) {
            if (m.version_minor == 0) {
                malformed("http: Transfer-Encoding in an HTTP/1.0 message");
            }
            if ((p.m_framing & has_length) != 0) {
                malformed("http: both Content-Length and Transfer-Encoding");
            }
            check_codings(m.headers);
            p.m_body_mode = chunk_size;
            p.m_state = parse_state::body;
        } else if ((p.m_framing & has_length) != 0) {
            if (p.m_length > p.m_limits.max_body) {
                body_too_large(p);
            }
            if (p.m_length == 0) {
                p.m_state = parse_state::complete;
            } else {
                p.m_body_mode = by_length;
                p.m_remaining = p.m_length;
                m.body.reserve(
                    static_cast<std::size_t>(std::min<std::uint64_t>(p.m_length, 64 * 1024)));
                p.m_state = parse_state::body;
            }
        } else if constexpr (is_request) {
            p.m_state = parse_state::complete;
        } else {
            p.m_body_mode = until_close;
            p.m_state = parse_state::body;
        }
        return true;
    }

    /// Body bytes the message may still have under max_body (those taken out of `body` by
    /// a reader of the body in pieces counted too).
    static std::uint64_t room(const Parser& p) noexcept {
        const std::uint64_t max = p.m_limits.max_body;
        return max - std::min(p.m_body_total, max);
    }

    [[noreturn]] static void body_too_large(const Parser& p) {
        fail(413, "http: body longer than " + std::to_string(p.m_limits.max_body) + " bytes");
    }

    // --- The body ---

    static std::size_t body(Parser& p, const char* const begin, const char* const end) {
        const char* cur = begin;
        std::string& body = p.m_message.body;
        while (cur < end && p.m_state == parse_state::body) {
            switch (p.m_body_mode) {
            case by_length:
            case chunk_data: {
                const auto n = static_cast<std::size_t>(
                    std::min<std::uint64_t>(p.m_remaining, static_cast<std::size_t>(end - cur)));
                body.append(cur, n);
                cur += n;
                p.m_remaining -= n;
                p.m_body_total += n;
                if (p.m_remaining == 0) {
                    if (p.m_body_mode == by_length) {
                        p.m_state = parse_state::complete;
                    } else {
                        p.m_body_mode = chunk_cr;
                    }
                }
                break;
            }
            case until_close: {
                const auto n = static_cast<std::size_t>(end - cur);
                if (n > room(p)) {
                    body_too_large(p);
                }
                body.append(cur, n);
                cur = end;
                p.m_body_total += n;
                break;
            }
            case chunk_cr:
            case chunk_lf:
                if (*cur != (p.m_body_mode == chunk_cr ? '\r' : '\n')) {
                    malformed("http: chunk data not followed by CRLF");
                }
                ++cur;
                p.m_body_mode = p.m_body_mode == chunk_cr ? chunk_lf : chunk_size;
                break;
            case chunk_size: {
                std::string_view l;
                if (!take_line(p, cur, end, l, chunk_line_max, 400,
                               "http: chunk size line longer than 4096 bytes")) {
                    break;
                }
                const std::uint64_t size = parse_chunk_size(l);
                p.m_line.clear();
                if (size == 0) {
                    p.m_body_mode = trailer;
                } else {
                    if (size > room(p)) {
                        body_too_large(p);
                    }
                    p.m_remaining = size;
                    p.m_body_mode = chunk_data;
                }
                break;
            }
            case trailer: {
                std::string_view l;
                const std::size_t budget = p.m_limits.max_header_bytes - p.m_head_bytes;
                if (!take_line(p, cur, end, l, budget, 431,
                               "http: header section and trailer longer than " +
                                   std::to_string(p.m_limits.max_header_bytes) + " bytes")) {
                    break;
                }
                const char* const lb = l.data();
                const char* const le = lb + l.size();
                if (*lb == '\r' && lb + 2 == le) {
                    count(p, 2);
                    p.m_state = parse_state::complete;
                } else if (*lb == '\r' || *lb == '\n') {
                    bad_byte(lb, le, "http: malformed trailer line");
                } else if (field_line<true>(p, lb, le) != le) {
                    malformed("http: malformed trailer line");
                }
                p.m_line.clear();
                break;
            }
            default:
                malformed("http: no body expected");
            }
        }
        return static_cast<std::size_t>(cur - begin);
    }

    /// The next whole line (LF included) from `cur`, in place or completed in m_line; false
    /// (and the bytes kept in m_line) if its end has not arrived. A line longer than `limit`
    /// fails with `status`.
    template <class What>
    static bool take_line(Parser& p, const char*& cur, const char* end, std::string_view& out,
                          std::size_t limit, int status, const What& what) {
        const auto* lf = static_cast<const char*>(std::memchr(cur, '\n', end - cur));
        const char* const stop = lf == nullptr ? end : lf + 1;
        if (p.m_line.size() + static_cast<std::size_t>(stop - cur) > limit) {
            fail(status, what);
        }
        if (lf == nullptr) {
            p.m_line.append(cur, end);
            cur = end;
            return false;
        }
        if (p.m_line.empty()) {
            out = std::string_view(cur, static_cast<std::size_t>(stop - cur));
        } else {
            p.m_line.append(cur, stop);
            out = p.m_line;
        }
        cur = stop;
        return true;
    }
};

// --- request_parser ------------------------------------------------------------------------

request_parser::request_parser(http::limits limits) : m_limits(limits) {}

std::size_t request_parser::feed(std::string_view data) {
    return parser_core<request_parser>::feed(*this, data);
}

request request_parser::take() {
    if (m_state != parse_state::complete) {
        throw invalid_state_error("http: take() before the request is complete");
    }
    request r = std::move(m_message);
    parser_core<request_parser>::next_message(*this);
    return r;
}

void request_parser::reset() {
    parser_core<request_parser>::next_message(*this);
}

// --- response_parser -----------------------------------------------------------------------

response_parser::response_parser(http::limits limits) : m_limits(limits) {}

void response_parser::expect(std::string_view method) {
    m_method = method == "HEAD" ? head_method : method == "CONNECT" ? connect_method : other_method;
}

std::size_t response_parser::feed(std::string_view data) {
    return parser_core<response_parser>::feed(*this, data);
}

void response_parser::feed_eof() {
    if (m_failed) {
        throw invalid_state_error("http: feed_eof() after a protocol error; reset() first");
    }
    if (m_state == parse_state::complete) {
        return;
    }
    if (m_state == parse_state::body && m_body_mode == until_close) {
        m_state = parse_state::complete;
        return;
    }
    m_failed = true;
    if (m_state == parse_state::body) {
        throw protocol_error(400, "http: connection closed in the middle of the body");
    }
    if (!m_started && m_line.empty() && m_head_bytes == 0) {
        throw protocol_error(400, "http: connection closed before a response arrived");
    }
    throw protocol_error(400, "http: connection closed in the middle of the response head");
}

bool response_parser::body_until_close() const noexcept {
    return m_body_mode == until_close;
}

response response_parser::take() {
    if (m_state != parse_state::complete) {
        throw invalid_state_error("http: take() before the response is complete");
    }
    response r = std::move(m_message);
    parser_core<response_parser>::next_message(*this);
    return r;
}

void response_parser::reset() {
    parser_core<response_parser>::next_message(*this);
}

} // namespace corio::http
