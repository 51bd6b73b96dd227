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
class semaphore {
public:
    explicit semaphore(std::size_t value = 1) noexcept : m_value(value) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    /// `co_await s.acquire()`. \throws cancelled_error if cancelled while waiting (no
    /// permit is taken then).
    [[nodiscard]] auto acquire() noexcept { return acquire_awaiter(*this); }
    /// Take a permit if one is free and nobody is waiting.
    bool try_acquire() noexcept {
        if (m_value == 0 || !m_waiters.empty()) {
            return false;
        }
        --m_value;
        return true;
    }
    /// Return a permit.
    void release() {
        if (m_waiters.wake_one() == nullptr) {
            ++m_value;
        }
    }
    /// True if `acquire()` would wait.
    [[nodiscard]] bool locked() const noexcept { return m_value == 0 || !m_waiters.empty(); }
    /// Permits free now.
    [[nodiscard]] std::size_t value() const noexcept { return m_value; }

    class acquire_awaiter : detail::queued_awaiter_base {
    public:
        explicit acquire_awaiter(semaphore& s) noexcept : m_sem(s) {}
        bool await_ready() noexcept { return m_sem.try_acquire(); }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            return m_sem.m_waiters.park(node, h);
        }
        void await_resume() const { node.w.check_cancelled(); }

    private:
        semaphore& m_sem;
    };

protected:
    detail::wait_queue m_waiters{"a semaphore"};
    std::size_t m_value;
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
