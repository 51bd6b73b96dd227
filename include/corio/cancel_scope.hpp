#pragma once
/// \file
/// Cancel scopes and deadlines: `cancel_scope`, `move_on_after`, `fail_after`, `wait_for`,
/// and `shield`.
///
/// ```cpp
/// // asyncio.timeout(5): the body gets cancelled_error after 5 s; we get timeout_error.
/// std::string page = co_await corio::fail_after(5s, fetch(url));
/// // trio.move_on_after: empty if the deadline passed first.
/// std::optional<std::string> maybe = co_await corio::move_on_after(5s, fetch(url));
/// ```
///
/// A scope runs an awaitable inside the current task. Cancelling the scope (`cancel()`,
/// or its deadline passing) delivers `cancelled_error` to that task at its suspension
/// point. When the error comes back out of the awaitable, the scope absorbs it only if
/// the scope itself asked for the cancellation and no enclosing scope, nor the task
/// itself (`join_handle::cancel`), did. So a timeout inside a timeout, or a timeout that
/// expires at the moment the task is cancelled from outside, never swallows the outer
/// cancellation: the outer one propagates as `cancelled_error`. As with asyncio's
/// `Task.cancelling()`, a request the code swallowed inside a scope still counts against
/// that scope (its timeout comes out as `cancelled_error`), but a request already delivered
/// and caught before the scope was entered does not: cleanup code that caught its
/// cancellation and then waits with `move_on_after(500ms, proc.wait())` gets its timeout.
/// A deadline already passed when the scope is entered cancels the body at its first
/// suspension point (`sleep(0s)` included).

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/task_state.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/task.hpp"

#include <chrono>
#include <optional>
#include <type_traits>
#include <utility>

namespace corio {

namespace detail {
/// What a scope gives back when it absorbed its own cancellation: empty.
template <class T>
using scope_result_t = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;

/// The loop's time plus `d`; empty when that lies beyond the clock's range (so
/// `move_on_after(std::chrono::hours::max(), a)` means no limit instead of overflowing).
template <class Rep, class Period>
std::optional<clock::time_point> deadline_after(std::chrono::duration<Rep, Period> d) {
    const clock::time_point now = get_running_loop().time();
    if (d <= std::chrono::duration<Rep, Period>::zero()) {
        return now;
    }
    using seconds = std::chrono::duration<long double>;
    // A second of margin absorbs the rounding of the comparison in floating point.
    if (seconds(d) >= seconds(clock::time_point::max() - now) - seconds(1)) {
        return std::nullopt;
    }
    return now + std::chrono::ceil<clock::duration>(d);
}
} // namespace detail

/// A region of a task that can be cancelled as a unit, optionally with a deadline
/// (trio's CancelScope; asyncio.timeout is `fail_after`). Not movable: it is referred to
/// while it runs. A scope runs once.
///
/// ```cpp
/// corio::cancel_scope scope(loop.time() + 5s);
/// auto h = corio::spawn(watch_for_shutdown(&scope));  // may call scope.cancel()
/// std::optional<int> r = co_await scope.run(work());   // empty if cancelled
/// ```
class cancel_scope {
public:
    /// A scope without a deadline.
    cancel_scope() noexcept = default;
    /// A scope cancelled when the loop's clock reaches `deadline`.
    explicit cancel_scope(clock::time_point deadline) noexcept : m_deadline(deadline) {}
    cancel_scope(const cancel_scope&) = delete;
    cancel_scope& operator=(const cancel_scope&) = delete;
    ~cancel_scope() { disarm(); }

    /// Run `a` inside the scope: its value, or empty (`false` for void) if the scope
    /// cancelled it. \throws cancelled_error if the cancellation came from outside,
    /// whatever `a` throws, and invalid_state_error if the scope is running or has run
    /// already, or there is no current task.
    template <awaitable A>
    task<detail::scope_result_t<await_result_t<A>>> run(A a);

    /// Cancel the work inside the scope (now, or as soon as it starts).
    void cancel() {
        if (m_active) {
            m_state.task->request_cancel(m_state);
        } else {
            m_state.requested = true;
        }
    }
    /// True once cancel() was called or the deadline passed (trio's `cancel_called`: a
    /// scope not entered yet, or running, whose deadline is already behind the running
    /// loop's clock counts as called).
    [[nodiscard]] bool cancel_called() const noexcept {
        if (m_state.requested) {
            return true;
        }
        if (!m_deadline || (m_used && !m_active)) {
            return false;
        }
        const event_loop* loop = detail::running_loop();
        return loop != nullptr && loop->time() >= *m_deadline;
    }
    /// True if the scope absorbed the cancellation it caused.
    [[nodiscard]] bool cancelled_caught() const noexcept { return m_caught; }
    [[nodiscard]] std::optional<clock::time_point> deadline() const noexcept { return m_deadline; }
    /// Move the deadline (rearms the timer if the scope is running; a deadline already
    /// passed cancels a running scope at once).
    /// \throws invalid_state_error if the scope has finished.
    void set_deadline(clock::time_point deadline) {
        if (m_used && !m_active) {
            throw invalid_state_error("cancel_scope.set_deadline: the scope has finished");
        }
        m_deadline = deadline;
        if (m_active) {
            disarm();
            arm();
        }
    }

private:
    void enter() {
        if (m_active) {
            throw invalid_state_error("cancel_scope: already running");
        }
        if (m_used) {
            throw invalid_state_error("cancel_scope: already used (a scope runs once)");
        }
        detail::task_state_base* t = detail::current_task_state();
        if (t == nullptr) {
            throw invalid_state_error("cancel_scope: must be used inside a task running on an "
                                      "event loop");
        }
        m_used = true;
        t->enter_scope(m_state);
        m_active = true;
        if (m_state.requested) {
            t->request_cancel(m_state);
        } else {
            arm();
        }
    }
    /// `cancellation_leaving`: a cancelled_error is propagating out of the scope.
    void exit(bool cancellation_leaving) noexcept {
        if (!m_active) {
            return;
        }
        m_active = false;
        disarm();
        m_state.task->leave_scope(m_state, cancellation_leaving);
    }
    void arm() {
        if (m_deadline && !m_state.requested) {
            event_loop& loop = get_running_loop();
            if (*m_deadline <= loop.time()) {
                // Already passed: the body stops at its first suspension point, not one
                // loop iteration later (trio, asyncio.timeout(0)).
                cancel();
                return;
            }
            m_loop = &loop;
            m_timer = m_loop->add_timer(*m_deadline, &on_deadline, this);
        }
    }
    void disarm() noexcept {
        if (m_loop != nullptr) {
            m_loop->cancel_timer(m_timer);
            m_loop = nullptr;
        }
    }
    static void on_deadline(void* self) {
        auto* s = static_cast<cancel_scope*>(self);
        s->m_loop = nullptr;
        s->cancel();
    }
    /// Whether a cancelled_error leaving the scope is the scope's own to absorb.
    [[nodiscard]] bool absorbs() const noexcept {
        return m_state.requested && !m_state.enclosing_requested();
    }

    detail::scope_state m_state;
    std::optional<clock::time_point> m_deadline;
    event_loop* m_loop = nullptr;
    timer_handle m_timer;
    bool m_active = false;
    bool m_used = false;
    bool m_caught = false;
};

template <awaitable A>
task<detail::scope_result_t<await_result_t<A>>> cancel_scope::run(A a) {
    using T = await_result_t<A>;
    enter();
    struct leave {
        cancel_scope* s;
        ~leave() { s->exit(false); }
    } guard{this};
    std::exception_ptr cancelled;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(a);
            co_return true;
        } else {
            co_return std::optional<T>(co_await std::move(a));
        }
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    exit(true);
    if (absorbs()) {
        m_caught = true;
        co_return detail::scope_result_t<T>{};
    }
    std::rethrow_exception(cancelled);
}

/// Run `a` with a time limit; empty (`false` for void) if the limit passed first
/// (trio.move_on_after).
template <class Rep, class Period, awaitable A>
task<detail::scope_result_t<await_result_t<A>>> move_on_after(std::chrono::duration<Rep, Period> d,
                                                              A a) {
    cancel_scope scope;
    if (const auto deadline = detail::deadline_after(d)) {
        scope.set_deadline(*deadline);
    }
    co_return co_await scope.run(std::move(a));
}

/// Run `a` with a time limit; `timeout_error` if the limit passed first (asyncio.timeout,
/// trio.fail_after). The awaitable is cancelled at the deadline and may clean up first.
template <class Rep, class Period, awaitable A>
task<await_result_t<A>> fail_after(std::chrono::duration<Rep, Period> d, A a) {
    using T = await_result_t<A>;
    cancel_scope scope;
    if (const auto deadline = detail::deadline_after(d)) {
        scope.set_deadline(*deadline);
    }
    auto r = co_await scope.run(std::move(a));
    if (scope.cancelled_caught()) {
        throw timeout_error("deadline of " +
                            std::to_string(std::chrono::duration<double>(d).count()) +
                            " s exceeded");
    }
    if constexpr (!std::is_void_v<T>) {
        co_return std::move(*r);
    }
}

/// asyncio.wait_for: the value of `a`, or `timeout_error` after cancelling it.
template <class Rep, class Period, awaitable A>
task<await_result_t<A>> wait_for(A a, std::chrono::duration<Rep, Period> d) {
    co_return co_await fail_after(d, std::move(a));
}

/// asyncio.shield: run `a` as its own task and wait for it; cancelling the awaiting task
/// stops the wait (it gets cancelled_error) but not the inner task, which runs on.
template <awaitable A>
task<await_result_t<A>> shield(A a) {
    using T = await_result_t<A>;
    join_handle<T> inner = [&] {
        if constexpr (detail::is_task<A>::value) {
            return spawn(std::move(a));
        } else {
            return spawn(detail::as_task<A>(std::move(a)));
        }
    }();
    typename join_handle<T>::awaiter wait(inner.state_ptr(), false);
    co_return co_await wait;
}

} // namespace corio
