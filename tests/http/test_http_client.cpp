// http::client against corio's HTTP server (and against small raw servers where a server
// must misbehave on purpose): the pool (reuse, the per-host limit, idle connections closed
// by the server), redirects, timeouts, cancellation, response framings, and bad URLs.

#include "net/memory_transport.hpp"
#include "support/http.hpp"

#include <corio/corio.hpp>
#include <corio/http/client.hpp>
#include <corio/http/server.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;
using namespace corio_http_test;
namespace http = corio::http;

namespace {

class http_client : public fd_leak_check {};

/// What the routes handler saw.
struct routes_log {
    std::vector<std::string> seen; // "METHOD target body"
    int in_flight = 0;
    int max_in_flight = 0;
    int arrived = 0;
    corio::event two_arrived;
    corio::event gate;
    corio::event slow_started;
    corio::event never;
};

corio::task<http::response> routes(std::shared_ptr<routes_log> log, http::request& req) {
    log->seen.push_back(req.method + " " + req.target + " " + req.body);
    const std::string path(req.path());
    if (path.rfind("/r/", 0) == 0) {
        const int n = std::stoi(path.substr(3));
        if (n == 0) {
            co_return http::response(200, "done");
        }
        http::response res(302, "");
        res.headers.set("Location", "/r/" + std::to_string(n - 1));
        co_return res;
    }
    if (path == "/rel/a/b") {
        http::response res(301, "");
        res.headers.set("Location", "../c?x=1");
        co_return res;
    }
    if (path == "/form") {
        http::response res(303, "");
        res.headers.set("Location", "/result");
        co_return res;
    }
    if (path == "/moved-post") {
        http::response res(302, "");
        res.headers.set("Location", "/result");
        co_return res;
    }
    if (path == "/keep") {
        http::response res(307, "");
        res.headers.set("Location", "/result");
        co_return res;
    }
    if (path == "/nolocation") {
        co_return http::response(302, "");
    }
    if (path == "/loop") {
        http::response res(302, "");
        res.headers.set("Location", "/loop");
        co_return res;
    }
    if (path == "/gated") {
        ++log->in_flight;
        log->max_in_flight = std::max(log->max_in_flight, log->in_flight);
        if (++log->arrived == 2) {
            log->two_arrived.set();
        }
        co_await log->gate.wait();
        --log->in_flight;
        co_return http::response(200, "gated");
    }
    if (path == "/slow") {
        log->slow_started.set();
        co_await log->never.wait();
        co_return http::response(200, "too late");
    }
    if (path == "/chunked") {
        // serialize writes the body chunked.
        http::response res(200, "hello world");
        res.headers.set("Transfer-Encoding", "chunked");
        co_return res;
    }
    if (path == "/close") {
        http::response res(200, "closing");
        res.headers.set("Connection", "close");
        co_return res;
    }
    co_return http::response(200, req.method + " " + req.target + " " + req.body);
}

corio::task<test_server> start_routes(std::shared_ptr<routes_log> log) {
    http::handler h = [log](http::request& req) { return routes(log, req); };
    co_return co_await start_test_server(std::move(h));
}

TEST_F(http_client, sequential_requests_reuse_one_connection) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        {
            http::client c;
            for (int i = 0; i < 5; ++i) {
                http::response r = co_await c.get(srv.url("/item/" + std::to_string(i)));
                EXPECT_EQ(r.status, 200);
                EXPECT_EQ(r.body, "GET /item/" + std::to_string(i) + " ");
                EXPECT_EQ(r.url, srv.url("/item/" + std::to_string(i)));
                EXPECT_EQ(r.redirects, 0);
                EXPECT_EQ(c.connections(), 1U);
            }
            EXPECT_EQ(srv.log->connections, 1);
            c.close_idle();
            EXPECT_EQ(c.connections(), 0U);
        }
        co_await stop(srv);
    }());
}

TEST_F(http_client, an_idle_connection_older_than_idle_timeout_is_not_reused) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(hello);
        http::client_options options;
        options.idle_timeout = std::chrono::nanoseconds(1);
        http::client c(options);
        EXPECT_EQ((co_await c.get(srv.url("/"))).status, 200);
        EXPECT_EQ((co_await c.get(srv.url("/"))).status, 200);
        EXPECT_EQ(srv.log->connections, 2);
        EXPECT_EQ(c.connections(), 1U); // the stale one was closed
        co_await stop(srv);
    }());
}

TEST_F(http_client, a_connection_opened_after_the_virtual_clock_jumped_is_not_timed_out) {
    // Under the virtual clock, an hour's sleep makes the pooled connection stale; the next
    // request closes it and opens another. On io_uring, closing it reaps a cancellation's
    // completion, which once ended the loop's wait early with nothing to do, and the clock
    // jumped at once to the connect timeout: the request failed with timeout_error.
    corio::run_options o;
    o.virtual_clock = true;
    o.autojump_threshold = 500ms;
    corio::run(
        []() -> corio::task<> {
            test_server srv = co_await start_test_server(hello);
            http::client c({.timeout = 30s, .connect_timeout = 10s});
            EXPECT_EQ((co_await c.get(srv.url("/"))).status, 200);
            co_await corio::sleep(3600s);
            const corio::clock::time_point before = corio::get_running_loop().time();
            EXPECT_EQ((co_await c.get(srv.url("/"))).status, 200);
            EXPECT_LT(corio::get_running_loop().time() - before, 10s);
            EXPECT_EQ(srv.log->connections, 2);
            co_await stop(srv);
        }(),
        o);
}

TEST_F(http_client, connect_timeout_limits_connecting) {
    corio::run([]() -> corio::task<> {
        corio_net_test::silent_listener silent;
        http::client_options options;
        options.connect_timeout = 50ms;
        http::client c(options);
        const std::string url = "http://127.0.0.1:" + std::to_string(silent.address.port()) + "/";
        std::exception_ptr e = co_await corio_test::error_of(c.get(url));
        EXPECT_TRUE(corio_test::holds<corio::timeout_error>(e)) << describe(e);
        EXPECT_EQ(c.connections(), 0U);
    }());
}

TEST_F(http_client, the_request_carries_host_and_user_agent) {
    corio::run([]() -> corio::task<> {
        http::handler echo_headers = [](http::request& req) -> corio::task<http::response> {
            co_return http::response(200,
                                     std::string(req.headers.get("Host").value_or("-")) + "|" +
                                         std::string(req.headers.get("User-Agent").value_or("-")));
        };
        test_server srv = co_await start_test_server(echo_headers);
        http::client_options options;
        options.user_agent = "corio-test/1";
        http::client c(options);
        http::response r = co_await c.get(srv.url("/"));
        EXPECT_EQ(r.body, "127.0.0.1:" + std::to_string(srv.port()) + "|corio-test/1");
        co_await stop(srv);
    }());
}

// --- requests and options written inside co_await (g++ 12) --------------------------------
//
// g++ 12 destroys an aggregate temporary written inside a `co_await` expression twice (a
// bitwise copy it makes in the coroutine frame, and the temporary), whatever the parameter
// it is passed to. What `send` and `client` take that way is trivially destructible.

/// Answers with the method, target, Content-Type, X-Tag and body it got.
corio::task<http::response> echo_request(http::request& req) {
    co_return http::response(200, req.method + " " + req.target + " " +
                                      std::string(req.headers.get("Content-Type").value_or("-")) +
                                      " " + std::string(req.headers.get("X-Tag").value_or("-")) +
                                      " " + req.body);
}

TEST_F(http_client, a_request_written_inside_the_co_await_is_destroyed_once) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(echo_request);
        http::client c;
        http::response r = co_await c.send({.method = "POST", .body = "one-liner"},
                                           http::url::parse(srv.url("/a")));
        EXPECT_EQ(r.body, "POST /a - - one-liner");
        const std::string body(100, 'b');
        http::headers fields;
        fields.set("Content-Type", "text/plain");
        fields.set("X-Tag", "tagged");
        r = co_await c.send({.method = "PUT", .headers = fields, .body = body},
                            http::url::parse(srv.url("/b?q=1")));
        EXPECT_EQ(r.body, "PUT /b?q=1 text/plain tagged " + body);
        r = co_await c.send({}, http::url::parse(srv.url("/c")));
        EXPECT_EQ(r.body, "GET /c - - ");
        co_await stop(srv);
    }());
}

TEST_F(http_client, client_options_written_inside_the_co_await_are_destroyed_once) {
    corio::run([]() -> corio::task<> {
        http::handler agent = [](http::request& req) -> corio::task<http::response> {
            co_return http::response(200, std::string(req.headers.get("User-Agent").value_or("-")));
        };
        test_server srv = co_await start_test_server(agent);
        http::response r = co_await http::client({.user_agent = "one-liner/1"}).get(srv.url("/"));
        EXPECT_EQ(r.body, "one-liner/1");
        r = co_await http::client({.max_redirects = 0}).get(srv.url("/"));
        EXPECT_EQ(r.body, "corio");
        co_await stop(srv);
    }());
}

// What a request_ref refers to must outlive the call: a temporary is refused at compile
// time rather than left dangling in a named request_ref.
static_assert(std::is_constructible_v<http::headers_ref, const http::headers&>);
static_assert(!std::is_constructible_v<http::headers_ref, http::headers&&>);
static_assert(!std::is_constructible_v<corio::string_ref, std::string&&>);

TEST_F(http_client, a_stored_send_task_owns_its_request) {
    corio::run([]() -> corio::task<> {
        // The tasks are lazy: the requests go out when awaited, after what they were made
        // from has changed or is gone. send copies it when called.
        test_server srv = co_await start_test_server(echo_request);
        http::client c;
        const http::url target = http::url::parse(srv.url("/s"));
        corio::task<http::response> by_ref;
        corio::task<http::response> by_copy;
        {
            std::string method = "PATCH";
            std::string body = "stored body";
            http::headers fields;
            fields.set("X-Tag", "first");
            by_ref = c.send({.method = method, .headers = fields, .body = body}, target);
            http::request named;
            named.method = "PUT";
            named.headers = fields;
            named.body = body;
            by_copy = c.send(named, target);
            method.assign(method.size(), 'x');
            body.assign(body.size(), 'x');
            fields.set("X-Tag", "changed");
            named.body = "changed";
        }
        EXPECT_EQ((co_await std::move(by_ref)).body, "PATCH /s - first stored body");
        EXPECT_EQ((co_await std::move(by_copy)).body, "PUT /s - first stored body");
        co_await stop(srv);
    }());
}

TEST_F(http_client, post_sends_the_body_and_its_type) {
    corio::run([]() -> corio::task<> {
        http::handler echo = [](http::request& req) -> corio::task<http::response> {
            co_return http::response(
                200, std::string(req.headers.get("Content-Type").value_or("-")) + "|" + req.body);
        };
        test_server srv = co_await start_test_server(echo);
        http::client c;
        http::response a = co_await c.post(srv.url("/"), "payload", "text/plain");
        EXPECT_EQ(a.body, "text/plain|payload");
        http::response b = co_await c.post(srv.url("/"), "raw");
        EXPECT_EQ(b.body, "application/octet-stream|raw");
        co_await stop(srv);
    }());
}

TEST_F(http_client, head_returns_no_body) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(hello);
        http::client c;
        http::response r = co_await c.head(srv.url("/"));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "");
        EXPECT_EQ(r.headers.get("Content-Length").value_or(""), "13");
        // The connection is still in step: a GET on it works.
        http::response g = co_await c.get(srv.url("/"));
        EXPECT_EQ(g.body, "Hello, World!");
        EXPECT_EQ(srv.log->connections, 1);
        co_await stop(srv);
    }());
}

corio::task<http::response> get_from(http::client& c, std::string url) {
    co_return co_await c.get(std::move(url));
}

TEST_F(http_client, max_connections_per_host_limits_concurrent_requests) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        http::client_options options;
        options.max_connections_per_host = 2;
        http::client c(options);
        std::vector<corio::task<http::response>> requests;
        for (int i = 0; i < 6; ++i) {
            requests.push_back(get_from(c, srv.url("/gated")));
        }
        auto all = corio::spawn(corio::gather(std::move(requests)));
        co_await wait_event(log->two_arrived);
        EXPECT_EQ(c.connections(), 2U);
        log->gate.set();
        std::vector<http::response> responses = co_await corio::wait_for(all, 10s);
        EXPECT_EQ(responses.size(), 6U);
        for (const http::response& r : responses) {
            EXPECT_EQ(r.body, "gated");
        }
        EXPECT_EQ(log->max_in_flight, 2);
        EXPECT_EQ(srv.log->connections, 2);
        EXPECT_EQ(c.connections(), 2U);
        co_await stop(srv);
    }());
}

TEST_F(http_client, a_chain_of_redirects_is_followed) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        http::client c;
        http::response r = co_await c.get(srv.url("/r/3"));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "done");
        EXPECT_EQ(r.redirects, 3);
        EXPECT_EQ(r.url, srv.url("/r/0"));
        EXPECT_EQ(srv.log->connections, 1);
        co_await stop(srv);
    }());
}

TEST_F(http_client, too_many_redirects_raise_redirect_error) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        http::client_options options;
        options.max_redirects = 2;
        http::client c(options);
        // Exactly the limit is fine.
        EXPECT_EQ((co_await c.get(srv.url("/r/2"))).redirects, 2);
        std::exception_ptr e = co_await corio_test::error_of(c.get(srv.url("/r/3")));
        EXPECT_TRUE(corio_test::holds<http::redirect_error>(e)) << describe(e);
        EXPECT_NE(describe(e).find("/r/3"), std::string::npos) << describe(e);
        e = co_await corio_test::error_of(c.get(srv.url("/loop")));
        EXPECT_TRUE(corio_test::holds<http::redirect_error>(e)) << describe(e);
        e = co_await corio_test::error_of(c.get(srv.url("/nolocation")));
        EXPECT_TRUE(corio_test::holds<http::redirect_error>(e)) << describe(e);
        EXPECT_NE(describe(e).find("Location"), std::string::npos) << describe(e);
        co_await stop(srv);
    }());
}

TEST_F(http_client, max_redirects_zero_returns_the_redirect_itself) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        http::client_options options;
        options.max_redirects = 0;
        http::client c(options);
        http::response r = co_await c.get(srv.url("/r/1"));
        EXPECT_EQ(r.status, 302);
        EXPECT_EQ(r.headers.get("Location").value_or(""), "/r/0");
        EXPECT_EQ(r.redirects, 0);
        co_await stop(srv);
    }());
}

TEST_F(http_client, a_relative_location_is_resolved_against_the_url) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        http::client c;
        http::response r = co_await c.get(srv.url("/rel/a/b"));
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "GET /rel/c?x=1 ");
        EXPECT_EQ(r.url, srv.url("/rel/c?x=1"));
        co_await stop(srv);
    }());
}

TEST_F(http_client, see_other_turns_a_post_into_a_get_without_body) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        http::client c;
        http::response r = co_await c.post(srv.url("/form"), "name=value", "text/plain");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "GET /result ");
        http::response moved = co_await c.post(srv.url("/moved-post"), "x", "text/plain");
        EXPECT_EQ(moved.body, "GET /result ");
        // 307 repeats the request as it was.
        http::response kept = co_await c.post(srv.url("/keep"), "again", "text/plain");
        EXPECT_EQ(kept.body, "POST /result again");
        co_await stop(srv);
    }());
}

TEST_F(http_client, the_timeout_covers_the_whole_request) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        http::client_options options;
        options.timeout = 50ms;
        http::client c(options);
        std::exception_ptr e = co_await corio_test::error_of(c.get(srv.url("/slow")));
        EXPECT_TRUE(corio_test::holds<corio::timeout_error>(e)) << describe(e);
        EXPECT_NE(describe(e).find("/slow"), std::string::npos) << describe(e);
        // The connection the request was using is closed, not pooled.
        EXPECT_EQ(c.connections(), 0U);
        co_await stop(srv);
    }());
}

TEST_F(http_client, cancelling_a_request_closes_its_connection_and_leaks_no_fd) {
    corio::run([]() -> corio::task<> {
        const int before = count_fds();
        {
            auto log = std::make_shared<routes_log>();
            test_server srv = co_await start_routes(log);
            http::client c;
            auto request = corio::spawn(get_from(c, srv.url("/slow")));
            co_await wait_event(log->slow_started);
            EXPECT_EQ(c.connections(), 1U);
            request.cancel();
            std::exception_ptr e = co_await corio_test::error_of(request);
            EXPECT_TRUE(corio_test::holds<corio::cancelled_error>(e)) << describe(e);
            EXPECT_EQ(c.connections(), 0U);
            // The client is still usable.
            EXPECT_EQ((co_await c.get(srv.url("/ok"))).status, 200);
            co_await stop(srv);
        }
        EXPECT_EQ(count_fds(), before);
    }());
}

/// A raw server that answers one request per connection with keep-alive, then closes the
/// first connection (so the client's pooled connection is stale), and answers later
/// connections normally.
struct closing_server_log {
    int connections = 0;
    int requests = 0;
    corio::event first_closed;
};

corio::task<> close_first_connection(corio::stream s, std::shared_ptr<closing_server_log> log) {
    const int which = ++log->connections;
    while (true) {
        std::string head;
        try {
            head = co_await s.read_until("\r\n\r\n");
        } catch (const corio::incomplete_read_error&) {
            co_return;
        }
        ++log->requests;
        std::size_t length = 0;
        if (const std::size_t at = head.find("Content-Length: "); at != std::string::npos) {
            length = std::stoul(head.substr(at + 16));
        }
        if (length > 0) {
            co_await s.read_exactly(length);
        }
        s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        co_await s.drain();
        if (which == 1) {
            s.close();
            co_await s.wait_closed();
            log->first_closed.set();
            co_return;
        }
    }
}

corio::task<corio::server> start_closing_server(std::shared_ptr<closing_server_log> log) {
    corio::connection_handler h = [log](corio::stream s) {
        return close_first_connection(std::move(s), log);
    };
    co_return co_await corio::start_server(h, "127.0.0.1", 0);
}

TEST_F(http_client, a_stale_pooled_connection_is_retried_on_a_fresh_one) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<closing_server_log>();
        corio::server srv = co_await start_closing_server(log);
        const std::string url = "http://127.0.0.1:" + std::to_string(srv.port()) + "/";
        http::client c;
        EXPECT_EQ((co_await c.get(url)).body, "ok");
        EXPECT_EQ(c.connections(), 1U); // pooled; the server closes it now
        co_await wait_event(log->first_closed);
        http::response r = co_await c.get(url);
        EXPECT_EQ(r.body, "ok");
        EXPECT_EQ(log->connections, 2);
        EXPECT_EQ(c.connections(), 1U);
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

/// Answers the first request of a connection with keep-alive, then reads the next request
/// and closes without answering it: the pooled connection looks alive when the client
/// takes it (a connection whose end of stream has arrived is seen as stale and not taken)
/// and dies under the request.
corio::task<> drop_the_second_request(corio::stream s, std::shared_ptr<closing_server_log> log) {
    ++log->connections;
    (void)co_await s.read_until("\r\n\r\n");
    s.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    co_await s.drain();
    const std::string head = co_await s.read_until("\r\n\r\n");
    if (const std::size_t at = head.find("Content-Length: "); at != std::string::npos) {
        (void)co_await s.read_exactly(std::stoul(head.substr(at + 16)));
    }
    s.close();
    co_await s.wait_closed();
}

TEST_F(http_client, a_post_on_a_stale_connection_is_not_retried) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<closing_server_log>();
        corio::connection_handler h = [log](corio::stream s) {
            return drop_the_second_request(std::move(s), log);
        };
        corio::server srv = co_await corio::start_server(h, "127.0.0.1", 0);
        const std::string url = "http://127.0.0.1:" + std::to_string(srv.port()) + "/";
        http::client c;
        EXPECT_EQ((co_await c.get(url)).body, "ok");
        EXPECT_EQ(c.connections(), 1U); // pooled
        std::exception_ptr e = co_await corio_test::error_of(c.post(url, "data"));
        EXPECT_TRUE(corio_test::holds<std::system_error>(e)) << describe(e);
        EXPECT_EQ(log->connections, 1);
        EXPECT_EQ(c.connections(), 0U);
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

TEST_F(http_client, a_chunked_response_is_dechunked_and_its_connection_reused) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        http::client c;
        for (int i = 0; i < 2; ++i) {
            http::response r = co_await c.get(srv.url("/chunked"));
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.body, "hello world");
        }
        EXPECT_EQ(c.connections(), 1U);
        EXPECT_EQ(srv.log->connections, 1);
        co_await stop(srv);
    }());
}

corio::task<> answer_until_close(corio::stream s) {
    co_await s.read_until("\r\n\r\n");
    s.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body runs until the close");
    co_await s.drain();
    s.close();
}

TEST_F(http_client, a_body_delimited_by_the_close_is_read_and_the_connection_not_reused) {
    corio::run([]() -> corio::task<> {
        corio::connection_handler h = [](corio::stream s) {
            return answer_until_close(std::move(s));
        };
        corio::server srv = co_await corio::start_server(h, "127.0.0.1", 0);
        const std::string url = "http://127.0.0.1:" + std::to_string(srv.port()) + "/";
        http::client c;
        http::response r = co_await c.get(url);
        EXPECT_EQ(r.body, "the body runs until the close");
        EXPECT_EQ(c.connections(), 0U);
        http::response again = co_await c.get(url);
        EXPECT_EQ(again.body, "the body runs until the close");
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

TEST_F(http_client, connection_close_in_the_response_is_respected) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        http::client c;
        EXPECT_EQ((co_await c.get(srv.url("/close"))).body, "closing");
        EXPECT_EQ(c.connections(), 0U);
        EXPECT_EQ((co_await c.get(srv.url("/close"))).body, "closing");
        EXPECT_EQ(srv.log->connections, 2);
        co_await stop(srv);
    }());
}

TEST_F(http_client, urls_of_other_schemes_and_bad_urls_are_refused) {
    corio::run([]() -> corio::task<> {
        http::client c;
        std::exception_ptr e = co_await corio_test::error_of(c.get("ftp://127.0.0.1/"));
        EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << describe(e);
        EXPECT_NE(describe(e).find("not http or https"), std::string::npos) << describe(e);
        e = co_await corio_test::error_of(c.get("not a url"));
        EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << describe(e);
        EXPECT_EQ(c.connections(), 0U);
    }());
}

TEST_F(http_client, a_request_whose_framing_disagrees_with_its_body_is_refused_unsent) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        test_server srv = co_await start_routes(log);
        http::client c;
        http::request lying;
        lying.method = "POST";
        lying.body = "0123456789abcde";
        lying.headers.set("Content-Length", "5"); // the rest would be read as a request
        std::exception_ptr e = co_await corio_test::error_of(
            c.send(std::move(lying), http::url::parse(srv.url("/upload"))));
        EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << describe(e);
        EXPECT_NE(describe(e).find("POST " + srv.url("/upload")), std::string::npos) << describe(e);
        EXPECT_NE(describe(e).find("Content-Length (5) disagrees with its body (15 bytes)"),
                  std::string::npos)
            << describe(e);
        http::request gzip;
        gzip.method = "PUT";
        gzip.body = "abc";
        gzip.headers.set("Transfer-Encoding", "gzip");
        e = co_await corio_test::error_of(
            c.send(std::move(gzip), http::url::parse(srv.url("/upload"))));
        EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << describe(e);
        EXPECT_EQ(srv.log->connections, 0);
        EXPECT_TRUE(log->seen.empty());
        // A request framed right goes through.
        http::response r = co_await c.post(srv.url("/upload"), "0123456789abcde");
        EXPECT_EQ(r.body, "POST /upload 0123456789abcde");
        co_await stop(srv);
    }());
}

/// A raw server answering every connection with 102 Processing for ever (until the client
/// goes away), counting the interim responses it managed to write.
corio::task<> endless_interim(corio::stream s, std::shared_ptr<int> written) {
    try {
        (void)co_await s.read_until("\r\n\r\n");
        while (true) {
            s.write("HTTP/1.1 102 Processing\r\n\r\n");
            ++*written;
            co_await s.drain();
        }
    } catch (const std::exception&) {
        // the client closed the connection
    }
    s.abort();
}

TEST_F(http_client, an_endless_stream_of_interim_responses_is_cut_off_naming_the_url) {
    corio::run([]() -> corio::task<> {
        auto written = std::make_shared<int>(0);
        corio::connection_handler h = [written](corio::stream s) {
            return endless_interim(std::move(s), written);
        };
        corio::server_options tcp;
        corio::server srv = co_await corio::start_server(h, "127.0.0.1", 0, tcp);
        http::client_options options;
        options.timeout = corio::clock::duration::zero(); // nothing else would stop it
        http::client c(options);
        const std::string url = "http://127.0.0.1:" + std::to_string(srv.port()) + "/slow";
        std::exception_ptr e = co_await corio::wait_for(corio_test::error_of(c.get(url)), 10s);
        EXPECT_TRUE(corio_test::holds<http::protocol_error>(e)) << describe(e);
        EXPECT_NE(describe(e).find("GET " + url), std::string::npos) << describe(e);
        EXPECT_NE(describe(e).find("more than 16 interim (1xx) responses"), std::string::npos)
            << describe(e);
        EXPECT_GE(*written, 17);
        EXPECT_EQ(c.connections(), 0U);
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

TEST_F(http_client, connect_is_refused) {
    corio::run([]() -> corio::task<> {
        http::client c;
        http::request req;
        req.method = "CONNECT";
        std::exception_ptr e = co_await corio_test::error_of(
            c.send(std::move(req), http::url::parse("http://127.0.0.1:1/")));
        EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << describe(e);
        EXPECT_NE(describe(e).find("CONNECT is not supported"), std::string::npos) << describe(e);
        EXPECT_EQ(c.connections(), 0U);
    }());
}

TEST_F(http_client, a_refused_connection_names_the_address) {
    corio::run([]() -> corio::task<> {
        const std::uint16_t port = corio_net_test::unused_port();
        http::client c;
        std::exception_ptr e =
            co_await corio_test::error_of(c.get("http://127.0.0.1:" + std::to_string(port) + "/"));
        EXPECT_TRUE(corio_test::holds<std::system_error>(e)) << describe(e);
        EXPECT_NE(describe(e).find(std::to_string(port)), std::string::npos) << describe(e);
        EXPECT_NE(describe(e).find("GET http://127.0.0.1:" + std::to_string(port) + "/"),
                  std::string::npos)
            << describe(e);
        EXPECT_NE(describe(e).find("refused"), std::string::npos) << describe(e);
        EXPECT_EQ(c.connections(), 0U);
    }());
}

TEST_F(http_client, a_body_over_max_body_names_the_url) {
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(hello);
        http::client_options options;
        options.limits.max_body = 5;
        http::client c(options);
        std::exception_ptr e = co_await corio_test::error_of(c.get(srv.url("/big")));
        EXPECT_TRUE(corio_test::holds<http::protocol_error>(e)) << describe(e);
        EXPECT_EQ(describe(e).find("http client: GET " + srv.url("/big") +
                                   ": http: body longer than 5 bytes"),
                  0U)
            << describe(e);
        EXPECT_EQ(c.connections(), 0U);
        co_await stop(srv);
    }());
}

/// A raw server that sends half a response head and resets the connection.
corio::task<> reset_mid_head(corio::stream s) {
    try {
        (void)co_await s.read_until("\r\n\r\n");
        s.write("HTTP/1.1 200 OK\r\nContent-");
        co_await s.drain();
    } catch (const std::exception&) {
        // the client went away
    }
    s.abort();
}

TEST_F(http_client, an_error_in_the_middle_of_a_response_names_the_url) {
    corio::run([]() -> corio::task<> {
        corio::connection_handler h = [](corio::stream s) { return reset_mid_head(std::move(s)); };
        corio::server_options tcp;
        corio::server srv = co_await corio::start_server(h, "127.0.0.1", 0, tcp);
        http::client c;
        const std::string url = "http://127.0.0.1:" + std::to_string(srv.port()) + "/half";
        std::exception_ptr e = co_await corio_test::error_of(c.get(url));
        // A reset, or the end of the stream inside the head: either names the request.
        EXPECT_TRUE(corio_test::holds<std::system_error>(e) ||
                    corio_test::holds<http::protocol_error>(e))
            << describe(e);
        EXPECT_EQ(describe(e).find("http client: GET " + url + ": "), 0U) << describe(e);
        EXPECT_EQ(c.connections(), 0U);
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

/// The connect hook's context: one end of a socketpair per connection the client opens,
/// whose other ends http::serve_connection serves.
struct socketpair_hook {
    std::vector<int> client_ends;
    std::vector<std::string> targets; // "host:port" of each call
};

corio::task<corio::stream> adopt_next(const http::url& target, void* context) {
    auto& hook = *static_cast<socketpair_hook*>(context);
    hook.targets.push_back(target.host + ":" + std::to_string(target.port));
    if (hook.client_ends.empty()) {
        throw std::system_error(std::make_error_code(std::errc::connection_refused),
                                "no socketpair left");
    }
    const int fd = hook.client_ends.front();
    hook.client_ends.erase(hook.client_ends.begin());
    co_return corio::stream::from_socket(fd);
}

TEST_F(http_client, the_connect_hook_carries_requests_over_a_stream_corio_did_not_open) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        const http::handler h = [log](http::request& req) { return routes(log, req); };
        const http::server_options options;
        socketpair_hook hook;
        std::vector<corio::join_handle<void>> served;
        for (int i = 0; i < 2; ++i) {
            int sv[2];
            corio_net_test::check_sys(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                                      "socketpair");
            hook.client_ends.push_back(sv[0]);
            served.push_back(corio::spawn(
                http::serve_connection(corio::stream::from_socket(sv[1]), h, options)));
        }
        {
            http::client_options o;
            o.connect = {.function = adopt_next, .context = &hook};
            http::client c(o);
            for (int i = 0; i < 3; ++i) {
                http::response r =
                    co_await c.get("http://example.test:81/item/" + std::to_string(i));
                EXPECT_EQ(r.body, "GET /item/" + std::to_string(i) + " ");
            }
            EXPECT_EQ(hook.targets.size(), 1U); // one stream, reused
            EXPECT_EQ(c.connections(), 1U);
            // The server closes it: the next request takes the second socketpair.
            http::response closing = co_await c.get("http://example.test:81/close");
            EXPECT_EQ(closing.body, "closing");
            EXPECT_EQ(c.connections(), 0U);
            http::response r = co_await c.post("http://example.test:81/p", "data");
            EXPECT_EQ(r.body, "POST /p data");
            EXPECT_EQ(hook.targets.size(), 2U);
            EXPECT_EQ(hook.targets.back(), "example.test:81");
            // No socketpair left: what the hook throws reaches the request.
            c.close_idle();
            std::exception_ptr e = co_await corio_test::error_of(c.get("http://example.test:81/"));
            EXPECT_TRUE(corio_test::holds<std::system_error>(e)) << describe(e);
            EXPECT_NE(describe(e).find("no socketpair left"), std::string::npos) << describe(e);
        }
        // Both server ends see their client close and end quietly.
        for (auto& handle : served) {
            co_await corio::wait_for(std::move(handle), 10s);
        }
    }());
}

/// The connect hook's context for a transport written by the program: the client end of one
/// in-memory pipe pair, whose other end http::serve_connection serves.
struct memory_hook {
    std::unique_ptr<corio::transport> client_end;
    int calls = 0;
};

corio::task<corio::stream> open_memory(const http::url& /*target*/, void* context) {
    auto& hook = *static_cast<memory_hook*>(context);
    ++hook.calls;
    if (!hook.client_end) {
        throw std::system_error(std::make_error_code(std::errc::connection_refused),
                                "memory pipe already used");
    }
    co_return corio::stream(std::move(hook.client_end));
}

TEST_F(http_client, client_and_server_run_over_a_transport_the_program_wrote) {
    corio::run([]() -> corio::task<> {
        auto log = std::make_shared<routes_log>();
        const http::handler h = [log](http::request& req) { return routes(log, req); };
        const http::server_options options;
        // 16 KiB each way: a body four times that goes through by backpressure.
        corio_net_test::memory_pair pipe = corio_net_test::make_memory_pair(16 * 1024);
        corio::join_handle<void> served =
            corio::spawn(http::serve_connection(corio::stream(std::move(pipe.b)), h, options));
        memory_hook hook{std::move(pipe.a)};
        {
            http::client_options o;
            o.connect = {.function = open_memory, .context = &hook};
            http::client c(o);
            for (int i = 0; i < 3; ++i) {
                http::response r = co_await c.get("http://memory.test/item/" + std::to_string(i));
                EXPECT_EQ(r.status, 200);
                EXPECT_EQ(r.body, "GET /item/" + std::to_string(i) + " ");
            }
            const std::string big(64 * 1024, 'b');
            http::response r = co_await c.post("http://memory.test/p", big);
            EXPECT_EQ(r.body, "POST /p " + big);
            EXPECT_EQ(hook.calls, 1); // one stream, kept alive between requests
            EXPECT_EQ(c.connections(), 1U);
        }
        // The client is gone and closed its end: the server sees the end of stream and its
        // connection task ends quietly.
        co_await corio::wait_for(std::move(served), 10s);
        EXPECT_EQ(log->seen.size(), 4U);
    }());
}

TEST_F(http_client, an_ipv6_url_reaches_a_server_on_ipv6_loopback) {
    if (!corio_net_test::ipv6_loopback_available()) {
        GTEST_SKIP() << "no IPv6 loopback";
    }
    corio::run([]() -> corio::task<> {
        http::server_options options;
        test_server srv = co_await start_test_server(hello, options, std::string("::1"));
        http::client c;
        http::response r = co_await c.get("http://[::1]:" + std::to_string(srv.port()) + "/");
        EXPECT_EQ(r.body, "Hello, World!");
        co_await stop(srv);
    }());
}

} // namespace
