#pragma once
// The control block of a spawned task, and the protocol every suspending corio awaitable
// follows so that cancellation reaches it.
//
// A spawned task is a user `task<T>` frame plus this control block. The loop resumes
// coroutines with the control block of the task they belong to (`event_loop::schedule`),
// so while a step runs, `current_task_state()` names the task, and every awaitable it
// reaches can find it.
//
// Parking: a corio awaitable that suspends fills a `waiter` (the handle to resume, and how
// to detach from what it waits on) and calls `park()`. If the task already has a
// cancellation pending, `park()` refuses and the awaitable does not suspend: its
// await_resume throws `cancelled_error` at once. Otherwise the task records the waiter as
// the place it is parked at. Whatever completes the wait calls `wake()`.
//
// Woken, not yet run: between `wake()` and the task's next step the task remembers the
// waiter it was woken from. A cancellation arriving then is delivered at that resume point
// (its await_resume throws `cancelled_error`, as asyncio throws into a task that was
// scheduled when `cancel()` came). If the wake granted the waiter something (a lock, a
// permit, an item: `granted`), the grant is given back first (`revoke`: the lock to the
// next waiter, the item to the queue), as asyncio's primitives do in their cancellation
// handlers. A grant that cannot be undone (a signal, an I/O operation's result) is kept:
// the wait completes, and the cancellation waits for the task's next suspension point. If
// the task finishes without reaching one, it ends cancelled (asyncio's "task is cancelled
// right before the coroutine stops"): a cancellation `cancel()` reported as sent always
// arrives.
//
// Cancelling: a cancellation is requested of a *scope*: the task's root scope
// (join_handle::cancel) or a `cancel_scope` entered inside the task (deadlines, task
// groups). The request is delivered to the task once: at the waiter it is parked at
// (detached and resumed, or told to throw when it wakes), or, when the task is running,
// at its next park. When `cancelled_error` reaches the boundary of a scope that requested
// it, the scope absorbs it only if no enclosing scope also asked for cancellation; that is
// how an outer cancellation survives an inner timeout or task group that expires at the
// same moment (python/cpython#95289, #116720).
//
// Attribution of a pending cancellation: a request made while the task is not parked (it is
// running, or already scheduled to resume) waits for the next park, and the scope that made
// it is marked `pending`. The task's single pending flag is what park() consults; the
// per-scope marks say whose it is, so that:
//   - a scope left without its request having been delivered (the body finished first)
//     takes its request with it, unless an enclosing scope still has one waiting: a
//     deadline passing in the same iteration as the body's wake-up does not leak a
//     cancellation out of the scope;
//   - a cancelled_error crossing a scope boundary carries the requests of every enclosing
//     scope (it will reach them): they stop being pending, so a cancel that arrived while
//     the error was already on its way is not delivered a second time to the cleanup code
//     that catches it.
// Root requests (cancel(), in src/kernel/task_state.cpp) do not pass through the header;
// the header notices the first one when it next looks (observe_root_request), which is
// exact because between two looks the only possible events are root requests.
//
// Requests already served do not count against a scope entered later: every request gets
// a sequence number, and a scope remembers how many had been delivered when it was entered.
// Code that caught its cancellation and then runs `move_on_after(500ms, proc.wait())` to
// clean up gets its timeout, as asyncio compares `Task.cancelling()` with the count taken
// when a timeout is entered; a request still in flight when the scope is entered, or made
// while it runs, still wins over the scope's own deadline.

#include "corio/detail/frame_allocator.hpp"
#include "corio/detail/transfer.hpp"
#include "corio/errors.hpp"
#include "corio/task.hpp"

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

namespace corio {
class event_loop;
}

namespace corio::detail {

class task_state_base;

/// A coroutine parked on a corio awaitable.
struct waiter {
    std::coroutine_handle<> handle;
    task_state_base* task = nullptr;
    /// Called when the task is cancelled while parked here. Returns true if it detached the
    /// waiter from what it waits on (the loop then resumes it, and it throws
    /// cancelled_error); false if the waiter stays where it is and will be woken later
    /// (it throws cancelled_error then). Not called for a waiter already woken whose task
    /// has not run yet: that one just finds `cancelled` set when it resumes, so an awaiter
    /// that passes cancellation on (to children) does it in await_resume too.
    bool (*on_cancel)(waiter&) = nullptr;
    /// The awaiter this waiter belongs to, for on_cancel.
    void* context = nullptr;
    /// Appends what the waiter waits for ("a timer due in 1.500 s"), for dump_tasks.
    void (*describe)(const waiter&, std::string& out) = nullptr;
    bool cancelled = false;
    /// Set by what woke the waiter when the wake handed it something the task must not lose
    /// (a lock, a permit, an item, a signal): a cancellation arriving before the task runs
    /// then waits for its next suspension point instead of being thrown here, unless the
    /// grant can be given back (`revoke`).
    bool granted = false;
    /// Gives a grant back (the lock to the next waiter, the item to its queue), so that a
    /// cancellation arriving between the wake and the task's next step is thrown here, as
    /// asyncio throws it where the task was woken from. Null when a grant cannot be undone
    /// (a signal, an I/O operation's result).
    void (*revoke)(waiter&) = nullptr;

    /// Throw cancelled_error if the wait ended by cancellation.
    void check_cancelled() const {
        if (cancelled) {
            throw cancelled_error{};
        }
    }
};

/// A node in an intrusive doubly linked list (completion listeners, all tasks).
struct list_node {
    list_node* prev = nullptr;
    list_node* next = nullptr;
    [[nodiscard]] bool linked() const noexcept { return prev != nullptr; }
    void unlink() noexcept {
        if (prev != nullptr) {
            prev->next = next;
            next->prev = prev;
            prev = next = nullptr;
        }
    }
};

/// A circular list with a sentinel head.
struct intrusive_list {
    list_node head;
    intrusive_list() noexcept { head.prev = head.next = &head; }
    intrusive_list(const intrusive_list&) = delete;
    intrusive_list& operator=(const intrusive_list&) = delete;
    [[nodiscard]] bool empty() const noexcept { return head.next == &head; }
    void push_back(list_node& n) noexcept {
        n.prev = head.prev;
        n.next = &head;
        head.prev->next = &n;
        head.prev = &n;
    }
    list_node* pop_front() noexcept {
        if (empty()) {
            return nullptr;
        }
        list_node* n = head.next;
        n->unlink();
        return n;
    }
};

/// Something to run when a task (or future) completes.
struct completion_listener : list_node {
    void (*on_complete)(completion_listener&) = nullptr;
    /// The object this listener belongs to, for on_complete.
    void* context = nullptr;
};

/// A cancel scope as the task sees it.
struct scope_state {
    scope_state* parent = nullptr;
    task_state_base* task = nullptr;
    bool requested = false;
    /// Requested while the task was not parked, and not delivered yet (see the file comment).
    bool pending = false;
    /// The task's sequence number of this scope's latest request (0: none).
    std::uint32_t request_seq = 0;
    /// How many of the task's requests had been delivered when the scope was entered.
    std::uint32_t served_at_entry = 0;

    /// True if a scope enclosing this one (up to and including the task's root scope)
    /// has requested cancellation, and that request was not already delivered (and caught)
    /// before this scope was entered.
    [[nodiscard]] bool enclosing_requested() const noexcept {
        for (const scope_state* s = parent; s != nullptr; s = s->parent) {
            if (s->requested && s->request_seq > served_at_entry) {
                return true;
            }
        }
        return false;
    }
};

/// A task's node in its loop's list of tasks.
struct task_list_node : list_node {
    task_state_base* owner = nullptr;
};

/// The control block of a spawned task. Reference counted: the loop holds one reference
/// until the task finishes, each join_handle holds one.
class task_state_base {
public:
    task_state_base(event_loop& loop, std::coroutine_handle<> frame,
                    task_promise_base& promise) noexcept;
    task_state_base(const task_state_base&) = delete;
    task_state_base& operator=(const task_state_base&) = delete;

    void add_ref() noexcept { ++m_refs; }
    void release() noexcept {
        if (--m_refs == 0) {
            destroy();
        }
    }

    [[nodiscard]] bool done() const noexcept { return m_done; }
    [[nodiscard]] bool cancelled() const noexcept { return m_cancelled; }
    [[nodiscard]] std::uint64_t id() const noexcept { return m_id; }
    /// The task joins task group `group`, made by task `owner`: dump_tasks shows it in
    /// that group, under the owner.
    void join_group(std::uint32_t group, std::uint64_t owner) noexcept {
        m_group = group;
        m_spawned_by = owner;
    }
    [[nodiscard]] std::string name() const;
    void set_name(std::string name);
    /// Where `e` was thrown, if it is the exception recorded by `record_throw_site` (the chain
    /// of awaits from the coroutine it left first); else empty.
    [[nodiscard]] std::string thrown_at(const std::exception_ptr& e) const;
    /// The task ended with an exception: keep where it was thrown, if that was recorded
    /// (record_throw_site), for its report.
    void keep_throw_site() noexcept;
    [[nodiscard]] event_loop* loop() const noexcept { return m_loop; }

    /// Request cancellation of the whole task. Returns false if it has already finished.
    bool cancel();

    /// The exception that ended the task, if any; marks it retrieved.
    [[nodiscard]] std::exception_ptr exception() noexcept {
        m_exception_retrieved = true;
        return m_promise->m_exception;
    }
    /// Rethrow what ended the task, if it did not return.
    void rethrow_if_failed() {
        if (m_promise->m_exception) {
            m_exception_retrieved = true;
            std::rethrow_exception(m_promise->m_exception);
        }
    }

    void add_listener(completion_listener& l) noexcept { m_listeners.push_back(l); }

    // --- cancellation machinery (see the file comment) ---
    /// Deliver a cancellation requested by one of this task's scopes.
    void deliver_cancel();
    /// Park at `w`; false if a pending cancellation must be delivered instead.
    [[nodiscard]] bool park(waiter& w) noexcept {
        if (m_cancel_pending) {
            cancel_delivered();
            w.cancelled = true;
            return false;
        }
        m_parked = &w;
        return true;
    }
    void unpark(const waiter& w) noexcept {
        if (m_parked == &w) {
            m_parked = nullptr;
        }
    }

    scope_state m_root_scope;
    scope_state* m_scope = &m_root_scope;

    /// Called from the final suspend point of the task's frame.
    void complete() noexcept;

    /// Destroy the frame of a task that never finished (loop shutdown).
    void abandon() noexcept;

    /// True if a cancellation is waiting for the task's next suspension point; clears it.
    [[nodiscard]] bool take_pending_cancel() noexcept {
        const bool pending = m_cancel_pending;
        if (pending) {
            cancel_delivered();
        }
        return pending;
    }

    // --- cancel scopes (corio/cancel_scope.hpp) ---
    /// Scope `s`, active in this task, requests cancellation: delivered now if the task is
    /// parked, else at its next park.
    void request_cancel(scope_state& s) {
        observe_root_request();
        s.requested = true;
        s.request_seq = ++m_requests;
        if (m_done) {
            return;
        }
        if (!deliverable_now()) {
            s.pending = true;
        }
        deliver_cancel();
    }
    /// The task enters scope `s`, which becomes its innermost one.
    void enter_scope(scope_state& s) noexcept {
        observe_root_request();
        s.task = this;
        s.parent = m_scope;
        s.served_at_entry = m_served;
        m_scope = &s;
    }
    /// Leave `s`, the innermost active scope. `cancellation_leaving`: a cancelled_error is
    /// propagating out of it (absorbed by it or not).
    void leave_scope(scope_state& s, bool cancellation_leaving) noexcept {
        observe_root_request();
        m_scope = s.parent;
        if (cancellation_leaving) {
            // The error reaches every enclosing scope that asked: their requests are served.
            s.pending = false;
            cancel_delivered();
            return;
        }
        if (s.pending) {
            s.pending = false;
            bool enclosing_pending = false;
            for (const scope_state* e = m_scope; e != nullptr; e = e->parent) {
                enclosing_pending = enclosing_pending || e->pending;
            }
            if (!enclosing_pending) {
                m_cancel_pending = false;
            }
        }
    }
    /// Ask again, for the next park, for the cancellation every active scope has requested.
    /// For code that received a cancellation and must report something else instead (a task
    /// group raising its children's failures): the requests are not lost.
    void renew_requested_cancel() {
        observe_root_request();
        if (m_done || m_parked != nullptr) {
            return;
        }
        for (scope_state* s = m_scope; s != nullptr; s = s->parent) {
            if (s->requested) {
                s->pending = true;
                m_cancel_pending = true;
            }
        }
    }

    task_list_node m_all_tasks_node;

    /// Control blocks come from the per-thread recycling allocator.
    static void* operator new(std::size_t size) { return allocate_frame(size); }
    static void operator delete(void* block, std::size_t size) noexcept {
        deallocate_frame(block, size);
    }

protected:
    virtual ~task_state_base();
    /// "Task exception was never retrieved".
    void report_unretrieved() noexcept;
    [[gnu::cold, gnu::noinline]] void report_unretrieved_now() noexcept;
    void destroy() noexcept { delete this; }

    event_loop* m_loop;
    std::coroutine_handle<> m_frame;
    task_promise_base* m_promise;

private:
    friend class corio::event_loop;
    /// Bring the root scope's `pending` mark up to date with requests made by cancel().
    void observe_root_request() noexcept {
        if (m_root_scope.requested && !m_root_request_seen) {
            m_root_request_seen = true;
            // Made while parked: delivered at once, and nothing can be pending since. Made
            // while not parked: it is (part of) what is pending now.
            m_root_scope.pending = m_cancel_pending;
        }
    }
    /// True if a cancellation requested now reaches the task at once: it is parked, or it
    /// was woken without a grant and has not run since.
    [[nodiscard]] bool deliverable_now() const noexcept {
        return m_parked != nullptr ||
               (m_woken != nullptr && (!m_woken->granted || m_woken->revoke != nullptr));
    }
    /// A cancelled_error is thrown at the task's suspension point (or start): every request
    /// made so far is served.
    void cancel_delivered() noexcept {
        observe_root_request();
        m_served = m_requests;
        m_cancel_pending = false;
        for (scope_state* s = m_scope; s != nullptr; s = s->parent) {
            s->pending = false;
        }
    }

    waiter* m_parked = nullptr;
    /// The waiter the task was woken from, until its next step starts (see the file comment).
    waiter* m_woken = nullptr;
    intrusive_list m_listeners;
    /// The id of the task that spawned this one (0: none), for dump_tasks.
    std::uint64_t m_spawned_by = 0;
    /// What few tasks have: a name given, where the exception that ended it was thrown.
    struct extras {
        std::string name;
        bool named = false;
        /// The exception whose throw site `thrown_at` is, and that site (innermost first).
        std::exception_ptr thrown;
        std::string thrown_at;
    };
    std::unique_ptr<extras> m_extras;
    std::uint64_t m_id;
    std::uint32_t m_refs = 1;
    /// The task group this task is a child of (0: none), for dump_tasks.
    std::uint32_t m_group = 0;
    /// Cancellation requests made of the task's scopes so far, and how many of them had been
    /// delivered at the last delivery (see the file comment).
    std::uint32_t m_requests = 0;
    std::uint32_t m_served = 0;
    bool m_cancel_pending = false;
    bool m_root_request_seen = false;
    bool m_done = false;
    bool m_cancelled = false;
    bool m_exception_retrieved = false;

protected:
    bool m_result_taken = false;
};

/// A new task group id (never 0), for dump_tasks.
std::uint32_t next_task_group_id() noexcept;

/// The task whose step is running on this thread's loop, or nullptr.
task_state_base* current_task_state() noexcept;

/// "1.500 s": a duration for dump_tasks.
std::string format_seconds(std::chrono::nanoseconds d);
/// A task's chain of awaits from its root coroutine to the innermost one, innermost first:
/// `fetch() ← worker()`, or with CORIO_AWAIT_SITES `crawl.cpp:88 fetch() ← crawl.cpp:120
/// worker()`.
std::string await_chain(const task_promise_base& root);
/// The chain from `innermost` outwards through the coroutines awaiting it.
std::string chain_outwards(const task_promise_base& innermost);

/// Park the current coroutine at `w` (see the file comment). Returns false if it must not
/// suspend because a cancellation is pending (w.cancelled is then set).
bool park(waiter& w) noexcept;
/// Resume a parked waiter on its loop.
void wake(waiter& w) noexcept;

/// True if `e` holds a cancelled_error.
bool is_cancellation(const std::exception_ptr& e) noexcept;

} // namespace corio::detail
