#pragma once
// The loop's timer queue: a 4-ary min-heap of 16-byte entries.
//
// Why this shape: with a million timers the heap is larger than the caches, and each level
// a pop descends is a likely cache miss. A 4-ary heap is half as deep as a binary one, and
// an entry's four children (64 bytes) share one cache line. An entry is
// {deadline, sequence, slot}: the sequence orders timers with the same deadline (first
// armed, first fired) and identifies the arming of the slot, so a cancelled timer needs no
// search: its slot's sequence moves on, and the stale entry is dropped when it reaches the
// top (lazy deletion). When stale entries outnumber live ones the heap is rebuilt.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace corio::detail {

/// A deadline as a heap key, and back: nanoseconds on the loop's clock (steady_clock).
inline std::int64_t to_ns(std::chrono::steady_clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline std::chrono::steady_clock::time_point from_ns(std::int64_t ns) noexcept {
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::nanoseconds(ns)));
}

/// What a timer_handle names: one timer, armed or waiting to run (src/kernel/timers.cpp).
struct timer_slot {
    void (*fire)(void*) = nullptr;
    void* context = nullptr;
    std::uint32_t generation = 0;
    /// The sequence number of the heap entry of the current arming.
    std::uint32_t sequence = 0;
    /// In the heap, waiting for its deadline.
    bool armed = false;
    /// A call_later/call_at callback whose deadline passed, waiting in the ready queue. The
    /// slot stays reserved until the callback runs, so that its timer_handle can still
    /// cancel it (asyncio skips a cancelled TimerHandle that is already in the ready queue).
    bool queued = false;
};

struct timer_entry {
    std::int64_t when; // nanoseconds on the loop's clock
    std::uint32_t sequence;
    std::uint32_t slot;
};

class timer_heap {
public:
    [[nodiscard]] bool empty() const noexcept { return m_entries.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return m_entries.size(); }
    [[nodiscard]] const timer_entry& top() const noexcept { return m_entries.front(); }

    void push(const timer_entry& e) {
        m_entries.push_back(e);
        sift_up(m_entries.size() - 1);
    }

    void pop() noexcept {
        const timer_entry last = m_entries.back();
        m_entries.pop_back();
        if (!m_entries.empty()) {
            sift_down(0, last);
        }
    }

    /// Remove every entry for which `stale(entry)` is true, then restore the heap order.
    template <class Stale>
    void remove_if(Stale stale) {
        std::size_t out = 0;
        for (const timer_entry& e : m_entries) {
            if (!stale(e)) {
                m_entries[out++] = e;
            }
        }
        m_entries.resize(out);
        if (out > 1) {
            for (std::size_t i = (out - 2) / arity + 1; i-- > 0;) {
                sift_down(i, m_entries[i]);
            }
        }
    }

    void clear() noexcept { m_entries.clear(); }

private:
    static constexpr std::size_t arity = 4;

    static bool before(const timer_entry& a, const timer_entry& b) noexcept {
        // Sequence numbers wrap; compare them as a window (a million timers armed at
        // once is far below 2^31).
        return a.when != b.when ? a.when < b.when
                                : static_cast<std::int32_t>(a.sequence - b.sequence) < 0;
    }

    void sift_up(std::size_t i) noexcept {
        const timer_entry moving = m_entries[i];
        while (i > 0) {
            const std::size_t parent = (i - 1) / arity;
            if (!before(moving, m_entries[parent])) {
                break;
            }
            m_entries[i] = m_entries[parent];
            i = parent;
        }
        m_entries[i] = moving;
    }

    void sift_down(std::size_t i, const timer_entry moving) noexcept {
        const std::size_t n = m_entries.size();
        for (;;) {
            const std::size_t first = i * arity + 1;
            if (first >= n) {
                break;
            }
            std::size_t best = first;
            const std::size_t last = first + arity < n ? first + arity : n;
            for (std::size_t c = first + 1; c < last; ++c) {
                if (before(m_entries[c], m_entries[best])) {
                    best = c;
                }
            }
            if (!before(m_entries[best], moving)) {
                break;
            }
            m_entries[i] = m_entries[best];
            i = best;
        }
        m_entries[i] = moving;
    }

    std::vector<timer_entry> m_entries;
};

} // namespace corio::detail
