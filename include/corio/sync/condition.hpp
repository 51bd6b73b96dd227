#pragma once
/// \file
/// `corio::condition` (asyncio.Condition): wait until notified, under a mutex.
///
/// ```cpp
/// corio::condition cond;
/// // consumer
/// auto guard = co_await cond.lock();
/// co_await cond.wait([&] { return !items.empty(); });   // lock released while waiting
/// // producer
/// auto guard = co_await cond.lock();
/// items.push_back(x);
/// cond.notify();
/// ```

#include "corio/errors.hpp"
#include "corio/sync/mutex.hpp"
#include "corio/sync/wait_queue.hpp"
#include "corio/task.hpp"

#include <cstddef>
#include <exception>
#include <memory>

namespace corio {

/// A condition variable for coroutines, bound to a `mutex` (its own, or one given).
class condition {
public:
    /// A condition with a mutex of its own.
    condition() : m_own(std::make_unique<mutex>()), m_mutex(m_own.get()) {}
    /// A condition sharing `m` (which must outlive it).
    explicit condition(mutex& m) noexcept : m_mutex(&m) {}
    condition(const condition&) = delete;
    condition& operator=(const condition&) = delete;

    /// Lock the underlying mutex: `auto guard = co_await cond.lock();`.
    [[nodiscard]] auto lock() noexcept { return m_mutex->lock(); }
    [[nodiscard]] bool locked() const noexcept { return m_mutex->locked(); }
    [[nodiscard]] mutex& underlying_mutex() const noexcept { return *m_mutex; }

    /// Release the lock, wait for `notify`, and take the lock again before returning (also
    /// when cancelled: then cancelled_error follows once the lock is held again, so the
    /// caller's guard stays valid). \throws invalid_state_error if the lock is not held.
    task<> wait() {
        if (!m_mutex->locked()) {
            throw invalid_state_error("condition.wait: the lock is not held");
        }
        m_mutex->unlock();
        std::exception_ptr cancelled;
        try {
            co_await wait_awaiter(*this);
        } catch (const cancelled_error&) {
            cancelled = std::current_exception();
        }
        for (;;) {
            try {
                (co_await m_mutex->lock()).release();
                break;
            } catch (const cancelled_error&) {
                cancelled = std::current_exception();
            }
        }
        if (cancelled) {
            std::rethrow_exception(cancelled);
        }
    }

    /// Wait until `pred()` is true (checked first, and after each notification).
    template <class Pred>
    task<> wait(Pred pred) {
        while (!pred()) {
            co_await wait();
        }
    }

    /// Wake up to `n` waiters. \throws invalid_state_error if the lock is not held.
    void notify(std::size_t n = 1) {
        if (!m_mutex->locked()) {
            throw invalid_state_error("condition.notify: the lock is not held");
        }
        for (std::size_t i = 0; i < n && m_waiters.wake_one() != nullptr; ++i) {
        }
    }
    /// Wake every waiter. \throws invalid_state_error if the lock is not held.
    void notify_all() {
        if (!m_mutex->locked()) {
            throw invalid_state_error("condition.notify_all: the lock is not held");
        }
        m_waiters.wake_all();
    }

private:
    class [[nodiscard]] wait_awaiter : detail::queued_awaiter_base {
    public:
        explicit wait_awaiter(condition& c) noexcept : m_cond(c) {}
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            return m_cond.m_waiters.park(node, h);
        }
        void await_resume() const { node.w.check_cancelled(); }

    private:
        condition& m_cond;
    };

    std::unique_ptr<mutex> m_own;
    mutex* m_mutex;
    detail::wait_queue m_waiters{"a condition"};
};

} // namespace corio
