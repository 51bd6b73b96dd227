// corio::datagram_socket over UDP (127.0.0.1, ::1) and Unix datagram sockets (in a temp
// dir): round trips, ordering, connected sockets, empty, large and truncated datagrams,
// concurrent receivers and senders, waiting for room to send, cancellation and close of
// pending operations (no fd left behind), ECONNREFUSED, and misuse errors.

#include "support/net.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/socket.h>

using namespace std::chrono_literals;
using corio::datagram;
using corio::datagram_socket;
using corio::socket_address;
using corio_net_test::error_of;
using corio_net_test::holds;
using corio_net_test::temp_dir;
using corio_test::until;

namespace {

/// Let the loop run a few iterations.
corio::task<> spin() {
    for (int i = 0; i < 5; ++i) {
        co_await corio::sleep(0s);
    }
}

bool has(const std::exception_ptr& e, std::string_view text) {
    return corio_net_test::describe(e).find(text) != std::string::npos;
}

/// The errno of the std::system_error in `e` (0 if it holds none).
int errno_of(const std::exception_ptr& e) {
    int code = 0;
    if (holds<std::system_error>(e)) {
        corio_net_test::with_system_error(
            e, [&](const std::system_error& x) { code = x.code().value(); });
    }
    return code;
}

enum class kind { ipv4, ipv6, unix_dgram };

const char* kind_name(kind k) {
    switch (k) {
    case kind::ipv4:
        return "ipv4";
    case kind::ipv6:
        return "ipv6";
    case kind::unix_dgram:
        return "unix";
    }
    return "?";
}

/// Two sockets of `k`, each bound (so each can answer the other).
struct socket_pair {
    datagram_socket a;
    datagram_socket b;
};

socket_pair make_pair(kind k, const temp_dir& dir) {
    socket_pair p;
    switch (k) {
    case kind::ipv4:
        p.a = datagram_socket::open(AF_INET);
        p.b = datagram_socket::open(AF_INET);
        p.a.bind("127.0.0.1", 0);
        p.b.bind("127.0.0.1", 0);
        break;
    case kind::ipv6:
        p.a = datagram_socket::open(AF_INET6);
        p.b = datagram_socket::open(AF_INET6);
        p.a.bind("::1", 0);
        p.b.bind("::1", 0);
        break;
    case kind::unix_dgram:
        p.a = datagram_socket::open(AF_UNIX);
        p.b = datagram_socket::open(AF_UNIX);
        p.a.bind(socket_address::from_unix_path(dir.file("a.sock")));
        p.b.bind(socket_address::from_unix_path(dir.file("b.sock")));
        break;
    }
    return p;
}

class udp : public corio_net_test::fd_leak_check {};

class udp_kinds : public corio_net_test::fd_leak_check, public ::testing::WithParamInterface<kind> {
protected:
    void SetUp() override {
        corio_net_test::fd_leak_check::SetUp();
        if (GetParam() == kind::ipv6 && !corio_net_test::ipv6_loopback_available()) {
            GTEST_SKIP() << "no IPv6 loopback";
        }
    }

    /// Run `body(pair)` on a fresh loop with a fresh pair of `GetParam()` sockets.
    template <class F>
    void run(F body) {
        const temp_dir dir;
        corio::run(with_pair(body, GetParam(), dir), corio_net_test::virtual_time());
    }

private:
    template <class F>
    static corio::task<> with_pair(F body, kind k, const temp_dir& dir) {
        socket_pair p = make_pair(k, dir);
        co_await body(p);
    }
};

INSTANTIATE_TEST_SUITE_P(all, udp_kinds,
                         ::testing::Values(kind::ipv4, kind::ipv6, kind::unix_dgram),
                         [](const auto& info) { return std::string(kind_name(info.param)); });

// --- round trips -------------------------------------------------------------------------

corio::task<> round_trip(socket_pair& p) {
    EXPECT_EQ(co_await p.a.send_to("hello", p.b.local_address()), 5U);
    datagram d = co_await p.b.recv_from();
    EXPECT_EQ(d.data, "hello");
    EXPECT_EQ(d.from, p.a.local_address());
    EXPECT_FALSE(d.truncated);
    // Answer the sender at the address it came from.
    const std::string reply = "world";
    co_await p.b.send_to(std::as_bytes(std::span(reply)), d.from);
    datagram back = co_await p.a.recv_from();
    EXPECT_EQ(back.data, "world");
    EXPECT_EQ(back.from, p.b.local_address());
}

TEST_P(udp_kinds, a_datagram_and_its_answer_go_round) {
    run(round_trip);
}

corio::task<> many_datagrams(socket_pair& p) {
    // In bursts that fit the receive queue: UDP drops what overflows it, and a Unix
    // datagram socket holds 10 datagrams (net.unix.max_dgram_qlen) from an unconnected
    // sender.
    constexpr int bursts = 40;
    constexpr int burst = 8;
    const socket_address to = p.b.local_address();
    std::vector<std::string> got;
    for (int i = 0; i < bursts; ++i) {
        for (int j = 0; j < burst; ++j) {
            co_await p.a.send_to("datagram " + std::to_string(i * burst + j), to);
        }
        for (int j = 0; j < burst; ++j) {
            got.push_back(co_await p.b.recv(100));
        }
    }
    EXPECT_EQ(got.size(), static_cast<std::size_t>(bursts * burst));
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i], "datagram " + std::to_string(i));
    }
}

TEST_P(udp_kinds, many_datagrams_arrive_whole_and_in_order) {
    run(many_datagrams);
}

corio::task<> connected(socket_pair& p) {
    p.a.connect(p.b.local_address());
    p.b.connect(p.a.local_address());
    EXPECT_EQ(p.a.peer_address(), p.b.local_address());
    EXPECT_EQ(co_await p.a.send("ping"), 4U);
    EXPECT_EQ(co_await p.b.recv(), "ping");
    co_await p.b.send(std::as_bytes(std::span("pong", 4)));
    std::array<char, 16> buffer{};
    const std::size_t n = co_await p.a.recv_into(buffer);
    EXPECT_EQ(std::string(buffer.data(), n), "pong");
    // Dissolve the association: send needs an address again (UDP says EDESTADDRREQ, Unix
    // sockets ENOTCONN).
    p.a.connect(socket_address());
    EXPECT_TRUE(p.a.peer_address().empty());
    const int err = errno_of(co_await error_of(p.a.send("x")));
    EXPECT_TRUE(err == EDESTADDRREQ || err == ENOTCONN) << err;
}

TEST_P(udp_kinds, connected_sockets_send_and_receive_without_addresses) {
    run(connected);
}

corio::task<> zero_length(socket_pair& p) {
    EXPECT_EQ(co_await p.a.send_to("", p.b.local_address()), 0U);
    datagram d = co_await p.b.recv_from();
    EXPECT_EQ(d.data, "");
    EXPECT_FALSE(d.truncated);
    EXPECT_EQ(d.from, p.a.local_address());
    co_await p.a.send_to(std::string_view(), p.b.local_address());
    std::array<char, 8> buffer{};
    EXPECT_EQ(co_await p.b.recv_into(buffer), 0U);
}

TEST_P(udp_kinds, an_empty_datagram_is_a_datagram) {
    run(zero_length);
}

corio::task<> large(socket_pair& p) {
    const std::string big = corio_net_test::pattern(60000);
    EXPECT_EQ(co_await p.a.send_to(big, p.b.local_address()), big.size());
    datagram d = co_await p.b.recv_from();
    EXPECT_EQ(d.data.size(), big.size());
    EXPECT_TRUE(d.data == big);
    EXPECT_FALSE(d.truncated);
}

TEST_P(udp_kinds, a_large_datagram_arrives_whole) {
    run(large);
}

corio::task<> truncated(socket_pair& p) {
    const std::string text = corio_net_test::pattern(1000);
    const socket_address to = p.b.local_address();
    co_await p.a.send_to(text, to);
    co_await p.a.send_to("next", to);
    datagram cut = co_await p.b.recv_from(100);
    EXPECT_EQ(cut.data, text.substr(0, 100));
    EXPECT_TRUE(cut.truncated);
    // The rest of the cut datagram is gone; the next one is whole.
    datagram next = co_await p.b.recv_from(100);
    EXPECT_EQ(next.data, "next");
    EXPECT_FALSE(next.truncated);

    co_await p.a.send_to(text, to);
    std::array<char, 10> small{};
    corio::datagram_info info = co_await p.b.recv_from_into(small);
    EXPECT_EQ(info.size, small.size());
    EXPECT_TRUE(info.truncated);
    EXPECT_EQ(info.from, p.a.local_address());
    EXPECT_EQ(std::string(small.data(), small.size()), text.substr(0, 10));

    co_await p.a.send_to(text, to);
    EXPECT_EQ(co_await p.b.recv(7), text.substr(0, 7));
    co_await p.a.send_to(text, to);
    EXPECT_EQ(co_await p.b.recv_into(small), small.size());
}

TEST_P(udp_kinds, a_datagram_longer_than_asked_for_is_cut_and_reported) {
    run(truncated);
}

// --- concurrency -------------------------------------------------------------------------

corio::task<std::string> receive_one(datagram_socket& s, bool* parked) {
    *parked = true;
    co_return co_await s.recv(100);
}

corio::task<> concurrent_receivers(socket_pair& p) {
    std::array<bool, 3> parked{};
    auto r0 = corio::spawn(receive_one(p.b, &parked[0]));
    co_await until(parked[0]);
    auto r1 = corio::spawn(receive_one(p.b, &parked[1]));
    co_await until(parked[1]);
    auto r2 = corio::spawn(receive_one(p.b, &parked[2]));
    co_await until(parked[2]);
    co_await spin();
    const socket_address to = p.b.local_address();
    co_await p.a.send_to("0", to);
    co_await p.a.send_to("1", to);
    co_await p.a.send_to("2", to);
    // Each datagram goes to one receiver, in the order they started waiting.
    EXPECT_EQ(co_await r0, "0");
    EXPECT_EQ(co_await r1, "1");
    EXPECT_EQ(co_await r2, "2");
}

TEST_P(udp_kinds, concurrent_receivers_get_one_datagram_each_in_turn) {
    run(concurrent_receivers);
}

// --- cancellation and closing ------------------------------------------------------------

corio::task<> cancelled_receive(socket_pair& p) {
    bool parked = false;
    auto r = corio::spawn(receive_one(p.b, &parked));
    co_await until(parked);
    co_await spin();
    EXPECT_FALSE(r.done());
    r.cancel();
    EXPECT_TRUE(holds<corio::cancelled_error>(co_await error_of(std::move(r))));
    // The cancelled receive took nothing: the next datagram goes to the next receive.
    co_await p.a.send_to("after", p.b.local_address());
    EXPECT_EQ(co_await p.b.recv(), "after");
    // And a receive can be cancelled by a timeout.
    const std::exception_ptr e = co_await error_of(corio::wait_for(p.b.recv(), 1ms));
    EXPECT_TRUE(holds<corio::timeout_error>(e)) << corio_net_test::describe(e);
}

TEST_P(udp_kinds, a_cancelled_receive_takes_nothing_and_leaks_nothing) {
    run(cancelled_receive);
}

corio::task<> close_wakes_receiver(socket_pair& p) {
    bool parked = false;
    auto r = corio::spawn(receive_one(p.b, &parked));
    auto r2 = corio::spawn(receive_one(p.b, &parked)); // waits for its turn
    co_await until(parked);
    co_await spin();
    p.b.close();
    EXPECT_FALSE(p.b.is_open());
    EXPECT_EQ(p.b.fd(), -1);
    for (auto* h : {&r, &r2}) {
        const std::exception_ptr e = co_await error_of(std::move(*h));
        EXPECT_EQ(errno_of(e), EBADF) << corio_net_test::describe(e);
        EXPECT_TRUE(has(e, "recv: socket closed")) << corio_net_test::describe(e);
    }
    // Later calls fail the same way; close is idempotent.
    EXPECT_EQ(errno_of(co_await error_of(p.b.recv_from())), EBADF);
    EXPECT_EQ(errno_of(co_await error_of(p.b.send_to("x", p.a.local_address()))), EBADF);
    EXPECT_TRUE(p.b.local_address().empty());
    p.b.close();
}

TEST_P(udp_kinds, close_wakes_pending_receives_with_ebadf) {
    run(close_wakes_receiver);
}

corio::task<> destroy_wakes_receiver(socket_pair& p) {
    bool parked = false;
    auto r = corio::spawn(receive_one(p.b, &parked));
    co_await until(parked);
    {
        datagram_socket gone = std::move(p.b); // destroyed at the end of this scope
    }
    EXPECT_EQ(errno_of(co_await error_of(std::move(r))), EBADF);
    EXPECT_THROW((void)p.b.recv(), corio::invalid_state_error); // moved from
}

TEST_P(udp_kinds, destroying_the_socket_wakes_pending_receives) {
    run(destroy_wakes_receiver);
}

corio::task<> park_receive(datagram_socket s, bool* parked) {
    *parked = true;
    co_await s.recv_from();
    ADD_FAILURE() << "received";
}

corio::task<> park_shared_receive(datagram_socket& s, bool* parked) {
    *parked = true;
    co_await s.recv_from();
    ADD_FAILURE() << "received";
}

TEST_F(udp, closing_the_loop_with_a_receive_parked_leaks_no_fd) {
    bool parked = false;
    // Outlives the loop; two receivers wait on it, the second for its turn (behind a lock).
    datagram_socket shared = datagram_socket::open(AF_INET);
    shared.bind("127.0.0.1", 0);
    corio::event_loop loop(corio_net_test::virtual_time());
    loop.run_until_complete([](bool* p, datagram_socket* sh) -> corio::task<> {
        datagram_socket s = datagram_socket::open(AF_INET);
        s.bind("127.0.0.1", 0);
        [[maybe_unused]] auto h = corio::spawn(park_receive(std::move(s), p));
        [[maybe_unused]] auto h2 = corio::spawn(park_shared_receive(*sh, p));
        [[maybe_unused]] auto h3 = corio::spawn(park_shared_receive(*sh, p));
        co_await corio::sleep(0s);
        co_await corio::sleep(0s);
    }(&parked, &shared));
    EXPECT_TRUE(parked);
    loop.close(); // destroys the parked frames, and the socket one of them owns
}

// --- sending waits for room --------------------------------------------------------------

/// Send one-byte datagrams from `sender` (one end of a Unix datagram socketpair) until the
/// kernel takes no more; returns how many are queued for the other end.
int fill(const datagram_socket& sender) {
    int n = 0;
    for (; n < 100000; ++n) {
        if (::send(sender.fd(), "q", 1, MSG_DONTWAIT) < 0) {
            EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << errno;
            break;
        }
    }
    return n;
}

std::pair<datagram_socket, datagram_socket> unix_socketpair() {
    int sv[2];
    corio_net_test::check_sys(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv),
                              "socketpair");
    return {datagram_socket::from_fd(sv[0]), datagram_socket::from_fd(sv[1])};
}

corio::task<std::size_t> send_one(datagram_socket& s, std::string text, bool* parked) {
    *parked = true;
    co_return co_await s.send(text);
}

corio::task<> send_waits_for_room() {
    auto [sender, receiver] = unix_socketpair();
    const int queued = fill(sender);
    EXPECT_GT(queued, 0);
    bool parked_a = false;
    bool parked_b = false;
    auto a = corio::spawn(send_one(sender, "A", &parked_a));
    co_await until(parked_a);
    auto b = corio::spawn(send_one(sender, "B", &parked_b));
    co_await until(parked_b);
    co_await spin();
    EXPECT_FALSE(a.done());
    EXPECT_FALSE(b.done());
    // Reading makes room: both senders go, in turn.
    std::vector<std::string> got;
    for (int i = 0; i < queued + 2; ++i) {
        got.push_back(co_await receiver.recv());
    }
    EXPECT_EQ(co_await a, 1U);
    EXPECT_EQ(co_await b, 1U);
    EXPECT_EQ(got[static_cast<std::size_t>(queued)], "A");
    EXPECT_EQ(got[static_cast<std::size_t>(queued) + 1], "B");
}

TEST_F(udp, a_send_waits_for_room_in_the_receivers_queue) {
    corio::run(send_waits_for_room(), corio_net_test::virtual_time());
}

corio::task<> cancelled_send() {
    auto [sender, receiver] = unix_socketpair();
    const int queued = fill(sender);
    bool parked = false;
    auto a = corio::spawn(send_one(sender, "never", &parked));
    co_await until(parked);
    co_await spin();
    a.cancel();
    EXPECT_TRUE(holds<corio::cancelled_error>(co_await error_of(std::move(a))));
    for (int i = 0; i < queued; ++i) {
        EXPECT_EQ(co_await receiver.recv(), "q");
    }
    // Nothing more was sent.
    const std::exception_ptr e = co_await error_of(corio::wait_for(receiver.recv(), 1ms));
    EXPECT_TRUE(holds<corio::timeout_error>(e)) << corio_net_test::describe(e);
    EXPECT_EQ(co_await sender.send("later"), 5U);
    EXPECT_EQ(co_await receiver.recv(), "later");
}

TEST_F(udp, a_cancelled_send_sends_nothing) {
    corio::run(cancelled_send(), corio_net_test::virtual_time());
}

corio::task<> receive_n(datagram_socket& s, int n, std::vector<std::string>* got) {
    for (int i = 0; i < n; ++i) {
        got->push_back(co_await s.recv());
    }
}

corio::task<> unconnected_unix_sender_waits_for_the_queue() {
    const temp_dir dir;
    datagram_socket receiver = datagram_socket::open(AF_UNIX);
    receiver.bind(socket_address::from_unix_path(dir.file("r.sock")));
    datagram_socket sender = datagram_socket::open(AF_UNIX);
    const socket_address to = receiver.local_address();
    // More than the receiver's queue holds, sent before anything is read: the sender waits
    // (its retries run on the virtual clock) until the receiver, started later, drains it.
    constexpr int n = 50;
    std::vector<std::string> got;
    bool sent_some = false;
    auto sending =
        corio::spawn([](datagram_socket& s, socket_address to, bool* some) -> corio::task<> {
            for (int i = 0; i < n; ++i) {
                co_await s.send_to(std::to_string(i), to);
                *some = true;
            }
        }(sender, to, &sent_some));
    co_await until(sent_some);
    co_await receive_n(receiver, n, &got);
    co_await sending;
    EXPECT_EQ(got.size(), static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i], std::to_string(i));
    }
}

TEST_F(udp, an_unconnected_unix_sender_waits_for_room_in_a_full_queue) {
    corio::run(unconnected_unix_sender_waits_for_the_queue(), corio_net_test::virtual_time());
}

// --- errors ------------------------------------------------------------------------------

corio::task<> connection_refused() {
    // A port nobody listens on: bound, then released.
    std::uint16_t port = 0;
    {
        datagram_socket probe = datagram_socket::open(AF_INET);
        probe.bind("127.0.0.1", 0);
        port = probe.local_address().port();
    }
    datagram_socket s = datagram_socket::open(AF_INET);
    s.connect("127.0.0.1", port);
    co_await s.send("anyone?");
    // The ICMP "port unreachable" comes back as the socket's error (a bound: the ctest
    // timeout aside, nothing else stops a wait that never ends).
    const std::exception_ptr e = co_await error_of(corio::wait_for(s.recv(), 30s));
    EXPECT_EQ(errno_of(e), ECONNREFUSED) << corio_net_test::describe(e);
    EXPECT_TRUE(has(e, "recv 127.0.0.1:" + std::to_string(port))) << corio_net_test::describe(e);
    // The error is reported once; the socket goes on working.
    EXPECT_EQ(co_await s.send("again"), 5U);
}

TEST_F(udp, a_connected_socket_reports_a_closed_port_as_econnrefused) {
    corio::run(connection_refused());
}

corio::task<> unbound_unix_sender() {
    const temp_dir dir;
    datagram_socket server = datagram_socket::open(AF_UNIX);
    server.bind(socket_address::from_unix_path(dir.file("server.sock")));
    datagram_socket client = datagram_socket::open(AF_UNIX);
    co_await client.send_to("hi", server.local_address());
    datagram d = co_await server.recv_from();
    EXPECT_EQ(d.data, "hi");
    EXPECT_TRUE(d.from.empty()) << d.from.to_string();
    EXPECT_THROW((void)server.send_to("x", d.from), std::invalid_argument);
}

TEST_F(udp, a_datagram_from_an_unbound_unix_socket_has_no_sender) {
    corio::run(unbound_unix_sender(), corio_net_test::virtual_time());
}

corio::task<> misuse() {
    datagram_socket s = datagram_socket::open(AF_INET);
    // Addresses of another family, or not numeric.
    EXPECT_THROW(s.bind("::1", 0), std::invalid_argument);
    EXPECT_THROW(s.bind("localhost", 0), std::invalid_argument);
    EXPECT_THROW(s.connect(socket_address::from_unix_path("/tmp/x.sock")), std::invalid_argument);
    EXPECT_THROW((void)s.send_to("x", socket_address()), std::invalid_argument);
    EXPECT_THROW((void)s.send_to("x", socket_address::from_ip("::1", 9)), std::invalid_argument);
    EXPECT_THROW((void)s.recv_from(0), std::invalid_argument);
    EXPECT_THROW((void)s.recv(0), std::invalid_argument);
    EXPECT_THROW((void)s.recv_into(std::span<char>()), std::invalid_argument);
    EXPECT_THROW((void)s.recv_from_into(std::span<char>()), std::invalid_argument);
    // send without a peer.
    const std::exception_ptr no_peer = co_await error_of(s.send("x"));
    EXPECT_EQ(errno_of(no_peer), EDESTADDRREQ) << corio_net_test::describe(no_peer);
    EXPECT_TRUE(has(no_peer, "send")) << corio_net_test::describe(no_peer);
    // Too big for a UDP datagram over IPv4.
    const std::exception_ptr too_big = co_await error_of(
        s.send_to(std::string(65508, 'x'), socket_address::from_ip("127.0.0.1", 9)));
    EXPECT_EQ(errno_of(too_big), EMSGSIZE) << corio_net_test::describe(too_big);
    EXPECT_TRUE(has(too_big, "send_to 127.0.0.1:9")) << corio_net_test::describe(too_big);

    // Binding an address in use names it.
    datagram_socket other = datagram_socket::open(AF_INET);
    other.bind("127.0.0.1", 0);
    const socket_address taken = other.local_address();
    try {
        datagram_socket::open(AF_INET).bind(taken);
        ADD_FAILURE() << "bind to an address in use succeeded";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EADDRINUSE);
        EXPECT_NE(std::string(e.what()).find("bind " + taken.to_string()), std::string::npos)
            << e.what();
    }

    // Families.
    EXPECT_THROW(datagram_socket(AF_PACKET), std::invalid_argument);
    EXPECT_EQ(s.family(), AF_INET);

    // A socket that holds nothing.
    datagram_socket empty;
    EXPECT_FALSE(empty.is_open());
    EXPECT_EQ(empty.fd(), -1);
    EXPECT_EQ(empty.family(), AF_UNSPEC);
    EXPECT_THROW(empty.bind("127.0.0.1", 0), corio::invalid_state_error);
    EXPECT_THROW((void)empty.recv_from(), corio::invalid_state_error);
    EXPECT_THROW((void)empty.send("x"), corio::invalid_state_error);
    EXPECT_THROW((void)empty.local_address(), corio::invalid_state_error);
    empty.close(); // harmless

    // from_fd refuses what is not a datagram socket, and leaves it open.
    const corio_net_test::raw_fd tcp(
        corio_net_test::check_sys(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    EXPECT_THROW((void)datagram_socket::from_fd(tcp.get()), std::invalid_argument);
    EXPECT_THROW((void)datagram_socket::from_fd(-1), std::invalid_argument);
}

TEST_F(udp, misuse_is_reported_clearly) {
    corio::run(misuse(), corio_net_test::virtual_time());
}

corio::task<> large_unix_datagram() {
    // Bigger than the per-thread scratch buffer recv_from uses for small maxima.
    auto [a, b] = unix_socketpair();
    constexpr int size = 100000;
    int sndbuf = 4 * size;
    ::setsockopt(a.fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    ::setsockopt(b.fd(), SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
    const std::string big = corio_net_test::pattern(size, 7);
    const std::exception_ptr e = co_await error_of(a.send(big));
    if (errno_of(e) == EMSGSIZE || errno_of(e) == ENOBUFS || errno_of(e) == ENOMEM) {
        co_return; // the system's limits are lower; the scratch path is tested elsewhere
    }
    EXPECT_FALSE(e) << corio_net_test::describe(e);
    const datagram d = co_await b.recv_from(300000);
    EXPECT_TRUE(d.data == big);
    EXPECT_FALSE(d.truncated);
}

TEST_F(udp, a_datagram_bigger_than_the_scratch_buffer_arrives_whole) {
    corio::run(large_unix_datagram(), corio_net_test::virtual_time());
}

} // namespace
