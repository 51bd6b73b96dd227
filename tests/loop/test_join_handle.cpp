// spawn and join_handle (API §4, asyncio.create_task and Task): starting, awaiting,
// results, names, current_task/all_tasks, and cancellation at every stage of a task's life.

#include "corio/join_handle.hpp"

#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/future.hpp"
#include "corio/sleep.hpp"
#include "corio/task.hpp"

#include "support/counted.hpp"

#include <gtest/gtest.h>

#include "support/loop.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::future;
using corio::join_handle;
using corio::task;
using corio_test::counted;
using corio_test::invalid_state_message;
using corio_test::value_after;

static_assert(std::is_copy_constructible_v<join_handle<int>>);
static_assert(std::is_nothrow_move_constructible_v<join_handle<int>>);
static_assert(corio::awaitable<join_handle<int>&>);
static_assert(corio::awaitable<const join_handle<int>&>);
static_assert(std::is_same_v<corio::await_result_t<join_handle<int>&>, int>);
static_assert(std::is_same_v<corio::await_result_t<join_handle<>&>, void>);
static_assert(std::is_same_v<decltype(corio::spawn(std::declval<task<int>>())), join_handle<int>>);
static_assert(std::is_same_v<decltype(corio::spawn(corio::sleep(1s))), join_handle<>>);
static_assert(std::is_same_v<decltype(corio::spawn(std::declval<future<std::string>&>())),
                             join_handle<std::string>>);

using corio_test::virtual_time;

task<> set_flag(bool* flag) {
    *flag = true;
    co_return;
}

task<> fail_after_yield(std::string message) {
    co_await corio::sleep(0s);
    throw std::runtime_error(message);
}

/// Sleeps for `d`; on cancellation, runs a cleanup that itself awaits (the C++20 idiom:
/// keep the exception, leave the handler, await, rethrow).
task<> sleep_with_async_cleanup(corio::clock::duration d, std::vector<std::string>* log) {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(d);
        log->emplace_back("slept");
    } catch (const corio::cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (cancelled) {
        log->emplace_back("cleanup started");
        co_await corio::sleep(2s);
        log->emplace_back("cleanup finished");
        std::rethrow_exception(cancelled);
    }
}

// --- spawn ----------------------------------------------------------------------------------

task<std::vector<std::string>> spawn_starts_next_iteration() {
    bool ran = false;
    join_handle<> h = corio::spawn(set_flag(&ran));
    std::vector<std::string> log;
    log.emplace_back(ran ? "ran at once" : "not yet");
    EXPECT_FALSE(h.done());
    co_await corio::sleep(0s);
    log.emplace_back(ran ? "ran" : "still not");
    EXPECT_TRUE(h.done());
    co_return log;
}

TEST(spawn, the_task_starts_in_the_next_iteration) {
    EXPECT_EQ(corio::run(spawn_starts_next_iteration()),
              (std::vector<std::string>{"not yet", "ran"}));
}

task<corio::clock::duration> spawn_a_sleep() {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    join_handle<> h = corio::spawn(corio::sleep(90s));
    co_await h;
    co_return loop.time() - start;
}

TEST(spawn, a_plain_awaitable_is_wrapped_in_a_task) {
    EXPECT_EQ(corio::run(spawn_a_sleep(), virtual_time()), 90s);
}

task<std::vector<int>> tasks_run_concurrently() {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    join_handle<int> a = corio::spawn(value_after(3s, 1));
    join_handle<int> b = corio::spawn(value_after(1s, 2));
    join_handle<int> c = corio::spawn(value_after(2s, 3));
    std::vector<int> got;
    got.push_back(co_await a);
    got.push_back(co_await b);
    got.push_back(co_await c);
    EXPECT_EQ(loop.time() - start, 3s) << "the sleeps overlapped";
    co_return got;
}

TEST(spawn, tasks_run_concurrently) {
    EXPECT_EQ(corio::run(tasks_run_concurrently(), virtual_time()), (std::vector<int>{1, 2, 3}));
}

TEST(spawn, outside_a_loop_is_an_error_naming_spawn) {
    EXPECT_EQ(invalid_state_message([] { (void)corio::spawn(value_after(0s, 1)); }),
              "invalid_state_error: spawn: no running event loop on this thread");
    // Any awaitable, wrapped in a task first.
    EXPECT_EQ(invalid_state_message([] { (void)corio::spawn(corio::sleep(0s)); }),
              "invalid_state_error: spawn: no running event loop on this thread");
}

task<int> inner_value() {
    co_return 5;
}

task<std::vector<std::string>> spawn_misuse() {
    std::vector<std::string> messages;
    messages.push_back(invalid_state_message([] { (void)corio::spawn(task<int>{}); }));
    task<int> t = inner_value();
    EXPECT_EQ(co_await t, 5);
    messages.push_back(invalid_state_message([&] { (void)corio::spawn(std::move(t)); }));
    co_return messages;
}

TEST(spawn, an_empty_or_already_awaited_task_is_refused) {
    const std::vector<std::string> expected{
        "invalid_state_error: spawn: empty task (default-constructed or moved-from)",
        "invalid_state_error: spawn: task was already awaited or spawned"};
    EXPECT_EQ(corio::run(spawn_misuse()), expected);
}

// --- awaiting and results ----------------------------------------------------------------

task<int> await_handle(join_handle<int> h) {
    co_return co_await h;
}

task<std::vector<int>> awaited_by_many() {
    join_handle<int> h = corio::spawn(value_after(1s, 8));
    std::vector<join_handle<int>> waiters;
    for (int i = 0; i < 4; ++i) {
        waiters.push_back(corio::spawn(await_handle(h)));
    }
    std::vector<int> got;
    for (auto& w : waiters) {
        got.push_back(co_await w);
    }
    got.push_back(co_await h);
    got.push_back(co_await h); // after it finished, too
    got.push_back(h.result());
    co_return got;
}

TEST(join_handle, can_be_awaited_by_any_number_of_awaiters) {
    EXPECT_EQ(corio::run(awaited_by_many(), virtual_time()),
              (std::vector<int>{8, 8, 8, 8, 8, 8, 8}));
}

task<std::vector<std::string>> result_before_done() {
    join_handle<int> h = corio::spawn(value_after(1s, 3), "slow");
    std::vector<std::string> messages;
    messages.push_back(invalid_state_message([&] { (void)h.result(); }));
    messages.push_back(invalid_state_message([&] { (void)h.exception(); }));
    EXPECT_EQ(co_await h, 3);
    EXPECT_EQ(h.result(), 3);
    EXPECT_EQ(h.exception(), nullptr);
    co_return messages;
}

TEST(join_handle, result_and_exception_before_done_throw_invalid_state) {
    const std::vector<std::string> expected{
        "invalid_state_error: result: task slow has not finished",
        "invalid_state_error: exception: task slow has not finished"};
    EXPECT_EQ(corio::run(result_before_done(), virtual_time()), expected);
}

task<std::string> failed_task() {
    join_handle<> h = corio::spawn(fail_after_yield("broken"));
    std::string got;
    try {
        co_await h;
    } catch (const std::runtime_error& e) {
        got = e.what();
    }
    EXPECT_TRUE(h.done());
    EXPECT_FALSE(h.cancelled());
    EXPECT_NE(h.exception(), nullptr);
    EXPECT_THROW(h.result(), std::runtime_error);
    co_return got;
}

TEST(join_handle, a_failed_task_rethrows_to_every_awaiter) {
    EXPECT_EQ(corio::run(failed_task()), "broken");
}

TEST(join_handle, an_empty_handle_throws_invalid_state) {
    join_handle<int> h;
    EXPECT_FALSE(h.valid());
    EXPECT_EQ(invalid_state_message([&] { (void)h.done(); }),
              "invalid_state_error: done: empty join_handle (default-constructed or moved-from)");
    EXPECT_EQ(invalid_state_message([&] { h.cancel(); }),
              "invalid_state_error: cancel: empty join_handle (default-constructed or "
              "moved-from)");
    EXPECT_THROW((void)h.name(), corio::invalid_state_error);
}

task<std::unique_ptr<int>> make_unique_int(int v) {
    co_return std::make_unique<int>(v);
}

task<std::pair<int, std::string>> move_only_result() {
    join_handle<std::unique_ptr<int>> h = corio::spawn(make_unique_int(6));
    std::unique_ptr<int> p = co_await h;
    std::string message = invalid_state_message([&] { (void)h.result(); });
    co_return std::make_pair(p ? *p : -1, message);
}

TEST(join_handle, a_move_only_result_is_moved_out_once) {
    auto [value, message] = corio::run(move_only_result());
    EXPECT_EQ(value, 6);
    EXPECT_EQ(message, "invalid_state_error: result of a move-only task already taken");
}

task<counted> make_counted(int v) {
    co_await corio::sleep(0s);
    co_return counted(v);
}

task<int> counted_result() {
    join_handle<counted> h = corio::spawn(make_counted(4));
    counted a = co_await h;
    counted b = co_await h;
    co_return a.value + b.value;
}

TEST(join_handle, results_are_destroyed_once) {
    counted::reset();
    EXPECT_EQ(corio::run(counted_result()), 8);
    EXPECT_EQ(counted::alive(), 0);
}

task<std::string> copies_refer_to_one_task() {
    join_handle<int> h = corio::spawn(value_after(0s, 1));
    join_handle<int> copy = h;
    join_handle<int> moved = std::move(copy);
    EXPECT_FALSE(copy.valid()); // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_EQ(moved.id(), h.id());
    moved.set_name("renamed");
    co_await h;
    EXPECT_TRUE(moved.done());
    co_return h.name();
}

TEST(join_handle, copies_refer_to_the_same_task) {
    EXPECT_EQ(corio::run(copies_refer_to_one_task()), "renamed");
}

struct handle_owner {
    join_handle<int> h;
};

task<int> await_owned_handle(handle_owner* owner) {
    co_return co_await owner->h;
}

task<int> drop_the_handle_while_awaited() {
    auto owner = std::make_unique<handle_owner>();
    owner->h = corio::spawn(value_after(1s, 12));
    join_handle<int> waiting = corio::spawn(await_owned_handle(owner.get()));
    co_await corio::sleep(0s);
    owner.reset(); // the only handle of the awaited task goes away while it is awaited
    co_return co_await waiting;
}

TEST(join_handle, the_awaiter_keeps_the_task_alive) {
    // Regression: the awaiter held a raw pointer to the task's control block, which was
    // freed when the task finished with no handle left, before the awaiter read the result.
    EXPECT_EQ(corio::run(drop_the_handle_while_awaited(), virtual_time()), 12);
}

// --- dropping the handle ------------------------------------------------------------------

task<> resolve_later(future<int> f, corio::clock::duration d, int v) {
    co_await corio::sleep(d);
    f.set_result(v);
}

task<int> drop_the_handle() {
    future<int> f;
    (void)corio::spawn(resolve_later(f, 5s, 17)); // handle dropped at once
    co_return co_await f;
}

TEST(join_handle, dropping_the_handle_does_not_stop_the_task) {
    EXPECT_EQ(corio::run(drop_the_handle(), virtual_time()), 17);
}

// --- names, current_task, all_tasks --------------------------------------------------------

task<std::vector<std::string>> names() {
    join_handle<int> unnamed = corio::spawn(value_after(0s, 0));
    join_handle<int> named = corio::spawn(value_after(0s, 0), "worker");
    std::vector<std::string> got;
    got.push_back(unnamed.name());
    got.push_back(named.name());
    EXPECT_EQ(unnamed.name(), "Task-" + std::to_string(unnamed.id()));
    EXPECT_NE(unnamed.id(), named.id());
    named.set_name("renamed");
    got.push_back(named.name());
    co_await unnamed;
    co_await named;
    co_return got;
}

TEST(join_handle, names_default_to_task_and_id) {
    const auto got = corio::run(names());
    ASSERT_EQ(got.size(), 3U);
    EXPECT_EQ(got[0].rfind("Task-", 0), 0U);
    EXPECT_EQ(got[1], "worker");
    EXPECT_EQ(got[2], "renamed");
}

task<std::optional<corio::task_info>> report_current() {
    co_await corio::sleep(0s);
    co_return corio::current_task();
}

task<> current_task_checks() {
    std::optional<corio::task_info> main_info = corio::current_task();
    EXPECT_TRUE(main_info.has_value()) << "run()'s main is a task";
    if (main_info) {
        EXPECT_FALSE(main_info->done);
        EXPECT_EQ(main_info->name, "Task-" + std::to_string(main_info->id));
    }
    join_handle<std::optional<corio::task_info>> h = corio::spawn(report_current(), "reporter");
    const std::optional<corio::task_info> info = co_await h;
    EXPECT_TRUE(info.has_value());
    if (info) {
        EXPECT_EQ(info->name, "reporter");
        EXPECT_EQ(info->id, h.id());
        EXPECT_FALSE(info->cancelled);
    }
    // In a plain callback, no task runs.
    future<bool> in_callback;
    corio::get_running_loop().call_soon(
        [in_callback]() mutable { in_callback.set_result(corio::current_task().has_value()); });
    EXPECT_FALSE(co_await in_callback);
}

TEST(join_handle, current_task_names_the_running_task) {
    EXPECT_FALSE(corio::current_task().has_value());
    corio::run(current_task_checks());
}

task<std::vector<std::string>> list_tasks() {
    join_handle<int> a = corio::spawn(value_after(1s, 1), "a");
    join_handle<int> b = corio::spawn(value_after(2s, 2), "b");
    join_handle<int> quick = corio::spawn(value_after(0s, 3), "quick");
    co_await quick; // done: no longer listed
    std::vector<std::string> listed;
    for (const corio::task_info& t : corio::all_tasks()) {
        EXPECT_FALSE(t.done);
        listed.push_back(t.name);
    }
    std::sort(listed.begin(), listed.end());
    co_await a;
    co_await b;
    EXPECT_EQ(corio::all_tasks().size(), 1U) << "only main is left";
    co_return listed;
}

TEST(join_handle, all_tasks_lists_the_unfinished_tasks) {
    const auto listed = corio::run(list_tasks(), virtual_time());
    ASSERT_EQ(listed.size(), 3U);
    EXPECT_EQ(listed[0].rfind("Task-", 0), 0U) << "main";
    EXPECT_EQ(listed[1], "a");
    EXPECT_EQ(listed[2], "b");
}

TEST(join_handle, all_tasks_needs_a_running_loop) {
    EXPECT_THROW((void)corio::all_tasks(), corio::invalid_state_error);
}

// --- cancellation ----------------------------------------------------------------------------

task<std::string> cancel_before_start() {
    bool ran = false;
    join_handle<> h = corio::spawn(set_flag(&ran));
    EXPECT_TRUE(h.cancel());
    std::string outcome;
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
        outcome = "cancelled";
    }
    EXPECT_FALSE(ran) << "the body never ran";
    EXPECT_TRUE(h.done());
    EXPECT_TRUE(h.cancelled());
    EXPECT_THROW(h.result(), corio::cancelled_error);
    co_return outcome;
}

TEST(cancel, before_the_task_starts_its_body_never_runs) {
    EXPECT_EQ(corio::run(cancel_before_start()), "cancelled");
}

task<std::vector<std::string>> cancel_while_parked(corio::clock::duration* took) {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    std::vector<std::string> log;
    join_handle<> h = corio::spawn(sleep_with_async_cleanup(1h, &log));
    co_await corio::sleep(1s);
    EXPECT_TRUE(h.cancel());
    EXPECT_FALSE(h.done()) << "cancellation is delivered when the task next runs";
    try {
        co_await h;
        log.emplace_back("not cancelled");
    } catch (const corio::cancelled_error&) {
        log.emplace_back("awaiter saw cancelled_error");
    }
    EXPECT_TRUE(h.cancelled());
    *took = loop.time() - start;
    co_return log;
}

TEST(cancel, while_parked_the_task_may_clean_up_with_awaits) {
    corio::clock::duration took{};
    const std::vector<std::string> expected{"cleanup started", "cleanup finished",
                                            "awaiter saw cancelled_error"};
    EXPECT_EQ(corio::run(cancel_while_parked(&took), virtual_time()), expected);
    EXPECT_EQ(took, 3s) << "1 s before the cancel, then the 2 s cleanup, not the hour";
}

task<> cancel_self(join_handle<>* self, std::vector<std::string>* log) {
    co_await corio::sleep(0s); // let main store our handle
    EXPECT_TRUE(self->cancel());
    log->emplace_back("still running after cancel()");
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(0s);
        log->emplace_back("not cancelled");
    } catch (const corio::cancelled_error&) {
        cancelled = std::current_exception();
        log->emplace_back("cancelled at the next suspension");
    }
    // Delivered once: the next suspension works normally.
    co_await corio::sleep(0s);
    log->emplace_back("suspended again");
    std::rethrow_exception(cancelled);
}

task<std::vector<std::string>> cancel_while_running() {
    std::vector<std::string> log;
    join_handle<> self;
    self = corio::spawn(cancel_self(&self, &log));
    try {
        co_await self;
    } catch (const corio::cancelled_error&) {
        log.emplace_back("cancelled");
    }
    co_return log;
}

TEST(cancel, while_running_is_delivered_at_the_next_suspension) {
    const std::vector<std::string> expected{"still running after cancel()",
                                            "cancelled at the next suspension", "suspended again",
                                            "cancelled"};
    EXPECT_EQ(corio::run(cancel_while_running()), expected);
}

task<> count_steps(int* steps) {
    for (;;) {
        ++*steps;
        co_await corio::sleep(0s);
    }
}

task<int> cancel_a_ready_task() {
    int steps = 0;
    join_handle<> h = corio::spawn(count_steps(&steps));
    co_await corio::sleep(0s);
    co_await corio::sleep(0s);
    // The task is in the ready queue (its sleep(0) woke it), not parked.
    EXPECT_TRUE(h.cancel());
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
    }
    EXPECT_TRUE(h.cancelled());
    co_return steps;
}

TEST(cancel, a_task_that_only_yields_is_cancelled_at_its_next_yield) {
    const int steps = corio::run(cancel_a_ready_task());
    EXPECT_GE(steps, 2);
    EXPECT_LE(steps, 4);
}

task<int> await_inner(join_handle<int> inner, std::vector<std::string>* log) {
    try {
        co_return co_await inner;
    } catch (const corio::cancelled_error&) {
        log->emplace_back("outer cancelled");
        throw;
    }
}

task<std::vector<std::string>> cancel_outer_cancels_inner() {
    std::vector<std::string> log;
    join_handle<int> inner = corio::spawn(value_after(1h, 1), "inner");
    join_handle<int> outer = corio::spawn(await_inner(inner, &log), "outer");
    co_await corio::sleep(1s);
    outer.cancel();
    try {
        (void)co_await outer;
    } catch (const corio::cancelled_error&) {
        log.emplace_back("awaiter saw outer cancelled");
    }
    EXPECT_TRUE(inner.done());
    EXPECT_TRUE(inner.cancelled()) << "asyncio: cancelling the awaiter cancels the awaited task";
    co_return log;
}

TEST(cancel, cancelling_a_task_cancels_the_task_it_awaits) {
    const std::vector<std::string> expected{"outer cancelled", "awaiter saw outer cancelled"};
    EXPECT_EQ(corio::run(cancel_outer_cancels_inner(), virtual_time()), expected);
}

task<corio::clock::duration> cancel_waits_for_the_inner_cleanup(std::vector<std::string>* log) {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    join_handle<> inner = corio::spawn(sleep_with_async_cleanup(1h, log));
    join_handle<> outer = corio::spawn(inner); // a join_handle is an awaitable too
    co_await corio::sleep(1s);
    outer.cancel();
    try {
        co_await outer;
    } catch (const corio::cancelled_error&) {
        log->emplace_back("outer done");
    }
    EXPECT_TRUE(inner.cancelled());
    co_return loop.time() - start;
}

TEST(cancel, the_awaiter_finishes_after_the_inner_task_cleaned_up) {
    std::vector<std::string> log;
    EXPECT_EQ(corio::run(cancel_waits_for_the_inner_cleanup(&log), virtual_time()), 3s);
    EXPECT_EQ(log, (std::vector<std::string>{"cleanup started", "cleanup finished", "outer done"}));
}

task<std::vector<std::string>> cancel_twice() {
    std::vector<std::string> log;
    join_handle<> h = corio::spawn(sleep_with_async_cleanup(1h, &log));
    co_await corio::sleep(1s);
    EXPECT_TRUE(h.cancel());
    EXPECT_TRUE(h.cancel()); // again, before the task has run: still one cancellation
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
        log.emplace_back("cancelled");
    }
    co_return log;
}

TEST(cancel, twice_before_the_task_runs_is_delivered_once) {
    // Regression: the second cancel() found the task no longer parked (the first had
    // rescheduled it) and left a pending cancellation that interrupted the cleanup's own
    // await. asyncio throws CancelledError once for any number of cancel() calls made
    // before the task runs again.
    const std::vector<std::string> expected{"cleanup started", "cleanup finished", "cancelled"};
    EXPECT_EQ(corio::run(cancel_twice(), virtual_time()), expected);
}

task<> await_future_with_async_cleanup(future<int> f, std::vector<std::string>* log) {
    std::exception_ptr cancelled;
    try {
        (void)co_await f;
    } catch (const corio::cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (cancelled) {
        co_await corio::sleep(1s);
        log->emplace_back("cleanup finished");
        std::rethrow_exception(cancelled);
    }
}

task<std::vector<std::string>> cancel_twice_on_a_future() {
    std::vector<std::string> log;
    future<int> f;
    join_handle<> h = corio::spawn(await_future_with_async_cleanup(f, &log));
    co_await corio::sleep(0s);
    h.cancel();
    h.cancel();
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
        log.emplace_back("cancelled");
    }
    co_return log;
}

TEST(cancel, twice_while_awaiting_a_future_is_delivered_once) {
    EXPECT_EQ(corio::run(cancel_twice_on_a_future(), virtual_time()),
              (std::vector<std::string>{"cleanup finished", "cancelled"}));
}

task<> await_with_async_cleanup(join_handle<> inner, std::vector<std::string>* log) {
    std::exception_ptr cancelled;
    try {
        co_await inner;
    } catch (const corio::cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (cancelled) {
        co_await corio::sleep(1s);
        log->emplace_back("outer cleanup finished");
        std::rethrow_exception(cancelled);
    }
}

task<> leave_a_chain_running(std::vector<std::string>* log) {
    join_handle<> inner = corio::spawn(sleep_with_async_cleanup(1h, log));
    (void)corio::spawn(await_with_async_cleanup(inner, log));
    co_await corio::sleep(0s);
}

TEST(cancel, run_shutdown_lets_tasks_awaiting_each_other_clean_up) {
    // run() cancels every pending task: the inner one both directly and through the task
    // awaiting it. Each cleanup still runs to the end.
    std::vector<std::string> log;
    corio::run(leave_a_chain_running(&log), virtual_time());
    EXPECT_EQ(log, (std::vector<std::string>{"cleanup started", "cleanup finished",
                                             "outer cleanup finished"}));
}

task<std::pair<bool, bool>> cancel_after_done() {
    join_handle<int> h = corio::spawn(value_after(0s, 1));
    co_await h;
    co_return std::make_pair(h.cancel(), h.cancelled());
}

TEST(cancel, a_finished_task_cannot_be_cancelled) {
    EXPECT_EQ(corio::run(cancel_after_done()), std::make_pair(false, false));
}

task<> swallow_cancellation(bool* swallowed) {
    try {
        co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
        *swallowed = true;
    }
    co_return;
}

task<std::pair<bool, bool>> cancel_swallowed() {
    bool swallowed = false;
    join_handle<> h = corio::spawn(swallow_cancellation(&swallowed));
    co_await corio::sleep(0s);
    h.cancel();
    co_await h; // returns normally: the task chose to finish
    co_return std::make_pair(swallowed, h.cancelled());
}

TEST(cancel, a_task_may_swallow_its_cancellation) {
    EXPECT_EQ(corio::run(cancel_swallowed(), virtual_time()), std::make_pair(true, false));
}

task<std::string> cancelled_exception() {
    join_handle<int> h = corio::spawn(value_after(1h, 0));
    co_await corio::sleep(0s);
    h.cancel();
    co_await corio::sleep(0s);
    EXPECT_TRUE(h.cancelled());
    std::string what;
    try {
        std::rethrow_exception(h.exception());
    } catch (const corio::cancelled_error& e) {
        what = e.what();
    }
    co_return what;
}

TEST(cancel, exception_of_a_cancelled_task_is_cancelled_error) {
    EXPECT_EQ(corio::run(cancelled_exception(), virtual_time()), "cancelled");
}

// --- current_task_handle (issue 15, item 19) ------------------------------------------------

task<int> register_then_wait(std::vector<corio::task_handle>* registry) {
    registry->push_back(corio::current_task_handle());
    co_await corio::sleep(1h);
    co_return 1;
}

task<> cancel_through_a_handle_the_task_gave() {
    std::vector<corio::task_handle> registry;
    join_handle<int> h = corio::spawn(register_then_wait(&registry), "worker");
    co_await corio::sleep(0s);
    EXPECT_EQ(registry.size(), 1U);
    corio::task_handle& th = registry.front();
    EXPECT_EQ(th.id(), h.id());
    EXPECT_EQ(th.name(), "worker");
    EXPECT_FALSE(th.done());
    EXPECT_TRUE(th.cancel()); // cancelled by someone who only knows it from inside
    try {
        co_await h;
        ADD_FAILURE() << "expected cancelled_error";
    } catch (const corio::cancelled_error&) {
    }
    EXPECT_TRUE(th.done());
    EXPECT_TRUE(th.cancelled());
    EXPECT_FALSE(th.cancel());
    corio::task_handle from_join = h; // a join_handle converts to it
    EXPECT_EQ(from_join.id(), h.id());
}

TEST(current_task_handle, lets_another_task_cancel_the_task_that_gave_it) {
    corio::run(cancel_through_a_handle_the_task_gave(), virtual_time());
}

TEST(current_task_handle, outside_a_task_is_an_error_naming_it) {
    try {
        (void)corio::current_task_handle();
        ADD_FAILURE() << "expected invalid_state_error";
    } catch (const corio::invalid_state_error& e) {
        EXPECT_NE(std::string(e.what()).find("current_task_handle"), std::string::npos);
    }
    corio::task_handle empty;
    EXPECT_FALSE(empty.valid());
    EXPECT_THROW(empty.cancel(), corio::invalid_state_error);
}

} // namespace
