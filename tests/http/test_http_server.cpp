// http::serve and http::serve_connection over real sockets: keep-alive, pipelining, request
// bodies (chunked, 100-continue), HEAD, the limits and malformed requests (answered, then
// the connection closed), the header, body and keep-alive timeouts, failing handlers,
// Connection: close and HTTP/1.0, and closing the server.

#include "support/http.hpp"

#include <corio/corio.hpp>
#include <corio/http/server.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace corio_http_test;
namespace http = corio::http;

namespace {

class http_server : public fd_leak_check {};

/// Answers with the method, the target and the body it got: "GET /a 0:".
corio::task<http::response> describe_request(http::request& req) {
    co_return http::response(200, req.method + " " + req.target + " " +
                                      std::to_string(req.body.size()) + ":" + req.body);
}

std::string get(std::string_view target, std::string_view extra = "") {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

TEST_F(http_server, serve_answers_hello_world) {
    corio::run([]() -> corio::task<> {
        corio::server srv = co_await http::serve(hello, "127.0.0.1", 0);
        corio::stream s = co_await corio::open_connection("127.0.0.1", srv.port());
        s.write(get("/"));
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "Hello, World!");
        EXPECT_EQ(r.field("Content-Length"), "13");
        EXPECT_EQ(r.field("Server"), "corio");
        EXPECT_EQ(r.field("Date").size(), 29U) << r.field("Date");
        EXPECT_NE(r.field("Date").find(" GMT"), std::string::npos);
        EXPECT_EQ(r.head.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << r.head;
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

TEST_F(http_server, fields_the_handler_set_are_not_added_again) {
    corio::run([]() -> corio::task<> {
        http::handler own = [](http::request&) -> corio::task<http::response> {
            http::response res(200, "mine");
            res.headers.set("server", "custom/2");
            res.headers.set("DATE", "Thu, 01 Jan 1970 00:00:00 GMT");
            co_return res;
        };
        test_server srv = co_await start_test_server(own);
        corio::stream s = co_await connect(srv);
        s.write(get("/"));
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.field("Server"), "custom/2");
        EXPECT_EQ(r.field("Date"), "Thu, 01 Jan 1970 00:00:00 GMT");
        std::string head = lower(r.head);
        EXPECT_EQ(head.find("server:"), head.rfind("server:")) << r.head;
        EXPECT_EQ(head.find("date:"), head.rfind("date:")) << r.head;
        co_await stop(srv);
    }());
}

TEST_F(http_server, a_server_name_that_would_break_the_line_is_refused) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.server_name = "evil\r\nX-Injected: 1";
        std::exception_ptr e =
            co_await corio_test::error_of(http::serve(hello, "127.0.0.1", 0, options));
        EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << describe(e);
    }());
}

// --- options written inside co_await (g++ 12) ---------------------------------------------
//
// g++ 12 destroys an aggregate temporary written inside a `co_await` expression twice (a
// bitwise copy it makes in the coroutine frame, and the temporary), whatever the parameter
// it is passed to. server_options is trivially destructible, so that frees nothing.

/// One GET on a new connection to `port`.
corio::task<raw_response> get_once(std::uint16_t port) {
    corio::stream s = co_await corio::open_connection("127.0.0.1", port);
    s.write(get("/"));
    co_return co_await expect_response(s);
}

TEST_F(http_server, serve_options_written_inside_the_co_await_are_destroyed_once) {
    corio::run([]() -> corio::task<> {
        corio::server plain = co_await http::serve(hello, "127.0.0.1", 0, {.date = false});
        raw_response r = co_await get_once(plain.port());
        EXPECT_EQ(r.body, "Hello, World!");
        EXPECT_EQ(r.field("Server"), "corio");
        EXPECT_FALSE(r.has("Date")) << r.head;
        const std::string name = "one-liner/1";
        corio::server named = co_await http::serve(hello, "127.0.0.1", 0,
                                                   {.header_timeout = 5s, .server_name = name});
        r = co_await get_once(named.port());
        EXPECT_EQ(r.field("Server"), "one-liner/1");
        EXPECT_TRUE(r.has("Date"));
        plain.close();
        named.close();
        co_await corio::wait_for(plain.wait_closed(), 10s);
        co_await corio::wait_for(named.wait_closed(), 10s);
    }());
}

corio::task<> serve_one_liner(corio::stream s) {
    const http::handler h = hello;
    co_await http::serve_connection(std::move(s), h, {.server_name = "connection/1"});
}

TEST_F(http_server, serve_connection_options_written_inside_the_co_await_are_destroyed_once) {
    corio::run([]() -> corio::task<> {
        const corio::connection_handler on_connection = serve_one_liner;
        corio::server_options tcp;
        corio::server srv = co_await corio::start_server(on_connection, "127.0.0.1", 0, tcp);
        raw_response r = co_await get_once(srv.port());
        EXPECT_EQ(r.body, "Hello, World!");
        EXPECT_EQ(r.field("Server"), "connection/1");
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

TEST_F(http_server, a_stored_serve_task_owns_its_server_name) {
    corio::run([]() -> corio::task<> {
        // The task is lazy: it starts the server when awaited, after the string the options
        // referred to is gone. serve copies it when called.
        corio::task<corio::server> starting;
        {
            std::string name = "stored/1";
            http::server_options options;
            options.server_name = name;
            starting = http::serve(hello, "127.0.0.1", 0, options);
            name.assign(name.size(), 'x');
        }
        corio::server srv = co_await std::move(starting);
        raw_response r = co_await get_once(srv.port());
        EXPECT_EQ(r.field("Server"), "stored/1");
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

TEST_F(http_server, options_name_the_server_and_drop_the_date) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.server_name = "";
        options.date = false;
        test_server srv = co_await start_test_server(hello, options);
        corio::stream s = co_await connect(srv);
        s.write(get("/"));
        raw_response r = co_await expect_response(s);
        EXPECT_FALSE(r.has("Server"));
        EXPECT_FALSE(r.has("Date"));
        co_await stop(srv);
    }());
}

TEST_F(http_server, keep_alive_serves_several_requests_on_one_connection) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(describe_request);
        corio::stream s = co_await connect(srv);
        for (int i = 0; i < 5; ++i) {
            const std::string target = "/n" + std::to_string(i);
            s.write(get(target));
            raw_response r = co_await expect_response(s);
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.body, "GET " + target + " 0:");
            EXPECT_FALSE(r.has("Connection")) << r.head;
        }
        EXPECT_EQ(srv.log->connections, 1);
        co_await stop(srv);
    }());
}

TEST_F(http_server, pipelined_requests_are_answered_in_order) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(describe_request);
        corio::stream s = co_await connect(srv);
        std::string batch;
        for (int i = 0; i < 20; ++i) {
            batch += get("/p" + std::to_string(i));
        }
        batch += "POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
        batch += get("/last");
        s.write(batch);
        for (int i = 0; i < 20; ++i) {
            raw_response r = co_await expect_response(s);
            EXPECT_EQ(r.body, "GET /p" + std::to_string(i) + " 0:");
        }
        EXPECT_EQ((co_await expect_response(s)).body, "POST /post 3:abc");
        EXPECT_EQ((co_await expect_response(s)).body, "GET /last 0:");
        co_await stop(srv);
    }());
}

TEST_F(http_server, serve_connection_serves_a_stream_corio_did_not_open) {
    corio::run([]() -> corio::task<> {
        // A socketpair adopted with stream::from_socket: no listener, no connect.
        int sv[2];
        corio_net_test::check_sys(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                                  "socketpair");
        corio::stream s = corio::stream::from_socket(sv[0]);
        const http::handler h = describe_request;
        const http::server_options options;
        auto served =
            corio::spawn(http::serve_connection(corio::stream::from_socket(sv[1]), h, options));
        s.write(get("/a") + "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nxy" +
                get("/c"));
        EXPECT_EQ((co_await expect_response(s)).body, "GET /a 0:");
        EXPECT_EQ((co_await expect_response(s)).body, "POST /b 2:xy");
        EXPECT_EQ((co_await expect_response(s)).body, "GET /c 0:");
        s.write("GET /d HTTP/1.0\r\n\r\n");
        raw_response last = co_await expect_response(s);
        EXPECT_EQ(last.body, "GET /d 0:");
        EXPECT_EQ(lower(last.field("Connection")), "close");
        EXPECT_EQ(co_await s.read(64), ""); // the server closed its end
        co_await corio::wait_for(std::move(served), 10s);
        s.close();
    }());
}

TEST_F(http_server, a_request_that_arrives_while_responses_drain_is_answered) {
    corio::run([]() -> corio::task<> {
        // The server's end takes little, so two 60 KiB responses the client does not read
        // yet put the server's stream past its high water mark: it drains before reading
        // on. A request sent then arrives in its buffer meanwhile on io_uring (which
        // receives in the background) and must be parsed, not left there while the server
        // waits for more bytes.
        int sv[2];
        corio_net_test::check_sys(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                                  "socketpair");
        const int small = 4096;
        corio_net_test::check_sys(::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small),
                                  "setsockopt SO_SNDBUF");
        corio::stream s = corio::stream::from_socket(sv[0]);
        auto answered = std::make_shared<corio::event>();
        http::handler h = [answered](http::request& req) -> corio::task<http::response> {
            answered->set();
            co_return http::response(200, req.target + std::string(60 * 1024, 'x'));
        };
        const http::server_options options;
        auto served =
            corio::spawn(http::serve_connection(corio::stream::from_socket(sv[1]), h, options));
        const std::vector<std::string> targets = {"/1", "/2", "/3"};
        for (std::size_t i = 0; i < 2; ++i) {
            const std::string& target = targets[i];
            answered->clear();
            s.write(get(target));
            co_await wait_event(*answered); // and the server has sent what it could
        }
        s.write(get("/3"));
        for (const std::string& target : targets) {
            auto reading = corio::wait_for(expect_response(s), 10s);
            const raw_response r = co_await std::move(reading);
            EXPECT_EQ(r.body.substr(0, 2), target);
            EXPECT_EQ(r.body.size(), 2 + 60 * 1024);
        }
        s.close();
        co_await corio::wait_for(std::move(served), 10s);
    }());
}

TEST_F(http_server, requests_split_in_small_pieces_are_put_together) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(describe_request);
        corio::stream s = co_await connect(srv);
        const std::string req = "POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
        for (std::size_t i = 0; i < req.size(); i += 7) {
            s.write(req.substr(i, 7));
            co_await corio::sleep(0s);
        }
        EXPECT_EQ((co_await expect_response(s)).body, "POST /slow 5:hello");
        co_await stop(srv);
    }());
}

TEST_F(http_server, a_chunked_request_body_is_dechunked) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(describe_request);
        corio::stream s = co_await connect(srv);
        s.write("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.body, "POST /up 11:hello world");
        // The connection stays usable.
        s.write(get("/after"));
        EXPECT_EQ((co_await expect_response(s)).body, "GET /after 0:");
        co_await stop(srv);
    }());
}

TEST_F(http_server, expect_100_continue_is_answered_before_the_body_is_sent) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(describe_request);
        corio::stream s = co_await connect(srv);
        s.write(
            "PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
        const std::string interim =
            co_await corio::wait_for(s.read_exactly(25), 10s); // "HTTP/1.1 100 Continue\r\n\r\n"
        EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
        s.write("12345");
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "PUT /big 5:12345");
        co_await stop(srv);
    }());
}

TEST_F(http_server, no_100_continue_when_the_body_came_with_the_head) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(describe_request);
        corio::stream s = co_await connect(srv);
        s.write(
            "PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok");
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "PUT /x 2:ok");
        co_await stop(srv);
    }());
}

TEST_F(http_server, head_gets_the_head_of_what_get_would_send) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(hello);
        corio::stream s = co_await connect(srv);
        s.write("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
        raw_response r = co_await expect_response(s, true);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.field("Content-Length"), "13");
        // No body bytes followed: the next response starts right after the head.
        s.write(get("/"));
        raw_response next = co_await expect_response(s);
        EXPECT_EQ(next.status, 200);
        EXPECT_EQ(next.body, "Hello, World!");
        co_await stop(srv);
    }());
}

/// Send `bytes` on a new connection; the response, then whether the connection ended.
corio::task<> expect_rejected(const test_server& srv, std::string bytes, int status) {
    corio::stream s = co_await connect(srv);
    s.write(bytes);
    raw_response r = co_await expect_response(s);
    EXPECT_EQ(r.status, status) << r.head << r.body;
    EXPECT_EQ(r.field("Connection"), "close") << r.head;
    EXPECT_TRUE(co_await ends(s)) << "the connection stayed open after " << status;
}

TEST_F(http_server, limits_are_answered_with_their_status_then_the_connection_closes) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.limits.max_body = 100;
        options.limits.max_request_line = 200;
        options.limits.max_header_bytes = 1000;
        options.limits.max_headers = 10;
        test_server srv = co_await start_test_server(describe_request, options);
        co_await expect_rejected(srv, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n",
                                 413);
        co_await expect_rejected(srv,
                                 "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "80\r\n" +
                                     std::string(128, 'x') + "\r\n0\r\n\r\n",
                                 413);
        co_await expect_rejected(srv, get("/" + std::string(300, 'a')), 414);
        std::string many;
        for (int i = 0; i < 20; ++i) {
            many += "X-" + std::to_string(i) + ": v\r\n";
        }
        co_await expect_rejected(srv, get("/", many), 431);
        co_await expect_rejected(srv, get("/", "X-Big: " + std::string(2000, 'b') + "\r\n"), 431);
        co_await stop(srv);
    }());
}

TEST_F(http_server, smuggling_attempts_get_400_and_the_connection_closes) {
    corio::run([]() -> corio::task<> {
        auto calls = std::make_shared<int>(0);
        http::handler counting = [calls](http::request& req) {
            ++*calls;
            return describe_request(req);
        };
        test_server srv = co_await start_test_server(counting);
        co_await expect_rejected(srv,
                                 "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                                 400);
        co_await expect_rejected(
            srv, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            400);
        co_await expect_rejected(srv, "GET / HTTP/1.1\r\nHost: t\r\nX-A : b\r\n\r\n", 400);
        co_await expect_rejected(srv, "GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n folded\r\n\r\n",
                                 400);
        co_await expect_rejected(srv, "GET / HTTP/1.1\r\n\r\n", 400); // no Host
        co_await expect_rejected(srv, "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
        co_await expect_rejected(srv, "nonsense\r\n\r\n", 400);
        EXPECT_EQ(*calls, 0);
        co_await stop(srv);
    }());
}

TEST_F(http_server, connect_gets_501_and_the_tunnel_bytes_are_not_parsed_as_a_request) {
    corio::run([]() -> corio::task<> {
        auto calls = std::make_shared<int>(0);
        http::handler tunnel_ok = [calls](http::request&) -> corio::task<http::response> {
            ++*calls;
            co_return http::response(200, "");
        };
        test_server srv = co_await start_test_server(tunnel_ok);
        corio::stream s = co_await connect(srv);
        // A client that sends its tunnel bytes at once; they look like a request.
        s.write("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" +
                get("/smuggled"));
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 501) << r.head << r.body;
        EXPECT_NE(r.body.find("CONNECT is not supported"), std::string::npos) << r.body;
        EXPECT_EQ(r.field("Connection"), "close");
        std::optional<std::string> rest = co_await corio::move_on_after(10s, s.read_all());
        EXPECT_TRUE(rest.has_value()) << "the connection stayed open after the 501";
        EXPECT_EQ(rest.value_or("(open)"), "") << "the tunnel bytes were answered as a request";
        EXPECT_EQ(*calls, 0);
        co_await stop(srv);
    }());
}

TEST_F(http_server, a_host_that_is_not_uri_host_and_port_gets_400) {
    corio::run([]() -> corio::task<> {
        auto calls = std::make_shared<int>(0);
        http::handler counting = [calls](http::request& req) {
            ++*calls;
            return describe_request(req);
        };
        test_server srv = co_await start_test_server(counting);
        co_await expect_rejected(srv, "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
        co_await expect_rejected(srv, "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
        co_await expect_rejected(srv, "GET / HTTP/1.0\r\nHost: a@b\r\n\r\n", 400);
        EXPECT_EQ(*calls, 0);
        corio::stream s = co_await connect(srv);
        s.write("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
        EXPECT_EQ((co_await expect_response(s)).status, 200);
        co_await stop(srv);
    }());
}

TEST_F(http_server, a_malformed_request_after_good_ones_gets_their_answers_first) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(describe_request);
        corio::stream s = co_await connect(srv);
        s.write(get("/one") + get("/two") + "BAD\r\n\r\n");
        EXPECT_EQ((co_await expect_response(s)).body, "GET /one 0:");
        EXPECT_EQ((co_await expect_response(s)).body, "GET /two 0:");
        EXPECT_EQ((co_await expect_response(s)).status, 400);
        EXPECT_TRUE(co_await ends(s));
        co_await stop(srv);
    }());
}

TEST_F(http_server, a_head_section_that_does_not_arrive_in_time_gets_408) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.header_timeout = 50ms;
        test_server srv = co_await start_test_server(hello, options);
        corio::stream s = co_await connect(srv);
        s.write("GET / HTTP/1.1\r\nHost: t\r\n"); // and never the empty line
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 408);
        EXPECT_EQ(r.field("Connection"), "close");
        EXPECT_TRUE(co_await ends(s));
        co_await stop(srv);
    }());
}

TEST_F(http_server, a_connection_that_sends_nothing_gets_408) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.header_timeout = 50ms;
        test_server srv = co_await start_test_server(hello, options);
        corio::stream s = co_await connect(srv);
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 408);
        EXPECT_TRUE(co_await ends(s));
        co_await stop(srv);
    }());
}

TEST_F(http_server, a_body_that_does_not_arrive_in_time_gets_408) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.body_timeout = 50ms;
        test_server srv = co_await start_test_server(describe_request, options);
        corio::stream s = co_await connect(srv);
        s.write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 408);
        EXPECT_TRUE(co_await ends(s));
        co_await stop(srv);
    }());
}

TEST_F(http_server, an_idle_keep_alive_connection_is_closed_quietly) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.keep_alive_timeout = 50ms;
        test_server srv = co_await start_test_server(hello, options);
        corio::stream s = co_await connect(srv);
        s.write(get("/"));
        EXPECT_EQ((co_await expect_response(s)).status, 200);
        // Nothing more is sent: the server closes without a response.
        std::optional<std::string> rest = co_await corio::move_on_after(10s, s.read_all());
        EXPECT_TRUE(rest.has_value()) << "the idle connection was not closed";
        EXPECT_EQ(rest.value_or("(open)"), "");
        co_await stop(srv);
    }());
}

TEST_F(http_server, a_busy_keep_alive_connection_outlives_the_timeouts) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.keep_alive_timeout = 200ms;
        options.header_timeout = 200ms;
        test_server srv = co_await start_test_server(hello, options);
        corio::stream s = co_await connect(srv);
        const corio::clock::time_point start = corio::get_running_loop().time();
        int answered = 0;
        // Requests keep coming for longer than either timeout: the connection stays.
        while (corio::get_running_loop().time() - start < 600ms) {
            s.write(get("/"));
            EXPECT_EQ((co_await expect_response(s)).status, 200);
            ++answered;
            co_await corio::sleep(20ms);
        }
        EXPECT_GT(answered, 3);
        EXPECT_EQ(srv.log->connections, 1);
        co_await stop(srv);
    }());
}

corio::task<http::response> failing(http::request& req) {
    if (req.target == "/fail") {
        throw std::runtime_error("the handler failed on purpose");
    }
    co_return http::response(200, "fine");
}

TEST_F(http_server, a_handler_exception_is_answered_500_and_reported) {
    corio::run([]() -> corio::task<> {
        auto reports = std::make_shared<std::vector<std::string>>();
        corio::get_running_loop().set_exception_handler(
            [reports](corio::event_loop&, const corio::exception_context& c) {
                std::string what = c.message;
                try {
                    if (c.exception) {
                        std::rethrow_exception(c.exception);
                    }
                } catch (const std::exception& e) {
                    what += std::string(" | ") + e.what();
                }
                reports->push_back(what);
            });
        test_server srv = co_await start_test_server(failing);
        corio::stream s = co_await connect(srv);
        s.write(get("/fail") + get("/after"));
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 500);
        EXPECT_EQ(r.field("Connection"), "close");
        EXPECT_TRUE(co_await ends(s));
        EXPECT_EQ(reports->size(), 1U);
        const std::string report = reports->empty() ? std::string() : reports->front();
        EXPECT_NE(report.find("GET /fail"), std::string::npos) << report;
        EXPECT_NE(report.find("the handler failed on purpose"), std::string::npos) << report;
        // The server goes on.
        corio::stream again = co_await connect(srv);
        again.write(get("/"));
        EXPECT_EQ((co_await expect_response(again)).body, "fine");
        co_await stop(srv);
        corio::get_running_loop().set_exception_handler({});
    }());
}

/// Collects what reaches the loop's exception handler: the message and the exception's
/// what(), joined by " | ".
std::shared_ptr<std::vector<std::string>> collect_reports() {
    auto reports = std::make_shared<std::vector<std::string>>();
    corio::get_running_loop().set_exception_handler(
        [reports](corio::event_loop&, const corio::exception_context& c) {
            std::string what = c.message;
            try {
                if (c.exception) {
                    std::rethrow_exception(c.exception);
                }
            } catch (const std::exception& e) {
                what += std::string(" | ") + e.what();
            }
            reports->push_back(what);
        });
    return reports;
}

/// A handler whose responses' framing fields lie about their bodies, by target.
corio::task<http::response> lying_framing(http::request& req) {
    http::response res(200, "0123456789abcde");
    if (req.target == "/short") {
        res.headers.set("Content-Length", "5"); // 15 bytes follow
    } else if (req.target == "/long") {
        res.body = "01234";
        res.headers.set("Content-Length", "50"); // would swallow the next response
    } else if (req.target == "/gzip") {
        res.headers.set("Transfer-Encoding", "gzip"); // not chunked: nothing frames it
    } else if (req.target == "/both") {
        res.headers.set("Content-Length", "15");
        res.headers.set("Transfer-Encoding", "chunked");
    } else if (req.target == "/nan") {
        res.headers.set("Content-Length", "15 bytes");
    } else if (req.target == "/interim") {
        res.status = 103;
    } else {
        res.body = "fine";
    }
    co_return res;
}

TEST_F(http_server, framing_fields_that_disagree_with_the_body_never_desync_the_connection) {
    corio::run([]() -> corio::task<> {
        auto reports = collect_reports();
        test_server srv = co_await start_test_server(lying_framing);
        corio::stream s = co_await connect(srv);
        const std::vector<std::string> bad = {"/short", "/long", "/gzip",
                                              "/both",  "/nan",  "/interim"};
        std::string batch;
        for (const std::string& target : bad) {
            batch += get(target) + get("/ok");
        }
        s.write(batch);
        for (const std::string& target : bad) {
            raw_response r = co_await expect_response(s);
            EXPECT_EQ(r.status, 500) << target << ": " << r.head << r.body;
            EXPECT_EQ(r.field("Content-Length"), std::to_string(r.body.size()));
            // The next response on the connection is intact.
            raw_response next = co_await expect_response(s);
            EXPECT_EQ(next.status, 200) << "after " << target << ": " << next.head;
            EXPECT_EQ(next.body, "fine") << "after " << target;
        }
        EXPECT_EQ(srv.log->connections, 1);
        EXPECT_EQ(reports->size(), bad.size());
        for (std::size_t i = 0; i < reports->size() && i < bad.size(); ++i) {
            const std::string& report = (*reports)[i];
            EXPECT_NE(report.find("GET " + bad[i]), std::string::npos) << report;
            EXPECT_NE(report.find("cannot be sent"), std::string::npos) << report;
        }
        const std::string all = [&] {
            std::string joined;
            for (const std::string& r : *reports) {
                joined += r + "\n";
            }
            return joined;
        }();
        EXPECT_NE(all.find("Content-Length (5) disagrees with its body (15 bytes)"),
                  std::string::npos)
            << all;
        EXPECT_NE(all.find("Content-Length (50) disagrees with its body (5 bytes)"),
                  std::string::npos)
            << all;
        EXPECT_NE(all.find("Transfer-Encoding 'gzip' does not end in chunked"), std::string::npos)
            << all;
        EXPECT_NE(all.find("both Content-Length and Transfer-Encoding"), std::string::npos) << all;
        EXPECT_NE(all.find("'15 bytes' is not a decimal number"), std::string::npos) << all;
        EXPECT_NE(all.find("status 103 is interim"), std::string::npos) << all;
        co_await stop(srv);
        corio::get_running_loop().set_exception_handler({});
    }());
}

TEST_F(http_server, head_304_and_204_keep_their_own_framing_rules) {
    corio::run([]() -> corio::task<> {
        http::handler h = [](http::request& req) -> corio::task<http::response> {
            http::response res(200, "");
            if (req.target == "/head") {
                // The length of what a GET would get, without the body: RFC 9110 §9.3.2.
                res.headers.set("Content-Length", "50");
            } else if (req.target == "/304") {
                res.status = 304;
                res.headers.set("Content-Length", "50");
            } else if (req.target == "/204") {
                res.status = 204;
                res.headers.set("Content-Length", "7"); // RFC 9110 §8.6: never sent
                res.headers.set("Transfer-Encoding", "chunked");
                res.body = "ignored";
            } else {
                res.body = "fine";
            }
            co_return res;
        };
        test_server srv = co_await start_test_server(h);
        corio::stream s = co_await connect(srv);
        s.write("HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n" + get("/304") + get("/204") + get("/ok"));
        raw_response head = co_await expect_response(s, true);
        EXPECT_EQ(head.status, 200);
        EXPECT_EQ(head.field("Content-Length"), "50");
        raw_response not_modified = co_await expect_response(s, true);
        EXPECT_EQ(not_modified.status, 304);
        EXPECT_EQ(not_modified.field("Content-Length"), "50");
        raw_response no_content = co_await expect_response(s);
        EXPECT_EQ(no_content.status, 204);
        EXPECT_FALSE(no_content.has("Content-Length")) << no_content.head;
        EXPECT_FALSE(no_content.has("Transfer-Encoding")) << no_content.head;
        raw_response ok = co_await expect_response(s);
        EXPECT_EQ(ok.body, "fine");
        co_await stop(srv);
    }());
}

TEST_F(http_server, a_chunked_response_to_http_1_0_is_sent_with_its_length) {
    corio::run([]() -> corio::task<> {
        http::handler h = [](http::request&) -> corio::task<http::response> {
            http::response res(200, "Wikipedia");
            res.headers.set("Transfer-Encoding", "chunked");
            co_return res;
        };
        test_server srv = co_await start_test_server(h);
        corio::stream s = co_await connect(srv);
        s.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 200);
        EXPECT_FALSE(r.has("Transfer-Encoding")) << r.head;
        EXPECT_EQ(r.field("Content-Length"), "9");
        EXPECT_EQ(r.body, "Wikipedia");
        s.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        EXPECT_EQ((co_await expect_response(s)).body, "Wikipedia");
        co_await stop(srv);
    }());
}

TEST_F(http_server, connection_close_from_the_client_ends_the_connection) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(hello);
        corio::stream s = co_await connect(srv);
        s.write(get("/", "Connection: close\r\n"));
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.field("Connection"), "close");
        EXPECT_TRUE(co_await ends(s));
        co_await stop(srv);
    }());
}

corio::task<http::response> closing(http::request& /*req*/) {
    http::response res(200, "bye");
    res.headers.set("Connection", "close");
    co_return res;
}

TEST_F(http_server, connection_close_from_the_handler_ends_the_connection) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(closing);
        corio::stream s = co_await connect(srv);
        s.write(get("/") + get("/never"));
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.body, "bye");
        EXPECT_TRUE(co_await ends(s));
        co_await stop(srv);
    }());
}

TEST_F(http_server, http_1_0_closes_unless_it_asks_for_keep_alive) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(hello);
        {
            corio::stream s = co_await connect(srv);
            s.write("GET / HTTP/1.0\r\n\r\n");
            raw_response r = co_await expect_response(s);
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.body, "Hello, World!");
            EXPECT_TRUE(co_await ends(s));
        }
        {
            corio::stream s = co_await connect(srv);
            s.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            raw_response r = co_await expect_response(s);
            EXPECT_EQ(r.field("Connection"), "keep-alive");
            s.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            EXPECT_EQ((co_await expect_response(s)).status, 200);
        }
        EXPECT_EQ(srv.log->connections, 2);
        co_await stop(srv);
    }());
}

TEST_F(http_server, the_client_half_closing_still_gets_its_answers) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(describe_request);
        corio::stream s = co_await connect(srv);
        s.write(get("/a") + get("/b"));
        s.write_eof();
        EXPECT_EQ((co_await expect_response(s)).body, "GET /a 0:");
        EXPECT_EQ((co_await expect_response(s)).body, "GET /b 0:");
        EXPECT_TRUE(co_await ends(s));
        co_await stop(srv);
    }());
}

TEST_F(http_server, closing_the_server_cancels_its_connections) {
    corio::run([]() -> corio::task<> {
        auto started = std::make_shared<corio::event>();
        auto never = std::make_shared<corio::event>();
        auto cancelled = std::make_shared<bool>(false);
        http::handler stuck = [started, never,
                               cancelled](http::request&) -> corio::task<http::response> {
            started->set();
            try {
                co_await never->wait();
            } catch (const corio::cancelled_error&) {
                *cancelled = true;
                throw;
            }
            co_return http::response(200, "unreachable");
        };
        test_server srv = co_await start_test_server(stuck);
        corio::stream busy = co_await connect(srv);
        corio::stream idle = co_await connect(srv);
        busy.write(get("/"));
        co_await wait_event(*started);
        srv.tcp.close();
        std::optional<bool> done = co_await corio::move_on_after(10s, srv.tcp.wait_closed());
        EXPECT_TRUE(done.has_value());
        EXPECT_TRUE(*cancelled);
        EXPECT_TRUE(co_await ends(busy));
        EXPECT_TRUE(co_await ends(idle));
    }());
}

// server::shutdown: the server stops listening, an idle keep-alive connection is closed at
// once, the request in its handler is answered whole with Connection: close, and shutdown
// returns when the connections are done.
TEST_F(http_server, shutdown_answers_the_request_in_progress_and_closes_the_idle_connections) {
    corio::run([]() -> corio::task<> {
        auto started = std::make_shared<corio::event>();
        auto release = std::make_shared<corio::event>();
        http::handler slow = [started, release](http::request& req) -> corio::task<http::response> {
            if (req.target == "/slow") {
                started->set();
                co_await release->wait();
            }
            co_return http::response(200, "done " + req.target);
        };
        corio::server srv = co_await http::serve(slow, "127.0.0.1", 0);
        const std::uint16_t port = srv.port();
        corio::stream idle = co_await corio::open_connection("127.0.0.1", port);
        idle.write(get("/first"));
        EXPECT_EQ((co_await expect_response(idle)).body, "done /first");
        corio::stream busy = co_await corio::open_connection("127.0.0.1", port);
        busy.write(get("/slow"));
        co_await wait_event(*started);

        corio::join_handle<> stopping = corio::spawn(srv.shutdown(10s));
        EXPECT_TRUE(co_await ends(idle)); // closed without waiting for the slow one
        EXPECT_FALSE(stopping.done());
        std::exception_ptr refused = co_await corio_net_test::error_of_call(
            [port] { return corio::open_connection("127.0.0.1", port); });
        EXPECT_TRUE(refused) << "the server still listens while shutting down";
        release->set();
        const raw_response r = co_await expect_response(busy);
        EXPECT_EQ(r.body, "done /slow");
        EXPECT_EQ(lower(r.field("connection")), "close");
        EXPECT_TRUE(co_await ends(busy));
        busy.close(); // (else the server lingers a second for what the client might send)
        std::optional<bool> done = co_await corio::move_on_after(10s, [&]() -> corio::task<bool> {
            co_await stopping;
            co_return true;
        }());
        EXPECT_TRUE(done.has_value());
        EXPECT_EQ(srv.active_connections(), 0U);
    }());
}

// What has not ended when the grace period is over is cancelled; cancelling serve_forever
// with a grace_period shuts the server down the same way.
TEST_F(http_server, shutdown_cancels_what_is_left_after_the_grace_period) {
    corio::run(
        []() -> corio::task<> {
            auto started = std::make_shared<corio::event>();
            auto cancelled = std::make_shared<bool>(false);
            http::handler stuck = [started,
                                   cancelled](http::request&) -> corio::task<http::response> {
                started->set();
                try {
                    co_await corio::sleep(1h);
                } catch (const corio::cancelled_error&) {
                    *cancelled = true;
                    throw;
                }
                co_return http::response(200, "unreachable");
            };
            http::server_options options;
            options.tcp.grace_period = 5s;
            corio::server srv = co_await http::serve(stuck, "127.0.0.1", 0, options);
            corio::stream c = co_await corio::open_connection("127.0.0.1", srv.port());
            corio::join_handle<> serving = corio::spawn(srv.serve_forever());
            c.write(get("/"));
            co_await wait_event(*started);
            const corio::clock::time_point before = corio::get_running_loop().time();
            serving.cancel();
            std::exception_ptr e = co_await corio_test::error_of(serving);
            EXPECT_TRUE(corio_test::holds<corio::cancelled_error>(e))
                << corio_net_test::describe(e);
            EXPECT_TRUE(*cancelled);
            EXPECT_EQ(corio::get_running_loop().time() - before, 5s); // the virtual clock
            EXPECT_TRUE(co_await ends(c));
        }(),
        {.virtual_clock = true});
}

TEST_F(http_server, a_large_response_and_a_large_request_body_go_through) {
    corio::run([]() -> corio::task<> {
        http::handler big = [](http::request& req) -> corio::task<http::response> {
            std::string body = req.body + std::string(3 * 1024 * 1024, 'z');
            co_return http::response(200, std::move(body));
        };
        test_server srv = co_await start_test_server(big);
        corio::stream s = co_await connect(srv);
        const std::string upload = corio_net_test::pattern(2 * 1024 * 1024);
        s.write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(upload.size()) +
                "\r\n\r\n");
        s.write(upload);
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.field("Server"), "corio");
        EXPECT_EQ(r.field("Date").size(), 29U);
        EXPECT_EQ(r.body.size(), upload.size() + 3 * 1024 * 1024);
        EXPECT_TRUE(r.body.compare(0, upload.size(), upload) == 0);
        s.write(get("/"));
        EXPECT_EQ((co_await expect_response(s)).body.size(), 3U * 1024 * 1024);
        co_await stop(srv);
    }());
}

TEST_F(http_server, a_client_that_does_not_read_its_responses_is_dropped) {
    corio::run([]() -> corio::task<> {
        http::handler big = [](http::request&) -> corio::task<http::response> {
            co_return http::response(200, std::string(1024 * 1024, 'r'));
        };
        http::server_options options;
        options.keep_alive_timeout = 100ms;
        test_server srv = co_await start_test_server(big, options);
        corio::stream s = co_await connect(srv);
        std::string many;
        for (int i = 0; i < 64; ++i) {
            many += get("/");
        }
        s.write(many);
        // Nothing is read: the server's write buffer fills, and it gives up on the client.
        co_await wait_event(srv.log->connection_ended);
        EXPECT_EQ(srv.log->ended, 1);
        co_await stop(srv);
    }());
}

std::string post(std::string_view target, const std::string& body) {
    return "POST " + std::string(target) +
           " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
}

TEST_F(http_server, a_second_large_body_gets_503_while_the_first_is_held) {
    corio::run([]() -> corio::task<> {
        auto held = std::make_shared<corio::event>();
        auto release = std::make_shared<corio::event>();
        auto calls = std::make_shared<std::vector<std::string>>();
        http::handler holding = [held, release,
                                 calls](http::request& req) -> corio::task<http::response> {
            calls->push_back(req.target);
            if (req.target == "/hold") {
                held->set();
                co_await release->wait();
            }
            co_return http::response(200, std::to_string(req.body.size()));
        };
        http::server_options options;
        options.max_buffered_body_bytes = 1000;
        test_server srv = co_await start_test_server(holding, options);

        corio::stream first = co_await connect(srv);
        first.write(post("/hold", std::string(600, 'a')));
        co_await wait_event(*held);
        EXPECT_EQ(srv.usage->buffered_body_bytes(), 600U);

        // 600 more would pass 1000: refused before the body is read, by its length...
        co_await expect_rejected(srv, post("/second", std::string(600, 'b')), 503);
        // ... or as a chunked body grows past it.
        std::string chunked = "POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                              "\r\n\r\n";
        for (int i = 0; i < 3; ++i) {
            chunked += "c8\r\n" + std::string(200, 'c') + "\r\n";
        }
        co_await expect_rejected(srv, chunked + "0\r\n\r\n", 503);
        // A body that fits beside the held one is served.
        corio::stream small = co_await connect(srv);
        small.write(post("/small", std::string(300, 's')));
        EXPECT_EQ((co_await expect_response(small)).body, "300");
        // A body larger than the whole cap could never be served: 413.
        co_await expect_rejected(srv, post("/huge", std::string(1001, 'h')), 413);
        EXPECT_EQ(srv.usage->buffered_body_bytes(), 600U);

        release->set();
        EXPECT_EQ((co_await expect_response(first)).body, "600");
        EXPECT_EQ(srv.usage->buffered_body_bytes(), 0U);
        // With the first released, a second large body goes through.
        first.write(post("/again", std::string(600, 'a')));
        EXPECT_EQ((co_await expect_response(first)).body, "600");
        EXPECT_EQ(*calls, (std::vector<std::string>{"/hold", "/small", "/again"}));
        co_await stop(srv);
        EXPECT_EQ(srv.usage->buffered_body_bytes(), 0U);
        EXPECT_EQ(srv.usage->connections(), 0U);
    }());
}

TEST_F(http_server, a_body_that_would_pass_the_cap_gets_503_instead_of_100_continue) {
    corio::run([]() -> corio::task<> {
        auto held = std::make_shared<corio::event>();
        auto release = std::make_shared<corio::event>();
        http::handler holding = [held, release](http::request& req) -> corio::task<http::response> {
            if (req.target == "/hold") {
                held->set();
                co_await release->wait();
            }
            co_return http::response(200, "");
        };
        http::server_options options;
        options.max_buffered_body_bytes = 1000;
        test_server srv = co_await start_test_server(holding, options);
        corio::stream first = co_await connect(srv);
        first.write(post("/hold", std::string(1000, 'a')));
        co_await wait_event(*held);
        corio::stream second = co_await connect(srv);
        second.write("POST /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                     "Content-Length: 1\r\n\r\n");
        raw_response r = co_await expect_response(second);
        EXPECT_EQ(r.status, 503) << "the client was invited to send a body the server cannot hold";
        EXPECT_TRUE(co_await ends(second));
        release->set();
        EXPECT_EQ((co_await expect_response(first)).status, 200);
        co_await stop(srv);
    }());
}

TEST_F(http_server, the_connection_past_max_connections_gets_503_and_nothing_leaks) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.max_connections = 2;
        test_server srv = co_await start_test_server(describe_request, options);
        corio::stream a = co_await connect(srv);
        corio::stream b = co_await connect(srv);
        a.write(get("/a"));
        b.write(get("/b"));
        EXPECT_EQ((co_await expect_response(a)).body, "GET /a 0:");
        EXPECT_EQ((co_await expect_response(b)).body, "GET /b 0:");
        EXPECT_EQ(srv.usage->connections(), 2U);
        {
            corio::stream c = co_await connect(srv);
            // Answered without a request.
            raw_response r = co_await expect_response(c);
            EXPECT_EQ(r.status, 503);
            EXPECT_EQ(r.field("Connection"), "close");
            EXPECT_NE(r.body.find("max_connections"), std::string::npos) << r.body;
            EXPECT_TRUE(co_await ends(c));
        }
        EXPECT_EQ(srv.usage->connections(), 2U);
        // One served connection ends: a new one is served.
        a.close();
        while (srv.log->ended < 2) { // the refused one and a, in either order
            co_await wait_event(srv.log->connection_ended);
            srv.log->connection_ended.clear();
        }
        EXPECT_EQ(srv.usage->connections(), 1U);
        corio::stream d = co_await connect(srv);
        d.write(get("/d"));
        EXPECT_EQ((co_await expect_response(d)).body, "GET /d 0:");
        co_await stop(srv);
        EXPECT_EQ(srv.usage->connections(), 0U);
    }());
}

TEST_F(http_server, serve_counts_its_connections_against_max_connections) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.max_connections = 1;
        corio::server srv = co_await http::serve(hello, "127.0.0.1", 0, options);
        corio::stream a = co_await corio::open_connection("127.0.0.1", srv.port());
        a.write(get("/"));
        EXPECT_EQ((co_await expect_response(a)).status, 200);
        corio::stream b = co_await corio::open_connection("127.0.0.1", srv.port());
        EXPECT_EQ((co_await expect_response(b)).status, 503);
        EXPECT_TRUE(co_await ends(b));
        a.write(get("/"));
        EXPECT_EQ((co_await expect_response(a)).status, 200);
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

TEST_F(http_server, an_endless_chunked_body_is_cut_off_at_max_body) {
    corio::run([]() -> corio::task<> {
        http::server_options options;
        options.limits.max_body = 64 * 1024;
        test_server srv = co_await start_test_server(describe_request, options);
        corio::stream s = co_await connect(srv);
        s.write("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
        // Chunks keep coming (up to 64 MiB, far past the limit) until the server stops
        // taking them.
        auto sent = std::make_shared<std::size_t>(0);
        corio::join_handle<void> writer =
            corio::spawn([](corio::stream& out, std::shared_ptr<std::size_t> n) -> corio::task<> {
                const std::string chunk = "4000\r\n" + std::string(0x4000, 'x') + "\r\n";
                try {
                    for (int i = 0; i < 4096; ++i) {
                        out.write(chunk);
                        *n += chunk.size();
                        co_await out.drain();
                    }
                } catch (const std::exception&) {
                    // the server closed the connection
                }
            }(s, sent));
        raw_response r = co_await expect_response(s);
        EXPECT_EQ(r.status, 413);
        EXPECT_NE(r.body.find("body longer than 65536 bytes"), std::string::npos) << r.body;
        // The body was dropped with the answer, not when the connection ends (the server
        // lingers, discarding what still comes, for up to a second).
        EXPECT_EQ(srv.usage->buffered_body_bytes(), 0U);
        EXPECT_TRUE(co_await ends(s));
        co_await writer;
        co_await wait_event(srv.log->connection_ended);
        co_await stop(srv);
    }());
}

TEST_F(http_server, serves_on_ipv6_loopback) {
    if (!corio_net_test::ipv6_loopback_available()) {
        GTEST_SKIP() << "no IPv6 loopback";
    }
    corio::run([]() -> corio::task<> {
        http::server_options options;
        test_server srv = co_await start_test_server(hello, options, std::string("::1"));
        corio::stream s = co_await corio::open_connection("::1", srv.port());
        s.write(get("/"));
        EXPECT_EQ((co_await expect_response(s)).body, "Hello, World!");
        co_await stop(srv);
    }());
}

TEST_F(http_server, an_empty_handler_is_refused) {
    corio::run([]() -> corio::task<> {
        std::exception_ptr e =
            co_await corio_test::error_of(http::serve(http::handler{}, "127.0.0.1", 0));
        EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e));
    }());
}

} // namespace
