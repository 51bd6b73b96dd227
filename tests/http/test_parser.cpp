// The HTTP/1.1 parsers: requests and responses fed whole, byte by byte and at every split
// point; pipelining; bodies by length, chunked (extensions, trailers) and until close;
// interim responses; every rejection with its status and message; the limits; the
// malformed-request corpus in tests/http/malformed; and serialize() and its round trip.

#include <corio/errors.hpp>
#include <corio/http/parser.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

using corio::http::limits;
using corio::http::parse_state;
using corio::http::protocol_error;
using corio::http::request;
using corio::http::request_parser;
using corio::http::response;
using corio::http::response_parser;

namespace {

constexpr std::size_t whole = std::numeric_limits<std::size_t>::max();

/// Feed `in` to `p` in pieces of at most `piece` bytes, taking every complete request.
std::vector<request> parse_requests(request_parser& p, std::string_view in,
                                    std::size_t piece = whole) {
    std::vector<request> out;
    while (!in.empty()) {
        const std::string_view chunk = in.substr(0, piece);
        const std::size_t used = p.feed(chunk);
        EXPECT_LE(used, chunk.size());
        in.remove_prefix(used);
        if (p.state() == parse_state::complete) {
            out.push_back(p.take());
        } else {
            EXPECT_GT(used, 0U) << "feed() used nothing in state " << int(p.state());
            if (used == 0) {
                break;
            }
        }
    }
    return out;
}

std::vector<request> parse_requests(std::string_view in, std::size_t piece = whole, limits l = {}) {
    request_parser p(l);
    return parse_requests(p, in, piece);
}

request parse_one(std::string_view in, std::size_t piece = whole) {
    request_parser p;
    auto all = parse_requests(p, in, piece);
    EXPECT_EQ(all.size(), 1U);
    EXPECT_EQ(p.state(), parse_state::head);
    return all.empty() ? request{} : std::move(all.front());
}

/// What feeding `in` (in pieces of `piece` bytes) throws: its status and message.
struct rejection {
    int status = 0;
    std::string what;
};
std::optional<rejection> rejection_of(std::string_view in, std::size_t piece = whole,
                                      limits l = {}) {
    try {
        parse_requests(in, piece, l);
    } catch (const protocol_error& e) {
        return rejection{e.status(), e.what()};
    }
    return std::nullopt;
}

/// `in` is rejected with `status` and a message naming `problem`, whether it arrives whole
/// or byte by byte.
void expect_rejected(std::string_view in, int status, std::string_view problem, limits l = {}) {
    for (const std::size_t piece : {whole, std::size_t{1}}) {
        const auto r = rejection_of(in, piece, l);
        ASSERT_TRUE(r.has_value()) << "accepted: " << testing::PrintToString(std::string(in));
        EXPECT_EQ(r->status, status) << r->what;
        EXPECT_NE(r->what.find(problem), std::string::npos)
            << "message '" << r->what << "' does not name '" << problem << "'";
    }
}

bool same(const request& a, const request& b) {
    return a.method == b.method && a.target == b.target && a.version_minor == b.version_minor &&
           a.body == b.body &&
           std::equal(a.headers.begin(), a.headers.end(), b.headers.begin(), b.headers.end());
}

std::string fields_of(const corio::http::headers& h) {
    std::string s;
    for (const auto& [name, value] : h) {
        s += name + "=" + value + ";";
    }
    return s;
}

const std::string get_request = "GET /index.html?x=1 HTTP/1.1\r\n"
                                "Host: example.com\r\n"
                                "User-Agent: corio-test/1.0\r\n"
                                "Accept: */*\r\n"
                                "\r\n";

const std::string post_request = "POST /submit HTTP/1.1\r\n"
                                 "Host: a\r\n"
                                 "Content-Length: 11\r\n"
                                 "\r\n"
                                 "hello world";

const std::string chunked_request = "PUT /upload HTTP/1.1\r\n"
                                    "Host: a\r\n"
                                    "Transfer-Encoding: chunked\r\n"
                                    "\r\n"
                                    "5;name=value;flag\r\nhello\r\n"
                                    "1\r\n \r\n"
                                    "5 ; quoted=\"a b\"\r\nworld\r\n"
                                    "0\r\n"
                                    "Checksum: abc\r\n"
                                    "\r\n";

// --- Requests, well formed ---------------------------------------------------------------

TEST(request_parser, parses_a_simple_get) {
    request_parser p;
    const std::size_t used = p.feed(get_request);
    EXPECT_EQ(used, get_request.size());
    ASSERT_EQ(p.state(), parse_state::complete);
    const request r = p.take();
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/index.html?x=1");
    EXPECT_EQ(r.version_minor, 1);
    EXPECT_EQ(r.headers.size(), 3U);
    EXPECT_EQ(r.headers.get("host"), "example.com");
    EXPECT_EQ(r.headers.get("USER-AGENT"), "corio-test/1.0");
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(p.state(), parse_state::head);
}

TEST(request_parser, keeps_field_names_as_spelled_and_trims_values) {
    const request r = parse_one("GET / HTTP/1.1\r\nhOsT: a\r\nX-Empty:\r\n"
                                "X-Spaces: \t padded value \t \r\nX-Obs: caf\xc3\xa9\r\n\r\n");
    EXPECT_EQ(fields_of(r.headers), "hOsT=a;X-Empty=;X-Spaces=padded value;X-Obs=caf\xc3\xa9;");
}

TEST(request_parser, skips_empty_lines_before_the_request_line) {
    const request r = parse_one("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(r.method, "GET");
}

TEST(request_parser, accepts_http_1_0_without_host) {
    const request r = parse_one("GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(r.version_minor, 0);
    EXPECT_FALSE(r.keep_alive());
}

TEST(request_parser, accepts_every_target_form) {
    EXPECT_EQ(parse_one("GET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\n").target, "http://a/b?c");
    EXPECT_EQ(parse_one("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n").target, "a:443");
    EXPECT_EQ(parse_one("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").target, "*");
}

TEST(request_parser, stops_after_the_head_and_then_reads_the_body) {
    request_parser p;
    const std::size_t head = post_request.size() - 11;
    EXPECT_EQ(p.feed(post_request), head);
    ASSERT_EQ(p.state(), parse_state::body);
    EXPECT_EQ(p.message().method, "POST");
    EXPECT_EQ(p.message().headers.get("Content-Length"), "11");
    EXPECT_EQ(p.feed(std::string_view(post_request).substr(head)), 11U);
    ASSERT_EQ(p.state(), parse_state::complete);
    EXPECT_EQ(p.feed("more"), 0U);
    EXPECT_EQ(p.take().body, "hello world");
}

TEST(request_parser, stops_at_the_end_of_the_body) {
    request_parser p;
    const std::string two = post_request + get_request;
    std::string_view in = two;
    in.remove_prefix(p.feed(in));
    in.remove_prefix(p.feed(in));
    ASSERT_EQ(p.state(), parse_state::complete);
    EXPECT_EQ(in, get_request);
}

TEST(request_parser, reads_a_chunked_body_with_extensions_and_drops_trailers) {
    const request r = parse_one(chunked_request);
    EXPECT_EQ(r.body, "hello world");
    EXPECT_EQ(r.headers.get("Transfer-Encoding"), "chunked");
    EXPECT_FALSE(r.headers.contains("Checksum"));
}

TEST(request_parser, accepts_chunked_in_any_case_and_hex_in_any_case) {
    const request r = parse_one("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n"
                                "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
    EXPECT_EQ(r.body, "01234567890123456789");
}

TEST(request_parser, accepts_a_zero_content_length_and_identical_repeats) {
    EXPECT_EQ(parse_one("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").body, "");
    EXPECT_EQ(parse_one("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                        "Content-Length: 3\r\n\r\nabc")
                  .body,
              "abc");
    EXPECT_EQ(parse_one("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc").body,
              "abc");
}

TEST(request_parser, byte_at_a_time_equals_whole) {
    for (const std::string& in : {get_request, post_request, chunked_request}) {
        const request a = parse_one(in);
        const request b = parse_one(in, 1);
        EXPECT_TRUE(same(a, b)) << in;
    }
}

TEST(request_parser, every_split_point_gives_the_same_requests) {
    const std::string in = get_request + chunked_request + post_request;
    const auto expected = parse_requests(in);
    ASSERT_EQ(expected.size(), 3U);
    for (std::size_t cut = 1; cut < in.size(); ++cut) {
        request_parser p;
        std::vector<request> got = parse_requests(p, std::string_view(in).substr(0, cut));
        std::string_view rest = std::string_view(in).substr(cut);
        auto more = parse_requests(p, rest);
        got.insert(got.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
        ASSERT_EQ(got.size(), expected.size()) << "cut at " << cut;
        for (std::size_t i = 0; i < got.size(); ++i) {
            EXPECT_TRUE(same(got[i], expected[i])) << "cut at " << cut << ", request " << i;
        }
    }
}

TEST(request_parser, parses_pipelined_requests_in_one_buffer_in_order) {
    const std::string in =
        get_request + post_request + chunked_request + "DELETE /x HTTP/1.1\r\nHost: b\r\n\r\n";
    const auto all = parse_requests(in);
    ASSERT_EQ(all.size(), 4U);
    EXPECT_EQ(all[0].method, "GET");
    EXPECT_EQ(all[1].body, "hello world");
    EXPECT_EQ(all[2].method, "PUT");
    EXPECT_EQ(all[2].body, "hello world");
    EXPECT_EQ(all[3].method, "DELETE");
    EXPECT_EQ(all[3].headers.get("host"), "b");
}

TEST(request_parser, detects_expect_100_continue) {
    request_parser p;
    const std::string head = "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
                             "Content-Length: 4\r\n\r\n";
    EXPECT_EQ(p.feed(head + "data"), head.size());
    EXPECT_EQ(p.state(), parse_state::body);
    EXPECT_TRUE(p.expects_continue());
    p.feed("data");
    EXPECT_EQ(p.take().body, "data");
    EXPECT_FALSE(p.expects_continue()) << "take() forgets it";

    request_parser q;
    q.feed("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    EXPECT_FALSE(q.expects_continue()) << "HTTP/1.0 has no 100 Continue";
    request_parser r;
    r.feed("PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n");
    EXPECT_FALSE(r.expects_continue());
}

TEST(request_parser, take_before_complete_throws) {
    request_parser p;
    EXPECT_THROW((void)p.take(), corio::invalid_state_error);
    p.feed("GET / HTTP/1.1\r\n");
    EXPECT_THROW((void)p.take(), corio::invalid_state_error);
}

TEST(request_parser, feed_returns_zero_only_for_empty_data_or_when_complete) {
    request_parser p;
    EXPECT_EQ(p.feed(""), 0U);
    EXPECT_EQ(p.feed("G"), 1U);
    EXPECT_EQ(p.feed("ET / HTTP/1.1\r\nHost: a\r\n\r\nGET"), 26U);
    EXPECT_EQ(p.state(), parse_state::complete);
    EXPECT_EQ(p.feed("GET"), 0U);
}

TEST(request_parser, is_unusable_after_an_error_until_reset) {
    request_parser p;
    EXPECT_THROW(p.feed("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), protocol_error);
    EXPECT_THROW(p.feed(get_request), corio::invalid_state_error);
    p.reset();
    EXPECT_EQ(p.feed(get_request), get_request.size());
    EXPECT_EQ(p.take().headers.get("host"), "example.com");
}

TEST(request_parser, reset_forgets_a_partial_request) {
    request_parser p;
    p.feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Le");
    p.reset();
    EXPECT_EQ(p.feed(get_request), get_request.size());
    EXPECT_EQ(p.take().method, "GET");
}

// --- Requests, rejected ------------------------------------------------------------------

TEST(request_parser, rejects_content_length_with_transfer_encoding) {
    expect_rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n",
                    400, "both Content-Length and Transfer-Encoding");
    expect_rejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                    "Content-Length: 5\r\n\r\n",
                    400, "both Content-Length and Transfer-Encoding");
}

TEST(request_parser, rejects_repeated_content_lengths_that_differ) {
    expect_rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                    400, "Content-Length fields that differ");
    expect_rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400,
                    "Content-Length fields that differ");
}

TEST(request_parser, rejects_a_content_length_that_is_not_a_decimal_number) {
    for (const char* v : {"abc", "-1", "+5", "5 5", "0x10", "", "5,", "1.5"}) {
        expect_rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::string(v) +
                            "\r\n\r\n",
                        400, "Content-Length is not a decimal number");
    }
}

TEST(request_parser, rejects_obs_fold) {
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n", 400, "obs-fold");
    expect_rejected("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", 400, "obs-fold");
}

TEST(request_parser, rejects_a_bare_cr) {
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "bare CR");
    expect_rejected("GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare CR");
    expect_rejected("GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "bare CR");
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n", 400, "bare CR");
    expect_rejected("GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n", 400, "bare CR");
}

TEST(request_parser, rejects_a_bare_lf) {
    expect_rejected("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF");
    expect_rejected("GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "bare LF");
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare LF");
}

TEST(request_parser, rejects_a_nul_byte) {
    using namespace std::string_literals;
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, 400, "NUL");
    expect_rejected("GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n"s, 400, "NUL");
    expect_rejected("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"s, 400, "NUL");
    expect_rejected("G\0ET / HTTP/1.1\r\nHost: a\r\n\r\n"s, 400, "NUL");
}

TEST(request_parser, rejects_whitespace_before_the_colon) {
    expect_rejected("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400,
                    "whitespace between a field name and its colon");
    expect_rejected("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400,
                    "whitespace between a field name and its colon");
}

TEST(request_parser, rejects_a_field_name_that_is_not_a_token) {
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n", 400, "not a token");
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\n\"X\": 1\r\n\r\n", 400, "not a token");
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", 400, "empty field name");
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, "without a colon");
}

TEST(request_parser, rejects_control_characters_in_values) {
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", 400, "control character");
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fz\r\n\r\n", 400, "control character");
}

TEST(request_parser, rejects_bad_chunk_sizes) {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect_rejected(head + "zz\r\n", 400, "bad chunk size");
    expect_rejected(head + "\r\n", 400, "bad chunk size");
    expect_rejected(head + "-1\r\n", 400, "bad chunk size");
    expect_rejected(head + " 5\r\nhello\r\n0\r\n\r\n", 400, "bad chunk size");
    expect_rejected(head + "5x\r\nhello\r\n0\r\n\r\n", 400, "bad chunk size");
    expect_rejected(head + "5\n", 400, "bare LF");
    expect_rejected(head + "5;a\rb\r\n", 400, "bare CR");
    expect_rejected(head + "10000000000000000\r\n", 400, "chunk size overflows");
    expect_rejected(head + "fffffffffffffffff\r\n", 400, "chunk size overflows");
}

TEST(request_parser, accepts_leading_zeros_in_chunk_sizes) {
    const request r = parse_one("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "00000000000000000000003\r\nabc\r\n000\r\n\r\n");
    EXPECT_EQ(r.body, "abc");
}

TEST(request_parser, rejects_chunk_data_without_its_crlf) {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect_rejected(head + "5\r\nhelloXX\r\n0\r\n\r\n", 400, "chunk data not followed by CRLF");
    expect_rejected(head + "5\r\nhello\rX0\r\n\r\n", 400, "chunk data not followed by CRLF");
    expect_rejected(head + "5\r\nhello\n0\r\n\r\n", 400, "chunk data not followed by CRLF");
}

TEST(request_parser, rejects_malformed_trailers) {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect_rejected(head + "0\r\nBad Name: 1\r\n\r\n", 400, "whitespace between");
    expect_rejected(head + "0\r\n folded\r\n\r\n", 400, "obs-fold");
    expect_rejected(head + "0\r\nX: 1\n\r\n", 400, "bare LF");
}

TEST(request_parser, rejects_transfer_encodings_not_ending_in_chunked) {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\n";
    expect_rejected(head + "Transfer-Encoding: gzip\r\n\r\n", 400, "does not end in chunked");
    expect_rejected(head + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400,
                    "does not end in chunked");
    expect_rejected(head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", 400,
                    "does not end in chunked");
    expect_rejected(head + "Transfer-Encoding: \r\n\r\n", 400, "empty Transfer-Encoding");
    expect_rejected(head + "Transfer-Encoding: chunked, chunked\r\n\r\n", 400,
                    "chunked more than once");
    expect_rejected(head + "Transfer-Encoding: xchunked\r\n\r\n", 400, "does not end in chunked");
}

TEST(request_parser, answers_501_to_an_unknown_transfer_coding) {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\n";
    expect_rejected(head + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, "'gzip'");
    expect_rejected(head + "Transfer-Encoding: br\r\nTransfer-Encoding: chunked\r\n\r\n", 501,
                    "unsupported transfer coding 'br'");
}

TEST(request_parser, rejects_transfer_encoding_in_http_1_0) {
    expect_rejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                    "Transfer-Encoding in an HTTP/1.0 message");
}

TEST(request_parser, rejects_http_1_1_without_host_and_two_hosts) {
    expect_rejected("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, "without Host");
    expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, "more than one Host");
}

TEST(request_parser, rejects_a_host_that_is_not_uri_host_and_port) {
    for (const char* host : {"a b", "a/b", "a@b", "a:b", "a:80x", "a:1:2", "[::1", "[::1]x", "[]",
                             "[zz::1]", "[v1]", "%zz", "a%4", "a\\b", "a?b", "a#b"}) {
        SCOPED_TRACE(host);
        expect_rejected("GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n", 400,
                        "malformed Host field");
    }
    for (const char* host :
         {"", "a", "a:80", "a:", "example.com:8080", "127.0.0.1:1", "[::1]", "[::1]:8080",
          "[v1.x:y]", "xn--bcher-kva.example", "a%20b", "a_b~c!$&'()*+,;="}) {
        SCOPED_TRACE(host);
        EXPECT_EQ(
            parse_requests("GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n").size(), 1U);
    }
}

TEST(request_parser, answers_505_to_other_versions) {
    expect_rejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/2.0");
    expect_rejected("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "HTTP/1.2");
    expect_rejected("GET / HTTP/0.9\r\n\r\n", 505, "HTTP/0.9");
}

TEST(request_parser, rejects_malformed_request_lines) {
    for (const char* line :
         {"GET  / HTTP/1.1", "GET /  HTTP/1.1", "GET / HTTP/1.1 ", "GET /", "GET / HTTP/11",
          "GET / http/1.1", "GET / HTTP/1.1x", "GET\t/ HTTP/1.1", " GET / HTTP/1.1",
          "G(T / HTTP/1.1", "GET HTTP/1.1", "/ HTTP/1.1"}) {
        SCOPED_TRACE(line);
        expect_rejected(std::string(line) + "\r\nHost: a\r\n\r\n", 400, "malformed request line");
    }
}

// --- Limits ------------------------------------------------------------------------------

TEST(request_parser, answers_414_to_a_request_line_over_the_limit) {
    limits l;
    l.max_request_line = 64;
    const std::string at_limit = "GET /" + std::string(64 - 14, 'a') + " HTTP/1.1";
    ASSERT_EQ(at_limit.size(), 64U);
    EXPECT_EQ(parse_requests(at_limit + "\r\nHost: a\r\n\r\n", whole, l).size(), 1U);
    EXPECT_EQ(parse_requests(at_limit + "\r\nHost: a\r\n\r\n", 1, l).size(), 1U);
    const std::string over = "GET /" + std::string(64 - 13, 'a') + " HTTP/1.1";
    expect_rejected(over + "\r\nHost: a\r\n\r\n", 414, "request line longer than 64 bytes", l);
    // Never ending: refused as soon as it is too long.
    expect_rejected("GET /" + std::string(100, 'a'), 414, "request line", l);
}

TEST(request_parser, answers_431_to_a_header_section_over_the_limit) {
    limits l;
    l.max_header_bytes = 100;
    const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
    const std::string fits = head + "X: " + std::string(100 - head.size() - 7, 'v') + "\r\n\r\n";
    ASSERT_EQ(fits.size(), 100U);
    EXPECT_EQ(parse_requests(fits, whole, l).size(), 1U);
    EXPECT_EQ(parse_requests(fits, 1, l).size(), 1U);
    const std::string over = head + "X: " + std::string(100 - head.size() - 6, 'v') + "\r\n\r\n";
    expect_rejected(over, 431, "header section longer than 100 bytes", l);
    expect_rejected(head + "X: " + std::string(200, 'v'), 431, "header section", l);
}

TEST(request_parser, answers_431_to_too_many_fields) {
    limits l;
    l.max_headers = 5;
    std::string in = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 4; ++i) {
        in += "X-" + std::to_string(i) + ": v\r\n";
    }
    EXPECT_EQ(parse_requests(in + "\r\n", whole, l).size(), 1U);
    expect_rejected(in + "X-Last: v\r\n\r\n", 431, "more than 5 header fields", l);
}

TEST(request_parser, answers_413_to_a_body_over_the_limit) {
    limits l;
    l.max_body = 10;
    EXPECT_EQ(parse_requests("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
                             whole, l)
                  .size(),
              1U);
    expect_rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413,
                    "body longer than 10 bytes", l);
    expect_rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                    413, "body longer", l);
    const std::string chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    EXPECT_EQ(parse_requests(chunked + "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", whole, l).size(),
              1U);
    expect_rejected(chunked + "5\r\n01234\r\n6\r\n", 413, "body longer than 10 bytes", l);
    expect_rejected(chunked + "ffffffffffffffff\r\n", 413, "body longer", l);
}

TEST(request_parser, counts_the_trailer_toward_the_header_limit) {
    limits l;
    l.max_header_bytes = 120;
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    ASSERT_EQ(head.size(), 56U);
    const std::string ok = head + "0\r\nT: " + std::string(120 - 56 - 7, 't') + "\r\n\r\n";
    EXPECT_EQ(parse_requests(ok, whole, l).size(), 1U);
    expect_rejected(head + "0\r\nT: " + std::string(120 - 56 - 6, 't') + "\r\n\r\n", 431,
                    "longer than 120 bytes", l);
    expect_rejected(head + "0\r\nT: " + std::string(500, 't'), 431, "longer than 120 bytes", l);
    l.max_headers = 2;
    expect_rejected(head + "0\r\nA: 1\r\nB: 2\r\n\r\n", 431, "more than 2 header fields", l);
}

TEST(request_parser, refuses_a_chunk_size_line_that_never_ends) {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect_rejected(head + "5;" + std::string(5000, 'x'), 400, "chunk size line longer");
}

// --- The malformed-request corpus --------------------------------------------------------

/// tests/http/malformed/<status>-<what>.http: every file is rejected with its status,
/// whole and byte by byte.
TEST(request_parser, rejects_every_request_of_the_malformed_corpus) {
    const auto dir = std::filesystem::path(__FILE__).parent_path() / "malformed";
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".http") {
            continue;
        }
        const std::string name = entry.path().filename().string();
        SCOPED_TRACE(name);
        ++files;
        std::ifstream f(entry.path(), std::ios::binary);
        std::stringstream content;
        content << f.rdbuf();
        const std::string in = content.str();
        const int status = std::stoi(name.substr(0, 3));
        for (const std::size_t piece : {whole, std::size_t{1}, std::size_t{7}}) {
            const auto r = rejection_of(in, piece);
            ASSERT_TRUE(r.has_value()) << "accepted in pieces of " << piece;
            EXPECT_EQ(r->status, status) << r->what;
        }
    }
    EXPECT_GE(files, 25U);
}

// --- Responses ---------------------------------------------------------------------------

/// Feed `in` to `p` (after `expect(method)`) in pieces, then the end of the stream if
/// `eof`; every complete response.
std::vector<response> parse_responses(response_parser& p, std::string_view in,
                                      std::string_view method = "GET", std::size_t piece = whole,
                                      bool eof = false) {
    std::vector<response> out;
    p.expect(method);
    while (!in.empty()) {
        const std::string_view chunk = in.substr(0, piece);
        const std::size_t used = p.feed(chunk);
        in.remove_prefix(used);
        if (p.state() == parse_state::complete) {
            out.push_back(p.take());
            p.expect(method);
        } else if (used == 0) {
            ADD_FAILURE() << "feed() used nothing";
            break;
        }
    }
    if (eof) {
        p.feed_eof();
        if (p.state() == parse_state::complete) {
            out.push_back(p.take());
        }
    }
    return out;
}

std::vector<response> parse_responses(std::string_view in, std::string_view method = "GET",
                                      std::size_t piece = whole, bool eof = false) {
    response_parser p;
    return parse_responses(p, in, method, piece, eof);
}

int response_rejection(std::string_view in, std::string& what) {
    try {
        parse_responses(in);
    } catch (const protocol_error& e) {
        what = e.what();
        return e.status();
    }
    return 0;
}

TEST(response_parser, parses_a_response_with_a_length) {
    for (const std::size_t piece : {whole, std::size_t{1}}) {
        const auto all = parse_responses("HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n"
                                         "Content-Type: text/plain\r\n\r\nnope!",
                                         "GET", piece);
        ASSERT_EQ(all.size(), 1U);
        EXPECT_EQ(all[0].status, 404);
        EXPECT_EQ(all[0].reason, "Not Found");
        EXPECT_EQ(all[0].version_minor, 1);
        EXPECT_EQ(all[0].headers.get("content-type"), "text/plain");
        EXPECT_EQ(all[0].body, "nope!");
    }
}

TEST(response_parser, accepts_an_empty_reason_with_or_without_its_space) {
    EXPECT_EQ(parse_responses("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").at(0).reason, "");
    EXPECT_EQ(parse_responses("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").at(0).status, 200);
}

TEST(response_parser, reads_no_body_after_head_204_and_304) {
    const std::string with_length = "Content-Length: 100\r\n\r\n";
    const std::string next = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    auto all = parse_responses(
        "HTTP/1.1 200 OK\r\n" + with_length + "HTTP/1.1 200 OK\r\n" + with_length, "HEAD");
    EXPECT_EQ(all.size(), 2U);
    for (const char* status : {"204 No Content", "304 Not Modified"}) {
        all = parse_responses("HTTP/1.1 " + std::string(status) + "\r\n" + with_length + next);
        ASSERT_EQ(all.size(), 2U) << status;
        EXPECT_EQ(all[0].body, "");
        EXPECT_EQ(all[1].body, "x");
    }
}

TEST(response_parser, reads_no_body_after_a_successful_connect) {
    response_parser p;
    p.expect("CONNECT");
    EXPECT_EQ(p.feed("HTTP/1.1 200 Connection Established\r\n\r\ntunnel"), 39U);
    EXPECT_EQ(p.state(), parse_state::complete);
}

TEST(response_parser, skips_interim_responses_but_not_101) {
    const std::string in = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
                           "Link: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    for (const std::size_t piece : {whole, std::size_t{1}}) {
        const auto all = parse_responses(in, "GET", piece);
        ASSERT_EQ(all.size(), 1U);
        EXPECT_EQ(all[0].status, 200);
        EXPECT_EQ(all[0].body, "hi");
        EXPECT_FALSE(all[0].headers.contains("Link"));
    }
    response_parser p;
    const std::string upgrade = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    EXPECT_EQ(p.feed(upgrade + "frames"), upgrade.size());
    ASSERT_EQ(p.state(), parse_state::complete);
    EXPECT_EQ(p.take().status, 101);
}

TEST(response_parser, skips_at_most_max_interim_responses) {
    const std::string processing = "HTTP/1.1 102 Processing\r\n\r\n";
    const std::string final_response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    limits l;
    l.max_interim_responses = 3;
    std::string at_limit;
    for (int i = 0; i < 3; ++i) {
        at_limit += processing;
    }
    response_parser p(l);
    EXPECT_EQ(parse_responses(p, at_limit + final_response).size(), 1U);
    // The count starts again for the next response.
    EXPECT_EQ(parse_responses(p, at_limit + final_response).size(), 1U);
    response_parser over(l);
    try {
        parse_responses(over, at_limit + processing + final_response);
        ADD_FAILURE() << "a fourth interim response was accepted";
    } catch (const protocol_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "http: more than 3 interim (1xx) responses before the final one");
    }
    EXPECT_EQ(limits{}.max_interim_responses, 16U);
}

TEST(response_parser, reads_a_chunked_body) {
    const std::string in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nExpires: never\r\n\r\n";
    for (const std::size_t piece : {whole, std::size_t{1}, std::size_t{3}}) {
        const auto all = parse_responses(in, "GET", piece);
        ASSERT_EQ(all.size(), 1U);
        EXPECT_EQ(all[0].body, "Wikipedia");
    }
}

TEST(response_parser, reads_a_body_until_the_connection_closes) {
    for (const std::size_t piece : {whole, std::size_t{1}}) {
        const auto all = parse_responses("HTTP/1.0 200 OK\r\n\r\nall of it", "GET", piece, true);
        ASSERT_EQ(all.size(), 1U);
        EXPECT_EQ(all[0].body, "all of it");
    }
    response_parser p;
    p.feed("HTTP/1.1 200 OK\r\n\r\n");
    EXPECT_TRUE(p.body_until_close());
    EXPECT_EQ(p.feed("abc"), 3U);
    EXPECT_EQ(p.state(), parse_state::body);
    p.feed_eof();
    ASSERT_EQ(p.state(), parse_state::complete);
    EXPECT_TRUE(p.body_until_close()) << "until take()";
    EXPECT_EQ(p.take().body, "abc");
    EXPECT_FALSE(p.body_until_close());
    response_parser q;
    q.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n");
    EXPECT_FALSE(q.body_until_close());
}

TEST(response_parser, feed_eof_reports_a_message_cut_short) {
    const auto eof_error = [](std::string_view in) -> std::string {
        response_parser p;
        p.expect("GET");
        p.feed(in);
        try {
            p.feed_eof();
        } catch (const protocol_error& e) {
            EXPECT_EQ(e.status(), 400);
            return e.what();
        }
        return "no error";
    };
    EXPECT_NE(eof_error("").find("before a response"), std::string::npos);
    EXPECT_NE(eof_error("HTTP/1.1 200 OK\r\nConte").find("response head"), std::string::npos);
    EXPECT_NE(eof_error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").find("body"),
              std::string::npos);
    EXPECT_NE(
        eof_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab").find("body"),
        std::string::npos);
}

TEST(response_parser, rejects_malformed_responses) {
    std::string what;
    EXPECT_EQ(response_rejection("HTTP/1.1 20 OK\r\n\r\n", what), 400);
    EXPECT_NE(what.find("malformed status line"), std::string::npos) << what;
    EXPECT_EQ(response_rejection("HTTP/1.1 2000 OK\r\n\r\n", what), 400);
    EXPECT_EQ(response_rejection("HTTP/1.1 099 Low\r\n\r\n", what), 400);
    EXPECT_NE(what.find("below 100"), std::string::npos) << what;
    EXPECT_EQ(response_rejection("ICY 200 OK\r\n\r\n", what), 400);
    EXPECT_EQ(response_rejection("HTTP/2.0 200 OK\r\n\r\n", what), 505);
    EXPECT_EQ(response_rejection("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n",
                                 what),
              400);
    EXPECT_NE(what.find("both Content-Length and Transfer-Encoding"), std::string::npos);
    EXPECT_EQ(
        response_rejection("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", what),
        501);
    EXPECT_EQ(response_rejection("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", what), 400);
    EXPECT_NE(what.find("bare CR"), std::string::npos);
    EXPECT_EQ(response_rejection("HTTP/1.1 200 OK\r\n folded\r\n\r\n", what), 400);
    EXPECT_NE(what.find("obs-fold"), std::string::npos);
}

TEST(response_parser, forgets_the_expected_method_after_each_response) {
    response_parser p;
    p.expect("HEAD");
    p.feed("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
    ASSERT_EQ(p.state(), parse_state::complete);
    (void)p.take();
    p.feed("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
    EXPECT_EQ(p.state(), parse_state::body);
}

TEST(response_parser, take_before_complete_throws) {
    response_parser p;
    EXPECT_THROW((void)p.take(), corio::invalid_state_error);
}

TEST(response_parser, keep_alive_follows_the_version_and_connection) {
    auto r = parse_responses("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").at(0);
    EXPECT_TRUE(r.keep_alive());
    r = parse_responses("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").at(0);
    EXPECT_FALSE(r.keep_alive());
    r = parse_responses("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").at(0);
    EXPECT_FALSE(r.keep_alive());
    r = parse_responses("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
            .at(0);
    EXPECT_TRUE(r.keep_alive());
}

// --- serialize ---------------------------------------------------------------------------

TEST(http_serialize, writes_a_response_with_its_length_and_reason) {
    response r{200, "Hello, World!"};
    r.headers.add("Content-Type", "text/plain");
    std::string out = "prefix|";
    serialize(r, out);
    EXPECT_EQ(out, "prefix|HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                   "Content-Length: 13\r\n\r\nHello, World!");
}

TEST(http_serialize, keeps_a_given_reason_and_length) {
    response r{404, "gone"};
    r.reason = "Nowhere";
    r.headers.add("Content-Length", "4");
    std::string out;
    serialize(r, out);
    EXPECT_EQ(out, "HTTP/1.1 404 Nowhere\r\nContent-Length: 4\r\n\r\ngone");
}

TEST(http_serialize, writes_only_the_head_for_head_requests) {
    std::string out;
    serialize(response{200, "12345"}, out, true);
    EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
}

TEST(http_serialize, writes_no_body_or_length_for_204_304_and_1xx) {
    for (const int status : {100, 204, 304}) {
        std::string out;
        serialize(response{status, "ignored"}, out);
        EXPECT_EQ(out, "HTTP/1.1 " + std::to_string(status) + " " +
                           std::string(corio::http::reason_phrase(status)) + "\r\n\r\n");
    }
}

TEST(http_serialize, writes_a_chunked_body_when_the_fields_say_so) {
    response r{200, "Wikipedia"};
    r.headers.add("Transfer-Encoding", "chunked");
    std::string out;
    serialize(r, out);
    EXPECT_EQ(out,
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nWikipedia\r\n0\r\n\r\n");
    const auto back = parse_responses(out);
    ASSERT_EQ(back.size(), 1U);
    EXPECT_EQ(back[0].body, "Wikipedia");
}

TEST(http_serialize, writes_no_line_breaks_from_values) {
    response r{200, ""};
    r.headers.add("X-Injected", "a\r\nSet-Cookie: evil");
    r.reason = "OK\r\nX: y";
    std::string out;
    serialize(r, out);
    EXPECT_EQ(out, "HTTP/1.1 200 OK  X: y\r\nX-Injected: a  Set-Cookie: evil\r\n"
                   "Content-Length: 0\r\n\r\n");
}

TEST(http_serialize, writes_http_1_0_responses) {
    response r{200, ""};
    r.version_minor = 0;
    std::string out;
    serialize(r, out);
    EXPECT_EQ(out.substr(0, 17), "HTTP/1.0 200 OK\r\n");
}

TEST(http_serialize, writes_requests_with_a_length_where_needed) {
    request get;
    get.headers.add("Host", "a");
    std::string out;
    serialize(get, out);
    EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");

    request post;
    post.method = "POST";
    post.target = "/form";
    post.headers.add("Host", "a");
    out.clear();
    serialize(post, out);
    EXPECT_EQ(out, "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");

    post.body = "x=1";
    out.clear();
    serialize(post, out);
    EXPECT_EQ(out, "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nx=1");

    request odd;
    odd.target = "/a b\r\n";
    out.clear();
    serialize(odd, out);
    EXPECT_EQ(out, "GET /a%20b%0D%0A HTTP/1.1\r\n\r\n");
}

/// The invalid_argument serialize() throws for `m`, its message; empty if none. Nothing
/// must have been appended.
template <class Message>
std::string refusal(const Message& m, bool head_only = false) {
    std::string out = "kept";
    try {
        if constexpr (std::is_same_v<Message, response>) {
            serialize(m, out, head_only);
        } else {
            serialize(m, out);
        }
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(out, "kept") << "something was written before the refusal";
        return e.what();
    }
    return {};
}

TEST(http_serialize, refuses_a_content_length_that_disagrees_with_the_body) {
    response shorter{200, "0123456789abcde"};
    shorter.headers.set("Content-Length", "5");
    EXPECT_EQ(refusal(shorter),
              "http: the response's Content-Length (5) disagrees with its body (15 bytes)");
    response longer{200, "01234"};
    longer.headers.set("Content-Length", "50");
    EXPECT_EQ(refusal(longer),
              "http: the response's Content-Length (50) disagrees with its body (5 bytes)");
    // Even with the body left out (HEAD, 304), a body that is there must agree.
    EXPECT_NE(refusal(longer, true), "");
    response odd{200, "x"};
    odd.headers.add("Content-Length", "1");
    odd.headers.add("Content-Length", "2");
    EXPECT_EQ(refusal(odd), "http: the response has Content-Length fields that differ ('1', '2')");
    odd.headers.set("Content-Length", "-1");
    EXPECT_EQ(refusal(odd), "http: the response's Content-Length '-1' is not a decimal number");
}

TEST(http_serialize, refuses_transfer_encodings_it_cannot_frame) {
    response gzip{200, "body"};
    gzip.headers.set("Transfer-Encoding", "gzip");
    EXPECT_NE(refusal(gzip).find("'s Transfer-Encoding 'gzip' does not end in chunked"),
              std::string::npos)
        << refusal(gzip);
    response both{200, "body"};
    both.headers.set("Content-Length", "4");
    both.headers.set("Transfer-Encoding", "chunked");
    EXPECT_EQ(refusal(both),
              "http: the response has both Content-Length and Transfer-Encoding (RFC 9112 §6.2)");
    response twice{200, "body"};
    twice.headers.add("Transfer-Encoding", "chunked");
    twice.headers.add("Transfer-Encoding", "chunked");
    EXPECT_NE(refusal(twice), "");
    response parameter{200, "body"};
    parameter.headers.set("Transfer-Encoding", "chunked;q=1");
    EXPECT_NE(refusal(parameter), "");
    response old{200, "body"};
    old.version_minor = 0;
    old.headers.set("Transfer-Encoding", "chunked");
    EXPECT_EQ(refusal(old), "http: the response is HTTP/1.0 and has a Transfer-Encoding "
                            "('chunked')");
    response status{42, ""};
    EXPECT_EQ(refusal(status), "http: the response's status 42 is not a three-digit code "
                               "(RFC 9110 §15)");
}

TEST(http_serialize, frames_codings_ending_in_chunked_by_chunks) {
    response r{200, "zipped"};
    r.headers.set("Transfer-Encoding", "gzip, chunked");
    std::string out;
    serialize(r, out);
    EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                   "6\r\nzipped\r\n0\r\n\r\n");
}

TEST(http_serialize, writes_one_content_length_where_the_message_had_it) {
    response r{200, "12345"};
    r.headers.add("A", "1");
    r.headers.add("content-length", "005");
    r.headers.add("B", "2");
    r.headers.add("Content-Length", "5, 5");
    std::string out;
    serialize(r, out);
    EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 5\r\nB: 2\r\n\r\n12345");
}

TEST(http_serialize, head_and_304_keep_a_given_length_without_a_body) {
    response head{200, ""};
    head.headers.set("Content-Length", "50");
    std::string out;
    serialize(head, out, true);
    EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n");
    response not_modified{304, ""};
    not_modified.headers.set("Content-Length", "50");
    out.clear();
    serialize(not_modified, out);
    EXPECT_EQ(out, "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n");
    // Outside HEAD and 304, the body is sent, so an empty one contradicts 50.
    EXPECT_NE(refusal(head), "");
}

TEST(http_serialize, drops_content_length_and_transfer_encoding_from_1xx_and_204) {
    for (const int status : {103, 204}) {
        response r{status, "ignored"};
        r.headers.add("Content-Length", "7");
        r.headers.add("Transfer-Encoding", "chunked");
        r.headers.add("X", "y");
        std::string out;
        serialize(r, out);
        EXPECT_EQ(out, "HTTP/1.1 " + std::to_string(status) + " " +
                           std::string(corio::http::reason_phrase(status)) + "\r\nX: y\r\n\r\n");
    }
}

TEST(http_serialize, refuses_requests_whose_framing_or_line_would_break) {
    request lying;
    lying.method = "POST";
    lying.headers.add("Host", "a");
    lying.headers.add("Content-Length", "5");
    lying.body = "0123456789abcde";
    EXPECT_EQ(refusal(lying),
              "http: the request's Content-Length (5) disagrees with its body (15 bytes)");
    request gzip;
    gzip.method = "POST";
    gzip.headers.add("Transfer-Encoding", "gzip");
    gzip.body = "x";
    EXPECT_NE(refusal(gzip).find("does not end in chunked"), std::string::npos);
    request both;
    both.method = "PUT";
    both.headers.add("Content-Length", "1");
    both.headers.add("Transfer-Encoding", "chunked");
    both.body = "x";
    EXPECT_NE(refusal(both).find("both Content-Length and Transfer-Encoding"), std::string::npos);
    request smuggled;
    smuggled.method = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET";
    EXPECT_EQ(refusal(smuggled).rfind("http: the request's method", 0), 0U) << refusal(smuggled);
    request no_target;
    no_target.target.clear();
    EXPECT_EQ(refusal(no_target), "http: the request's target is empty");

    request chunked;
    chunked.method = "POST";
    chunked.headers.add("Transfer-Encoding", "chunked");
    chunked.body = "abc";
    std::string out;
    serialize(chunked, out);
    EXPECT_EQ(out, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
}

TEST(http_serialize, a_request_round_trips_through_the_parser) {
    for (const std::string& in : {get_request, post_request, chunked_request}) {
        const request first = parse_one(in);
        std::string out;
        serialize(first, out);
        const request second = parse_one(out);
        EXPECT_TRUE(same(first, second)) << out;
    }
}

} // namespace
