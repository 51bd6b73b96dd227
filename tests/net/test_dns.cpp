// getaddrinfo off the loop, and socket_address.

#include "support/loop.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/un.h>

using namespace std::chrono_literals;

namespace {

TEST(SocketAddress, FormatsIpv4Ipv6AndUnix) {
    const auto v4 = corio::socket_address::from_ip("127.0.0.1", 8080);
    EXPECT_EQ(v4.family(), AF_INET);
    EXPECT_EQ(v4.port(), 8080);
    EXPECT_EQ(v4.host(), "127.0.0.1");
    EXPECT_EQ(v4.to_string(), "127.0.0.1:8080");
    const auto v6 = corio::socket_address::from_ip("::1", 443);
    EXPECT_EQ(v6.family(), AF_INET6);
    EXPECT_EQ(v6.to_string(), "[::1]:443");
    const auto un = corio::socket_address::from_unix_path("/tmp/x.sock");
    EXPECT_EQ(un.family(), AF_UNIX);
    EXPECT_EQ(un.to_string(), "/tmp/x.sock");
    EXPECT_EQ(un.port(), 0);
    const auto abstract = corio::socket_address::from_unix_path("@corio-test");
    EXPECT_EQ(abstract.to_string(), "@corio-test");
    EXPECT_EQ(abstract.size(), offsetof(sockaddr_un, sun_path) + 11);
    EXPECT_TRUE(corio::socket_address().empty());
    EXPECT_EQ(corio::socket_address().to_string(), "");
    EXPECT_EQ(v4, corio::socket_address::from_ip("127.0.0.1", 8080));
    EXPECT_FALSE(v4 == corio::socket_address::from_ip("127.0.0.1", 8081));
}

TEST(SocketAddress, RejectsWhatIsNotAnAddress) {
    EXPECT_THROW((void)corio::socket_address::from_ip("localhost", 1), std::invalid_argument);
    EXPECT_THROW((void)corio::socket_address::from_ip("1.2.3.4.5", 1), std::invalid_argument);
    EXPECT_THROW((void)corio::socket_address::from_unix_path(""), std::invalid_argument);
    EXPECT_THROW((void)corio::socket_address::from_unix_path(std::string(200, 'a')),
                 std::invalid_argument);
    sockaddr_storage big{};
    EXPECT_THROW(corio::socket_address(reinterpret_cast<sockaddr*>(&big), sizeof big + 1),
                 std::invalid_argument);
}

corio::task<> numeric_hosts_resolve() {
    auto v4 = co_await corio::getaddrinfo("127.0.0.1", 80);
    EXPECT_EQ(v4.size(), 1u);
    EXPECT_EQ(v4.at(0).address.to_string(), "127.0.0.1:80");
    EXPECT_EQ(v4.at(0).socktype, SOCK_STREAM);
    auto v6 = co_await corio::getaddrinfo("::1", 8080);
    EXPECT_EQ(v6.at(0).address.to_string(), "[::1]:8080");
}

TEST(Getaddrinfo, NumericHostsResolveWithoutAThread) {
    corio::run(numeric_hosts_resolve());
}

corio::task<> localhost_resolves() {
    auto list = co_await corio::getaddrinfo("localhost", 1234);
    EXPECT_FALSE(list.empty());
    for (const auto& a : list) {
        EXPECT_EQ(a.address.port(), 1234);
        EXPECT_TRUE(a.address.host() == "127.0.0.1" || a.address.host() == "::1")
            << a.address.to_string();
    }
    corio::address_hints hints;
    hints.family = AF_INET;
    auto only4 = co_await corio::getaddrinfo("localhost", 1, hints);
    EXPECT_FALSE(only4.empty());
    for (const auto& a : only4) {
        EXPECT_EQ(a.family, AF_INET);
    }
}

TEST(Getaddrinfo, NamesResolveThroughTheSystemResolver) {
    corio::run(localhost_resolves());
}

corio::task<> unknown_names_fail() {
    // .invalid never resolves (RFC 6761), with or without a network.
    auto error = co_await corio_test::error_of(corio::getaddrinfo("no-such-host.invalid", 80));
    EXPECT_TRUE(error);
    try {
        std::rethrow_exception(error);
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("getaddrinfo no-such-host.invalid:80"),
                  std::string::npos)
            << e.what();
    } catch (...) {
        ADD_FAILURE() << "not a std::system_error";
    }
}

TEST(Getaddrinfo, UnknownNameIsASystemErrorNamingIt) {
    corio::run(unknown_names_fail());
}

corio::task<> cancelled_resolution() {
    auto h = corio::spawn(corio::getaddrinfo("localhost", 80));
    h.cancel();
    auto error = co_await corio_test::error_of(h);
    EXPECT_TRUE(corio_test::holds<corio::cancelled_error>(error));
    // The loop goes on: a later resolution works.
    auto again = co_await corio::getaddrinfo("localhost", 80);
    EXPECT_FALSE(again.empty());
}

TEST(Getaddrinfo, Cancellable) {
    corio::run(cancelled_resolution());
}

} // namespace
