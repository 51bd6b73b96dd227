#pragma once
// The grammar of HTTP/1.1 that the parsers (parser.cpp) and the serializers (serialize.cpp)
// share: byte classes, the checks of the framing fields (Content-Length,
// Transfer-Encoding), Host, the chunk-size line, and the protocol_error a malformed message
// raises.

#include "common.hpp"

#include "corio/http/message.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace corio::http::detail {

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

inline constexpr std::array<std::uint8_t, 256> classes = make_classes();

inline bool is(char c, std::uint8_t k) noexcept {
    return (classes[static_cast<unsigned char>(c)] & k) != 0;
}

inline bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

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

/// `a` equals the lower-case `lower_b`, ASCII case ignored.
constexpr bool iequals(std::string_view a, std::string_view lower_b) noexcept {
    return ascii_iequals_lower(a, lower_b);
}

// --- Errors ------------------------------------------------------------------------------

/// Throw protocol_error(status, what).
[[noreturn]] void fail(int status, const std::string& what);
/// Throw protocol_error(400, what).
[[noreturn]] void malformed(const char* what);
/// A scan stopped at `q` (before `e`) on a byte its grammar does not allow there. A NUL,
/// a bare CR or a bare LF is reported as such, anything else as `what`.
[[noreturn]] void bad_byte(const char* q, const char* e, const char* what);

// --- Fields ------------------------------------------------------------------------------

/// Content-Length (RFC 9112 §6.3): 1*DIGIT, or a list of identical such values ("5, 5").
/// Saturates rather than overflows: any huge value is over max_body anyway.
enum class length_parse : std::uint8_t { ok, not_a_number, differs };
length_parse parse_length(std::string_view v, std::uint64_t& out) noexcept;

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
/// in chunked, which is the only one corio decodes. \throws protocol_error (400, 501).
void check_codings(const headers& h);

/// Host (RFC 9112 §3.2, RFC 3986 §3.2.2): uri-host [":" port], or empty.
/// \throws protocol_error (400).
void check_host(std::string_view v);

/// A chunk-size line, CRLF included: the size. \throws protocol_error (400).
std::uint64_t parse_chunk_size(std::string_view line);

} // namespace corio::http::detail
