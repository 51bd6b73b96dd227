// Memory stays bounded whatever the size of the bodies: a 1 GiB download through
// client::open, a 1 GiB upload to a handler reading in pieces, and 32 connections each
// uploading 16 MiB at once, each under 64 MiB of peak RSS growth (VmHWM, reset through
// /proc/self/clear_refs before each case). Under the sanitizers, whose shadow memory makes
// RSS meaningless, the bodies are smaller and only the bytes are checked.

#include "support/http.hpp"

#include <corio/corio.hpp>
#include <corio/http/client.hpp>
#include <corio/http/server.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;
using namespace corio_http_test;
namespace http = corio::http;

namespace {

class http_memory : public fd_leak_check {};

#ifdef CORIO_SANITIZE_BUILD
constexpr bool measure_rss = false;
constexpr std::uint64_t big = 64ULL * 1024 * 1024;
#else
constexpr bool measure_rss = true;
constexpr std::uint64_t big = 1024ULL * 1024 * 1024;
#endif
constexpr std::uint64_t piece_size = 64 * 1024;
constexpr long rss_limit = 64L * 1024 * 1024;

/// A field of /proc/self/status in kB ("VmHWM:", the peak RSS; "VmRSS:", the RSS now), in
/// bytes.
long status_bytes(std::string_view field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field, 0) == 0) {
            return std::stol(line.substr(field.size())) * 1024;
        }
    }
    return 0;
}

long peak_rss() {
    return status_bytes("VmHWM:");
}

/// Start measuring: the peak is reset to the RSS now (Linux ≥ 4.0), which is returned.
long reset_peak_rss() {
    std::ofstream("/proc/self/clear_refs") << "5";
    return status_bytes("VmRSS:");
}

/// The peak RSS grew by less than rss_limit since `base` (printed for the record).
void check_rss(long base) {
    if (measure_rss) {
        const long grew = peak_rss() - base;
        std::printf("peak RSS grew by %.1f MiB\n", static_cast<double>(grew) / (1024 * 1024));
        EXPECT_LT(grew, rss_limit) << "peak RSS grew by " << grew;
    }
}

corio::async_generator<std::string> zeros(std::uint64_t total) {
    const std::string piece(piece_size, 'z');
    for (std::uint64_t sent = 0; sent < total; sent += piece_size) {
        co_yield piece;
    }
}

/// Reads the body in pieces; answers with the count.
corio::task<http::response> count_body(http::request& req) {
    std::uint64_t n = 0;
    while (auto piece = co_await req.body_stream().next()) {
        n += piece->size();
    }
    co_return http::response(200, std::to_string(n));
}

TEST_F(http_memory, a_1_gib_download_through_client_open) {
    corio::run([]() -> corio::task<> {
        http::handler h = [](http::request&) -> corio::task<http::response> {
            http::response r;
            r.stream_body(zeros(big));
            co_return r;
        };
        test_server srv = co_await start_test_server(h);
        const long base = reset_peak_rss();
        http::client c;
        http::response res = co_await c.open(srv.url("/big"));
        std::uint64_t n = 0;
        while (auto piece = co_await res.body_stream().next()) {
            n += piece->size();
        }
        EXPECT_EQ(n, big);
        check_rss(base);
        co_await stop(srv);
    }());
}

TEST_F(http_memory, a_1_gib_upload_to_a_handler_reading_in_pieces) {
    corio::run([]() -> corio::task<> {
        http::server_options o;
        o.stream_request_bodies = true;
        test_server srv = co_await start_test_server(count_body, o);
        const long base = reset_peak_rss();
        http::client c;
        http::request req;
        req.method = "PUT";
        req.streamed_body = std::make_shared<http::body_stream>(http::source_from(zeros(big)));
        http::response res = co_await c.send(std::move(req), http::url::parse(srv.url("/")));
        EXPECT_EQ(res.body, std::to_string(big));
        check_rss(base);
        co_await stop(srv);
    }());
}

TEST_F(http_memory, thirty_two_uploads_of_16_mib_at_once) {
    corio::run([]() -> corio::task<> {
        constexpr std::uint64_t each = measure_rss ? 16ULL * 1024 * 1024 : 1024 * 1024;
        http::server_options o;
        o.stream_request_bodies = true;
        test_server srv = co_await start_test_server(count_body, o);
        const long base = reset_peak_rss();
        http::client c({.max_connections_per_host = 32});
        std::vector<corio::task<http::response>> uploads;
        for (int i = 0; i < 32; ++i) {
            http::request req;
            req.method = "PUT";
            req.headers.set("Content-Length", std::to_string(each));
            req.streamed_body = std::make_shared<http::body_stream>(http::source_from(zeros(each)));
            uploads.push_back(c.send(std::move(req), http::url::parse(srv.url("/"))));
        }
        std::vector<http::response> done = co_await corio::gather(std::move(uploads));
        for (const http::response& r : done) {
            EXPECT_EQ(r.body, std::to_string(each));
        }
        EXPECT_EQ(srv.log->connections, 32);
        check_rss(base);
        co_await stop(srv);
    }());
}

TEST_F(http_memory, thirty_two_whole_uploads_of_16_mib_stay_under_the_server_wide_cap) {
    // Whole bodies (no stream_request_bodies): the server holds at most
    // max_buffered_body_bytes of them at once, counted by Content-Length as each head
    // arrives; a request that would pass the cap is answered 503 before its body is read.
    corio::run([]() -> corio::task<> {
        constexpr std::uint64_t each = measure_rss ? 16ULL * 1024 * 1024 : 1024 * 1024;
        constexpr std::size_t cap = 8 * each; // 128 MiB: the default cap
        http::server_options o;
        o.max_buffered_body_bytes = cap;
        o.limits.max_body = 2 * each;
        auto most = std::make_shared<std::size_t>(0);
        std::shared_ptr<http::server_usage> usage;
        http::handler h = [most, &usage](http::request& req) -> corio::task<http::response> {
            *most = std::max(*most, usage->buffered_body_bytes());
            co_return http::response(200, std::to_string(req.body.size()));
        };
        test_server srv = co_await start_test_server(h, o);
        usage = srv.usage;
        const long base = reset_peak_rss();
        http::client c({.max_connections_per_host = 32});
        std::vector<corio::join_handle<http::response>> uploads;
        for (int i = 0; i < 32; ++i) {
            http::request req;
            req.method = "PUT";
            req.headers.set("Content-Length", std::to_string(each));
            req.streamed_body = std::make_shared<http::body_stream>(http::source_from(zeros(each)));
            uploads.push_back(corio::spawn(c.send(std::move(req), http::url::parse(srv.url("/")))));
        }
        int ok = 0;
        int refused = 0;
        for (corio::join_handle<http::response>& t : uploads) {
            try {
                const http::response r = co_await t;
                ok += r.status == 200 && r.body == std::to_string(each) ? 1 : 0;
                refused += r.status == 503 ? 1 : 0;
            } catch (const std::system_error&) {
                ++refused; // answered 503 and closed while the body was still going out
            }
        }
        EXPECT_EQ(ok + refused, 32);
        EXPECT_GE(ok, 1);
        EXPECT_LE(*most, cap);
        EXPECT_EQ(usage->buffered_body_bytes(), 0U);
        std::printf("%d of 32 uploads taken, %d refused; at most %zu MiB held\n", ok, refused,
                    *most / (1024 * 1024));
        if (measure_rss) {
            const long grew = peak_rss() - base;
            std::printf("peak RSS grew by %.1f MiB\n", static_cast<double>(grew) / (1024 * 1024));
            EXPECT_LT(grew, static_cast<long>(cap) + rss_limit) << "peak RSS grew by " << grew;
        }
        co_await stop(srv);
    }());
}

} // namespace
