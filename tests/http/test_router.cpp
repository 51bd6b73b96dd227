// http::router: patterns with {name} and {name...}, the most specific route winning, 404,
// 405 with Allow, HEAD served by GET, percent-decoded parameters, malformed paths (400), and
// the patterns it refuses; then a router behind http::serve, over a real socket.

#include "support/http.hpp"

#include <corio/corio.hpp>
#include <corio/http/router.hpp>
#include <corio/http/server.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

using namespace corio_http_test;
namespace http = corio::http;

namespace {

/// A route that answers with its name and its parameters: "user id=7".
http::route_handler says(std::string name) {
    return [name](http::request&, const http::route_params& p) -> corio::task<http::response> {
        std::string body = name;
        for (const char* key : {"id", "file", "path", "rest"}) {
            if (const std::optional<std::string_view> v = p.get(key)) {
                body += std::string(" ") + key + "=" + std::string(*v);
            }
        }
        co_return http::response{200, body};
    };
}

http::router sample() {
    http::router r;
    r.get("/", says("root"))
        .get("/users", says("users"))
        .get("/users/", says("users/"))
        .get("/users/me", says("me"))
        .get("/users/{id}", says("user"))
        .del("/users/{id}", says("delete user"))
        .post("/users", says("new user"))
        .get("/static/{path...}", says("static"))
        .get("/static/logo.png", says("logo"))
        .put("/files/{id}/{file}", says("put file"));
    return r;
}

/// Route `method target` through `r` on a loop.
http::response call(const http::router& r, std::string method, std::string target) {
    return corio::run([&]() -> corio::task<http::response> {
        http::request req;
        req.method = std::move(method);
        req.target = std::move(target);
        co_return co_await r(req);
    }());
}

} // namespace

TEST(router, routes_by_method_and_path_with_parameters) {
    const http::router r = sample();
    EXPECT_EQ(call(r, "GET", "/").body, "root");
    EXPECT_EQ(call(r, "GET", "/users").body, "users");
    EXPECT_EQ(call(r, "GET", "/users/").body, "users/"); // a trailing slash counts
    EXPECT_EQ(call(r, "POST", "/users").body, "new user");
    EXPECT_EQ(call(r, "GET", "/users/7").body, "user id=7");
    EXPECT_EQ(call(r, "GET", "/users/7?full=1").body, "user id=7"); // the query is not matched
    EXPECT_EQ(call(r, "DELETE", "/users/7").body, "delete user id=7");
    EXPECT_EQ(call(r, "PUT", "/files/3/a.txt").body, "put file id=3 file=a.txt");
}

TEST(router, the_most_specific_route_wins) {
    const http::router r = sample();
    EXPECT_EQ(call(r, "GET", "/users/me").body, "me"); // literal before {id}
    EXPECT_EQ(call(r, "GET", "/static/logo.png").body, "logo");
    EXPECT_EQ(call(r, "GET", "/static/css/site.css").body, "static path=css/site.css");
    EXPECT_EQ(call(r, "GET", "/static/").body, "static path="); // {path...} may be empty
}

TEST(router, parameters_are_percent_decoded_and_bad_escapes_get_400) {
    const http::router r = sample();
    EXPECT_EQ(call(r, "GET", "/users/a%20b").body, "user id=a b");
    EXPECT_EQ(call(r, "GET", "/users/%75s").body, "user id=us");
    EXPECT_EQ(call(r, "GET", "/user%73/me").body, "me"); // literals match the decoded path
    EXPECT_EQ(call(r, "GET", "/users/%zz").status, 400);
    EXPECT_EQ(call(r, "GET", "/users/%2").status, 400);
    EXPECT_EQ(call(r, "GET", "/users/a%2Fb").status, 400); // an encoded '/' in a segment
    EXPECT_EQ(call(r, "GET", "*").status, 400);
}

TEST(router, no_route_is_404_and_another_method_is_405_with_allow) {
    const http::router r = sample();
    const http::response missing = call(r, "GET", "/nowhere");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(call(r, "GET", "/users/7/extra").status, 404);
    EXPECT_EQ(call(r, "GET", "/files/3").status, 404);
    const http::response wrong = call(r, "PATCH", "/users/7");
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(wrong.headers.get("Allow").value_or(""), "DELETE, GET, HEAD");
    const http::response put_only = call(r, "GET", "/files/1/x");
    EXPECT_EQ(put_only.status, 405);
    EXPECT_EQ(put_only.headers.get("Allow").value_or(""), "PUT");
}

TEST(router, get_routes_answer_head) {
    const http::router r = sample();
    EXPECT_EQ(call(r, "HEAD", "/users/7").body, "user id=7"); // the server sends no body
    http::router own = sample();
    own.route("HEAD", "/users/{id}", says("head"));
    EXPECT_EQ(call(own, "HEAD", "/users/7").body, "head id=7");
}

TEST(router, refuses_patterns_it_could_not_match_and_duplicate_shapes) {
    http::router r;
    const auto refused = [&r](std::string_view pattern, std::string_view why) {
        try {
            r.get(pattern, says("x"));
            ADD_FAILURE() << pattern << " was accepted";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
        }
    };
    refused("users", "does not start with '/'");
    refused("/a/{}", "empty or malformed parameter name");
    refused("/a/{x}/{x}", "names {x} twice");
    refused("/a/{rest...}/b", "has {rest...} before its end");
    refused("/a/x{id}", "mixes text and a parameter");
    refused("/a/b}", "'}' without its '{'");
    r.get("/a/{x}", says("x"));
    refused("/a/{y}", "has the shape of GET /a/{x}");
    r.post("/a/{y}", says("y")); // another method: fine
    EXPECT_THROW(r.get("/b", nullptr), std::invalid_argument);
}

// Behind http::serve, over a socket: the router is the server's handler.
TEST(router, serves_behind_http_serve) {
    corio::run([]() -> corio::task<> {
        corio::server srv = co_await http::serve(sample(), "127.0.0.1", 0);
        corio::stream c = co_await corio::open_connection("127.0.0.1", srv.port());
        c.write("GET /users/42 HTTP/1.1\r\nHost: t\r\n\r\n"
                "PATCH /users/42 HTTP/1.1\r\nHost: t\r\n\r\n"
                "HEAD /static/a/b HTTP/1.1\r\nHost: t\r\n\r\n");
        const raw_response user = co_await expect_response(c);
        EXPECT_EQ(user.body, "user id=42");
        const raw_response wrong = co_await expect_response(c);
        EXPECT_EQ(wrong.status, 405);
        EXPECT_EQ(wrong.field("allow"), "DELETE, GET, HEAD");
        const raw_response head = co_await expect_response(c, true);
        EXPECT_EQ(head.status, 200);
        EXPECT_EQ(head.field("content-length"), "15"); // of "static path=a/b", not sent
        srv.close();
        co_await srv.wait_closed();
    }());
}
