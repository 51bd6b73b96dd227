#pragma once
/// \file
/// `corio::async_generator<Y, S>`: a coroutine that both awaits and yields (PEP 525), and
/// the `async_iterable` concept (PEP 492's `async for`).
///
/// ```cpp
/// corio::async_generator<int> ticker(std::chrono::milliseconds every, int n) {
///     for (int i = 0; i < n; ++i) {
///         co_yield i;
///         co_await corio::sleep(every);
///     }
/// }
/// ...
/// auto ticks = ticker(100ms, 10);
/// while (auto t = co_await ticks.next()) { use(*t); }     // async for t in ticker(...)
/// ```
///
/// The generator runs inside the task that awaits its `next()`: its awaits park that task,
/// so cancelling the task cancels the generator's pending await (the generator may catch
/// `cancelled_error` and clean up).
///
/// Finalization (PEP 525): a generator dropped while suspended at a `co_yield`, with its
/// loop running, is not simply destroyed: a task is spawned that raises `generator_exit` at
/// that `co_yield` (as `aclose()` does), so `catch (const generator_exit&)` handlers and
/// cleanup that awaits still run; then the frame is destroyed. `corio::run` also closes,
/// through `event_loop::shutdown_asyncgens()`, every generator still open at the end.
/// Dropped with no loop running, the frame is destroyed (destructors of its locals run).

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/task_state.hpp"
#include "corio/detail/transfer.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/generator.hpp"
#include "corio/task.hpp"

#include <concepts>
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace corio {

template <class Y, class S = void>
class async_generator;

namespace detail {

/// The part of an async generator's promise the loop's registry of open generators knows.
struct asyncgen_base : list_node {
    std::coroutine_handle<> handle;
    std::coroutine_handle<> consumer;
    std::exception_ptr thrown;    // to raise at the current co_yield
    std::exception_ptr exception; // what ended the body
    event_loop* loop = nullptr;   // registered with this loop while open
    bool started = false;
    bool running = false; // a next/asend/athrow/aclose is in progress
    bool closed = false;  // aclose() finished, or closed before it started
    bool returned = false;

    [[nodiscard]] bool finished() const noexcept { return closed || handle.done(); }
};

// Defined by the loop's async-generator finalizer (src/services/asyncgen_finalizer.cpp):
// the registry behind shutdown_asyncgens(), and the finalizer task for a generator dropped
// while suspended.
void register_asyncgen(asyncgen_base& g) noexcept;
void unregister_asyncgen(asyncgen_base& g) noexcept;
void finalize_asyncgen(asyncgen_base& g) noexcept;

template <class Y, class S>
class async_generator_promise : public asyncgen_base {
public:
    Y* m_value = nullptr;
    [[no_unique_address]] sent_slot<S> m_sent;

    async_generator_promise() noexcept {
        handle = std::coroutine_handle<async_generator_promise>::from_promise(*this);
    }
    ~async_generator_promise() { unregister_asyncgen(*this); }

    async_generator<Y, S> get_return_object() noexcept;

    static void* operator new(std::size_t size) { return allocate_frame(size); }
    static void operator delete(void* frame, std::size_t size) noexcept {
        deallocate_frame(frame, size);
    }

    auto initial_suspend() noexcept {
        struct start {
            async_generator_promise* p;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<>) const noexcept {}
            void await_resume() const {
                p->started = true;
                register_asyncgen(*p);
                if (p->thrown) {
                    std::rethrow_exception(std::exchange(p->thrown, nullptr));
                }
            }
        };
        return start{this};
    }

    auto final_suspend() noexcept {
        struct finish {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<>
            await_suspend(std::coroutine_handle<async_generator_promise> h) const noexcept {
                async_generator_promise& p = h.promise();
                unregister_asyncgen(p);
                return transfer(p.consumer);
            }
            void await_resume() const noexcept {}
        };
        return finish{};
    }

    void unhandled_exception() noexcept { exception = std::current_exception(); }
    void return_void() noexcept { returned = true; }

    struct yield_awaiter {
        async_generator_promise* p;
        bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<>) const noexcept {
            return transfer(p->consumer);
        }
        auto await_resume() const {
            if (p->thrown) {
                std::rethrow_exception(std::exchange(p->thrown, nullptr));
            }
            if constexpr (!std::is_void_v<S>) {
                return p->m_sent.take();
            }
        }
    };

    yield_awaiter yield_value(Y&& value) noexcept {
        m_value = std::addressof(value);
        return {this};
    }

    struct copy_yield_awaiter : yield_awaiter {
        Y copy;
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
            this->p->m_value = std::addressof(copy);
            return yield_awaiter::await_suspend(h);
        }
    };
    copy_yield_awaiter yield_value(const Y& value) requires std::copy_constructible<Y> {
        return {{this}, value};
    }
};

/// The awaitable behind next/asend/athrow: resumes the generator from the awaiting
/// coroutine and comes back at its next co_yield (or its end). It can be awaited once.
template <class Y, class S>
class [[nodiscard]] resume_awaiter {
public:
    using promise = async_generator_promise<Y, S>;
    explicit resume_awaiter(promise* p) noexcept : m_p(p) {}

    /// \throws invalid_state_error if this awaitable was awaited before (Python's
    /// "cannot reuse already awaited __anext__()/asend()"): the generator is not resumed.
    bool await_ready() {
        if (m_awaited) {
            throw invalid_state_error("async_generator: cannot reuse an already awaited "
                                      "next()/asend()/athrow(); call it again for the next "
                                      "value");
        }
        m_awaited = true;
        return m_p == nullptr || m_p->finished();
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> consumer) noexcept {
        m_p->consumer = consumer;
        m_p->running = true;
        return transfer(m_p->handle);
    }
    std::optional<Y> await_resume() {
        if (m_p == nullptr) {
            return std::nullopt;
        }
        m_p->running = false;
        if (m_p->handle.done()) {
            if (m_p->exception) {
                std::rethrow_exception(std::exchange(m_p->exception, nullptr));
            }
            return std::nullopt;
        }
        if (m_p->closed) {
            return std::nullopt;
        }
        return std::optional<Y>(std::move(*m_p->m_value));
    }

private:
    promise* m_p;
    bool m_awaited = false;
};

/// Resume a generator for closing: true if it yielded again instead of finishing.
struct [[nodiscard]] close_resume_awaiter {
    asyncgen_base* g;
    bool await_ready() const noexcept { return g->finished(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> consumer) const noexcept {
        g->consumer = consumer;
        g->running = true;
        return transfer(g->handle);
    }
    bool await_resume() const {
        g->running = false;
        if (g->handle.done()) {
            if (g->exception) {
                std::rethrow_exception(std::exchange(g->exception, nullptr));
            }
            return false;
        }
        return true;
    }
};

/// aclose(): raise generator_exit at the pending co_yield and run the body to its end.
inline task<> aclose_asyncgen(asyncgen_base* g) {
    if (g->finished()) {
        co_return;
    }
    if (!g->started) {
        g->closed = true;
        co_return;
    }
    g->thrown = std::make_exception_ptr(generator_exit{});
    bool yielded = false;
    std::exception_ptr error;
    try {
        yielded = co_await close_resume_awaiter{g};
    } catch (const generator_exit&) {
    } catch (...) {
        error = std::current_exception();
    }
    if (yielded) {
        throw invalid_state_error("aclose(): async generator yielded a value instead of "
                                  "exiting (it ignored generator_exit)");
    }
    g->closed = true;
    if (error) {
        std::rethrow_exception(error);
    }
}

} // namespace detail

/// An asynchronous generator (Python's `async def` with `yield`). Move-only; its frame
/// is finalized as the file comment describes.
template <class Y, class S>
class [[nodiscard]] async_generator {
    static_assert(std::is_object_v<Y> && !std::is_const_v<Y> && !std::is_array_v<Y>,
                  "async_generator<Y>: Y must be a non-const object type");

public:
    using promise_type = detail::async_generator_promise<Y, S>;
    using value_type = Y;
    using send_type = S;

    async_generator() noexcept = default;
    async_generator(async_generator&& other) noexcept : m_p(std::exchange(other.m_p, nullptr)) {}
    async_generator& operator=(async_generator&& other) noexcept {
        if (this != &other) {
            drop();
            m_p = std::exchange(other.m_p, nullptr);
        }
        return *this;
    }
    ~async_generator() { drop(); }

    /// `co_await g.next()`: run to the next `co_yield` and give its value; empty once the
    /// generator has finished (StopAsyncIteration). An exception ending the body is
    /// rethrown here once.
    /// \throws invalid_state_error if a previous next/asend/athrow/aclose of this generator
    /// is still pending ("already running"), or after aclose().
    [[nodiscard]] detail::resume_awaiter<Y, S> next() { return start("next()"); }

    /// `co_await g.asend(v)`: resume with `v` as the value of the pending `co_yield`.
    /// \throws invalid_state_error if the generator has not started (use next() first).
    [[nodiscard]] detail::resume_awaiter<Y, S>
    asend(std::conditional_t<std::is_void_v<S>, detail::no_send_type, S> value) requires(
        !std::is_void_v<S>) {
        promise_type& p = frame("asend()");
        if (!p.started && !p.finished()) {
            throw invalid_state_error("asend(): async generator has not started; await "
                                      "next() to run it to its first co_yield");
        }
        auto a = start("asend()");
        if (!p.finished()) {
            p.m_sent.value.emplace(std::move(value));
        }
        return a;
    }

    /// `co_await g.athrow(e)`: raise `e` at the pending `co_yield`; gives the next value
    /// if the generator catches it and yields again, empty if it finishes, and propagates
    /// what escapes the body. On a finished generator, `e` is rethrown.
    [[nodiscard]] detail::resume_awaiter<Y, S> athrow(std::exception_ptr e) {
        promise_type& p = frame("athrow()");
        if (!e) {
            throw invalid_state_error("athrow(): null exception_ptr");
        }
        if (p.finished()) {
            std::rethrow_exception(e);
        }
        auto a = start("athrow()");
        p.thrown = std::move(e);
        return a;
    }

    /// `co_await g.aclose()`: raise `generator_exit` at the pending `co_yield` and run the
    /// body's cleanup (which may await) to its end. Nothing to do if the generator has not
    /// started or has finished. Afterwards next() throws invalid_state_error.
    /// \throws invalid_state_error if the body yields again instead of finishing.
    [[nodiscard]] task<> aclose() {
        promise_type& p = frame("aclose()");
        if (p.running) {
            throw invalid_state_error("aclose(): async generator is already running");
        }
        return detail::aclose_asyncgen(&p);
    }

    /// True once the body has finished or the generator was closed.
    [[nodiscard]] bool done() const noexcept { return m_p == nullptr || m_p->finished(); }

private:
    friend class detail::async_generator_promise<Y, S>;
    explicit async_generator(promise_type* p) noexcept : m_p(p) {}

    promise_type& frame(const char* operation) const {
        if (m_p == nullptr) {
            throw invalid_state_error(std::string(operation) +
                                      ": empty async_generator (default-constructed or "
                                      "moved-from)");
        }
        return *m_p;
    }

    detail::resume_awaiter<Y, S> start(const char* operation) {
        promise_type& p = frame(operation);
        if (p.running) {
            throw invalid_state_error(std::string(operation) +
                                      ": async generator is already running (a previous "
                                      "next/asend/athrow/aclose has not finished)");
        }
        if (p.closed && p.started) {
            throw invalid_state_error(std::string(operation) +
                                      ": async generator was closed by aclose()");
        }
        return detail::resume_awaiter<Y, S>(&p);
    }

    void drop() noexcept {
        if (m_p == nullptr) {
            return;
        }
        promise_type* p = std::exchange(m_p, nullptr);
        if (p->started && !p->finished() && !p->running && p->loop != nullptr &&
            p->loop == detail::running_loop()) {
            detail::finalize_asyncgen(*p); // the finalizer task owns the frame from here on
            return;
        }
        p->handle.destroy();
    }

    promise_type* m_p = nullptr;
};

template <class Y, class S>
async_generator<Y, S> detail::async_generator_promise<Y, S>::get_return_object() noexcept {
    return async_generator<Y, S>(this);
}

/// Anything `async for` can walk: its `next()` gives an awaitable of `std::optional<T>`
/// (empty at the end). Async generators, `as_completed`, queues (as a stream of items
/// until shutdown) and streams' line readers fit.
template <class I>
concept async_iterable = requires(I& it) {
    {it.next()};
    requires awaitable<decltype(it.next())>;
    requires requires(await_result_t<decltype(it.next())> r) {
        {static_cast<bool>(r)};
        {*r};
    };
};

} // namespace corio
