// wait: each return_when, the timeout, and that it cancels nothing. Virtual clock
// throughout.

#include "corio/wait.hpp"

#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/sleep.hpp"
#include "corio/task.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/loop.hpp"

namespace {

using corio_test::now;
using corio_test::run_then_close;
using corio_test::since;
using corio_test::test_error;
using corio_test::throw_after;
using corio_test::value_after;
using corio_test::virtual_time;

using namespace std::chrono_literals;
using corio::join_handle;
using corio::return_when;
using corio::task;
using ms = std::chrono::milliseconds;

task<> cancel_after(ms delay, join_handle<int> h) {
    co_await corio::sleep(delay);
    h.cancel();
}

/// The ids of `handles`, to compare sets of tasks.
std::vector<std::uint64_t> ids(const std::vector<join_handle<int>>& handles) {
    std::vector<std::uint64_t> out;
    for (const auto& h : handles) {
        out.push_back(h.id());
    }
    return out;
}

static_assert(std::is_same_v<decltype(corio::wait(std::declval<std::vector<join_handle<int>>&>())),
                             task<corio::wait_result<int>>>);

task<> all_completed_main() {
    std::vector<join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(30ms, 1)));
    handles.push_back(corio::spawn(value_after(10ms, 2)));
    handles.push_back(corio::spawn(value_after(20ms, 3)));
    const auto start = now();
    auto [done, pending] = co_await corio::wait(handles);
    EXPECT_EQ(since(start), 30ms);
    EXPECT_EQ(ids(done), ids(handles)); // in the order given
    EXPECT_TRUE(pending.empty());
    EXPECT_EQ(done.at(1).result(), 2);
}

TEST(wait, all_completed_returns_when_every_task_is_done) {
    corio::run(all_completed_main(), virtual_time());
}

task<> first_completed_main() {
    std::vector<join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(30ms, 1)));
    handles.push_back(corio::spawn(value_after(10ms, 2)));
    handles.push_back(corio::spawn(value_after(20ms, 3)));
    const auto start = now();
    auto [done, pending] = co_await corio::wait(handles, return_when::first_completed);
    EXPECT_EQ(since(start), 10ms);
    EXPECT_EQ(ids(done), (std::vector<std::uint64_t>{handles[1].id()}));
    EXPECT_EQ(ids(pending), (std::vector<std::uint64_t>{handles[0].id(), handles[2].id()}));
    // Nothing was cancelled: the pending tasks finish normally.
    EXPECT_EQ(co_await pending.at(0), 1);
    EXPECT_EQ(co_await pending.at(1), 3);
    EXPECT_FALSE(handles[0].cancelled());
}

TEST(wait, first_completed_returns_at_the_first_task_done) {
    corio::run(first_completed_main(), virtual_time());
}

task<> first_exception_main() {
    std::vector<join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(30ms, 1)));
    handles.push_back(corio::spawn(value_after(5ms, 2)));
    handles.push_back(corio::spawn(throw_after(10ms, "boom")));
    handles.push_back(corio::spawn(value_after(20ms, 4)));
    const auto start = now();
    auto [done, pending] = co_await corio::wait(handles, return_when::first_exception);
    EXPECT_EQ(since(start), 10ms);
    EXPECT_EQ(ids(done), (std::vector<std::uint64_t>{handles[1].id(), handles[2].id()}));
    EXPECT_EQ(ids(pending), (std::vector<std::uint64_t>{handles[0].id(), handles[3].id()}));
    EXPECT_NE(done.at(1).exception(), nullptr);
    EXPECT_EQ(co_await pending.at(0), 1);
    EXPECT_EQ(co_await pending.at(1), 4);
}

TEST(wait, first_exception_returns_at_the_first_failure) {
    corio::run(first_exception_main(), virtual_time());
}

task<> first_exception_without_failure_main() {
    std::vector<join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(30ms, 1)));
    handles.push_back(corio::spawn(value_after(10ms, 2)));
    const auto start = now();
    auto [done, pending] = co_await corio::wait(handles, return_when::first_exception);
    EXPECT_EQ(since(start), 30ms);
    EXPECT_EQ(done.size(), 2u);
    EXPECT_TRUE(pending.empty());
}

TEST(wait, first_exception_without_a_failure_waits_for_all) {
    corio::run(first_exception_without_failure_main(), virtual_time());
}

task<> first_exception_ignores_cancelled_main() {
    std::vector<join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(1h, 1)));
    handles.push_back(corio::spawn(value_after(20ms, 2)));
    auto canceller = corio::spawn(cancel_after(5ms, handles[0]));
    const auto start = now();
    auto [done, pending] = co_await corio::wait(handles, return_when::first_exception);
    EXPECT_EQ(since(start), 20ms); // the cancellation at 5 ms did not count as a failure
    EXPECT_EQ(done.size(), 2u);
    EXPECT_TRUE(handles[0].cancelled());
    co_await canceller;
}

TEST(wait, first_exception_does_not_count_a_cancelled_task) {
    corio::run(first_exception_ignores_cancelled_main(), virtual_time());
}

task<> timeout_main() {
    std::vector<join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(10ms, 1)));
    handles.push_back(corio::spawn(value_after(1h, 2)));
    const auto start = now();
    auto [done, pending] = co_await corio::wait(handles, return_when::all_completed, 15ms);
    EXPECT_EQ(since(start), 15ms);
    EXPECT_EQ(ids(done), (std::vector<std::uint64_t>{handles[0].id()}));
    EXPECT_EQ(ids(pending), (std::vector<std::uint64_t>{handles[1].id()}));
    // A timeout is not an error and cancels nothing.
    EXPECT_FALSE(pending.at(0).done());
    EXPECT_EQ(co_await pending.at(0), 2);
    EXPECT_EQ(since(start), 1h);
}

TEST(wait, timeout_returns_what_is_done_and_cancels_nothing) {
    corio::run(timeout_main(), virtual_time());
}

task<> first_completed_with_timeout_main() {
    std::vector<join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(1h, 1)));
    const auto start = now();
    auto r = co_await corio::wait(handles, return_when::first_completed, 20ms);
    EXPECT_EQ(since(start), 20ms);
    EXPECT_TRUE(r.done.empty());
    EXPECT_EQ(r.pending.size(), 1u);
    // Done before the deadline: the timer goes with the wait.
    auto early = co_await corio::wait(handles, return_when::first_completed, 2h);
    EXPECT_EQ(since(start), 1h);
    EXPECT_EQ(early.done.size(), 1u);
    co_await corio::sleep(2h);
}

TEST(wait, first_completed_with_a_timeout) {
    corio::run(first_completed_with_timeout_main(), virtual_time());
}

task<> already_done_main() {
    std::vector<join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(1h, 1)));
    handles.push_back(corio::spawn(value_after(10ms, 2)));
    co_await handles[1];
    const auto start = now();
    auto [done, pending] = co_await corio::wait(handles, return_when::first_completed);
    EXPECT_EQ(since(start), 0ms);
    EXPECT_EQ(done.size(), 1u);
    EXPECT_EQ(pending.size(), 1u);
    // A zero timeout only looks.
    auto look = co_await corio::wait(handles, return_when::all_completed, 0s);
    EXPECT_EQ(since(start), 0ms);
    EXPECT_EQ(look.pending.size(), 1u);
    handles[0].cancel();
}

TEST(wait, returns_at_once_when_already_satisfied_or_with_a_zero_timeout) {
    corio::run(already_done_main(), virtual_time());
}

task<> bad_arguments_main() {
    std::vector<join_handle<int>> none;
    EXPECT_THROW(static_cast<void>(corio::wait(none)), std::invalid_argument);
    std::vector<join_handle<int>> empty_handle(1);
    EXPECT_THROW(static_cast<void>(corio::wait(empty_handle)), corio::invalid_state_error);
    co_return;
}

TEST(wait, refuses_no_tasks_and_empty_handles) {
    corio::run(bad_arguments_main(), virtual_time());
}

task<std::size_t> wait_for_all(std::vector<join_handle<int>> handles) {
    auto r = co_await corio::wait(handles, return_when::all_completed, 1h);
    co_return r.done.size();
}

task<> cancel_waiter_main() {
    std::vector<join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(2h, 1)));
    handles.push_back(corio::spawn(value_after(3h, 2)));
    auto waiter = corio::spawn(wait_for_all(handles));
    co_await corio::sleep(10ms);
    const auto start = now();
    waiter.cancel();
    bool cancelled = false;
    try {
        co_await waiter;
    } catch (const corio::cancelled_error&) {
        cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(waiter.cancelled());
    EXPECT_EQ(since(start), 0ms);
    // wait cancels nothing, not even when it is cancelled: the tasks run on and finish.
    EXPECT_FALSE(handles[0].done());
    // Past the 1 h deadline (a timer left behind would fire into the gone wait), then past
    // the tasks' completion (a listener left behind would be called).
    EXPECT_EQ(co_await handles[0], 1);
    EXPECT_EQ(co_await handles[1], 2);
    EXPECT_EQ(since(start), 3h - 10ms);
    EXPECT_EQ(corio::all_tasks().size(), 1u);
}

TEST(wait, cancelling_a_task_blocked_in_wait_leaves_nothing_behind) {
    corio::run(cancel_waiter_main(), virtual_time());
}

task<> void_main() {
    std::vector<join_handle<>> handles;
    handles.push_back(corio::spawn(corio::sleep(10ms)));
    handles.push_back(corio::spawn(corio::sleep(20ms)));
    auto [done, pending] = co_await corio::wait(handles, return_when::first_completed);
    EXPECT_EQ(done.size(), 1u);
    EXPECT_EQ(pending.size(), 1u);
    co_await pending.at(0);
}

TEST(wait, works_on_void_tasks) {
    corio::run(void_main(), virtual_time());
}

task<> wait_forever(std::vector<join_handle<int>> handles) {
    co_await corio::wait(handles, return_when::all_completed, 2h);
}

task<> closed_while_waiting_main() {
    std::vector<join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(1h, 1))); // abandoned before its watcher
    corio::spawn(wait_forever(handles));
    co_await corio::sleep(1ms);
}

TEST(wait, a_loop_closed_while_it_waits_frees_everything) {
    run_then_close(closed_while_waiting_main());
}

} // namespace
