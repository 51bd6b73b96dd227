// corio::future<T> (API §4, asyncio.Future): resolving, querying, awaiting, done
// callbacks, copies, cancellation in both directions.

#include "corio/future.hpp"

#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/sleep.hpp"
#include "corio/task.hpp"

#include "support/counted.hpp"

#include <gtest/gtest.h>

#include "support/loop.hpp"

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

static_assert(std::is_copy_constructible_v<future<int>>);
static_assert(corio::awaitable<future<int>>);
static_assert(corio::awaitable<future<int>&>);
static_assert(std::is_same_v<corio::await_result_t<future<int>&>, int>);
static_assert(std::is_same_v<corio::await_result_t<future<>&>, void>);
static_assert(
    std::is_same_v<corio::await_result_t<future<std::unique_ptr<int>>&>, std::unique_ptr<int>>);

using corio_test::virtual_time;

// --- construction ----------------------------------------------------------------------

TEST(future, needs_a_running_loop) {
    EXPECT_EQ(invalid_state_message([] { future<int> f; }),
              "invalid_state_error: get_running_loop: no running event loop");
}

// --- set_result, set_exception, cancel, and the queries ------------------------------------

task<> pending_queries() {
    future<int> f;
    EXPECT_FALSE(f.done());
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(invalid_state_message([&] { (void)f.result(); }),
              "invalid_state_error: result: future is not done yet");
    EXPECT_EQ(invalid_state_message([&] { (void)f.exception(); }),
              "invalid_state_error: exception: future is not done yet");
    co_return;
}

TEST(future, a_pending_future_has_no_result) {
    corio::run(pending_queries());
}

task<> set_result_then_query() {
    future<std::string> f;
    f.set_result("value");
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(f.result(), "value");
    EXPECT_EQ(f.result(), "value") << "result() can be asked again";
    EXPECT_EQ(f.exception(), nullptr);
    co_return;
}

TEST(future, set_result_makes_it_done) {
    corio::run(set_result_then_query());
}

task<> set_exception_then_query() {
    future<int> f;
    f.set_exception(std::make_exception_ptr(std::runtime_error("bad")));
    EXPECT_TRUE(f.done());
    EXPECT_FALSE(f.cancelled());
    EXPECT_THROW((void)f.result(), std::runtime_error);
    EXPECT_NE(f.exception(), nullptr);
    if (f.exception() != nullptr) {
        EXPECT_THROW(std::rethrow_exception(f.exception()), std::runtime_error);
    }
    co_return;
}

TEST(future, set_exception_makes_result_rethrow) {
    corio::run(set_exception_then_query());
}

task<> cancel_then_query() {
    future<int> f;
    EXPECT_TRUE(f.cancel());
    EXPECT_TRUE(f.done());
    EXPECT_TRUE(f.cancelled());
    EXPECT_THROW((void)f.result(), corio::cancelled_error);
    EXPECT_NE(f.exception(), nullptr);
    EXPECT_FALSE(f.cancel()) << "already done";
    co_return;
}

TEST(future, cancel_makes_it_done_and_cancelled) {
    corio::run(cancel_then_query());
}

task<std::vector<std::string>> resolve_twice() {
    std::vector<std::string> messages;
    future<int> f;
    f.set_result(1);
    messages.push_back(invalid_state_message([&] { f.set_result(2); }));
    messages.push_back(invalid_state_message(
        [&] { f.set_exception(std::make_exception_ptr(std::runtime_error("x"))); }));
    EXPECT_FALSE(f.cancel());
    EXPECT_EQ(f.result(), 1);

    future<> g;
    g.cancel();
    messages.push_back(invalid_state_message([&] { g.set_result(); }));

    future<int> h;
    messages.push_back(invalid_state_message([&] { h.set_exception(nullptr); }));
    EXPECT_FALSE(h.done());
    co_return messages;
}

TEST(future, resolving_twice_throws_invalid_state) {
    const std::vector<std::string> expected{
        "invalid_state_error: set_result: future already done (result already set)",
        "invalid_state_error: set_exception: future already done (result already set)",
        "invalid_state_error: set_result: future already done (cancelled)",
        "invalid_state_error: set_exception: null exception_ptr",
    };
    EXPECT_EQ(corio::run(resolve_twice()), expected);
}

task<> copies_share_state() {
    future<int> f;
    future<int> copy = f;
    future<int> assigned;
    assigned = copy;
    assigned.set_result(5);
    EXPECT_TRUE(f.done());
    EXPECT_EQ(f.result(), 5);
    EXPECT_EQ(copy.result(), 5);
    co_return;
}

TEST(future, copies_share_one_state) {
    corio::run(copies_share_state());
}

// --- awaiting ----------------------------------------------------------------------------

task<corio::clock::duration> await_value_set_later(int* value) {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    future<int> f;
    loop.call_later(3s, [f]() mutable { f.set_result(7); });
    *value = co_await f;
    co_return loop.time() - start;
}

TEST(future, co_await_waits_for_the_result) {
    int value = 0;
    EXPECT_EQ(corio::run(await_value_set_later(&value), virtual_time()), 3s);
    EXPECT_EQ(value, 7);
}

task<int> await_done_future() {
    future<int> f;
    f.set_result(9);
    co_return co_await f;
}

TEST(future, co_await_of_a_done_future_does_not_wait) {
    EXPECT_EQ(corio::run(await_done_future()), 9);
}

task<std::string> await_failing_future() {
    future<int> f;
    corio::get_running_loop().call_soon(
        [f]() mutable { f.set_exception(std::make_exception_ptr(std::runtime_error("nope"))); });
    try {
        (void)co_await f;
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "no exception";
}

TEST(future, co_await_rethrows_the_exception) {
    EXPECT_EQ(corio::run(await_failing_future()), "nope");
}

task<bool> await_cancelled_future() {
    future<> f;
    corio::get_running_loop().call_soon([f]() mutable { f.cancel(); });
    try {
        co_await f;
    } catch (const corio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

TEST(future, co_await_of_a_cancelled_future_throws_cancelled) {
    EXPECT_TRUE(corio::run(await_cancelled_future()));
}

task<int> await_future(future<int> f) {
    co_return co_await f;
}

task<std::vector<int>> many_awaiters() {
    future<int> f;
    std::vector<join_handle<int>> waiting;
    for (int i = 0; i < 5; ++i) {
        waiting.push_back(corio::spawn(await_future(f)));
    }
    co_await corio::sleep(0s);
    for (const auto& h : waiting) {
        EXPECT_FALSE(h.done());
    }
    f.set_result(11);
    std::vector<int> got;
    for (const auto& h : waiting) {
        got.push_back(co_await h);
    }
    got.push_back(co_await f); // and once more, after the fact
    co_return got;
}

TEST(future, every_awaiter_gets_the_result) {
    EXPECT_EQ(corio::run(many_awaiters()), (std::vector<int>{11, 11, 11, 11, 11, 11}));
}

task<std::string> await_void_future() {
    future<> f;
    std::string order;
    corio::get_running_loop().call_soon([f, &order]() mutable {
        order += "set;";
        f.set_result();
    });
    co_await f;
    order += "resumed";
    co_return order;
}

TEST(future, void_future) {
    EXPECT_EQ(corio::run(await_void_future()), "set;resumed");
}

task<std::pair<int, std::string>> move_only_future() {
    future<std::unique_ptr<int>> f;
    f.set_result(std::make_unique<int>(4));
    EXPECT_EQ(*f.result(), 4) << "result() gives a reference";
    std::unique_ptr<int> p = co_await f;
    std::string message; // a second awaiter cannot get the value again
    try {
        (void)co_await f;
    } catch (const corio::invalid_state_error& e) {
        message = e.what();
    }
    co_return std::make_pair(p ? *p : -1, message);
}

TEST(future, a_move_only_value_moves_out_to_the_first_awaiter) {
    auto [value, message] = corio::run(move_only_future());
    EXPECT_EQ(value, 4);
    EXPECT_EQ(message, "invalid_state_error: co_await: the move-only result of this future was "
                       "already taken");
}

task<int> counted_future_value() {
    future<counted> f;
    f.set_result(counted(3));
    counted c = co_await f;
    co_return c.value;
}

TEST(future, the_value_is_destroyed_once) {
    counted::reset();
    EXPECT_EQ(corio::run(counted_future_value()), 3);
    EXPECT_EQ(counted::alive(), 0);
}

// --- add_done_callback ----------------------------------------------------------------------

task<std::vector<std::string>> done_callbacks() {
    std::vector<std::string> log;
    future<int> f;
    f.add_done_callback(
        [&log](future<int>& done) { log.push_back("first " + std::to_string(done.result())); });
    f.add_done_callback([&log](future<int>& done) {
        log.push_back(std::string("second ") + (done.done() ? "done" : "pending"));
    });
    f.set_result(3);
    log.emplace_back("after set_result");
    co_await corio::sleep(0s);
    log.emplace_back("after a yield");
    // On a done future, the callback runs in the next iteration, not at once.
    f.add_done_callback([&log](future<int>&) { log.emplace_back("late"); });
    log.emplace_back("after add");
    co_await corio::sleep(0s);
    co_return log;
}

TEST(future, done_callbacks_run_through_the_loop_in_order) {
    const std::vector<std::string> expected{"after set_result", "first 3",   "second done",
                                            "after a yield",    "after add", "late"};
    EXPECT_EQ(corio::run(done_callbacks()), expected);
}

task<int> done_callback_on_cancel() {
    future<int> f;
    int calls = 0;
    f.add_done_callback([&calls](future<int>& done) {
        EXPECT_TRUE(done.cancelled());
        ++calls;
    });
    f.cancel();
    co_await corio::sleep(0s);
    co_return calls;
}

TEST(future, done_callbacks_run_on_cancel) {
    EXPECT_EQ(corio::run(done_callback_on_cancel()), 1);
}

task<> callback_on_a_future_never_resolved(bool* called) {
    future<int> f;
    f.add_done_callback([called](future<int>&) { *called = true; });
    co_return;
}

TEST(future, a_done_callback_on_a_future_never_resolved_does_not_leak) {
    // Regression: the callback held a copy of the future, so the state owned itself (a
    // shared_ptr cycle) and leaked; LeakSanitizer reports it in the asan preset.
    bool called = false;
    corio::run(callback_on_a_future_never_resolved(&called));
    EXPECT_FALSE(called);
}

task<> empty_done_callback() {
    future<int> f;
    EXPECT_THROW(f.add_done_callback({}), std::invalid_argument);
    co_return;
}

TEST(future, add_done_callback_rejects_an_empty_function) {
    corio::run(empty_done_callback());
}

// --- cancellation -------------------------------------------------------------------------

task<std::string> cancel_the_awaiting_task() {
    future<int> f;
    join_handle<int> first = corio::spawn(await_future(f));
    join_handle<int> second = corio::spawn(await_future(f));
    co_await corio::sleep(0s);
    EXPECT_TRUE(first.cancel());
    std::string outcome;
    try {
        (void)co_await first;
    } catch (const corio::cancelled_error&) {
        outcome += "first cancelled;";
    }
    // asyncio: cancelling a task that awaits a future cancels the future, so every other
    // awaiter is cancelled too.
    if (f.cancelled()) {
        outcome += "future cancelled;";
    }
    try {
        (void)co_await second;
    } catch (const corio::cancelled_error&) {
        outcome += "second cancelled";
    }
    co_return outcome;
}

TEST(future, cancelling_the_awaiting_task_cancels_the_future) {
    EXPECT_EQ(corio::run(cancel_the_awaiting_task()),
              "first cancelled;future cancelled;second cancelled");
}

task<bool> cancel_awaiter_before_it_parks() {
    future<int> f;
    join_handle<int> h = corio::spawn(await_future(f));
    h.cancel(); // before its first step: the body never reaches the future
    bool cancelled = false;
    try {
        (void)co_await h;
    } catch (const corio::cancelled_error&) {
        cancelled = true;
    }
    EXPECT_FALSE(f.done());
    co_return cancelled;
}

TEST(future, a_task_cancelled_before_awaiting_leaves_the_future_alone) {
    EXPECT_TRUE(corio::run(cancel_awaiter_before_it_parks()));
}

struct future_owner {
    future<int> f;
};

task<int> await_owned(future_owner* owner) {
    co_return co_await owner->f;
}

task<bool> drop_the_future_while_awaited() {
    auto owner = std::make_unique<future_owner>();
    join_handle<int> h = corio::spawn(await_owned(owner.get()));
    co_await corio::sleep(0s);
    owner.reset(); // the only copy of the future goes away while a task awaits it
    co_await corio::sleep(0s);
    h.cancel();
    try {
        (void)co_await h;
    } catch (const corio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

TEST(future, the_awaiter_keeps_the_state_alive) {
    // Regression: the awaiter held a raw pointer to the state, which died with the last
    // future; cancelling the waiting task then touched freed memory.
    EXPECT_TRUE(corio::run(drop_the_future_while_awaited()));
}

// --- spawn(future) and reporting --------------------------------------------------------------

task<int> spawn_a_future() {
    future<int> f;
    join_handle<int> h = corio::spawn(f, "waiting-for-f");
    EXPECT_EQ(h.name(), "waiting-for-f");
    corio::get_running_loop().call_later(1s, [f]() mutable { f.set_result(21); });
    co_return co_await h;
}

TEST(future, a_future_can_be_spawned) {
    EXPECT_EQ(corio::run(spawn_a_future(), virtual_time()), 21);
}

task<> drop_failed_future(std::vector<std::string>* messages) {
    corio::get_running_loop().set_exception_handler(
        [messages](corio::event_loop&, const corio::exception_context& c) {
            messages->push_back(c.message);
        });
    {
        future<int> f;
        f.set_exception(std::make_exception_ptr(std::runtime_error("unseen")));
    }
    {
        future<int> f;
        f.set_exception(std::make_exception_ptr(std::runtime_error("seen")));
        EXPECT_NE(f.exception(), nullptr);
    }
    {
        future<int> f;
        f.cancel();
    }
    co_return;
}

TEST(future, an_exception_nobody_retrieved_is_reported) {
    std::vector<std::string> messages;
    corio::run(drop_failed_future(&messages));
    EXPECT_EQ(messages, (std::vector<std::string>{"Future exception was never retrieved"}));
}

} // namespace
