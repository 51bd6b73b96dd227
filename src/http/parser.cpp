// The HTTP/1.1 message parsers (RFC 9112) and serializers.
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

#include "common.hpp"

#include "corio/errors.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace corio::http {

namespace {

// --- Bytes -------------------------------------------------------------------------------

enum char_class : std::uint8_t {
    token_char = 1,  // tchar (RFC 9110 §5.6.2): methods, field names, transfer codings
    value_char = 2,  // field-vchar, SP, HTAB, obs-text: field values, reasons, extensions
    target_char = 4, // the request target: anything visible (and obs-text)
    hex_char = 8,
};

constexpr std::array<std::uint8_t, 256> make_classes() {
    constexpr std::string_view token_punct = "!#$%&'*+-.^_`|~";
    std::array<std::uint8_t, 256> table{};
    for (int c = 0; c < 256; ++c) {
        const bool digit = c >= '0' && c <= '9';
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        std::uint8_t k = 0;
        if (digit || alpha ||
            (c < 128 && token_punct.find(static_cast<char>(c)) != std::string_view::npos)) {
            k |= token_char;
        }
        if (c == '\t' || (c >= 0x20 && c != 0x7f)) {
            k |= value_char;
        }
        if (c > 0x20 && c != 0x7f) {
            k |= target_char;
        }
        if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
            k |= hex_char;
        }
        table[static_cast<std::size_t>(c)] = k;
    }
    return table;
}

constexpr std::array<std::uint8_t, 256> classes = make_classes();

inline bool is(char c, std::uint8_t k) noexcept {
    return (classes[static_cast<unsigned char>(c)] & k) != 0;
}

inline bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

using detail::is_ows;

/// Skip the bytes of class `k` from `q`, eight at a time while no byte of the word is below
/// `low` or is DEL (a test of the whole word, exact as to whether there is one: Bit
/// Twiddling Hacks' hasless), then one at a time. `k` must hold every byte from `low` up,
/// but DEL; obs-text (0x80 and up) passes the word test.
inline const char* skip(const char* q, const char* e, std::uint8_t k, std::uint8_t low) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101;
    constexpr std::uint64_t highs = 0x8080808080808080;
    while (e - q >= 8) {
        std::uint64_t x = 0;
        std::memcpy(&x, q, 8);
        const std::uint64_t below = (x - ones * low) & ~x & highs;
        const std::uint64_t del = x ^ (ones * 0x7f);
        if ((below | ((del - ones) & ~del & highs)) != 0) {
            break;
        }
        q += 8;
    }
    while (q < e && is(*q, k)) {
        ++q;
    }
    return q;
}

using detail::ascii_lower;
/// `a` equals the lower-case `lower_b`, ASCII case ignored.
constexpr bool iequals(std::string_view a, std::string_view lower_b) noexcept {
    return detail::ascii_iequals_lower(a, lower_b);
}

using detail::trim_ows;

// --- Errors ------------------------------------------------------------------------------

[[noreturn]] void fail(int status, const std::string& what) {
    throw protocol_error(status, what);
}

[[noreturn]] void malformed(const char* what) {
    throw protocol_error(400, what);
}

/// A scan stopped at `q` (before `e`) on a byte its grammar does not allow there. A NUL,
/// a bare CR or a bare LF is reported as such, anything else as `what`.
[[noreturn]] void bad_byte(const char* q, const char* e, const char* what) {
    switch (*q) {
    case '\0':
        malformed("http: NUL byte in the message");
    case '\n':
        malformed("http: bare LF (lines end in CRLF)");
    case '\r':
        if (q + 1 < e && q[1] != '\n') {
            malformed("http: bare CR (a CR not followed by LF)");
        }
        break;
    default:
        break;
    }
    malformed(what);
}

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

/// Content-Length (RFC 9112 §6.3): 1*DIGIT, or a list of identical such values ("5, 5").
/// Saturates rather than overflows: any huge value is over max_body anyway.
enum class length_parse : std::uint8_t { ok, not_a_number, differs };
length_parse parse_length(std::string_view v, std::uint64_t& out) noexcept {
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    bool first = true;
    std::uint64_t value = 0;
    while (true) {
        const std::size_t comma = v.find(',');
        const std::string_view item = trim_ows(v.substr(0, comma));
        if (item.empty()) {
            return length_parse::not_a_number;
        }
        std::uint64_t n = 0;
        for (const char c : item) {
            if (!is_digit(c)) {
                return length_parse::not_a_number;
            }
            n = n > (max - 9) / 10 ? max : n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (!first && n != value) {
            return length_parse::differs;
        }
        value = n;
        first = false;
        if (comma == std::string_view::npos) {
            break;
        }
        v.remove_prefix(comma + 1);
    }
    out = value;
    return length_parse::ok;
}

/// Calls `f(coding, has_parameter)` for each non-empty coding of the Transfer-Encoding field
/// value `value` (a comma-separated list; a coding's parameters follow a ';').
template <class F>
void for_each_coding(std::string_view value, F&& f) {
    while (true) {
        const std::size_t comma = value.find(',');
        std::string_view item = value.substr(0, comma);
        const std::size_t semicolon = item.find(';');
        item = trim_ows(item.substr(0, semicolon));
        if (!item.empty()) {
            f(item, semicolon != std::string_view::npos);
        }
        if (comma == std::string_view::npos) {
            return;
        }
        value.remove_prefix(comma + 1);
    }
}

/// Transfer-Encoding (RFC 9112 §6.1): the codings of every such field, in order, must end
/// in chunked, which is the only one corio decodes.
void check_codings(const headers& h) {
    std::size_t codings = 0;
    std::size_t chunked = 0;
    std::string_view last;
    std::string_view unknown;
    for (const auto& [name, value] : h) {
        if (!iequals(name, "transfer-encoding")) {
            continue;
        }
        for_each_coding(value, [&](std::string_view item, bool has_parameter) {
            ++codings;
            last = item;
            if (iequals(item, "chunked")) {
                // RFC 9112 §7.1: chunked defines no parameters. Accepting one would also let
                // a peer that reads the field differently frame the body differently.
                if (has_parameter) {
                    malformed("http: Transfer-Encoding chunked with a parameter");
                }
                ++chunked;
            } else if (unknown.empty()) {
                unknown = item;
            }
        });
    }
    if (codings == 0) {
        malformed("http: empty Transfer-Encoding");
    }
    if (!iequals(last, "chunked")) {
        malformed("http: Transfer-Encoding does not end in chunked");
    }
    if (chunked > 1) {
        malformed("http: Transfer-Encoding applies chunked more than once");
    }
    if (!unknown.empty()) {
        fail(501, "http: unsupported transfer coding '" + std::string(unknown) + "'");
    }
}

/// Host (RFC 9112 §3.2, RFC 3986 §3.2.2): uri-host [":" port], or empty. uri-host is an
/// IP-literal in brackets (IPv6 or IPvFuture) or a reg-name (which covers IPv4): unreserved
/// characters, sub-delims and percent-encodings; port is digits. Anything else ("a b",
/// "a/b", "a@b") is 400: a server or proxy that read it otherwise would route the request
/// elsewhere.
void check_host(std::string_view v) {
    const auto bad = [v]() {
        fail(400, "http: malformed Host field '" + std::string(v) +
                      "' (uri-host [\":\" port], RFC 9112 §3.2)");
    };
    const auto is_hex = [](char c) { return is(c, hex_char); };
    const auto reg_name_char = [](char c) {
        const bool alnum = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        return alnum || std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos;
    };
    std::size_t i = 0;
    if (!v.empty() && v.front() == '[') {
        const std::size_t close = v.find(']');
        if (close == std::string_view::npos || close == 1) {
            bad();
        }
        const std::string_view literal = v.substr(1, close - 1);
        if (literal.front() == 'v' || literal.front() == 'V') {
            // IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
            const std::size_t dot = literal.find('.');
            if (dot == std::string_view::npos || dot < 2 || dot + 1 == literal.size() ||
                !std::all_of(literal.begin() + 1, literal.begin() + static_cast<long>(dot),
                             is_hex) ||
                !std::all_of(literal.begin() + static_cast<long>(dot) + 1, literal.end(),
                             [&](char c) { return c == ':' || reg_name_char(c); })) {
                bad();
            }
        } else if (!std::all_of(literal.begin(), literal.end(),
                                [&](char c) { return is_hex(c) || c == ':' || c == '.'; }) ||
                   literal.find(':') == std::string_view::npos) {
            bad();
        }
        i = close + 1;
    } else {
        while (i < v.size() && v[i] != ':') {
            if (v[i] == '%') {
                if (i + 2 >= v.size() || !is_hex(v[i + 1]) || !is_hex(v[i + 2])) {
                    bad();
                }
                i += 3;
                continue;
            }
            if (!reg_name_char(v[i])) {
                bad();
            }
            ++i;
        }
    }
    if (i < v.size()) {
        if (v[i] != ':' || !std::all_of(v.begin() + static_cast<long>(i) + 1, v.end(), is_digit)) {
            bad();
        }
    }
}

/// A chunk-size line, CRLF included: size in hex, then optional extensions, which are
/// checked for stray bytes and ignored (RFC 9112 §7.1.1).
std::uint64_t parse_chunk_size(std::string_view line) {
    const char* q = line.data();
    const char* const e = q + line.size(); // the line ends in LF, which every scan stops at
    const char* const digits = q;
    std::uint64_t size = 0;
    while (is(*q, hex_char)) {
        if ((size >> 60) != 0) {
            malformed("http: chunk size overflows 64 bits");
        }
        const char c = ascii_lower(*q);
        size = size * 16 + static_cast<std::uint64_t>(is_digit(c) ? c - '0' : c - 'a' + 10);
        ++q;
    }
    if (q == digits) {
        bad_byte(q, e, "http: bad chunk size (not a hex number)");
    }
    while (is_ows(*q)) {
        ++q;
    }
    if (*q == ';') {
        ++q;
        while (is(*q, value_char)) {
            ++q;
        }
    }
    if (*q != '\r' || q[1] != '\n') {
        bad_byte(q, e, "http: bad chunk size line (size [; extensions] CRLF)");
    }
    return size;
}

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
                if (n > p.m_limits.max_body - std::min(body.size(), p.m_limits.max_body)) {
                    body_too_large(p);
                }
                body.append(cur, n);
                cur = end;
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
                    if (size > p.m_limits.max_body - std::min(body.size(), p.m_limits.max_body)) {
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

// --- Serializing ---------------------------------------------------------------------------

namespace {

void append_decimal(std::string& out, std::uint64_t n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, r.ptr);
}

/// Append `text` with any CR, LF or NUL written as a space: a value can never end a line
/// early (response splitting).
void append_safe(std::string& out, std::string_view text) {
    const std::size_t start = out.size();
    out += text;
    // Usually there is nothing to replace. skip() reaching the end means no word holds a
    // byte below 0x0e and no byte after the words is a control byte (other than a tab):
    // no CR, LF or NUL.
    if (skip(text.data(), text.data() + text.size(), 0xff, 0x0e) == text.data() + text.size()) {
        return;
    }
    for (std::size_t i = start; i < out.size(); ++i) {
        const char c = out[i];
        if (c == '\r' || c == '\n' || c == '\0') {
            out[i] = ' ';
        }
    }
}

std::size_t fields_size(const headers& h) noexcept {
    std::size_t n = 0;
    for (const auto& [name, value] : h) {
        n += name.size() + value.size() + 4;
    }
    return n;
}

bool is_length_name(std::string_view name) noexcept {
    return name.size() == 14 && iequals(name, "content-length");
}

bool is_coding_name(std::string_view name) noexcept {
    return name.size() == 17 && iequals(name, "transfer-encoding");
}

/// How the serializer frames a message (RFC 9112 §6), decided from its fields and body
/// before a byte is written.
struct framing_plan {
    /// Content-Length is written: one field, in place of the message's first one (or after
    /// its fields when it has none), with this value.
    bool length = false;
    std::uint64_t length_value = 0;
    /// The message's Transfer-Encoding fields are written (and the body chunked).
    bool codings = false;
};

/// `message` in the serializer's errors: "the response", "the request".
[[noreturn]] void refuse(std::string_view message, const std::string& what) {
    throw std::invalid_argument("http: " + std::string(message) + what);
}

/// Decide the framing of a message with fields `h` and a body of `body_size` bytes.
/// `framed`: false for a message that has no framing at all (1xx, 204: RFC 9110 §8.6 and
/// RFC 9112 §6.1 say such a response carries neither field), whose Content-Length and
/// Transfer-Encoding are dropped. `body_sent`: whether the body goes on the wire (not in an
/// answer to HEAD or a 304, whose Content-Length may describe the body a GET would get).
/// `http_1_0`: the message is HTTP/1.0, which has no Transfer-Encoding; `downgrade_chunked`:
/// the peer is HTTP/1.0, so a Transfer-Encoding of chunked alone is replaced by the length.
/// `add_length`: whether a message without framing fields gets a Content-Length.
/// \throws std::invalid_argument when the fields disagree with the body or with HTTP/1.1.
framing_plan plan_framing(const headers& h, std::size_t body_size, std::string_view message,
                          bool framed, bool body_sent, bool http_1_0, bool downgrade_chunked,
                          bool add_length) {
    framing_plan plan;
    if (!framed) {
        return plan;
    }
    std::string_view first_length;
    bool has_length = false;
    bool has_coding = false;
    std::uint64_t length = 0;
    for (const auto& [name, value] : h) {
        if (is_length_name(name)) {
            std::uint64_t n = 0;
            const length_parse r = parse_length(value, n);
            if (r == length_parse::not_a_number) {
                refuse(message, "'s Content-Length '" + value + "' is not a decimal number");
            }
            if (r == length_parse::differs || (has_length && n != length)) {
                refuse(message, " has Content-Length fields that differ ('" +
                                    std::string(has_length ? first_length : value) + "', '" +
                                    value + "')");
            }
            if (!has_length) {
                first_length = value;
            }
            has_length = true;
            length = n;
        } else if (is_coding_name(name)) {
            has_coding = true;
        }
    }
    if (has_coding) {
        if (has_length) {
            refuse(message, " has both Content-Length and Transfer-Encoding (RFC 9112 §6.2)");
        }
        // The codings, in order, must end in chunked, which the serializer applies; those
        // before it (gzip, ...) are the sender's, already applied to the body.
        std::size_t codings = 0;
        std::size_t chunked = 0;
        std::string_view last;
        std::string all;
        for (const std::string_view value : h.get_all("Transfer-Encoding")) {
            if (!all.empty()) {
                all += ", ";
            }
            all += value;
            for_each_coding(value, [&](std::string_view item, bool has_parameter) {
                ++codings;
                last = item;
                if (iequals(item, "chunked")) {
                    ++chunked;
                    if (has_parameter) {
                        refuse(message, "'s Transfer-Encoding '" + all +
                                            "' gives chunked a parameter (RFC 9112 §7.1)");
                    }
                }
            });
        }
        if (codings == 0 || !iequals(last, "chunked") || chunked > 1) {
            refuse(message, "'s Transfer-Encoding '" + all +
                                "' does not end in chunked, once (the serializer frames the "
                                "body only by its length or as chunked)");
        }
        if (http_1_0) {
            refuse(message, " is HTTP/1.0 and has a Transfer-Encoding ('" + all + "')");
        }
        if (downgrade_chunked) {
            if (codings > 1) {
                refuse(message, "'s Transfer-Encoding '" + all +
                                    "' cannot go to an HTTP/1.0 peer (it has no transfer codings)");
            }
            plan.length = true; // the body is whole: its length frames it as well
            plan.length_value = body_size;
            return plan;
        }
        plan.codings = true;
        return plan;
    }
    if (has_length) {
        // Without a body on the wire, an empty body leaves the Content-Length as given (the
        // length of what a GET would get); a body present must agree with it.
        if (length != body_size && (body_sent || body_size != 0)) {
            refuse(message, "'s Content-Length (" + std::to_string(length) +
                                ") disagrees with its body (" + std::to_string(body_size) +
                                " bytes)");
        }
        plan.length = true;
        plan.length_value = length;
        return plan;
    }
    if (add_length) {
        plan.length = true;
        plan.length_value = body_size;
    }
    return plan;
}

void append_content_length(std::string& out, std::uint64_t n) {
    out += "Content-Length: ";
    append_decimal(out, n);
    out += "\r\n";
}

/// The fields of `h` framed as `plan` says: its Content-Length fields give way to one
/// computed field, its Transfer-Encoding fields are written only if the plan keeps them.
void append_fields(std::string& out, const headers& h, const framing_plan& plan) {
    bool length_written = false;
    for (const auto& [name, value] : h) {
        if (is_length_name(name)) {
            if (plan.length && !length_written) {
                append_content_length(out, plan.length_value);
                length_written = true;
            }
            continue;
        }
        if (!plan.codings && is_coding_name(name)) {
            continue;
        }
        append_safe(out, name);
        out += ": ";
        append_safe(out, value);
        out += "\r\n";
    }
    if (plan.length && !length_written) {
        append_content_length(out, plan.length_value);
    }
}

/// The body as is, or as one chunk and the last chunk when the fields say chunked.
void append_body(std::string& out, std::string_view body, bool chunked) {
    if (!chunked) {
        out += body;
        return;
    }
    if (!body.empty()) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, body.size(), 16);
        out.append(buf, r.ptr);
        out += "\r\n";
        out += body;
        out += "\r\n";
    }
    out += "0\r\n\r\n";
}

} // namespace

void serialize(const response& r, std::string& out, bool head_only) {
    detail::serialize_response(r, out, head_only, false, {});
}

void detail::serialize_response(const response& r, std::string& out, bool head_only,
                                bool to_http_1_0,
                                std::initializer_list<std::string_view> extra_fields) {
    if (r.status < 100 || r.status > 999) {
        throw std::invalid_argument("http: the response's status " + std::to_string(r.status) +
                                    " is not a three-digit code (RFC 9110 §15)");
    }
    const bool framed = r.status >= 200 && r.status != 204;
    const bool body_sent = framed && r.status != 304 && !head_only;
    const framing_plan plan =
        plan_framing(r.headers, r.body.size(), "the response", framed, body_sent,
                     r.version_minor == 0, to_http_1_0, r.status != 304);
    std::size_t extra = 0;
    for (const std::string_view field : extra_fields) {
        extra += field.size();
    }
    out.reserve(out.size() + 64 + r.reason.size() + extra + fields_size(r.headers) +
                (body_sent ? r.body.size() : 0));
    out += r.version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
    append_decimal(out, static_cast<std::uint64_t>(r.status));
    out += ' ';
    if (r.reason.empty()) {
        out += reason_phrase(r.status);
    } else {
        append_safe(out, r.reason);
    }
    out += "\r\n";
    for (const std::string_view field : extra_fields) {
        out += field;
    }
    append_fields(out, r.headers, plan);
    out += "\r\n";
    if (body_sent) {
        append_body(out, r.body, plan.codings);
    }
}

void serialize(const request& r, std::string& out) {
    if (r.method.empty() ||
        std::any_of(r.method.begin(), r.method.end(), [](char c) { return !is(c, token_char); })) {
        throw std::invalid_argument("http: the request's method '" + r.method +
                                    "' is not a token (RFC 9110 §9.1)");
    }
    if (r.target.empty()) {
        throw std::invalid_argument("http: the request's target is empty");
    }
    const bool wants_length =
        !r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH";
    const framing_plan plan = plan_framing(r.headers, r.body.size(), "the request", true, true,
                                           r.version_minor == 0, false, wants_length);
    out.reserve(out.size() + 64 + r.method.size() + r.target.size() + fields_size(r.headers) +
                r.body.size());
    out += r.method;
    out += ' ';
    // A byte that would end the target early is percent-encoded.
    for (const char c : r.target) {
        if (is(c, target_char)) {
            out += c;
        } else {
            constexpr std::string_view hex = "0123456789ABCDEF";
            const auto u = static_cast<unsigned char>(c);
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    out += r.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
    append_fields(out, r.headers, plan);
    out += "\r\n";
    append_body(out, r.body, plan.codings);
}

} // namespace corio::http
