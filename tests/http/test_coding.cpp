// Content codings: names and the Content-Encoding and Accept-Encoding fields (RFC 9110
// §8.4, §12.5.3); round trips of every coding at several sizes, whole and byte by byte;
// flush; streams cut short, corrupt or followed by data; the output limit against a
// gigabyte bomb; fixed streams made by Python's gzip and zlib modules and by Node.js's
// brotli; raw deflate and multi-member gzip; reuse, moves and misuse.

#include <corio/errors.hpp>
#include <corio/http/coding.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using corio::http::coding_name;
using corio::http::coding_quality;
using corio::http::content_coding;
using corio::http::decoder;
using corio::http::encoder;
using corio::http::protocol_error;
using namespace std::string_view_literals;

namespace {

constexpr std::array<content_coding, 4> all_codings{content_coding::identity, content_coding::gzip,
                                                    content_coding::deflate, content_coding::br};
constexpr std::array<content_coding, 3> compressing{content_coding::gzip, content_coding::deflate,
                                                    content_coding::br};
constexpr std::size_t no_limit = static_cast<std::size_t>(-1);
constexpr std::size_t kib = 1024;
constexpr std::size_t mib = kib * kib;

// Fixed streams, made on Debian 12 by Python 3.11.2 (its zlib 1.2.13) and Node.js 20 (its
// brotli 1.1.0), not by the code under test, each printed as \x escapes:
//
//   /usr/bin/python3 <<'EOF'
//   import gzip, io, zlib
//   buf = io.BytesIO()
//   with gzip.GzipFile(filename="hello.txt", mode="wb", fileobj=buf, mtime=0) as f:
//       f.write(b"Hello from Python's gzip module.\n")
//   python_gzip_named = buf.getvalue()
//   python_zlib = zlib.compress(b"Hello from Python's zlib.compress.\n", 9)
//   co = zlib.compressobj(9, zlib.DEFLATED, -15)
//   python_raw = co.compress(b"Raw deflate, as some servers send it.\n") + co.flush()
//   python_gzip_members = (gzip.compress(b"first member\n", mtime=0) +
//                          gzip.compress(b"second member\n", mtime=0))
//   co = zlib.compressobj(9, zlib.DEFLATED, 15, zdict=b"a shared dictionary")
//   python_zlib_with_dictionary = (
//       co.compress(b"a shared dictionary, used twice: a shared dictionary\n") + co.flush())
//   EOF
//   node -e 'console.log(require("zlib").brotliCompressSync(
//       Buffer.from("Hello from Node.js brotli. ".repeat(20))))'      # node_brotli

// gzip with FNAME "hello.txt" and mtime 0 in its header.
constexpr std::string_view python_gzip_named =
    "\x1f\x8b\x08\x08\x00\x00\x00\x00\x02\xff\x68\x65\x6c\x6c\x6f\x2e\x74\x78\x74\x00"
    "\xf3\x48\xcd\xc9\xc9\x57\x48\x2b\xca\xcf\x55\x08\xa8\x2c\xc9\xc8\xcf\x53\x2f\x56"
    "\x48\xaf\xca\x2c\x50\xc8\xcd\x4f\x29\xcd\x49\xd5\xe3\x02\x00\x8a\x74\xcc\x4a\x21"
    "\x00\x00\x00"sv;
constexpr std::string_view python_gzip_named_text = "Hello from Python's gzip module.\n";

constexpr std::string_view python_zlib =
    "\x78\xda\xf3\x48\xcd\xc9\xc9\x57\x48\x2b\xca\xcf\x55\x08\xa8\x2c\xc9\xc8\xcf\x53"
    "\x2f\x56\xa8\xca\xc9\x4c\xd2\x4b\xce\xcf\x2d\x28\x4a\x2d\x2e\xd6\xe3\x02\x00\xe7"
    "\x67\x0c\xa8"sv;
constexpr std::string_view python_zlib_text = "Hello from Python's zlib.compress.\n";

constexpr std::string_view python_raw =
    "\x0b\x4a\x2c\x57\x48\x49\x4d\xcb\x49\x2c\x49\xd5\x51\x48\x2c\x56\x28\xce\xcf\x4d"
    "\x55\x28\x4e\x2d\x2a\x4b\x2d\x02\x72\x52\xf3\x52\x14\x32\x4b\xf4\xb8\x00"sv;
constexpr std::string_view python_raw_text = "Raw deflate, as some servers send it.\n";

constexpr std::string_view python_gzip_members =
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\x4b\xcb\x2c\x2a\x2e\x51\xc8\x4d\xcd\x4d"
    "\x4a\x2d\xe2\x02\x00\xa7\xf4\x85\x0a\x0d\x00\x00\x00\x1f\x8b\x08\x00\x00\x00\x00"
    "\x00\x02\x03\x2b\x4e\x4d\xce\xcf\x4b\x51\xc8\x4d\xcd\x4d\x4a\x2d\xe2\x02\x00\x36"
    "\x18\x4b\x0e\x0e\x00\x00\x00"sv;
constexpr std::string_view python_gzip_members_text = "first member\nsecond member\n";

// The zlib format with FDICT set: it needs a dictionary HTTP has no way to name.
constexpr std::string_view python_zlib_with_dictionary =
    "\x78\xf9\x45\x7b\x07\x4f\x4b\xc4\x14\xd2\x51\x28\x2d\x06\x0a\x94\x94\x67\x26\xa7"
    "\x5a\x29\x60\x51\xc0\x05\x00\x08\x90\x13\x3a"sv;

constexpr std::string_view node_brotli =
    "\x1b\x1b\x02\xf8\x8d\x94\x6e\xde\x34\xb7\xb1\x75\x7d\xd3\xe5\x19\x51\xa3\x08\x84"
    "\x2a\x17\xba\x52\x84\xc1\x52\x01\x25\xac\xae\xee\xca\x59\xe6\x11\xe7\xdb\x00"sv;

std::string node_brotli_text() {
    std::string text;
    for (int i = 0; i < 20; ++i) {
        text += "Hello from Node.js brotli. ";
    }
    return text;
}

std::string random_bytes(std::size_t n, std::uint64_t seed = 1) {
    std::mt19937_64 rng(seed);
    std::string s(n, '\0');
    for (char& c : s) {
        c = static_cast<char>(rng() & 0xff);
    }
    return s;
}

/// Text-like data: repeated words with numbers, compressing some 5 to 10 times.
std::string compressible_bytes(std::size_t n) {
    std::string s;
    s.reserve(n + 64);
    for (std::size_t line = 0; s.size() < n; ++line) {
        s += "line " + std::to_string(line) + ": the quick brown fox jumps over " +
             std::to_string(line * 7919 % 1000) + " lazy dogs\n";
    }
    s.resize(n);
    return s;
}

/// Encode `in` with `c`, feeding it in pieces of `piece` bytes.
std::string encode_in_pieces(content_coding c, std::string_view in, std::size_t piece,
                             int level = -1) {
    encoder e(c, level);
    std::string out;
    for (std::size_t at = 0; at < in.size(); at += piece) {
        e.feed(in.substr(at, piece), out);
    }
    e.finish(out);
    return out;
}

/// Decode `in` with `c`, feeding it in pieces of `piece` bytes.
std::string decode_in_pieces(content_coding c, std::string_view in, std::size_t piece,
                             std::size_t max_output = no_limit) {
    decoder d(c, max_output);
    std::string out;
    for (std::size_t at = 0; at < in.size(); at += piece) {
        d.feed(in.substr(at, piece), out);
    }
    d.finish(out);
    return out;
}

/// What decoding `in` whole with `c` throws: its status and message.
struct rejection {
    int status = 0;
    std::string what;
};
std::optional<rejection> rejection_of(content_coding c, std::string_view in,
                                      std::size_t max_output = no_limit) {
    try {
        (void)corio::http::decode(c, in, max_output);
    } catch (const protocol_error& e) {
        return rejection{e.status(), e.what()};
    }
    return std::nullopt;
}

/// Decoding `in` is refused with `status` and a message holding `words`.
void expect_rejected(content_coding c, std::string_view in, int status, std::string_view words,
                     std::size_t max_output = no_limit) {
    const auto r = rejection_of(c, in, max_output);
    ASSERT_TRUE(r.has_value()) << coding_name(c) << " accepted it";
    EXPECT_EQ(r->status, status) << r->what;
    EXPECT_NE(r->what.find(words), std::string::npos)
        << "message '" << r->what << "' does not say '" << words << "'";
}

std::string name(content_coding c) {
    return std::string(coding_name(c));
}

// --- Names and fields --------------------------------------------------------------------

TEST(http_coding, names_and_parses_every_coding) {
    for (const content_coding c : all_codings) {
        EXPECT_EQ(corio::http::parse_coding(coding_name(c)), c) << name(c);
    }
    EXPECT_EQ(coding_name(content_coding::gzip), "gzip");
    EXPECT_EQ(coding_name(content_coding::deflate), "deflate");
    EXPECT_EQ(coding_name(content_coding::br), "br");
    EXPECT_EQ(coding_name(content_coding::identity), "identity");
}

TEST(http_coding, parse_coding_ignores_case_and_knows_x_gzip) {
    EXPECT_EQ(corio::http::parse_coding("GZip"), content_coding::gzip);
    EXPECT_EQ(corio::http::parse_coding("x-gzip"), content_coding::gzip);
    EXPECT_EQ(corio::http::parse_coding("X-GZIP"), content_coding::gzip);
    EXPECT_EQ(corio::http::parse_coding("BR"), content_coding::br);
    EXPECT_EQ(corio::http::parse_coding("Deflate"), content_coding::deflate);
    EXPECT_EQ(corio::http::parse_coding("compress"), std::nullopt);
    EXPECT_EQ(corio::http::parse_coding("zstd"), std::nullopt);
    EXPECT_EQ(corio::http::parse_coding("*"), std::nullopt);
    EXPECT_EQ(corio::http::parse_coding(""), std::nullopt);
    EXPECT_EQ(corio::http::parse_coding(" gzip"), std::nullopt);
}

TEST(http_coding, content_encoding_lists_codings_in_the_order_applied) {
    using v = std::vector<content_coding>;
    using corio::http::parse_content_encoding;
    EXPECT_EQ(parse_content_encoding("gzip"), v{content_coding::gzip});
    EXPECT_EQ(parse_content_encoding("deflate, gzip"),
              (v{content_coding::deflate, content_coding::gzip}));
    EXPECT_EQ(parse_content_encoding(" BR ,\tx-gzip "),
              (v{content_coding::br, content_coding::gzip}));
    EXPECT_EQ(parse_content_encoding("identity"), v{});
    EXPECT_EQ(parse_content_encoding("identity, gzip, identity"), v{content_coding::gzip});
    EXPECT_EQ(parse_content_encoding(""), v{});
    EXPECT_EQ(parse_content_encoding(", ,gzip,,"), v{content_coding::gzip});
}

TEST(http_coding, content_encoding_refuses_unknown_codings_with_415) {
    for (const std::string_view value : {"compress"sv, "gzip, zstd"sv, "gzip;q=1"sv, "*"sv}) {
        try {
            (void)corio::http::parse_content_encoding(value);
            ADD_FAILURE() << "accepted " << value;
        } catch (const protocol_error& e) {
            EXPECT_EQ(e.status(), 415);
            EXPECT_NE(std::string_view(e.what()).find("unsupported content coding"),
                      std::string_view::npos)
                << e.what();
        }
    }
    try {
        (void)corio::http::parse_content_encoding("compress");
    } catch (const protocol_error& e) {
        EXPECT_STREQ(e.what(), "http: unsupported content coding \"compress\"");
    }
}

TEST(http_coding, content_encoding_refuses_too_many_codings) {
    EXPECT_EQ(corio::http::parse_content_encoding("gzip, gzip, gzip, gzip, gzip").size(),
              corio::http::max_content_codings);
    try {
        (void)corio::http::parse_content_encoding("gzip, gzip, gzip, gzip, gzip, gzip");
        ADD_FAILURE() << "six codings accepted";
    } catch (const protocol_error& e) {
        EXPECT_EQ(e.status(), 415);
        EXPECT_NE(std::string_view(e.what()).find("more than 5"), std::string_view::npos)
            << e.what();
    }
}

TEST(http_coding, accept_encoding_value_names_every_coding) {
    EXPECT_EQ(corio::http::accept_encoding_value(), "gzip, deflate, br");
    for (const content_coding c : compressing) {
        EXPECT_EQ(coding_quality(corio::http::accept_encoding_value(), c), 1000) << name(c);
    }
}

// --- Accept-Encoding ---------------------------------------------------------------------

content_coding choose(std::string_view field) {
    return corio::http::choose_coding(field);
}

TEST(http_coding, choose_follows_the_examples_of_rfc_9110) {
    // RFC 9110 §12.5.3's examples.
    EXPECT_EQ(choose("compress, gzip"), content_coding::gzip);
    EXPECT_EQ(choose(""), content_coding::identity);
    EXPECT_EQ(choose("*"), content_coding::br);
    EXPECT_EQ(choose("compress;q=0.5, gzip;q=1.0"), content_coding::gzip);
    EXPECT_EQ(choose("gzip;q=1.0, identity; q=0.5, *;q=0"), content_coding::gzip);
}

TEST(http_coding, choose_prefers_br_then_gzip_then_deflate_among_equal_weights) {
    EXPECT_EQ(choose("gzip, deflate, br"), content_coding::br);
    EXPECT_EQ(choose("deflate, gzip"), content_coding::gzip);
    EXPECT_EQ(choose("deflate"), content_coding::deflate);
    EXPECT_EQ(choose("br;q=0.5, gzip;q=0.5, deflate;q=0.5"), content_coding::br);
}

TEST(http_coding, choose_takes_the_highest_weight) {
    EXPECT_EQ(choose("deflate, gzip;q=0.9"), content_coding::deflate);
    EXPECT_EQ(choose("br;q=0.1, gzip;q=0.2"), content_coding::gzip);
    EXPECT_EQ(choose("br;q=0.001, deflate;q=0.002"), content_coding::deflate);
    EXPECT_EQ(choose("*;q=0.5, gzip"), content_coding::gzip);
    EXPECT_EQ(choose("*;q=0.5, br;q=0.2"), content_coding::gzip);
}

TEST(http_coding, choose_never_picks_a_refused_coding) {
    EXPECT_EQ(choose("br;q=0"), content_coding::identity);
    EXPECT_EQ(choose("br;q=0, *"), content_coding::gzip);
    EXPECT_EQ(choose("br;q=0, gzip;q=0, *"), content_coding::deflate);
    EXPECT_EQ(choose("*;q=0"), content_coding::identity);
    EXPECT_EQ(choose("gzip;q=0.000"), content_coding::identity);
}

TEST(http_coding, choose_picks_identity_when_it_weighs_more) {
    EXPECT_EQ(choose("identity, gzip;q=0.5"), content_coding::identity);
    EXPECT_EQ(choose("identity;q=0.5, gzip;q=0.5"), content_coding::gzip);
    EXPECT_EQ(choose("gzip;q=0.001"), content_coding::gzip); // identity unlisted: last
}

TEST(http_coding, choose_gives_identity_without_a_field_or_a_known_coding) {
    EXPECT_EQ(corio::http::choose_coding(std::nullopt), content_coding::identity);
    EXPECT_EQ(choose("compress, zstd"), content_coding::identity);
    EXPECT_EQ(choose("identity"), content_coding::identity);
    EXPECT_EQ(choose(" , ,"), content_coding::identity);
}

TEST(http_coding, identity_refused_leaves_nothing_acceptable) {
    EXPECT_EQ(choose("identity;q=0"), content_coding::identity);
    EXPECT_EQ(coding_quality("identity;q=0", content_coding::identity), 0);
    EXPECT_EQ(coding_quality("*;q=0", content_coding::identity), 0);
    EXPECT_EQ(coding_quality("*;q=0, identity", content_coding::identity), 1000);
    EXPECT_EQ(coding_quality("gzip", content_coding::identity), 1);
    EXPECT_EQ(coding_quality("", content_coding::identity), 1);
    EXPECT_EQ(choose("identity;q=0, gzip"), content_coding::gzip);
}

TEST(http_coding, choose_ignores_case_and_whitespace) {
    EXPECT_EQ(choose("GZIP"), content_coding::gzip);
    EXPECT_EQ(choose("  Br ; Q=0.5 ,\tgzip;q=0.4"), content_coding::br);
    EXPECT_EQ(choose("x-gzip"), content_coding::gzip);
    EXPECT_EQ(choose("gzip\t;\tq=0.5"), content_coding::gzip);
}

TEST(http_coding, qvalues_are_read_to_the_thousandth) {
    EXPECT_EQ(coding_quality("gzip;q=0.5", content_coding::gzip), 500);
    EXPECT_EQ(coding_quality("gzip;q=0.123", content_coding::gzip), 123);
    EXPECT_EQ(coding_quality("gzip;q=0.05", content_coding::gzip), 50);
    EXPECT_EQ(coding_quality("gzip;q=1.000", content_coding::gzip), 1000);
    EXPECT_EQ(coding_quality("gzip;q=1.", content_coding::gzip), 1000);
    EXPECT_EQ(coding_quality("gzip;q=0.", content_coding::gzip), 0);
    EXPECT_EQ(coding_quality("gzip;q=0", content_coding::gzip), 0);
    EXPECT_EQ(coding_quality("gzip", content_coding::gzip), 1000);
    EXPECT_EQ(coding_quality("gzip", content_coding::br), 0);
    EXPECT_EQ(coding_quality("*;q=0.3", content_coding::br), 300);
}

TEST(http_coding, a_malformed_weight_drops_its_entry) {
    // Each malformed entry counts as absent: gzip is then not acceptable.
    for (const std::string_view field :
         {"gzip;q=2"sv, "gzip;q=1.5"sv, "gzip;q=1.001"sv, "gzip;q=0.1234"sv, "gzip;q=0.5x"sv,
          "gzip;q=-1"sv, "gzip;q="sv, "gzip;q"sv, "gzip;q = 0.5"sv, "gzip;q= 0.5"sv, "gzip;q=.5"sv,
          "gzip;q=0.5;q=x"sv}) {
        EXPECT_EQ(coding_quality(field, content_coding::gzip), 0) << field;
        EXPECT_EQ(choose(field), content_coding::identity) << field;
    }
    // A malformed refusal of identity does not refuse it.
    EXPECT_EQ(coding_quality("identity;q=zero", content_coding::identity), 1);
    // Nor does a malformed entry spoil the others.
    EXPECT_EQ(choose("br;q=abc, gzip;q=0.5"), content_coding::gzip);
    // A name that is not a token is ignored.
    EXPECT_EQ(choose("gzip deflate"), content_coding::identity);
    EXPECT_EQ(choose("\"gzip\""), content_coding::identity);
}

TEST(http_coding, other_parameters_are_ignored_and_the_first_entry_counts) {
    EXPECT_EQ(coding_quality("gzip;level=9;q=0.5", content_coding::gzip), 500);
    EXPECT_EQ(coding_quality("gzip;;q=0.5", content_coding::gzip), 500);
    EXPECT_EQ(coding_quality("gzip;q=0, gzip", content_coding::gzip), 0);
    EXPECT_EQ(coding_quality("x-gzip;q=0.2, gzip;q=0.9", content_coding::gzip), 200);
}

TEST(http_coding, choose_among_the_codings_a_server_offers) {
    constexpr std::array<content_coding, 1> gzip_only{content_coding::gzip};
    constexpr std::array<content_coding, 2> deflate_first{content_coding::deflate,
                                                          content_coding::gzip};
    using corio::http::choose_coding;
    EXPECT_EQ(choose_coding("br, gzip", gzip_only), content_coding::gzip);
    EXPECT_EQ(choose_coding("br", gzip_only), content_coding::identity);
    EXPECT_EQ(choose_coding("*", deflate_first), content_coding::deflate);
    EXPECT_EQ(choose_coding("deflate;q=0.5, gzip", deflate_first), content_coding::gzip);
    EXPECT_EQ(choose_coding(std::nullopt, gzip_only), content_coding::identity);
    EXPECT_EQ(choose_coding("gzip", std::span<const content_coding>{}), content_coding::identity);
}

// --- Round trips -------------------------------------------------------------------------

TEST(http_coding, round_trips_every_coding_at_every_size) {
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, 64 * kib, 5 * mib}) {
        for (const bool random : {true, false}) {
            const std::string body = random ? random_bytes(size, size) : compressible_bytes(size);
            for (const content_coding c : all_codings) {
                SCOPED_TRACE(name(c) + ", " + std::to_string(size) +
                             (random ? " random bytes" : " text bytes"));
                const std::string coded = corio::http::encode(c, body);
                if (c == content_coding::identity) {
                    EXPECT_EQ(coded, body);
                } else if (!random && size >= 64 * kib) {
                    EXPECT_LT(coded.size(), body.size() / 4);
                }
                const std::string decoded = corio::http::decode(c, coded, size);
                EXPECT_EQ(decoded.size(), body.size());
                EXPECT_TRUE(decoded == body);
            }
        }
    }
}

TEST(http_coding, round_trips_in_one_byte_pieces) {
    std::string body = compressible_bytes(40 * kib) + random_bytes(24 * kib);
    for (const content_coding c : all_codings) {
        SCOPED_TRACE(name(c));
        const std::string coded = encode_in_pieces(c, body, 1);
        EXPECT_EQ(corio::http::decode(c, coded, no_limit), body);
        EXPECT_EQ(decode_in_pieces(c, coded, 1), body);
        // And in pieces that straddle the format's units at odd places.
        EXPECT_EQ(decode_in_pieces(c, corio::http::encode(c, body), 7), body);
    }
}

TEST(http_coding, round_trips_at_every_level) {
    const std::string body = compressible_bytes(64 * kib) + random_bytes(1000);
    for (const content_coding c : {content_coding::gzip, content_coding::deflate}) {
        for (int level = -1; level <= 9; ++level) {
            SCOPED_TRACE(name(c) + " level " + std::to_string(level));
            EXPECT_EQ(corio::http::decode(c, corio::http::encode(c, body, level), no_limit), body);
        }
    }
    for (int level = -1; level <= 11; ++level) {
        SCOPED_TRACE("br level " + std::to_string(level));
        EXPECT_EQ(corio::http::decode(content_coding::br,
                                      corio::http::encode(content_coding::br, body, level),
                                      no_limit),
                  body);
    }
    // Level 0 of zlib stores; higher levels compress more.
    EXPECT_GT(corio::http::encode(content_coding::gzip, body, 0).size(), body.size());
    EXPECT_LT(corio::http::encode(content_coding::gzip, body, 9).size(),
              corio::http::encode(content_coding::gzip, body, 1).size());
}

TEST(http_coding, levels_out_of_range_are_refused) {
    EXPECT_THROW(encoder(content_coding::gzip, 10), std::invalid_argument);
    EXPECT_THROW(encoder(content_coding::deflate, -2), std::invalid_argument);
    EXPECT_THROW(encoder(content_coding::br, 12), std::invalid_argument);
    EXPECT_NO_THROW(encoder(content_coding::identity, 42));
    try {
        encoder e(content_coding::gzip, 12);
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "http: gzip level 12 is out of range: -1, or 0 to 9");
    }
}

TEST(http_coding, values_outside_the_enumeration_are_refused) {
    const auto bad = static_cast<content_coding>(9);
    EXPECT_THROW((void)encoder(bad), std::invalid_argument);
    EXPECT_THROW(decoder(bad, 10), std::invalid_argument);
    EXPECT_EQ(coding_name(bad), "");
    EXPECT_EQ(coding_quality("*", bad), 0);
}

TEST(http_coding, gzip_is_written_without_name_or_time_and_deflate_as_zlib) {
    const std::string gz = corio::http::encode(content_coding::gzip, "hello");
    ASSERT_GE(gz.size(), 18U);
    EXPECT_EQ(gz.substr(0, 4), "\x1f\x8b\x08\x00"sv); // magic, deflate, no flags (no FNAME)
    EXPECT_EQ(gz.substr(4, 4), "\0\0\0\0"sv);         // mtime 0
    const std::string z = corio::http::encode(content_coding::deflate, "hello");
    ASSERT_GE(z.size(), 2U);
    EXPECT_EQ(static_cast<unsigned char>(z[0]), 0x78); // deflate, 32 KiB window
    EXPECT_EQ(((static_cast<unsigned char>(z[0]) << 8) | static_cast<unsigned char>(z[1])) % 31, 0);
}

TEST(http_coding, a_flush_makes_what_was_fed_decodable) {
    for (const content_coding c : all_codings) {
        SCOPED_TRACE(name(c));
        encoder e(c);
        decoder d(c, no_limit);
        std::string coded;
        std::string decoded;
        std::string sent;
        for (int event = 0; event < 5; ++event) {
            const std::string data = "data: event " + std::to_string(event) + "\n\n";
            sent += data;
            const std::size_t before = coded.size();
            e.feed(data, coded);
            e.flush(coded);
            d.feed(std::string_view(coded).substr(before), decoded);
            EXPECT_EQ(decoded, sent) << "after event " << event;
        }
        // A flush with nothing new is harmless.
        e.flush(coded);
        e.flush(coded);
        const std::size_t before = coded.size();
        e.finish(coded);
        d.feed(std::string_view(coded).substr(before), decoded);
        d.finish(decoded);
        EXPECT_EQ(decoded, sent);
        EXPECT_EQ(d.produced(), sent.size());
    }
}

TEST(http_coding, an_empty_body_is_accepted_in_every_coding) {
    for (const content_coding c : all_codings) {
        EXPECT_EQ(corio::http::decode(c, "", 0), "") << name(c);
        decoder d(c, 0);
        std::string out;
        d.feed("", out);
        EXPECT_NO_THROW(d.finish(out)) << name(c);
    }
}

TEST(http_coding, decodes_a_chain_of_codings_last_first) {
    const std::string body = compressible_bytes(10000);
    const std::string once = corio::http::encode(content_coding::deflate, body);
    const std::string twice = corio::http::encode(content_coding::gzip, once);
    const std::vector<content_coding> applied =
        corio::http::parse_content_encoding("deflate, gzip");
    EXPECT_EQ(corio::http::decode(applied, twice, no_limit), body);
    EXPECT_EQ(corio::http::decode(std::span<const content_coding>{}, body, no_limit), body);
    EXPECT_THROW((void)corio::http::decode(applied, twice, body.size() - 1), protocol_error);
}

TEST(http_coding, feed_some_appends_bounded_pieces) {
    // A mebibyte of zeros and some text: a few kilobytes coded, many pieces decoded.
    const std::string body = std::string(mib, '\0') + compressible_bytes(100000);
    constexpr std::size_t piece_size = 64 * kib;
    for (const content_coding c : all_codings) {
        SCOPED_TRACE(name(c));
        const std::string coded = corio::http::encode(c, body);
        decoder d(c, no_limit);
        std::string decoded;
        std::size_t used = 0;
        std::size_t pieces = 0;
        std::string piece;
        do {
            piece.clear();
            used += d.feed_some(std::string_view(coded).substr(used), piece, piece_size);
            ASSERT_LE(piece.size(), piece_size);
            decoded += piece;
            ++pieces;
        } while (used < coded.size() || piece.size() == piece_size);
        d.finish(decoded);
        EXPECT_TRUE(decoded == body);
        EXPECT_GE(pieces, body.size() / piece_size);
    }
}

TEST(http_coding, finish_appends_what_feed_some_held_back) {
    const std::string body(mib, 'z');
    for (const content_coding c : all_codings) {
        SCOPED_TRACE(name(c));
        const std::string coded = corio::http::encode(c, body);
        decoder d(c, no_limit);
        std::string decoded;
        // Each call appends at most 1000 bytes; stop once the input is used, whatever the
        // decoder still holds.
        std::size_t used = 0;
        while (used < coded.size()) {
            const std::size_t before = decoded.size();
            used += d.feed_some(std::string_view(coded).substr(used), decoded, 1000);
            ASSERT_LE(decoded.size() - before, 1000U);
        }
        d.finish(decoded);
        EXPECT_TRUE(decoded == body) << decoded.size();
    }
}

TEST(http_coding, feed_some_in_one_byte_steps_and_within_the_limit) {
    for (const content_coding c : all_codings) {
        SCOPED_TRACE(name(c));
        const std::string body = compressible_bytes(3000);
        const std::string coded = corio::http::encode(c, body);
        decoder d(c, no_limit);
        std::string decoded;
        EXPECT_EQ(d.feed_some(coded, decoded, 0), 0U);
        std::size_t used = 0;
        std::size_t appended = 1;
        while (used < coded.size() || appended == 1) {
            const std::size_t before = decoded.size();
            used += d.feed_some(std::string_view(coded).substr(used), decoded, 1);
            appended = decoded.size() - before;
        }
        d.finish(decoded);
        EXPECT_EQ(decoded, body);

        decoder limited(c, 2999);
        std::string out;
        EXPECT_THROW(
            {
                std::size_t at = 0;
                while (true) {
                    at += limited.feed_some(std::string_view(coded).substr(at), out, 100);
                }
            },
            protocol_error);
        EXPECT_EQ(out.size(), 2999U);
    }
}

// --- Streams from elsewhere --------------------------------------------------------------

TEST(http_coding, decodes_python_gzip_with_a_file_name) {
    EXPECT_EQ(corio::http::decode(content_coding::gzip, python_gzip_named, no_limit),
              python_gzip_named_text);
    EXPECT_EQ(decode_in_pieces(content_coding::gzip, python_gzip_named, 1), python_gzip_named_text);
}

TEST(http_coding, decodes_python_zlib_as_deflate) {
    EXPECT_EQ(corio::http::decode(content_coding::deflate, python_zlib, no_limit),
              python_zlib_text);
    EXPECT_EQ(decode_in_pieces(content_coding::deflate, python_zlib, 1), python_zlib_text);
}

TEST(http_coding, decodes_raw_deflate_as_deflate) {
    EXPECT_EQ(corio::http::decode(content_coding::deflate, python_raw, no_limit), python_raw_text);
    EXPECT_EQ(decode_in_pieces(content_coding::deflate, python_raw, 1), python_raw_text);
    // gzip is not deflate, and neither zlib nor raw deflate is gzip.
    expect_rejected(content_coding::gzip, python_raw, 400, "corrupt gzip body");
    expect_rejected(content_coding::gzip, python_zlib, 400, "corrupt gzip body");
    expect_rejected(content_coding::deflate, python_gzip_named, 400, "corrupt deflate body");
}

TEST(http_coding, decodes_every_gzip_member) {
    EXPECT_EQ(corio::http::decode(content_coding::gzip, python_gzip_members, no_limit),
              python_gzip_members_text);
    EXPECT_EQ(decode_in_pieces(content_coding::gzip, python_gzip_members, 1),
              python_gzip_members_text);
    // Members of its own, and zero padding between and after them (as GNU gzip allows).
    const std::string a = corio::http::encode(content_coding::gzip, "first ");
    const std::string b = corio::http::encode(content_coding::gzip, "second");
    const std::string padded = a + std::string(5, '\0') + b + std::string(3, '\0');
    EXPECT_EQ(corio::http::decode(content_coding::gzip, padded, no_limit), "first second");
    EXPECT_EQ(decode_in_pieces(content_coding::gzip, padded, 1), "first second");
}

TEST(http_coding, decodes_node_brotli) {
    EXPECT_EQ(corio::http::decode(content_coding::br, node_brotli, no_limit), node_brotli_text());
    EXPECT_EQ(decode_in_pieces(content_coding::br, node_brotli, 1), node_brotli_text());
}

TEST(http_coding, done_says_when_the_stream_has_ended) {
    for (const content_coding c : compressing) {
        SCOPED_TRACE(name(c));
        const std::string coded = corio::http::encode(c, "some body");
        decoder d(c, no_limit);
        std::string out;
        EXPECT_FALSE(d.done());
        d.feed(std::string_view(coded).substr(0, coded.size() - 1), out);
        EXPECT_FALSE(d.done());
        d.feed(std::string_view(coded).substr(coded.size() - 1), out);
        EXPECT_TRUE(d.done());
        EXPECT_EQ(out, "some body");
    }
    // gzip: not done again while a further member arrives.
    decoder d(content_coding::gzip, no_limit);
    std::string out;
    d.feed(python_gzip_members.substr(0, 33), out);
    EXPECT_TRUE(d.done());
    d.feed(python_gzip_members.substr(33, 12), out);
    EXPECT_FALSE(d.done());
    d.feed(python_gzip_members.substr(45), out);
    EXPECT_TRUE(d.done());
    EXPECT_EQ(out, python_gzip_members_text);
    // identity never knows.
    decoder id(content_coding::identity, no_limit);
    id.feed("abc", out);
    EXPECT_FALSE(id.done());
}

// --- Refusals ----------------------------------------------------------------------------

TEST(http_coding, a_stream_cut_short_is_refused_on_finish) {
    const std::string body = compressible_bytes(3000) + random_bytes(300);
    for (const content_coding c : compressing) {
        SCOPED_TRACE(name(c));
        const std::string coded = corio::http::encode(c, body);
        // Every proper prefix, whole and byte by byte: feed accepts it, finish refuses it.
        for (std::size_t n = 1; n < coded.size(); ++n) {
            decoder d(c, no_limit);
            std::string out;
            d.feed(std::string_view(coded).substr(0, n), out);
            try {
                d.finish(out);
                ADD_FAILURE() << "a prefix of " << n << " of " << coded.size() << " accepted";
            } catch (const protocol_error& e) {
                EXPECT_EQ(e.status(), 400);
                EXPECT_EQ(e.what(), "http: the " + name(c) + " body ends early");
            }
            EXPECT_TRUE(body.starts_with(out));
        }
    }
    expect_rejected(content_coding::deflate, python_raw.substr(0, 20), 400,
                    "http: the deflate body ends early");
    expect_rejected(content_coding::deflate, python_raw.substr(0, 1), 400,
                    "http: the deflate body ends early");
    expect_rejected(content_coding::gzip, python_gzip_members.substr(0, 40), 400,
                    "http: the gzip body ends early");
}

TEST(http_coding, corrupt_data_is_refused_naming_the_coding_and_the_reason) {
    // A wrong checksum: zlib's reason is "incorrect data check".
    std::string gz = corio::http::encode(content_coding::gzip, compressible_bytes(1000));
    gz[gz.size() - 8] = static_cast<char>(gz[gz.size() - 8] ^ 1); // the CRC-32
    expect_rejected(content_coding::gzip, gz, 400, "http: corrupt gzip body: incorrect data check");
    std::string z = corio::http::encode(content_coding::deflate, compressible_bytes(1000));
    z.back() = static_cast<char>(z.back() ^ 1); // the Adler-32
    expect_rejected(content_coding::deflate, z, 400,
                    "http: corrupt deflate body: incorrect data check");
    // A gzip length that does not match.
    gz = corio::http::encode(content_coding::gzip, "abc");
    gz[gz.size() - 4] = 4;
    expect_rejected(content_coding::gzip, gz, 400,
                    "http: corrupt gzip body: incorrect length check");
    // Not the format at all.
    expect_rejected(content_coding::gzip, "this is not gzip", 400,
                    "http: corrupt gzip body: incorrect header check");
    expect_rejected(content_coding::deflate, "\xff\xff\xff\xff"sv, 400,
                    "http: corrupt deflate body: invalid block type");
    // A back reference to before the start: zlib's "invalid distance too far back"
    // (a fixed-Huffman block whose first code is a match at distance 1).
    expect_rejected(content_coding::deflate, "\x03\x02"sv, 400,
                    "http: corrupt deflate body: invalid distance too far back");
    // A zlib stream that needs a preset dictionary.
    expect_rejected(content_coding::deflate, python_zlib_with_dictionary, 400,
                    "http: corrupt deflate body: a preset dictionary is needed");
}

TEST(http_coding, corrupt_br_names_libbrotlis_reason) {
    // A damaged stream header; libbrotli names the check that failed ("PADDING_2").
    std::string br = corio::http::encode(content_coding::br, compressible_bytes(5000));
    br[0] = static_cast<char>(br[0] ^ 0x55);
    expect_rejected(content_coding::br, br, 400, "http: corrupt br body: format error (");
    expect_rejected(content_coding::br, "\xff\xff\xff\xff\xff\xff"sv, 400,
                    "http: corrupt br body: format error (");
}

TEST(http_coding, data_after_the_end_is_refused) {
    for (const content_coding c : {content_coding::deflate, content_coding::br}) {
        SCOPED_TRACE(name(c));
        const std::string coded = corio::http::encode(c, "body");
        expect_rejected(c, coded + "x", 400,
                        "http: data after the end of the " + name(c) + " body");
        expect_rejected(c, coded + '\0', 400, "data after the end");
        // In a later feed too.
        decoder d(c, no_limit);
        std::string out;
        d.feed(coded, out);
        EXPECT_THROW(d.feed("garbage", out), protocol_error);
        EXPECT_EQ(out, "body");
    }
    expect_rejected(content_coding::deflate, std::string(python_raw) + "x", 400,
                    "data after the end of the deflate body");
    const std::string gz = corio::http::encode(content_coding::gzip, "body");
    expect_rejected(content_coding::gzip, gz + "garbage", 400,
                    "http: data after the end of the gzip body");
    expect_rejected(content_coding::gzip, gz + std::string(4, '\0') + "x", 400,
                    "data after the end of the gzip body");
}

// --- The output limit --------------------------------------------------------------------

TEST(http_coding, the_limit_counts_every_byte_produced) {
    const std::string body = compressible_bytes(100000);
    for (const content_coding c : all_codings) {
        SCOPED_TRACE(name(c));
        const std::string coded = corio::http::encode(c, body);
        EXPECT_EQ(corio::http::decode(c, coded, body.size()), body);
        const std::string words =
            c == content_coding::identity
                ? "http: the body is longer than 99999 bytes"
                : "http: the " + name(c) + " body decodes to more than 99999 bytes";
        expect_rejected(c, coded, 413, words, body.size() - 1);
        // Byte by byte, over several feeds.
        decoder d(c, body.size() - 1);
        std::string out;
        try {
            for (const char byte : coded) {
                d.feed(std::string_view(&byte, 1), out);
            }
            ADD_FAILURE() << "the limit was not enforced";
        } catch (const protocol_error& e) {
            EXPECT_EQ(e.status(), 413);
        }
        EXPECT_EQ(out.size(), body.size() - 1);
        EXPECT_EQ(d.produced(), body.size() - 1);
        EXPECT_TRUE(body.starts_with(out));
    }
    expect_rejected(content_coding::gzip, corio::http::encode(content_coding::gzip, "x"), 413,
                    "decodes to more than 0 bytes", 0);
}

/// A gigabyte of zeros as gzip, fed to the encoder a mebibyte at a time, made once. At
/// level 1, the fastest: some 2 s and 4.5 MB (level 9 makes 1 MB, in 6 s).
const std::string& gzip_bomb() {
    static const std::string coded = [] {
        const std::string zeros(mib, '\0');
        encoder e(content_coding::gzip, 1);
        std::string out;
        for (int i = 0; i < 1024; ++i) {
            e.feed(zeros, out);
        }
        e.finish(out);
        return out;
    }();
    return coded;
}

/// A gigabyte of zeros coded with `c`. deflate's is gzip's deflate data in the zlib format:
/// the zlib header 78 01 (deflate, a 32 KiB window, level 1) in place of gzip's 10-byte
/// header, and no trailer (decoding never gets that far). br's is made at quality 1.
std::string bomb(content_coding c) {
    if (c == content_coding::gzip) {
        return gzip_bomb();
    }
    if (c == content_coding::deflate) {
        const std::string& gz = gzip_bomb();
        return "\x78\x01" + gz.substr(10, gz.size() - 18);
    }
    const std::string zeros(mib, '\0');
    encoder e(c, 1);
    std::string out;
    for (int i = 0; i < 1024; ++i) {
        e.feed(zeros, out);
    }
    e.finish(out);
    return out;
}

TEST(http_coding, a_decompression_bomb_stops_at_the_limit) {
    constexpr std::size_t limit = 16 * mib;
    for (const content_coding c : compressing) {
        SCOPED_TRACE(name(c));
        const std::string coded = bomb(c);
        EXPECT_LT(coded.size(), 8 * mib);
        decoder d(c, limit);
        std::string out;
        try {
            d.feed(coded, out);
            ADD_FAILURE() << "a gigabyte was accepted";
        } catch (const protocol_error& e) {
            EXPECT_EQ(e.status(), 413);
            EXPECT_EQ(e.what(),
                      "http: the " + name(c) + " body decodes to more than 16777216 bytes");
        }
        // Never more than the limit produced, nor much more memory held for it.
        EXPECT_EQ(out.size(), limit);
        EXPECT_LE(out.capacity(), 2 * limit);
        EXPECT_EQ(d.produced(), limit);
        EXPECT_EQ(out.find_first_not_of('\0'), std::string::npos);
    }
}

// --- Reuse, moves, misuse ----------------------------------------------------------------

TEST(http_coding, reset_makes_a_coder_ready_for_another_body) {
    for (const content_coding c : all_codings) {
        SCOPED_TRACE(name(c));
        encoder e(c, 3);
        decoder d(c, 1000);
        for (const std::string_view body : {"first body"sv, "second, longer body"sv}) {
            std::string coded;
            e.feed(body, coded);
            e.finish(coded);
            std::string out;
            d.feed(coded, out);
            d.finish(out);
            EXPECT_EQ(out, body);
            EXPECT_EQ(d.produced(), body.size());
            e.reset();
            d.reset();
            EXPECT_EQ(d.produced(), 0U);
            EXPECT_FALSE(d.done());
        }
    }
    // A deflate decoder that fell back to raw deflate goes back to the zlib format.
    decoder d(content_coding::deflate, no_limit);
    std::string out;
    d.feed(python_raw, out);
    d.finish(out);
    d.reset();
    out.clear();
    d.feed(python_zlib, out);
    d.finish(out);
    EXPECT_EQ(out, python_zlib_text);
}

TEST(http_coding, a_decoder_is_unusable_after_an_error_until_reset) {
    decoder d(content_coding::gzip, no_limit);
    std::string out;
    EXPECT_THROW(d.feed("not gzip", out), protocol_error);
    EXPECT_THROW(d.feed(python_gzip_named, out), corio::invalid_state_error);
    EXPECT_THROW(d.finish(out), corio::invalid_state_error);
    d.reset();
    d.feed(python_gzip_named, out);
    d.finish(out);
    EXPECT_EQ(out, python_gzip_named_text);
}

TEST(http_coding, coders_refuse_use_after_finish) {
    encoder e(content_coding::gzip);
    std::string out;
    e.finish(out);
    EXPECT_THROW(e.feed("x", out), corio::invalid_state_error);
    EXPECT_THROW(e.flush(out), corio::invalid_state_error);
    EXPECT_THROW(e.finish(out), corio::invalid_state_error);
    decoder d(content_coding::gzip, no_limit);
    std::string decoded;
    d.feed(out, decoded);
    d.finish(decoded);
    EXPECT_THROW(d.feed("x", decoded), corio::invalid_state_error);
    EXPECT_THROW(d.finish(out), corio::invalid_state_error);
}

TEST(http_coding, coders_move_with_their_state) {
    for (const content_coding c : all_codings) {
        SCOPED_TRACE(name(c));
        encoder e(c);
        std::string coded;
        e.feed("moved ", coded);
        encoder moved = std::move(e);
        EXPECT_EQ(moved.coding(), c);
        moved.feed("along", coded);
        moved.finish(coded);
        // NOLINTNEXTLINE(bugprone-use-after-move): what a moved-from encoder does
        EXPECT_THROW(e.feed("x", coded), corio::invalid_state_error);

        decoder d(c, no_limit);
        std::string out;
        const std::size_t half = coded.size() / 2;
        d.feed(std::string_view(coded).substr(0, half), out);
        decoder other(content_coding::identity, 0);
        other = std::move(d);
        other.feed(std::string_view(coded).substr(half), out);
        other.finish(out);
        EXPECT_EQ(out, "moved along");
        EXPECT_EQ(other.coding(), c);
        // NOLINTNEXTLINE(bugprone-use-after-move): what a moved-from decoder does
        EXPECT_THROW(d.feed("x", out), corio::invalid_state_error);
        EXPECT_EQ(d.produced(), 0U); // NOLINT(bugprone-use-after-move)
    }
}

} // namespace
