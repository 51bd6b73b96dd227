#pragma once
/// \file
/// `corio::sleep` and `corio::sleep_until` (asyncio.sleep).

#include "corio/detail/task_state.hpp"
#include "corio/event_loop.hpp"

#include <chrono>

namespace corio {

/// The awaitable of `sleep`/`sleep_until`. Cancellable: a cancelled sleep removes its timer.
class [[nodiscard]] sleep_awaiter {
public:
    explicit sleep_awaiter(clock::time_point deadline, bool yield_only = false) noexcept
        : m_deadline(deadline), m_yield_only(yield_only) {
        m_waiter.on_cancel = &on_cancel;
        m_waiter.context = this;
        m_waiter.describe = &describe;
    }
    /// Moving is for passing the awaitable around before it is awaited (spawn(sleep(1s))).
    sleep_awaiter(sleep_awaiter&& other) noexcept
        : sleep_awaiter(other.m_deadline, other.m_yield_only) {}
    sleep_awaiter(const sleep_awaiter&) = delete;
    sleep_awaiter& operator=(const sleep_awaiter&) = delete;
    ~sleep_awaiter() {
        if (m_loop != nullptr) {
            m_loop->cancel_timer(m_timer);
        }
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        event_loop& loop = get_running_loop();
        m_waiter.handle = h;
        if (!detail::park(m_waiter)) {
            return false;
        }
        if (m_yield_only) {
            // sleep(0): to the back of the ready queue, letting everything ready run first.
            detail::wake(m_waiter);
            return true;
        }
        m_loop = &loop;
        m_timer = loop.add_timer(m_deadline, &fire, this);
        return true;
    }
    void await_resume() const { m_waiter.check_cancelled(); }

private:
    static void fire(void* self) noexcept {
        auto* s = static_cast<sleep_awaiter*>(self);
        s->m_loop = nullptr;
        detail::wake(s->m_waiter);
    }
    static void describe(const detail::waiter& w, std::string& out) {
        const auto* s = static_cast<const sleep_awaiter*>(w.context);
        if (s->m_loop == nullptr) {
            out += "its turn (sleep(0))";
            return;
        }
        out += "a timer due in " + detail::format_seconds(s->m_deadline - s->m_loop->time());
    }
    static bool on_cancel(detail::waiter& w) noexcept {
        auto* s = static_cast<sleep_awaiter*>(w.context);
        if (s->m_loop != nullptr) {
            s->m_loop->cancel_timer(s->m_timer);
            s->m_loop = nullptr;
        }
        return true;
    }

    detail::waiter m_waiter;
    clock::time_point m_deadline;
    event_loop* m_loop = nullptr;
    timer_handle m_timer;
    bool m_yield_only;
};

/// Suspend until `deadline` on the loop's clock. \throws cancelled_error if cancelled.
inline sleep_awaiter sleep_until(clock::time_point deadline) {
    return sleep_awaiter(deadline);
}

/// Suspend for `delay`; `sleep(0s)` just lets every other ready task run first.
template <class Rep, class Period>
sleep_awaiter sleep(std::chrono::duration<Rep, Period> delay) {
    if (delay <= std::chrono::duration<Rep, Period>::zero()) {
        return sleep_awaiter(clock::time_point{}, true);
    }
    return sleep_awaiter(get_running_loop().time() + std::chrono::ceil<clock::duration>(delay));
}

} // namespace corio
