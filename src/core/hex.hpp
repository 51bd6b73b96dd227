#pragma once
// One hexadecimal digit's value, for the parsers that read hex (the TLS keylog's secrets,
// percent-escapes in paths).

namespace corio::detail {

/// The value of the hex digit `c` (0-9, a-f, A-F), or -1.
constexpr int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

} // namespace corio::detail
