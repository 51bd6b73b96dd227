#pragma once
/// \file
/// `corio::wait`: wait until some or all of a set of tasks are done, without cancelling
/// anything (asyncio.wait).
///
/// ```cpp
/// auto [done, pending] = co_await corio::wait(handles, corio::return_when::first_completed);
/// for (auto& h : pending) h.cancel();   // wait itself never cancels
/// ```

#include "corio/detail/child_set.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/task.hpp"

#include <chrono>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace corio {

/// When `wait` returns (asyncio's FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class return_when {
    /// As soon as any task is done (returned, failed or cancelled).
    first_completed,
    /// As soon as any task ends with an exception other than `cancelled_error`; if none
    /// does, when all are done.
    first_exception,
    /// When every task is done.
    all_completed,
};

/// What `wait` gives: the handles that were done when it returned and those that were
/// not, each in the order they were given.
template <class T>
struct wait_result {
    /// The tasks that had finished (returned, failed or been cancelled).
    std::vector<join_handle<T>> done;
    /// The tasks still running; `wait` did not cancel them.
    std::vector<join_handle<T>> pending;
};

namespace detail {

template <class T>
task<wait_result<T>> wait_on(std::vector<join_handle<T>> handles, return_when when,
                             std::optional<clock::duration> timeout) {
    child_set set(handles.size());
    if (when == return_when::first_exception) {
        set.inspect_failures();
    }
    for (const auto& h : handles) {
        set.add(*h.state_ptr());
    }
    auto satisfied = [&] {
        switch (when) {
        case return_when::first_completed:
            return set.done_count() > 0;
        case return_when::first_exception:
            return set.failed_count() > 0 || set.all_done();
        case return_when::all_completed:
            break;
        }
        return set.all_done();
    };
    if (timeout && !satisfied()) {
        set.set_deadline(get_running_loop().time() + *timeout);
    }
    while (!satisfied() && !set.timed_out()) {
        co_await set.changed(on_cancel_policy::detach);
    }
    wait_result<T> result;
    for (auto& h : handles) {
        (h.done() ? result.done : result.pending).push_back(std::move(h));
    }
    co_return result;
}

} // namespace detail

/// Wait until the tasks of `handles` satisfy `when`, or `timeout` has passed; which are
/// done and which are not. Cancels nothing: not on timeout, and not when the awaiting task
/// is cancelled (the wait then stops with `cancelled_error` and the tasks run on).
/// A timeout is not an error: the tasks not done are in `pending`.
/// With `return_when::first_exception`, the exceptions of the tasks seen failing are
/// marked retrieved (as asyncio does).
/// \throws std::invalid_argument if `handles` is empty; invalid_state_error if one is
/// empty (default-constructed or moved-from); cancelled_error if the awaiting task is
/// cancelled.
template <class T>
task<wait_result<T>> wait(const std::vector<join_handle<T>>& handles,
                          return_when when = return_when::all_completed,
                          std::optional<clock::duration> timeout = std::nullopt) {
    if (handles.empty()) {
        throw std::invalid_argument("wait: no tasks to wait for");
    }
    for (const auto& h : handles) {
        if (!h.valid()) {
            throw invalid_state_error("wait: empty join_handle (default-constructed or "
                                      "moved-from)");
        }
    }
    return detail::wait_on(handles, when, timeout);
}

} // namespace corio
