#pragma once
/// \file
/// `corio::as_completed`: results in the order the tasks finish (asyncio.as_completed).
///
/// ```cpp
/// auto pages = corio::as_completed(std::move(fetches), 10s);   // starts them all
/// while (auto page = co_await pages.next()) {                  // the `async for`
///     use(*page);
/// }
/// ```
///
/// `as_completed` spawns every task at once and gives an iterator. Each `co_await next()`
/// gives the result of the next task to finish, empty once every result has been given.
/// A task that failed throws its exception from the `next()` that reaches it; iteration
/// can go on after that. With a timeout, the results that arrived before the deadline are
/// still given; after them every `next()` throws `timeout_error` (the tasks not finished
/// by then run on, and the iterator no longer watches them). Destroying the iterator
/// cancels the tasks still running, so leaving the loop early (by `break`, an exception or
/// a cancellation) leaves nothing running behind it.

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/child_set.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/task.hpp"

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

template <class T>
class as_completed_iterator;

namespace detail {

template <class T>
struct as_completed_state {
    explicit as_completed_state(std::size_t n) : set(n) { handles.reserve(n); }
    as_completed_state(const as_completed_state&) = delete;
    as_completed_state& operator=(const as_completed_state&) = delete;
    ~as_completed_state() {
        // Whatever the iterator has not given yet and is still running is cancelled; the
        // set then unlinks its listeners and its timer.
        set.cancel_all();
    }

    /// True if next() can answer without waiting.
    [[nodiscard]] bool ready() const noexcept {
        return given < set.completion_order().size() || given == handles.size() || set.timed_out();
    }

    std::optional<value_or_monostate_t<T>> take() {
        if (given < set.completion_order().size()) {
            const join_handle<T>& h = handles[set.completion_order()[given++]];
            if constexpr (std::is_void_v<T>) {
                h.state_ptr()->result();
                return value_or_monostate_t<T>{};
            } else {
                return h.state_ptr()->result();
            }
        }
        if (given == handles.size()) {
            return std::nullopt;
        }
        if (set.timed_out()) {
            throw timeout_error("as_completed: " + std::to_string(handles.size() - given) +
                                " task(s) not finished by the deadline");
        }
        throw invalid_state_error("as_completed: resumed with nothing to give");
    }

    child_set set;
    std::vector<join_handle<T>> handles;
    /// How many results next() has given (an index into the completion order).
    std::size_t given = 0;
};

} // namespace detail

/// The iterator `as_completed` returns: `co_await next()` gives the results one by one in
/// completion order. Move-only. Destroying it cancels the tasks still running.
///
/// It must outlive any `next()` being awaited, and only one `next()` may be awaited at a
/// time.
template <class T>
class as_completed_iterator {
public:
    /// What next() gives for each task: its result, `std::monostate` for void.
    using value_type = detail::value_or_monostate_t<T>;

    /// Takes over the tasks; the moved-from iterator is empty (its next() throws).
    as_completed_iterator(as_completed_iterator&&) noexcept = default;
    /// Cancels the tasks of the iterator replaced that are still running.
    as_completed_iterator& operator=(as_completed_iterator&&) noexcept = default;
    /// Cancels the tasks still running.
    ~as_completed_iterator() = default;

    /// The awaitable `next()` returns.
    class [[nodiscard]] next_awaiter {
    public:
        next_awaiter(const next_awaiter&) = delete;
        next_awaiter& operator=(const next_awaiter&) = delete;
        bool await_ready() const noexcept { return m_state->ready(); }
        bool await_suspend(std::coroutine_handle<> h) { return m_wait.await_suspend(h); }
        std::optional<value_type> await_resume() {
            m_wait.await_resume();
            return m_state->take();
        }

    private:
        friend class as_completed_iterator;
        explicit next_awaiter(detail::as_completed_state<T>* state) noexcept
            : m_state(state), m_wait(state->set, detail::on_cancel_policy::detach) {}
        detail::as_completed_state<T>* m_state;
        detail::child_set::changed_awaiter m_wait;
    };

    /// Wait for the next task to finish: its result; empty once every result has been
    /// given. Cancellable (the tasks run on; destroying the iterator cancels them).
    /// \throws the task's exception if it failed; `timeout_error` once the deadline has
    /// passed and no result that arrived before it is left; `invalid_state_error` if
    /// another `next()` is being awaited, or the iterator was moved from.
    next_awaiter next() {
        if (!m_state) {
            throw invalid_state_error("as_completed: next() on a moved-from iterator");
        }
        return next_awaiter(m_state.get());
    }

    /// Results not given yet (tasks still running, or finished and not yet taken).
    [[nodiscard]] std::size_t remaining() const noexcept {
        return m_state ? m_state->handles.size() - m_state->given : 0;
    }

    /// What `as_completed` builds the iterator from.
    explicit as_completed_iterator(std::unique_ptr<detail::as_completed_state<T>> state) noexcept
        : m_state(std::move(state)) {}

private:
    std::unique_ptr<detail::as_completed_state<T>> m_state;
};

/// Start every awaitable of `awaitables` as a task on the running loop now (tasks are
/// spawned, other awaitables wrapped in tasks, `join_handle`s watched as they are) and
/// give an iterator over their results in completion order. With `timeout`, `next()`
/// throws `timeout_error` once that much time has passed (see the file comment).
/// \throws invalid_state_error if no loop is running.
template <awaitable A>
as_completed_iterator<detail::child_result_t<A>>
as_completed(std::vector<A> awaitables, std::optional<clock::duration> timeout = std::nullopt) {
    using T = detail::child_result_t<A>;
    static_assert(!std::is_reference_v<T>, "as_completed: the awaitables must not give references");
    auto state = std::make_unique<detail::as_completed_state<T>>(awaitables.size());
    try {
        for (A& a : awaitables) {
            state->handles.push_back(detail::start_child(detail::to_child_source(std::move(a))));
            state->set.add(*state->handles.back().state_ptr());
        }
    } catch (...) {
        state->set.cancel_all();
        throw;
    }
    if (timeout) {
        state->set.set_deadline(get_running_loop().time() + *timeout);
    }
    return as_completed_iterator<T>(std::move(state));
}

} // namespace corio
