// Servers (start_server, start_unix_server) and connections by name (open_connection,
// open_unix_connection): ports, addresses, serving and closing, handlers that fail or are
// cancelled, SO_REUSEPORT, the backlog, running out of fds, and the errors' messages.
// Connection racing over address lists (Happy Eyeballs) is in test_connect.cpp.

#include "support/net.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using namespace corio_net_test;
using corio_test::contains;
using corio_test::yield_times;

namespace {

class tcp_server : public fd_leak_check {};
class unix_server : public fd_leak_check {};
class connection : public fd_leak_check {};

/// Echo every line back until end of stream.
corio::task<> echo_lines(corio::stream s) {
    while (true) {
        std::string line = co_await s.read_line();
        if (line.empty()) {
            co_return;
        }
        s.write(line);
        co_await s.drain();
    }
}

/// Send `line` and return the answer line.
corio::task<std::string> ask(corio::stream& s, std::string line) {
    s.write(line);
    co_await s.drain();
    co_return co_await s.read_line();
}

/// The wait of `e` as a task (event::wait()'s awaiter cannot be moved into wait_for).
corio::task<> wait_event(corio::event& e) {
    co_await e.wait();
}

/// Wait for `srv` to close, failing the test (instead of hanging) if it takes over 10 s.
corio::task<> closed(corio::server& srv) {
    std::exception_ptr e = co_await error_of(corio::wait_for(srv.wait_closed(), 10s));
    EXPECT_FALSE(e) << "wait_closed: " << describe(e) << " (" << srv.active_connections()
                    << " handlers still counted)";
}

/// Wait until `ready()` holds, letting the loop run (I/O included); bounded.
template <class F>
corio::task<bool> eventually(F ready) {
    for (int i = 0; i < 100000; ++i) {
        if (ready()) {
            co_return true;
        }
        co_await corio::sleep(0s);
    }
    co_return ready();
}

// --- start_server ------------------------------------------------------------------------

corio::task<> port_zero() {
    corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
    EXPECT_NE(srv.port(), 0);
    EXPECT_TRUE(srv.is_serving());
    const std::vector<corio::socket_address> addrs = srv.addresses();
    if (addrs.size() != 1) {
        ADD_FAILURE() << "addresses(): " << addrs.size() << " addresses, expected 1";
        co_return;
    }
    EXPECT_EQ(addrs[0], corio::socket_address::from_ip("127.0.0.1", srv.port()));
    EXPECT_EQ(addrs[0].to_string(), "127.0.0.1:" + std::to_string(srv.port()));

    corio::stream c = co_await corio::open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(c.peer_address(), addrs[0]);
    EXPECT_EQ(co_await ask(c, "hello\n"), "hello\n");
    EXPECT_EQ(co_await ask(c, "again\n"), "again\n");
    c.close();
    co_await c.wait_closed();
    srv.close();
    EXPECT_FALSE(srv.is_serving());
    co_await closed(srv);
}

TEST_F(tcp_server, port_zero_picks_a_free_port_and_serves_it) {
    corio::run(port_zero());
}

corio::task<> serve_forever_then_close() {
    corio::server_options options;
    options.start_serving = false;
    corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0, options);
    EXPECT_FALSE(srv.is_serving());
    // Connecting works already: the connection waits in the backlog.
    corio::stream c = co_await corio::open_connection("127.0.0.1", srv.port());
    auto forever = corio::spawn(srv.serve_forever());
    EXPECT_EQ(co_await ask(c, "served\n"), "served\n");
    EXPECT_TRUE(srv.is_serving());
    EXPECT_FALSE(forever.done());
    srv.close();
    // serve_forever returns once the server is closed.
    std::exception_ptr e = co_await error_of(forever);
    EXPECT_FALSE(e) << "serve_forever after close(): " << describe(e);
    co_await closed(srv);
    std::exception_ptr refused = co_await error_of(corio::open_connection("127.0.0.1", srv.port()));
    with_system_error(refused, [](const std::system_error& err) {
        EXPECT_EQ(err.code().value(), ECONNREFUSED) << err.what();
    });
}

TEST_F(tcp_server, serve_forever_serves_until_close) {
    corio::run(serve_forever_then_close());
}

corio::task<> cancel_serve_forever() {
    corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
    const std::uint16_t port = srv.port();
    auto forever = corio::spawn(srv.serve_forever());
    co_await yield_times(3);
    forever.cancel();
    std::exception_ptr e = co_await error_of(forever);
    EXPECT_TRUE(holds<corio::cancelled_error>(e)) << describe(e);
    EXPECT_FALSE(srv.is_serving());
    co_await closed(srv);
    std::exception_ptr refused = co_await error_of(corio::open_connection("127.0.0.1", port));
    EXPECT_TRUE(refused) << "the server still accepts after serve_forever was cancelled";
}

TEST_F(tcp_server, cancelling_serve_forever_closes_the_server) {
    corio::run(cancel_serve_forever());
}

corio::task<> start_serving_later() {
    corio::server_options options;
    options.start_serving = false;
    corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0, options);
    corio::stream c = co_await corio::open_connection("127.0.0.1", srv.port());
    c.write("early\n");
    co_await c.drain();
    co_await yield_times(5);
    EXPECT_EQ(srv.active_connections(), 0U);
    srv.start_serving();
    srv.start_serving(); // idempotent
    EXPECT_TRUE(srv.is_serving());
    EXPECT_EQ(co_await c.read_line(), "early\n");
    srv.close();
    co_await closed(srv);
}

TEST_F(tcp_server, start_serving_false_waits_for_start_serving) {
    corio::run(start_serving_later());
}

/// What the handlers of one test share.
struct handler_log {
    int started = 0;
    int expected = 0;
    int cancelled = 0;
    int cleaned_up = 0;
    corio::event all_started;
};

corio::task<> slow_to_clean_up(corio::stream s, std::shared_ptr<handler_log> log) {
    if (++log->started == log->expected) {
        log->all_started.set();
    }
    bool cancelled = false;
    try {
        (void)co_await s.read_line(); // the client sends nothing
    } catch (const corio::cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        ++log->cancelled;
        co_await corio::sleep(10s); // cleanup takes a while; wait_closed must wait for it
        ++log->cleaned_up;
        throw corio::cancelled_error();
    }
}

corio::task<> close_cancels_handlers() {
    auto log = std::make_shared<handler_log>();
    log->expected = 2;
    corio::connection_handler handler = [log](corio::stream s) {
        return slow_to_clean_up(std::move(s), log);
    };
    corio::server srv = co_await corio::start_server(handler, "127.0.0.1", 0);
    corio::stream a = co_await corio::open_connection("127.0.0.1", srv.port());
    corio::stream b = co_await corio::open_connection("127.0.0.1", srv.port());
    co_await corio::wait_for(wait_event(log->all_started), 1h);
    EXPECT_EQ(srv.active_connections(), 2U);

    const auto start = corio::get_running_loop().time();
    srv.close();
    EXPECT_FALSE(srv.is_serving());
    co_await corio::wait_for(srv.wait_closed(), 1h);
    EXPECT_EQ(log->cancelled, 2);
    EXPECT_EQ(log->cleaned_up, 2) << "wait_closed returned before the handlers finished";
    EXPECT_GE(corio::get_running_loop().time() - start, 10s);
    EXPECT_EQ(srv.active_connections(), 0U);
    // The handlers' streams were closed: the clients see end of stream.
    EXPECT_EQ(co_await a.read(10), "");
    EXPECT_EQ(co_await b.read(10), "");
}

TEST_F(tcp_server, close_cancels_handlers_and_wait_closed_waits_for_them) {
    corio::run(close_cancels_handlers(), virtual_time());
}

corio::task<> close_before_handlers_start() {
    corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
    std::vector<raw_fd> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(raw_connect(srv.addresses().at(0)));
    }
    // Close as soon as the connections are accepted: their handlers have been spawned but
    // have not run yet.
    EXPECT_TRUE(co_await eventually([&] { return srv.active_connections() == 3; }));
    srv.close();
    co_await closed(srv);
    EXPECT_EQ(srv.active_connections(), 0U);
}

TEST_F(tcp_server, close_right_after_accepting_still_finishes) {
    corio::run(close_before_handlers_start());
}

// Dropping every handle of a serving server leaves it serving until the loop ends, as
// asyncio does (python3 3.11: the result of `await asyncio.start_server(...)` dropped, a
// client still gets its echo); the accept task owns the server from its creation.
corio::task<> dropped_server(std::uint16_t port) {
    (void)co_await corio::start_server(echo_lines, "127.0.0.1", port);
    corio::stream c = co_await corio::open_connection("127.0.0.1", port);
    EXPECT_EQ(co_await ask(c, "still served\n"), "still served\n");
    corio::stream d = co_await corio::open_connection("127.0.0.1", port);
    EXPECT_EQ(co_await ask(d, "again\n"), "again\n");
    c.close();
    co_await c.wait_closed();
    // `d` stays open: run() cancels its handler and the accept task, which close the
    // server's sockets (the fixture counts fds).
}

TEST_F(tcp_server, a_dropped_server_keeps_serving_until_the_loop_ends) {
    corio::run(dropped_server(unused_port()));
}

corio::task<> dropped_at_once() {
    // The accept task is cancelled by run() before its first step.
    (void)co_await corio::start_server(echo_lines, "127.0.0.1", 0);
}

TEST_F(tcp_server, a_server_dropped_as_the_loop_ends_closes_its_socket) {
    corio::run(dropped_at_once());
    // Closed without run()'s cancel-and-wait: the accept task's frame is destroyed unrun.
    corio_test::run_then_close(dropped_at_once());
}

corio::task<> dropped_before_serving(std::uint16_t port) {
    corio::server_options options;
    options.start_serving = false;
    (void)co_await corio::start_server(echo_lines, "127.0.0.1", port, options);
    // Nothing can ever start it: it is closed with its last handle.
    std::exception_ptr refused = co_await error_of(corio::open_connection("127.0.0.1", port));
    with_system_error(refused, [](const std::system_error& err) {
        EXPECT_EQ(err.code().value(), ECONNREFUSED) << err.what();
    });
}

TEST_F(tcp_server, a_dropped_server_that_was_not_serving_is_closed) {
    corio::run(dropped_before_serving(unused_port()));
}

struct peer_seen {
    corio::socket_address address;
    corio::event handled;
};

corio::task<> record_peer(corio::stream s, std::shared_ptr<peer_seen> seen) {
    seen->address = s.peer_address();
    seen->handled.set();
    co_return;
}

corio::task<> reset_before_handler() {
    auto seen = std::make_shared<peer_seen>();
    corio::server_options options;
    options.start_serving = false;
    // The handler is made before the co_await: g++ 12 destroys a temporary written inside a
    // co_await expression twice.
    corio::connection_handler handler = [seen](corio::stream s) {
        return record_peer(std::move(s), seen);
    };
    corio::server srv = co_await corio::start_server(handler, "127.0.0.1", 0, options);
    // The client connects and resets the connection while it waits in the backlog: the
    // handler gets a stream whose getpeername(2) fails (ENOTCONN).
    raw_fd client = raw_connect(srv.addresses().at(0));
    const corio::socket_address client_address = corio::socket_address::local_of(client.get());
    const linger reset{1, 0};
    check_sys(::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset), "SO_LINGER");
    client.reset();
    srv.start_serving();
    std::exception_ptr e = co_await error_of(corio::wait_for(wait_event(seen->handled), 10s));
    EXPECT_FALSE(e) << "the handler never ran: " << describe(e);
    EXPECT_EQ(seen->address, client_address)
        << "peer_address() gave '" << seen->address.to_string() << "'";
    srv.close();
    co_await closed(srv);
}

TEST_F(tcp_server, peer_address_of_a_connection_reset_before_its_handler_ran_is_known) {
    corio::run(reset_before_handler());
}

corio::task<> boom_or_echo(corio::stream s) {
    std::string line = co_await s.read_line();
    if (line == "boom\n") {
        throw std::runtime_error("handler boom");
    }
    s.write(line);
    co_await s.drain();
}

corio::task<> handler_exceptions() {
    auto reports = std::make_shared<std::vector<corio::exception_context>>();
    corio::get_running_loop().set_exception_handler(
        [reports](corio::event_loop&, const corio::exception_context& c) {
            reports->push_back(c);
        });
    corio::server srv = co_await corio::start_server(boom_or_echo, "127.0.0.1", 0);
    corio::stream bad = co_await corio::open_connection("127.0.0.1", srv.port());
    bad.write("boom\n");
    co_await bad.drain();
    EXPECT_EQ(co_await bad.read(10), ""); // the failed handler's stream was closed
    EXPECT_TRUE(co_await eventually([&] { return !reports->empty(); }));
    bool found = false;
    for (const corio::exception_context& c : *reports) {
        found = found || describe(c.exception) == "handler boom";
    }
    EXPECT_TRUE(found) << "the handler's exception was not reported (" << reports->size()
                       << " reports)";
    // The server goes on.
    EXPECT_TRUE(srv.is_serving());
    corio::stream good = co_await corio::open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(co_await ask(good, "fine\n"), "fine\n");
    srv.close();
    co_await closed(srv);
    corio::get_running_loop().set_exception_handler({});
}

TEST_F(tcp_server, a_handler_exception_goes_to_the_exception_handler_and_serving_goes_on) {
    corio::run(handler_exceptions());
}

corio::task<> copies_share_one_server() {
    corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
    corio::server copy = srv;
    EXPECT_EQ(copy.port(), srv.port());
    copy.close();
    EXPECT_FALSE(srv.is_serving());
    co_await closed(srv);
    corio::server moved = std::move(copy);
    EXPECT_FALSE(moved.is_serving());
    corio::server empty;
    EXPECT_THROW((void)empty.port(), corio::invalid_state_error);
}

TEST_F(tcp_server, copies_of_a_server_are_the_same_server) {
    corio::run(copies_share_one_server());
}

corio::task<> reuse_port() {
    corio::server_options options;
    options.reuse_port = true;
    corio::server one = co_await corio::start_server(echo_lines, "127.0.0.1", 0, options);
    corio::server two = co_await corio::start_server(echo_lines, "127.0.0.1", one.port(), options);
    EXPECT_EQ(two.port(), one.port());
    for (int i = 0; i < 8; ++i) {
        corio::stream c = co_await corio::open_connection("127.0.0.1", one.port());
        const std::string line = "via reuse_port " + std::to_string(i) + "\n";
        EXPECT_EQ(co_await ask(c, line), line);
    }
    // Without SO_REUSEPORT on both, the port is taken.
    std::exception_ptr e =
        co_await error_of(corio::start_server(echo_lines, "127.0.0.1", one.port()));
    with_system_error(e, [&](const std::system_error& err) {
        EXPECT_EQ(err.code().value(), EADDRINUSE);
        EXPECT_EQ(std::string(err.what()),
                  "bind 127.0.0.1:" + std::to_string(one.port()) + ": Address already in use");
    });
    one.close();
    two.close();
    co_await closed(one);
    co_await closed(two);
}

TEST_F(tcp_server, reuse_port_lets_two_servers_share_a_port) {
    corio::run(reuse_port());
}

corio::task<> backlog() {
    corio::server_options options;
    options.backlog = 5;
    options.start_serving = false;
    corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0, options);
    const int lfd = find_listening_fd(srv.addresses().at(0));
    if (lfd < 0) {
        ADD_FAILURE() << "no listening socket for " << srv.addresses().at(0).to_string();
        co_return;
    }
    EXPECT_EQ(tcp_accept_queue(lfd), (std::pair<unsigned, unsigned>{0U, 5U}));
    std::vector<raw_fd> waiting;
    for (int i = 0; i < 3; ++i) {
        waiting.push_back(raw_connect(srv.addresses().at(0)));
    }
    EXPECT_EQ(tcp_accept_queue(lfd).first, 3U);
    srv.start_serving();
    EXPECT_TRUE(co_await eventually([&] { return srv.active_connections() == 3; }));
    EXPECT_TRUE(co_await eventually([&] { return tcp_accept_queue(lfd).first == 0; }));
    waiting.clear();
    srv.close();
    co_await closed(srv);

    options.backlog = -1;
    std::exception_ptr e =
        co_await error_of(corio::start_server(echo_lines, "127.0.0.1", 0, options));
    EXPECT_TRUE(holds<std::invalid_argument>(e)) << describe(e);
    EXPECT_NE(describe(e).find("backlog -1"), std::string::npos) << describe(e);
}

TEST_F(tcp_server, backlog_is_the_listen_backlog) {
    corio::run(backlog());
}

/// net.core.somaxconn as the kernel has it.
int somaxconn() {
    std::FILE* f = std::fopen("/proc/sys/net/core/somaxconn", "r");
    if (f == nullptr) {
        return -1;
    }
    int value = -1;
    if (std::fscanf(f, "%d", &value) != 1) {
        value = -1;
    }
    std::fclose(f);
    return value;
}

corio::task<> default_backlog(unsigned expected) {
    corio::server dflt = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
    const int dfd = find_listening_fd(dflt.addresses().at(0));
    EXPECT_GE(dfd, 0);
    if (dfd >= 0) {
        // TCP_INFO of a listener reports the backlog the kernel applies.
        EXPECT_EQ(tcp_accept_queue(dfd).second, expected);
    }
    dflt.close();
    co_await closed(dflt);
}

TEST_F(tcp_server, the_default_backlog_is_the_kernels_somaxconn_not_100) {
    const int expected = somaxconn();
    if (expected <= 0) {
        GTEST_SKIP() << "/proc/sys/net/core/somaxconn cannot be read here";
    }
    corio::run(default_backlog(static_cast<unsigned>(expected)));
}

corio::task<> ipv6_server() {
    corio::server srv = co_await corio::start_server(echo_lines, "::1", 0);
    EXPECT_EQ(srv.addresses().size(), 1U);
    EXPECT_EQ(srv.addresses().at(0).to_string(), "[::1]:" + std::to_string(srv.port()));
    corio::stream c = co_await corio::open_connection("::1", srv.port());
    EXPECT_EQ(c.peer_address().family(), AF_INET6);
    EXPECT_EQ(c.peer_address().host(), "::1");
    EXPECT_EQ(co_await ask(c, "six\n"), "six\n");
    srv.close();
    co_await closed(srv);
}

TEST_F(tcp_server, an_ipv6_server_on_loopback) {
    if (!ipv6_loopback_available()) {
        GTEST_SKIP() << "no ::1 on this machine";
    }
    corio::run(ipv6_server());
}

corio::task<> peer_in_handler(std::shared_ptr<corio::socket_address> seen, corio::stream s) {
    *seen = s.peer_address();
    co_await echo_lines(std::move(s));
}

corio::task<> handler_sees_the_client() {
    auto seen = std::make_shared<corio::socket_address>();
    corio::connection_handler handler = [seen](corio::stream s) {
        return peer_in_handler(seen, std::move(s));
    };
    corio::server_options options;
    options.limit = 8;
    corio::server srv = co_await corio::start_server(handler, "127.0.0.1", 0, options);
    corio::stream c = co_await corio::open_connection("127.0.0.1", srv.port());
    EXPECT_EQ(co_await ask(c, "short\n"), "short\n");
    EXPECT_EQ(*seen, c.local_address());
    // The server's streams have the limit asked for: a longer line fails the handler.
    c.write("a line longer than eight bytes\n");
    co_await c.drain();
    EXPECT_EQ(co_await c.read(100), "");
    srv.close();
    co_await closed(srv);
}

TEST_F(tcp_server, the_handler_gets_the_clients_stream_with_the_servers_options) {
    auto loop_errors = std::make_shared<int>(0);
    corio::run([](std::shared_ptr<int> errors) -> corio::task<> {
        corio::get_running_loop().set_exception_handler(
            [errors](corio::event_loop&, const corio::exception_context&) { ++*errors; });
        co_await handler_sees_the_client();
    }(loop_errors));
    EXPECT_EQ(*loop_errors, 1) << "the limit_overrun_error of the long line was not reported";
}

// --- running out of fds ------------------------------------------------------------------

struct emfile_log {
    int accepted = 0;
    int target = 0;
    corio::event reached;
    corio::event release;
    std::vector<corio::exception_context> reports;
};

corio::task<> hold_then_echo(corio::stream s, std::shared_ptr<emfile_log> log) {
    if (++log->accepted == log->target) {
        log->reached.set();
    }
    co_await log->release.wait();
    std::string line = co_await s.read_line();
    s.write(line);
    co_await s.drain();
}

corio::task<std::string> client_round(corio::stream& s, int i) {
    co_return co_await s.read_line() == "client " + std::to_string(i) + "\n" ? "ok" : "mismatch";
}

corio::task<> emfile_on_accept() {
    auto log = std::make_shared<emfile_log>();
    corio::get_running_loop().set_exception_handler(
        [log](corio::event_loop&, const corio::exception_context& c) {
            log->reports.push_back(c);
        });
    corio::connection_handler handler = [log](corio::stream s) {
        return hold_then_echo(std::move(s), log);
    };
    corio::server_options options;
    options.accept_retry_delay = 1s;
    options.backlog = 64;
    corio::server srv = co_await corio::start_server(handler, "127.0.0.1", 0, options);

    const int clients = 8;
    std::vector<corio::stream> streams;
    for (int i = 0; i < clients; ++i) {
        raw_fd fd = raw_connect(srv.addresses().at(0));
        streams.push_back(corio::stream::from_socket(fd.release()));
        streams.back().write("client " + std::to_string(i) + "\n");
    }
    // Room for 3 more fds once the limit drops.
    const int room = 3;
    const int limit = nofile_limit_leaving(room);
    {
        nofile_limit low(static_cast<rlim_t>(limit));
        log->target = room;
        co_await corio::wait_for(wait_event(log->reached), 1min);
        // Several retries later the server has taken no more, and the loop runs on.
        co_await corio::sleep(5s);
        EXPECT_EQ(log->accepted, room);
        EXPECT_TRUE(srv.is_serving());
    }
    bool emfile_reported = false;
    for (const corio::exception_context& c : log->reports) {
        with_system_error(c.exception, [&](const std::system_error& err) {
            emfile_reported = emfile_reported || err.code().value() == EMFILE;
        });
    }
    EXPECT_TRUE(emfile_reported) << "accept's EMFILE was not reported to the exception handler";

    // With fds to spare again the server resumes, after its retry delay at most.
    log->target = clients;
    log->release.set();
    const auto start = corio::get_running_loop().time();
    co_await corio::wait_for(wait_event(log->reached), 1min);
    EXPECT_LE(corio::get_running_loop().time() - start, 1s);
    for (int i = 0; i < clients; ++i) {
        EXPECT_EQ(co_await client_round(streams[static_cast<std::size_t>(i)], i), "ok")
            << "client " << i;
    }
    srv.close();
    co_await closed(srv);
    corio::get_running_loop().set_exception_handler({});
}

TEST_F(tcp_server, out_of_fds_the_server_pauses_accepting_and_resumes) {
    corio::run(emfile_on_accept(), virtual_time());
}

// --- Unix servers ------------------------------------------------------------------------

corio::task<> unix_basics(std::string path) {
    corio::server srv = co_await corio::start_unix_server(echo_lines, path);
    EXPECT_EQ(srv.port(), 0);
    EXPECT_EQ(srv.addresses().size(), 1U);
    EXPECT_EQ(srv.addresses().at(0).to_string(), path);
    EXPECT_TRUE(is_socket_file(path));
    corio::stream c = co_await corio::open_unix_connection(path);
    EXPECT_EQ(c.peer_address().family(), AF_UNIX);
    EXPECT_EQ(co_await ask(c, "local\n"), "local\n");
    srv.close();
    EXPECT_FALSE(path_exists(path)) << "close() left " << path;
    co_await closed(srv);
}

TEST_F(unix_server, serves_on_a_path_and_unlinks_it_on_close) {
    temp_dir dir;
    corio::run(unix_basics(dir.file("echo.sock")));
}

TEST_F(unix_server, a_stale_socket_file_is_replaced) {
    temp_dir dir;
    const std::string path = dir.file("stale.sock");
    raw_unix_listener(path).reset(); // closed: the file stays behind
    ASSERT_TRUE(is_socket_file(path));
    corio::run(unix_basics(path));
}

corio::task<> dropped_unix_server(std::string path) {
    (void)co_await corio::start_unix_server(echo_lines, path);
    corio::stream c = co_await corio::open_unix_connection(path);
    EXPECT_EQ(co_await ask(c, "still served\n"), "still served\n");
}

TEST_F(unix_server, a_dropped_server_keeps_serving_until_the_loop_ends) {
    temp_dir dir;
    corio::run(dropped_unix_server(dir.file("dropped.sock")));
}

corio::task<> not_a_socket(std::string path) {
    std::exception_ptr e = co_await error_of(corio::start_unix_server(echo_lines, path));
    with_system_error(e, [&](const std::system_error& err) {
        EXPECT_EQ(err.code().value(), EADDRINUSE) << err.what();
        EXPECT_NE(std::string(err.what()).find(path), std::string::npos) << err.what();
    });
}

TEST_F(unix_server, a_regular_file_in_the_way_is_left_alone) {
    temp_dir dir;
    const std::string path = dir.file("data.txt");
    {
        raw_fd f(check_sys(::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600), "open"));
        check_sys(static_cast<int>(::write(f.get(), "keep", 4)), "write");
    }
    corio::run(not_a_socket(path));
    EXPECT_TRUE(path_exists(path));
    EXPECT_FALSE(is_socket_file(path));
}

corio::task<> abstract_socket(std::string name) {
    corio::server srv = co_await corio::start_unix_server(echo_lines, name);
    corio::stream c = co_await corio::open_unix_connection(name);
    EXPECT_EQ(co_await ask(c, "abstract\n"), "abstract\n");
    srv.close();
    co_await closed(srv);
    std::exception_ptr e = co_await error_of(corio::open_unix_connection(name));
    with_system_error(e, [](const std::system_error& err) {
        EXPECT_EQ(err.code().value(), ECONNREFUSED) << err.what();
    });
}

TEST_F(unix_server, an_abstract_socket_name_starts_with_at) {
    corio::run(abstract_socket("@corio-test-" + std::to_string(::getpid())));
}

corio::task<> unix_missing(std::string path) {
    std::exception_ptr e = co_await error_of(corio::open_unix_connection(path));
    with_system_error(e, [&](const std::system_error& err) {
        EXPECT_EQ(err.code().value(), ENOENT);
        // "connect <path>: ..." (corio writes "unix:<path>" for Unix peers).
        const std::string what = err.what();
        EXPECT_EQ(what.rfind("connect ", 0), 0U) << what;
        EXPECT_NE(what.find(path + ": No such file or directory"), std::string::npos) << what;
    });
}

TEST_F(unix_server, connecting_to_a_missing_path_names_it) {
    temp_dir dir;
    corio::run(unix_missing(dir.file("nobody.sock")));
}

corio::task<> unix_full_backlog(std::string path) {
    corio::connect_options options;
    options.timeout = 5s;
    const auto start = corio::get_running_loop().time();
    std::exception_ptr e = co_await error_of(corio::open_unix_connection(path, options));
    // A Unix listener with a full backlog refuses a non-blocking connect with EAGAIN:
    // either corio reports that at once (naming the path) or it waits out the timeout.
    if (holds<corio::timeout_error>(e)) {
        EXPECT_EQ(corio::get_running_loop().time() - start, 5s);
    } else {
        with_system_error(e, [&](const std::system_error& err) {
            EXPECT_EQ(err.code().value(), EAGAIN) << err.what();
            EXPECT_NE(std::string(err.what()).find(path), std::string::npos) << err.what();
        });
    }
}

TEST_F(unix_server, connecting_to_a_full_backlog_ends_within_the_timeout) {
    temp_dir dir;
    const std::string path = dir.file("full.sock");
    raw_fd listener = raw_unix_listener(path, 0);
    raw_fd filler = raw_connect(corio::socket_address::from_unix_path(path));
    corio::run(unix_full_backlog(path), virtual_time());
}

// --- open_connection by name -------------------------------------------------------------

corio::task<> by_localhost() {
    corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
    corio::stream c = co_await corio::open_connection("localhost", srv.port());
    EXPECT_EQ(c.peer_address().host(), "127.0.0.1");
    EXPECT_EQ(co_await ask(c, "by name\n"), "by name\n");
    srv.close();
    co_await closed(srv);
}

TEST_F(connection, localhost_reaches_a_server_on_127_0_0_1) {
    corio::run(by_localhost());
}

/// The families "localhost" resolves to, in getaddrinfo's order.
std::vector<int> localhost_families() {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* res = nullptr;
    std::vector<int> out;
    if (::getaddrinfo("localhost", "80", &hints, &res) == 0) {
        for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
            out.push_back(a->ai_family);
        }
        ::freeaddrinfo(res);
    }
    return out;
}

corio::task<> happy_eyeballs_by_name(std::uint16_t port, corio::socket_address v4) {
    // [::1]:port never answers (a full backlog); 127.0.0.1:port does.
    const auto start = corio::get_running_loop().time();
    corio::stream c = co_await corio::open_connection("localhost", port);
    EXPECT_EQ(c.peer_address(), v4);
    EXPECT_EQ(corio::get_running_loop().time() - start, 250ms);
}

TEST_F(connection, localhost_falls_back_to_ipv4_when_ipv6_does_not_answer) {
    const std::vector<int> families = localhost_families();
    if (families.empty() || families.front() != AF_INET6 || !ipv6_loopback_available()) {
        GTEST_SKIP() << "localhost does not resolve to ::1 first here (/etc/hosts)";
    }
    // The same port on both: a silent listener on ::1, a real one on 127.0.0.1.
    for (int attempt = 0; attempt < 20; ++attempt) {
        raw_fd v4 = raw_tcp_listener("127.0.0.1");
        const corio::socket_address a4 = corio::socket_address::local_of(v4.get());
        const corio::socket_address a6 = corio::socket_address::from_ip("::1", a4.port());
        raw_fd v6(check_sys(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
        if (::bind(v6.get(), a6.data(), a6.size()) != 0) {
            continue; // port taken on ::1; try another
        }
        check_sys(::listen(v6.get(), 0), "listen");
        raw_fd filler = raw_connect(a6);
        corio::run(happy_eyeballs_by_name(a4.port(), a4), virtual_time());
        return;
    }
    FAIL() << "no port free on both 127.0.0.1 and ::1";
}

corio::task<> refused(std::string host, std::string shown) {
    const std::uint16_t port = unused_port(host);
    std::exception_ptr e = co_await error_of(corio::open_connection(host, port));
    with_system_error(e, [&](const std::system_error& err) {
        EXPECT_EQ(err.code().value(), ECONNREFUSED);
        EXPECT_EQ(std::string(err.what()),
                  "connect " + shown + ":" + std::to_string(port) + ": Connection refused");
    });
}

TEST_F(connection, a_refusal_names_the_address) {
    corio::run(refused("127.0.0.1", "127.0.0.1"));
}

TEST_F(connection, a_refusal_names_the_ipv6_address_in_brackets) {
    if (!ipv6_loopback_available()) {
        GTEST_SKIP() << "no ::1 on this machine";
    }
    corio::run(refused("::1", "[::1]"));
}

corio::task<> connect_timeout(std::uint16_t port) {
    corio::connect_options options;
    options.timeout = 5s;
    const auto start = corio::get_running_loop().time();
    std::exception_ptr e = co_await error_of(corio::open_connection("127.0.0.1", port, options));
    EXPECT_TRUE(holds<corio::timeout_error>(e)) << describe(e);
    EXPECT_EQ(corio::get_running_loop().time() - start, 5s);
    // The error names what could not be reached.
    EXPECT_TRUE(contains(describe(e),
                         "connect 127.0.0.1:" + std::to_string(port) + ": timed out after 5.000 s"))
        << describe(e);
    std::vector<corio::socket_address> addresses;
    addresses.push_back(corio::socket_address::from_ip("127.0.0.1", port));
    e = co_await error_of(corio::open_connection(std::move(addresses), options));
    EXPECT_TRUE(contains(describe(e),
                         "connect 127.0.0.1:" + std::to_string(port) + ": timed out after 5.000 s"))
        << describe(e);

    // Cancelled while connecting: the attempt's socket is closed (the fixture counts fds).
    auto pending = corio::spawn(corio::open_connection("127.0.0.1", port));
    co_await corio::sleep(1s);
    EXPECT_FALSE(pending.done());
    pending.cancel();
    e = co_await error_of(pending);
    EXPECT_TRUE(holds<corio::cancelled_error>(e)) << describe(e);
}

TEST_F(connection, a_connect_that_gets_no_answer_times_out_naming_the_address) {
    // Backlog 0 and one connection parked in it: the kernel drops further SYNs, so a
    // connect stays pending (deterministically, with no outside address involved).
    raw_fd listener = raw_tcp_listener("127.0.0.1", 0);
    const corio::socket_address where = corio::socket_address::local_of(listener.get());
    raw_fd filler = raw_connect(where);
    ASSERT_EQ(tcp_accept_queue(listener.get()), (std::pair<unsigned, unsigned>{1U, 0U}));
    corio::run(connect_timeout(where.port()), virtual_time());
}

corio::task<> local_address_option(std::uint16_t port) {
    corio::connect_options options;
    options.local_address = corio::socket_address::from_ip("127.0.0.1", 0);
    options.nodelay = false;
    corio::stream c = co_await corio::open_connection("127.0.0.1", port, options);
    EXPECT_EQ(c.local_address().host(), "127.0.0.1");
    EXPECT_NE(c.local_address().port(), 0);
    int on = 1;
    socklen_t len = sizeof on;
    check_sys(::getsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &on, &len), "TCP_NODELAY");
    EXPECT_EQ(on, 0);

    corio::stream d = co_await corio::open_connection("127.0.0.1", port);
    check_sys(::getsockopt(d.fd(), IPPROTO_TCP, TCP_NODELAY, &on, &len), "TCP_NODELAY");
    EXPECT_NE(on, 0) << "TCP_NODELAY is on by default";
}

TEST_F(connection, connect_options_bind_and_nodelay) {
    raw_fd listener = raw_tcp_listener("127.0.0.1");
    corio::run(local_address_option(corio::socket_address::local_of(listener.get()).port()));
}

} // namespace
