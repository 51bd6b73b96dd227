#pragma once
/// \file
/// `corio::sync_wait(awaitable)`: run an awaitable to completion on the calling thread
/// without an event loop, blocking until it is done.

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/transfer.hpp"

#include <condition_variable>
#include <coroutine>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

namespace corio {
namespace detail {

/// Signalled by the driver coroutine when it ends. It lives on the blocked caller's stack;
/// the flag is set under the mutex so the caller cannot return (and destroy it) while the
/// signalling thread still touches it.
struct completion_latch {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;

    void set() {
        std::lock_guard lock(mutex);
        done = true;
        cv.notify_one();
    }
    void wait() {
        std::unique_lock lock(mutex);
        cv.wait(lock, [this] { return done; });
    }
};

/// Where the driver keeps the awaited result until `run()` hands it out.
template <class T>
struct driver_result {
    std::optional<T> value;
    template <class U>
    void return_value(U&& v) {
        value.emplace(std::forward<U>(v));
    }
    T take() { return std::move(*value); }
};
template <class T>
struct driver_result<T&> {
    T* value = nullptr;
    void return_value(T& v) noexcept { value = std::addressof(v); }
    T& take() const noexcept { return *value; }
};
template <>
struct driver_result<void> {
    void return_void() const noexcept {}
    void take() const noexcept {}
};

template <class T>
class sync_wait_driver {
public:
    struct promise_type : driver_result<T> {
        completion_latch* latch = nullptr;
        std::exception_ptr exception;

        sync_wait_driver get_return_object() noexcept {
            return sync_wait_driver(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        auto final_suspend() const noexcept {
            struct signal {
                bool await_ready() const noexcept { return false; }
                void await_suspend(std::coroutine_handle<promise_type> h) const noexcept {
                    h.promise().latch->set();
                }
                void await_resume() const noexcept {}
            };
            return signal{};
        }
        void unhandled_exception() noexcept { exception = std::current_exception(); }
    };

    explicit sync_wait_driver(std::coroutine_handle<promise_type> h) noexcept : m_handle(h) {}
    sync_wait_driver(sync_wait_driver&& other) noexcept
        : m_handle(std::exchange(other.m_handle, nullptr)) {}
    sync_wait_driver& operator=(sync_wait_driver&&) = delete;
    ~sync_wait_driver() {
        if (m_handle) {
            m_handle.destroy();
        }
    }

    T run() {
        completion_latch latch;
        m_handle.promise().latch = &latch;
        detail::resume(m_handle);
        latch.wait();
        promise_type& p = m_handle.promise();
        if (p.exception) {
            std::rethrow_exception(p.exception);
        }
        return p.take();
    }

private:
    std::coroutine_handle<promise_type> m_handle;
};

/// What sync_wait returns when `co_await a` gives `R`: `R`, except that an rvalue
/// reference becomes a value, moved out while the object it refers to (often inside the
/// awaiter, gone once sync_wait returns) still exists.
template <class R>
using sync_wait_result_t =
    std::conditional_t<std::is_rvalue_reference_v<R>, std::remove_cvref_t<R>, R>;

template <class T, class A>
sync_wait_driver<T> make_sync_wait_driver(A&& a) {
    if constexpr (std::is_void_v<T>) {
        co_await std::forward<A>(a);
    } else {
        co_return co_await std::forward<A>(a);
    }
}

} // namespace detail

/// Run `a` (a task or any other awaitable) to completion on this thread and return its
/// result (by value when `co_await a` gives an rvalue reference), rethrowing its
/// exception. Blocks until `a` is done, so `a` must be able to finish without this
/// thread's help: it may suspend on something another thread completes, but not on an
/// event loop that this thread should be running (use `corio::run` for that).
template <awaitable A>
detail::sync_wait_result_t<await_result_t<A>> sync_wait(A&& a) {
    using result = detail::sync_wait_result_t<await_result_t<A>>;
    return detail::make_sync_wait_driver<result>(std::forward<A>(a)).run();
}

} // namespace corio
