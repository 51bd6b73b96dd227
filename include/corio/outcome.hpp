#pragma once
/// \file
/// `corio::outcome<T>`: how an operation ended, a value or an exception. What
/// `gather(corio::return_exceptions, ...)` gives for each awaitable (Python's
/// `gather(..., return_exceptions=True)` list, where a result may be an exception object).
///
/// ```cpp
/// auto [a, b] = co_await corio::gather(corio::return_exceptions, fetch(x), fetch(y));
/// if (a.has_value()) use(a.value());
/// else log(a.exception());
/// b.value();   // the page, or rethrows what fetch(y) threw
/// ```

#include "corio/errors.hpp"

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace corio {

/// A value of type `T` or the exception that prevented it. Never empty.
/// `outcome<void>` is a success without a value, or an exception.
template <class T>
class outcome {
    static_assert(!std::is_reference_v<T>,
                  "outcome<T&> is not supported: use outcome<std::reference_wrapper<T>>");

public:
    using value_type = T;

    /// A success holding `value`.
    template <class U = T>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, outcome> &&
             !std::is_same_v<std::remove_cvref_t<U>, std::exception_ptr> &&
             !std::is_same_v<std::remove_cvref_t<U>, std::in_place_t>)
        outcome(U&& value) // NOLINT(google-explicit-constructor): outcome<int> o = 5;
        : m_state(std::in_place_index<0>, std::forward<U>(value)) {}
    /// A success holding `T(args...)`.
    template <class... Args>
    requires std::is_constructible_v<T, Args&&...>
    explicit outcome(std::in_place_t, Args&&... args)
        : m_state(std::in_place_index<0>, std::forward<Args>(args)...) {}
    /// A failure. \throws invalid_state_error if `e` is null.
    outcome(std::exception_ptr e) // NOLINT(google-explicit-constructor)
        : m_state(std::in_place_index<1>, checked(std::move(e))) {}

    /// True if it holds a value.
    [[nodiscard]] bool has_value() const noexcept { return m_state.index() == 0; }
    /// Same as has_value().
    explicit operator bool() const noexcept { return has_value(); }

    /// The value. \throws the stored exception if it holds one.
    T& value() & {
        rethrow_if_failed();
        return *std::get_if<0>(&m_state);
    }
    /// The value. \throws the stored exception if it holds one.
    const T& value() const& {
        rethrow_if_failed();
        return *std::get_if<0>(&m_state);
    }
    /// The value, moved out. \throws the stored exception if it holds one.
    T&& value() && {
        rethrow_if_failed();
        return std::move(*std::get_if<0>(&m_state));
    }

    /// The exception, or nullptr if it holds a value.
    [[nodiscard]] std::exception_ptr exception() const noexcept {
        const std::exception_ptr* e = std::get_if<1>(&m_state);
        return e != nullptr ? *e : nullptr;
    }

private:
    static std::exception_ptr checked(std::exception_ptr e) {
        if (!e) {
            throw invalid_state_error("outcome: null exception_ptr");
        }
        return e;
    }
    void rethrow_if_failed() const {
        if (const std::exception_ptr* e = std::get_if<1>(&m_state)) {
            std::rethrow_exception(*e);
        }
    }

    std::variant<T, std::exception_ptr> m_state;
};

/// How a `void` operation ended: success, or an exception.
template <>
class outcome<void> {
public:
    using value_type = void;

    /// A success.
    outcome() noexcept = default;
    /// A failure. \throws invalid_state_error if `e` is null.
    outcome(std::exception_ptr e) // NOLINT(google-explicit-constructor)
        : m_exception(std::move(e)) {
        if (!m_exception) {
            throw invalid_state_error("outcome: null exception_ptr");
        }
    }

    /// True if the operation succeeded.
    [[nodiscard]] bool has_value() const noexcept { return !m_exception; }
    /// Same as has_value().
    explicit operator bool() const noexcept { return has_value(); }
    /// Nothing on success. \throws the stored exception if it holds one.
    void value() const {
        if (m_exception) {
            std::rethrow_exception(m_exception);
        }
    }
    /// The exception, or nullptr on success.
    [[nodiscard]] std::exception_ptr exception() const noexcept { return m_exception; }

private:
    std::exception_ptr m_exception;
};

} // namespace corio
