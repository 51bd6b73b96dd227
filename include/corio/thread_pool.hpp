#pragma once
/// \file
/// Blocking work off the loop: `corio::to_thread`, `event_loop::run_in_executor`,
/// `corio::run_coroutine_threadsafe`, and the `thread_pool` they run on
/// (asyncio.to_thread, loop.run_in_executor, asyncio.run_coroutine_threadsafe).
///
/// ```cpp
/// std::string text = co_await corio::to_thread(read_whole_file, path);  // loop keeps running
/// ```

#include "corio/detail/task_state.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/task.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

/// Something that runs jobs on other threads (Python's `concurrent.futures.Executor`).
class executor {
public:
    executor() = default;
    executor(const executor&) = delete;
    executor& operator=(const executor&) = delete;
    virtual ~executor();
    /// Run `job` on some thread. \throws invalid_state_error after shutdown.
    virtual void submit(std::function<void()> job) = 0;
};

/// A bounded pool of worker threads, started lazily (one more each time a job arrives and
/// every thread is busy, up to `max_threads`). Thread-safe.
class thread_pool final : public executor {
public:
    /// `max_threads` 0 picks Python's default: min(32, hardware threads + 4).
    explicit thread_pool(std::size_t max_threads = 0);
    /// Waits for queued jobs and joins the threads.
    ~thread_pool() override;

    void submit(std::function<void()> job) override;
    /// Stop accepting jobs; with `wait`, run the queued ones and join the threads.
    void shutdown(bool wait = true);
    [[nodiscard]] std::size_t max_threads() const noexcept { return m_max_threads; }
    /// Threads started so far.
    [[nodiscard]] std::size_t thread_count() const;

private:
    void work();

    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<std::function<void()>> m_jobs;
    std::vector<std::thread> m_threads;
    std::size_t m_max_threads;
    std::size_t m_idle = 0;
    bool m_stopping = false;
};

namespace detail {

template <class R>
struct thread_call_state {
    std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value;
    std::exception_ptr error;
    // Loop thread only:
    waiter* parked = nullptr; // null once the awaiter stopped waiting (cancelled)
};

/// The awaitable of to_thread / run_in_executor.
template <class R>
class [[nodiscard]] thread_call_awaiter {
public:
    thread_call_awaiter(executor* ex, std::function<R()> fn)
        : m_executor(ex), m_fn(std::move(fn)), m_state(std::make_shared<thread_call_state<R>>()) {
        m_waiter.on_cancel = &on_cancel;
        m_waiter.context = this;
        m_waiter.describe = [](const waiter&, std::string& out) {
            out += "a call on a thread pool (to_thread)";
        };
    }
    thread_call_awaiter(thread_call_awaiter&& other) noexcept
        : thread_call_awaiter(other.m_executor, std::move(other.m_fn)) {}
    thread_call_awaiter(const thread_call_awaiter&) = delete;
    thread_call_awaiter& operator=(const thread_call_awaiter&) = delete;
    ~thread_call_awaiter() { m_state->parked = nullptr; }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        event_loop& loop = get_running_loop();
        executor& ex = m_executor != nullptr ? *m_executor : loop.default_executor();
        m_waiter.handle = h;
        if (!park(m_waiter)) {
            return false;
        }
        m_state->parked = &m_waiter;
        ex.submit([state = m_state, fn = std::move(m_fn), link = link_of(loop)]() mutable {
            try {
                if constexpr (std::is_void_v<R>) {
                    fn();
                    state->value.emplace('\0');
                } else {
                    state->value.emplace(fn());
                }
            } catch (...) {
                state->error = std::current_exception();
            }
            // The callable and the arguments bound to it go before the awaiter is woken,
            // so what they hold is released by the time the await returns.
            fn = nullptr;
            // The loop may have closed meanwhile (and be gone: a shared executor outlives
            // it): then nobody waits any more, and the result is dropped.
            link->post([state] {
                if (state->parked != nullptr) {
                    wake(*std::exchange(state->parked, nullptr));
                }
            });
        });
        return true;
    }
    R await_resume() {
        m_waiter.check_cancelled();
        if (m_state->error) {
            std::rethrow_exception(m_state->error);
        }
        if constexpr (!std::is_void_v<R>) {
            return std::move(*m_state->value);
        }
    }

private:
    static bool on_cancel(waiter& w) noexcept {
        // Abandon the wait, not the thread: the job runs on, its result is dropped.
        static_cast<thread_call_awaiter*>(w.context)->m_state->parked = nullptr;
        return true;
    }

    executor* m_executor;
    std::function<R()> m_fn;
    std::shared_ptr<thread_call_state<R>> m_state;
    waiter m_waiter;
};

template <class F, class... Args>
auto bind_call(F&& fn, Args&&... args) {
    return [fn = std::forward<F>(fn),
            args = std::make_tuple(std::forward<Args>(args)...)]() mutable -> decltype(auto) {
        return std::apply(fn, std::move(args));
    };
}

} // namespace detail

/// Run `fn(args...)` on the loop's thread pool and wait for its result without blocking
/// the loop (asyncio.to_thread). Arguments are copied or moved into the call.
/// Cancelling the await abandons the wait (cancelled_error at once); the call itself runs
/// to its end on its thread and its result is dropped. The copies of `fn` and `args` are
/// destroyed on the worker thread before the await returns.
///
/// g++ 12: a lambda with captures that own something (a `shared_ptr`, a `std::string`),
/// written inside the `co_await`, is destroyed twice by the calling coroutine (a g++ 12
/// bug; the closure is the caller's temporary, out of to_thread's reach). Pass such values
/// after the callable, which stays capture-free, or name the lambda first:
/// ```cpp
/// auto n = co_await corio::to_thread([](std::shared_ptr<table> t) { return t->size(); }, t);
/// auto work = [t] { return t->size(); };
/// auto m = co_await corio::to_thread(work);
/// ```
template <class F, class... Args>
auto to_thread(F&& fn, Args&&... args) {
    using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>...>;
    return detail::thread_call_awaiter<R>(
        nullptr,
        std::function<R()>(detail::bind_call(std::forward<F>(fn), std::forward<Args>(args)...)));
}

/// Run `fn()` on `ex` and wait for it (loop.run_in_executor). Cancellable as to_thread.
/// Under g++ 12, name a lambda with owning captures first (see `to_thread`).
template <class F>
auto run_in_executor(executor& ex, F&& fn) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    return detail::thread_call_awaiter<R>(&ex, std::function<R()>(std::forward<F>(fn)));
}

template <class F>
auto event_loop::run_in_executor(executor& ex, F&& fn) {
    return corio::run_in_executor(ex, std::forward<F>(fn));
}

/// Submit `t` to `loop` from another thread and get a std::future of its result
/// (asyncio.run_coroutine_threadsafe). The task runs as a spawned task on the loop.
/// \throws invalid_state_error if the loop is closed.
template <class T>
std::future<T> run_coroutine_threadsafe(task<T> t, event_loop& loop) {
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> result = promise->get_future();
    auto job = std::make_shared<task<T>>(std::move(t));
    loop.call_soon_threadsafe([job, promise, &loop] {
        auto runner = [](std::shared_ptr<task<T>> job,
                         std::shared_ptr<std::promise<T>> promise) -> task<> {
            try {
                if constexpr (std::is_void_v<T>) {
                    co_await std::move(*job);
                    promise->set_value();
                } else {
                    promise->set_value(co_await std::move(*job));
                }
            } catch (...) {
                promise->set_exception(std::current_exception());
            }
        };
        spawn_on(loop, runner(job, promise));
    });
    return result;
}

} // namespace corio
