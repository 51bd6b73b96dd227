#pragma once
// What both HTTP fuzz targets' round trips compare with: the framing fields as the
// serializers write them.

#include <corio/http/message.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace corio_fuzz {

using corio::http::headers;

/// The Content-Length value as serialize() writes it: the number of the field's first item
/// (leading zeros dropped, saturating at 2^64-1 as the parser does).
inline std::string canonical_length(std::string_view value) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
    }
    std::uint64_t n = 0;
    constexpr std::uint64_t max = static_cast<std::uint64_t>(-1);
    for (const char c : value) {
        if (c < '0' || c > '9') {
            break;
        }
        n = n > (max - 9) / 10 ? max : n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return std::to_string(n);
}

/// `a`, ASCII case ignored, equals the lower-case `b`.
inline bool lower_equals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x >= 'A' && x <= 'Z' ? static_cast<char>(x + 32) : x) == y;
           });
}

/// `h` as serialize() writes it: one Content-Length field, spelt so, in the place of the first,
/// with its canonical value; with `drop_framing`, no Content-Length or Transfer-Encoding at all.
inline headers canonical_framing(const headers& h, bool drop_framing) {
    headers out;
    bool length = false;
    for (const auto& [name, value] : h) {
        const bool is_length = lower_equals(name, "content-length");
        const bool is_coding = lower_equals(name, "transfer-encoding");
        if (is_length) {
            if (!drop_framing && !length) {
                out.add("Content-Length", canonical_length(value));
                length = true;
            }
            continue;
        }
        if (is_coding && drop_framing) {
            continue;
        }
        out.add(name, value);
    }
    return out;
}

} // namespace corio_fuzz
