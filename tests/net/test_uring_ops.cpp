// Completion-based operations of the io_uring reactor (event_loop::submit_io, io_await, a
// stream's background send): a cancelled operation is cancelled in the kernel, an
// operation whose owner goes away (its frame destroyed, the loop closed, the stream
// aborted) never completes into freed memory, and nothing it produced is lost or leaked.
// ASan runs these too: a completion written into freed memory would be reported.
//
// Each case skips where the loop runs no such operations (the epoll variant, and
// io_uring_poll, which turns them off).

#include "support/net.hpp"

#include <corio/corio.hpp>
#include <corio/detail/io.hpp>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

using namespace std::chrono_literals;
using namespace corio_net_test;

namespace {

class uring_ops : public fd_leak_check {
protected:
    void SetUp() override {
        fd_leak_check::SetUp();
        corio::event_loop probe;
        if (!probe.supports_io_ops()) {
            GTEST_SKIP() << "this loop runs no completion-based operations";
        }
    }
};

/// Runs `body` to completion on a fresh loop (virtual clock), then checks that no
/// operation is left in the kernel.
template <class F>
void run_checked(F body) {
    corio::event_loop loop(virtual_time());
    loop.run_until_complete(body(loop));
    EXPECT_EQ(loop.io_ops_in_flight(), 0U);
    loop.close();
}

corio::task<> a_pending_connect(corio::socket_address to, int* fd_out) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    corio::detail::unique_fd owned(fd);
    *fd_out = fd;
    corio::detail::io_op op;
    op.op = corio::detail::io_op::kind::connect;
    op.fd = fd;
    op.data = to.data();
    op.size = to.size();
    corio::detail::io_await connecting(corio::get_running_loop(), op);
    co_await connecting;
    ADD_FAILURE() << "the connect to a full backlog completed";
}

corio::task<> cancel_connect(corio::event_loop& loop, corio::socket_address to) {
    int fd = -1;
    auto pending = corio::spawn(a_pending_connect(to, &fd));
    co_await corio::sleep(10ms);
    EXPECT_EQ(loop.io_ops_in_flight(), 1U);
    pending.cancel();
    const std::exception_ptr e = co_await error_of(pending);
    EXPECT_TRUE(holds<corio::cancelled_error>(e)) << describe(e);
    EXPECT_EQ(loop.io_ops_in_flight(), 0U);
}

TEST_F(uring_ops, a_cancelled_connect_is_cancelled_in_the_kernel) {
    const silent_listener silent;
    run_checked([&](corio::event_loop& loop) { return cancel_connect(loop, silent.address); });
}

corio::task<> open_connection_times_out(corio::event_loop& loop, corio::socket_address to) {
    corio::connect_options options;
    options.timeout = 2s;
    const auto start = loop.time();
    std::vector<corio::socket_address> addresses{to};
    const std::exception_ptr e =
        co_await error_of(corio::open_connection(std::move(addresses), options));
    EXPECT_TRUE(holds<corio::timeout_error>(e)) << describe(e);
    EXPECT_EQ(loop.time() - start, 2s);
    co_await corio::sleep(1ms); // the cancelled attempt's last step
    EXPECT_EQ(loop.io_ops_in_flight(), 0U);
}

TEST_F(uring_ops, a_connect_timeout_cancels_the_connect) {
    const silent_listener silent;
    run_checked(
        [&](corio::event_loop& loop) { return open_connection_times_out(loop, silent.address); });
}

corio::task<> park_connect(corio::socket_address to, int* fd_out) {
    // The handle is dropped: the task stays parked in its connect.
    corio::spawn(a_pending_connect(to, fd_out));
    co_await corio::sleep(10ms);
}

TEST_F(uring_ops, a_connect_abandoned_at_loop_close_leaves_nothing_behind) {
    const silent_listener silent;
    int fd = -1;
    {
        corio::event_loop loop(virtual_time());
        loop.run_until_complete(park_connect(silent.address, &fd));
        EXPECT_EQ(loop.io_ops_in_flight(), 1U);
        loop.close(); // destroys the frame parked in the connect: abandon_io
        EXPECT_GE(fd, 0);
    }
    // The fd is closed (fd_leak_check) and nothing completes into the destroyed frame
    // (ASan).
}

/// A raw accept through io_await; *result gets what it returned.
corio::task<> raw_accept(int listener, int* result) {
    corio::detail::io_op op;
    op.op = corio::detail::io_op::kind::accept;
    op.fd = listener;
    corio::detail::io_await accepting(corio::get_running_loop(), op);
    *result = co_await accepting;
}

corio::task<> accept_then_cancel(corio::event_loop& loop, int listener,
                                 corio::socket_address address) {
    int accepted = -1;
    auto pending = corio::spawn(raw_accept(listener, &accepted));
    co_await corio::sleep(1ms);
    // The connection completes in the kernel and the cancellation is asked for before the
    // loop looks again: either the accept finished first (its connection is returned and
    // the cancellation comes at the task's next suspension point, here its end) or it was
    // cancelled and the connection waits in the backlog. It is never lost.
    raw_fd client = raw_connect(address);
    pending.cancel();
    co_await error_of(pending);
    if (accepted >= 0) {
        ::close(accepted);
    } else {
        raw_fd next(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
        EXPECT_GE(next.get(), 0) << "the connection was lost: " << std::strerror(errno);
    }
    EXPECT_EQ(loop.io_ops_in_flight(), 0U);
}

TEST_F(uring_ops, a_cancelled_accept_loses_no_connection) {
    raw_fd listener = raw_tcp_listener("127.0.0.1");
    const corio::socket_address address = corio::socket_address::local_of(listener.get());
    run_checked(
        [&](corio::event_loop& loop) { return accept_then_cancel(loop, listener.get(), address); });
}

corio::task<> park_accept(int listener, int* accepted) {
    corio::spawn(raw_accept(listener, accepted));
    co_await corio::sleep(1ms);
}

TEST_F(uring_ops, an_abandoned_accept_leaks_no_connection) {
    raw_fd listener = raw_tcp_listener("127.0.0.1");
    const corio::socket_address address = corio::socket_address::local_of(listener.get());
    int accepted = -1;
    raw_fd client;
    {
        corio::event_loop loop(virtual_time());
        loop.run_until_complete(park_accept(listener.get(), &accepted));
        // The connection completes in the kernel; the loop closes before looking again.
        client = raw_connect(address);
        loop.close();
    }
    EXPECT_EQ(accepted, -1);
    // Either the accept ran before its cancellation and the connection was closed with
    // the loop (the client reads end of stream), or it waits in the backlog still. The
    // fd count (fd_leak_check) proves no accepted fd was left open.
    char byte = 0;
    if (::recv(client.get(), &byte, 1, MSG_DONTWAIT) != 0) {
        raw_fd next(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        EXPECT_GE(next.get(), 0) << "the connection is neither closed nor in the backlog";
    }
}

/// A server that never reads, and a corio stream to it with `bytes` queued.
corio::task<corio::stream> stream_with_unsent_bytes(corio::socket_address to, std::size_t bytes) {
    std::vector<corio::socket_address> addresses{to};
    corio::stream s = co_await corio::open_connection(std::move(addresses));
    s.write(std::string(bytes, 'x'));
    co_await corio::sleep(10ms);
    co_return s;
}

corio::task<> abort_while_sending(corio::event_loop& loop, corio::socket_address to, int listener) {
    corio::stream s = co_await stream_with_unsent_bytes(to, 16 << 20);
    raw_fd peer(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    EXPECT_GE(s.write_buffer_size(), 1U); // more than the socket buffers hold
    EXPECT_EQ(loop.io_ops_in_flight(), 1U);
    s.abort();
    co_await s.wait_closed();
    co_await corio::sleep(1ms); // the cancelled send's completion
    EXPECT_EQ(loop.io_ops_in_flight(), 0U);
    // The peer sees the connection end once it reads past what arrived.
    std::vector<char> sink(1 << 20);
    ssize_t n = 0;
    std::size_t total = 0;
    while ((n = ::recv(peer.get(), sink.data(), sink.size(), 0)) > 0) {
        total += static_cast<std::size_t>(n);
    }
    EXPECT_LT(total, std::size_t{16} << 20);
}

TEST_F(uring_ops, aborting_a_stream_cancels_its_send) {
    raw_fd listener = raw_tcp_listener("127.0.0.1");
    const corio::socket_address address = corio::socket_address::local_of(listener.get());
    run_checked([&](corio::event_loop& loop) {
        return abort_while_sending(loop, address, listener.get());
    });
}

corio::task<> leave_a_send_in_flight(corio::socket_address to) {
    corio::stream s = co_await stream_with_unsent_bytes(to, 16 << 20);
    EXPECT_GE(s.write_buffer_size(), 1U);
    // Dropped: the stream closes after its buffer is sent, which never happens here.
}

TEST_F(uring_ops, a_send_in_flight_at_loop_close_is_released) {
    raw_fd listener = raw_tcp_listener("127.0.0.1");
    const corio::socket_address address = corio::socket_address::local_of(listener.get());
    {
        corio::event_loop loop(virtual_time());
        loop.run_until_complete(leave_a_send_in_flight(address));
        EXPECT_EQ(loop.io_ops_in_flight(), 1U);
        loop.close();
        EXPECT_EQ(loop.io_ops_in_flight(), 0U);
    }
    // The stream's state and its fd are released (LeakSanitizer, fd_leak_check).
    raw_fd peer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    EXPECT_GE(peer.get(), 0);
}

corio::task<> server_close(corio::event_loop& loop) {
    corio::server srv = co_await corio::start_server(
        [](corio::stream) -> corio::task<> { co_return; }, "127.0.0.1", 0);
    co_await corio::sleep(1ms);
    EXPECT_EQ(loop.io_ops_in_flight(), 1U); // its accept
    srv.close();
    co_await srv.wait_closed();
    co_await corio::sleep(1ms);
    EXPECT_EQ(loop.io_ops_in_flight(), 0U);
}

TEST_F(uring_ops, closing_a_server_cancels_its_accept) {
    run_checked([](corio::event_loop& loop) { return server_close(loop); });
}

} // namespace
