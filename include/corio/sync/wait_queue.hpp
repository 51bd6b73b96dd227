#pragma once
// The FIFO of parked coroutines behind every synchronization primitive.
//
// A waiter that is woken has been *granted* what it waited for (the lock, a permit, an
// item) before it runs. A cancellation that arrives after that, before the task runs,
// makes the primitive take the grant back (its `revoke`: the lock goes to the next waiter,
// the item back to the queue) and the waiter throws cancelled_error, as in asyncio; a
// primitive without a revoke leaves the grant with the waiter and the cancellation comes
// at the task's next suspension (or ends the task as cancelled if it finishes first). So a
// grant is never lost. A waiter cancelled while still in the queue leaves it and gets
// cancelled_error; nothing was granted to it.

#include "corio/detail/task_state.hpp"

#include <coroutine>
#include <string>

namespace corio::detail {

struct queued_waiter : list_node {
    waiter w;
    /// The awaiter this node belongs to (for primitives that hand over a value).
    void* owner = nullptr;
    /// The queue it waits in.
    const class wait_queue* queue = nullptr;
};

class wait_queue {
public:
    /// `what` names what its waiters wait for, in dump_tasks ("a mutex"): a string that
    /// outlives the queue. `describe`, if given, appends more (who holds the mutex), from
    /// `owner`.
    /// `revoke`, if given, takes back what was granted to waiter `q` (see the file comment),
    /// from `owner`.
    explicit wait_queue(const char* what = "a wait queue",
                        void (*describe)(const void* owner, std::string& out) = nullptr,
                        const void* owner = nullptr,
                        void (*revoke)(void* owner, queued_waiter& q) = nullptr) noexcept
        : m_what(what), m_describe(describe), m_owner(owner), m_revoke(revoke),
          m_revoke_grant(revoke != nullptr ? &revoke_grant : nullptr) {}
    wait_queue(const wait_queue&) = delete;
    wait_queue& operator=(const wait_queue&) = delete;

    [[nodiscard]] bool empty() const noexcept { return m_list.empty(); }

    /// Park the awaiting coroutine `h` at the back of the queue. Returns false (do not
    /// suspend; q.w.cancelled is set) if a cancellation is pending for its task.
    bool park(queued_waiter& q, std::coroutine_handle<> h) noexcept {
        q.w.handle = h;
        q.w.on_cancel = &leave;
        q.w.context = &q;
        q.w.describe = &describe_wait;
        q.w.granted = false; // nothing granted by an earlier wait of the same node
        q.queue = this;
        if (!detail::park(q.w)) {
            return false;
        }
        m_list.push_back(q);
        return true;
    }

    /// The oldest waiter, still queued.
    [[nodiscard]] queued_waiter* front() noexcept {
        return empty() ? nullptr : static_cast<queued_waiter*>(m_list.head.next);
    }

    /// Grant the oldest waiter and wake it; returns it (nullptr if none).
    queued_waiter* wake_one() noexcept {
        auto* q = static_cast<queued_waiter*>(m_list.pop_front());
        if (q != nullptr) {
            q->w.granted = true;
            q->w.revoke = m_revoke_grant;
            wake(q->w);
        }
        return q;
    }

    void wake_all() noexcept {
        while (wake_one() != nullptr) {
        }
    }

    /// Wake every waiter without granting anything (shutdown, abort): each finds
    /// `granted == false` and throws what fits.
    void wake_all_denied() noexcept {
        while (auto* q = static_cast<queued_waiter*>(m_list.pop_front())) {
            wake(q->w);
        }
    }

private:
    static bool leave(waiter& w) noexcept {
        static_cast<queued_waiter*>(w.context)->unlink();
        return true;
    }
    static void revoke_grant(waiter& w) {
        auto& q = *static_cast<queued_waiter*>(w.context);
        q.queue->m_revoke(const_cast<void*>(q.queue->m_owner), q); // NOLINT: owner is mutable
    }
    static void describe_wait(const waiter& w, std::string& out) {
        const wait_queue& q = *static_cast<const queued_waiter*>(w.context)->queue;
        out += q.m_what;
        if (q.m_describe != nullptr) {
            q.m_describe(q.m_owner, out);
        }
    }

    intrusive_list m_list;
    const char* m_what;
    void (*m_describe)(const void* owner, std::string& out);
    const void* m_owner;
    void (*m_revoke)(void* owner, queued_waiter& q);
    /// What a granted waiter's `waiter::revoke` is: revoke_grant if the queue can take a
    /// grant back, else null.
    void (*m_revoke_grant)(waiter&);
};

/// An awaiter that queues on a wait_queue; unlinks itself if destroyed while queued.
/// Movable before it is awaited (to hand it to wait_for, fail_after, spawn...): the move
/// gives the new awaiter a fresh node. Awaiters whose node names its owner set it again.
struct queued_awaiter_base {
    queued_waiter node;
    queued_awaiter_base() = default;
    queued_awaiter_base(queued_awaiter_base&& /*unqueued*/) noexcept {}
    queued_awaiter_base(const queued_awaiter_base&) = delete;
    queued_awaiter_base& operator=(const queued_awaiter_base&) = delete;
    queued_awaiter_base& operator=(queued_awaiter_base&&) = delete;
    ~queued_awaiter_base() { node.unlink(); }
};

} // namespace corio::detail
