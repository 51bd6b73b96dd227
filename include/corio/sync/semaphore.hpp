#pragma once
/// \file
/// `corio::semaphore` and `corio::bounded_semaphore` (asyncio.Semaphore,
/// BoundedSemaphore): limit how many coroutines do something at once.
///
/// ```cpp
/// corio::semaphore slots(10);
/// {
///     auto permit = co_await slots.acquire_guard();   // asyncio's `async with slots:`
///     ... at most 10 coroutines here ...
/// }                                                   // released here, even on exceptions
/// // or by hand:
/// co_await slots.acquire();
/// ...
/// slots.release();
/// ```

#include "corio/errors.hpp"
#include "corio/sync/wait_queue.hpp"

#include <cstddef>
#include <limits>
#include <string>
#include <utility>

namespace corio {

class semaphore;

/// Holds one permit of a `semaphore` (or `bounded_semaphore`) and releases it when
/// destroyed, or earlier with `release()`. Move-only; a moved-from or released guard holds
/// nothing. Made by `co_await s.acquire_guard()`.
class [[nodiscard]] semaphore_guard {
public:
    /// A guard holding nothing.
    semaphore_guard() noexcept = default;
    /// Adopt a permit already taken from `s` (by `acquire()` or `try_acquire()`).
    explicit semaphore_guard(semaphore& s) noexcept : m_sem(&s) {}
    semaphore_guard(semaphore_guard&& other) noexcept
        : m_sem(std::exchange(other.m_sem, nullptr)) {}
    semaphore_guard& operator=(semaphore_guard&& other) noexcept;
    ~semaphore_guard();
    /// Release the permit now (the destructor then does nothing).
    /// \throws invalid_state_error if the guard holds no permit.
    void release();
    [[nodiscard]] bool owns_permit() const noexcept { return m_sem != nullptr; }

private:
    semaphore* m_sem = nullptr;
};

/// A counter of permits. `acquire()` takes one, waiting (FIFO) while there are none;
/// `release()` returns one, handing it straight to the oldest waiter if any. Not
/// thread-safe.
///
/// FIFO holds against a task that releases and acquires again at once: a waiter that was
/// handed a permit but has not run yet still counts as waiting, so the re-acquirer queues
/// behind the waiters already in line (asyncio's order: with waiters B and C woken by two
/// releases, B releasing and re-acquiring runs after C).
class semaphore {
    friend class semaphore_guard;

public:
    explicit semaphore(std::size_t value = 1) noexcept : m_value(value) {}
    semaphore(const semaphore&) = delete;
    semaphore& operator=(const semaphore&) = delete;

    /// `co_await s.acquire()`. \throws cancelled_error if cancelled while waiting (no
    /// permit is taken then).
    [[nodiscard]] auto acquire() noexcept { return acquire_awaiter(*this); }
    /// `auto permit = co_await s.acquire_guard();`: acquire(), giving a `semaphore_guard`
    /// that releases the permit when it goes out of scope (asyncio's `async with s`).
    /// \throws cancelled_error if cancelled while waiting (no permit is taken then).
    [[nodiscard]] auto acquire_guard() noexcept { return acquire_guard_awaiter(*this); }
    /// Take a permit if one is free and nobody is waiting (a waiter handed a permit that
    /// has not resumed yet counts as waiting).
    bool try_acquire() noexcept {
        if (locked()) {
            return false;
        }
        --m_value;
        return true;
    }
    /// Return a permit, handing it to the oldest waiter if there is one.
    /// \throws invalid_state_error for a `bounded_semaphore` whose permits are all free.
    void release() {
        if (m_waiters.empty() && m_value >= m_bound) {
            throw invalid_state_error("bounded_semaphore.release: released more times than "
                                      "acquired (bound " +
                                      std::to_string(m_bound) + ")");
        }
        give_back();
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
            if (node.w.granted && !m_claimed) {
                // Handed a permit, destroyed before it resumed (its loop closed): pass it on.
                m_sem.claim();
                m_sem.give_back();
            }
        }
        bool await_ready() noexcept { return m_sem.try_acquire(); }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            return m_sem.m_waiters.park(node, h);
        }
        void await_resume() {
            if (node.w.granted) {
                m_claimed = true;
                m_sem.claim();
                if (node.w.cancelled) {
                    // Cancelled after the permit was handed over: it goes to the next waiter.
                    m_sem.give_back();
                }
            }
            node.w.check_cancelled();
        }

    protected:
        semaphore& m_sem;

    private:
        bool m_claimed = false;
    };

    class [[nodiscard]] acquire_guard_awaiter : public acquire_awaiter {
    public:
        using acquire_awaiter::acquire_awaiter;
        semaphore_guard await_resume() {
            acquire_awaiter::await_resume();
            return semaphore_guard(m_sem);
        }
    };

protected:
    /// Return a permit without the bound check (it was taken from this semaphore).
    void give_back() noexcept {
        if (m_waiters.wake_one() != nullptr) {
            ++m_unclaimed;
        } else {
            ++m_value;
        }
    }

    /// A waiter handed a permit has resumed: it no longer holds the line. A permit freed
    /// while it held the line goes to the next waiter (asyncio's `_wake_up_next`).
    void claim() noexcept {
        --m_unclaimed;
        if (m_value != 0 && m_waiters.wake_one() != nullptr) {
            --m_value;
            ++m_unclaimed;
        }
    }

    /// A waiter cancelled after a permit was handed to it, before it ran, passes it on (its
    /// await_resume then finds nothing granted and throws cancelled_error).
    static void revoke_permit(void* self, detail::queued_waiter& /*q*/) noexcept {
        auto* s = static_cast<semaphore*>(self);
        s->claim();
        s->give_back();
    }

    detail::wait_queue m_waiters{"a semaphore", nullptr, this, &revoke_permit};
    std::size_t m_value;
    /// Waiters handed a permit that have not resumed yet.
    std::size_t m_unclaimed = 0;
    /// release() refuses to raise the free permits past this (bounded_semaphore).
    std::size_t m_bound = std::numeric_limits<std::size_t>::max();
};

/// A semaphore that refuses to be released more often than it was acquired: `release()`
/// throws invalid_state_error when every permit is already free.
class bounded_semaphore : public semaphore {
public:
    explicit bounded_semaphore(std::size_t value = 1) noexcept : semaphore(value) {
        m_bound = value;
    }
};

inline semaphore_guard& semaphore_guard::operator=(semaphore_guard&& other) noexcept {
    if (this != &other) {
        if (m_sem != nullptr) {
            m_sem->give_back();
        }
        m_sem = std::exchange(other.m_sem, nullptr);
    }
    return *this;
}

inline semaphore_guard::~semaphore_guard() {
    if (m_sem != nullptr) {
        m_sem->give_back();
    }
}

inline void semaphore_guard::release() {
    if (m_sem == nullptr) {
        throw invalid_state_error("semaphore_guard.release: the guard holds no permit");
    }
    std::exchange(m_sem, nullptr)->release();
}

} // namespace corio
