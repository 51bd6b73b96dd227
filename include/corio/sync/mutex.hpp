#pragma once
/// \file
/// `corio::mutex`: a lock for coroutines of one loop (asyncio.Lock).
///
/// ```cpp
/// corio::mutex m;
/// {
///     auto guard = co_await m.lock();   // unlocks when guard goes out of scope
///     ...
/// }
/// ```

#include "corio/errors.hpp"
#include "corio/sync/wait_queue.hpp"

#include <utility>

namespace corio {

class mutex;

/// Holds a `mutex` locked; unlocks it when destroyed (or on `unlock()`). Move-only.
class [[nodiscard]] mutex_guard {
public:
    mutex_guard() noexcept = default;
    explicit mutex_guard(mutex& m) noexcept : m_mutex(&m) {}
    mutex_guard(mutex_guard&& other) noexcept : m_mutex(std::exchange(other.m_mutex, nullptr)) {}
    mutex_guard& operator=(mutex_guard&& other) noexcept;
    ~mutex_guard();
    /// Unlock now (the destructor then does nothing).
    void unlock();
    [[nodiscard]] bool owns_lock() const noexcept { return m_mutex != nullptr; }
    /// Stop managing the lock without unlocking it; returns the mutex.
    mutex* release() noexcept { return std::exchange(m_mutex, nullptr); }

private:
    mutex* m_mutex = nullptr;
};

/// A mutual-exclusion lock for coroutines. Waiters get the lock in the order they asked
/// for it; a waiter cancelled before getting it leaves the line, and one cancelled after
/// the lock was handed to it but before it ran passes the lock on to the next waiter and
/// gets cancelled_error (asyncio): the lock is never lost. Not thread-safe.
class mutex {
public:
    mutex() = default;
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;

    /// `co_await m.lock()` → a `mutex_guard`. \throws cancelled_error if cancelled while
    /// waiting (the lock is not held then).
    [[nodiscard]] auto lock() noexcept { return lock_awaiter(*this); }

    /// Take the lock if it is free and nobody waits for it.
    bool try_lock() noexcept {
        if (m_locked || !m_waiters.empty()) {
            return false;
        }
        m_locked = true;
        m_holder = holder_id(detail::current_task_state());
        return true;
    }

    /// Release the lock, handing it to the first waiter if there is one.
    /// \throws invalid_state_error if the mutex is not locked.
    void unlock() {
        if (!m_locked) {
            throw invalid_state_error("mutex.unlock: the mutex is not locked");
        }
        if (detail::queued_waiter* next = m_waiters.wake_one()) {
            m_holder = holder_id(next->w.task);
        } else {
            m_locked = false;
            m_holder = 0;
        }
    }

    [[nodiscard]] bool locked() const noexcept { return m_locked; }

    class [[nodiscard]] lock_awaiter : detail::queued_awaiter_base {
    public:
        explicit lock_awaiter(mutex& m) noexcept : m_mutex(m) {}
        bool await_ready() noexcept { return m_mutex.try_lock(); }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            return m_mutex.m_waiters.park(node, h);
        }
        mutex_guard await_resume() {
            node.w.check_cancelled();
            return mutex_guard(m_mutex);
        }

    private:
        mutex& m_mutex;
    };

private:
    static std::uint64_t holder_id(const detail::task_state_base* t) noexcept {
        return t != nullptr ? t->id() : 0;
    }
    static void describe_holder(const void* self, std::string& out) {
        const auto* m = static_cast<const mutex*>(self);
        if (m->m_holder != 0) {
            out += " held by task #" + std::to_string(m->m_holder);
        }
    }

    /// A waiter cancelled after the lock was handed to it, before it ran, passes it on.
    static void revoke_lock(void* self, detail::queued_waiter& /*q*/) {
        static_cast<mutex*>(self)->unlock();
    }

    detail::wait_queue m_waiters{"a mutex", &describe_holder, this, &revoke_lock};
    bool m_locked = false;
    /// The id of the task holding the lock (0: none, or held outside a task), for
    /// dump_tasks.
    std::uint64_t m_holder = 0;
};

inline mutex_guard& mutex_guard::operator=(mutex_guard&& other) noexcept {
    if (this != &other) {
        if (m_mutex != nullptr) {
            m_mutex->unlock();
        }
        m_mutex = std::exchange(other.m_mutex, nullptr);
    }
    return *this;
}

inline mutex_guard::~mutex_guard() {
    if (m_mutex != nullptr) {
        m_mutex->unlock();
    }
}

inline void mutex_guard::unlock() {
    if (m_mutex == nullptr) {
        throw invalid_state_error("mutex_guard.unlock: the guard does not hold a lock");
    }
    std::exchange(m_mutex, nullptr)->unlock();
}

} // namespace corio
