// corio's TLS against programs nobody here wrote, on 127.0.0.1: OpenSSL's s_server and
// s_client, Python's ssl module (asyncio with ssl=, tests/net/py/tls_peer.py), and curl.
// Each certificate comes from the test CA (support/tls.hpp), which every side trusts by
// file.

#include "support/net.hpp"
#include "support/tls.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using corio_test::client_context;
using corio_test::contains;
using corio_test::pki;
using corio_test::server_context;
using namespace corio_net_test;

namespace {

std::string openssl_path() {
    return find_program("openssl", {"/usr/bin/openssl"});
}

std::string curl_path() {
    return find_program("curl", {"/usr/bin/curl"});
}

class tls_interop : public fd_leak_check {};

/// Upper-cases lines until end of stream, then closes (with close_notify).
corio::task<> upper_case_lines(corio::stream s) {
    while (true) {
        std::string line = co_await s.read_line();
        if (line.empty()) {
            break;
        }
        for (char& c : line) {
            if (c >= 'a' && c <= 'z') {
                c = static_cast<char>(c - 'a' + 'A');
            }
        }
        s.write(line);
        co_await s.drain();
    }
    s.close();
    co_await s.wait_closed();
}

/// Reads lines from `p`'s stdout until one equals `want` (bounded); false if it ends first.
corio::task<bool> wait_for_line(corio::process& p, std::string want) {
    for (int i = 0; i < 50; ++i) {
        std::string line = co_await corio::wait_for(p.stdout_pipe().read_line(), 30s);
        if (line.empty()) {
            co_return false;
        }
        if (line == want) {
            co_return true;
        }
    }
    co_return false;
}

} // namespace

TEST_F(tls_interop, a_corio_client_talks_to_openssl_s_server) {
    if (openssl_path().empty()) {
        GTEST_SKIP() << "no openssl";
    }
    corio::run([]() -> corio::task<> {
        const std::uint16_t port = unused_port();
        // -rev: each line comes back reversed; "ACCEPT" on stdout once it listens.
        std::vector<std::string> argv{
            openssl_path(), "s_server",           "-accept", "127.0.0.1:" + std::to_string(port),
            "-cert",        pki().localhost.cert, "-key",    pki().localhost.key,
            "-rev"};
        corio::process_options options;
        options.stdout_ = corio::pipe;
        options.stderr_ = corio::devnull;
        corio::process server = co_await corio::create_subprocess_exec(argv, options);
        EXPECT_TRUE(co_await wait_for_line(server, "ACCEPT\n"));
        corio::tls_context ctx = client_context();
        {
            corio::stream s =
                co_await corio::open_connection("localhost", port, {.family = AF_INET, .tls = ctx});
            EXPECT_EQ(s.tls()->version, "TLSv1.3");
            s.write("hello corio\n");
            EXPECT_EQ(co_await corio::wait_for(s.read_line(), 30s), "oiroc olleh\n");
            s.close();
        }
        server.kill();
        (void)co_await server.wait();
    }());
}

TEST_F(tls_interop, openssl_s_client_talks_to_a_corio_server) {
    if (openssl_path().empty()) {
        GTEST_SKIP() << "no openssl";
    }
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        corio::server srv =
            co_await corio::start_server(upper_case_lines, "127.0.0.1", 0, {.tls = sctx});
        // -verify_return_error: a certificate that does not verify ends the handshake.
        std::vector<std::string> argv{openssl_path(),
                                      "s_client",
                                      "-connect",
                                      "127.0.0.1:" + std::to_string(srv.port()),
                                      "-servername",
                                      "localhost",
                                      "-CAfile",
                                      pki().ca_file,
                                      "-verify_return_error",
                                      "-quiet",
                                      "-no_ign_eof"};
        corio::process_options options;
        options.stdin_ = corio::pipe;
        options.stdout_ = corio::pipe;
        options.stderr_ = corio::devnull;
        corio::process client = co_await corio::create_subprocess_exec(argv, options);
        client.stdin_pipe().write("ping from s_client\n");
        co_await client.stdin_pipe().drain();
        EXPECT_EQ(co_await corio::wait_for(client.stdout_pipe().read_line(), 30s),
                  "PING FROM S_CLIENT\n");
        client.stdin_pipe().close(); // s_client sends close_notify, the server closes
        EXPECT_EQ(co_await run_to_exit(client, 30s), 0);
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

TEST_F(tls_interop, a_python_ssl_client_talks_to_a_corio_server) {
    if (python3_path().empty()) {
        GTEST_SKIP() << "no python3";
    }
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        corio::server srv =
            co_await corio::start_server(upper_case_lines, "127.0.0.1", 0, {.tls = sctx});
        std::vector<std::string> argv{python3_path(), py_script("tls_peer.py"),
                                      "client",       std::to_string(srv.port()),
                                      pki().ca_file,  "localhost"};
        corio::process_options options;
        options.stdout_ = corio::pipe;
        corio::process client = co_await corio::create_subprocess_exec(argv, options);
        EXPECT_EQ(co_await corio::wait_for(client.stdout_pipe().read_line(), 30s),
                  "localhost\n"); // the CN of the certificate it verified
        EXPECT_EQ(co_await run_to_exit(client, 30s), 0) << "tls_peer.py client failed";
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

namespace {

/// `tls_peer.py MODE CERT KEY` (the localhost certificate), its stdout a pipe: its first
/// line is the port it listens on.
corio::task<corio::process> python_tls_server(const char* mode) {
    std::vector<std::string> argv{python3_path(), py_script("tls_peer.py"), mode,
                                  pki().localhost.cert, pki().localhost.key};
    corio::process_options options;
    options.stdout_ = corio::pipe;
    co_return co_await corio::create_subprocess_exec(argv, options);
}

} // namespace

TEST_F(tls_interop, a_corio_client_talks_to_a_python_ssl_server) {
    if (python3_path().empty()) {
        GTEST_SKIP() << "no python3";
    }
    corio::run([]() -> corio::task<> {
        corio::process server = co_await python_tls_server("server");
        const auto port = static_cast<std::uint16_t>(
            std::stoi(co_await corio::wait_for(server.stdout_pipe().read_line(), 30s)));
        corio::tls_context ctx = client_context();
        {
            corio::stream s =
                co_await corio::open_connection("localhost", port, {.family = AF_INET, .tls = ctx});
            EXPECT_EQ(co_await corio::wait_for(server.stdout_pipe().read_line(), 30s),
                      s.tls()->version + "\n"); // what Python says it negotiated
            const std::string big(50'000, 'q');
            for (int i = 0; i < 100; ++i) {
                s.write("line " + std::to_string(i) + "\n");
            }
            s.write(big + "\n");
            for (int i = 0; i < 100; ++i) {
                EXPECT_EQ(co_await corio::wait_for(s.read_line(), 30s),
                          "LINE " + std::to_string(i) + "\n");
            }
            const std::string back = co_await corio::wait_for(s.read_line(), 30s);
            EXPECT_TRUE(back == std::string(50'000, 'Q') + "\n") << back.size();
            s.write_eof(); // close_notify: Python's readline sees the end, and closes
            EXPECT_EQ(co_await corio::wait_for(s.read_all(), 30s), ""); // its close_notify
        }
        EXPECT_EQ(co_await run_to_exit(server, 30s), 0) << "tls_peer.py server failed";
    }());
}

// Python's SSLSocket.close() sends no close_notify: corio's client reports the truncation,
// or, with suppress_ragged_eofs, takes it as the end (as Python's own client would).
TEST_F(tls_interop, a_python_server_closing_without_close_notify_is_a_truncation) {
    if (python3_path().empty()) {
        GTEST_SKIP() << "no python3";
    }
    corio::run([]() -> corio::task<> {
        corio::process server = co_await python_tls_server("truncate");
        const auto port = static_cast<std::uint16_t>(
            std::stoi(co_await corio::wait_for(server.stdout_pipe().read_line(), 30s)));
        corio::tls_context ctx = client_context();
        {
            corio::stream s =
                co_await corio::open_connection("localhost", port, {.family = AF_INET, .tls = ctx});
            EXPECT_EQ(co_await corio::wait_for(s.read_line(), 30s), "partial\n");
            std::exception_ptr e = co_await error_of_call([&] { return s.read(100); });
            EXPECT_TRUE(corio_test::holds<corio::tls_error>(e)) << describe(e);
            EXPECT_TRUE(contains(describe(e), "without close_notify")) << describe(e);
        }
        ctx.set_suppress_ragged_eofs(true);
        {
            corio::stream s =
                co_await corio::open_connection("localhost", port, {.family = AF_INET, .tls = ctx});
            EXPECT_EQ(co_await corio::wait_for(s.read_all(), 30s), "partial\n");
        }
        EXPECT_EQ(co_await run_to_exit(server, 30s), 0) << "tls_peer.py truncate failed";
    }());
}

namespace {

/// One `openssl s_client` session against a corio server on `port`: sends a line, reads
/// its answer; `-sess_out`/`-sess_in` keep the session in `session`. The line s_client
/// printed about the session ("New, TLSv1.3, ..." or "Reused, TLSv1.3, ...") and whether
/// the answer came.
corio::task<std::pair<std::string, bool>>
s_client_session(std::uint16_t port, const std::string& session, bool resume) {
    std::vector<std::string> argv{openssl_path(), "s_client",
                                  "-connect",     "127.0.0.1:" + std::to_string(port),
                                  "-servername",  "localhost",
                                  "-CAfile",      pki().ca_file,
                                  "-no_ign_eof",  resume ? "-sess_in" : "-sess_out",
                                  session};
    corio::process_options options;
    options.stdin_ = corio::pipe;
    options.stdout_ = corio::pipe;
    options.stderr_ = corio::devnull;
    corio::process client = co_await corio::create_subprocess_exec(argv, options);
    client.stdin_pipe().write("ping from s_client\n");
    co_await client.stdin_pipe().drain();
    std::string how;
    bool answered = false;
    for (int i = 0; i < 200 && !answered; ++i) {
        std::string line = co_await corio::wait_for(client.stdout_pipe().read_line(), 30s);
        if (line.empty()) {
            break;
        }
        if (line.rfind("New, ", 0) == 0 || line.rfind("Reused, ", 0) == 0) {
            how = line.substr(0, line.find(','));
        }
        answered = line == "PING FROM S_CLIENT\n";
    }
    client.stdin_pipe().close();
    EXPECT_EQ(co_await run_to_exit(client, 30s), 0);
    co_return std::pair{how, answered};
}

} // namespace

// The server sends one session ticket to a client that announces it takes them; s_client
// resumes with it. The ticket went out under the application key before corio's record
// layer took over: the answer after it opens, so the layer counted it.
TEST_F(tls_interop, openssl_s_client_resumes_a_session_with_a_corio_server) {
    if (openssl_path().empty()) {
        GTEST_SKIP() << "no openssl";
    }
    corio::run([]() -> corio::task<> {
        temp_dir dir;
        corio::tls_context sctx = server_context();
        corio::server srv =
            co_await corio::start_server(upper_case_lines, "127.0.0.1", 0, {.tls = sctx});
        const std::string session = dir.file("session.pem");
        EXPECT_EQ(co_await s_client_session(srv.port(), session, false),
                  (std::pair<std::string, bool>{"New", true}));
        EXPECT_EQ(co_await s_client_session(srv.port(), session, true),
                  (std::pair<std::string, bool>{"Reused", true}));
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}

TEST_F(tls_interop, curl_fetches_from_a_corio_tls_server_with_tls_1_2_and_1_3) {
    if (curl_path().empty()) {
        GTEST_SKIP() << "no curl";
    }
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        sctx.set_alpn_protocols({"http/1.1"});
        corio::server srv = co_await corio::start_server(
            [](corio::stream s) -> corio::task<> {
                (void)co_await s.read_until("\r\n\r\n");
                const std::string body = "hello over " + s.tls()->version + "\n";
                s.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
                co_await s.drain();
                s.close();
                co_await s.wait_closed();
            },
            "127.0.0.1", 0, {.tls = sctx});
        const std::string url = "https://localhost:" + std::to_string(srv.port()) + "/";
        for (const char* version : {"1.2", "1.3"}) {
            std::vector<std::string> argv{curl_path(),
                                          "--silent",
                                          "--show-error",
                                          "--cacert",
                                          pki().ca_file,
                                          "--resolve",
                                          "localhost:" + std::to_string(srv.port()) + ":127.0.0.1",
                                          std::string("--tlsv") + version,
                                          "--tls-max",
                                          version,
                                          url};
            corio::process_options options;
            options.stdout_ = corio::pipe;
            corio::process curl = co_await corio::create_subprocess_exec(argv, options);
            const std::string out = co_await corio::wait_for(curl.stdout_pipe().read_all(), 30s);
            EXPECT_EQ(out, std::string("hello over TLSv") + version + "\n");
            EXPECT_EQ(co_await run_to_exit(curl, 30s), 0);
        }
        srv.close();
        co_await corio::wait_for(srv.wait_closed(), 10s);
    }());
}
