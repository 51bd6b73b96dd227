#pragma once
// What src/http/*.cpp share: optional whitespace, ASCII case folding for HTTP's
// case-insensitive tokens (field names, codings, schemes; never the locale's, as RFC 9110
// §5.1 says), and the serializers the connection state machine (h1/connection.cpp) calls.

#include "corio/http/message.hpp"

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace corio::http::detail {

/// Optional whitespace (RFC 9110 §5.6.3): a space or a horizontal tab.
constexpr bool is_ows(char c) noexcept {
    return c == ' ' || c == '\t';
}

/// `s` without the optional whitespace at either end.
constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ows(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

/// `a` equals `b`, ASCII case ignored on both sides.
constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i] && ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

/// `a` equals `lower_b`, which is already lower case: one side folded.
constexpr bool ascii_iequals_lower(std::string_view a, std::string_view lower_b) noexcept {
    if (a.size() != lower_b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != lower_b[i]) {
            return false;
        }
    }
    return true;
}

/// serialize(r, out, head_only) with `extra_fields` (whole "Name: value\r\n" lines; empty
/// ones skipped) right after the status line: the server's Server, Date and Connection,
/// written without adding them to the handler's response. `to_http_1_0`: the response
/// answers an HTTP/1.0 request, which knows no chunked coding: `Transfer-Encoding: chunked`
/// is replaced by the body's Content-Length (any other coding is refused).
/// \throws std::invalid_argument as serialize, before anything is appended.
void serialize_response(const response& r, std::string& out, bool head_only, bool to_http_1_0,
                        std::initializer_list<std::string_view> extra_fields);

/// The head of `r` for a body sent after it (empty in `r`): its Content-Length and
/// Transfer-Encoding as given (checked as serialize checks them; neither: the body runs
/// until the connection closes), none added, no body written; `extra_fields` as for
/// serialize_response. `to_http_1_0` must not meet a Transfer-Encoding (nothing could
/// replace it by the length of a body not known yet): the caller refuses that.
/// \throws std::invalid_argument as serialize, before anything is appended.
void serialize_response_head(const response& r, std::string& out, bool to_http_1_0,
                             std::initializer_list<std::string_view> extra_fields);

/// The head of `r` for a body sent after it: its Content-Length and Transfer-Encoding as
/// given (checked as serialize checks them; neither: no body), no body written.
/// \throws std::invalid_argument as serialize, before anything is appended.
void serialize_request_head(const request& r, std::string& out);

} // namespace corio::http::detail
