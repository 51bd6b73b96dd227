#pragma once
/// \file
/// `corio::spawn` and `corio::join_handle<T>`: tasks that run concurrently on the loop
/// (asyncio's `create_task` and `Task`).
///
/// ```cpp
/// auto h = corio::spawn(fetch(url), "fetch");   // starts in the next loop iteration
/// ...
/// std::string page = co_await h;                // any number of awaiters
/// ```

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/task_state.hpp"
#include "corio/event_loop.hpp"
#include "corio/task.hpp"

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

template <class T = void>
class join_handle;

namespace detail {

/// Wrap any awaitable in a task (what spawn does for a sleep, a future, a queue get...).
template <class A>
task<await_result_t<A>> as_task(A a) {
    co_return co_await std::move(a);
}

/// What a coroutine parked on `co_await handle` leaves in the task's listener list.
struct join_waiter : completion_listener {
    waiter w;
    task_state_base* target = nullptr;
    bool propagate_cancel = true;
};

inline void wake_join_waiter(completion_listener& l) noexcept {
    wake(static_cast<join_waiter&>(l).w);
}

/// asyncio semantics: cancelling a task that awaits another task cancels that task too,
/// and the awaiter keeps waiting for it to finish, then gets what it ended with: its
/// cancelled_error if it was cancelled, but its value if it caught the cancellation and
/// returned, or the exception it raised instead. `shield` turns this off: the awaiter
/// stops waiting at once (cancelled_error) and the task runs on.
inline void describe_join_waiter(const waiter& w, std::string& out) {
    const task_state_base* t = static_cast<const join_waiter*>(w.context)->target;
    out += t->name() + " (#" + std::to_string(t->id()) + ") to finish";
}

inline bool cancel_join_waiter(waiter& w) {
    auto* jw = static_cast<join_waiter*>(w.context);
    if (jw->propagate_cancel) {
        jw->target->cancel();
        // The cancellation is served by the target: the awaiter resumes with its outcome.
        w.cancelled = false;
        return false;
    }
    jw->unlink();
    return true;
}

} // namespace detail

/// A spawned task (asyncio's `Task`). Copyable: copies refer to the same task. Dropping
/// every handle does not stop the task; it runs to completion on its loop.
template <class T>
class join_handle {
public:
    join_handle() noexcept = default;
    join_handle(const join_handle& other) noexcept : m_state(other.m_state) {
        if (m_state != nullptr) {
            m_state->add_ref();
        }
    }
    join_handle(join_handle&& other) noexcept : m_state(std::exchange(other.m_state, nullptr)) {}
    join_handle& operator=(join_handle other) noexcept {
        std::swap(m_state, other.m_state);
        return *this;
    }
    ~join_handle() {
        if (m_state != nullptr) {
            m_state->release();
        }
    }

    /// Request cancellation: the task gets `cancelled_error` at the point it is suspended
    /// at (also when it was woken there and has not run yet), or at its next suspension if
    /// it is running; a task that returns without reaching one ends cancelled, as in
    /// asyncio. Returns false if it already finished; true means the cancellation arrives.
    bool cancel() { return state("cancel").cancel(); }
    /// True once the task has finished (returned, thrown, or been cancelled).
    [[nodiscard]] bool done() const { return state("done").done(); }
    /// True if the task finished by `cancelled_error`.
    [[nodiscard]] bool cancelled() const { return state("cancelled").cancelled(); }
    /// The task's value. \throws invalid_state_error if it has not finished;
    /// `cancelled_error` if it was cancelled; the task's own exception if it failed.
    T result() const {
        auto& s = state("result");
        if (!s.done()) {
            throw invalid_state_error("result: task " + s.name() + " has not finished");
        }
        return s.result();
    }
    /// The exception that ended the task (nullptr if it returned).
    /// \throws invalid_state_error if it has not finished.
    [[nodiscard]] std::exception_ptr exception() const {
        auto& s = state("exception");
        if (!s.done()) {
            throw invalid_state_error("exception: task " + s.name() + " has not finished");
        }
        return s.exception();
    }
    /// The task's name: the one given to spawn, or "Task-<id>".
    [[nodiscard]] std::string name() const { return state("name").name(); }
    void set_name(std::string name) { state("set_name").set_name(std::move(name)); }
    /// A number unique among the tasks of its loop.
    [[nodiscard]] std::uint64_t id() const { return state("id").id(); }
    [[nodiscard]] bool valid() const noexcept { return m_state != nullptr; }

    /// Wait for the task and give its result (or rethrow). Cancelling the awaiting task
    /// cancels this task too, as in asyncio, and the awaiter gets what the task ended with
    /// (`cancelled_error`, or the value or exception of a task that handled its
    /// cancellation); wrap it in `shield()` to stop waiting at once instead. A cancellation
    /// that arrives after the task finished, before the awaiter resumed, throws
    /// `cancelled_error` (the task keeps its result).
    auto operator co_await() const { return awaiter(&state("co_await"), true); }

    /// The control block (for combinators).
    [[nodiscard]] detail::task_state<T>* state_ptr() const noexcept { return m_state; }

    class awaiter {
    public:
        /// Holds a reference to the task, so that it outlives the wait even if every
        /// join_handle is dropped meanwhile.
        awaiter(detail::task_state<T>* state, bool propagate_cancel) noexcept : m_state(state) {
            m_state->add_ref();
            m_node.target = state;
            m_node.propagate_cancel = propagate_cancel;
            m_node.on_complete = &detail::wake_join_waiter;
            m_node.w.on_cancel = &detail::cancel_join_waiter;
            m_node.w.context = &m_node;
            m_node.w.describe = &detail::describe_join_waiter;
        }
        awaiter(const awaiter&) = delete;
        awaiter& operator=(const awaiter&) = delete;
        ~awaiter() {
            m_node.unlink();
            m_state->release();
        }
        bool await_ready() const noexcept { return m_state->done(); }
        bool await_suspend(std::coroutine_handle<> h) {
            m_node.w.handle = h;
            if (!detail::park(m_node.w)) {
                if (!m_node.propagate_cancel) {
                    return false; // cancelled_error at once
                }
                // A cancellation was pending: as asyncio, it goes to the awaited task, and
                // the awaiter waits for that task's outcome.
                m_state->cancel();
                m_node.w.cancelled = false;
                if (!detail::park(m_node.w)) {
                    return false;
                }
            }
            m_state->add_listener(m_node);
            return true;
        }
        T await_resume() {
            m_node.w.check_cancelled();
            return m_state->result();
        }

    private:
        detail::task_state<T>* m_state;
        detail::join_waiter m_node;
    };

private:
    template <class U>
    friend join_handle<U> spawn_on(event_loop&, task<U>, std::string);
    explicit join_handle(detail::task_state<T>* state) noexcept : m_state(state) {}

    detail::task_state<T>& state(const char* operation) const {
        if (m_state == nullptr) {
            throw invalid_state_error(std::string(operation) +
                                      ": empty join_handle (default-constructed or moved-from)");
        }
        return *m_state;
    }

    detail::task_state<T>* m_state = nullptr;
};

/// Spawn `t` on `loop` (which must be the loop running on this thread).
template <class T>
join_handle<T> spawn_on(event_loop& loop, task<T> t, std::string name = {}) {
    if (!t.valid()) {
        throw invalid_state_error("spawn: empty task (default-constructed or moved-from)");
    }
    if (t.handle().promise().m_awaited) {
        throw invalid_state_error("spawn: task was already awaited or spawned");
    }
    loop.check_thread("spawn");
    if (loop.is_closed()) {
        throw invalid_state_error("spawn: event loop is closed");
    }
    auto* state = new detail::task_state<T>(loop, std::move(t));
    if (!name.empty()) {
        state->set_name(std::move(name));
    }
    loop.start_task(*state);
    state->add_ref(); // the handle's
    return join_handle<T>(state);
}

/// Run `t` concurrently on the running loop, starting in its next iteration
/// (asyncio.create_task). Any other awaitable (a sleep, a future, a queue get) is wrapped in
/// a task first.
/// \throws invalid_state_error if no loop is running on this thread ("spawn: no running
/// event loop on this thread"), or the task was already awaited.
template <class T>
join_handle<T> spawn(task<T> t, std::string name = {}) {
    event_loop* loop = detail::running_loop();
    if (loop == nullptr) {
        detail::throw_no_running_loop("spawn");
    }
    return spawn_on(*loop, std::move(t), std::move(name));
}
template <awaitable A>
requires(!detail::is_task<std::remove_cvref_t<A>>::value)
    join_handle<await_result_t<A>> spawn(A&& a, std::string name = {}) {
    return spawn(detail::as_task<std::remove_cvref_t<A>>(std::forward<A>(a)), std::move(name));
}

/// A reference to a spawned task whatever its result type: what a task knows of itself
/// (`current_task_handle()`), and what a `join_handle<T>` converts to. Copies refer to the
/// same task and keep its control block alive; dropping them does not stop the task.
///
/// ```cpp
/// corio::task_handle me = corio::current_task_handle();
/// registry.add(me);          // someone else may call me.cancel() later
/// ```
class task_handle {
public:
    task_handle() noexcept = default;
    template <class T>
    task_handle(const join_handle<T>& h) noexcept // NOLINT(google-explicit-constructor)
        : task_handle(h.state_ptr()) {}
    explicit task_handle(detail::task_state_base* state) noexcept : m_state(state) {
        if (m_state != nullptr) {
            m_state->add_ref();
        }
    }
    task_handle(const task_handle& other) noexcept : task_handle(other.m_state) {}
    task_handle(task_handle&& other) noexcept : m_state(std::exchange(other.m_state, nullptr)) {}
    task_handle& operator=(task_handle other) noexcept {
        std::swap(m_state, other.m_state);
        return *this;
    }
    ~task_handle() {
        if (m_state != nullptr) {
            m_state->release();
        }
    }

    /// Request cancellation, as `join_handle::cancel`. Returns false if the task finished.
    bool cancel() { return state("cancel").cancel(); }
    [[nodiscard]] bool done() const { return state("done").done(); }
    [[nodiscard]] bool cancelled() const { return state("cancelled").cancelled(); }
    [[nodiscard]] std::string name() const { return state("name").name(); }
    void set_name(std::string name) { state("set_name").set_name(std::move(name)); }
    [[nodiscard]] std::uint64_t id() const { return state("id").id(); }
    [[nodiscard]] bool valid() const noexcept { return m_state != nullptr; }

private:
    detail::task_state_base& state(const char* operation) const {
        if (m_state == nullptr) {
            throw invalid_state_error(std::string("task_handle.") + operation +
                                      ": empty task_handle (default-constructed or moved-from)");
        }
        return *m_state;
    }

    detail::task_state_base* m_state = nullptr;
};

/// A handle to the task running now, through which anyone may cancel it later (asyncio's
/// `asyncio.current_task()`, which gives the Task itself).
/// \throws invalid_state_error outside a task running on an event loop.
task_handle current_task_handle();

/// Description of a live task, as `current_task()` and `all_tasks()` give it.
struct task_info {
    std::uint64_t id;
    std::string name;
    bool done;
    bool cancelled;
};

/// The task running now, or std::nullopt outside a task.
std::optional<task_info> current_task();
/// Every task of the running loop that has not finished.
std::vector<task_info> all_tasks();
/// Print every live task of the running loop to `out`: event_loop::dump_tasks.
/// \throws invalid_state_error if no loop is running on this thread.
void dump_tasks(std::ostream& out);

} // namespace corio
