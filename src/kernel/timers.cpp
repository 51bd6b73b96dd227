// The loop's timer queue: call_later/call_at, the timers awaitables arm (add_timer), their
// cancellation, and moving expired timers to the ready queue once per iteration.
//
// Timers live in a 4-ary min-heap (timer_heap.hpp) of (deadline, sequence) entries pointing
// at slots. A cancelled timer frees its slot and bumps the slot's generation; its heap entry
// stays until it reaches the top and is skipped (lazy deletion). When stale entries
// outnumber live ones the heap is rebuilt, so a program that sets and cancels many long
// timeouts does not grow the heap without bound (asyncio does the same). The loop sleeps in
// the reactor until the earliest live deadline (event_loop::poll_io).

#include "kernel/loop_internals.hpp"

#include "kernel/timer_heap.hpp"

#include <functional>
#include <memory>
#include <stdexcept>
#include <utility>

namespace corio {
namespace detail {
namespace {
// Marks the timers of call_later/call_at (their context is the std::function). Never
// called: process_timers queues those callbacks itself (see timer_slot::queued).
void fire_callback_timer(void*) {}
} // namespace
} // namespace detail

using detail::to_ns;

void timer_handle::cancel() noexcept {
    if (m_loop != nullptr) {
        m_loop->cancel_timer(*this);
    }
}

bool timer_handle::pending() const noexcept {
    return m_loop != nullptr && m_loop->timer_pending(*this);
}

// --- event_loop ------------------------------------------------------------------------

timer_handle event_loop::call_later(clock::duration delay, std::function<void()> fn) {
    return call_at(time() + delay, std::move(fn));
}

timer_handle event_loop::call_at(clock::time_point when, std::function<void()> fn) {
    check_thread("call_at");
    check_open("call_at");
    if (!fn) {
        throw std::invalid_argument("call_at: empty function");
    }
    auto* holder = new std::function<void()>(std::move(fn));
    return add_timer(when, &detail::fire_callback_timer, holder);
}

bool event_loop::timer_entry_stale(const detail::timer_entry& e) const noexcept {
    const detail::timer_slot& s = m_timer_slots[e.slot];
    return !s.armed || s.sequence != e.sequence;
}

void event_loop::drop_stale_timers() noexcept {
    while (!m_timer_heap->empty() && timer_entry_stale(m_timer_heap->top())) {
        m_timer_heap->pop();
        if (m_cancelled_timers > 0) {
            --m_cancelled_timers;
        }
    }
}

timer_handle event_loop::add_timer(clock::time_point when, void (*fire)(void*), void* context) {
    std::uint32_t slot = 0;
    if (!m_free_timer_slots.empty()) {
        slot = m_free_timer_slots.back();
        m_free_timer_slots.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(m_timer_slots.size());
        m_timer_slots.emplace_back();
    }
    detail::timer_slot& s = m_timer_slots[slot];
    s.fire = fire;
    s.context = context;
    s.armed = true;
    s.sequence = m_timer_sequence++;
    m_timer_heap->push({to_ns(when), s.sequence, slot});
    return timer_handle(this, slot, s.generation);
}

bool event_loop::timer_pending(const timer_handle& handle) const noexcept {
    if (handle.m_slot >= m_timer_slots.size()) {
        return false;
    }
    const detail::timer_slot& s = m_timer_slots[handle.m_slot];
    return (s.armed || s.queued) && s.generation == handle.m_generation;
}

void event_loop::cancel_timer(const timer_handle& handle) noexcept {
    if (!timer_pending(handle)) {
        return;
    }
    detail::timer_slot& s = m_timer_slots[handle.m_slot];
    if (s.fire == &detail::fire_callback_timer) {
        delete static_cast<std::function<void()>*>(s.context);
        s.context = nullptr;
    }
    if (s.queued) {
        // Out of the heap already; run_timer_callback finds no callback and frees the slot.
        ++s.generation;
        return;
    }
    s.armed = false;
    ++s.generation;
    m_free_timer_slots.push_back(handle.m_slot);
    ++m_cancelled_timers;
    if (m_cancelled_timers > 64 && m_cancelled_timers * 2 > m_timer_heap->size()) {
        m_timer_heap->remove_if(
            [this](const detail::timer_entry& e) { return timer_entry_stale(e); });
        m_cancelled_timers = 0;
    }
}

void event_loop::process_timers() {
    if (m_timer_heap->empty()) {
        return;
    }
    const std::int64_t now = to_ns(time());
    while (!m_timer_heap->empty()) {
        const detail::timer_entry top = m_timer_heap->top();
        detail::timer_slot& s = m_timer_slots[top.slot];
        const bool stale = timer_entry_stale(top);
        if (!stale && top.when > now) {
            break;
        }
        m_timer_heap->pop();
        if (stale) {
            if (m_cancelled_timers > 0) {
                --m_cancelled_timers;
            }
            continue;
        }
        s.armed = false;
        if (s.fire == &detail::fire_callback_timer) {
            s.queued = true;
            const std::uint32_t slot = top.slot;
            push_callback([this, slot] { run_timer_callback(slot); });
            continue;
        }
        ++s.generation;
        m_free_timer_slots.push_back(top.slot);
        s.fire(s.context);
    }
}

void event_loop::run_timer_callback(std::uint32_t slot) {
    detail::timer_slot& s = m_timer_slots[slot];
    std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(s.context));
    s.context = nullptr;
    s.queued = false;
    ++s.generation;
    m_free_timer_slots.push_back(slot);
    if (fn) {
        (*fn)();
    }
}

void event_loop::clear_timers() noexcept {
    for (detail::timer_slot& s : m_timer_slots) {
        if ((s.armed || s.queued) && s.fire == &detail::fire_callback_timer) {
            delete static_cast<std::function<void()>*>(s.context);
        }
        s.context = nullptr;
        s.armed = false;
        s.queued = false;
    }
    m_timer_heap->clear();
}

} // namespace corio
