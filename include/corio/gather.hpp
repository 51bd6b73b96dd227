#pragma once
/// \file
/// `corio::gather`: run awaitables concurrently and collect their results in argument
/// order (asyncio.gather).
///
/// ```cpp
/// auto [page, _, n] = co_await corio::gather(fetch(url), corio::sleep(1s), count());
/// std::vector<std::string> pages = co_await corio::gather(std::move(fetches));
/// auto settled = co_await corio::gather(corio::return_exceptions, std::move(fetches));
/// for (auto& o : settled) if (!o.has_value()) log(o.exception());
/// ```
///
/// Every argument becomes a task on the running loop when the gather is awaited (a task is
/// spawned, any other awaitable is wrapped in a task first, a `join_handle` is watched as
/// it is). The gather is lazy like any task: nothing starts before it is awaited.
///
/// Failure: the first argument to end with an exception makes the gather cancel every
/// other one still running, wait until they have all finished (their cleanup included),
/// and rethrow that exception. An argument cancelled by someone other than the gather
/// counts as failed with `cancelled_error`, as in asyncio.
///
/// Cancellation: cancelling the task that awaits the gather cancels every argument still
/// running, waits until they have all finished, and throws `cancelled_error` (even if an
/// argument failed meanwhile: the cancellation is never lost). So no argument outlives
/// its gather.
///
/// The settled form, `gather(corio::return_exceptions, ...)`, never cancels siblings: it
/// waits for every argument and gives a `corio::outcome<T>` for each (a value or the
/// exception). It is cancelled the same way.

#include "corio/detail/awaitable_traits.hpp"
#include "corio/detail/child_set.hpp"
#include "corio/errors.hpp"
#include "corio/join_handle.hpp"
#include "corio/outcome.hpp"
#include "corio/task.hpp"

#include <cstddef>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace corio {

/// The tag type of `corio::return_exceptions`.
struct return_exceptions_t {
    explicit return_exceptions_t() = default;
};
/// Selects the settled form of `gather`: `corio::outcome<T>` values, siblings never
/// cancelled (asyncio's `return_exceptions=True`).
inline constexpr return_exceptions_t return_exceptions{};

namespace detail {

/// Wait until every child of `set` is done. Cancellation of the waiting task cancels the
/// children; once they are done the wait throws cancelled_error.
/// \throws cancelled_error if cancelled; the set's first failure, if any.
inline task<> gather_wait(child_set& set) {
    bool cancelled = false;
    while (!set.all_done()) {
        if (co_await set.changed(on_cancel_policy::cancel_children)) {
            cancelled = true;
        }
    }
    if (cancelled) {
        set.retrieve_all();
        throw cancelled_error{};
    }
    if (const std::exception_ptr& failure = set.first_failure()) {
        set.retrieve_all();
        std::rethrow_exception(failure);
    }
}

/// Start every source (spawning tasks), watching each in `set`. If starting one fails,
/// those already started are cancelled.
template <class... S>
std::tuple<join_handle<typename child_source_result<S>::type>...> start_children(child_set& set,
                                                                                 S&... sources) {
    std::tuple<join_handle<typename child_source_result<S>::type>...> handles;
    try {
        std::apply(
            [&](auto&... h) {
                ((h = start_child(std::move(sources)), set.add(*h.state_ptr())), ...);
            },
            handles);
    } catch (...) {
        set.cancel_all();
        throw;
    }
    return handles;
}

template <class S>
std::vector<join_handle<typename child_source_result<S>::type>>
start_children(child_set& set, std::vector<S>& sources) {
    std::vector<join_handle<typename child_source_result<S>::type>> handles;
    handles.reserve(sources.size());
    try {
        for (S& s : sources) {
            handles.push_back(start_child(std::move(s)));
            set.add(*handles.back().state_ptr());
        }
    } catch (...) {
        set.cancel_all();
        throw;
    }
    return handles;
}

/// The result of a finished child, void as std::monostate.
template <class T>
value_or_monostate_t<T> child_value(const join_handle<T>& h) {
    if constexpr (std::is_void_v<T>) {
        h.state_ptr()->result();
        return {};
    } else {
        return h.state_ptr()->result();
    }
}

/// How a finished child ended.
template <class T>
outcome<T> child_outcome(const join_handle<T>& h) {
    task_state<T>& s = *h.state_ptr();
    if (std::exception_ptr e = s.exception()) {
        return outcome<T>(std::move(e));
    }
    if constexpr (std::is_void_v<T>) {
        return outcome<void>();
    } else {
        return outcome<T>(std::in_place, s.result());
    }
}

template <class... S>
task<std::tuple<value_or_monostate_t<typename child_source_result<S>::type>...>>
gather_tuple(S... sources) {
    child_set set(sizeof...(S));
    set.cancel_siblings_on_failure();
    auto handles = start_children(set, sources...);
    co_await gather_wait(set);
    co_return std::apply(
        [](const auto&... h) {
            return std::tuple<value_or_monostate_t<typename child_source_result<S>::type>...>(
                child_value(h)...);
        },
        handles);
}

template <class... S>
task<std::tuple<outcome<typename child_source_result<S>::type>...>>
gather_settled_tuple(S... sources) {
    child_set set(sizeof...(S));
    auto handles = start_children(set, sources...);
    co_await gather_wait(set);
    co_return std::apply(
        [](const auto&... h) {
            return std::tuple<outcome<typename child_source_result<S>::type>...>(
                child_outcome(h)...);
        },
        handles);
}

template <class S>
task<std::vector<value_or_monostate_t<typename child_source_result<S>::type>>>
gather_vector(std::vector<S> sources) {
    child_set set(sources.size());
    set.cancel_siblings_on_failure();
    auto handles = start_children(set, sources);
    co_await gather_wait(set);
    std::vector<value_or_monostate_t<typename child_source_result<S>::type>> results;
    results.reserve(handles.size());
    for (const auto& h : handles) {
        results.push_back(child_value(h));
    }
    co_return results;
}

template <class S>
task<std::vector<outcome<typename child_source_result<S>::type>>>
gather_settled_vector(std::vector<S> sources) {
    child_set set(sources.size());
    auto handles = start_children(set, sources);
    co_await gather_wait(set);
    std::vector<outcome<typename child_source_result<S>::type>> results;
    results.reserve(handles.size());
    for (const auto& h : handles) {
        results.push_back(child_outcome(h));
    }
    co_return results;
}

/// Turn a vector of awaitables into a vector of child sources.
template <class A>
auto to_child_sources(std::vector<A>&& awaitables) {
    if constexpr (is_task<A>::value || is_join_handle<A>::value) {
        return std::move(awaitables);
    } else {
        std::vector<task<child_result_t<A>>> sources;
        sources.reserve(awaitables.size());
        for (A& a : awaitables) {
            sources.push_back(as_task<A>(std::move(a)));
        }
        return sources;
    }
}

} // namespace detail

/// Run `awaitables` concurrently; when all have finished, their results in argument order
/// (void as `std::monostate`).
///
/// Tasks are taken by value (`std::move` a named one); a `join_handle` is watched, and
/// cancelled when the gather cancels its arguments; other awaitables are wrapped in tasks.
/// \throws the first exception an argument ends with, once the others have been cancelled
/// and have finished; `cancelled_error` if the awaiting task is cancelled (after the
/// arguments have been cancelled and have finished).
template <awaitable... A>
task<std::tuple<detail::value_or_monostate_t<detail::child_result_t<A>>...>>
gather(A&&... awaitables) {
    return detail::gather_tuple(detail::to_child_source(std::forward<A>(awaitables))...);
}

/// Run every awaitable of `awaitables` concurrently; their results in the vector's order
/// (void as `std::monostate`). An empty vector gives an empty vector.
/// \throws as the variadic form.
template <awaitable A>
task<std::vector<detail::value_or_monostate_t<detail::child_result_t<A>>>>
gather(std::vector<A> awaitables) {
    static_assert(!std::is_reference_v<detail::child_result_t<A>>,
                  "gather(std::vector): the awaitables must not give references");
    return detail::gather_vector(detail::to_child_sources(std::move(awaitables)));
}

/// The settled form: run `awaitables` concurrently and wait for all of them; how each
/// ended, in argument order. Never cancels one because another failed.
/// \throws cancelled_error if the awaiting task is cancelled (after cancelling the
/// arguments and waiting for them).
template <awaitable... A>
task<std::tuple<outcome<detail::child_result_t<A>>...>> gather(return_exceptions_t,
                                                               A&&... awaitables) {
    return detail::gather_settled_tuple(detail::to_child_source(std::forward<A>(awaitables))...);
}

/// The settled form over a vector: how each awaitable ended, in the vector's order.
/// \throws cancelled_error if the awaiting task is cancelled.
template <awaitable A>
task<std::vector<outcome<detail::child_result_t<A>>>> gather(return_exceptions_t,
                                                             std::vector<A> awaitables) {
    return detail::gather_settled_vector(detail::to_child_sources(std::move(awaitables)));
}

} // namespace corio
