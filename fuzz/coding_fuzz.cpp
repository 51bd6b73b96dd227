// libFuzzer target: http::decoder and http::encoder (<corio/http/coding.hpp>).
//
// Input: one byte choosing the coding, one choosing how the rest is cut into pieces and how
// much each feed_some may produce, then the coded bytes. Checked: decoding in pieces
// (feed_some with small budgets, then finish) gives what decoding whole gives, or both
// fail; no call appends more than it was allowed; the limit is never passed; and the
// bytes, coded by the encoder (fed in the same pieces, flushed between them), decode back
// to themselves.

#include <corio/http/coding.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

using namespace corio::http;

[[noreturn]] void violated(const char* what, int line) {
    std::fprintf(stderr, "coding_fuzz: invariant violated: %s (line %d)\n", what, line);
    std::abort();
}

#define CHECK(condition)                                                                           \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            violated(#condition, __LINE__);                                                        \
        }                                                                                          \
    } while (false)

constexpr std::size_t limit = 1024 * 1024;

/// Decoded whole, or nothing if it failed.
std::optional<std::string> whole(content_coding c, std::string_view in) {
    try {
        return decode(c, in, limit);
    } catch (const protocol_error&) {
        return std::nullopt;
    }
}

/// Decoded in pieces of the sizes `seed` picks, each feed_some allowed a small budget.
std::optional<std::string> in_pieces(content_coding c, std::string_view in, std::uint8_t seed) {
    try {
        decoder d(c, limit);
        std::string out;
        std::size_t at = 0;
        std::uint32_t x = seed * 2654435761U + 1;
        while (true) {
            x = x * 1103515245U + 12345U;
            const std::size_t size = std::min<std::size_t>(in.size() - at, 1 + (x >> 16) % 97);
            const std::size_t budget = 1 + (x >> 8) % 5000;
            const std::size_t before = out.size();
            const std::size_t used = d.feed_some(in.substr(at, size), out, budget);
            CHECK(used <= size);
            CHECK(out.size() - before <= budget);
            CHECK(out.size() <= limit);
            at += used;
            // Done when all input is used and the decoder holds nothing back.
            if (at == in.size() && out.size() - before < budget) {
                break;
            }
        }
        d.finish(out);
        CHECK(out.size() <= limit);
        return out;
    } catch (const protocol_error&) {
        return std::nullopt;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const auto c = static_cast<content_coding>(data[0] % 4);
    const std::uint8_t seed = data[1];
    const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

    const std::optional<std::string> a = whole(c, in);
    const std::optional<std::string> b = in_pieces(c, in, seed);
    CHECK(a.has_value() == b.has_value());
    if (a) {
        CHECK(*a == *b);
    }

    // The bytes as a body: coded in pieces (flushed between them), decoded back.
    encoder e(c, seed % 2 == 0 ? -1 : 1);
    std::string coded;
    for (std::size_t at = 0; at < in.size(); at += 1 + seed % 61) {
        e.feed(in.substr(at, 1 + seed % 61), coded);
        if (seed % 3 == 0) {
            e.flush(coded);
        }
    }
    e.finish(coded);
    CHECK(decode(c, coded, in.size()) == in);
    return 0;
}
