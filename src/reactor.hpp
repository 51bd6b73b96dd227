#pragma once
// The reactor interface: how the event loop waits for file descriptors. One implementation
// per kernel mechanism (reactor_epoll.cpp, reactor_uring.cpp), chosen when the loop is made.

#include "corio/event_loop.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace corio::detail {

struct reactor_event {
    int fd;
    bool readable;
    bool writable;
    /// The peer hung up or the fd failed (EPOLLHUP/RDHUP/ERR): a state that lasts, and
    /// that one edge may report together with the last data.
    bool hangup = false;
};

class reactor {
public:
    virtual ~reactor() = default;
    [[nodiscard]] virtual corio::backend kind() const noexcept = 0;
    /// The optional kernel features in use, for debug output ("" if none).
    [[nodiscard]] virtual std::string features() const { return {}; }
    /// Start watching `fd`. `edge`: report each change of readiness once (the fd stays
    /// registered for its life); otherwise report readiness for `readable`/`writable`
    /// as long as it lasts.
    virtual void add(int fd, bool readable, bool writable, bool edge) = 0;
    /// Change what a level-triggered fd is watched for.
    virtual void modify(int fd, bool readable, bool writable) = 0;
    /// Stop watching `fd` (it may already be closed).
    virtual void remove(int fd) noexcept = 0;
    /// Wait up to `timeout_ns` (-1: no limit, 0: just look) and append what is ready.
    /// Completion-based receives and operations deliver to their sinks and callbacks during
    /// the call; returns how many such deliveries there were.
    virtual std::size_t wait(std::int64_t timeout_ns, std::vector<reactor_event>& out) = 0;

    /// True if start_recv works (io_uring with multishot receive and provided buffers).
    [[nodiscard]] virtual bool supports_recv() const noexcept { return false; }
    /// Receive from stream socket `fd` continuously into `sink` until stop_recv, remove,
    /// or the end of the stream.
    virtual void start_recv(int /*fd*/, recv_sink& /*sink*/) {}
    /// Stop receiving for `fd`; what is already received still reaches the sink. A later
    /// start_recv resumes.
    virtual void pause_recv(int /*fd*/) noexcept {}
    /// Stop delivering to the sink of `fd` (at once: no call follows).
    virtual void stop_recv(int /*fd*/) noexcept {}

    /// True if submit works (event_loop::submit_io and the rest below).
    [[nodiscard]] virtual bool supports_ops() const noexcept { return false; }
    virtual void submit(io_op& /*op*/) {}
    [[nodiscard]] virtual std::size_t ops_in_flight() const noexcept { return 0; }
    virtual void cancel(io_op& /*op*/) noexcept {}
    virtual void abandon(io_op& /*op*/) noexcept {}
    /// `fd` is about to be closed: stop everything on it (its watch if `registered`, its
    /// receive, its operations, which complete with -ECANCELED) before this returns.
    virtual void forget(int fd, bool registered) noexcept {
        stop_recv(fd);
        if (registered) {
            remove(fd);
        }
    }
    /// Hand the kernel the operations queued since the last wait (without waiting).
    virtual void flush() {}
    /// The loop is closing: cancel every operation still in flight, and complete each with
    /// -ECANCELED now.
    virtual void cancel_all() noexcept {}
};

std::unique_ptr<reactor> make_epoll_reactor();
/// `thread_bound`: the loop is made, run and closed on one thread (corio::run), so the
/// ring may be tied to it (SINGLE_ISSUER, DEFER_TASKRUN, a registered ring fd); a loop
/// made on one thread may be run on another, and then it must not be.
/// \throws std::system_error if the kernel (or the build) refuses io_uring.
std::unique_ptr<reactor> make_uring_reactor(bool thread_bound);

} // namespace corio::detail
