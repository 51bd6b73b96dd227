#pragma once
// Helpers shared by the HTTP server, client and interop tests: a corio HTTP server that
// counts its connections, a raw response reader that does not depend on corio's response
// parser, and waits bounded by a timeout instead of a sleep.

#include "net.hpp"

#include <corio/corio.hpp>
#include <corio/http/client.hpp>
#include <corio/http/server.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace corio_http_test {

using namespace std::chrono_literals;
using corio_net_test::count_fds;
using corio_net_test::describe;
using corio_net_test::fd_leak_check;

/// ASCII lower case.
inline std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

/// A response as read off the wire by `read_raw_response`.
struct raw_response {
    int status = 0;
    std::string head;                          ///< status line and fields, CRLFs included
    std::map<std::string, std::string> fields; ///< lower-case name → last value
    std::string body;

    [[nodiscard]] std::string field(const std::string& name) const {
        auto it = fields.find(lower(name));
        return it == fields.end() ? std::string() : it->second;
    }
    [[nodiscard]] bool has(const std::string& name) const { return fields.count(lower(name)) != 0; }
};

/// Read one response from `s`: the head through its empty line, then a Content-Length
/// body (none when `head_request`, or when there is no Content-Length). nullopt if the
/// stream ended before any byte of it.
inline corio::task<std::optional<raw_response>> read_raw_response(corio::stream& s,
                                                                  bool head_request = false) {
    std::string head;
    while (true) {
        std::string line = co_await s.read_line();
        if (line.empty()) {
            if (head.empty()) {
                co_return std::nullopt;
            }
            throw std::runtime_error("the response ended inside its head: " + head);
        }
        head += line;
        if (line == "\r\n") {
            break;
        }
    }
    raw_response r;
    r.head = head;
    r.status = std::stoi(head.substr(9, 3));
    std::size_t pos = head.find("\r\n") + 2;
    while (pos < head.size() - 2) {
        const std::size_t end = head.find("\r\n", pos);
        const std::string line = head.substr(pos, end - pos);
        const std::size_t colon = line.find(':');
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
            value.erase(0, 1);
        }
        r.fields[lower(line.substr(0, colon))] = value;
        pos = end + 2;
    }
    if (!head_request && r.has("content-length")) {
        const auto length = static_cast<std::size_t>(std::stoull(r.field("content-length")));
        if (length > 0) {
            r.body = co_await s.read_exactly(length);
        }
    }
    co_return r;
}

/// Read a response, failing the test (instead of hanging) after 10 s.
inline corio::task<raw_response> expect_response(corio::stream& s, bool head_request = false) {
    std::optional<std::optional<raw_response>> r =
        co_await corio::move_on_after(10s, read_raw_response(s, head_request));
    if (!r) {
        throw std::runtime_error("no response within 10 s");
    }
    if (!*r) {
        throw std::runtime_error("the connection ended before a response");
    }
    co_return std::move(**r);
}

/// True if `s` reaches end of stream (after any bytes still coming) within 10 s.
inline corio::task<bool> ends(corio::stream& s) {
    std::optional<std::string> rest = co_await corio::move_on_after(10s, s.read_all());
    co_return rest.has_value();
}

/// What a test server saw.
struct server_log {
    int connections = 0;
    int ended = 0;
    corio::event connection_ended;
};

/// An HTTP server on 127.0.0.1 (or `host`), port 0, made with serve_connection under
/// start_server so that it counts connections.
struct test_server {
    corio::server tcp;
    std::shared_ptr<server_log> log = std::make_shared<server_log>();
    std::shared_ptr<corio::http::handler> handler;
    std::shared_ptr<corio::http::server_options> options;
    /// The text options->server_name refers to (the options refer to the caller's).
    std::shared_ptr<std::string> server_name;
    /// What its connections hold, against options->max_connections and
    /// max_buffered_body_bytes.
    std::shared_ptr<corio::http::server_usage> usage =
        std::make_shared<corio::http::server_usage>();

    [[nodiscard]] std::uint16_t port() const { return tcp.port(); }
    [[nodiscard]] std::string url(std::string_view path) const {
        return "http://127.0.0.1:" + std::to_string(tcp.port()) + std::string(path);
    }
};

inline corio::task<> serve_counted(corio::stream s, std::shared_ptr<server_log> log,
                                   std::shared_ptr<corio::http::handler> h,
                                   std::shared_ptr<corio::http::server_options> options,
                                   std::shared_ptr<corio::http::server_usage> usage) {
    ++log->connections;
    struct count_end {
        server_log& log;
        ~count_end() {
            ++log.ended;
            log.connection_ended.set();
        }
    } counted{*log};
    co_await corio::http::serve_connection(std::move(s), *h, *options, *usage);
}

/// (`host` is not a defaulted argument: g++ 12 destroys a defaulted class-type argument
/// of a coroutine twice when the call sits in a co_await expression.)
inline corio::task<test_server>
start_test_server(corio::http::handler h, corio::http::server_options options, std::string host) {
    test_server srv;
    srv.handler = std::make_shared<corio::http::handler>(std::move(h));
    srv.options = std::make_shared<corio::http::server_options>(options);
    srv.server_name = std::make_shared<std::string>(options.server_name.view());
    srv.options->server_name = *srv.server_name;
    corio::connection_handler on_connection = [log = srv.log, h = srv.handler, o = srv.options,
                                               u = srv.usage](corio::stream s) {
        return serve_counted(std::move(s), log, h, o, u);
    };
    corio::server_options tcp;
    srv.tcp = co_await corio::start_server(on_connection, std::move(host), 0, tcp);
    co_return srv;
}

inline corio::task<test_server> start_test_server(corio::http::handler h,
                                                  corio::http::server_options options) {
    co_return co_await start_test_server(std::move(h), std::move(options),
                                         std::string("127.0.0.1"));
}

inline corio::task<test_server> start_test_server(corio::http::handler h) {
    corio::http::server_options options;
    co_return co_await start_test_server(std::move(h), std::move(options),
                                         std::string("127.0.0.1"));
}

/// Close `srv` and wait (at most 10 s) for its connections to end.
inline corio::task<> stop(test_server& srv) {
    srv.tcp.close();
    std::optional<bool> done = co_await corio::move_on_after(10s, srv.tcp.wait_closed());
    EXPECT_TRUE(done.has_value()) << "the server's connections did not end within 10 s";
}

/// A connection to `srv`.
inline corio::task<corio::stream> connect(const test_server& srv) {
    co_return co_await corio::open_connection("127.0.0.1", srv.port());
}

/// The wait of `e` as a task (event::wait()'s awaiter cannot be moved into move_on_after).
inline corio::task<> event_wait(corio::event& e) {
    co_await e.wait();
}
/// Wait for `e` (at most 10 s; a test failure after that).
inline corio::task<> wait_event(corio::event& e) {
    const bool done = co_await corio::move_on_after(10s, event_wait(e));
    EXPECT_TRUE(done) << "an event the test waits for was not set within 10 s";
}

/// A handler answering 200 with "Hello, World!".
inline corio::task<corio::http::response> hello(corio::http::request& /*req*/) {
    co_return corio::http::response(200, "Hello, World!");
}

} // namespace corio_http_test
