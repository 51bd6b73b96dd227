// http URLs (RFC 3986): splitting (Appendix B), authority parsing (§3.2), reference
// resolution with dot-segment removal (§5.2). As browsers do with links, tabs and newlines
// are dropped, surrounding spaces ignored, and spaces, control bytes and non-ASCII bytes
// in the path and query percent-encoded, so a link copied from a page still resolves.

#include "corio/http/url.hpp"

#include "common.hpp"

#include <algorithm>

namespace corio::http {

namespace {

using detail::ascii_lower;

constexpr bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

constexpr bool is_hex(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

constexpr bool iequals(std::string_view a, std::string_view lower_b) noexcept {
    return detail::ascii_iequals_lower(a, lower_b);
}

/// A reference split as RFC 3986 Appendix B does; the fragment is dropped.
struct parts {
    std::string_view scheme; // empty: none
    bool has_authority = false;
    std::string_view authority;
    std::string_view path;
    bool has_query = false;
    std::string_view query;
};

/// The reference without tabs and newlines and without surrounding spaces and controls.
std::string clean(std::string_view text) {
    while (!text.empty() && static_cast<unsigned char>(text.front()) <= 0x20) {
        text.remove_prefix(1);
    }
    while (!text.empty() && static_cast<unsigned char>(text.back()) <= 0x20) {
        text.remove_suffix(1);
    }
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c != '\t' && c != '\n' && c != '\r') {
            out += c;
        }
    }
    return out;
}

/// Split `s`; nullptr, or what is wrong with it.
const char* split(std::string_view s, parts& out) {
    const std::size_t colon = s.find_first_of(":/?#");
    if (colon != std::string_view::npos && s[colon] == ':') {
        const std::string_view scheme = s.substr(0, colon);
        const bool valid =
            !scheme.empty() && is_alpha(scheme[0]) &&
            std::all_of(scheme.begin(), scheme.end(), [](char c) {
                return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
            });
        if (!valid) {
            return "malformed scheme";
        }
        out.scheme = scheme;
        s.remove_prefix(colon + 1);
    }
    if (s.size() >= 2 && s[0] == '/' && s[1] == '/') {
        s.remove_prefix(2);
        const std::size_t end = std::min(s.find_first_of("/?#"), s.size());
        out.has_authority = true;
        out.authority = s.substr(0, end);
        s.remove_prefix(end);
    }
    s = s.substr(0, s.find('#'));
    if (const std::size_t q = s.find('?'); q != std::string_view::npos) {
        out.has_query = true;
        out.query = s.substr(q + 1);
        s = s.substr(0, q);
    }
    out.path = s;
    return nullptr;
}

/// The scheme, lower-cased, if it is http or https.
const char* check_scheme(std::string_view scheme, url& out) {
    if (iequals(scheme, "http")) {
        out.scheme = "http";
    } else if (iequals(scheme, "https")) {
        out.scheme = "https";
    } else {
        return "the scheme is not http or https";
    }
    return nullptr;
}

std::uint16_t default_port(std::string_view scheme) noexcept {
    return scheme == "https" ? 443 : 80;
}

/// host [":" port] (RFC 3986 §3.2.2, §3.2.3) into `out`, whose scheme is set.
const char* parse_authority(std::string_view a, url& out) {
    if (a.find('@') != std::string_view::npos) {
        return "user information (user@host) is not supported";
    }
    std::string_view host;
    std::string_view rest;
    if (!a.empty() && a[0] == '[') {
        const std::size_t close = a.find(']');
        if (close == std::string_view::npos) {
            return "'[' without ']' in the host";
        }
        host = a.substr(1, close - 1);
        rest = a.substr(close + 1);
        const bool valid = host.find(':') != std::string_view::npos &&
                           std::all_of(host.begin(), host.end(),
                                       [](char c) { return is_hex(c) || c == ':' || c == '.'; });
        if (!valid) {
            return "malformed IPv6 address";
        }
        if (!rest.empty() && rest[0] != ':') {
            return "text after the IPv6 address";
        }
    } else {
        const std::size_t colon = a.find(':');
        host = a.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view{} : a.substr(colon);
        for (std::size_t i = 0; i < host.size(); ++i) {
            const char c = host[i];
            if (c == '%') {
                if (i + 2 >= host.size() || !is_hex(host[i + 1]) || !is_hex(host[i + 2])) {
                    return "malformed percent-encoding in the host";
                }
                continue;
            }
            const bool ok = is_alpha(c) || is_digit(c) ||
                            std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos;
            if (!ok) {
                return "invalid character in the host";
            }
        }
    }
    if (host.empty()) {
        return "no host";
    }
    out.host = to_lower(host);
    out.port = default_port(out.scheme);
    if (!rest.empty()) {
        const std::string_view port = rest.substr(1); // after ':'; empty means the default
        if (!port.empty()) {
            unsigned long value = 0;
            for (const char c : port) {
                if (!is_digit(c)) {
                    return "the port is not a number";
                }
                value = value * 10 + static_cast<unsigned long>(c - '0');
                if (value > 65535) {
                    return "the port is out of range";
                }
            }
            if (value == 0) {
                return "the port is 0";
            }
            out.port = static_cast<std::uint16_t>(value);
        }
    }
    return nullptr;
}

/// Append `s`, percent-encoding spaces, control bytes and non-ASCII bytes.
void append_encoded(std::string& out, std::string_view s) {
    constexpr std::string_view hex = "0123456789ABCDEF";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f) {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
}

/// path ["?" query], "/" for an empty path.
std::string make_target(std::string_view path, bool has_query, std::string_view query) {
    std::string target;
    target.reserve(path.size() + query.size() + 2);
    if (path.empty() || path[0] != '/') {
        target += '/';
    }
    append_encoded(target, path);
    if (has_query) {
        target += '?';
        append_encoded(target, query);
    }
    return target;
}

/// RFC 3986 §5.2.4.
std::string remove_dot_segments(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    const auto drop_last_segment = [&out] {
        const std::size_t slash = out.rfind('/');
        out.erase(slash == std::string::npos ? 0 : slash);
    };
    while (!in.empty()) {
        if (in.starts_with("../")) {
            in.remove_prefix(3);
        } else if (in.starts_with("./")) {
            in.remove_prefix(2);
        } else if (in.starts_with("/./")) {
            in.remove_prefix(2);
        } else if (in == "/.") {
            in = "/";
        } else if (in.starts_with("/../")) {
            in.remove_prefix(3);
            drop_last_segment();
        } else if (in == "/..") {
            in = "/";
            drop_last_segment();
        } else if (in == "." || in == "..") {
            in = {};
        } else {
            const std::size_t end = std::min(in.find('/', in[0] == '/' ? 1 : 0), in.size());
            out.append(in.substr(0, end));
            in.remove_prefix(end);
        }
    }
    return out;
}

/// Parse an absolute URL into `out`: nullptr, or what is wrong with it.
const char* parse_into(std::string_view text, url& out) {
    const std::string cleaned = clean(text);
    parts p;
    if (const char* error = split(cleaned, p)) {
        return error;
    }
    if (p.scheme.empty()) {
        return "no scheme (http:// or https://)";
    }
    if (const char* error = check_scheme(p.scheme, out)) {
        return error;
    }
    if (!p.has_authority) {
        return "no '//' and host after the scheme";
    }
    if (const char* error = parse_authority(p.authority, out)) {
        return error;
    }
    out.target = make_target(p.path, p.has_query, p.query);
    return nullptr;
}

} // namespace

url url::parse(std::string_view text) {
    url u;
    if (const char* error = parse_into(text, u)) {
        throw std::invalid_argument("http: invalid URL '" + std::string(text) + "': " + error);
    }
    return u;
}

std::optional<url> url::try_parse(std::string_view text) noexcept {
    try {
        url u;
        if (parse_into(text, u) != nullptr) {
            return std::nullopt;
        }
        return u;
    } catch (...) { // out of memory
        return std::nullopt;
    }
}

std::optional<url> url::resolve(std::string_view ref_text) const {
    const std::string cleaned = clean(ref_text);
    parts r;
    if (split(cleaned, r) != nullptr) {
        return std::nullopt;
    }
    // "http:g" with the base's own scheme is taken as relative (RFC 3986 §5.2.2, the
    // non-strict parser that older links need).
    if (!r.scheme.empty() && !r.has_authority && iequals(r.scheme, scheme)) {
        r.scheme = {};
    }
    const std::string_view base = target;
    const std::size_t base_q = base.find('?');
    const std::string_view base_path = base.substr(0, base_q);

    url t;
    std::string path;
    bool has_query = r.has_query;
    std::string_view query = r.query;
    if (!r.scheme.empty() || r.has_authority) {
        if (!r.scheme.empty()) {
            if (check_scheme(r.scheme, t) != nullptr || !r.has_authority) {
                return std::nullopt;
            }
        } else {
            t.scheme = scheme;
        }
        if (parse_authority(r.authority, t) != nullptr) {
            return std::nullopt;
        }
        path = remove_dot_segments(r.path);
    } else {
        t.scheme = scheme;
        t.host = host;
        t.port = port;
        if (r.path.empty()) {
            path = base_path;
            if (!r.has_query && base_q != std::string_view::npos) {
                has_query = true;
                query = base.substr(base_q + 1);
            }
        } else if (r.path[0] == '/') {
            path = remove_dot_segments(r.path);
        } else {
            // Merge (§5.2.3): the base path up to its last '/', then the reference.
            const std::size_t slash = base_path.rfind('/');
            std::string merged = slash == std::string_view::npos
                                     ? std::string("/")
                                     : std::string(base_path.substr(0, slash + 1));
            merged += r.path;
            path = remove_dot_segments(merged);
        }
    }
    t.target = make_target(path, has_query, query);
    return t;
}

std::string url::authority() const {
    std::string out;
    out.reserve(host.size() + 8);
    const bool ipv6 = host.find(':') != std::string::npos;
    if (ipv6) {
        out += '[';
    }
    out += host;
    if (ipv6) {
        out += ']';
    }
    if (port != default_port(scheme)) {
        out += ':';
        out += std::to_string(port);
    }
    return out;
}

std::string url::str() const {
    return scheme + "://" + authority() + target;
}

} // namespace corio::http
