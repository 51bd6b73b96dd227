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
/// `exception_group`. If the task running the group is cancelled from outside, the
/// children are cancelled, awaited, and `cancelled_error` propagates (the group does not
/// swallow a cancellation it did not cause).

#include "corio/cancel_scope.hpp"
#include "corio/detail/task_state.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/task.hpp"

#include <concepts>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace corio {

/// The children of one `with_task_group` call.
class task_group {
public:
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;

    /// Start `t` as a child of the group. \throws invalid_state_error once the group has
    /// finished (all children done and the body returned).
    template <class T>
    join_handle<T> spawn(task<T> t, std::string name = {}) {
        if (m_closed) {
            throw invalid_state_error("task_group.spawn: the group has finished");
        }
        join_handle<T> h = corio::spawn(std::move(t), std::move(name));
        adopt(*h.state_ptr());
        return h;
    }
    /// Start any awaitable as a child (wrapped in a task).
    template <awaitable A>
    requires(!detail::is_task<std::remove_cvref_t<A>>::value)
        join_handle<await_result_t<A>> spawn(A&& a, std::string name = {}) {
        return spawn(detail::as_task<std::remove_cvref_t<A>>(std::forward<A>(a)), std::move(name));
    }

    /// Cancel every child and the body; the group then ends without an error (unless a
    /// child failed).
    void cancel() {
        m_scope.cancel();
        cancel_children();
    }
    /// Children not finished yet.
    [[nodiscard]] std::size_t size() const noexcept { return m_live; }

private:
    template <class F>
    friend task<> with_task_group(F body);

    struct child : detail::completion_listener {
        task_group* group = nullptr;
        detail::task_state_base* state = nullptr;
    };

    task_group() = default;
    ~task_group() {
        for (auto& c : m_children) {
            c->unlink();
            c->state->release();
        }
    }

    void adopt(detail::task_state_base& s) {
        auto c = std::make_unique<child>();
        c->group = this;
        c->state = &s;
        c->on_complete = &on_child_done;
        s.add_ref();
        s.add_listener(*c);
        ++m_live;
        if (m_cancelling) {
            s.cancel();
        }
        m_children.push_back(std::move(c));
    }

    static void on_child_done(detail::completion_listener& l) noexcept {
        auto& c = static_cast<child&>(l);
        task_group& g = *c.group;
        --g.m_live;
        if (std::exception_ptr e = c.state->exception(); e && !c.state->cancelled()) {
            g.m_errors.push_back(std::move(e));
            g.fail();
        }
        if (g.m_live == 0 && g.m_joiner != nullptr) {
            detail::wake(*std::exchange(g.m_joiner, nullptr));
        }
    }

    void fail() noexcept {
        if (!m_scope_cancelled) {
            m_scope_cancelled = true;
            try {
                m_scope.cancel();
            } catch (...) {
            }
        }
        cancel_children();
    }

    void cancel_children() noexcept {
        m_cancelling = true;
        for (auto& c : m_children) {
            if (!c->state->done()) {
                c->state->cancel();
            }
        }
    }

    /// Wait until every child is done. A cancellation arriving meanwhile cancels the
    /// children and keeps waiting; returns true if one arrived.
    struct join_awaiter {
        task_group* g;
        detail::waiter w;
        bool await_ready() const noexcept { return g->m_live == 0; }
        bool await_suspend(std::coroutine_handle<> h) {
            w.handle = h;
            w.context = g;
            w.on_cancel = &on_cancel;
            if (!detail::park(w)) {
                g->cancel_children();
                if (g->m_live == 0) {
                    return false;
                }
                w.cancelled = true;
                if (!detail::park(w)) {
                    return false;
                }
            }
            g->m_joiner = &w;
            return true;
        }
        bool await_resume() const noexcept { return w.cancelled; }
        static bool on_cancel(detail::waiter& w) {
            static_cast<task_group*>(w.context)->cancel_children();
            return false;
        }
    };

    cancel_scope m_scope;
    std::vector<std::unique_ptr<child>> m_children;
    std::vector<std::exception_ptr> m_errors;
    detail::waiter* m_joiner = nullptr;
    std::size_t m_live = 0;
    bool m_cancelling = false;
    bool m_scope_cancelled = false;
    bool m_closed = false;
};

/// Run `body(group)` and wait for every child it spawns (asyncio.TaskGroup).
/// \throws exception_group with every failure (the body's, then the children's, in
/// order); cancelled_error if the calling task was cancelled from outside.
template <class F>
task<> with_task_group(F body) {
    static_assert(std::is_invocable_r_v<task<>, F&, task_group&>,
                  "with_task_group: body must be callable as task<>(task_group&)");
    task_group g;
    std::exception_ptr body_error;
    {
        // The body runs in the group's scope: a failing child cancels it too.
        task<> t = body(g);
        try {
            co_await g.m_scope.run(std::move(t));
        } catch (...) {
            body_error = std::current_exception();
        }
    }
    bool cancelled = detail::is_cancellation(body_error);
    if (body_error && !cancelled) {
        g.m_errors.insert(g.m_errors.begin(), body_error);
        g.fail();
    } else if (cancelled) {
        g.cancel_children();
    }
    while (g.m_live > 0) {
        if (co_await task_group::join_awaiter{&g, {}}) {
            cancelled = true;
        }
    }
    g.m_closed = true;
    if (!g.m_errors.empty()) {
        throw exception_group(std::move(g.m_errors));
    }
    if (cancelled) {
        throw cancelled_error{};
    }
}

} // namespace corio
