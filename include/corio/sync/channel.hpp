#pragma once
// corio::channel<T>: a bounded channel between loops and threads (Go's buffered channel,
// trio's memory channel). Any number of producers and consumers, each a coroutine on any
// loop or a plain thread:
//
//     corio::channel<job> jobs(64);
//     co_await jobs.send(j);                            // a coroutine, on any loop
//     while (std::optional<job> j = co_await jobs.receive()) { ... }   // until closed
//                                         // (or jobs.next(): a channel is async_iterable)
//     jobs.send_blocking(j);                            // a plain thread
//     jobs.close();                                     // receivers drain, then get nullopt
//
// A channel is a handle: copies share one channel, which lives while a copy does.
//
// How it works. One mutex guards the buffer and the queues of parked senders and
// receivers. A send with receivers parked hands its item to the oldest one; a receive that
// frees a place in a full buffer reserves it for the oldest parked sender. The parked side
// is then woken on its own loop, through call_soon_threadsafe when that loop runs on
// another thread (or at once when it is this thread's), or through its condition variable.
//
// Cancellation loses no item: a receive cancelled while parked leaves the queue; one
// cancelled after an item was handed to it, before it ran, gives the item back to the
// front of the channel (to the next parked receiver, or the buffer, which may then hold
// one more than its capacity) and throws cancelled_error. A send cancelled while parked
// keeps its item (not sent); one cancelled after a place was reserved for it gives the
// place to the next parked sender.

#include "corio/detail/task_state.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"

#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace corio {

template <class T>
class channel {
    struct shared;
    // One parked send or receive: a coroutine's (loop, waiter) or a thread's (cv).
    struct node {
        enum class state : unsigned char {
            waiting,   // in its queue
            granted,   // a receiver was handed `item`; a sender got a reserved place
            closed,    // the channel closed while it waited
            abandoned, // its awaiter is gone, or took what it was granted
        };
        node(shared* s, bool r) noexcept : owner(s), receiving(r) {}
        shared* owner; // kept alive by the awaiter or thread that waits
        bool receiving;
        state st = state::waiting;
        std::optional<T> item; // a receiver's, once handed
        event_loop* loop = nullptr;
        detail::waiter w;
        std::condition_variable cv; // a thread's
        bool thread = false;
    };
    using node_ptr = std::shared_ptr<node>;

    struct shared {
        explicit shared(std::size_t cap) : capacity(cap) {}
        std::weak_ptr<shared> self; // for a wake posted to another loop
        std::mutex m;
        std::deque<T> items;
        std::size_t capacity;
        std::size_t reserved = 0; // places reserved for woken senders
        bool closed = false;
        std::deque<node_ptr> receivers;
        std::deque<node_ptr> senders;

        [[nodiscard]] bool full() const noexcept { return items.size() + reserved >= capacity; }

        /// Take `n` out of its queue (locked).
        void erase(const node* n) {
            std::deque<node_ptr>& q = n->receiving ? receivers : senders;
            for (auto it = q.begin(); it != q.end(); ++it) {
                if (it->get() == n) {
                    q.erase(it);
                    return;
                }
            }
        }

        /// Give `v` to the oldest parked receiver, else to the buffer (at the front if it
        /// goes back). Locked; the node to wake, if any.
        node_ptr deliver(T&& v, bool front) {
            if (!receivers.empty()) {
                node_ptr r = std::move(receivers.front());
                receivers.pop_front();
                r->item.emplace(std::move(v));
                r->st = node::state::granted;
                return r;
            }
            if (front) {
                items.push_front(std::move(v));
            } else {
                items.push_back(std::move(v));
            }
            return nullptr;
        }

        /// Whether a send can go now (locked): to a parked receiver, or into a free place
        /// that no parked sender is owed.
        [[nodiscard]] bool can_send() const noexcept {
            return !receivers.empty() || (!full() && senders.empty());
        }

        /// Take the oldest buffered item (locked; there is one). The place it frees goes
        /// to the oldest parked sender, left in `woken`.
        T take(node_ptr& woken) {
            T v(std::move(items.front()));
            items.pop_front();
            woken = reserve_for_sender();
            return v;
        }

        /// `n`'s waiter is done with it (locked): out of its queue if still there, and what
        /// it was granted and did not take given back (a receiver's item to the front, a
        /// sender's reserved place to the next sender). The node to wake, if any.
        node_ptr release(node& n) {
            node_ptr woken;
            if (n.st == node::state::waiting) {
                erase(&n);
            } else if (n.st == node::state::granted) {
                if (!n.receiving) {
                    --reserved;
                    woken = reserve_for_sender();
                } else if (n.item) {
                    woken = deliver(std::move(*n.item), true);
                    n.item.reset();
                }
            }
            n.st = node::state::abandoned;
            return woken;
        }

        /// If a place is free and senders wait, reserve it for the oldest. Locked; the node
        /// to wake, if any.
        node_ptr reserve_for_sender() {
            if (senders.empty() || full()) {
                return nullptr;
            }
            node_ptr s = std::move(senders.front());
            senders.pop_front();
            ++reserved;
            s->st = node::state::granted;
            return s;
        }
    };

public:
    /// A channel holding up to `capacity` items (at least 1).
    /// \throws std::invalid_argument if `capacity` is 0.
    explicit channel(std::size_t capacity) : m_shared(make(capacity)) {}

    /// Mark the channel closed: parked and later senders throw channel_closed_error;
    /// receivers take what is buffered, then get std::nullopt. Idempotent; any thread.
    void close() {
        std::deque<node_ptr> woken;
        {
            std::lock_guard lock(m_shared->m);
            if (m_shared->closed) {
                return;
            }
            m_shared->closed = true;
            for (auto* q : {&m_shared->receivers, &m_shared->senders}) {
                for (node_ptr& n : *q) {
                    n->st = node::state::closed;
                    woken.push_back(std::move(n));
                }
                q->clear();
            }
        }
        for (node_ptr& n : woken) {
            wake(m_shared.get(), n);
        }
    }

    [[nodiscard]] bool is_closed() const {
        std::lock_guard lock(m_shared->m);
        return m_shared->closed;
    }
    [[nodiscard]] std::size_t capacity() const noexcept { return m_shared->capacity; }
    /// Items buffered now (a snapshot).
    [[nodiscard]] std::size_t size() const {
        std::lock_guard lock(m_shared->m);
        return m_shared->items.size();
    }

    /// Send now if there is room: true if sent, false if full (`v` is left as it was).
    /// \throws channel_closed_error if closed.
    bool try_send(T& v) {
        node_ptr woken;
        {
            std::lock_guard lock(m_shared->m);
            if (m_shared->closed) {
                throw channel_closed_error();
            }
            if (!m_shared->can_send()) {
                return false;
            }
            woken = m_shared->deliver(std::move(v), false);
        }
        wake(m_shared.get(), woken);
        return true;
    }

    /// Receive now if an item is there; std::nullopt if none (closed or not).
    std::optional<T> try_receive() {
        node_ptr woken;
        std::optional<T> v;
        {
            std::lock_guard lock(m_shared->m);
            if (m_shared->items.empty()) {
                return std::nullopt;
            }
            v.emplace(m_shared->take(woken));
        }
        wake(m_shared.get(), woken);
        return v;
    }

    /// From a plain thread (not a loop's): send, blocking while the channel is full.
    /// \throws channel_closed_error if it is or gets closed (the item is not sent).
    void send_blocking(T v) {
        std::unique_lock lock(m_shared->m);
        if (m_shared->closed) {
            throw channel_closed_error();
        }
        if (m_shared->can_send()) {
            node_ptr woken = m_shared->deliver(std::move(v), false);
            lock.unlock();
            wake(m_shared.get(), woken);
            return;
        }
        auto n = std::make_shared<node>(m_shared.get(), false);
        n->thread = true;
        m_shared->senders.push_back(n);
        n->cv.wait(lock, [&] { return n->st != node::state::waiting; });
        if (n->st == node::state::closed) {
            throw channel_closed_error();
        }
        --m_shared->reserved;
        node_ptr woken = m_shared->deliver(std::move(v), false);
        lock.unlock();
        wake(m_shared.get(), woken);
    }

    /// From a plain thread: receive, blocking while the channel is empty; std::nullopt once
    /// it is closed and empty.
    std::optional<T> receive_blocking() {
        std::unique_lock lock(m_shared->m);
        if (m_shared->items.empty()) {
            if (m_shared->closed) {
                return std::nullopt;
            }
            auto n = std::make_shared<node>(m_shared.get(), true);
            n->thread = true;
            m_shared->receivers.push_back(n);
            n->cv.wait(lock, [&] { return n->st != node::state::waiting; });
            if (n->st == node::state::closed) {
                return std::nullopt;
            }
            n->st = node::state::abandoned;
            return std::move(n->item);
        }
        node_ptr woken;
        std::optional<T> v(m_shared->take(woken));
        lock.unlock();
        wake(m_shared.get(), woken);
        return v;
    }

    class [[nodiscard]] send_awaiter {
    public:
        send_awaiter(std::shared_ptr<shared> s, T&& v)
            : m_shared(std::move(s)), m_value(std::move(v)) {}
        send_awaiter(send_awaiter&&) noexcept = default; // before it is awaited only
        send_awaiter(const send_awaiter&) = delete;
        send_awaiter& operator=(const send_awaiter&) = delete;
        send_awaiter& operator=(send_awaiter&&) = delete;
        ~send_awaiter() { abandon(); }

        bool await_ready() {
            node_ptr woken;
            {
                std::lock_guard lock(m_shared->m);
                if (m_shared->closed) {
                    throw channel_closed_error();
                }
                if (!m_shared->can_send()) {
                    return false;
                }
                woken = m_shared->deliver(std::move(*m_value), false);
                m_value.reset();
            }
            wake(m_shared.get(), woken);
            return true;
        }
        bool await_suspend(std::coroutine_handle<> h) {
            std::lock_guard lock(m_shared->m);
            if (m_shared->closed || m_shared->can_send()) {
                return false; // it can go on after all: await_resume sends or throws
            }
            m_node = park_in(*m_shared, false, h);
            m_cancelled = m_node == nullptr;
            return !m_cancelled;
        }
        void await_resume() {
            if (m_cancelled) {
                throw cancelled_error{};
            }
            if (!m_value) {
                return; // sent by await_ready
            }
            node_ptr woken;
            bool cancelled = false;
            bool closed = false;
            {
                std::lock_guard lock(m_shared->m);
                if (!m_node) {
                    closed = m_shared->closed;
                    if (!closed) {
                        woken = m_shared->deliver(std::move(*m_value), false);
                        m_value.reset();
                    }
                } else {
                    cancelled = m_node->w.cancelled;
                    closed = m_node->st == node::state::closed;
                    if (m_node->st == node::state::granted && !cancelled) {
                        --m_shared->reserved; // the place reserved for it takes its item
                        woken = m_shared->deliver(std::move(*m_value), false);
                        m_value.reset();
                        m_node->st = node::state::abandoned;
                    } else {
                        woken = m_shared->release(*m_node); // cancelled: the place goes on
                    }
                }
            }
            wake(m_shared.get(), woken);
            if (cancelled) {
                throw cancelled_error{};
            }
            if (closed) {
                throw channel_closed_error();
            }
        }

    private:
        void abandon() noexcept {
            if (!m_node) {
                return;
            }
            // Still queued, or woken and never resumed (its loop closed): what it was
            // granted goes back.
            node_ptr woken;
            {
                std::lock_guard lock(m_shared->m);
                woken = m_shared->release(*m_node);
            }
            wake(m_shared.get(), woken);
        }

        std::shared_ptr<shared> m_shared;
        std::optional<T> m_value;
        node_ptr m_node;
        bool m_cancelled = false;
    };

    class [[nodiscard]] receive_awaiter {
    public:
        explicit receive_awaiter(std::shared_ptr<shared> s) : m_shared(std::move(s)) {}
        receive_awaiter(receive_awaiter&&) noexcept = default; // before it is awaited only
        receive_awaiter(const receive_awaiter&) = delete;
        receive_awaiter& operator=(const receive_awaiter&) = delete;
        receive_awaiter& operator=(receive_awaiter&&) = delete;
        ~receive_awaiter() { abandon(); }

        bool await_ready() {
            node_ptr woken;
            {
                std::lock_guard lock(m_shared->m);
                if (m_shared->items.empty()) {
                    return m_shared->closed;
                }
                m_item.emplace(m_shared->take(woken));
            }
            wake(m_shared.get(), woken);
            return true;
        }
        bool await_suspend(std::coroutine_handle<> h) {
            node_ptr woken;
            {
                std::lock_guard lock(m_shared->m);
                if (!m_shared->items.empty()) {
                    m_item.emplace(m_shared->take(woken));
                } else if (!m_shared->closed) {
                    m_node = park_in(*m_shared, true, h);
                    m_cancelled = m_node == nullptr;
                    return !m_cancelled;
                }
            }
            wake(m_shared.get(), woken);
            return false;
        }
        std::optional<T> await_resume() {
            if (m_cancelled) {
                throw cancelled_error{};
            }
            if (!m_node) {
                return std::move(m_item);
            }
            node_ptr woken;
            std::optional<T> v;
            bool cancelled = false;
            {
                std::lock_guard lock(m_shared->m);
                cancelled = m_node->w.cancelled;
                if (!cancelled && m_node->st == node::state::granted) {
                    v = std::move(m_node->item);
                    m_node->item.reset();
                }
                woken = m_shared->release(*m_node); // cancelled: the item goes back
            }
            wake(m_shared.get(), woken);
            if (cancelled) {
                throw cancelled_error{};
            }
            return v;
        }

    private:
        void abandon() noexcept {
            if (!m_node) {
                return;
            }
            // Still queued, or woken and never resumed (its loop closed): what it was
            // granted goes back.
            node_ptr woken;
            {
                std::lock_guard lock(m_shared->m);
                woken = m_shared->release(*m_node);
            }
            wake(m_shared.get(), woken);
        }

        std::shared_ptr<shared> m_shared;
        std::optional<T> m_item;
        node_ptr m_node;
        bool m_cancelled = false;
    };

    /// Send `v`, waiting while the channel is full. \throws channel_closed_error if the
    /// channel is or gets closed (the item is not sent); cancelled_error (not sent).
    send_awaiter send(T v) { return send_awaiter(m_shared, std::move(v)); }

    /// The next item, waiting while the channel is empty; std::nullopt once it is closed
    /// and empty. \throws cancelled_error (nothing taken).
    receive_awaiter receive() { return receive_awaiter(m_shared); }
    /// receive(), under the name of corio's async iteration (`async_iterable`):
    /// `while (auto v = co_await ch.next())`.
    receive_awaiter next() { return receive_awaiter(m_shared); }

private:
    static std::shared_ptr<shared> make(std::size_t capacity) {
        if (capacity == 0) {
            throw std::invalid_argument("channel: the capacity must be at least 1");
        }
        auto s = std::make_shared<shared>(capacity);
        s->self = s;
        return s;
    }

    /// Park the awaiting coroutine in `s`'s queue of receivers or senders (locked): its
    /// node, or nullptr if a cancellation was pending (then it does not suspend).
    static node_ptr park_in(shared& s, bool receiving, std::coroutine_handle<> h) {
        auto n = std::make_shared<node>(&s, receiving);
        n->loop = detail::running_loop();
        if (!park_node(*n, h)) {
            return nullptr;
        }
        (receiving ? s.receivers : s.senders).push_back(n);
        return n;
    }

    /// Park the current coroutine at `n` (locked). False if a cancellation is pending.
    static bool park_node(node& n, std::coroutine_handle<> h) noexcept {
        n.w.handle = h;
        n.w.context = &n;
        n.w.on_cancel = &on_cancel;
        n.w.describe = &describe;
        return detail::park(n.w);
    }

    /// The task was cancelled while parked (on its loop's thread). Still queued: it leaves
    /// and throws. Already granted or closed, its wake is on its way: it stays, and its
    /// await_resume gives back what it was granted.
    static bool on_cancel(detail::waiter& w) noexcept {
        auto& n = *static_cast<node*>(w.context);
        std::lock_guard lock(n.owner->m);
        if (n.st != node::state::waiting) {
            return false;
        }
        n.owner->erase(&n);
        n.st = node::state::abandoned;
        return true;
    }

    /// Cancelled after its wake, before it ran (on its loop's thread): give back what the
    /// wake granted, a receiver's item or a sender's place.
    static void revoke(detail::waiter& w) {
        auto& n = *static_cast<node*>(w.context);
        node_ptr woken;
        {
            std::lock_guard lock(n.owner->m);
            if (n.st != node::state::granted) {
                return;
            }
            woken = n.owner->release(n);
        }
        wake(n.owner, woken);
    }

    static void describe(const detail::waiter&, std::string& out) { out += "a channel"; }

    /// Wake `n` (outside the lock): its thread, or its task on its loop.
    static void wake(shared* s, const node_ptr& n) noexcept {
        if (!n) {
            return;
        }
        if (n->thread) {
            std::lock_guard lock(s->m); // so the waiter is in cv.wait or sees the state
            n->cv.notify_one();
            return;
        }
        if (n->loop == detail::running_loop()) {
            resume(s, n);
            return;
        }
        try {
            // The node keeps nothing of the channel alive; the awaiter that waits does, and
            // its destructor marks the node abandoned under the mutex, which this checks.
            n->loop->call_soon_threadsafe([keep = s->self.lock(), n] {
                if (keep) {
                    resume(keep.get(), n);
                }
            });
        } catch (...) {
            // Its loop is closed: the awaiter's destructor gives back what it was granted.
        }
    }

    /// On the node's loop: resume its task unless its awaiter is gone.
    static void resume(shared* s, const node_ptr& n) noexcept {
        bool granted = false;
        {
            std::lock_guard lock(s->m);
            if (n->st == node::state::abandoned || n->st == node::state::waiting) {
                return;
            }
            granted = n->st == node::state::granted;
        }
        n->w.granted = granted;
        n->w.revoke = granted ? &revoke : nullptr;
        detail::wake(n->w);
    }

    std::shared_ptr<shared> m_shared;
};

} // namespace corio
