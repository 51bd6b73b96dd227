// libFuzzer target: the HTTP/1.1 connection state machine (src/http/h1/connection.hpp), as
// a server drives it.
//
// Input: one byte choosing how the rest is cut into pieces and how each request is
// answered, then the bytes the client sends. They are given to a server-side
// h1::connection piece by piece, as a server's reads would give them (what it does not take
// is given again, with the next piece after it), and every request it yields is answered.
// Checked at every step: receive() takes at most what it is given, and nothing while a
// request is unanswered; the events follow the states (paused exactly while their side is
// done, error exactly in state error, and nothing more is taken after it); the requests
// that come out, and the error, are the ones a request_parser fed the whole stream gives
// (the state machine adds no rule of its own to parsing); after an answer that keeps the
// connection both sides are idle, otherwise both must close and nothing more is read.

#include <corio/errors.hpp>
#include <corio/http/parser.hpp>

#include "http/h1/connection.hpp"

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
namespace h1 = corio::http::h1;

[[noreturn]] void violated(const char* what, int line) {
    std::fprintf(stderr, "h1_connection_fuzz: invariant violated: %s (line %d)\n", what, line);
    std::abort();
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            violated(#cond, __LINE__);                                                             \
        }                                                                                          \
    } while (false)

/// What a request_parser fed the whole stream gives: the requests, and the error status.
struct expected {
    std::vector<request> requests;
    std::optional<int> status;
};

expected parse_whole(std::string_view in) {
    expected out;
    request_parser p;
    try {
        while (!in.empty()) {
            in.remove_prefix(p.feed(in));
            if (p.state() == parse_state::complete) {
                out.requests.push_back(p.take());
            }
        }
    } catch (const protocol_error& e) {
        out.status = e.status();
    }
    return out;
}

bool same(const request& a, const request& b) {
    return a.method == b.method && a.target == b.target && a.version_minor == b.version_minor &&
           a.body == b.body && a.headers.size() == b.headers.size();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    const std::uint8_t seed = data[0];
    const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    const expected whole = parse_whole(in);

    h1::connection conn(h1::role::server, limits{});
    std::string out;
    std::string pending; // given to the state machine, not taken yet
    std::size_t next = 0;
    std::size_t answered = 0;
    bool closing = false;
    std::size_t piece = (seed & 7) + 1;
    while (!closing) {
        // A read: the next piece joins what was not taken.
        if (next < in.size()) {
            const std::size_t n = seed < 16 ? in.size() - next : std::min(piece, in.size() - next);
            pending.append(in.substr(next, n));
            next += n;
            piece = piece * 3 % 61 + 1;
        }
        const std::size_t taken = conn.receive(pending);
        CHECK(taken <= pending.size());
        pending.erase(0, taken);

        const h1::event ev = conn.next_event();
        CHECK((ev == h1::event::error) == (conn.their_state() == h1::state::error));
        CHECK(ev != h1::event::paused); // every request is answered before the next read
        if (ev == h1::event::error) {
            CHECK(whole.status.has_value());
            CHECK(*whole.status == conn.error_status());
            CHECK(answered == whole.requests.size());
            CHECK(conn.receive("GET / HTTP/1.1\r\n") == 0);
            response r(conn.error_status(), "bad");
            CHECK(!conn.send_response(r, out, {}, true));
            CHECK(conn.our_state() == h1::state::must_close);
            break;
        }
        if (ev == h1::event::message) {
            const request req = conn.take_request();
            CHECK(answered < whole.requests.size());
            CHECK(same(req, whole.requests[answered]));
            CHECK(conn.their_state() == h1::state::done ||
                  conn.their_state() == h1::state::must_close);
            CHECK(conn.next_event() == h1::event::paused);
            CHECK(conn.receive("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
            ++answered;
            response r(((seed >> 4) & 1) != 0 ? 204 : 200, "ok");
            const std::size_t before = out.size();
            const bool keep =
                conn.send_response(r, out, {}, ((seed >> 5) & 1) != 0 && answered > 2);
            CHECK(out.size() > before);
            if (keep) {
                CHECK(conn.our_state() == h1::state::idle);
                CHECK(conn.their_state() == h1::state::idle);
                CHECK(req.keep_alive());
            } else {
                CHECK(conn.our_state() == h1::state::must_close);
                CHECK(conn.their_state() == h1::state::must_close);
                closing = true;
            }
            continue;
        }
        if (ev == h1::event::send_continue) {
            conn.send_continue(out);
            CHECK(conn.next_event() == h1::event::body);
        }
        if (next == in.size() && taken == 0) {
            // Everything was read: the end of the stream.
            conn.receive_eof();
            const h1::event end = conn.next_event();
            CHECK(end == h1::event::closed || end == h1::event::message);
            if (end == h1::event::closed) {
                CHECK(answered == whole.requests.size());
                break;
            }
        }
    }
    return 0;
}
