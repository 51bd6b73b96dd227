#pragma once
/// \file
/// `corio::queue`, `corio::priority_queue`, `corio::lifo_queue` (asyncio.Queue,
/// PriorityQueue, LifoQueue), with `maxsize` backpressure, `task_done`/`join`, and
/// `shutdown` (Python 3.13).
///
/// ```cpp
/// corio::queue<std::string> jobs(100);          // put() waits while 100 items wait
/// // producer
/// co_await jobs.put(url);
/// // consumer
/// while (true) {
///     std::string url = co_await jobs.get();
///     co_await fetch(url);
///     jobs.task_done();
/// }
/// // or, as an async iterable that ends at shutdown():
/// while (auto url = co_await jobs.next()) { ... }
/// ```
///
/// Waiters are served first come, first served. A `put` that finds a getter waiting hands
/// the item to it directly; a `get` that frees a slot moves the oldest waiting putter's
/// item in. A getter cancelled after an item was handed to it, before it ran, gives the
/// item back (to the next getter, or to the head of the queue, even if the queue has
/// filled up meanwhile) and gets cancelled_error, as in asyncio; a getter cancelled before
/// that leaves the line without taking anything: no item is ever lost to a cancellation.

#include "corio/errors.hpp"
#include "corio/sync/wait_queue.hpp"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

namespace detail {

template <class T>
class fifo_store {
public:
    void push(T&& v) { m_items.push_back(std::move(v)); }
    /// Put back an item just popped, where the next pop finds it.
    void push_back_popped(T&& v) { m_items.push_front(std::move(v)); }
    T pop() {
        T v = std::move(m_items.front());
        m_items.pop_front();
        return v;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

private:
    std::deque<T> m_items;
};

template <class T>
class lifo_store {
public:
    void push(T&& v) { m_items.push_back(std::move(v)); }
    void push_back_popped(T&& v) { m_items.push_back(std::move(v)); }
    T pop() {
        T v = std::move(m_items.back());
        m_items.pop_back();
        return v;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

private:
    std::vector<T> m_items;
};

/// Smallest first (Python's heapq), by `Compare` as "less than".
template <class T, class Compare>
class priority_store {
public:
    void push(T&& v) {
        m_items.push_back(std::move(v));
        std::push_heap(m_items.begin(), m_items.end(), greater());
    }
    void push_back_popped(T&& v) { push(std::move(v)); }
    T pop() {
        std::pop_heap(m_items.begin(), m_items.end(), greater());
        T v = std::move(m_items.back());
        m_items.pop_back();
        return v;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

private:
    auto greater() const {
        return [this](const T& a, const T& b) { return m_less(b, a); };
    }
    std::vector<T> m_items;
    [[no_unique_address]] Compare m_less{};
};

/// The queue logic, shared by the three orders.
template <class T, class Store>
class basic_queue {
public:
    /// `maxsize` 0 means unbounded, as asyncio.
    explicit basic_queue(std::size_t maxsize = 0) noexcept : m_maxsize(maxsize) {}
    basic_queue(const basic_queue&) = delete;
    basic_queue& operator=(const basic_queue&) = delete;

    /// `co_await q.put(v)`: add `v`, waiting while the queue is full.
    /// \throws queue_shut_down if the queue is (or gets) shut down; cancelled_error if
    /// cancelled while waiting (then `v` was not added).
    [[nodiscard]] auto put(T value) { return put_awaiter(*this, std::move(value)); }
    /// `co_await q.get()`: remove and return an item, waiting while the queue is empty.
    /// \throws queue_shut_down once the queue is shut down and empty; cancelled_error if
    /// cancelled while waiting (then nothing was taken).
    [[nodiscard]] auto get() noexcept { return get_awaiter<false>(*this); }
    /// `co_await q.next()`: like get(), but gives an empty optional instead of throwing
    /// once the queue is shut down and empty, so a queue is an async iterable.
    [[nodiscard]] auto next() noexcept { return get_awaiter<true>(*this); }

    /// Add `v` now. \throws queue_full, queue_shut_down.
    void put_nowait(T value) {
        if (m_shutdown) {
            throw queue_shut_down();
        }
        if (!m_getters.empty()) {
            give_to_getter(std::move(value));
            return;
        }
        if (full()) {
            throw queue_full();
        }
        m_items.push(std::move(value));
        ++m_unfinished;
    }
    /// Remove an item now. \throws queue_empty, or queue_shut_down if shut down and empty.
    T get_nowait() {
        if (m_items.size() == 0) {
            if (m_shutdown) {
                throw queue_shut_down();
            }
            throw queue_empty();
        }
        return take();
    }

    /// Mark one item obtained by get() as processed.
    /// \throws invalid_state_error if called more times than items were put.
    void task_done() {
        if (m_unfinished == 0) {
            throw invalid_state_error("queue.task_done: called more times than items were put");
        }
        if (--m_unfinished == 0) {
            m_joiners.wake_all();
        }
    }
    /// `co_await q.join()`: wait until every item put has been marked task_done().
    [[nodiscard]] auto join() noexcept { return join_awaiter(*this); }

    /// Shut the queue down (Python 3.13): put() fails from now on, and get() fails once
    /// the queue is empty; waiting putters (and, if the queue is empty, getters) are woken
    /// with queue_shut_down. `immediate`: also discard the items still queued (counting
    /// them as done for join()) so getters fail at once.
    void shutdown(bool immediate = false) {
        m_shutdown = true;
        if (immediate) {
            const std::size_t dropped = m_items.size();
            m_items.clear();
            m_unfinished = dropped > m_unfinished ? 0 : m_unfinished - dropped;
            if (m_unfinished == 0) {
                m_joiners.wake_all();
            }
        }
        m_putters.wake_all_denied();
        if (m_items.size() == 0) {
            m_getters.wake_all_denied();
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    [[nodiscard]] bool empty() const noexcept { return m_items.size() == 0; }
    [[nodiscard]] bool full() const noexcept {
        return m_maxsize != 0 && m_items.size() >= m_maxsize;
    }
    [[nodiscard]] std::size_t maxsize() const noexcept { return m_maxsize; }
    [[nodiscard]] bool is_shut_down() const noexcept { return m_shutdown; }

    class [[nodiscard]] put_awaiter : queued_awaiter_base {
    public:
        put_awaiter(basic_queue& q, T&& value) : m_queue(q), m_value(std::move(value)) {
            node.owner = this;
        }
        /// Before it is awaited only.
        put_awaiter(put_awaiter&& other) noexcept(std::is_nothrow_move_constructible_v<T>)
            : queued_awaiter_base(std::move(other)), m_queue(other.m_queue),
              m_value(std::move(other.m_value)) {
            node.owner = this;
        }
        bool await_ready() {
            if (m_queue.m_shutdown) {
                return true;
            }
            if (!m_queue.m_getters.empty()) {
                m_queue.give_to_getter(std::move(*m_value));
                m_value.reset();
                return true;
            }
            if (!m_queue.full() && m_queue.m_putters.empty()) {
                m_queue.m_items.push(std::move(*m_value));
                m_value.reset();
                ++m_queue.m_unfinished;
                return true;
            }
            return false;
        }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            return m_queue.m_putters.park(node, h);
        }
        void await_resume() const {
            if (!m_value) {
                return; // added (by await_ready, or by a get that took it in)
            }
            node.w.check_cancelled();
            throw queue_shut_down();
        }

    private:
        friend class basic_queue;
        basic_queue& m_queue;
        std::optional<T> m_value;
    };

    /// get() (`Iterating` false: gives T) and next() (true: gives std::optional<T>).
    template <bool Iterating>
    class [[nodiscard]] get_awaiter : queued_awaiter_base {
    public:
        explicit get_awaiter(basic_queue& q) noexcept : m_queue(q) { node.owner = &m_item; }
        /// Before it is awaited only.
        get_awaiter(get_awaiter&& other) noexcept
            : queued_awaiter_base(std::move(other)), m_queue(other.m_queue) {
            node.owner = &m_item;
        }
        bool await_ready() {
            if (m_queue.m_items.size() != 0) {
                m_item.emplace(m_queue.take());
                return true;
            }
            return m_queue.m_shutdown;
        }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            return m_queue.m_getters.park(node, h);
        }
        std::conditional_t<Iterating, std::optional<T>, T> await_resume() {
            if (!m_item) {
                node.w.check_cancelled();
                if constexpr (Iterating) {
                    return std::nullopt;
                } else {
                    throw queue_shut_down();
                }
            }
            if constexpr (Iterating) {
                return std::move(m_item);
            } else {
                return std::move(*m_item);
            }
        }

    private:
        basic_queue& m_queue;
        std::optional<T> m_item;
    };

    class [[nodiscard]] join_awaiter : queued_awaiter_base {
    public:
        explicit join_awaiter(basic_queue& q) noexcept : m_queue(q) {}
        bool await_ready() const noexcept { return m_queue.m_unfinished == 0; }
        bool await_suspend(std::coroutine_handle<> h) noexcept {
            return m_queue.m_joiners.park(node, h);
        }
        void await_resume() const { node.w.check_cancelled(); }

    private:
        basic_queue& m_queue;
    };

private:
    /// Pop an item; if putters wait, the oldest one's item takes the freed slot.
    T take() {
        T v = m_items.pop();
        if (queued_waiter* q = m_putters.front(); q != nullptr && !full()) {
            auto* p = static_cast<put_awaiter*>(q->owner);
            m_items.push(std::move(*p->m_value));
            p->m_value.reset();
            ++m_unfinished;
            m_putters.wake_one();
        }
        return v;
    }

    void give_to_getter(T&& v) {
        queued_waiter* q = m_getters.front();
        // Each getter's node points at the slot its item goes to.
        static_cast<std::optional<T>*>(q->owner)->emplace(std::move(v));
        ++m_unfinished;
        m_getters.wake_one();
    }

    /// A getter cancelled after an item was handed to it, before it ran, gives it back.
    static void revoke_item(void* self, queued_waiter& q) {
        auto& queue = *static_cast<basic_queue*>(self);
        auto& slot = *static_cast<std::optional<T>*>(q.owner);
        T v = std::move(*slot);
        slot.reset();
        if (!queue.m_getters.empty()) {
            --queue.m_unfinished; // give_to_getter counts it again
            queue.give_to_getter(std::move(v));
        } else {
            queue.m_items.push_back_popped(std::move(v));
        }
    }

    Store m_items;
    wait_queue m_getters{"an item from a queue", nullptr, this, &revoke_item};
    wait_queue m_putters{"room in a queue"};
    wait_queue m_joiners{"a queue's join (task_done)"};
    std::size_t m_maxsize;
    std::size_t m_unfinished = 0;
    bool m_shutdown = false;
};

} // namespace detail

/// First in, first out (asyncio.Queue). Not thread-safe.
template <class T>
class queue : public detail::basic_queue<T, detail::fifo_store<T>> {
public:
    using detail::basic_queue<T, detail::fifo_store<T>>::basic_queue;
};

/// Last in, first out (asyncio.LifoQueue). Not thread-safe.
template <class T>
class lifo_queue : public detail::basic_queue<T, detail::lifo_store<T>> {
public:
    using detail::basic_queue<T, detail::lifo_store<T>>::basic_queue;
};

/// Smallest item first, by `Compare` as "less than" (asyncio.PriorityQueue). Not
/// thread-safe.
template <class T, class Compare = std::less<T>>
class priority_queue : public detail::basic_queue<T, detail::priority_store<T, Compare>> {
public:
    using detail::basic_queue<T, detail::priority_store<T, Compare>>::basic_queue;
};

} // namespace corio
