#pragma once
/// \file
/// `corio::on_loop(other, t)`: run a task on another loop (another thread's) and await its
/// result from this one.
///
/// ```cpp
/// // on loop A: the lookup runs on loop B, where the cache lives
/// std::string v = co_await corio::on_loop(loop_b, cache_lookup(key));
/// ```
///
/// The task is spawned on `other` (through its call_soon_threadsafe) and its result or
/// exception comes back to the awaiting task the same way. Cancelling the await cancels
/// the task on `other` and waits for it to end (so nothing it refers to goes away under
/// it), then throws cancelled_error. If `other` closes before the task ends, the await
/// throws invalid_state_error.

#include "corio/cancel_scope.hpp"
#include "corio/detail/task_state.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/task.hpp"

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace corio {

namespace detail {

template <class T>
struct on_loop_state {
    using value_type = std::conditional_t<std::is_void_v<T>, char, T>;
    event_loop* home = nullptr;  // the awaiting task's loop
    event_loop* other = nullptr; // where the task runs
    // On the home loop's thread:
    waiter* parked = nullptr;
    std::optional<value_type> value;
    std::exception_ptr error;
    // On the other loop's thread:
    cancel_scope* scope = nullptr;
    bool cancel_requested = false;
};

/// Hands the result back to the home loop, once: when the runner ends, or when its frame
/// is destroyed unfinished (its loop closed).
template <class T>
struct on_loop_reply {
    std::shared_ptr<on_loop_state<T>> state;
    std::optional<typename on_loop_state<T>::value_type> value;
    std::exception_ptr error;
    bool finished = false;

    ~on_loop_reply() {
        if (!finished) {
            error = std::make_exception_ptr(
                invalid_state_error("on_loop: the other loop closed before the task finished"));
        }
        try {
            state->home->call_soon_threadsafe(
                [s = state, v = std::move(value), e = error]() mutable {
                    if (s->parked == nullptr) {
                        return;
                    }
                    s->value = std::move(v);
                    s->error = e;
                    wake(*std::exchange(s->parked, nullptr));
                });
        } catch (...) {
            // The home loop closed: nobody waits any more.
        }
    }
};

template <class T>
task<> on_loop_runner(std::shared_ptr<on_loop_state<T>> state, task<T> job) {
    on_loop_reply<T> reply{state, std::nullopt, nullptr};
    cancel_scope scope;
    state->scope = &scope;
    if (state->cancel_requested) {
        scope.cancel();
    }
    try {
        // Empty (false) if the awaiting side cancelled it.
        if constexpr (std::is_void_v<T>) {
            if (co_await scope.run(std::move(job))) {
                reply.value.emplace('\0');
            }
        } else {
            if (auto r = co_await scope.run(std::move(job))) {
                reply.value.emplace(std::move(*r));
            }
        }
        if (!reply.value) {
            reply.error = std::make_exception_ptr(cancelled_error{});
        }
    } catch (...) {
        reply.error = std::current_exception();
    }
    state->scope = nullptr;
    reply.finished = true;
}

template <class T>
class [[nodiscard]] on_loop_awaiter {
public:
    on_loop_awaiter(event_loop& other, task<T> t)
        : m_task(std::move(t)), m_state(std::make_shared<on_loop_state<T>>()) {
        m_state->other = &other;
    }
    on_loop_awaiter(on_loop_awaiter&&) noexcept = default; // before it is awaited only
    on_loop_awaiter(const on_loop_awaiter&) = delete;
    on_loop_awaiter& operator=(const on_loop_awaiter&) = delete;
    on_loop_awaiter& operator=(on_loop_awaiter&&) = delete;
    ~on_loop_awaiter() = default;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        event_loop& here = get_running_loop();
        m_state->home = &here;
        event_loop& other = *m_state->other;
        if (&other == &here) {
            throw invalid_state_error("on_loop: the task's loop is the running loop (await "
                                      "the task instead)");
        }
        m_waiter.handle = h;
        m_waiter.on_cancel = &on_cancel;
        m_waiter.context = this;
        m_waiter.describe = &describe;
        auto job = std::make_shared<task<T>>(std::move(m_task));
        // Posted before parking: if `other` is closed this throws, and nothing started.
        other.call_soon_threadsafe([s = m_state, job] {
            spawn_on(*s->other, on_loop_runner<T>(s, std::move(*job)), "corio.on_loop");
        });
        if (!park(m_waiter)) {
            // A cancellation was pending: the task is on its way; cancel it, and wait.
            m_waiter.cancelled = false;
            if (!park(m_waiter)) { // (cannot fail twice: the pending request was served)
                return false;
            }
            m_waiter.cancelled = true;
            m_state->parked = &m_waiter;
            request_cancel();
            return true;
        }
        m_state->parked = &m_waiter;
        return true;
    }
    T await_resume() {
        m_waiter.check_cancelled();
        if (m_state->error) {
            std::rethrow_exception(m_state->error);
        }
        if constexpr (!std::is_void_v<T>) {
            return std::move(*m_state->value);
        }
    }

private:
    void request_cancel() {
        try {
            m_state->other->call_soon_threadsafe([s = m_state] {
                s->cancel_requested = true;
                if (s->scope != nullptr) {
                    s->scope->cancel();
                }
            });
        } catch (...) {
            // `other` is closed: its runner's frame goes, and its reply says so.
        }
    }
    /// Cancelled while parked: cancel the task on the other loop and stay parked until it
    /// ends (await_resume then throws cancelled_error).
    static bool on_cancel(waiter& w) noexcept {
        static_cast<on_loop_awaiter*>(w.context)->request_cancel();
        return false;
    }
    static void describe(const waiter&, std::string& out) { out += "a task on another loop"; }

    task<T> m_task;
    std::shared_ptr<on_loop_state<T>> m_state;
    waiter m_waiter;
};

} // namespace detail

/// Run `t` on `other` (a loop running on another thread) and await its result here.
/// \throws what `t` throws; cancelled_error if the await is cancelled (after `t`, cancelled
/// in turn, has ended); invalid_state_error if `other` is closed or closes first, or is
/// the running loop.
template <class T>
detail::on_loop_awaiter<T> on_loop(event_loop& other, task<T> t) {
    return detail::on_loop_awaiter<T>(other, std::move(t));
}

} // namespace corio
