#pragma once
/// \file
/// `corio::semaphore` and `corio::bounded_semaphore` (asyncio.Semaphore,
/// BoundedSemaphore): limit how many coroutines do something at once.
///
/// ```cpp
/// corio::semaphore slots(10);
/// co_await slots.acquire();
/// ... at most 10 coroutines here ...
/// slots.release();
/// ```

#include "corio/errors.hpp"
#include "corio/sync/wait_queue.hpp"

#include <cstddef>
#include <string>

namespace corio {

/// A counter of permits. `acquire()` takes one, waiting (FIFO) while there are none;
/// `release()` returns one, handing it straight to the oldest waiter if any. Not
/// thread-safe.
///
/// FIFO holds against a task that releases and acquires again at once: a waiter that was
/// handed a permit but has not run yet still counts as waiting, so the re-acquirer queues
/// behind the waiters already in line (asyncio's order: with waiters B and C woken by two
/// releases, B releasing and re-acquiring runs after C).
class semaphore {
public:
    explicit semaphore(std::size_t value = 1) noexcept : m_value(value) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    /// `co_await s.acquire()`. \throws cancelled_error if cancelled while waiting (no
    /// permit is taken then).
    [[nodiscard]] auto acquire() noexcept { return acquire_awaiter(*this); }
    /// Take a permit if one is free and nobody is waiting (a waiter handed a permit that
    /// has not resumed yet counts as waiting).
    bool try_acquire() noexcept {
        if (locked()) {
            return false;
        }
        --m_value;
        return true;
    }
    /// Return a permit.
    void release() {
        if (m_waiters.wake_one() != nullptr) {
            ++m_unclaimed;
        } else {
            ++m_value;
        }
    }
    /// True if `acquire()` would wait.
    [[nodiscard]] bool locked() const noexcept {
        return m_value == 0 || !m_waiters.empty() || m_unclaimed != 0;
    }
    /// Permits free now.
    [[nodiscard]] std::size_t value() const noexcept { return m_value; }

    class [[nodiscard]] acquire_awaiter : detail::queued_awaiter_base {
    public:
        explicit acquire_awaiter(semaphore& s) noexcept : m_sem(s) {}
        acquire_awaiter(acquire_awaiter&&) noexcept = default;
        ~acquire_awaiter() {
            if (node.granted && !m_claimed) {
                // Handed a permit, destroyed before it resumed (its loop closed): pass it on.
                m_sem.claim();
                m_sem.release();
            }
        }
        bool await_ready() noexcept { return m_sem.try_acquire(); }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            return m_sem.m_waiters.park(node, h);
        }
        void await_resume() {
            if (node.granted) {
                m_claimed = true;
                m_sem.claim();
                if (node.w.cancelled) {
                    // Cancelled after the permit was handed over: it goes to the next waiter.
                    m_sem.release();
                }
            }
            node.w.check_cancelled();
        }

    private:
        semaphore& m_sem;
        bool m_claimed = false;
    };

protected:
    /// A waiter handed a permit has resumed: it no longer holds the line. A permit freed
    /// while it held the line goes to the next waiter (asyncio's `_wake_up_next`).
    void claim() noexcept {
        --m_unclaimed;
        if (m_value != 0 && m_waiters.wake_one() != nullptr) {
            --m_value;
            ++m_unclaimed;
        }
    }

    detail::wait_queue m_waiters{"a semaphore"};
    std::size_t m_value;
    /// Waiters handed a permit that have not resumed yet.
    std::size_t m_unclaimed = 0;
};

/// A semaphore that refuses to be released more often than it was acquired.
class bounded_semaphore : public semaphore {
public:
    explicit bounded_semaphore(std::size_t value = 1) noexcept : semaphore(value), m_bound(value) {}
    /// \throws invalid_state_error if every permit is already free.
    void release() {
        if (m_waiters.empty() && m_value >= m_bound) {
            throw invalid_state_error("bounded_semaphore.release: released more times than "
                                      "acquired (bound " +
                                      std::to_string(m_bound) + ")");
        }
        semaphore::release();
    }

private:
    std::size_t m_bound;
};

} // namespace corio
