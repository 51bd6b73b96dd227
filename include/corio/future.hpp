#pragma once
/// \file
/// `corio::future<T>`: a result that will be set later (asyncio.Future).
///
/// ```cpp
/// corio::future<int> f;                  // bound to the running loop
/// loop.call_later(1s, [f]() mutable { f.set_result(7); });
/// int v = co_await f;
/// ```

#include "corio/detail/task_state.hpp"
#include "corio/event_loop.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

namespace detail {

template <class T>
struct future_value {
    std::optional<T> value;
};
template <>
struct future_value<void> {};

template <class T>
class future_state : public future_value<T>, public std::enable_shared_from_this<future_state<T>> {
public:
    explicit future_state(event_loop& loop) noexcept : m_loop(&loop) {}
    future_state(const future_state&) = delete;
    future_state& operator=(const future_state&) = delete;
    ~future_state() {
        if (m_exception && !m_retrieved && !m_cancelled && m_loop != nullptr &&
            running_loop() == m_loop) {
            m_loop->call_exception_handler(
                {"Future exception was never retrieved", m_exception, {}});
        }
    }

    [[nodiscard]] bool done() const noexcept { return m_done; }
    [[nodiscard]] bool cancelled() const noexcept { return m_cancelled; }

    void require_pending(const char* operation) const {
        if (m_done) {
            throw invalid_state_error(std::string(operation) + ": future already done (" +
                                      (m_cancelled ? "cancelled" : "result already set") + ")");
        }
    }

    void finish() {
        m_done = true;
        while (list_node* n = m_listeners.pop_front()) {
            auto* l = static_cast<completion_listener*>(n);
            l->on_complete(*l);
        }
        if (!m_callbacks.empty()) {
            // The callbacks hold no reference to the state while they wait (that would be
            // a cycle, leaking a future never resolved); once queued, they keep it alive.
            auto self = this->shared_from_this();
            for (auto& cb : m_callbacks) {
                m_loop->call_soon([self, cb = std::move(cb)] { cb(self); });
            }
            m_callbacks.clear();
        }
    }

    bool cancel() {
        if (m_done) {
            return false;
        }
        m_cancelled = true;
        m_exception = std::make_exception_ptr(cancelled_error{});
        finish();
        return true;
    }

    void rethrow_if_failed() {
        if (m_exception) {
            m_retrieved = true;
            std::rethrow_exception(m_exception);
        }
    }

    event_loop* m_loop;
    std::exception_ptr m_exception;
    intrusive_list m_listeners;
    std::vector<std::function<void(const std::shared_ptr<future_state>&)>> m_callbacks;
    bool m_done = false;
    bool m_value_taken = false;
    bool m_cancelled = false;
    bool m_retrieved = false;
};

} // namespace detail

/// A value (or exception) that becomes available later. Copies share one state.
/// Bound to the loop running when it is made; not thread-safe (from another thread, set it
/// through `call_soon_threadsafe`).
template <class T = void>
class future {
public:
    /// A pending future on the running loop.
    /// \throws invalid_state_error if no loop is running on this thread.
    future() : m_state(std::make_shared<detail::future_state<T>>(get_running_loop())) {}

    /// Resolve with `value` and wake every awaiter.
    /// \throws invalid_state_error if the future is already done.
    template <class U = T>
    requires(!std::is_void_v<T> && std::constructible_from<T, U&&>) void set_result(U&& value) {
        m_state->require_pending("set_result");
        m_state->value.emplace(std::forward<U>(value));
        m_state->finish();
    }
    void set_result() requires std::is_void_v<T> {
        m_state->require_pending("set_result");
        m_state->finish();
    }
    /// Resolve with an exception. \throws invalid_state_error if already done.
    void set_exception(std::exception_ptr e) {
        if (!e) {
            throw invalid_state_error("set_exception: null exception_ptr");
        }
        m_state->require_pending("set_exception");
        m_state->m_exception = std::move(e);
        m_state->finish();
    }
    /// Cancel: awaiters get `cancelled_error`. Returns false if already done.
    bool cancel() { return m_state->cancel(); }
    [[nodiscard]] bool done() const noexcept { return m_state->done(); }
    [[nodiscard]] bool cancelled() const noexcept { return m_state->cancelled(); }

    /// The value. \throws invalid_state_error if not done; `cancelled_error` if
    /// cancelled; the stored exception.
    decltype(auto) result() const {
        if (!m_state->done()) {
            throw invalid_state_error("result: future is not done yet");
        }
        m_state->rethrow_if_failed();
        if constexpr (!std::is_void_v<T>) {
            return static_cast<const T&>(*m_state->value);
        }
    }
    /// The exception (nullptr if a value was set). \throws invalid_state_error if not done.
    [[nodiscard]] std::exception_ptr exception() const {
        if (!m_state->done()) {
            throw invalid_state_error("exception: future is not done yet");
        }
        m_state->m_retrieved = true;
        return m_state->m_exception;
    }
    /// Call `fn(*this)` (through call_soon) once the future is done; at once (next
    /// iteration) if it already is.
    void add_done_callback(std::function<void(future&)> fn) {
        if (!fn) {
            throw std::invalid_argument("add_done_callback: empty function");
        }
        if (m_state->done()) {
            m_state->m_loop->call_soon([self = *this, fn = std::move(fn)]() mutable { fn(self); });
        } else {
            m_state->m_callbacks.push_back(
                [fn = std::move(fn)](const std::shared_ptr<detail::future_state<T>>& state) {
                    future f(state);
                    fn(f);
                });
        }
    }

    /// Wait for the result (a copy of it; the future keeps its value for other awaiters;
    /// a move-only value is moved out to the first awaiter, and a second one gets
    /// `invalid_state_error`). Cancelling the awaiting task cancels the future, as in
    /// asyncio. The awaiter keeps the future's state alive while it waits.
    auto operator co_await() const noexcept { return awaiter(m_state); }

    class awaiter {
    public:
        explicit awaiter(std::shared_ptr<detail::future_state<T>> state) noexcept
            : m_state(std::move(state)) {
            m_node.on_complete = &on_complete;
            m_node.context = this;
            m_waiter.on_cancel = &on_cancel;
            m_waiter.context = this;
            m_waiter.describe = [](const detail::waiter&, std::string& out) { out += "a future"; };
        }
        awaiter(const awaiter&) = delete;
        awaiter& operator=(const awaiter&) = delete;
        ~awaiter() { m_node.unlink(); }
        bool await_ready() const noexcept { return m_state->done(); }
        bool await_suspend(std::coroutine_handle<> h) {
            m_waiter.handle = h;
            if (!detail::park(m_waiter)) {
                return false;
            }
            m_state->m_listeners.push_back(m_node);
            return true;
        }
        T await_resume() {
            // Cancelled while parked (the future was cancelled too), or after the future
            // completed but before this task ran: the future keeps its value.
            m_waiter.check_cancelled();
            m_state->rethrow_if_failed();
            if constexpr (std::is_copy_constructible_v<T>) {
                return *m_state->value;
            } else if constexpr (!std::is_void_v<T>) {
                if (m_state->m_value_taken) {
                    throw invalid_state_error("co_await: the move-only result of this future "
                                              "was already taken");
                }
                m_state->m_value_taken = true;
                return std::move(*m_state->value);
            }
        }

    private:
        static void on_complete(detail::completion_listener& l) noexcept {
            detail::wake(static_cast<awaiter*>(l.context)->m_waiter);
        }
        static bool on_cancel(detail::waiter& w) {
            auto* self = static_cast<awaiter*>(w.context);
            // Cancelling the future wakes every awaiter, this one included.
            self->m_state->cancel();
            return false;
        }

        std::shared_ptr<detail::future_state<T>> m_state;
        detail::completion_listener m_node;
        detail::waiter m_waiter;
    };

private:
    explicit future(std::shared_ptr<detail::future_state<T>> state) noexcept
        : m_state(std::move(state)) {}

    std::shared_ptr<detail::future_state<T>> m_state;
};

} // namespace corio
