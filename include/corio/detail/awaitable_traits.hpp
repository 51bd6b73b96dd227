#pragma once
// What "awaitable" means (the C++ form of Python's __await__): a type with
// await_ready/await_suspend/await_resume, or one whose operator co_await (member or free)
// returns such a type.

#include <concepts>
#include <coroutine>
#include <type_traits>
#include <utility>

namespace corio::detail {

template <class T>
concept suspend_result = std::is_void_v<T> || std::is_same_v<T, bool> ||
    std::is_convertible_v<T, std::coroutine_handle<>>;

/// The three calls `co_await` makes on its awaiter. await_suspend is checked with a
/// `coroutine_handle<>`, which a templated `await_suspend(coroutine_handle<P>)` accepts.
template <class A>
concept awaiter = requires(A& a, std::coroutine_handle<> h) {
    { a.await_ready() } -> std::convertible_to<bool>;
    { a.await_suspend(h) } -> suspend_result;
    a.await_resume();
};

template <class A>
concept has_member_co_await = requires(A&& a) {
    std::forward<A>(a).operator co_await();
};
template <class A>
concept has_free_co_await = requires(A&& a) {
    operator co_await(std::forward<A>(a));
};

/// The awaiter `co_await a` uses (await_transform aside).
template <class A>
decltype(auto) get_awaiter(A&& a) {
    if constexpr (has_member_co_await<A>) {
        return std::forward<A>(a).operator co_await();
    } else if constexpr (has_free_co_await<A>) {
        return operator co_await(std::forward<A>(a));
    } else {
        return std::forward<A>(a);
    }
}

template <class A>
using awaiter_t = decltype(get_awaiter(std::declval<A>()));

} // namespace corio::detail

namespace corio {

/// Anything `co_await` accepts in a corio task: an awaiter, or a type whose
/// `operator co_await` (member or free) gives one.
template <class A>
concept awaitable = detail::awaiter<std::remove_reference_t<detail::awaiter_t<A>>>;

/// The type `co_await std::declval<A>()` evaluates to.
template <awaitable A>
using await_result_t = decltype(std::declval<detail::awaiter_t<A>&>().await_resume());

} // namespace corio
