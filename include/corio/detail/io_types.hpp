#pragma once
// The types the I/O driver and the awaitables above it share: which reactor a loop uses,
// where a completion-based receive delivers (recv_sink), and an operation the kernel runs
// (io_op). The loop (event_loop.hpp) and the reactors (src/io/) include this, and neither
// includes the other for it.

#include <cstddef>
#include <cstdint>

namespace corio {

/// Which I/O reactor a loop uses (docs/io_uring.md).
///
/// On io_uring, streams receive through a multishot receive into a ring of provided
/// buffers, and sends, connects and accepts are completion-based operations, all handed to
/// the kernel in one system call per loop iteration. Each optional kernel feature is
/// detected at start and used only where present; `CORIO_URING_DISABLE` (a comma-separated
/// list of `recv`, `ops`, `registered_ring`, `coop_taskrun`, `single_issuer`,
/// `defer_taskrun`) turns features off, and debug mode prints those in use. The features
/// that tie a ring to one thread (SINGLE_ISSUER, DEFER_TASKRUN, a registered ring fd) are
/// used only by the loop `corio::run` makes, which never leaves its thread; an `event_loop`
/// object may be made on one thread and run on another.
enum class backend {
    automatic, ///< io_uring where the kernel allows it, else epoll
    epoll,
    io_uring, ///< io_uring or an invalid_state_error saying why the kernel refused it
};

namespace detail {

/// Where a completion-based receive delivers (event_loop::start_recv).
struct recv_sink {
    /// `size` bytes arrived; they are valid only during the call.
    void (*on_data)(recv_sink& sink, const char* data, std::size_t size) = nullptr;
    /// The receive ended: 0 at end of stream, else the errno. No call follows.
    void (*on_end)(recv_sink& sink, int error) = nullptr;
    /// The fd is a stream socket (received with recv); else a pipe (read).
    bool socket = true;
};

/// An operation a completion-based reactor (io_uring) runs in the kernel
/// (event_loop::submit_io). The memory it names (`data`, `address`, `address_size`, and
/// the io_op itself) must stay valid until its last completion, or until abandon_io.
struct io_op {
    enum class kind : std::uint8_t {
        send,    ///< send(fd, data, size, MSG_NOSIGNAL)
        connect, ///< connect(fd, data, size): `data` is the peer's sockaddr
        accept,  ///< accept4(fd, address, address_size, SOCK_NONBLOCK | SOCK_CLOEXEC)
    };
    kind op = kind::send;
    int fd = -1;
    const void* data = nullptr;
    std::size_t size = 0;
    /// accept: where the peer's address goes (may be null).
    void* address = nullptr;
    /// accept: in, the room at `address`; out, the address's size.
    std::uint32_t* address_size = nullptr;
    /// Called by the loop as the kernel completes the operation: `result` is the system
    /// call's result, or -errno (-ECANCELED once cancelled). The op may be resubmitted or
    /// destroyed during the call.
    void (*on_complete)(io_op& op, int result) = nullptr;
    /// The object this op belongs to, for on_complete.
    void* context = nullptr;
    /// The reactor's handle on the operation while it is in the kernel (0: not in it).
    std::uint64_t token = 0;
    [[nodiscard]] bool in_flight() const noexcept { return token != 0; }
};

} // namespace detail
} // namespace corio
