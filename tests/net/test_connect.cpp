// open_connection over a list of addresses: Happy Eyeballs (RFC 8305), connect timeouts,
// and cancellation, on the virtual clock. An address that never answers is a listener
// whose backlog is full: the kernel leaves further connects pending.

#include "support/net.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using namespace corio_net_test;
using corio_test::now;

namespace {

class Connect : public fd_leak_check {};

corio::task<> refused_address_gives_way(corio::socket_address good) {
    std::vector<corio::socket_address> addresses{
        corio::socket_address::from_ip("127.0.0.1", unused_port()), good};
    const auto start = now();
    corio::stream s = co_await corio::open_connection(addresses);
    EXPECT_EQ(s.peer_address(), good);
    // A refusal starts the next attempt at once, not after the 250 ms delay.
    EXPECT_EQ(now() - start, 0ms);
}

TEST_F(Connect, ARefusedAddressStartsTheNextAtOnce) {
    raw_fd listener = raw_tcp_listener("127.0.0.1");
    corio::run(refused_address_gives_way(corio::socket_address::local_of(listener.get())),
               virtual_time());
}

corio::task<> silent_address_is_raced(corio::socket_address silent, corio::socket_address good) {
    const auto start = now();
    std::vector<corio::socket_address> addresses{silent, good};
    corio::stream s = co_await corio::open_connection(addresses);
    EXPECT_EQ(s.peer_address(), good);
    EXPECT_EQ(now() - start, 250ms);
}

TEST_F(Connect, ASilentAddressIsRacedAfterTheDelay) {
    silent_listener silent;
    raw_fd listener = raw_tcp_listener("127.0.0.1");
    corio::run(
        silent_address_is_raced(silent.address, corio::socket_address::local_of(listener.get())),
        virtual_time());
}

corio::task<> delay_is_an_option(corio::socket_address silent, corio::socket_address good) {
    const auto start = now();
    corio::connect_options options;
    options.happy_eyeballs_delay = 40ms;
    std::vector<corio::socket_address> addresses{silent, silent, good};
    corio::stream s = co_await corio::open_connection(addresses, options);
    EXPECT_EQ(s.peer_address(), good);
    EXPECT_EQ(now() - start, 80ms);
}

TEST_F(Connect, TheDelayIsAnOption) {
    silent_listener silent;
    raw_fd listener = raw_tcp_listener("127.0.0.1");
    corio::run(delay_is_an_option(silent.address, corio::socket_address::local_of(listener.get())),
               virtual_time());
}

corio::task<> timeout_bounds_everything(corio::socket_address silent) {
    corio::connect_options options;
    options.timeout = 3s;
    std::vector<corio::socket_address> addresses{silent, silent};
    const auto start = now();
    auto error = co_await error_of(corio::open_connection(addresses, options));
    EXPECT_TRUE(holds<corio::timeout_error>(error)) << describe(error);
    EXPECT_EQ(now() - start, 3s);
}

TEST_F(Connect, TheTimeoutBoundsEveryAttempt) {
    silent_listener silent;
    corio::run(timeout_bounds_everything(silent.address), virtual_time());
}

corio::task<> every_address_refused() {
    std::vector<corio::socket_address> addresses{
        corio::socket_address::from_ip("127.0.0.1", unused_port()),
        corio::socket_address::from_ip("127.0.0.1", unused_port())};
    auto error = co_await error_of(corio::open_connection(addresses));
    with_system_error(error, [](const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ECONNREFUSED);
        EXPECT_NE(std::string(e.what()).find("connect 127.0.0.1:"), std::string::npos) << e.what();
    });
}

TEST_F(Connect, EveryAddressRefusedIsOneRefusal) {
    corio::run(every_address_refused(), virtual_time());
}

corio::task<> cancelled_connect(corio::socket_address silent) {
    std::vector<corio::socket_address> addresses{silent, silent, silent};
    auto h = corio::spawn(corio::open_connection(addresses));
    co_await corio::sleep(600ms); // all three attempts are in flight by now
    EXPECT_FALSE(h.done());
    h.cancel();
    auto error = co_await error_of(h);
    EXPECT_TRUE(holds<corio::cancelled_error>(error)) << describe(error);
    co_await corio::sleep(0s); // the attempts unwind and close their sockets
}

TEST_F(Connect, CancellingClosesEveryAttempt) {
    silent_listener silent;
    corio::run(cancelled_connect(silent.address), virtual_time());
}

corio::task<> sequential_without_delay(corio::socket_address silent, corio::socket_address good) {
    corio::connect_options options;
    options.happy_eyeballs_delay = 0ms;
    options.timeout = 1s;
    std::vector<corio::socket_address> addresses{silent, good};
    // One at a time: the silent address holds everything up until the timeout.
    auto error = co_await error_of(corio::open_connection(addresses, options));
    EXPECT_TRUE(holds<corio::timeout_error>(error)) << describe(error);
}

TEST_F(Connect, ZeroDelayTriesOneAddressAtATime) {
    silent_listener silent;
    raw_fd listener = raw_tcp_listener("127.0.0.1");
    corio::run(
        sequential_without_delay(silent.address, corio::socket_address::local_of(listener.get())),
        virtual_time());
}

corio::task<> ipv6_and_ipv4(std::uint16_t port4) {
    // [::1] is refused (nothing listens there), 127.0.0.1 answers.
    std::vector<corio::socket_address> addresses{
        corio::socket_address::from_ip("::1", unused_port("::1")),
        corio::socket_address::from_ip("127.0.0.1", port4)};
    corio::stream s = co_await corio::open_connection(addresses);
    EXPECT_EQ(s.peer_address().family(), AF_INET);
}

TEST_F(Connect, FallsBackFromIpv6ToIpv4) {
    if (!ipv6_loopback_available()) {
        GTEST_SKIP() << "no ::1 on this machine";
    }
    raw_fd listener = raw_tcp_listener("127.0.0.1");
    corio::run(ipv6_and_ipv4(corio::socket_address::local_of(listener.get()).port()),
               virtual_time());
}

corio::task<> empty_list() {
    auto error = co_await error_of(corio::open_connection(std::vector<corio::socket_address>{}));
    EXPECT_TRUE(holds<std::invalid_argument>(error)) << describe(error);
}

TEST_F(Connect, AnEmptyListIsRefused) {
    corio::run(empty_list());
}

} // namespace
