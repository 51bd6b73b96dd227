#pragma once
// Hand-written awaitables for the task and sync_wait tests: each one exercises a different
// shape of the awaitable protocol, the way user code (or a future event loop) would.

#include <coroutine>
#include <cstddef>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace corio_test {

/// Parks coroutines until the test resumes them: a stand-in for an event loop's ready queue.
class manual_executor {
public:
    void park(std::coroutine_handle<> h) { m_parked.push_back(h); }
    [[nodiscard]] std::size_t parked() const noexcept { return m_parked.size(); }

    /// Resumes the oldest parked coroutine with a plain resume(), as user code would.
    bool run_one() {
        if (m_parked.empty()) {
            return false;
        }
        std::coroutine_handle<> h = m_parked.front();
        m_parked.pop_front();
        h.resume();
        return true;
    }
    void run_all() {
        while (run_one()) {
        }
    }

private:
    std::deque<std::coroutine_handle<>> m_parked;
};

/// Completes without suspending: await_ready() is true.
struct ready_value {
    int value;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    int await_resume() const noexcept { return value; }
};

/// `void await_suspend`: the coroutine stays suspended until the executor resumes it.
struct void_suspend {
    manual_executor& executor;
    int value;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const { executor.park(h); }
    int await_resume() const noexcept { return value; }
};

/// `bool await_suspend`: false resumes at once, true parks on the executor.
struct bool_suspend {
    manual_executor* executor; // null: do not suspend
    int value;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) const {
        if (executor == nullptr) {
            return false;
        }
        executor->park(h);
        return true;
    }
    int await_resume() const noexcept { return value; }
};

/// Handle-returning `await_suspend`: returning the awaiting handle resumes it at once;
/// otherwise it parks on the executor and returns the no-op coroutine.
struct handle_suspend {
    manual_executor* executor; // null: transfer straight back to the awaiting coroutine
    int value;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) const {
        if (executor == nullptr) {
            return h;
        }
        executor->park(h);
        return std::noop_coroutine();
    }
    int await_resume() const noexcept { return value; }
};

/// Awaitable only through a member `operator co_await`.
struct member_co_await {
    int value;
    ready_value operator co_await() const noexcept { return {value}; }
};

/// Awaitable only through a free `operator co_await`.
struct free_co_await {
    int value;
};
inline ready_value operator co_await(free_co_await a) noexcept {
    return {a.value};
}

/// Its await_resume throws, as an awaitable that reports a failed operation does.
struct throwing_resume {
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    int await_resume() const { throw std::runtime_error("await_resume failed"); }
};

/// Its await_suspend throws: the coroutine is resumed with that exception at the co_await.
struct throwing_suspend {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const {
        throw std::runtime_error("await_suspend failed");
    }
    int await_resume() const noexcept { return 0; }
};

/// An event whose set() resumes the waiter inline with a plain resume() (as cppcoro's
/// single_consumer_event does), from whatever is running at the time.
class inline_event {
public:
    bool await_ready() const noexcept { return m_set; }
    void await_suspend(std::coroutine_handle<> h) noexcept { m_waiter = h; }
    void await_resume() const noexcept {}

    void set() {
        m_set = true;
        if (m_waiter) {
            std::exchange(m_waiter, nullptr).resume();
        }
    }

private:
    std::coroutine_handle<> m_waiter;
    bool m_set = false;
};

/// `co_await hopper.hop()` suspends and is resumed (plain resume()) by a new std::thread,
/// as an I/O completion on another thread would be; it evaluates to that thread's id.
/// The destructor joins every thread it started.
class thread_hopper {
public:
    struct awaiter {
        thread_hopper& owner;
        std::thread::id resumed_on{};

        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
            // The new thread may resume (and destroy) the awaiting coroutine, and this
            // awaiter with it, before start() returns: nothing here touches *this after.
            thread_hopper& o = owner;
            o.start(h, &resumed_on);
        }
        // The id is taken by the resuming thread: std::this_thread::get_id() called in the
        // coroutine itself may be computed once before the hop and reused after it
        // (clang treats pthread_self() as a pure function across suspension points).
        std::thread::id await_resume() const noexcept { return resumed_on; }
    };

    thread_hopper() = default;
    thread_hopper(const thread_hopper&) = delete;
    thread_hopper& operator=(const thread_hopper&) = delete;
    ~thread_hopper() { join(); }

    awaiter hop() noexcept { return {*this}; }

    /// Joins every thread started so far.
    void join() {
        for (;;) {
            std::vector<std::thread> threads;
            {
                std::lock_guard lock(m_mutex);
                threads.swap(m_threads);
            }
            if (threads.empty()) {
                return;
            }
            for (std::thread& t : threads) {
                t.join();
            }
        }
    }

private:
    void start(std::coroutine_handle<> h, std::thread::id* resumed_on) {
        std::lock_guard lock(m_mutex);
        m_threads.emplace_back([h, resumed_on] {
            *resumed_on = std::this_thread::get_id();
            h.resume();
        });
    }

    std::mutex m_mutex;
    std::vector<std::thread> m_threads;
};

} // namespace corio_test
