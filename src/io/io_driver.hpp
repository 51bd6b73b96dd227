#pragma once
// The I/O driver: all the loop knows of I/O. It owns the reactor (reactor.hpp), the table
// of the fds the loop watches and the buffer of readiness events; the loop calls poll()
// with the time until its next timer, and the driver wakes the coroutines waiting on fds
// and runs the fds' callbacks. The loop's I/O members (event_loop::watch_fd, add_reader,
// submit_io...) forward here.
//
// An fd is watched in one of two ways, never both:
// - corio's own I/O (watch): edge-triggered, registered with the reactor once, for both
//   directions, on its first wait, until forget() before it is closed; at most one waiter
//   per direction. A hang-up the reactor reports stays recorded (hung_up), because one edge
//   may carry both the last data and the hang-up.
// - asyncio's add_reader/add_writer callbacks: level-triggered, re-registered as the
//   interest changes, run through the loop (which reports what they throw).
// Besides those, the loop's own fds (its wake-up eventfd, the signalfd) are read-watched
// level-triggered, and their handler runs directly during poll.

#include "corio/detail/io_types.hpp"
#include "corio/detail/task_state.hpp"

#include "reactor.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace corio::detail {

/// What the driver knows of one fd.
struct fd_entry {
    std::function<void()> reader;
    std::function<void()> writer;
    waiter* read_waiter = nullptr;
    waiter* write_waiter = nullptr;
    bool registered = false;
    bool edge = false;
    /// The reactor reported a hang-up or error on this (edge-triggered) fd.
    bool hangup = false;
    /// One of the loop's own fds (io_driver::add_loop_fd): what runs when it is readable.
    void (*on_readable)(void*) = nullptr;
    void* context = nullptr;
};

class io_driver {
public:
    /// How an add_reader/add_writer callback is run: by the loop, which reports what it
    /// throws and, in debug mode, how long it took.
    using callback_runner = void (*)(void* owner, std::function<void()>& fn);

    io_driver(std::unique_ptr<reactor> chosen, callback_runner run_callback, void* owner) noexcept;
    io_driver(const io_driver&) = delete;
    io_driver& operator=(const io_driver&) = delete;
    ~io_driver();

    [[nodiscard]] corio::backend kind() const noexcept { return m_reactor->kind(); }
    /// The optional kernel features in use, for debug output ("" if none).
    [[nodiscard]] std::string features() const { return m_reactor->features(); }

    /// Watch the loop's own `fd` for reading (level-triggered): `on_readable(context)` runs
    /// during poll while it is readable.
    void add_loop_fd(int fd, void (*on_readable)(void*), void* context);
    /// Stop watching a loop fd.
    void remove_loop_fd(int fd) noexcept;

    /// Set the level-triggered reader or writer callback of `fd` (replacing one). \throws
    /// std::invalid_argument for a negative fd; invalid_state_error if corio I/O waits on `fd`.
    void set_callback(int fd, bool reading, std::function<void()> fn);
    /// Clear it; returns true if there was one.
    bool clear_callback(int fd, bool reading);

    /// Wake `w` when `fd` becomes readable (or writable), edge-triggered.
    /// \throws invalid_state_error if `fd` has callbacks, or another waiter waits on it in
    /// that direction.
    void watch(int fd, bool readable, waiter& w);
    void unwatch(int fd, bool readable, waiter& w) noexcept;
    [[nodiscard]] bool hung_up(int fd) const noexcept {
        return fd >= 0 && static_cast<std::size_t>(fd) < m_fds.size() && m_fds[fd] &&
               m_fds[fd]->hangup;
    }
    /// `fd` is about to be closed: the reactor lets go of it, its waiters are woken (not
    /// cancelled), its callbacks dropped.
    void forget(int fd) noexcept;

    [[nodiscard]] bool supports_recv() const noexcept { return m_reactor->supports_recv(); }
    void start_recv(int fd, recv_sink& sink) { m_reactor->start_recv(fd, sink); }
    void pause_recv(int fd) noexcept { m_reactor->pause_recv(fd); }
    void stop_recv(int fd) noexcept { m_reactor->stop_recv(fd); }

    [[nodiscard]] bool supports_ops() const noexcept { return m_reactor->supports_ops(); }
    /// \throws invalid_state_error if !supports_ops().
    void submit(io_op& op) {
        if (!m_reactor->supports_ops()) [[unlikely]] {
            refuse_ops();
        }
        m_reactor->submit(op);
    }
    void cancel(io_op& op) noexcept { m_reactor->cancel(op); }
    void abandon(io_op& op) noexcept { m_reactor->abandon(op); }
    [[nodiscard]] std::size_t ops_in_flight() const noexcept { return m_reactor->ops_in_flight(); }

    /// Wait up to `timeout_ns` (-1: no limit, 0: just look) for I/O, then wake the waiters
    /// and run the callbacks of what is ready (completion-based receives and operations
    /// deliver during the wait). Returns false if nothing at all happened.
    bool poll(std::int64_t timeout_ns);
    /// Hand the kernel the operations queued since the last poll, without waiting.
    void flush() { m_reactor->flush(); }
    /// The loop is closing: every operation still in flight completes with -ECANCELED now.
    void cancel_all() noexcept { m_reactor->cancel_all(); }

private:
    [[noreturn, gnu::cold]] void refuse_ops() const;
    fd_entry& slot(int fd);
    void update_interest(int fd, fd_entry& e);

    std::unique_ptr<reactor> m_reactor;
    std::vector<std::unique_ptr<fd_entry>> m_fds;
    /// Reused from poll to poll: waiting for I/O allocates nothing once warm.
    std::vector<reactor_event> m_events;
    callback_runner m_run_callback;
    void* m_owner;
};

} // namespace corio::detail
