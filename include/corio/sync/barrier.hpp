#pragma once
/// \file
/// `corio::barrier` (asyncio.Barrier): `parties` coroutines wait until all have arrived.

#include "corio/errors.hpp"
#include "corio/sync/wait_queue.hpp"

#include <cstddef>
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

    /// Wait for the other parties. \throws broken_barrier_error if the barrier is broken
    /// (abort) or reset while waiting; cancelled_error if cancelled.
    [[nodiscard]] auto wait() noexcept { return wait_awaiter(*this); }

    /// Break the barrier: current and future waiters get broken_barrier_error.
    void abort() noexcept {
        m_broken = true;
        m_count = 0;
        m_waiters.wake_all_denied();
    }
    /// Return to the empty state: current waiters get broken_barrier_error.
    void reset() noexcept {
        m_waiters.wake_all_denied();
        m_count = 0;
        m_broken = false;
    }

    [[nodiscard]] std::size_t parties() const noexcept { return m_parties; }
    /// Coroutines waiting now.
    [[nodiscard]] std::size_t n_waiting() const noexcept { return m_count; }
    [[nodiscard]] bool broken() const noexcept { return m_broken; }

    class wait_awaiter : detail::queued_awaiter_base {
    public:
        explicit wait_awaiter(barrier& b) noexcept : m_barrier(b) { node.owner = this; }
        /// Before it is awaited only.
        wait_awaiter(wait_awaiter&& other) noexcept
            : queued_awaiter_base(std::move(other)), m_barrier(other.m_barrier) {
            node.owner = this;
        }
        bool await_ready() noexcept {
            if (m_barrier.m_broken) {
                return true;
            }
            m_index = m_barrier.m_count;
            if (m_index + 1 == m_barrier.m_parties) {
                m_barrier.m_count = 0;
                m_barrier.m_waiters.wake_all();
                node.granted = true;
                return true;
            }
            return false;
        }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            if (!m_barrier.m_waiters.park(node, h)) {
                return false;
            }
            node.w.on_cancel = &leave;
            ++m_barrier.m_count;
            return true;
        }
        std::size_t await_resume() const {
            node.w.check_cancelled();
            if (!node.granted) {
                throw broken_barrier_error();
            }
            return m_index;
        }

    private:
        static bool leave(detail::waiter& w) noexcept {
            auto* q = static_cast<detail::queued_waiter*>(w.context);
            auto* self = static_cast<wait_awaiter*>(q->owner);
            q->unlink();
            --self->m_barrier.m_count;
            return true;
        }
        barrier& m_barrier;
        std::size_t m_index = 0;
    };

private:
    detail::wait_queue m_waiters{"a barrier"};
    std::size_t m_parties;
    std::size_t m_count = 0;
    bool m_broken = false;
};

} // namespace corio
