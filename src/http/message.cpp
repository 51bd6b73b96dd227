// HTTP/1.1 messages: header lookups (ASCII case ignored, RFC 9110 §5.1), the keep-alive
// rules of RFC 9112 §9.3, the standard reason phrases (RFC 9110 §15) and protocol_error.

#include "corio/http/message.hpp"

#include "common.hpp"

#include <algorithm>

namespace corio::http {

namespace {

using detail::ascii_iequals;
using detail::is_ows;
using detail::trim_ows;

/// Whether the comma-separated list `value` holds `token` (ASCII case ignored).
bool list_has(std::string_view value, std::string_view token) noexcept {
    while (true) {
        const std::size_t comma = value.find(',');
        if (ascii_iequals(trim_ows(value.substr(0, comma)), token)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            return false;
        }
        value.remove_prefix(comma + 1);
    }
}

/// RFC 9112 §9.3: persistent by default in HTTP/1.1, opt-in in HTTP/1.0.
bool persistent(int version_minor, const headers& h) {
    if (version_minor >= 1) {
        return !h.has_token("Connection", "close");
    }
    return h.has_token("Connection", "keep-alive") && !h.has_token("Connection", "close");
}

/// Whether `target` is in absolute form ("http://host/path"): its scheme and "://".
std::size_t absolute_prefix(std::string_view target) noexcept {
    const std::size_t sep = target.find("://");
    if (sep == std::string_view::npos || sep == 0) {
        return 0;
    }
    for (std::size_t i = 0; i < sep; ++i) {
        const char c = target[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
        if (!alpha && (i == 0 || !other)) {
            return 0;
        }
    }
    return sep + 3;
}

/// The path and query of `target`, the authority of an absolute-form target skipped.
std::string_view origin_part(std::string_view target) noexcept {
    if (const std::size_t skip = absolute_prefix(target); skip != 0) {
        target.remove_prefix(skip);
        const std::size_t start = target.find_first_of("/?#");
        if (start == std::string_view::npos) {
            return {};
        }
        target.remove_prefix(start);
    }
    if (const std::size_t hash = target.find('#'); hash != std::string_view::npos) {
        target = target.substr(0, hash);
    }
    return target;
}

} // namespace

// --- headers ---------------------------------------------------------------------------

void headers::add(std::string name, std::string value) {
    m_fields.emplace_back(std::move(name), std::move(value));
}

void headers::set(std::string name, std::string value) {
    auto it = std::find_if(m_fields.begin(), m_fields.end(),
                           [&](const value_type& f) { return ascii_iequals(f.first, name); });
    if (it == m_fields.end()) {
        m_fields.emplace_back(std::move(name), std::move(value));
        return;
    }
    const std::size_t keep = static_cast<std::size_t>(it - m_fields.begin());
    // Later fields of the name go; the first takes the new spelling and value in place.
    m_fields.erase(
        std::remove_if(it + 1, m_fields.end(),
                       [&](const value_type& f) { return ascii_iequals(f.first, name); }),
        m_fields.end());
    m_fields[keep].first = std::move(name);
    m_fields[keep].second = std::move(value);
}

std::optional<std::string_view> headers::get(std::string_view name) const {
    for (const auto& f : m_fields) {
        if (ascii_iequals(f.first, name)) {
            return std::string_view(f.second);
        }
    }
    return std::nullopt;
}

std::vector<std::string_view> headers::get_all(std::string_view name) const {
    std::vector<std::string_view> values;
    for (const auto& f : m_fields) {
        if (ascii_iequals(f.first, name)) {
            values.emplace_back(f.second);
        }
    }
    return values;
}

bool headers::contains(std::string_view name) const {
    return std::any_of(m_fields.begin(), m_fields.end(),
                       [&](const value_type& f) { return ascii_iequals(f.first, name); });
}

bool headers::has_token(std::string_view name, std::string_view token) const {
    return std::any_of(m_fields.begin(), m_fields.end(), [&](const value_type& f) {
        return ascii_iequals(f.first, name) && list_has(f.second, token);
    });
}

std::size_t headers::erase(std::string_view name) {
    const auto first = std::remove_if(m_fields.begin(), m_fields.end(), [&](const value_type& f) {
        return ascii_iequals(f.first, name);
    });
    const auto removed = static_cast<std::size_t>(m_fields.end() - first);
    m_fields.erase(first, m_fields.end());
    return removed;
}

// --- request, response -------------------------------------------------------------------

bool request::keep_alive() const {
    return persistent(version_minor, headers);
}

std::string_view request::path() const {
    const std::string_view origin = origin_part(target);
    const std::string_view path = origin.substr(0, origin.find('?'));
    if (path.empty() && absolute_prefix(target) != 0) {
        return "/";
    }
    return path;
}

std::string_view request::query() const {
    const std::string_view origin = origin_part(target);
    const std::size_t q = origin.find('?');
    return q == std::string_view::npos ? std::string_view{} : origin.substr(q + 1);
}

bool response::keep_alive() const {
    return persistent(version_minor, headers);
}

// --- reason phrases, errors --------------------------------------------------------------

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 102:
        return "Processing";
    case 103:
        return "Early Hints";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 207:
        return "Multi-Status";
    case 208:
        return "Already Reported";
    case 226:
        return "IM Used";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 305:
        return "Use Proxy";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 407:
        return "Proxy Authentication Required";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 423:
        return "Locked";
    case 424:
        return "Failed Dependency";
    case 425:
        return "Too Early";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 451:
        return "Unavailable For Legal Reasons";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 506:
        return "Variant Also Negotiates";
    case 507:
        return "Insufficient Storage";
    case 508:
        return "Loop Detected";
    case 511:
        return "Network Authentication Required";
    default:
        return "Unknown";
    }
}

protocol_error::protocol_error(int status, const std::string& what)
    : std::runtime_error(what), m_status(status) {}

protocol_error::~protocol_error() = default;

} // namespace corio::http
