// Load: 2,000 concurrent connections to a corio echo server on the same loop, each
// echoing 100 messages of 32 to 200 bytes; every byte is checked, and every fd is closed
// at the end.

#include "support/net.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace corio_net_test;

namespace {

constexpr int connections = 2000;
constexpr int messages = 100;

corio::task<> echo_bytes(corio::stream s) {
    while (true) {
        std::string chunk = co_await s.read(4096);
        if (chunk.empty()) {
            co_return;
        }
        s.write(chunk);
        co_await s.drain();
    }
}

/// What one client got: bytes echoed correctly, and messages that came back wrong.
struct client_result {
    std::size_t bytes = 0;
    int mismatches = 0;
};

corio::task<client_result> one_client(std::uint16_t port, int id) {
    client_result r;
    corio::stream s = co_await corio::open_connection("127.0.0.1", port);
    std::mt19937 rng(static_cast<std::uint32_t>(id));
    std::uniform_int_distribution<std::size_t> size(32, 200);
    for (int i = 0; i < messages; ++i) {
        const std::string message = pattern(size(rng), static_cast<std::uint64_t>(id) * messages +
                                                           static_cast<std::uint64_t>(i));
        s.write(message);
        co_await s.drain();
        const std::string back = co_await s.read_exactly(message.size());
        if (back == message) {
            r.bytes += back.size();
        } else {
            ++r.mismatches;
        }
    }
    s.write_eof();
    if (!(co_await s.read_all()).empty()) {
        ++r.mismatches; // nothing may follow the last echo
    }
    co_return r;
}

corio::task<> load() {
    corio::server_options options;
    options.backlog = 4096; // every connect lands in the backlog at once
    corio::server srv = co_await corio::start_server(echo_bytes, "127.0.0.1", 0, options);
    std::vector<corio::task<client_result>> clients;
    clients.reserve(connections);
    for (int id = 0; id < connections; ++id) {
        clients.push_back(one_client(srv.port(), id));
    }
    std::vector<client_result> results =
        co_await corio::wait_for(corio::gather(std::move(clients)), 50s);
    std::size_t bytes = 0;
    int mismatches = 0;
    for (const client_result& r : results) {
        bytes += r.bytes;
        mismatches += r.mismatches;
    }
    EXPECT_EQ(mismatches, 0);
    EXPECT_GE(bytes, static_cast<std::size_t>(connections) * messages * 32);
    srv.close();
    co_await corio::wait_for(srv.wait_closed(), 10s);
    EXPECT_EQ(srv.active_connections(), 0U);
}

class load_test : public ::testing::Test {};

TEST_F(load_test, two_thousand_connections_echo_a_hundred_messages_each) {
    // Two fds per connection (client and server side), and some to spare.
    const rlim_t needed = 2 * connections + 100;
    if (nofile_hard_limit() < needed) {
        GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << nofile_hard_limit() << " < " << needed;
    }
    nofile_limit raised(std::min<rlim_t>(nofile_hard_limit(), 4 * needed));
    const int before = count_fds();
    corio::run(load());
    EXPECT_EQ(count_fds(), before);
}

} // namespace
