#pragma once
// The reactor interface: how the I/O driver (io_driver.hpp) waits for file descriptors and
// runs operations in the kernel. One implementation per kernel mechanism, chosen by
// make_reactor when the loop is made:
// - reactor_epoll.cpp: readiness only (epoll, edge-triggered for corio's own I/O);
// - reactor_uring*.cpp: io_uring, readiness through polls, plus completion-based receives
//   (recv_sink) and operations (io_op).
// A new reactor is one more implementation of this class, and one more case in
// make_reactor (reactor.cpp). Nothing here knows the event loop.

#include "corio/detail/io_types.hpp"

#include <cstdint>
#include <memory>
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

/// The reactor a loop gets, and why io_uring was refused if it fell back to epoll.
struct reactor_choice {
    std::unique_ptr<reactor> chosen;
    /// Why `backend::automatic` fell back to epoll ("io_uring_setup: Operation not
    /// permitted"); empty if it did not.
    std::string refusal;
};

/// The one place a reactor is chosen: `requested` (`CORIO_BACKEND=epoll|io_uring|automatic`
/// in the environment overrides `automatic`); `automatic` is io_uring where the kernel
/// allows it, else epoll. `thread_bound`: the loop is made, run and closed on one thread
/// (corio::run), so the ring may be tied to it (SINGLE_ISSUER, DEFER_TASKRUN, a registered
/// ring fd); a loop made on one thread may be run on another, and then it must not be.
/// \throws invalid_state_error if io_uring was requested and the kernel (or the build)
/// refuses it; std::invalid_argument for a bad CORIO_BACKEND or CORIO_URING_DISABLE.
reactor_choice make_reactor(corio::backend requested, bool thread_bound);

/// The optional io_uring features, each used only where the kernel has it; each can be
/// turned off with CORIO_URING_DISABLE (a comma-separated list of these names), to measure
/// what it brings or to run the fallback path.
struct uring_features {
    bool recv = true;            ///< multishot receive into a provided-buffer ring (6.0)
    bool ops = true;             ///< completion-based send/connect/accept (sync cancel: 6.0)
    bool registered_ring = true; ///< IORING_REGISTER_RING_FDS (5.18)
    bool coop_taskrun = true;    ///< IORING_SETUP_COOP_TASKRUN (5.19)
    bool single_issuer = true;   ///< IORING_SETUP_SINGLE_ISSUER (6.0)
    bool defer_taskrun = true;   ///< IORING_SETUP_DEFER_TASKRUN (6.1)

    /// All on, less those CORIO_URING_DISABLE names. \throws std::invalid_argument for
    /// a name it does not know.
    static uring_features from_environment();
};

std::unique_ptr<reactor> make_epoll_reactor();
/// `thread_bound` as for make_reactor.
/// \throws std::system_error if the kernel (or the build) refuses io_uring.
std::unique_ptr<reactor> make_uring_reactor(bool thread_bound, uring_features features);

} // namespace corio::detail
