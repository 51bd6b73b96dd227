#pragma once
/// \file
/// `corio::barrier` (asyncio.Barrier): `parties` coroutines wait until all have arrived.
///
/// ```cpp
/// corio::barrier b(3);
/// // in each of three tasks:
/// std::size_t index = co_await b.wait();   // 0, 1, 2 in arrival order
/// ```
///
/// A cycle goes through asyncio's phases. *Filling*: arrivals wait. When the last party
/// arrives the barrier is *draining*: the parties leave `wait()`, each when it next runs,
/// and a task that calls `wait()` again meanwhile waits until every party has left, so it
/// joins the next cycle and not this one. `reset()` while parties are inside makes it
/// *resetting* until they have all left (those still filling get broken_barrier_error,
/// newcomers wait for the reset to finish); `abort()` makes it *broken*. A party released
/// but not yet resumed when the barrier is reset or aborted gets broken_barrier_error too:
/// what a party sees is decided when it resumes, as in asyncio.

#include "corio/errors.hpp"
#include "corio/sync/wait_queue.hpp"
#include "corio/task.hpp"

#include <cstddef>
#include <exception>
#include <stdexcept>

namespace corio {

/// A reusable barrier for `parties` coroutines. Each `co_await b.wait()` returns the
/// arrival index (0 for the first, parties-1 for the one that releases the others). A
/// waiter cancelled before the barrier fills leaves it (and no longer counts). Not
/// thread-safe.
class barrier {
public:
    /// \throws std::invalid_argument if `parties` is 0.
    explicit barrier(std::size_t parties) : m_parties(parties) {
        if (parties == 0) {
            throw std::invalid_argument("barrier: parties must be at least 1");
        }
    }
    barrier(const barrier&) = delete;
    barrier& operator=(const barrier&) = delete;

    /// Wait for the other parties; gives the arrival index. A call made while the barrier
    /// drains or resets first waits for that to finish.
    /// \throws broken_barrier_error if the barrier is broken (abort), or is aborted or
    /// reset while this call waits; cancelled_error if cancelled (the call then no longer
    /// counts as a party).
    [[nodiscard]] task<std::size_t> wait() {
        // Block while the barrier drains or resets (asyncio's _block).
        while (m_state == phase::draining || m_state == phase::resetting) {
            co_await changed();
        }
        if (m_state == phase::broken) {
            throw broken_barrier_error();
        }
        const std::size_t index = m_count++;
        std::exception_ptr error;
        try {
            if (index + 1 == m_parties) {
                m_state = phase::draining; // release the others
                m_changes.wake_all();
            } else {
                while (m_state == phase::filling) {
                    co_await changed();
                }
                if (m_state == phase::broken || m_state == phase::resetting) {
                    throw broken_barrier_error();
                }
            }
        } catch (...) {
            error = std::current_exception();
        }
        leave();
        if (error) {
            std::rethrow_exception(error);
        }
        co_return index;
    }

    /// Break the barrier: current and future waiters get broken_barrier_error, including
    /// parties released but not yet resumed.
    void abort() noexcept {
        m_state = phase::broken;
        m_changes.wake_all();
    }
    /// Return to the empty state: parties still waiting (or released but not yet resumed)
    /// get broken_barrier_error; new calls to `wait()` wait until they have all left. Also
    /// repairs a broken barrier.
    void reset() noexcept {
        m_state = m_count > 0 ? phase::resetting : phase::filling;
        m_changes.wake_all();
    }

    [[nodiscard]] std::size_t parties() const noexcept { return m_parties; }
    /// Parties waiting for the barrier to fill (0 while it drains, resets, or is broken).
    [[nodiscard]] std::size_t n_waiting() const noexcept {
        return m_state == phase::filling ? m_count : 0;
    }
    [[nodiscard]] bool broken() const noexcept { return m_state == phase::broken; }
    /// True while released parties are still leaving `wait()`.
    [[nodiscard]] bool draining() const noexcept { return m_state == phase::draining; }
    /// True after `reset()` until every party inside has left.
    [[nodiscard]] bool resetting() const noexcept { return m_state == phase::resetting; }

private:
    enum class phase { filling, draining, resetting, broken };

    /// Resumes after the next change of phase (a wake means "look again").
    class [[nodiscard]] changed_awaiter : detail::queued_awaiter_base {
    public:
        explicit changed_awaiter(barrier& b) noexcept : m_barrier(b) {}
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            return m_barrier.m_changes.park(node, h);
        }
        void await_resume() const { node.w.check_cancelled(); }

    private:
        barrier& m_barrier;
    };
    changed_awaiter changed() noexcept { return changed_awaiter(*this); }

    /// A party leaves wait() (released, broken, or cancelled). The last one out of a
    /// drain or reset starts the next cycle (asyncio's _exit).
    void leave() noexcept {
        --m_count;
        if (m_count == 0) {
            if (m_state == phase::draining || m_state == phase::resetting) {
                m_state = phase::filling;
            }
            m_changes.wake_all();
        }
    }

    detail::wait_queue m_changes{"a barrier"};
    std::size_t m_parties;
    /// Parties inside wait(): filling, or released and not yet left.
    std::size_t m_count = 0;
    phase m_state = phase::filling;
};

} // namespace corio
