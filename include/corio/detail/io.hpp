#pragma once
// Building blocks of corio's I/O: an owned file descriptor, a cancellable wait for an fd
// to become readable or writable, and errno errors that name what failed.
//
// The wait follows the loop's edge-triggered protocol (event_loop::watch_fd): try the
// system call first, and only after it returns EAGAIN wait, then try again. The fd is
// registered with the reactor once, on its first wait, and forgotten when it is closed.

#include "corio/detail/task_state.hpp"
#include "corio/event_loop.hpp"
#include "corio/sync/wait_queue.hpp"

#include <cerrno>
#include <coroutine>
#include <string>
#include <utility>

namespace corio::detail {

/// Throw `std::system_error(err, generic_category, what)`; its message reads
/// "what: strerror(err)", e.g. "connect 127.0.0.1:9: Connection refused".
[[noreturn]] void throw_errno(int err, const std::string& what);

/// An owned file descriptor, closed (and forgotten by the running loop) on destruction.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : m_fd(fd) {}
    unique_fd(unique_fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) {
            reset(std::exchange(other.m_fd, -1));
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    [[nodiscard]] int get() const noexcept { return m_fd; }
    [[nodiscard]] explicit operator bool() const noexcept { return m_fd >= 0; }
    /// Give up ownership without closing.
    int release() noexcept { return std::exchange(m_fd, -1); }
    /// Close the fd held (if any), after the running loop forgets it, and hold `fd`.
    void reset(int fd = -1) noexcept;

private:
    int m_fd = -1;
};

/// Close `fd` after `loop` (by default the running one, if any) forgets it, waking whoever
/// waits on it.
void close_fd(int fd, event_loop* loop = running_loop()) noexcept;

/// `co_await wait_fd(loop, fd, readable)`: suspend until `fd` is readable (or writable),
/// after a system call on it returned EAGAIN. Cancellable: a cancelled wait unregisters
/// itself and throws `cancelled_error`. Also resumes (without error) when the fd is
/// forgotten by the loop because it is being closed; the caller re-checks its state.
class wait_fd {
public:
    wait_fd(event_loop& loop, int fd, bool readable) noexcept
        : m_loop(&loop), m_fd(fd), m_readable(readable) {}
    wait_fd(const wait_fd&) = delete;
    wait_fd& operator=(const wait_fd&) = delete;
    /// A frame destroyed while parked here (loop close) leaves no dangling waiter behind.
    ~wait_fd() {
        if (m_suspended && loop_alive(m_loop)) {
            m_loop->unwatch_fd(m_fd, m_readable, m_waiter);
        }
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        m_waiter.handle = h;
        m_waiter.on_cancel = &on_cancel;
        m_waiter.context = this;
        m_waiter.describe = &describe;
        m_loop->watch_fd(m_fd, m_readable, m_waiter);
        if (!park(m_waiter)) {
            m_loop->unwatch_fd(m_fd, m_readable, m_waiter);
            return false;
        }
        m_suspended = true;
        return true;
    }
    void await_resume() {
        m_suspended = false;
        m_waiter.check_cancelled();
    }

private:
    static bool on_cancel(waiter& w) noexcept {
        auto* self = static_cast<wait_fd*>(w.context);
        self->m_loop->unwatch_fd(self->m_fd, self->m_readable, w);
        return true;
    }
    static void describe(const waiter& w, std::string& out) {
        const auto* self = static_cast<const wait_fd*>(w.context);
        out += "fd " + std::to_string(self->m_fd) + " to be " +
               (self->m_readable ? "readable" : "writable");
    }

    event_loop* m_loop;
    int m_fd;
    bool m_readable;
    /// Parked and not resumed yet.
    bool m_suspended = false;
    waiter m_waiter;
};

/// `co_await io_await(loop, op)`: run one completion-based operation (event_loop::submit_io)
/// and resume with its result (>= 0, or -errno). Cancellable: a cancelled operation is
/// cancelled in the kernel (IORING_OP_ASYNC_CANCEL) and the wait ends when the kernel is
/// done with it; if it finished first, its result is returned and the cancellation comes
/// at the next suspension point, so nothing it produced (an accepted connection) is lost.
/// A frame destroyed while parked here abandons the operation (event_loop::abandon_io).
class io_await {
public:
    io_await(event_loop& loop, const io_op& op) noexcept : m_loop(&loop), m_op(op) {
        m_op.on_complete = &on_complete;
        m_op.context = this;
        m_op.token = 0;
    }
    io_await(const io_await&) = delete;
    io_await& operator=(const io_await&) = delete;
    ~io_await() {
        if (m_op.in_flight() && loop_alive(m_loop)) {
            m_loop->abandon_io(m_op);
        }
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        m_waiter.handle = h;
        m_waiter.on_cancel = &on_cancel;
        m_waiter.context = this;
        m_waiter.describe = &describe;
        if (!park(m_waiter)) {
            return false;
        }
        try {
            m_loop->submit_io(m_op);
        } catch (...) {
            if (m_waiter.task != nullptr) {
                m_waiter.task->unpark(m_waiter);
            }
            throw;
        }
        return true;
    }
    int await_resume() {
        if (m_waiter.cancelled) {
            if (m_result == cancelled_result || m_result == -ECANCELED) {
                throw cancelled_error{};
            }
            // Finished before the cancellation reached it: keep what it did.
            m_waiter.cancelled = false;
            if (m_waiter.task != nullptr) {
                m_waiter.task->renew_requested_cancel();
            }
        }
        return m_result;
    }

private:
    static constexpr int cancelled_result = -(1 << 30);

    static void on_complete(io_op& op, int result) {
        auto* self = static_cast<io_await*>(op.context);
        self->m_result = result;
        // What the operation did (an accepted connection, bytes sent) is the task's.
        self->m_waiter.granted = true;
        wake(self->m_waiter);
    }
    static bool on_cancel(waiter& w) noexcept {
        auto* self = static_cast<io_await*>(w.context);
        self->m_loop->cancel_io(self->m_op);
        return false; // resumed by the completion
    }
    static void describe(const waiter& w, std::string& out) {
        const auto* self = static_cast<const io_await*>(w.context);
        const io_op::kind k = self->m_op.op;
        out += k == io_op::kind::connect  ? "a connect"
               : k == io_op::kind::accept ? "an accept"
                                          : "a send";
        out += " on fd " + std::to_string(self->m_op.fd) + " (io_uring)";
    }

    event_loop* m_loop;
    io_op m_op;
    int m_result = cancelled_result;
    waiter m_waiter;
};

/// `co_await queue_wait(q)`: park on a wait_queue until woken (granted or not; the caller
/// re-checks what it waits for). Cancellable.
class queue_wait {
public:
    explicit queue_wait(wait_queue& q) noexcept : m_queue(&q) {}
    queue_wait(const queue_wait&) = delete;
    queue_wait& operator=(const queue_wait&) = delete;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) noexcept { return m_queue->park(m_node, h); }
    void await_resume() const { m_node.w.check_cancelled(); }

private:
    wait_queue* m_queue;
    queued_waiter m_node;
};

} // namespace corio::detail
