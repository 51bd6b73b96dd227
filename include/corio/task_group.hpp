#pragma once
/// \file
/// Structured concurrency: `task_group` and `with_task_group` (asyncio.TaskGroup, trio's
/// nursery).
///
/// ```cpp
/// co_await corio::with_task_group([&](corio::task_group& g) -> corio::task<> {
///     for (auto& url : urls) g.spawn(fetch(url));
///     co_return;
/// });   // every child has finished here
/// ```
///
/// The first child that fails (with anything but cancelled_error) cancels its siblings and
/// the body; once all have finished, the failures are thrown together as
/// `exception_group`. As in asyncio, where the group learns of a failure through a done
/// callback, the cancelling happens in the loop iteration after the failure: children that
/// were already ready to run in the iteration the first one failed take their step first,
/// so two children failing in the same iteration are both reported. If the task running the
/// group is cancelled from outside, the children are cancelled, awaited, and `cancelled_error`
/// propagates (the group does not swallow a cancellation it did not cause). If both happen,
/// the failures win (they are thrown as `exception_group`) and the outside cancellation is
/// asked for again, so it comes out at the task's next suspension instead of being lost
/// (asyncio does the same, python/cpython#116720).

#include "corio/cancel_scope.hpp"
#include "corio/detail/task_state.hpp"
#include "corio/detail/watched_child.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/task.hpp"

#include <concepts>
#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

namespace detail {

/// What a task group is: shared by every `task_group` handle to it.
class task_group_state : public std::enable_shared_from_this<task_group_state> {
public:
    task_group_state() : m_id(next_task_group_id()) {
        if (const task_state_base* owner = current_task_state()) {
            m_owner = owner->id();
        }
    }
    task_group_state(const task_group_state&) = delete;
    task_group_state& operator=(const task_group_state&) = delete;
    ~task_group_state() {
        // Only when the group's task was destroyed while children still ran (loop close).
        for (auto& c : m_children) {
            c->stop_watching();
        }
    }

    void check_open() const {
        if (m_closed) {
            throw invalid_state_error("task_group.spawn: the group has finished");
        }
        if (m_shutting_down) {
            throw invalid_state_error(
                "task_group.spawn: the group is shutting down (a child or the body failed, or "
                "the task running the group was cancelled); no new child can start");
        }
    }

    /// Make room for one more child, so that adopt() cannot fail. The room grows
    /// geometrically (a spawn costs O(1) amortised) and is that of the most children that
    /// ran at once, however many have run.
    void reserve_one() {
        if (m_children.size() == m_children.capacity()) {
            m_children.reserve(m_children.capacity() < 8 ? 8 : 2 * m_children.capacity());
        }
    }

    /// Take `s` (just spawned) as a child. `c` and room for it were allocated beforehand, so
    /// that nothing can fail between the spawn and here.
    void adopt(std::unique_ptr<watched_child> c, task_state_base& s) noexcept {
        c->watch(s, m_children.size(), this, &on_child_done);
        c->listen();
        s.join_group(m_id, m_owner);
        m_children.push_back(std::move(c));
        if (m_cancelling) {
            cancel_child(*m_children.back());
        }
    }

    void cancel() {
        m_scope.cancel();
        cancel_children();
    }

    /// A child failed, or the body did: cancel the body (once) and every child. From now on
    /// spawn throws.
    void fail() noexcept {
        m_shutting_down = true;
        if (!m_scope_cancelled) {
            m_scope_cancelled = true;
            try {
                m_scope.cancel();
            } catch (...) {
            }
        }
        cancel_children();
    }

    /// The task running the group was cancelled from outside: cancel every child. From now
    /// on spawn throws.
    void cancel_from_outside() noexcept {
        m_shutting_down = true;
        cancel_children();
    }

    void cancel_children() noexcept {
        m_cancelling = true;
        // Cancelling never completes a task synchronously, so the list does not change here.
        for (std::size_t i = 0; i < m_children.size(); ++i) {
            cancel_child(*m_children[i]);
        }
    }

    static void cancel_child(watched_child& c) noexcept {
        try {
            c.cancel_once();
        } catch (...) {
        }
    }

    /// The group's task is leaving with_task_group (returning, throwing, or destroyed).
    void close() noexcept {
        m_closed = true;
        m_joiner = nullptr;
    }

    /// Wait until every child is done. A cancellation arriving meanwhile cancels the
    /// children and keeps waiting; gives true if one arrived.
    struct [[nodiscard]] join_awaiter {
        task_group_state* g;
        waiter w;
        bool await_ready() const noexcept { return g->m_children.empty(); }
        bool await_suspend(std::coroutine_handle<> h) {
            w.handle = h;
            w.context = g;
            w.on_cancel = &on_cancel;
            w.describe = [](const waiter&, std::string& out) {
                out += "the children of its task group";
            };
            if (!park(w)) {
                g->cancel_from_outside();
                if (g->m_children.empty()) {
                    return false;
                }
                w.cancelled = true;
                if (!park(w)) {
                    return false;
                }
            }
            g->m_joiner = &w;
            return true;
        }
        bool await_resume() const noexcept { return w.cancelled; }
        static bool on_cancel(waiter& w) {
            static_cast<task_group_state*>(w.context)->cancel_from_outside();
            return false;
        }
    };

    /// For dump_tasks: the group's id, and the task running with_task_group.
    std::uint32_t m_id;
    std::uint64_t m_owner = 0;
    cancel_scope m_scope;
    /// The children still running. A finished child is dropped at once (a long-lived group
    /// does not accumulate them).
    std::vector<std::unique_ptr<watched_child>> m_children;
    std::vector<std::exception_ptr> m_errors;
    waiter* m_joiner = nullptr;
    bool m_cancelling = false;
    /// A failure or an outside cancellation is ending the group (asyncio's `_aborting`).
    bool m_shutting_down = false;
    /// A child failed: the group fails in the next loop iteration (schedule_failure).
    bool m_failure_scheduled = false;
    bool m_scope_cancelled = false;
    bool m_closed = false;

private:
    /// A child has failed: fail the group in the next loop iteration, as asyncio's done
    /// callback does. Children already ready in this iteration take their step first, so
    /// their failures are reported too; cancelling them now would throw cancelled_error at
    /// the point where they were about to resume, in place of their own error.
    void schedule_failure(event_loop& loop) noexcept {
        if (m_shutting_down || m_failure_scheduled) {
            return;
        }
        m_failure_scheduled = true;
        try {
            loop.call_soon([group = weak_from_this()] {
                if (const std::shared_ptr<task_group_state> g = group.lock()) {
                    if (!g->m_closed) {
                        g->fail();
                    }
                }
            });
        } catch (...) {
            fail(); // no memory for the callback (or the loop is closing): fail at once
        }
    }

    static void on_child_done(completion_listener& l) noexcept {
        auto& c = static_cast<watched_child&>(l);
        task_group_state& g = c.owner<task_group_state>();
        task_state_base* s = c.state;
        if (!s->cancelled()) {
            if (std::exception_ptr e = s->exception()) {
                try {
                    g.m_errors.push_back(std::move(e));
                } catch (...) {
                }
                g.schedule_failure(*s->loop());
            }
        }
        const std::size_t i = c.index;
        if (i + 1 != g.m_children.size()) {
            std::swap(g.m_children[i], g.m_children.back());
            g.m_children[i]->index = i;
        }
        g.m_children.pop_back(); // destroys c
        s->release();
        if (g.m_children.empty() && g.m_joiner != nullptr) {
            wake(*std::exchange(g.m_joiner, nullptr));
        }
    }
};

} // namespace detail

/// The children of one `with_task_group` call. A handle: copies refer to the same group, so
/// a child can be given one to spawn siblings. Once the group has finished, `spawn` throws.
class task_group {
public:
    task_group(const task_group&) noexcept = default;
    task_group& operator=(const task_group&) noexcept = default;
    ~task_group() = default;

    /// Start `t` as a child of the group (in the next loop iteration). O(1) amortised.
    /// \throws invalid_state_error once the group has finished (every child done and the
    /// body returned); while it is shutting down, after a child or the body failed or the
    /// task running it was cancelled from outside (asyncio raises RuntimeError "TaskGroup
    /// is shutting down"); or if `t` is empty or was already awaited. A child spawned after
    /// cancel() is accepted and cancelled before its first step (trio's nursery).
    template <class T>
    join_handle<T> spawn(task<T> t, std::string name = {}) {
        m_state->check_open();
        auto c = std::make_unique<detail::watched_child>();
        m_state->reserve_one();
        join_handle<T> h = corio::spawn(std::move(t), std::move(name));
        m_state->adopt(std::move(c), *h.state_ptr());
        return h;
    }
    /// Start any awaitable as a child (wrapped in a task).
    template <awaitable A>
    requires(!detail::is_task<std::remove_cvref_t<A>>::value)
        join_handle<await_result_t<A>> spawn(A&& a, std::string name = {}) {
        m_state->check_open();
        return spawn(detail::as_task<std::remove_cvref_t<A>>(std::forward<A>(a)), std::move(name));
    }

    /// Cancel every child and the body; the group then ends without an error (unless a
    /// child failed, or the group's task was also cancelled from outside). Harmless once
    /// the group has finished.
    void cancel() { m_state->cancel(); }
    /// Children not finished yet.
    [[nodiscard]] std::size_t size() const noexcept { return m_state->m_children.size(); }

private:
    template <class F>
    friend task<> with_task_group(F body);

    task_group() : m_state(std::make_shared<detail::task_group_state>()) {}

    std::shared_ptr<detail::task_group_state> m_state;
};

/// Run `body(group)` and wait for every child it spawns (asyncio.TaskGroup).
/// \throws exception_group with every failure (the body's, then the children's, in
/// order); cancelled_error if the calling task was cancelled from outside;
/// invalid_state_error if not awaited inside a task running on an event loop.
template <class F>
task<> with_task_group(F body) {
    static_assert(std::is_invocable_r_v<task<>, F&, task_group&>,
                  "with_task_group: body must be callable as task<>(task_group&)");
    if (detail::current_task_state() == nullptr) {
        throw invalid_state_error(
            "with_task_group: must be awaited inside a task running on an event loop");
    }
    task_group g;
    detail::task_group_state& s = *g.m_state;
    struct closer {
        detail::task_group_state& s;
        ~closer() { s.close(); }
    } guard{s};

    // The body runs in the group's scope: a failing child cancels it too.
    std::exception_ptr body_error;
    try {
        co_await s.m_scope.run(body(g));
    } catch (...) {
        body_error = std::current_exception();
    }
    bool cancelled = detail::is_cancellation(body_error);
    if (body_error && !cancelled) {
        s.m_errors.insert(s.m_errors.begin(), body_error);
        s.fail();
    } else if (cancelled) {
        s.cancel_from_outside();
    }
    while (!s.m_children.empty()) {
        if (co_await detail::task_group_state::join_awaiter{&s, {}}) {
            cancelled = true;
        }
    }
    s.close();
    if (!s.m_errors.empty()) {
        if (cancelled) {
            // The outside cancellation was received, but the failures are what we throw:
            // ask for it again at the next suspension.
            detail::current_task_state()->renew_requested_cancel();
        }
        throw exception_group(std::move(s.m_errors));
    }
    if (cancelled) {
        throw cancelled_error{};
    }
}

} // namespace corio
