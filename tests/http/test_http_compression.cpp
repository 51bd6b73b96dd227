// Content codings end to end, over real sockets: the server compressing what is worth it as
// the request's Accept-Encoding allows (whole bodies, and streamed ones flushed piece by
// piece), the client asking for and decoding gzip, deflate and br (whole, and in pieces
// through open), a decompression bomb refused at the limit, corrupt data, and a program
// that names its own Accept-Encoding getting the bytes as they came.

#include "support/http.hpp"

#include <corio/corio.hpp>
#include <corio/http/client.hpp>
#include <corio/http/coding.hpp>
#include <corio/http/server.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace corio_http_test;
namespace http = corio::http;

namespace {

class http_compression : public fd_leak_check {};

std::string text(std::size_t n) {
    std::string s;
    while (s.size() < n) {
        s += "corio streams and compresses HTTP bodies; line " + std::to_string(s.size()) + "\n";
    }
    s.resize(n);
    return s;
}

/// /text: 100 KB of text/plain; /small: 100 bytes of it; /png: 100 KB as image/png.
corio::task<http::response> pages(http::request& req) {
    http::response r(200, text(req.path() == "/small" ? 100 : 100 * 1000));
    r.headers.set("Content-Type", req.path() == "/png" ? "image/png" : "text/plain");
    co_return r;
}

http::server_options compressing() {
    http::server_options o;
    o.compress = true;
    return o;
}

corio::task<raw_response> fetch_raw(const test_server& srv, const std::string& target,
                                    const std::string& accept) {
    corio::stream s = co_await connect(srv);
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: t\r\n";
    if (!accept.empty()) {
        request += "Accept-Encoding: " + accept + "\r\n";
    }
    s.write(request + "\r\n");
    co_return co_await expect_response(s);
}

TEST_F(http_compression, the_server_compresses_what_is_worth_it_as_the_request_allows) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(pages, compressing());
        const std::string want = text(100 * 1000);
        struct expectation {
            std::string accept;
            std::string coding;
        };
        const std::vector<expectation> cases = {
            {"gzip", "gzip"},
            {"deflate", "deflate"},
            {"br", "br"},
            {"gzip, deflate, br", "br"},
            {"gzip;q=1.0, identity; q=0.5, *;q=0", "gzip"},
            {"deflate, gzip;q=0.9", "deflate"},
            {"br;q=0, gzip;q=0", ""},
            {"", ""},
        };
        for (const expectation& c : cases) {
            raw_response r = co_await fetch_raw(srv, "/text", c.accept);
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.field("Content-Encoding"), c.coding) << c.accept;
            EXPECT_EQ(r.field("Vary"), "Accept-Encoding") << c.accept;
            if (c.coding.empty()) {
                EXPECT_TRUE(r.body == want) << c.accept;
            } else {
                EXPECT_LT(r.body.size(), want.size() / 4) << c.accept;
                const http::content_coding coding = *http::parse_coding(c.coding);
                EXPECT_TRUE(http::decode(coding, r.body, want.size()) == want) << c.accept;
            }
        }
        // Too small, or a type that does not compress: as it is.
        raw_response small = co_await fetch_raw(srv, "/small", "gzip");
        EXPECT_FALSE(small.has("Content-Encoding"));
        EXPECT_EQ(small.body.size(), 100U);
        raw_response png = co_await fetch_raw(srv, "/png", "gzip");
        EXPECT_FALSE(png.has("Content-Encoding"));
        EXPECT_FALSE(png.has("Vary"));
        EXPECT_EQ(png.body.size(), 100U * 1000);
        co_await stop(srv);
    }());
}

TEST_F(http_compression, the_client_asks_for_and_decodes_every_coding) {
    corio::run([]() -> corio::task<> {
        const std::string want = text(100 * 1000);
        std::string asked;
        http::handler coded = [&want, &asked](http::request& req) -> corio::task<http::response> {
            const std::string name(req.path().substr(1));
            asked = std::string(req.headers.get("Accept-Encoding").value_or(""));
            http::response r(200, http::encode(*http::parse_coding(name), want));
            r.headers.set("Content-Encoding", name);
            co_return r;
        };
        test_server srv = co_await start_test_server(coded);
        http::client c;
        for (const std::string name : {"gzip", "deflate", "br"}) {
            http::response whole = co_await c.get(srv.url("/" + name));
            EXPECT_EQ(asked, "gzip, deflate, br");
            EXPECT_TRUE(whole.body == want) << name;
            EXPECT_FALSE(whole.headers.contains("Content-Encoding")) << name;
            EXPECT_FALSE(whole.headers.contains("Content-Length")) << name;
            http::response pieces = co_await c.open(srv.url("/" + name));
            std::string got;
            while (auto piece = co_await pieces.body_stream().next()) {
                EXPECT_LE(piece->size(), 64U * 1024);
                got += *piece;
            }
            EXPECT_TRUE(got == want) << name;
        }
        // A program that names its own Accept-Encoding gets the bytes as they came.
        http::headers own;
        own.set("Accept-Encoding", "gzip");
        http::response raw = co_await c.send({.headers = own}, http::url::parse(srv.url("/gzip")));
        EXPECT_EQ(raw.headers.get("Content-Encoding").value_or(""), "gzip");
        EXPECT_TRUE(http::decode(http::content_coding::gzip, raw.body, want.size()) == want);
        co_await stop(srv);
    }());
}

TEST_F(http_compression, a_decompression_bomb_stops_at_the_limit_and_corrupt_data_is_an_error) {
    corio::run([]() -> corio::task<> {
        // 256 MiB of zeros, gzipped: about 250 KB on the wire.
        auto bomb = std::make_shared<std::string>();
        {
            http::encoder e(http::content_coding::gzip, 9);
            const std::string zeros(1024 * 1024, '\0');
            for (int i = 0; i < 256; ++i) {
                e.feed(zeros, *bomb);
            }
            e.finish(*bomb);
        }
        http::handler h = [bomb](http::request& req) -> corio::task<http::response> {
            http::response r(200, req.path() == "/bomb" ? *bomb : std::string("not gzip at all"));
            r.headers.set("Content-Encoding", "gzip");
            co_return r;
        };
        test_server srv = co_await start_test_server(h);
        http::client c({.limits = {.max_body = 1024 * 1024}});
        std::exception_ptr e;
        try {
            co_await c.get(srv.url("/bomb"));
        } catch (const http::protocol_error& err) {
            EXPECT_EQ(err.status(), 413);
            EXPECT_NE(std::string(err.what()).find(srv.url("/bomb")), std::string::npos)
                << err.what();
            e = std::current_exception();
        }
        EXPECT_TRUE(e);
        // In pieces it decodes whole, 64 KiB at a time; read_all() keeps the limit.
        http::response pieces = co_await c.open(srv.url("/bomb"));
        std::uint64_t n = 0;
        while (auto piece = co_await pieces.body_stream().next()) {
            EXPECT_LE(piece->size(), 64U * 1024);
            n += piece->size();
        }
        EXPECT_EQ(n, 256ULL * 1024 * 1024);
        std::exception_ptr corrupt;
        try {
            co_await c.get(srv.url("/corrupt"));
        } catch (const http::protocol_error& err) {
            EXPECT_NE(std::string(err.what()).find("gzip"), std::string::npos) << err.what();
            corrupt = std::current_exception();
        }
        EXPECT_TRUE(corrupt);
        co_await stop(srv);
    }());
}

TEST_F(http_compression, a_streamed_response_is_compressed_piece_by_piece) {
    corio::run([]() -> corio::task<> {
        auto next = std::make_shared<corio::event>();
        http::handler h = [next](http::request&) -> corio::task<http::response> {
            http::response r;
            r.headers.set("Content-Type", "text/event-stream");
            r.stream_body(
                [](std::shared_ptr<corio::event> go) -> corio::async_generator<std::string> {
                    co_yield "data: first\n\n";
                    co_await go->wait(); // the second event comes only once the first was read
                    co_yield "data: second\n\n";
                }(next));
            co_return r;
        };
        test_server srv = co_await start_test_server(h, compressing());
        http::headers accept;
        accept.set("Accept-Encoding", "gzip");
        http::client raw_client;
        http::response res =
            co_await raw_client.open({.headers = accept}, http::url::parse(srv.url("/events")));
        EXPECT_EQ(res.headers.get("Content-Encoding").value_or(""), "gzip");
        http::decoder d(http::content_coding::gzip, 1024);
        std::string decoded;
        while (decoded.empty()) {
            std::optional<std::string> piece = co_await res.body_stream().next();
            if (!piece) {
                break;
            }
            d.feed(*piece, decoded);
        }
        EXPECT_EQ(decoded, "data: first\n\n"); // decodable before the second was produced
        next->set();
        while (auto piece = co_await res.body_stream().next()) {
            d.feed(*piece, decoded);
        }
        d.finish(decoded);
        EXPECT_EQ(decoded, "data: first\n\ndata: second\n\n");
        // And the client decoding it as it comes.
        http::client c;
        next->clear();
        http::response plain = co_await c.open(srv.url("/events"));
        std::optional<std::string> first = co_await plain.body_stream().next();
        EXPECT_EQ(first.value_or(""), "data: first\n\n");
        next->set();
        std::optional<std::string> second = co_await plain.body_stream().next();
        EXPECT_EQ(second.value_or(""), "data: second\n\n");
        co_await stop(srv);
    }());
}

} // namespace
