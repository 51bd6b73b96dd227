// The shared grammar of HTTP/1.1 (syntax.hpp): the checks too large to inline.

#include "syntax.hpp"

#include <algorithm>
#include <limits>

namespace corio::http::detail {

[[noreturn]] void fail(int status, const std::string& what) {
    throw protocol_error(status, what);
}

[[noreturn]] void malformed(const char* what) {
    throw protocol_error(400, what);
}

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

} // namespace corio::http::detail
