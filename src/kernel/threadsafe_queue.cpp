// The loop's thread-safe queue: call_soon_threadsafe, the only entry into a loop from
// another thread. Callables wait under a mutex; the first one of a batch writes the loop's
// eventfd, which the reactor reports like any fd, and the loop moves the batch to its ready
// queue (event_loop::poll_io calls drain_threadsafe).
//
// Kernel fact: an eventfd's counter saturates instead of overflowing, and a write that
// would exceed it fails with EAGAIN, which leaves it readable: the loop is woken anyway.

#include "corio/event_loop.hpp"

#include <unistd.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace corio {

void event_loop::call_soon_threadsafe(std::function<void()> fn) {
    if (!fn) {
        throw std::invalid_argument("call_soon_threadsafe: empty function");
    }
    std::lock_guard lock(m_threadsafe_mutex);
    if (m_closed) {
        throw invalid_state_error("call_soon_threadsafe: event loop is closed");
    }
    const bool was_empty = m_threadsafe_queue.empty();
    m_threadsafe_queue.push_back(std::move(fn));
    if (was_empty) {
        // Under the lock: close() closes the eventfd under it too, so the write never
        // reaches a closed fd (or another file that reused its number).
        const std::uint64_t one = 1;
        // EAGAIN means the counter is saturated: the loop is woken anyway.
        [[maybe_unused]] const auto written = ::write(m_wakeup_fd, &one, sizeof one);
    }
}

void event_loop::drain_threadsafe() {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto got = ::read(m_wakeup_fd, &count, sizeof count);
    {
        std::lock_guard lock(m_threadsafe_mutex);
        m_threadsafe_batch.swap(m_threadsafe_queue);
    }
    for (auto& fn : m_threadsafe_batch) {
        push_callback(std::move(fn));
    }
    m_threadsafe_batch.clear();
}

} // namespace corio
