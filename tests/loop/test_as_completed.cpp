// as_completed: results in completion order, failures at their turn, the timeout, and the
// cancellation of what is left when the iterator goes away. Virtual clock throughout.

#include "corio/as_completed.hpp"

#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/sleep.hpp"
#include "corio/task.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "support/loop.hpp"

namespace {

using corio_test::nothing_after;
using corio_test::now;
using corio_test::run_then_close;
using corio_test::since;
using corio_test::test_error;
using corio_test::throw_after;
using corio_test::value_after;
using corio_test::virtual_time;

using namespace std::chrono_literals;
using corio::task;
using ms = std::chrono::milliseconds;

struct probe {
    bool started = false;
    bool cancelled = false;
};

task<int> sleeper(ms delay, int v, probe* p) {
    p->started = true;
    std::exception_ptr cancellation;
    try {
        co_await corio::sleep(delay);
        co_return v;
    } catch (const corio::cancelled_error&) {
        cancellation = std::current_exception();
    }
    p->cancelled = true;
    std::rethrow_exception(cancellation);
}

static_assert(std::is_same_v<decltype(corio::as_completed(std::vector<task<int>>{})),
                             corio::as_completed_iterator<int>>);
static_assert(std::is_same_v<corio::as_completed_iterator<void>::value_type, std::monostate>);
static_assert(!std::is_copy_constructible_v<corio::as_completed_iterator<int>>);
static_assert(std::is_nothrow_move_constructible_v<corio::as_completed_iterator<int>>);

task<> completion_order_main() {
    std::vector<task<int>> tasks;
    tasks.push_back(value_after(30ms, 1));
    tasks.push_back(value_after(10ms, 2));
    tasks.push_back(value_after(20ms, 3));
    const auto start = now();
    auto results = corio::as_completed(std::move(tasks));
    EXPECT_EQ(results.remaining(), 3u);
    std::vector<int> got;
    std::vector<ms> at;
    while (auto v = co_await results.next()) {
        got.push_back(*v);
        at.push_back(since(start));
    }
    EXPECT_EQ(got, (std::vector<int>{2, 3, 1}));
    EXPECT_EQ(at, (std::vector<ms>{10ms, 20ms, 30ms}));
    EXPECT_EQ(results.remaining(), 0u);
    // Finished: next() stays empty.
    EXPECT_FALSE(co_await results.next());
}

TEST(as_completed, yields_results_in_completion_order) {
    corio::run(completion_order_main(), virtual_time());
}

task<> already_finished_main() {
    std::vector<task<int>> tasks;
    tasks.push_back(value_after(20ms, 1));
    tasks.push_back(value_after(10ms, 2));
    auto results = corio::as_completed(std::move(tasks));
    co_await corio::sleep(50ms); // both finish before anyone asks
    const auto start = now();
    auto first = co_await results.next();
    auto second = co_await results.next();
    EXPECT_EQ(first.value_or(0), 2);
    EXPECT_EQ(second.value_or(0), 1);
    EXPECT_EQ(since(start), 0ms);
}

TEST(as_completed, results_that_arrived_earlier_are_given_at_once_in_order) {
    corio::run(already_finished_main(), virtual_time());
}

task<> failure_at_its_turn_main() {
    std::vector<task<int>> tasks;
    tasks.push_back(value_after(30ms, 3));
    tasks.push_back(throw_after(20ms, "boom"));
    tasks.push_back(value_after(10ms, 1));
    auto results = corio::as_completed(std::move(tasks));
    auto first = co_await results.next();
    EXPECT_EQ(first.value_or(0), 1);
    std::string what;
    try {
        co_await results.next();
        ADD_FAILURE() << "the failure was not rethrown";
    } catch (const test_error& e) {
        what = e.what();
    }
    EXPECT_EQ(what, "boom");
    // Iteration goes on past a failure.
    auto third = co_await results.next();
    EXPECT_EQ(third.value_or(0), 3);
    EXPECT_FALSE(co_await results.next());
}

TEST(as_completed, rethrows_a_failure_at_its_turn) {
    corio::run(failure_at_its_turn_main(), virtual_time());
}

task<> timeout_main() {
    probe slow;
    {
        std::vector<task<int>> tasks;
        tasks.push_back(value_after(10ms, 1));
        tasks.push_back(sleeper(1h, 2, &slow));
        const auto start = now();
        auto results = corio::as_completed(std::move(tasks), 50ms);
        auto first = co_await results.next();
        EXPECT_EQ(first.value_or(0), 1);
        EXPECT_EQ(since(start), 10ms);
        bool timed_out = false;
        try {
            co_await results.next();
        } catch (const corio::timeout_error&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_EQ(since(start), 50ms);
        // Every later next() times out too, at once.
        EXPECT_THROW(static_cast<void>(co_await results.next()), corio::timeout_error);
        EXPECT_EQ(since(start), 50ms);
        // The timeout cancels nothing: the slow task runs on until the iterator goes.
        co_await corio::sleep(0s);
        EXPECT_FALSE(slow.cancelled);
        EXPECT_EQ(results.remaining(), 1u);
    }
    co_await corio::sleep(0s);
    EXPECT_TRUE(slow.cancelled);
}

TEST(as_completed, throws_timeout_error_once_the_deadline_passes) {
    corio::run(timeout_main(), virtual_time());
}

task<> results_before_deadline_main() {
    std::vector<task<int>> tasks;
    tasks.push_back(value_after(10ms, 1));
    tasks.push_back(value_after(20ms, 2));
    tasks.push_back(value_after(40ms, 3));
    auto results = corio::as_completed(std::move(tasks), 30ms);
    co_await corio::sleep(50ms); // ask only after the deadline (and after the third result)
    auto first = co_await results.next();
    auto second = co_await results.next();
    EXPECT_EQ(first.value_or(0), 1);
    EXPECT_EQ(second.value_or(0), 2);
    // The third finished after the deadline: it is not given.
    EXPECT_THROW(static_cast<void>(co_await results.next()), corio::timeout_error);
}

TEST(as_completed, gives_the_results_that_arrived_before_the_deadline_first) {
    corio::run(results_before_deadline_main(), virtual_time());
}

task<> destroyed_mid_way_main() {
    probe a;
    probe b;
    probe c;
    {
        std::vector<task<int>> tasks;
        tasks.push_back(sleeper(10ms, 1, &a));
        tasks.push_back(sleeper(1h, 2, &b));
        tasks.push_back(sleeper(2h, 3, &c));
        auto results = corio::as_completed(std::move(tasks));
        auto first = co_await results.next();
        EXPECT_EQ(first.value_or(0), 1);
    }                          // leaving the loop early
    co_await corio::sleep(0s); // the cancellations are delivered
    EXPECT_FALSE(a.cancelled);
    EXPECT_TRUE(b.cancelled);
    EXPECT_TRUE(c.cancelled);
    EXPECT_EQ(corio::all_tasks().size(), 1u);
}

TEST(as_completed, destroying_the_iterator_cancels_the_tasks_still_running) {
    corio::run(destroyed_mid_way_main(), virtual_time());
}

task<int> consume(probe* a, probe* b) {
    std::vector<task<int>> tasks;
    tasks.push_back(sleeper(1h, 1, a));
    tasks.push_back(sleeper(2h, 2, b));
    auto results = corio::as_completed(std::move(tasks), 3h);
    int sum = 0;
    while (auto v = co_await results.next()) {
        sum += *v;
    }
    co_return sum;
}

task<> cancel_consumer_main() {
    probe a;
    probe b;
    auto consumer = corio::spawn(consume(&a, &b));
    co_await corio::sleep(10ms);
    const auto start = now();
    consumer.cancel();
    bool cancelled = false;
    try {
        co_await consumer;
    } catch (const corio::cancelled_error&) {
        cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(consumer.cancelled());
    EXPECT_EQ(since(start), 0ms); // next() stopped waiting at once
    // The iterator went with the consumer's frame and cancelled its tasks.
    co_await corio::sleep(0s);
    EXPECT_TRUE(a.cancelled);
    EXPECT_TRUE(b.cancelled);
    EXPECT_EQ(corio::all_tasks().size(), 1u);
    // Past the 3 h deadline: a timer left behind would fire into a destroyed iterator.
    co_await corio::sleep(4h);
    EXPECT_EQ(corio::all_tasks().size(), 1u);
}

TEST(as_completed, cancelling_a_task_blocked_in_next_leaves_nothing_behind) {
    corio::run(cancel_consumer_main(), virtual_time());
}

task<> void_tasks_main() {
    std::vector<task<>> tasks;
    tasks.push_back(nothing_after(20ms));
    tasks.push_back(nothing_after(10ms));
    auto results = corio::as_completed(std::move(tasks));
    int count = 0;
    while (auto v = co_await results.next()) {
        static_assert(std::is_same_v<decltype(v), std::optional<std::monostate>>);
        ++count;
    }
    EXPECT_EQ(count, 2);
}

TEST(as_completed, void_tasks_give_monostates) {
    corio::run(void_tasks_main(), virtual_time());
}

task<> handles_main() {
    std::vector<corio::join_handle<int>> handles;
    handles.push_back(corio::spawn(value_after(20ms, 1)));
    handles.push_back(corio::spawn(value_after(10ms, 2)));
    auto results = corio::as_completed(handles);
    std::vector<int> got;
    while (auto v = co_await results.next()) {
        got.push_back(*v);
    }
    EXPECT_EQ(got, (std::vector<int>{2, 1}));
}

TEST(as_completed, accepts_join_handles) {
    corio::run(handles_main(), virtual_time());
}

task<> empty_main() {
    auto results = corio::as_completed(std::vector<task<int>>{});
    const auto start = now();
    EXPECT_FALSE(co_await results.next());
    EXPECT_EQ(since(start), 0ms);
}

TEST(as_completed, of_nothing_ends_at_once) {
    corio::run(empty_main(), virtual_time());
}

task<> next_and_discard(corio::as_completed_iterator<int>* results) {
    static_cast<void>(co_await results->next());
}

task<> second_waiter_main() {
    std::vector<task<int>> tasks;
    tasks.push_back(value_after(10ms, 1));
    auto results = corio::as_completed(std::move(tasks));
    auto first = corio::spawn(next_and_discard(&results));
    co_await corio::sleep(0s); // `first` is now waiting in next()
    EXPECT_THROW(static_cast<void>(co_await results.next()), corio::invalid_state_error);
    co_await first;
}

TEST(as_completed, refuses_a_second_concurrent_next) {
    corio::run(second_waiter_main(), virtual_time());
}

task<> moved_from_main() {
    std::vector<task<int>> tasks;
    tasks.push_back(value_after(10ms, 1));
    auto results = corio::as_completed(std::move(tasks));
    auto moved = std::move(results);
    EXPECT_THROW(static_cast<void>(results.next()), corio::invalid_state_error);
    auto v = co_await moved.next();
    EXPECT_EQ(v.value_or(0), 1);
}

TEST(as_completed, next_on_a_moved_from_iterator_throws) {
    corio::run(moved_from_main(), virtual_time());
}

task<> wait_in_as_completed(corio::join_handle<int> h) {
    std::vector<corio::join_handle<int>> handles;
    handles.push_back(h);
    auto results = corio::as_completed(std::move(handles), 2h);
    while (auto v = co_await results.next()) {
    }
}

task<> closed_while_iterating_main() {
    auto watched = corio::spawn(value_after(1h, 1)); // abandoned before its watcher
    corio::spawn(wait_in_as_completed(watched));
    co_await corio::sleep(1ms);
}

TEST(as_completed, a_loop_closed_while_it_waits_frees_everything) {
    run_then_close(closed_while_iterating_main());
}

} // namespace
