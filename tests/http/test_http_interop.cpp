// corio's HTTP server and client against other implementations, as real processes: curl
// against the server (a GET, two URLs over one kept-alive connection, a chunked upload,
// Expect: 100-continue), wrk against the server for a second, and the client against
// Python's http.server. A case whose program is missing is skipped.

#include "support/http.hpp"

#include <corio/corio.hpp>
#include <corio/http/client.hpp>
#include <corio/http/server.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;
using namespace corio_http_test;
namespace http = corio::http;

namespace {

using corio_net_test::find_program;

class http_interop : public fd_leak_check {};

std::string curl() {
    return find_program("curl", {"/usr/bin/curl"});
}
std::string wrk() {
    return find_program("wrk", {"/usr/bin/wrk"});
}
std::string python() {
    return find_program("python3", {"/usr/bin/python3"});
}

/// Run `argv` to its end (killed after 60 s, a test failure): its exit code and output.
struct run_result {
    int code = -1;
    std::string out;
    std::string err;
};

corio::task<run_result> run_program(std::vector<std::string> argv) {
    corio::process_options options;
    options.stdout_ = corio::pipe;
    options.stderr_ = corio::pipe;
    corio::process p = co_await corio::create_subprocess_exec(argv, options);
    std::optional<corio::process_output> output =
        co_await corio::move_on_after(60s, p.communicate());
    run_result r;
    if (!output) {
        ADD_FAILURE() << argv[0] << " did not finish within 60 s";
        p.kill();
        r.code = co_await p.wait();
        co_return r;
    }
    r.out = std::move(output->out);
    r.err = std::move(output->err);
    r.code = co_await p.wait();
    co_return r;
}

/// Answers "<method> <target> <body size> <crc32 of the body> <expect>".
corio::task<http::response> digest(http::request& req) {
    co_return http::response(200,
                             req.method + " " + req.target + " " + std::to_string(req.body.size()) +
                                 " " + std::to_string(corio_net_test::crc32(req.body)) + " " +
                                 std::string(req.headers.get("Expect").value_or("-")) + " " +
                                 std::string(req.headers.get("Transfer-Encoding").value_or("-")));
}

TEST_F(http_interop, curl_gets_a_page) {
    if (curl().empty()) {
        GTEST_SKIP() << "no curl";
    }
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(hello);
        std::vector<std::string> argv{curl(), "-sS", "-i", srv.url("/hello")};
        run_result r = co_await run_program(argv);
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << r.out;
        EXPECT_NE(r.out.find("\r\nContent-Length: 13\r\n"), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("\r\n\r\nHello, World!"), std::string::npos) << r.out;
        co_await stop(srv);
    }());
}

TEST_F(http_interop, curl_reuses_one_connection_for_two_urls) {
    if (curl().empty()) {
        GTEST_SKIP() << "no curl";
    }
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(digest);
        std::vector<std::string> argv{curl(), "-sS", "-v", srv.url("/a"), srv.url("/b")};
        run_result r = co_await run_program(argv);
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out, "GET /a 0 0 - -GET /b 0 0 - -");
        EXPECT_EQ(srv.log->connections, 1) << r.err;
        co_await stop(srv);
    }());
}

TEST_F(http_interop, curl_uploads_a_chunked_body) {
    if (curl().empty()) {
        GTEST_SKIP() << "no curl";
    }
    corio::run([]() -> corio::task<> {
        corio_net_test::temp_dir dir;
        const std::string data = corio_net_test::pattern(300 * 1000, 7);
        std::ofstream(dir.file("upload.bin"), std::ios::binary) << data;
        test_server srv = co_await start_test_server(digest);
        std::vector<std::string> argv{curl(),
                                      "-sS",
                                      "-H",
                                      "Transfer-Encoding: chunked",
                                      "--data-binary",
                                      "@" + dir.file("upload.bin"),
                                      srv.url("/up")};
        run_result r = co_await run_program(argv);
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out, "POST /up " + std::to_string(data.size()) + " " +
                             std::to_string(corio_net_test::crc32(data)) + " - chunked");
        co_await stop(srv);
    }());
}

TEST_F(http_interop, curl_waits_for_100_continue) {
    if (curl().empty()) {
        GTEST_SKIP() << "no curl";
    }
    corio::run([]() -> corio::task<> {
        corio_net_test::temp_dir dir;
        const std::string data = corio_net_test::pattern(2 * 1024 * 1024, 9);
        std::ofstream(dir.file("big.bin"), std::ios::binary) << data;
        test_server srv = co_await start_test_server(digest);
        // curl sends Expect: 100-continue for a body this large; the header makes it certain,
        // and the long timeout makes it wait for the interim response rather than give up.
        std::vector<std::string> argv{curl(),
                                      "-sS",
                                      "-v",
                                      "-H",
                                      "Expect: 100-continue",
                                      "--expect100-timeout",
                                      "30",
                                      "--data-binary",
                                      "@" + dir.file("big.bin"),
                                      srv.url("/big")};
        run_result r = co_await run_program(argv);
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out, "POST /big " + std::to_string(data.size()) + " " +
                             std::to_string(corio_net_test::crc32(data)) + " 100-continue -");
        EXPECT_NE(r.err.find("HTTP/1.1 100 Continue"), std::string::npos) << r.err;
        co_await stop(srv);
    }());
}

TEST_F(http_interop, wrk_gets_only_successes_for_a_second) {
    if (wrk().empty()) {
        GTEST_SKIP() << "no wrk";
    }
    corio::run([]() -> corio::task<> {
        test_server srv = co_await start_test_server(hello);
        std::vector<std::string> argv{wrk(), "-t1", "-c10", "-d1s", srv.url("/")};
        run_result r = co_await run_program(argv);
        EXPECT_EQ(r.code, 0) << r.out << r.err;
        std::smatch m;
        const bool counted = std::regex_search(r.out, m, std::regex("([0-9]+) requests in"));
        EXPECT_TRUE(counted) << r.out;
        EXPECT_GT(counted ? std::stoll(m[1].str()) : 0, 0) << r.out;
        EXPECT_EQ(r.out.find("Non-2xx"), std::string::npos) << r.out;
        EXPECT_EQ(r.out.find("Socket errors"), std::string::npos) << r.out;
        co_await stop(srv);
    }());
}

/// Reads the body in pieces (the server streams request bodies), answering
/// "<bytes> <crc32> <largest piece>".
corio::task<http::response> streamed_digest(http::request& req) {
    std::string all; // kept only to compute the CRC at the end; bounded by the test's sizes
    std::size_t largest = 0;
    while (auto piece = co_await req.body_stream().next()) {
        largest = std::max(largest, piece->size());
        all += *piece;
    }
    co_return http::response(200, std::to_string(all.size()) + " " +
                                      std::to_string(corio_net_test::crc32(all)) + " " +
                                      std::to_string(largest));
}

http::server_options streaming_small_limit() {
    http::server_options o;
    o.stream_request_bodies = true;
    o.limits.max_body = 1024 * 1024; // the upload below is 6 MiB
    return o;
}

TEST_F(http_interop, curl_uploads_a_chunked_body_larger_than_the_limit_to_a_streaming_handler) {
    if (curl().empty()) {
        GTEST_SKIP() << "no curl";
    }
    corio::run([]() -> corio::task<> {
        corio_net_test::temp_dir dir;
        const std::string data = corio_net_test::pattern(6 * 1024 * 1024, 5);
        std::ofstream(dir.file("upload.bin"), std::ios::binary) << data;
        test_server srv = co_await start_test_server(streamed_digest, streaming_small_limit());
        std::vector<std::string> argv{
            curl(),        "-sS", "-H", "Transfer-Encoding: chunked", "-T", dir.file("upload.bin"),
            srv.url("/up")};
        run_result r = co_await run_program(argv);
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out.substr(0, r.out.rfind(' ')),
                  std::to_string(data.size()) + " " + std::to_string(corio_net_test::crc32(data)));
        EXPECT_LE(std::stoul(r.out.substr(r.out.rfind(' ') + 1)), 64U * 1024) << r.out;
        co_await stop(srv);
    }());
}

TEST_F(http_interop, curl_compressed_decodes_what_the_server_compresses) {
    if (curl().empty()) {
        GTEST_SKIP() << "no curl";
    }
    corio::run([]() -> corio::task<> {
        std::string page;
        for (int i = 0; page.size() < 200 * 1000; ++i) {
            page += "<p>paragraph " + std::to_string(i) + " of a page worth compressing</p>\n";
        }
        http::handler h = [&page](http::request&) -> corio::task<http::response> {
            http::response r(200, page);
            r.headers.set("Content-Type", "text/html; charset=utf-8");
            co_return r;
        };
        http::server_options o;
        o.compress = true;
        test_server srv = co_await start_test_server(h, o);
        // curl --compressed asks for every coding it knows (Debian's: deflate, gzip, br).
        std::vector<std::string> argv{curl(), "-sS", "-v", "--compressed", srv.url("/")};
        run_result r = co_await run_program(argv);
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_TRUE(r.out == page) << r.out.size() << " bytes";
        EXPECT_NE(r.err.find("< Content-Encoding: br"), std::string::npos) << r.err;
        // And one coding at a time.
        for (const std::string coding : {"gzip", "deflate"}) {
            std::vector<std::string> one{curl(),         "-sS", "-v",
                                         "--compressed", "-H",  "Accept-Encoding: " + coding,
                                         srv.url("/")};
            run_result rr = co_await run_program(one);
            EXPECT_EQ(rr.code, 0) << rr.err;
            EXPECT_TRUE(rr.out == page) << coding;
            EXPECT_NE(rr.err.find("< Content-Encoding: " + coding), std::string::npos) << rr.err;
        }
        co_await stop(srv);
    }());
}

corio::async_generator<std::string> numbered_lines(int n) {
    for (int i = 0; i < n; ++i) {
        co_yield "line " + std::to_string(i) + "\n";
    }
}

TEST_F(http_interop, python_http_client_streams_both_ways) {
    if (python().empty()) {
        GTEST_SKIP() << "no python3";
    }
    corio::run([]() -> corio::task<> {
        http::handler h = [](http::request& req) -> corio::task<http::response> {
            if (req.method == "GET") {
                http::response r;
                r.stream_body(numbered_lines(10000));
                co_return r;
            }
            co_return co_await streamed_digest(req);
        };
        test_server srv = co_await start_test_server(h, streaming_small_limit());
        // A chunked upload from a generator (3 MiB, over the 1 MiB limit), then a streamed
        // download read 1000 bytes at a time, on one connection.
        const std::string script = R"(
import http.client, sys, zlib
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
def body():
    for i in range(48):
        yield bytes([i % 251]) * 65536
c.request("PUT", "/up", body=body(), encode_chunked=True)
r = c.getresponse()
data = b"".join(bytes([i % 251]) * 65536 for i in range(48))
n, crc, largest = r.read().decode().split()
print("upload", r.status, int(n) == len(data), int(crc) == zlib.crc32(data), int(largest) <= 65536)
c.request("GET", "/lines")
r = c.getresponse()
print("chunked", r.getheader("Transfer-Encoding"))
got = b""
while True:
    piece = r.read(1000)
    if not piece:
        break
    got += piece
want = "".join("line %d\n" % i for i in range(10000)).encode()
print("download", r.status, got == want)
)";
        std::vector<std::string> argv{python(), "-c", script, std::to_string(srv.port())};
        run_result r = co_await run_program(argv);
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out, "upload 200 True True True\nchunked chunked\ndownload 200 True\n")
            << r.err;
        EXPECT_EQ(srv.log->connections, 1);
        co_await stop(srv);
    }());
}

/// The port `python3 -m http.server` reports on its first line ("Serving HTTP on
/// 127.0.0.1 port 43210 (http://127.0.0.1:43210/) ...").
corio::task<std::uint16_t> python_server_port(corio::process& p) {
    const std::string line = co_await corio::wait_for(p.stdout_pipe().read_line(), 30s);
    std::smatch m;
    if (!std::regex_search(line, m, std::regex("port ([0-9]+)"))) {
        throw std::runtime_error("http.server said: " + line);
    }
    co_return static_cast<std::uint16_t>(std::stoi(m[1].str()));
}

TEST_F(http_interop, the_client_fetches_files_from_python_http_server) {
    if (python().empty()) {
        GTEST_SKIP() << "no python3";
    }
    corio::run([]() -> corio::task<> {
        corio_net_test::temp_dir dir;
        const std::string page = "<html><body>a page for corio</body></html>\n";
        const std::string blob = corio_net_test::pattern(500 * 1000, 3);
        std::ofstream(dir.file("index.html"), std::ios::binary) << page;
        std::ofstream(dir.file("blob.bin"), std::ios::binary) << blob;
        corio::process_options options;
        options.stdout_ = corio::pipe;
        options.stderr_ = corio::devnull;
        std::vector<std::string> argv{python(), "-u",        "-m",          "http.server", "0",
                                      "--bind", "127.0.0.1", "--directory", dir.path()};
        corio::process py = co_await corio::create_subprocess_exec(argv, options);
        std::exception_ptr failure;
        try {
            const std::uint16_t port = co_await python_server_port(py);
            const std::string base = "http://127.0.0.1:" + std::to_string(port);
            http::client c;
            http::response index = co_await c.get(base + "/index.html");
            EXPECT_EQ(index.status, 200);
            EXPECT_EQ(index.body, page);
            EXPECT_EQ(index.headers.get("Content-Type").value_or(""), "text/html");
            http::response big = co_await c.get(base + "/blob.bin");
            EXPECT_EQ(big.status, 200);
            EXPECT_EQ(big.body.size(), blob.size());
            EXPECT_TRUE(big.body == blob);
            http::response missing = co_await c.get(base + "/nothing-here");
            EXPECT_EQ(missing.status, 404);
            // http.server answers a directory without its slash with a redirect.
            const std::string sub = dir.file("sub");
            std::filesystem::create_directory(sub);
            std::ofstream(sub + "/index.html", std::ios::binary) << "sub";
            http::response redirected = co_await c.get(base + "/sub");
            EXPECT_EQ(redirected.status, 200);
            EXPECT_EQ(redirected.body, "sub");
            EXPECT_EQ(redirected.redirects, 1);
            EXPECT_EQ(redirected.url, base + "/sub/");
        } catch (...) {
            failure = std::current_exception();
        }
        py.terminate();
        co_await corio::wait_for(py.wait(), 30s);
        if (failure) {
            std::rethrow_exception(failure);
        }
    }());
}

} // namespace
