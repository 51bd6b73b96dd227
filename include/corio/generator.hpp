#pragma once
/// \file
/// `corio::generator<Y, S, R>`: Python's generator protocol as a C++20 coroutine type.
///
/// ```cpp
/// corio::generator<int, int, std::string> averager() {
///     int sum = 0, n = 0;
///     while (auto x = co_yield (n ? sum / n : 0)) { sum += *x; ++n; }
///     co_return "done";
/// }
/// ```
///
/// How delegation stays O(1) per value: every frame records the frame that delegates to
/// it (`m_parent`) and the frame it delegates to (`m_child`); the outermost generator (the
/// root, the one the consumer holds) keeps a pointer to the innermost frame (`m_leaf`).
/// `next()` resumes that leaf directly, so a value yielded 1,000 levels deep reaches the
/// consumer in one resume. Starting and finishing sub-generators happens in the driver loop
/// of `next()` (`generator_frame::advance`), not by nested resumes, so a chain 100,000 deep
/// uses no stack per level.

#include "corio/errors.hpp"

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>

namespace corio {

template <class Y, class S = void, class R = void>
class generator;

namespace detail {

template <class T>
inline constexpr bool is_generator_v = false;
template <class Y, class S, class R>
inline constexpr bool is_generator_v<generator<Y, S, R>> = true;

/// Raise the exception that throw_into()/close() left for a frame at its co_yield. Out of
/// line so that the exception_ptr temporary and its cleanup stay out of the generator
/// body's resume path.
[[noreturn]] [[gnu::noinline, gnu::cold]] inline void rethrow_pending(std::exception_ptr& pending) {
    std::rethrow_exception(std::exchange(pending, nullptr));
}

/// Where a value passed to `send()` waits for the `co_yield` to pick it up.
template <class S>
struct sent_slot {
    std::optional<S> value;
    std::optional<S> take() noexcept(std::is_nothrow_move_constructible_v<S>) {
        std::optional<S> out = std::move(value);
        value.reset();
        return out;
    }
};
template <>
struct sent_slot<void> {};

/// The part of a generator's promise that does not depend on its return type, so that a
/// generator can delegate to sub-generators with other return types.
template <class Y, class S>
class generator_frame {
public:
    generator_frame() noexcept : m_leaf(this) {}
    generator_frame(const generator_frame&) = delete;
    generator_frame& operator=(const generator_frame&) = delete;

    /// The value of the `co_yield` this frame is suspended at.
    Y* m_value = nullptr;
    [[no_unique_address]] sent_slot<S> m_sent;
    /// An exception to raise at this frame's `co_yield` when it resumes (throw_into, close).
    std::exception_ptr m_thrown;
    /// The exception that ended this frame's body.
    std::exception_ptr m_exception;
    std::coroutine_handle<> m_handle;
    generator_frame* m_parent = nullptr;
    generator_frame* m_child = nullptr;
    /// Root only: the innermost frame of the delegation chain (this, when not delegating),
    /// or nullptr when unknown: a generator delegated to by reference stops tracking its
    /// leaf, and leaf() finds it again if its owner resumes it after the delegation ends.
    generator_frame* m_leaf;
    /// Set by `co_yield yield_from(sub)` as the frame suspends: the driver starts `sub`.
    generator_frame* m_delegate = nullptr;
    /// When this frame belongs to the `yield_from` awaiter of its parent, that awaiter's
    /// flag saying the root's destroy_chain() has already destroyed this frame.
    bool* m_owner = nullptr;
    /// Root only, while close() (or throw_into(generator_exit)) runs: the frame of the chain
    /// being closed. When it returns normally, generator_exit is raised in its parent, which
    /// inherits the role (Python: closing a delegating generator closes the sub-generator,
    /// then raises GeneratorExit in the delegating one). Sub-generators started during the
    /// cleanup are not being closed and return to their delegating generator as usual.
    generator_frame* m_closing = nullptr;
    bool m_started = false;
    bool m_running = false;
    bool m_closed_unstarted = false;

    [[nodiscard]] bool finished() const noexcept { return m_closed_unstarted || m_handle.done(); }

    /// Root only: the innermost frame of the delegation chain.
    generator_frame* leaf() noexcept {
        if (m_leaf == nullptr) {
            generator_frame* f = this;
            while (f->m_child != nullptr) {
                f = f->m_child;
            }
            m_leaf = f;
        }
        return m_leaf;
    }

    /// Throws unless this root may be resumed now. Every operation calls it before it
    /// stores a sent value or an exception to deliver, so a refused operation leaves the
    /// generator as it was.
    void check_resumable() const {
        if (m_running || m_parent != nullptr) [[unlikely]] {
            throw_not_resumable();
        }
    }

    /// Run the chain until the next value. Returns the frame holding it, or nullptr once
    /// the root has finished (rethrowing what ended it, if anything did).
    ///
    /// This is the per-value path, small enough to inline into `next()` and the iterator:
    /// resume the leaf, and if it simply yielded again, that was the whole step. A
    /// delegation starting or ending, or the root finishing, goes on in advance().
    generator_frame* step() {
        check_resumable();
        if (finished()) [[unlikely]] {
            // The consumer may finish the generator (close(), next()) while an iterator
            // still points at its last value; that iterator's ++ ends the iteration.
            return nullptr;
        }
        m_running = true;
        struct running_guard {
            bool& running;
            ~running_guard() { running = false; }
        } guard{m_running};
        generator_frame* cur = leaf();
        cur->m_handle.resume();
        if (cur->m_delegate == nullptr && !cur->m_handle.done()) [[likely]] {
            return cur;
        }
        return advance(cur);
    }

    /// Raise `e` at the leaf's `co_yield` and run to the next value, like step(). `closing`
    /// says that `e` is generator_exit: the chain is being closed, so each delegating
    /// generator whose sub-generator returns normally gets generator_exit in turn.
    generator_frame* step_throwing(std::exception_ptr e, bool closing) {
        check_resumable();
        leaf()->m_thrown = std::move(e);
        if (!closing) {
            return step();
        }
        m_closing = leaf();
        struct closing_guard {
            generator_frame*& closing;
            ~closing_guard() { closing = nullptr; }
        } guard{m_closing};
        // As step(), but every outcome goes through advance(), which checks whether a
        // sub-generator being closed yielded.
        m_running = true;
        struct running_guard {
            bool& running;
            ~running_guard() { running = false; }
        } running{m_running};
        generator_frame* cur = m_closing;
        cur->m_handle.resume();
        return advance(cur);
    }

    /// Destroy this root's frame and every sub-generator frame it owns, innermost first,
    /// without recursion. A sub-generator delegated to by reference (`yield_from(g)` on an
    /// lvalue) is not owned: it is detached and left suspended for its owner, in O(1), so
    /// that a chain of such generators each owning the next is destroyed in linear time.
    void destroy_chain() noexcept {
        generator_frame* bottom = this;
        while (bottom->m_child != nullptr && bottom->m_child->m_owner != nullptr) {
            bottom = bottom->m_child;
        }
        if (generator_frame* borrowed = bottom->m_child) {
            borrowed->m_parent = nullptr;
            borrowed->m_leaf = nullptr;
            bottom->m_child = nullptr;
        }
        while (bottom != this) {
            generator_frame* parent = bottom->m_parent;
            *bottom->m_owner = true;
            bottom->m_handle.destroy();
            bottom = parent;
        }
        m_handle.destroy();
    }

private:
    /// Root only, while closing: the sub-generator `m_closing` yielded instead of finishing.
    /// As closing it failed, the error is raised in its delegating generator at its
    /// `yield_from` (Python: the sub's close() raises RuntimeError "generator ignored
    /// GeneratorExit" into the delegating generator), which is being closed in turn. The
    /// sub is detached, suspended where it yielded: its owner (the delegating awaiter, or
    /// whoever lent it) destroys or continues it. Returns the frame to resume.
    [[gnu::noinline, gnu::cold]] generator_frame* ignored_generator_exit() noexcept {
        generator_frame* sub = m_closing;
        generator_frame* parent = sub->m_parent;
        parent->m_child = nullptr;
        sub->m_parent = nullptr;
        sub->m_leaf = nullptr; // leaf() finds its chain again if its owner resumes it
        try {
            parent->m_thrown = std::make_exception_ptr(invalid_state_error(
                "yield_from: the sub-generator being closed yielded a value instead of "
                "exiting (it ignored generator_exit)"));
        } catch (...) {
            parent->m_thrown = std::current_exception(); // bad_alloc
        }
        m_closing = parent;
        return parent;
    }

    [[noreturn]] [[gnu::noinline, gnu::cold]] void throw_not_resumable() const {
        if (m_running) {
            throw invalid_state_error(
                "generator already running: it was resumed from inside its own body");
        }
        throw invalid_state_error("generator is being delegated to by yield_from and "
                                  "cannot be resumed directly");
    }

    /// The rest of step(), out of line: `cur` was just resumed and did not simply yield.
    /// Returns the frame holding the next value, or nullptr once the root has finished
    /// (rethrowing what ended it, if anything did).
    [[gnu::noinline]] generator_frame* advance(generator_frame* cur) {
        for (;;) {
            if (generator_frame* sub = cur->m_delegate) {
                cur->m_delegate = nullptr;
                cur->m_child = sub;
                sub->m_parent = cur;
                cur = sub->leaf();
                // While delegated to, the sub's own chain changes without it: forget its
                // leaf until it is a root again.
                sub->m_leaf = nullptr;
                cur->m_handle.resume();
                continue;
            }
            if (!cur->m_handle.done()) {
                if (m_closing != nullptr && m_closing != this) [[unlikely]] {
                    // A sub-generator being closed yielded a value (itself, or through a
                    // sub-generator of its cleanup) instead of finishing.
                    cur = ignored_generator_exit();
                    cur->m_handle.resume();
                    continue;
                }
                m_leaf = cur;
                return cur;
            }
            if (cur == this) {
                m_leaf = this;
                if (m_exception) {
                    std::rethrow_exception(std::exchange(m_exception, nullptr));
                }
                return nullptr;
            }
            generator_frame* parent = cur->m_parent;
            parent->m_child = nullptr;
            cur->m_parent = nullptr;
            if (cur == m_closing) {
                m_closing = parent;
                if (!cur->m_exception) {
                    parent->m_thrown = std::make_exception_ptr(generator_exit{});
                }
            }
            cur = parent;
            cur->m_handle.resume();
        }
    }
};

/// Whether `e` holds a `generator_exit` (throw_into of one closes a delegation chain).
inline bool is_generator_exit(const std::exception_ptr& e) noexcept {
    try {
        std::rethrow_exception(e);
    } catch (const generator_exit&) {
        return true;
    } catch (...) {
        return false;
    }
}

template <class R>
class generator_return {
public:
    template <class U = R>
    requires std::constructible_from<R, U&&>
    void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<R, U&&>) {
        m_result.emplace(std::forward<U>(value));
    }
    std::optional<R> m_result;
};

template <>
class generator_return<void> {
public:
    void return_void() noexcept { m_returned = true; }
    bool m_returned = false;
};

/// What `co_yield` evaluates to: the sent value (when S is not void), or the exception
/// that `throw_into`/`close` delivered.
template <class Y, class S>
class yield_awaiter {
public:
    explicit yield_awaiter(generator_frame<Y, S>* frame) noexcept : m_frame(frame) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    auto await_resume() {
        if (m_frame->m_thrown) [[unlikely]] {
            rethrow_pending(m_frame->m_thrown);
        }
        if constexpr (!std::is_void_v<S>) {
            return m_frame->m_sent.take();
        }
    }

protected:
    generator_frame<Y, S>* m_frame;
};

/// `co_yield lvalue`: the value is copied into the frame so the consumer may move from it.
template <class Y, class S>
class yield_copy_awaiter : public yield_awaiter<Y, S> {
public:
    yield_copy_awaiter(generator_frame<Y, S>* frame, const Y& value)
        : yield_awaiter<Y, S>(frame), m_copy(value) {}
    void await_suspend(std::coroutine_handle<>) noexcept {
        this->m_frame->m_value = std::addressof(m_copy);
    }

private:
    Y m_copy;
};

template <class Y, class S, class R, bool Owned>
class delegate_awaiter;

template <class Gen, bool Owned>
struct delegate_to {
    std::conditional_t<Owned, Gen, Gen*> gen;
};

template <class Range>
struct delegate_range {
    Range& range;
};

template <class Y, class S, class Range>
generator<Y, S> yield_range(Range& range);

template <class Y, class S, class R>
class generator_promise : public generator_frame<Y, S>, public generator_return<R> {
public:
    generator_promise() noexcept {
        this->m_handle = std::coroutine_handle<generator_promise>::from_promise(*this);
    }

    generator<Y, S, R> get_return_object() noexcept;

    auto initial_suspend() noexcept {
        struct start_awaiter {
            generator_frame<Y, S>* frame;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<>) const noexcept {}
            void await_resume() const {
                frame->m_started = true;
                if (frame->m_thrown) [[unlikely]] {
                    rethrow_pending(frame->m_thrown);
                }
            }
        };
        return start_awaiter{this};
    }
    std::suspend_always final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { this->m_exception = std::current_exception(); }

    yield_awaiter<Y, S> yield_value(Y&& value) noexcept {
        this->m_value = std::addressof(value);
        return yield_awaiter<Y, S>(this);
    }
    yield_copy_awaiter<Y, S> yield_value(const Y& value) requires std::copy_constructible<Y> {
        return yield_copy_awaiter<Y, S>(this, value);
    }

    template <class Y2, class S2, class R2, bool Owned>
    delegate_awaiter<Y, S, R2, Owned> yield_value(delegate_to<generator<Y2, S2, R2>, Owned>&& d) {
        static_assert(std::is_same_v<Y, Y2> && std::is_same_v<S, S2>,
                      "yield_from(sub): sub must be a generator with the same yield type Y and "
                      "send type S as the delegating generator (its return type may differ)");
        return delegate_awaiter<Y, S, R2, Owned>(std::move(d.gen));
    }

    template <class Range>
    delegate_awaiter<Y, S, void, true> yield_value(delegate_range<Range>&& d) {
        return delegate_awaiter<Y, S, void, true>(yield_range<Y, S>(d.range));
    }

    /// `co_await` is not available in a generator (use `async_generator`).
    template <class U>
    std::suspend_never await_transform(U&&) = delete;
};

/// Access to a generator's frame for the delegation machinery.
struct generator_access {
    template <class Y, class S, class R>
    static generator_promise<Y, S, R>* frame(generator<Y, S, R>& g) noexcept {
        return g.m_handle ? &g.m_handle.promise() : nullptr;
    }
    /// Forget a frame that the delegating root has already destroyed.
    template <class Y, class S, class R>
    static void release(generator<Y, S, R>& g) noexcept {
        g.m_handle = nullptr;
    }
};

/// The awaiter behind `co_yield yield_from(sub)`. It holds `sub` (by value when the
/// generator was passed as an rvalue, by pointer otherwise) while the driver runs it, and
/// evaluates to its result.
template <class Y, class S, class R, bool Owned>
class delegate_awaiter {
public:
    using gen_type = generator<Y, S, R>;
    explicit delegate_awaiter(std::conditional_t<Owned, gen_type, gen_type*> g) noexcept
        : m_gen(std::move(g)) {}
    delegate_awaiter(const delegate_awaiter&) = delete;
    delegate_awaiter& operator=(const delegate_awaiter&) = delete;
    ~delegate_awaiter() {
        if constexpr (Owned) {
            if (m_sub_destroyed) {
                generator_access::release(m_gen);
            }
        }
    }

    bool await_ready() {
        generator_frame<Y, S>* sub = generator_access::frame(gen());
        if (sub == nullptr) {
            throw invalid_state_error("yield_from: empty generator (default-constructed or "
                                      "moved-from)");
        }
        if (sub->m_running || sub->m_parent != nullptr) {
            throw invalid_state_error("yield_from: generator already running");
        }
        return sub->finished();
    }

    template <class P>
    void await_suspend(std::coroutine_handle<P> caller) noexcept {
        generator_frame<Y, S>* sub = generator_access::frame(gen());
        m_caller = &caller.promise();
        if constexpr (Owned) {
            sub->m_owner = &m_sub_destroyed;
        }
        m_caller->m_delegate = sub;
    }

    R await_resume() {
        if (m_caller != nullptr && m_caller->m_thrown) {
            std::rethrow_exception(std::exchange(m_caller->m_thrown, nullptr));
        }
        generator_frame<Y, S>* sub = generator_access::frame(gen());
        if (sub->m_exception) {
            std::rethrow_exception(std::exchange(sub->m_exception, nullptr));
        }
        if constexpr (std::is_void_v<R>) {
            gen().result();
        } else if constexpr (Owned) {
            return std::move(m_gen).result();
        } else {
            return std::move(gen().result());
        }
    }

private:
    gen_type& gen() noexcept {
        if constexpr (Owned) {
            return m_gen;
        } else {
            return *m_gen;
        }
    }

    std::conditional_t<Owned, gen_type, gen_type*> m_gen;
    generator_frame<Y, S>* m_caller = nullptr;
    bool m_sub_destroyed = false;
};

struct no_send_type {
    no_send_type() = delete;
};

} // namespace detail

/// A generator: a coroutine that produces a sequence of `Y` with `co_yield`, can receive
/// values of type `S` through `send()` (the value of the `co_yield` expression, as a
/// `std::optional<S>`), and ends with a `co_return` of an `R` that `result()` gives back.
/// `generator<Y>` is a plain input range; `generator<Y, S, R>` is Python's
/// `Generator[Y, S, R]`.
///
/// A generator is lazy (its body starts at the first `next()`), move-only, and not
/// thread-safe. Destroying it while suspended destroys its frame: destructors of the
/// locals run, `catch (const generator_exit&)` handlers do not (call `close()` for that).
///
/// `co_await` cannot be used in a generator body; see `async_generator`.
template <class Y, class S, class R>
class [[nodiscard]] generator {
    static_assert(std::is_object_v<Y> && !std::is_const_v<Y> && !std::is_array_v<Y>,
                  "generator<Y>: Y must be a non-const object type");
    static_assert(std::is_void_v<R> || (std::is_object_v<R> && !std::is_array_v<R>),
                  "generator<Y, S, R>: R must be void or an object type");

public:
    using promise_type = detail::generator_promise<Y, S, R>;
    using value_type = Y;
    using send_type = S;
    using return_type = R;

    /// Iterates the yielded values; `*it` refers to the value the generator is suspended
    /// at. Incrementing resumes the generator, or ends the iteration if the loop body has
    /// finished it (with `close()`, say). Exceptions from the body propagate out of
    /// `begin()` and `++`.
    class iterator {
    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = Y;
        using difference_type = std::ptrdiff_t;
        using reference = Y&;

        iterator() noexcept = default;
        Y& operator*() const noexcept { return *m_current->m_value; }
        Y* operator->() const noexcept { return m_current->m_value; }
        iterator& operator++() {
            m_current = m_root->step();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
            return it.m_current == nullptr;
        }

    private:
        friend class generator;
        iterator(detail::generator_frame<Y, S>* root, detail::generator_frame<Y, S>* current)
            : m_root(root), m_current(current) {}
        detail::generator_frame<Y, S>* m_root = nullptr;
        detail::generator_frame<Y, S>* m_current = nullptr;
    };

    /// An empty generator; every operation on it throws `invalid_state_error`.
    generator() noexcept = default;
    generator(generator&& other) noexcept : m_handle(std::exchange(other.m_handle, nullptr)) {}
    generator& operator=(generator&& other) noexcept {
        if (this != &other) {
            reset();
            m_handle = std::exchange(other.m_handle, nullptr);
        }
        return *this;
    }
    ~generator() { reset(); }

    /// Run to the next `co_yield` and return its value (Python's `next(g)`); empty once
    /// the generator has finished. An exception that ends the body is rethrown here once.
    /// \throws invalid_state_error if the generator is running (resumed from its own body).
    std::optional<Y> next() {
        auto& root = frame("next()");
        if (root.finished()) {
            return std::nullopt;
        }
        return take(root.step());
    }

    /// Resume with `value` as the result of the pending `co_yield` and run to the next one.
    /// \throws invalid_state_error if the generator has not started (call `next()` first,
    /// as Python requires), is running, or is being delegated to; the value is not kept.
    std::optional<Y>
    send(std::conditional_t<std::is_void_v<S>, detail::no_send_type, S> value) requires(
        !std::is_void_v<S>) {
        auto& root = frame("send()");
        root.check_resumable();
        if (!root.m_started && !root.finished()) {
            throw invalid_state_error(
                "send(): generator has not started; call next() to run it to its first co_yield");
        }
        if (root.finished()) {
            return std::nullopt;
        }
        root.leaf()->m_sent.value.emplace(std::move(value));
        return take(root.step());
    }

    /// Raise `e` at the suspended `co_yield` (Python's `g.throw(e)`). If the generator
    /// catches it and yields again, that value is returned; if it finishes, empty; an
    /// exception escaping the body propagates. On a generator that has already finished,
    /// `e` is rethrown as is. Throwing `generator_exit` into a delegating generator closes
    /// the delegation as `close()` does (PEP 380): if the sub-generator returns, the
    /// delegating generator gets `generator_exit` too; if the sub-generator yields again
    /// instead, the delegating generator gets `invalid_state_error` at its `yield_from`
    /// (Python's RuntimeError "generator ignored GeneratorExit"), which propagates unless
    /// it catches it.
    std::optional<Y> throw_into(std::exception_ptr e) {
        auto& root = frame("throw_into()");
        if (!e) {
            throw invalid_state_error("throw_into(): null exception_ptr");
        }
        if (root.finished()) {
            std::rethrow_exception(e);
        }
        const bool exiting = detail::is_generator_exit(e);
        return take(root.step_throwing(std::move(e), exiting));
    }

    /// Raise `generator_exit` at the suspended `co_yield` so the body can clean up
    /// (Python's `g.close()`). Returns once the body has finished, whether it let
    /// `generator_exit` propagate or returned. Closing a generator that has not started
    /// or has finished does nothing.
    /// \throws invalid_state_error if the body yields another value instead of finishing
    /// (while delegating: if the sub-generator does, the error is raised in the body at its
    /// `yield_from` first, as Python does); any other exception the body throws
    /// propagates.
    void close() {
        auto& root = frame("close()");
        if (root.finished()) {
            return;
        }
        root.check_resumable();
        if (!root.m_started) {
            root.m_closed_unstarted = true;
            return;
        }
        detail::generator_frame<Y, S>* yielded = nullptr;
        try {
            yielded = root.step_throwing(std::make_exception_ptr(generator_exit{}), true);
        } catch (const generator_exit&) {
            return;
        }
        if (yielded != nullptr) {
            throw invalid_state_error("close(): generator yielded a value instead of exiting (it "
                                      "ignored generator_exit)");
        }
    }

    /// True once the body has finished (returned, thrown, or been closed).
    [[nodiscard]] bool done() const noexcept {
        return m_handle == nullptr || m_handle.promise().finished();
    }

    /// The value of the body's `co_return` (Python's `StopIteration.value`).
    /// \throws invalid_state_error before the generator has finished, or when it finished
    /// without returning (an exception, or `close()`).
    decltype(auto) result() & { return get_result(); }
    decltype(auto) result() const& {
        if constexpr (std::is_void_v<R>) {
            get_result();
        } else {
            return static_cast<const R&>(get_result());
        }
    }
    /// Moves the return value out.
    auto result() && {
        if constexpr (std::is_void_v<R>) {
            get_result();
        } else {
            return R(std::move(get_result()));
        }
    }

    /// Starts or resumes the generator (like `next()`) and returns an iterator to the value.
    iterator begin() {
        auto& root = frame("begin()");
        if (root.finished()) {
            return iterator(&root, nullptr);
        }
        return iterator(&root, root.step());
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    friend struct detail::generator_access;
    friend class detail::generator_promise<Y, S, R>;
    explicit generator(std::coroutine_handle<promise_type> h) noexcept : m_handle(h) {}

    void reset() noexcept {
        if (m_handle) {
            m_handle.promise().destroy_chain();
            m_handle = nullptr;
        }
    }

    promise_type& frame(const char* operation) const {
        if (!m_handle) {
            throw invalid_state_error(std::string(operation) +
                                      ": empty generator (default-constructed or moved-from)");
        }
        return m_handle.promise();
    }

    static std::optional<Y> take(detail::generator_frame<Y, S>* f) {
        if (f == nullptr) {
            return std::nullopt;
        }
        return std::optional<Y>(std::move(*f->m_value));
    }

    decltype(auto) get_result() const {
        promise_type& p = frame("result()");
        if (!p.finished()) {
            throw invalid_state_error("result(): generator has not finished");
        }
        if constexpr (std::is_void_v<R>) {
            if (!p.m_returned) {
                throw invalid_state_error("result(): generator finished without returning "
                                          "(it ended with an exception or was closed)");
            }
        } else {
            if (!p.m_result) {
                throw invalid_state_error("result(): generator finished without returning "
                                          "(it ended with an exception or was closed)");
            }
            return static_cast<R&>(*p.m_result);
        }
    }

    std::coroutine_handle<promise_type> m_handle;
};

template <class Y, class S, class R>
generator<Y, S, R> detail::generator_promise<Y, S, R>::get_return_object() noexcept {
    return generator<Y, S, R>(std::coroutine_handle<generator_promise>::from_promise(*this));
}

template <class Y, class S, class Range>
generator<Y, S> detail::yield_range(Range& range) {
    for (auto&& element : range) {
        co_yield static_cast<Y>(std::forward<decltype(element)>(element));
    }
}

/// Delegate to a sub-generator (Python's `yield from sub`):
/// `R2 r = co_yield corio::yield_from(std::move(sub));`. Every value of `sub` is yielded
/// out, `send`/`throw_into`/`close` on the outer generator go to `sub`, and the expression
/// evaluates to `sub`'s return value. `sub` must have the same `Y` and `S`. An exception
/// escaping `sub` is raised at the delegating `co_yield`.
///
/// Passing `sub` as an lvalue delegates to it without taking it: it must outlive the
/// delegation, and if the outer generator is destroyed first, `sub` stays suspended
/// where it was, for its owner to continue. When `sub` finishes, the expression moves its
/// return value out of it. For deep recursion prefer the rvalue form: a chain of
/// generators that each hold the next as a local and delegate to it by reference is
/// destroyed recursively (each frame's local destroys the next frame), one stack frame
/// per level, whereas a chain of owned sub-generators is destroyed in a loop.
template <class Y, class S, class R>
detail::delegate_to<generator<Y, S, R>, true> yield_from(generator<Y, S, R>&& sub) noexcept {
    return {std::move(sub)};
}
template <class Y, class S, class R>
detail::delegate_to<generator<Y, S, R>, false> yield_from(generator<Y, S, R>& sub) noexcept {
    return {&sub};
}

/// Yield every element of an input range: `co_yield corio::yield_from(vec);`. The range is
/// used in place; values sent while it is being delegated to are discarded; the expression
/// is void.
template <std::ranges::input_range Range>
requires(!detail::is_generator_v<std::remove_cvref_t<Range>>)
    detail::delegate_range<std::remove_reference_t<Range>> yield_from(Range&& range)
noexcept {
    return {range};
}

} // namespace corio
