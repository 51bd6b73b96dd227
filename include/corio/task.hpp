#pragma once
/// \file
/// `corio::task<T>`: a lazy coroutine that `co_return`s a `T` (Python's `async def`).
///
/// ```cpp
/// corio::task<int> answer() { co_return 42; }
/// corio::task<int> twice() { co_return 2 * co_await answer(); }
/// int v = corio::sync_wait(twice());   // or corio::run(twice()) with an event loop
/// ```

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/frame_allocator.hpp"
#include "corio/detail/task_hooks.hpp"
#include "corio/detail/transfer.hpp"
#include "corio/errors.hpp"

#include <concepts>
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#ifndef CORIO_AWAIT_SITES
/// 1: every co_await in a task records its source location (CMake option
/// CORIO_AWAIT_SITES); it must be the same for corio and everything built against it.
#define CORIO_AWAIT_SITES 0
#endif

namespace corio {

template <class T = void>
class task;

namespace detail {

class task_state_base;
template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {};

/// An awaiter held (by value, or by reference when it is the operand itself), with its
/// three calls passed on: what task_promise_base::await_transform returns.
template <class Aw>
struct forward_awaiter {
    Aw awaiter;
    decltype(auto) await_ready() { return awaiter.await_ready(); }
    template <class P>
    decltype(auto) await_suspend(std::coroutine_handle<P> h) {
        return awaiter.await_suspend(h);
    }
    decltype(auto) await_resume() { return awaiter.await_resume(); }
};

/// The awaiter `co_await a` would use, wrapped: the result of a's operator co_await (a
/// temporary, constructed in place), or a reference to `a` itself.
template <class A>
auto forward_awaiter_for(A&& a) {
    if constexpr (has_member_co_await<A>) {
        using awaiter_type = decltype(static_cast<A&&>(a).operator co_await());
        return forward_awaiter<awaiter_type>{static_cast<A&&>(a).operator co_await()};
    } else if constexpr (has_free_co_await<A>) {
        using awaiter_type = decltype(operator co_await(static_cast<A&&>(a)));
        return forward_awaiter<awaiter_type>{operator co_await(static_cast<A&&>(a))};
    } else {
        return forward_awaiter<std::remove_reference_t<A>&>{a};
    }
}

class task_promise_base {
public:
    struct initial_awaiter {
        task_promise_base* promise;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        /// A spawned task cancelled before its first step does not run its body.
        void await_resume() const {
            if (promise->m_task_state != nullptr &&
                installed_task_hooks.start_cancelled(promise->m_task_state)) {
                throw cancelled_error{};
            }
        }
    };
    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
            task_promise_base& p = h.promise();
            if (p.m_task_state != nullptr) {
                // A spawned task: its control block wakes the awaiters (and may destroy
                // this frame, which is allowed: it is suspended).
                installed_task_hooks.spawned_task_complete(p.m_task_state);
                return std::noop_coroutine();
            }
            return transfer(p.m_continuation);
        }
        void await_resume() const noexcept {}
    };

    /// Where a coroutine was defined. A type of its own so that no coroutine parameter
    /// list matches the promise constructor: the compiler first tries to construct the
    /// promise from the coroutine's arguments, and a coroutine taking a `const char*` would
    /// otherwise have its argument recorded as the function name (and read, possibly
    /// freed, when the report is printed).
    struct creation_site {
        const char* function;
        const char* file;
        unsigned line;

        static creation_site here(const char* function = __builtin_FUNCTION(),
                                  const char* file = __builtin_FILE(),
                                  unsigned line = __builtin_LINE()) noexcept {
            return {function, file, line};
        }
    };

    /// Records where the coroutine was defined when debug mode tracks task creation, for
    /// the "task was never awaited" report.
    explicit task_promise_base(creation_site site = creation_site::here())
        : m_function(site.function) {
        if (installed_task_hooks.creation_tracking()) {
            m_tracked = true;
            installed_task_hooks.record_creation(this, site.function, site.file, site.line);
        }
    }
    /// For a promise made by hand (not by a coroutine), with the site given.
    task_promise_base(const char* function, const char* file, unsigned line)
        : task_promise_base(creation_site{function, file, line}) {}
    task_promise_base(const task_promise_base&) = delete;
    task_promise_base& operator=(const task_promise_base&) = delete;
    ~task_promise_base() {
        if (m_tracked) {
            installed_task_hooks.forget_creation(this);
        }
    }

    /// Frames come from the per-thread recycling allocator.
    static void* operator new(std::size_t size) { return allocate_frame(size); }
    static void operator delete(void* frame, std::size_t size) noexcept {
        deallocate_frame(frame, size);
    }

#if CORIO_AWAIT_SITES
    /// With CORIO_AWAIT_SITES, every `co_await` in a task passes here and records where the
    /// coroutine suspends (the file and line of the co_await) for dump_tasks. The
    /// awaitable is then awaited as it would have been (its operator co_await, or itself),
    /// through a small forwarding awaiter returned by value (g++ copies an awaiter given
    /// by reference).
    template <class A>
    auto await_transform(A&& awaitable, const char* file = __builtin_FILE(),
                         unsigned line = __builtin_LINE()) {
        m_await_file = file;
        m_await_line = line;
        return forward_awaiter_for(std::forward<A>(awaitable));
    }
#endif
    /// The task awaiting this one resumes: it awaits no child now.
    void unlink_from_parent() noexcept {
        if (m_parent != nullptr) {
            if (m_parent->m_child == this) {
                m_parent->m_child = nullptr;
            }
            m_parent = nullptr;
        }
    }

    initial_awaiter initial_suspend() noexcept {
        return {this};
    }
    final_awaiter final_suspend() const noexcept {
        return {};
    }
    void unhandled_exception() noexcept {
        m_exception = std::current_exception();
        installed_task_hooks.throw_site(*this);
    }

    /// Who runs when this task ends: the awaiting coroutine, or whatever drives the task.
    std::coroutine_handle<> m_continuation = std::noop_coroutine();
    std::exception_ptr m_exception;
    /// Set when the task was spawned on a loop: its control block.
    task_state_base* m_task_state = nullptr;
    bool m_awaited = false;
    bool m_tracked = false;
#if CORIO_AWAIT_SITES
    /// The line of the co_await this coroutine is suspended at (or last passed).
    unsigned m_await_line = 0;
    /// The file of that co_await.
    const char* m_await_file = nullptr;
#endif
    /// The coroutine's function (__builtin_FUNCTION at its promise's construction).
    const char* m_function;
    /// The task this one is awaiting now, and the one awaiting this one.
    task_promise_base* m_child = nullptr;
    task_promise_base* m_parent = nullptr;

protected:
    void rethrow_if_failed() const {
        if (m_exception) {
            std::rethrow_exception(m_exception);
        }
    }
};

template <class T>
class task_promise final : public task_promise_base {
public:
    explicit task_promise(creation_site site = creation_site::here()) : task_promise_base(site) {}
    task<T> get_return_object() noexcept;

    template <class U = T>
    requires std::constructible_from<T, U&&>
    void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        m_value.emplace(std::forward<U>(value));
    }

    /// The result, moved out, or the exception rethrown.
    T take_result() {
        rethrow_if_failed();
        return std::move(*m_value);
    }
    /// The stored result (valid once the task returned).
    T& result_ref() noexcept { return *m_value; }

private:
    std::optional<T> m_value;
};

template <class T>
class task_promise<T&> final : public task_promise_base {
public:
    explicit task_promise(creation_site site = creation_site::here()) : task_promise_base(site) {}
    task<T&> get_return_object() noexcept;
    void return_value(T& value) noexcept { m_value = std::addressof(value); }
    T& take_result() {
        rethrow_if_failed();
        return *m_value;
    }
    T& result_ref() const noexcept { return *m_value; }

private:
    T* m_value = nullptr;
};

template <>
class task_promise<void> final : public task_promise_base {
public:
    explicit task_promise(creation_site site = creation_site::here()) : task_promise_base(site) {}
    task<void> get_return_object() noexcept;
    void return_void() const noexcept {}
    void take_result() const { rethrow_if_failed(); }
};

} // namespace detail

/// A coroutine that computes a `T` (or a `T&`, or nothing) and may `co_await` anything
/// awaitable on the way.
///
/// - Lazy: the body does not start until the task is awaited (or spawned on a loop).
/// - `co_await t` runs `t` to completion and gives its value, or rethrows the exception
///   that ended it. Control passes by symmetric transfer: a chain of awaits of any depth
///   uses constant stack.
/// - Move-only; each task can be awaited once.
///
/// Destroying a task destroys its coroutine frame; a task must not be destroyed while
/// it is running.
template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using value_type = T;

    /// An empty task; awaiting it throws `invalid_state_error`.
    task() noexcept = default;
    task(task&& other) noexcept : m_handle(std::exchange(other.m_handle, nullptr)) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            if (m_handle) {
                m_handle.destroy();
            }
            m_handle = std::exchange(other.m_handle, nullptr);
        }
        return *this;
    }
    ~task() {
        if (m_handle) {
            if (m_handle.promise().m_tracked && !m_handle.promise().m_awaited) {
                detail::installed_task_hooks.never_awaited(&m_handle.promise());
            }
            m_handle.destroy();
        }
    }

    /// True if this task holds a coroutine (it was not default-constructed or moved from).
    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(m_handle); }

    /// True once the body has finished.
    [[nodiscard]] bool done() const noexcept { return m_handle && m_handle.done(); }

    /// Awaiting a task starts it; the awaiting coroutine resumes when it ends.
    /// \throws invalid_state_error if the task is empty or was already awaited.
    auto operator co_await() const& noexcept { return awaiter{m_handle}; }
    auto operator co_await() const&& noexcept { return awaiter{m_handle}; }

    /// The coroutine handle, for schedulers that drive tasks (the event loop, sync_wait).
    /// The task keeps ownership.
    [[nodiscard]] std::coroutine_handle<promise_type> handle() const noexcept { return m_handle; }
    /// Give up ownership of the frame (a scheduler that adopted it destroys it).
    std::coroutine_handle<promise_type> release() noexcept {
        return std::exchange(m_handle, nullptr);
    }

private:
    friend class detail::task_promise<T>;
    explicit task(std::coroutine_handle<promise_type> h) noexcept : m_handle(h) {}

    struct awaiter {
        std::coroutine_handle<promise_type> m_handle;

        bool await_ready() const {
            if (!m_handle) {
                throw invalid_state_error(
                    "co_await on an empty task (default-constructed or moved-from)");
            }
            if (m_handle.promise().m_awaited) {
                throw invalid_state_error("task awaited twice");
            }
            m_handle.promise().m_awaited = true;
            return false;
        }
        template <class P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> awaiting) const noexcept {
            m_handle.promise().m_continuation = awaiting;
            if constexpr (std::is_base_of_v<detail::task_promise_base, P>) {
                // A task awaiting a task: linked for dump_tasks' chain of awaits.
                awaiting.promise().m_child = &m_handle.promise();
                m_handle.promise().m_parent = &awaiting.promise();
            }
            return detail::transfer(m_handle);
        }
        decltype(auto) await_resume() const {
            m_handle.promise().unlink_from_parent();
            return m_handle.promise().take_result();
        }
    };

    std::coroutine_handle<promise_type> m_handle;
};

template <class T>
task<T> detail::task_promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<task_promise>::from_promise(*this));
}
template <class T>
task<T&> detail::task_promise<T&>::get_return_object() noexcept {
    return task<T&>(std::coroutine_handle<task_promise>::from_promise(*this));
}
inline task<void> detail::task_promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<task_promise>::from_promise(*this));
}

} // namespace corio
