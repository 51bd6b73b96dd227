// The client against nginx, on 127.0.0.1: large static files read whole and in pieces
// (client::open), ranges of them, and nginx's gzip decoded by the client. nginx runs with a
// configuration written for the test; the test reads its log on stderr until the worker
// has started (its listening socket is open before that). Skipped when nginx is missing
// (Debian: nginx-light).

#include "support/http.hpp"

#include <corio/corio.hpp>
#include <corio/http/client.hpp>
#include <corio/http/coding.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using namespace corio_http_test;
namespace http = corio::http;

namespace {

class http_nginx : public fd_leak_check {};

std::string nginx() {
    return corio_net_test::find_program("nginx", {"/usr/sbin/nginx"});
}

/// A port free a moment ago (nginx binds it itself).
std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

/// nginx serving `root` on 127.0.0.1:port, gzip on for text/plain.
struct nginx_server {
    corio_net_test::temp_dir dir;
    std::uint16_t port = 0;
    std::optional<corio::process> process;

    [[nodiscard]] std::string url(std::string_view path) const {
        return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
    }
};

corio::task<> start_nginx(nginx_server& n, const std::string& root) {
    n.port = free_port();
    const std::string prefix = n.dir.path();
    std::ofstream(n.dir.file("nginx.conf"))
        << "worker_processes 1;\ndaemon off;\npid " << prefix << "/nginx.pid;\n"
        << "error_log stderr notice;\nevents { worker_connections 64; }\n"
        << "http {\n  access_log off;\n  client_body_temp_path " << prefix << "/body;\n"
        << "  proxy_temp_path " << prefix << "/proxy;\n  fastcgi_temp_path " << prefix
        << "/fastcgi;\n  uwsgi_temp_path " << prefix << "/uwsgi;\n  scgi_temp_path " << prefix
        << "/scgi;\n  types { text/plain txt; application/octet-stream bin; }\n"
        << "  gzip on;\n  gzip_types text/plain;\n  gzip_min_length 0;\n"
        << "  server {\n    listen 127.0.0.1:" << n.port << ";\n    root " << root << ";\n  }\n}\n";
    corio::process_options options;
    options.stderr_ = corio::pipe;
    options.stdout_ = corio::devnull;
    std::vector<std::string> argv{
        nginx(), "-e", "stderr", "-p", prefix, "-c", n.dir.file("nginx.conf")};
    n.process.emplace(co_await corio::create_subprocess_exec(argv, options));
    // Its sockets are open once the master starts its worker.
    std::string log;
    while (log.find("start worker process") == std::string::npos) {
        std::optional<std::string> line =
            co_await corio::move_on_after(30s, n.process->stderr_pipe().read_line());
        if (!line || line->empty()) {
            throw std::runtime_error("nginx did not start: " + log);
        }
        log += *line;
    }
}

corio::task<> stop_nginx(nginx_server& n) {
    n.process->terminate();
    std::optional<int> code = co_await corio::move_on_after(30s, n.process->wait());
    if (!code) {
        n.process->kill();
        co_await n.process->wait();
    }
    n.process.reset();
}

/// A directory anyone can read (nginx's worker may run as another user).
std::string readable_dir(const corio_net_test::temp_dir& dir) {
    const std::string root = dir.file("site");
    ::mkdir(root.c_str(), 0755);
    ::chmod(dir.path().c_str(), 0755);
    return root;
}

TEST_F(http_nginx, the_client_reads_large_static_files_whole_and_in_pieces) {
    if (nginx().empty()) {
        GTEST_SKIP() << "no nginx (Debian: nginx-light)";
    }
    corio::run([]() -> corio::task<> {
        nginx_server n;
        const std::string root = readable_dir(n.dir);
        const std::string blob = corio_net_test::pattern(48 * 1024 * 1024, 4);
        std::ofstream(root + "/big.bin", std::ios::binary) << blob;
        ::chmod((root + "/big.bin").c_str(), 0644);
        co_await start_nginx(n, root);
        std::exception_ptr failure;
        try {
            http::client c({.limits = {.max_body = 64 * 1024 * 1024}});
            http::response whole = co_await c.get(n.url("/big.bin"));
            EXPECT_EQ(whole.status, 200);
            EXPECT_EQ(whole.body.size(), blob.size());
            EXPECT_TRUE(whole.body == blob);
            // In pieces, with a client whose whole-body limit is far below the file.
            http::client small({.limits = {.max_body = 1024 * 1024}});
            http::response res = co_await small.open(n.url("/big.bin"));
            EXPECT_EQ(res.headers.get("Content-Length").value_or(""), std::to_string(blob.size()));
            std::uint64_t offset = 0;
            bool same = true;
            while (auto piece = co_await res.body_stream().next()) {
                same = same && blob.compare(offset, piece->size(), *piece) == 0;
                offset += piece->size();
            }
            EXPECT_EQ(offset, blob.size());
            EXPECT_TRUE(same);
            EXPECT_EQ(small.connections(), 1U); // back in the pool
            // A range, on the same connection.
            http::headers range;
            range.set("Range", "bytes=1000-1999");
            http::response part =
                co_await small.send({.headers = range}, http::url::parse(n.url("/big.bin")));
            EXPECT_EQ(part.status, 206);
            EXPECT_TRUE(part.body == blob.substr(1000, 1000));
            EXPECT_EQ(small.connections(), 1U);
        } catch (...) {
            failure = std::current_exception();
        }
        co_await stop_nginx(n);
        if (failure) {
            std::rethrow_exception(failure);
        }
    }());
}

TEST_F(http_nginx, the_client_decodes_nginx_gzip_whole_and_in_pieces) {
    if (nginx().empty()) {
        GTEST_SKIP() << "no nginx (Debian: nginx-light)";
    }
    corio::run([]() -> corio::task<> {
        nginx_server n;
        const std::string root = readable_dir(n.dir);
        std::string text;
        for (int i = 0; text.size() < 3 * 1024 * 1024; ++i) {
            text += "line " + std::to_string(i) + " of a text nginx compresses on the fly\n";
        }
        std::ofstream(root + "/big.txt", std::ios::binary) << text;
        ::chmod((root + "/big.txt").c_str(), 0644);
        co_await start_nginx(n, root);
        std::exception_ptr failure;
        try {
            http::client c;
            http::response whole = co_await c.get(n.url("/big.txt"));
            EXPECT_EQ(whole.status, 200);
            EXPECT_FALSE(whole.headers.contains("Content-Encoding")); // decoded
            EXPECT_TRUE(whole.body == text) << whole.body.size();
            http::response pieces = co_await c.open(n.url("/big.txt"));
            std::string got;
            while (auto piece = co_await pieces.body_stream().next()) {
                got += *piece;
            }
            EXPECT_TRUE(got == text) << got.size();
            // What nginx sent was gzip: asked for by name, it comes as it is.
            http::headers accept;
            accept.set("Accept-Encoding", "gzip");
            http::response raw =
                co_await c.send({.headers = accept}, http::url::parse(n.url("/big.txt")));
            EXPECT_EQ(raw.headers.get("Content-Encoding").value_or(""), "gzip");
            EXPECT_LT(raw.body.size(), text.size() / 3);
            EXPECT_TRUE(http::decode(http::content_coding::gzip, raw.body, text.size()) == text);
        } catch (...) {
            failure = std::current_exception();
        }
        co_await stop_nginx(n);
        if (failure) {
            std::rethrow_exception(failure);
        }
    }());
}

} // namespace
