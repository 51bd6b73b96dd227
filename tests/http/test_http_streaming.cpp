// Bodies in pieces, over real sockets: a handler reading a request body of any size as it
// arrives (server_options::stream_request_bodies), responses produced by async generators
// and streams (chunked, HTTP/1.0, HEAD, a failing producer), client::open reading a
// response body as it arrives, the connection's backpressure both ways, uploads from the
// client in pieces, and a proxy relaying one body into another.

#include "support/http.hpp"

#include <corio/corio.hpp>
#include <corio/http/client.hpp>
#include <corio/http/server.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <vector>

using namespace std::chrono_literals;
using namespace corio_http_test;
namespace http = corio::http;

namespace {

class http_streaming : public fd_leak_check {};

/// A running checksum of bytes (FNV-1a), to compare what was sent with what arrived.
struct checksum {
    std::uint64_t value = 1469598103934665603ULL;
    std::uint64_t bytes = 0;
    void add(std::string_view data) {
        for (const char c : data) {
            value = (value ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
        }
        bytes += data.size();
    }
};

/// `count` pieces of `size` bytes each, the bytes a function of their offset.
std::string piece_at(std::uint64_t offset, std::size_t size) {
    std::string p(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        p[i] = static_cast<char>('a' + (offset + i) % 23);
    }
    return p;
}

corio::async_generator<std::string> pieces(std::size_t count, std::size_t size) {
    for (std::size_t i = 0; i < count; ++i) {
        co_yield piece_at(i * size, size);
    }
}

checksum expected(std::size_t count, std::size_t size) {
    checksum c;
    for (std::size_t i = 0; i < count; ++i) {
        c.add(piece_at(i * size, size));
    }
    return c;
}

/// What the counting handler saw of the bodies it read.
struct upload_log {
    checksum sum;
    std::size_t largest_piece = 0;
    std::size_t pieces = 0;
};

/// Reads the body in pieces; answers "<bytes> <checksum>".
http::handler counting(std::shared_ptr<upload_log> log) {
    return [log](http::request& req) -> corio::task<http::response> {
        EXPECT_TRUE(req.body.empty());
        checksum sum;
        while (auto piece = co_await req.body_stream().next()) {
            sum.add(*piece);
            log->largest_piece = std::max(log->largest_piece, piece->size());
            ++log->pieces;
        }
        log->sum = sum;
        co_return http::response(200, std::to_string(sum.bytes) + " " + std::to_string(sum.value));
    };
}

http::server_options streaming_options() {
    http::server_options o;
    o.stream_request_bodies = true;
    o.limits.max_body = 1024 * 1024; // read_all()'s limit only
    return o;
}

TEST_F(http_streaming, a_handler_reads_a_chunked_upload_larger_than_max_body_in_pieces) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<upload_log>();
        test_server srv = co_await start_test_server(counting(log), streaming_options());
        http::client c;
        http::request req;
        req.method = "PUT";
        req.streamed_body = std::make_shared<http::body_stream>(
            http::source_from(pieces(128, 64 * 1024))); // 8 MiB, chunked
        http::response res = co_await c.send(std::move(req), http::url::parse(srv.url("/up")));
        const checksum want = expected(128, 64 * 1024);
        EXPECT_EQ(res.status, 200);
        EXPECT_EQ(res.body, std::to_string(want.bytes) + " " + std::to_string(want.value));
        EXPECT_LE(log->largest_piece, 64U * 1024);
        EXPECT_GT(log->pieces, 1U);
        // The connection persists: a second request goes on it.
        http::response again = co_await c.post(srv.url("/again"), std::string("abc"));
        EXPECT_EQ(again.body, "3 " + std::to_string([] {
                                  checksum k;
                                  k.add("abc");
                                  return k.value;
                              }()));
        EXPECT_EQ(srv.log->connections, 1);
        co_await stop(srv);
    }());
}

TEST_F(http_streaming, read_takes_at_most_what_is_asked_and_pipelined_requests_follow) {
    corio::run([]() -> corio::task<> {
        http::handler h = [](http::request& req) -> corio::task<http::response> {
            std::string out;
            while (true) {
                std::string part = co_await req.body_stream().read(3);
                if (part.empty()) {
                    break;
                }
                EXPECT_LE(part.size(), 3U);
                out += "[" + part + "]";
            }
            EXPECT_TRUE(req.body_stream().at_eof());
            co_return http::response(200, out);
        };
        test_server srv = co_await start_test_server(h, streaming_options());
        corio::stream s = co_await connect(srv);
        s.write("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\nabcdefg"
                "POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                "2\r\nhi\r\n3\r\nyou\r\n0\r\n\r\n"
                "GET /c HTTP/1.1\r\nHost: t\r\n\r\n");
        raw_response a = co_await expect_response(s);
        raw_response b = co_await expect_response(s);
        raw_response c = co_await expect_response(s);
        EXPECT_EQ(a.body, "[abc][def][g]");
        EXPECT_EQ(b.body, "[hiy][ou]");
        EXPECT_EQ(c.body, "");
        EXPECT_FALSE(a.has("Connection"));
        co_await stop(srv);
    }());
}

TEST_F(http_streaming, an_answer_before_the_body_is_read_closes_the_connection_after_it) {
    corio::run([]() -> corio::task<> {
        int calls = 0;
        http::handler h = [&calls](http::request&) -> corio::task<http::response> {
            ++calls;
            co_return http::response(403, "no\n");
        };
        test_server srv = co_await start_test_server(h, streaming_options());
        corio::stream s = co_await connect(srv);
        // A body announced and not sent: the handler answers at once; no 100 Continue.
        s.write("PUT /big HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                "Content-Length: 1000000000\r\n\r\n");
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 403);
        EXPECT_EQ(r.field("Connection"), "close");
        EXPECT_TRUE(co_await ends(s));
        EXPECT_EQ(calls, 1);
        co_await stop(srv);
    }());
}

TEST_F(http_streaming, continue_is_sent_when_the_handler_first_reads) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<upload_log>();
        test_server srv = co_await start_test_server(counting(log), streaming_options());
        corio::stream s = co_await connect(srv);
        s.write("PUT /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        const std::string interim = co_await s.read_until("\r\n\r\n");
        EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
        s.write("hello");
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(log->sum.bytes, 5U);
        co_await stop(srv);
    }());
}

TEST_F(http_streaming, read_all_past_max_body_and_a_malformed_body_are_answered_with_their_status) {
    corio::run([]() -> corio::task<> {
        http::handler h = [](http::request& req) -> corio::task<http::response> {
            std::string all = co_await req.body_stream().read_all();
            co_return http::response(200, std::to_string(all.size()));
        };
        http::server_options o = streaming_options();
        o.limits.max_body = 10;
        test_server srv = co_await start_test_server(h, o);
        {
            corio::stream s = co_await connect(srv);
            s.write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789");
            raw_response ok = co_await expect_response(s);
            EXPECT_EQ(ok.body, "10");
            // An endless chunked body is cut at the limit.
            s.write("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
            for (int i = 0; i < 20; ++i) {
                s.write("4\r\nxxxx\r\n");
            }
            raw_response big = co_await expect_response(s);
            EXPECT_EQ(big.status, 413);
            EXPECT_EQ(big.field("Connection"), "close");
            EXPECT_NE(big.body.find("limits::max_body"), std::string::npos) << big.body;
            EXPECT_TRUE(co_await ends(s));
        }
        {
            corio::stream s = co_await connect(srv);
            s.write("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
            raw_response bad = co_await expect_response(s);
            EXPECT_EQ(bad.status, 400);
            EXPECT_TRUE(co_await ends(s));
        }
        co_await stop(srv);
    }());
}

corio::async_generator<std::string> three_events() {
    for (int i = 0; i < 3; ++i) {
        co_yield "data: " + std::to_string(i) + "\n\n";
        co_await corio::sleep(0s);
    }
}

http::handler event_source() {
    return [](http::request&) -> corio::task<http::response> {
        http::response r;
        r.headers.set("Content-Type", "text/event-stream");
        r.stream_body(three_events());
        co_return r;
    };
}

TEST_F(http_streaming, a_generator_response_is_chunked_to_1_1_and_close_delimited_to_1_0) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(event_source());
        {
            corio::stream s = co_await connect(srv);
            s.write("GET /events HTTP/1.1\r\nHost: t\r\n\r\n");
            const std::string head = co_await s.read_until("\r\n\r\n");
            EXPECT_NE(lower(head).find("transfer-encoding: chunked"), std::string::npos) << head;
            EXPECT_EQ(co_await s.read_until("\r\n"), "9\r\n");
            EXPECT_EQ(co_await s.read_exactly(11), "data: 0\n\n\r\n");
            std::string rest = co_await s.read_until("0\r\n\r\n");
            EXPECT_EQ(rest, "9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n");
            // Keep-alive: the next request is answered on the same connection.
            s.write("HEAD /events HTTP/1.1\r\nHost: t\r\n\r\n");
            raw_response h = co_await expect_response(s, true);
            EXPECT_EQ(h.field("Transfer-Encoding"), "chunked");
            s.write("GET /events HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            std::string all = co_await s.read_all();
            EXPECT_NE(all.find("data: 2\n\n\r\n0\r\n\r\n"), std::string::npos) << all;
        }
        {
            corio::stream s = co_await connect(srv);
            s.write("GET /events HTTP/1.0\r\n\r\n");
            std::string all = co_await s.read_all();
            const std::size_t end = all.find("\r\n\r\n");
            EXPECT_NE(end, std::string::npos);
            EXPECT_EQ(lower(all.substr(0, end)).find("transfer-encoding"), std::string::npos);
            EXPECT_EQ(all.substr(end + 4), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
        }
        co_await stop(srv);
    }());
}

corio::async_generator<std::string> failing_after(int n) {
    for (int i = 0; i < n; ++i) {
        co_yield std::string(100, 'x');
    }
    throw std::runtime_error("the producer failed");
}

TEST_F(http_streaming, a_producer_that_fails_midway_cuts_the_body_short_and_is_reported) {
    int reported = 0;
    corio::run([&reported]() -> corio::task<> {
        corio::get_running_loop().set_exception_handler(
            [&reported](corio::event_loop&, const corio::exception_context& c) {
                EXPECT_NE(c.message.find("body failed while it was being sent"), std::string::npos)
                    << c.message;
                ++reported;
            });
        http::handler h = [](http::request&) -> corio::task<http::response> {
            http::response r;
            r.stream_body(failing_after(3));
            co_return r;
        };
        test_server srv = co_await start_test_server(h);
        http::client c;
        std::exception_ptr e;
        try {
            co_await c.get(srv.url("/"));
        } catch (const http::protocol_error&) {
            e = std::current_exception();
        } catch (const std::system_error&) {
            e = std::current_exception(); // a reset may come before the end of stream
        }
        EXPECT_TRUE(e);
        co_await stop(srv);
    }());
    EXPECT_EQ(reported, 1);
}

/// A handler whose body is `size` pieces of `piece` bytes, counting what it produced.
http::handler producing(std::size_t count, std::size_t size, std::shared_ptr<std::uint64_t> made) {
    return [count, size, made](http::request&) -> corio::task<http::response> {
        http::response r;
        r.stream_body(
            [](std::size_t count, std::size_t size,
               std::shared_ptr<std::uint64_t> made) -> corio::async_generator<std::string> {
                for (std::size_t i = 0; i < count; ++i) {
                    *made += size;
                    co_yield piece_at(i * size, size);
                }
            }(count, size, made));
        co_return r;
    };
}

TEST_F(http_streaming, open_reads_a_large_body_in_pieces_and_pools_the_connection_after_it) {
    corio::run([]() -> corio::task<> {
        auto made = std::make_shared<std::uint64_t>(0);
        test_server srv = co_await start_test_server(producing(512, 64 * 1024, made)); // 32 MiB
        http::client c({.limits = {.max_body = 1024}});
        http::response res = co_await c.open(srv.url("/big"));
        EXPECT_EQ(res.status, 200);
        EXPECT_TRUE(res.body.empty());
        EXPECT_TRUE(res.streamed_body && res.streamed_body->streamed());
        checksum got;
        std::size_t largest = 0;
        while (auto piece = co_await res.body_stream().next()) {
            got.add(*piece);
            largest = std::max(largest, piece->size());
        }
        const checksum want = expected(512, 64 * 1024);
        EXPECT_EQ(got.bytes, want.bytes);
        EXPECT_EQ(got.value, want.value);
        EXPECT_LE(largest, 64U * 1024);
        EXPECT_EQ(c.connections(), 1U);
        EXPECT_EQ(srv.log->connections, 1);
        // The connection went back to the pool: the next request reuses it. Dropped before
        // the end of its body, the response closes it.
        {
            http::response again = co_await c.open(srv.url("/again"));
            std::string first = co_await again.body_stream().read(10);
            EXPECT_EQ(first, piece_at(0, 10));
            EXPECT_EQ(srv.log->connections, 1);
        }
        EXPECT_EQ(c.connections(), 0U);
        // The whole-body forms keep their limit: read_all(), and get().
        http::response third = co_await c.open(srv.url("/third"));
        std::exception_ptr too_long;
        try {
            co_await third.body_stream().read_all();
        } catch (const http::protocol_error& e) {
            EXPECT_EQ(e.status(), 413);
            too_long = std::current_exception();
        }
        EXPECT_TRUE(too_long);
        std::exception_ptr whole;
        try {
            co_await c.get(srv.url("/fourth"));
        } catch (const http::protocol_error& e) {
            EXPECT_EQ(e.status(), 413);
            whole = std::current_exception();
        }
        EXPECT_TRUE(whole);
        co_await stop(srv);
    }());
}

TEST_F(http_streaming, a_reader_that_stops_stops_the_producer) {
    corio::run([]() -> corio::task<> {
        auto made = std::make_shared<std::uint64_t>(0);
        // 4 GiB if nobody stopped it.
        test_server srv = co_await start_test_server(producing(65536, 64 * 1024, made));
        http::client c;
        http::response res = co_await c.open(srv.url("/endless"));
        std::uint64_t got = 0;
        while (got < 1024 * 1024) {
            std::optional<std::string> piece = co_await res.body_stream().next();
            if (!piece) {
                break;
            }
            got += piece->size();
        }
        // Let the server run for a while: a producer writing without backpressure would make
        // 64 KiB at each turn of the loop at least (or all 4 GiB at once). With it, it makes
        // what the reader took plus what the socket buffers and the streams hold.
        for (int i = 0; i < 2000; ++i) {
            co_await corio::sleep(0s);
        }
        EXPECT_LT(*made, 64U * 1024 * 1024) << *made;
        co_await stop(srv);
    }());
}

TEST_F(http_streaming, an_upload_with_a_content_length_goes_in_pieces_as_given) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<upload_log>();
        test_server srv = co_await start_test_server(counting(log), streaming_options());
        http::client c;
        http::request req;
        req.method = "POST";
        req.headers.set("Content-Length", std::to_string(10 * 1000));
        req.streamed_body =
            std::make_shared<http::body_stream>(http::source_from(pieces(10, 1000)));
        http::response res = co_await c.send(std::move(req), http::url::parse(srv.url("/")));
        EXPECT_EQ(res.status, 200);
        EXPECT_EQ(log->sum.bytes, 10000U);
        EXPECT_EQ(log->sum.value, expected(10, 1000).value);
        // Fewer bytes than the Content-Length: refused before the request ends.
        http::request short_req;
        short_req.method = "POST";
        short_req.headers.set("Content-Length", "5000");
        short_req.streamed_body =
            std::make_shared<http::body_stream>(http::source_from(pieces(2, 1000)));
        std::exception_ptr e;
        try {
            co_await c.send(std::move(short_req), http::url::parse(srv.url("/")));
        } catch (const std::invalid_argument& err) {
            EXPECT_NE(std::string(err.what()).find("short of its Content-Length"),
                      std::string::npos)
                << err.what();
            e = std::current_exception();
        }
        EXPECT_TRUE(e);
        co_await stop(srv);
    }());
}

TEST_F(http_streaming, a_proxy_relays_a_response_body_and_a_stream_as_they_come) {
    corio::run([]() -> corio::task<> {
        auto made = std::make_shared<std::uint64_t>(0);
        test_server upstream = co_await start_test_server(producing(64, 16 * 1024, made));
        http::client c;
        const std::string target = upstream.url("/data");
        http::handler proxy = [&c, &target](http::request&) -> corio::task<http::response> {
            http::response from = co_await c.open(target);
            http::response r;
            r.headers.set("X-Upstream-Status", std::to_string(from.status));
            r.stream_body(http::source_from(from.streamed_body));
            co_return r;
        };
        test_server front = co_await start_test_server(proxy);
        http::client user;
        http::response res = co_await user.get(front.url("/"));
        EXPECT_EQ(res.status, 200);
        EXPECT_EQ(res.headers.get("X-Upstream-Status").value_or(""), "200");
        checksum got;
        got.add(res.body);
        EXPECT_EQ(got.bytes, 64U * 16 * 1024);
        EXPECT_EQ(got.value, expected(64, 16 * 1024).value);

        // A stream as the source: one end of a socket pair, written and closed by a task.
        http::handler piped = [](http::request&) -> corio::task<http::response> {
            int fds[2];
            EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
            corio::stream a = corio::stream::from_socket(fds[0]);
            corio::stream b = corio::stream::from_socket(fds[1]);
            corio::spawn([](corio::stream w) -> corio::task<> {
                w.write("from a stream");
                co_await w.drain();
                w.close();
            }(std::move(b)));
            http::response r;
            r.stream_body(std::move(a));
            co_return r;
        };
        test_server pipe_srv = co_await start_test_server(piped);
        http::response p = co_await user.get(pipe_srv.url("/"));
        EXPECT_EQ(p.body, "from a stream");
        co_await stop(pipe_srv);
        co_await stop(front);
        co_await stop(upstream);
    }());
}

} // namespace
