// libFuzzer target: http::request_parser.
//
// Input: one byte choosing how the rest is cut into pieces (and whether small limits are
// used), then the bytes of the stream. The stream is parsed whole and in pieces, and every
// step is checked: feed() uses at most what it is given, and nothing only when complete;
// the state moves forward only (head, body, complete) until take(); take() works exactly
// when complete; an error leaves the parser refusing until reset(). With the default
// limits, parsing in pieces gives the same requests and the same error as parsing whole
// (except that an unfinished last line is not looked at until it ends). Every request
// parsed is serialized and parsed again, and must come back the same.

#include <corio/errors.hpp>
#include <corio/http/parser.hpp>

#include "framing.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace corio::http;

[[noreturn]] void violated(const char* what, int line) {
    std::fprintf(stderr, "http_request_fuzz: invariant violated: %s (line %d)\n", what, line);
    std::abort();
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            violated(#cond, __LINE__);                                                             \
        }                                                                                          \
    } while (false)

struct outcome {
    std::vector<request> requests;
    std::vector<bool> continues; // expects_continue() of each request, at its completion
    std::optional<int> status;   // the protocol_error, if one was thrown
    std::string what;
    parse_state final_state = parse_state::head;
};

bool same_request(const request& a, const request& b) {
    return a.method == b.method && a.target == b.target && a.version_minor == b.version_minor &&
           a.body == b.body &&
           std::equal(a.headers.begin(), a.headers.end(), b.headers.begin(), b.headers.end());
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
}

/// What a complete request must look like, whatever the input was.
void check_request(const request& r) {
    CHECK(is_token(r.method));
    CHECK(!r.target.empty());
    CHECK(r.version_minor == 0 || r.version_minor == 1);
    CHECK(r.version_minor == 0 || r.headers.contains("Host"));
    CHECK(!(r.headers.contains("Content-Length") && r.headers.contains("Transfer-Encoding")));
    for (const auto& [name, value] : r.headers) {
        CHECK(is_token(name));
        CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
        CHECK(value.empty() || (value.front() != ' ' && value.back() != ' '));
    }
}

/// Cut sizes from `seed`: 0 means whole, otherwise a repeating pattern of small pieces.
std::size_t piece_size(std::uint8_t seed, std::size_t i) {
    if (seed == 0) {
        return static_cast<std::size_t>(-1);
    }
    const std::size_t pattern[] = {1, 2, 3, 5, 8, 13, 21, 64};
    return pattern[(seed + i * (seed | 1)) % 8] + (seed >> 5);
}

outcome run(std::string_view in, std::uint8_t seed, limits l) {
    outcome out;
    request_parser p(l);
    CHECK(p.state() == parse_state::head);
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
            if (before == parse_state::complete) {
                CHECK(used == 0);
            }
            if (after == parse_state::body) {
                CHECK(!p.message().method.empty());
            }
            if (p.expects_continue()) {
                CHECK(p.message().version_minor == 1);
                CHECK(after != parse_state::head);
            }
            in.remove_prefix(used);
            if (after == parse_state::complete) {
                CHECK(p.feed(in) == 0);
                out.continues.push_back(p.expects_continue());
                out.requests.push_back(p.take());
                CHECK(p.state() == parse_state::head);
                CHECK(!p.expects_continue());
                check_request(out.requests.back());
            } else if (after != before || step == 1) {
                // (Not at every step: an exception per byte would slow the fuzzer down.)
                bool refused = false;
                try {
                    (void)p.take();
                } catch (const corio::invalid_state_error&) {
                    refused = true;
                }
                CHECK(refused);
            }
        }
        out.final_state = p.state();
    } catch (const protocol_error& e) {
        out.status = e.status();
        out.what = e.what();
        const int s = e.status();
        CHECK(s == 400 || s == 413 || s == 414 || s == 431 || s == 501 || s == 505);
        CHECK(out.what.rfind("http: ", 0) == 0);
        bool refused = false;
        try {
            p.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        } catch (const corio::invalid_state_error&) {
            refused = true;
        }
        CHECK(refused);
        p.reset();
        CHECK(p.state() == parse_state::head);
        CHECK(p.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == 27);
        CHECK(p.state() == parse_state::complete);
    }
    return out;
}

using corio_fuzz::canonical_framing;

/// serialize() then parse again: the same request (plus the Content-Length: 0 that
/// serialize adds to a POST, PUT or PATCH without one, and with its Content-Length fields
/// written as one, canonical).
void check_round_trip(const request& r) {
    std::string wire;
    serialize(r, wire);
    // serialize() may add a Content-Length field, and a space after each colon.
    limits roomier;
    roomier.max_headers += 1;
    roomier.max_header_bytes *= 2;
    request_parser p(roomier);
    std::size_t used = 0;
    try {
        used = p.feed(wire);
        if (p.state() == parse_state::body) {
            used += p.feed(std::string_view(wire).substr(used));
        }
    } catch (const protocol_error& e) {
        std::fprintf(stderr, "reparse failed: %s\n", e.what());
        violated("a serialized request parses again", __LINE__);
    }
    CHECK(p.state() == parse_state::complete);
    CHECK(used == wire.size());
    request back = p.take();
    request expected = r;
    expected.headers = canonical_framing(r.headers, false);
    const bool wants_length = r.method == "POST" || r.method == "PUT" || r.method == "PATCH";
    if (wants_length && !r.headers.contains("Content-Length") &&
        !r.headers.contains("Transfer-Encoding")) {
        expected.headers.add("Content-Length", "0");
    }
    CHECK(same_request(back, expected));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    const std::uint8_t seed = data[0];
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

    // Small limits, to reach 413/414/431, on one input in four.
    limits l;
    const bool small = (seed & 3) == 3;
    if (small) {
        l.max_request_line = 64;
        l.max_header_bytes = 256;
        l.max_headers = 8;
        l.max_body = 512;
    }
    const outcome whole = run(in, 0, l);
    const outcome pieces = run(in, seed, l);

    for (const request& r : whole.requests) {
        check_round_trip(r);
    }

    if (!small && in.size() < l.max_request_line) {
        // Parsing in pieces may stop short of an error in an unfinished last line.
        const bool cut_short = whole.status && !pieces.status;
        CHECK(pieces.requests.size() == whole.requests.size());
        for (std::size_t i = 0; i < whole.requests.size(); ++i) {
            CHECK(same_request(pieces.requests[i], whole.requests[i]));
            CHECK(pieces.continues[i] == whole.continues[i]);
        }
        if (!cut_short) {
            CHECK(pieces.status == whole.status);
            CHECK(pieces.what == whole.what);
            if (!whole.status) {
                CHECK(pieces.final_state == whole.final_state);
            }
        } else {
            CHECK(pieces.final_state == parse_state::head);
        }
    }
    return 0;
}
