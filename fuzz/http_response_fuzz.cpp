// libFuzzer target: http::response_parser.
//
// Input: one byte choosing the method the responses answer (GET, HEAD, CONNECT) and how
// the rest is cut into pieces, then the bytes of the stream, which ends with feed_eof().
// Checked as for requests (fuzz/http_request_fuzz.cpp): what feed() uses, the states,
// take(), errors, parsing in pieces against parsing whole, and the serialize round trip.

#include <corio/errors.hpp>
#include <corio/http/parser.hpp>

#include "framing.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace corio::http;

[[noreturn]] void violated(const char* what, int line) {
    std::fprintf(stderr, "http_response_fuzz: invariant violated: %s (line %d)\n", what, line);
    std::abort();
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            violated(#cond, __LINE__);                                                             \
        }                                                                                          \
    } while (false)

struct outcome {
    std::vector<response> responses;
    std::vector<bool> until_close;
    std::optional<int> status;
    std::string what;
};

bool same_response(const response& a, const response& b, bool compare_reason) {
    return a.status == b.status && (!compare_reason || a.reason == b.reason) &&
           a.version_minor == b.version_minor && a.body == b.body &&
           std::equal(a.headers.begin(), a.headers.end(), b.headers.begin(), b.headers.end());
}

std::size_t piece_size(std::uint8_t seed, std::size_t i) {
    if (seed < 4) {
        return static_cast<std::size_t>(-1);
    }
    const std::size_t pattern[] = {1, 2, 3, 5, 8, 13, 21, 64};
    return pattern[(seed + i * (seed | 1)) % 8];
}

outcome run(std::string_view in, std::string_view method, std::uint8_t seed) {
    outcome out;
    response_parser p;
    p.expect(method);
    std::size_t step = 0;
    try {
        while (!in.empty()) {
            const std::string_view piece = in.substr(0, piece_size(seed, step++));
            const parse_state before = p.state();
            const std::size_t used = p.feed(piece);
            const parse_state after = p.state();
            CHECK(used <= piece.size());
            CHECK(used > 0 || after == parse_state::complete);
            CHECK(static_cast<int>(after) >= static_cast<int>(before));
            in.remove_prefix(used);
            if (after == parse_state::complete) {
                out.until_close.push_back(p.body_until_close());
                out.responses.push_back(p.take());
                const response& r = out.responses.back();
                CHECK(r.status >= 100 && r.status <= 999);
                CHECK(r.status >= 200 || r.status == 101);
                p.expect(method);
            }
        }
        p.feed_eof();
        if (p.state() == parse_state::complete) {
            out.until_close.push_back(p.body_until_close());
            out.responses.push_back(p.take());
        }
    } catch (const protocol_error& e) {
        out.status = e.status();
        out.what = e.what();
        CHECK(out.what.rfind("http: ", 0) == 0);
        bool refused = false;
        try {
            p.feed_eof();
        } catch (const corio::invalid_state_error&) {
            refused = true;
        }
        CHECK(refused);
    }
    return out;
}

using corio_fuzz::canonical_framing;

void check_round_trip(const response& r, std::string_view method) {
    // An answer to HEAD, or a CONNECT's success, has no body whatever its fields say:
    // written as a server answers HEAD.
    const bool no_body =
        method == "HEAD" || (method == "CONNECT" && r.status >= 200 && r.status < 300);
    const bool bodiless = r.status < 200 || r.status == 204 || r.status == 304;
    std::string wire;
    try {
        serialize(r, wire, no_body);
    } catch (const std::invalid_argument&) {
        // The parser does not look at the framing fields of a response without a body (to
        // HEAD, a CONNECT's success, a 304), which the serializer still checks.
        CHECK(no_body || r.status == 304);
        CHECK(wire.empty());
        return;
    }
    // serialize() may add a Content-Length field, and a space after each colon.
    limits roomier;
    roomier.max_headers += 1;
    roomier.max_header_bytes *= 2;
    response_parser p(roomier);
    p.expect(method);
    std::size_t used = 0;
    try {
        used = p.feed(wire);
        if (p.state() == parse_state::body) {
            used += p.feed(std::string_view(wire).substr(used));
        }
    } catch (const protocol_error& e) {
        std::fprintf(stderr, "reparse failed: %s\n", e.what());
        violated("a serialized response parses again", __LINE__);
    }
    CHECK(p.state() == parse_state::complete);
    CHECK(used == wire.size());
    response expected = r;
    // 1xx and 204 responses carry neither framing field (RFC 9110 §8.6).
    expected.headers = canonical_framing(r.headers, r.status < 200 || r.status == 204);
    if (!bodiless && !r.headers.contains("Content-Length") &&
        !r.headers.contains("Transfer-Encoding")) {
        expected.headers.add("Content-Length", std::to_string(r.body.size()));
    }
    CHECK(same_response(p.take(), expected, !r.reason.empty()));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    const std::uint8_t seed = data[0];
    const std::string_view methods[] = {"GET", "HEAD", "CONNECT", "GET"};
    const std::string_view method = methods[seed & 3];
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

    const outcome whole = run(in, method, 0);
    const outcome pieces = run(in, method, seed);
    for (const response& r : whole.responses) {
        check_round_trip(r, method);
    }
    if (in.size() < limits{}.max_request_line) {
        CHECK(pieces.responses.size() == whole.responses.size());
        for (std::size_t i = 0; i < whole.responses.size(); ++i) {
            CHECK(same_response(pieces.responses[i], whole.responses[i], true));
            CHECK(pieces.until_close[i] == whole.until_close[i]);
        }
        // Both end with feed_eof(), so an unfinished last line is an error either way,
        // though not always the same one.
        CHECK(pieces.status.has_value() == whole.status.has_value());
        if (whole.status && pieces.status && *whole.status != 400) {
            CHECK(pieces.status == whole.status);
        }
    }
    return 0;
}
