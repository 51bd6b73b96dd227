#pragma once
// What gather, wait and as_completed share: a fixed set of spawned tasks ("children")
// watched through completion listeners, and a way for the combinator's task to park until
// the set changes.
//
// Each child is a watched_child (watched_child.hpp, shared with task_group): a completion
// listener on its control block. When the child completes, the set records it (in
// completion order) and wakes the combinator's waiter, if one is parked. A combinator
// waits in a loop, `while (!condition) co_await set.changed(policy);`: a wake only means
// "look again". Nothing completes a child synchronously while the combinator's own step
// runs (cancel() only schedules), so the check-then-park cannot miss a wake; `m_changed`
// makes it robust anyway.
//
// Two cancellation policies for the parked combinator (see task_state.hpp for the
// park/wake protocol):
//   - cancel_children (gather): cancelling the waiting task cancels every child not yet
//     finished, and the combinator keeps waiting; the awaiter reports that a cancellation
//     arrived, and the combinator throws cancelled_error once every child is done. So no
//     child outlives a gather, as in asyncio.
//   - detach (wait, as_completed): cancelling the waiting task ends the wait at once with
//     cancelled_error; the children run on (asyncio.wait does not cancel them either).
//
// Lifetime: the set holds a reference on each child's control block. Its destructor
// unlinks every listener and cancels its deadline timer, so a set destroyed in the middle
// of a wait (a cancelled combinator, a frame destroyed at loop shutdown) leaves nothing on
// the loop that could call back into it.
//
// A child's control block may have been abandoned (loop close: frame already destroyed,
// done and cancelled set); the set reads a child's exception only when it is not cancelled.

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/task_state.hpp"
#include "corio/detail/watched_child.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/task.hpp"

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace corio::detail {

/// The type a combinator gives for a `T` result: `std::monostate` for void.
template <class T>
using value_or_monostate_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class T>
struct is_join_handle : std::false_type {};
template <class T>
struct is_join_handle<join_handle<T>> : std::true_type {};

/// What a combinator keeps of one of its arguments until it starts it: a join_handle is
/// used as it is (the combinator watches that very task, and cancels it when it cancels
/// its children); a task is kept to be spawned; any other awaitable is wrapped in a task.
template <class A>
auto to_child_source(A&& a) {
    using D = std::remove_cvref_t<A>;
    if constexpr (is_join_handle<D>::value) {
        return D(std::forward<A>(a));
    } else if constexpr (is_task<D>::value) {
        static_assert(!std::is_lvalue_reference_v<A>,
                      "a corio combinator takes ownership of a task: pass std::move(t)");
        return D(std::move(a));
    } else {
        return as_task<D>(std::forward<A>(a));
    }
}

/// The result type of a child source (a task or a join_handle).
template <class S>
struct child_source_result;
template <class T>
struct child_source_result<task<T>> {
    using type = T;
};
template <class T>
struct child_source_result<join_handle<T>> {
    using type = T;
};

/// The result type of awaitable `A` as a combinator's child. No `type` for anything else,
/// so that it fails softly in a return type (clang 14 substitutes there before checking a
/// function's constraints).
template <class D>
struct child_result_of {};
template <class T>
struct child_result_of<task<T>> {
    using type = T;
};
template <class T>
struct child_result_of<join_handle<T>> {
    using type = T;
};
template <awaitable D>
requires(!is_task<D>::value && !is_join_handle<D>::value) struct child_result_of<D> {
    using type = await_result_t<D>; // what as_task<D> gives
};
template <class A>
using child_result_t = typename child_result_of<std::remove_cvref_t<A>>::type;

/// Start a child source on the running loop: spawn a task, pass a join_handle through.
template <class T>
join_handle<T> start_child(task<T>&& t) {
    return spawn(std::move(t));
}
template <class T>
join_handle<T> start_child(join_handle<T>&& h) {
    if (!h.valid()) {
        throw invalid_state_error("empty join_handle (default-constructed or moved-from) given "
                                  "to a combinator");
    }
    return std::move(h);
}

/// How a combinator parked on a child_set reacts to its own task being cancelled.
enum class on_cancel_policy {
    cancel_children, ///< cancel every unfinished child and keep waiting (gather)
    detach,          ///< stop waiting at once; the children run on (wait, as_completed)
};

/// The children a combinator waits on (see the file comment).
class child_set {
public:
    /// A set with room for `capacity` children.
    explicit child_set(std::size_t capacity)
        : m_children(std::make_unique<watched_child[]>(capacity)), m_capacity(capacity) {
        m_completed.reserve(capacity);
    }
    child_set(const child_set&) = delete;
    child_set& operator=(const child_set&) = delete;
    ~child_set() {
        disarm();
        for (std::size_t i = 0; i < m_size; ++i) {
            m_children[i].stop_watching();
        }
    }

    /// Count, as children complete, those that ended with an exception other than
    /// cancelled_error (`failed_count()`). Reading a child's exception marks it retrieved.
    /// Call before adding children.
    void inspect_failures() noexcept { m_inspect = true; }
    /// Also remember the first child that ends with any exception the set did not cause
    /// (`first_failure()`), and then cancel every other child (gather). Call before adding
    /// children.
    void cancel_siblings_on_failure() noexcept { m_inspect = m_cancel_on_failure = true; }

    /// Watch `state` as the next child (taking a reference on it).
    void add(task_state_base& state) {
        if (m_size == m_capacity) {
            throw invalid_state_error("child_set: full");
        }
        watched_child& c = m_children[m_size];
        c.watch(state, m_size, this, &on_child_complete);
        ++m_size;
        if (state.done()) {
            record(c);
        } else {
            c.listen();
            if (m_cancel_on_failure && m_failure) {
                // An earlier child had already failed when it was added.
                cancel(c.index);
            }
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return m_size; }
    [[nodiscard]] std::size_t done_count() const noexcept { return m_completed.size(); }
    [[nodiscard]] bool all_done() const noexcept { return m_completed.size() == m_size; }
    /// Children that ended with an exception other than cancelled_error (inspect_failures).
    [[nodiscard]] std::size_t failed_count() const noexcept { return m_failed; }
    /// The exception of the first child that failed (cancel_siblings_on_failure), or null.
    [[nodiscard]] const std::exception_ptr& first_failure() const noexcept { return m_failure; }
    /// Indices of the children in the order they completed (those already done when added
    /// first, in the order added).
    [[nodiscard]] const std::vector<std::size_t>& completion_order() const noexcept {
        return m_completed;
    }

    /// Cancel child `i` unless it has finished or the set already cancelled it (a child is
    /// cancelled once, so its cleanup code is not interrupted by a second request).
    void cancel(std::size_t i) { m_children[i].cancel_once(); }
    /// Cancel every child still running.
    void cancel_all() {
        for (std::size_t i = 0; i < m_size; ++i) {
            cancel(i);
        }
    }
    /// Mark every finished child's exception as retrieved (the combinator has dealt with
    /// them), so the loop does not report them.
    void retrieve_all() noexcept {
        for (std::size_t i = 0; i < m_size; ++i) {
            task_state_base& s = *m_children[i].state;
            if (s.done() && !s.cancelled()) {
                static_cast<void>(s.exception());
            }
        }
    }

    /// Give up waiting at `when`: `timed_out()` becomes true and the waiter is woken. From
    /// then on the set stops recording completions. A deadline already past takes effect
    /// at once.
    void set_deadline(clock::time_point when) {
        event_loop& loop = get_running_loop();
        if (when <= loop.time()) {
            expire();
            return;
        }
        m_loop = &loop;
        m_timer = loop.add_timer(when, &on_deadline, this);
    }
    [[nodiscard]] bool timed_out() const noexcept { return m_timed_out; }

    /// Awaited by a combinator's loop: resumes when a child completes or the deadline
    /// passes (see the file comment for the cancellation policies).
    class changed_awaiter {
    public:
        changed_awaiter(child_set& set, on_cancel_policy policy) noexcept
            : m_set(&set), m_policy(policy) {}
        changed_awaiter(const changed_awaiter&) = delete;
        changed_awaiter& operator=(const changed_awaiter&) = delete;
        ~changed_awaiter() {
            if (m_set->m_waiter == &m_waiter) {
                m_set->m_waiter = nullptr;
            }
        }

        bool await_ready() const noexcept { return std::exchange(m_set->m_changed, false); }
        bool await_suspend(std::coroutine_handle<> h) {
            if (m_set->m_waiter != nullptr) {
                throw invalid_state_error("another coroutine is already waiting on these tasks");
            }
            m_waiter.handle = h;
            m_waiter.on_cancel = &on_cancel;
            m_waiter.context = this;
            if (!park(m_waiter)) {
                // A cancellation was pending: it is delivered here.
                if (m_policy == on_cancel_policy::cancel_children) {
                    m_set->cancel_all();
                }
                return false;
            }
            m_set->m_waiter = &m_waiter;
            return true;
        }
        /// True if a cancellation arrived (cancel_children policy).
        /// \throws cancelled_error if one arrived (detach policy).
        bool await_resume() {
            m_set->m_changed = false;
            if (m_waiter.cancelled) {
                if (m_policy == on_cancel_policy::detach) {
                    throw cancelled_error{};
                }
                // Cancelled after a child's completion woke us, before we ran (on_cancel was
                // not called then): the children still running get it now.
                m_set->cancel_all();
                return true;
            }
            return false;
        }

    private:
        static bool on_cancel(waiter& w) {
            auto* self = static_cast<changed_awaiter*>(w.context);
            if (self->m_policy == on_cancel_policy::cancel_children) {
                self->m_set->cancel_all();
                return false; // woken when the children finish
            }
            self->m_set->m_waiter = nullptr;
            return true;
        }

        child_set* m_set;
        on_cancel_policy m_policy;
        waiter m_waiter;
    };

    /// Wait for the next change (see changed_awaiter).
    [[nodiscard]] changed_awaiter changed(on_cancel_policy policy) noexcept {
        return changed_awaiter(*this, policy);
    }

private:
    static void on_child_complete(completion_listener& l) noexcept {
        auto& c = static_cast<watched_child&>(l);
        child_set& set = c.owner<child_set>();
        set.record(c);
        set.notify();
    }

    void record(watched_child& c) noexcept {
        m_completed.push_back(c.index); // capacity reserved: does not throw
        if (!m_inspect) {
            return;
        }
        task_state_base& s = *c.state;
        std::exception_ptr e;
        if (!s.cancelled()) {
            e = s.exception();
            if (e) {
                ++m_failed;
            }
        }
        if (m_cancel_on_failure && !m_failure && !c.cancel_sent && (e || s.cancelled())) {
            // A child cancelled by someone else counts as failed with cancelled_error
            // (asyncio.gather does the same).
            m_failure = e ? e : std::make_exception_ptr(cancelled_error{});
            cancel_all();
        }
    }

    void notify() noexcept {
        m_changed = true;
        if (waiter* w = std::exchange(m_waiter, nullptr)) {
            wake(*w);
        }
    }

    void expire() noexcept {
        m_timed_out = true;
        for (std::size_t i = 0; i < m_size; ++i) {
            m_children[i].unlink();
        }
        notify();
    }

    static void on_deadline(void* self) noexcept {
        auto* set = static_cast<child_set*>(self);
        set->m_loop = nullptr;
        set->expire();
    }

    void disarm() noexcept {
        if (m_loop != nullptr) {
            m_loop->cancel_timer(m_timer);
            m_loop = nullptr;
        }
    }

    std::unique_ptr<watched_child[]> m_children;
    std::size_t m_capacity;
    std::size_t m_size = 0;
    std::vector<std::size_t> m_completed;
    std::exception_ptr m_failure;
    std::size_t m_failed = 0;
    waiter* m_waiter = nullptr;
    event_loop* m_loop = nullptr; // set while the deadline timer is armed
    timer_handle m_timer;
    bool m_inspect = false;
    bool m_cancel_on_failure = false;
    bool m_changed = false;
    bool m_timed_out = false;
};

} // namespace corio::detail
