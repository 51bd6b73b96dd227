#pragma once
/// \file
/// `corio::event` (asyncio.Event): a flag coroutines can wait for.

#include "corio/sync/wait_queue.hpp"

namespace corio {

/// A flag, initially clear. `co_await e.wait()` returns at once when it is set, else when
/// `set()` is called. Not thread-safe.
class event {
public:
    event() = default;
    event(const event&) = delete;
    event& operator=(const event&) = delete;

    /// Set the flag and wake every waiter.
    void set() noexcept {
        m_set = true;
        m_waiters.wake_all();
    }
    /// Clear the flag; later waiters wait again.
    void clear() noexcept { m_set = false; }
    [[nodiscard]] bool is_set() const noexcept { return m_set; }

    /// Wait until the flag is set. \throws cancelled_error if cancelled while waiting.
    [[nodiscard]] auto wait() noexcept { return wait_awaiter(*this); }

    class [[nodiscard]] wait_awaiter : detail::queued_awaiter_base {
    public:
        explicit wait_awaiter(event& e) noexcept : m_event(e) {}
        bool await_ready() const noexcept { return m_event.m_set; }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            return m_event.m_waiters.park(node, h);
        }
        void await_resume() const { node.w.check_cancelled(); }

    private:
        event& m_event;
    };

private:
    detail::wait_queue m_waiters{"an event"};
    bool m_set = false;
};

} // namespace corio
