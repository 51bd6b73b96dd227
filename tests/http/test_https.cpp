// HTTPS: http::serve with {.tls = ctx} and http::client on https:// URLs, against each
// other, across redirects between http and https, and against curl and Python's urllib.

#include "support/http.hpp"
#include "support/tls.hpp"

#include <corio/corio.hpp>
#include <corio/http/client.hpp>
#include <corio/http/server.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using corio_test::client_context;
using corio_test::contains;
using corio_test::pki;
using corio_test::server_context;
using namespace corio_net_test;
namespace http = corio::http;

namespace {

class https_test : public fd_leak_check {};

/// Answers with the request's target and whether it came over TLS.
corio::task<http::response> describe_request(http::request& req) {
    co_return http::response(200, req.method + " " + req.target + "\n");
}

std::string https_url(const corio::server& srv, const std::string& path = "/") {
    return "https://localhost:" + std::to_string(srv.port()) + path;
}

} // namespace

TEST_F(https_test, the_client_fetches_from_an_https_server_over_pooled_connections) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        corio::server srv =
            co_await http::serve(describe_request, "127.0.0.1", 0, {.date = false, .tls = sctx});
        corio::tls_context cctx = client_context();
        http::client c({.tls = cctx});
        // localhost resolves to 127.0.0.1 (and maybe ::1, where nothing listens: Happy
        // Eyeballs takes the one that answers).
        for (int i = 0; i < 3; ++i) {
            http::response r = co_await c.get(https_url(srv, "/n/" + std::to_string(i)));
            EXPECT_EQ(r.status, 200);
            EXPECT_EQ(r.body, "GET /n/" + std::to_string(i) + "\n");
        }
        EXPECT_EQ(c.connections(), 1U); // one TLS connection, kept alive and reused
        http::response posted = co_await c.post(https_url(srv, "/p"), std::string(100'000, 'b'));
        EXPECT_EQ(posted.body, "POST /p\n");
        c.close_idle();
        srv.close();
        co_await srv.wait_closed();
    }());
}

TEST_F(https_test, a_certificate_that_does_not_verify_is_a_tls_error_naming_the_url) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context(pki().self_signed);
        corio::server srv = co_await http::serve(describe_request, "127.0.0.1", 0, {.tls = sctx});
        corio::tls_context cctx = client_context();
        http::client c({.tls = cctx});
        const std::string url = "https://127.0.0.1:" + std::to_string(srv.port()) + "/";
        std::exception_ptr e = co_await error_of_call([&] { return c.get(url); });
        EXPECT_TRUE(corio_test::holds<corio::tls_error>(e)) << describe(e);
        EXPECT_TRUE(contains(describe(e), "http client: GET " + url + ": tls handshake with "))
            << describe(e);
        EXPECT_TRUE(contains(describe(e), "certificate verify failed")) << describe(e);
        // The client's default context (the system's CAs) does not trust the test CA either.
        http::client plain;
        e = co_await error_of_call([&] { return plain.get(url); });
        EXPECT_TRUE(corio_test::holds<corio::tls_error>(e)) << describe(e);
        srv.close();
        co_await srv.wait_closed();
    }());
}

TEST_F(https_test, redirects_go_between_http_and_https) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        corio::server secure = co_await http::serve(
            [](http::request& req) -> corio::task<http::response> {
                if (req.target == "/back") {
                    http::response r(302, "");
                    r.headers.set("Location", std::string(req.headers.get("X-Plain").value_or("")));
                    co_return r;
                }
                co_return http::response(200, "secure " + req.target + "\n");
            },
            "127.0.0.1", 0, {.tls = sctx});
        const std::string to_secure = https_url(secure, "/landed");
        corio::server plain = co_await http::serve(
            [&](http::request& req) -> corio::task<http::response> {
                if (req.target == "/up") {
                    http::response r(301, "");
                    r.headers.set("Location", to_secure);
                    co_return r;
                }
                co_return http::response(200, "plain " + req.target + "\n");
            },
            "127.0.0.1", 0);
        corio::tls_context cctx = client_context();
        http::client c({.tls = cctx});
        const std::string plain_base = "http://127.0.0.1:" + std::to_string(plain.port());
        http::response up = co_await c.get(plain_base + "/up");
        EXPECT_EQ(up.body, "secure /landed\n");
        EXPECT_EQ(up.url, to_secure);
        // And down again, from https to http.
        http::headers fields;
        fields.set("X-Plain", plain_base + "/down");
        http::response down =
            co_await c.send({.headers = fields}, http::url::parse(https_url(secure, "/back")));
        EXPECT_EQ(down.body, "plain /down\n");
        EXPECT_EQ(c.connections(), 2U); // one pool per scheme, host and port
        c.close_idle();
        secure.close();
        plain.close();
        co_await secure.wait_closed();
        co_await plain.wait_closed();
    }());
}

TEST_F(https_test, curl_and_python_fetch_from_the_https_server) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        sctx.set_alpn_protocols({"http/1.1"});
        corio::server srv = co_await http::serve(describe_request, "127.0.0.1", 0, {.tls = sctx});
        const std::string resolve = "localhost:" + std::to_string(srv.port()) + ":127.0.0.1";
        if (const std::string curl = find_program("curl", {"/usr/bin/curl"}); !curl.empty()) {
            // Two URLs, one connection: curl reuses it (keep-alive over TLS).
            std::vector<std::string> argv{curl,       "--silent",           "--show-error",
                                          "--cacert", pki().ca_file,        "--resolve",
                                          resolve,    https_url(srv, "/a"), https_url(srv, "/b")};
            corio::process_options options;
            options.stdout_ = corio::pipe;
            corio::process p = co_await corio::create_subprocess_exec(argv, options);
            EXPECT_EQ(co_await corio::wait_for(p.stdout_pipe().read_all(), 30s),
                      "GET /a\nGET /b\n");
            EXPECT_EQ(co_await run_to_exit(p, 30s), 0);
        }
        if (const std::string py = python3_path(); !py.empty()) {
            const std::string script =
                "import ssl, sys, urllib.request\n"
                "ctx = ssl.create_default_context(cafile=sys.argv[1])\n"
                "with urllib.request.urlopen(sys.argv[2], context=ctx, timeout=20) as r:\n"
                "    sys.stdout.write(r.read().decode())\n";
            std::vector<std::string> argv{py, "-c", script, pki().ca_file,
                                          "https://127.0.0.1:" + std::to_string(srv.port()) +
                                              "/py"};
            corio::process_options options;
            options.stdout_ = corio::pipe;
            corio::process p = co_await corio::create_subprocess_exec(argv, options);
            EXPECT_EQ(co_await corio::wait_for(p.stdout_pipe().read_all(), 30s), "GET /py\n");
            EXPECT_EQ(co_await run_to_exit(p, 30s), 0);
        }
        srv.close();
        co_await srv.wait_closed();
    }());
}
