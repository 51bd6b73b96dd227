// sleep and sleep_until (API §5, asyncio.sleep): on the virtual clock, so an hour takes no
// time; sleep(0s) as a yield; cancellation removes the timer.

#include "corio/sleep.hpp"

#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"
#include "corio/task.hpp"

#include <gtest/gtest.h>

#include "support/loop.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::clock;
using corio::join_handle;
using corio::task;

static_assert(corio::awaitable<corio::sleep_awaiter>);
static_assert(std::is_same_v<corio::await_result_t<corio::sleep_awaiter>, void>);

using corio_test::virtual_time;

/// How far the loop's clock moved while `d` was slept.
task<clock::duration> measure_sleep(clock::duration d) {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    co_await corio::sleep(d);
    co_return loop.time() - start;
}

TEST(sleep, waits_for_the_duration_on_the_loop_clock) {
    EXPECT_EQ(corio::run(measure_sleep(1500ms), virtual_time()), 1500ms);
}

TEST(sleep, an_hour_on_the_virtual_clock_finishes_at_once) {
    EXPECT_EQ(corio::run(measure_sleep(1h), virtual_time()), 1h);
}

TEST(sleep, on_the_real_clock_never_wakes_early) {
    // The one real-time sleep of the suite: a millisecond, checking a lower bound only.
    EXPECT_GE(corio::run(measure_sleep(1ms)), 1ms);
}

task<clock::duration> sleep_other_units() {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    co_await corio::sleep(std::chrono::duration<double>(0.25));
    co_await corio::sleep(std::chrono::microseconds(750));
    co_await corio::sleep(std::chrono::minutes(2));
    co_return loop.time() - start;
}

TEST(sleep, accepts_any_duration_type) {
    EXPECT_EQ(corio::run(sleep_other_units(), virtual_time()), 120s + 250ms + 750us);
}

task<std::pair<clock::duration, clock::duration>> sleep_until_deadlines() {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    co_await corio::sleep_until(start + 5s);
    const auto first = loop.time() - start;
    co_await corio::sleep_until(start); // in the past: returns in the next iteration
    co_return std::make_pair(first, loop.time() - start);
}

TEST(sleep_until, wakes_at_the_deadline_and_not_for_a_past_one) {
    const auto [first, second] = corio::run(sleep_until_deadlines(), virtual_time());
    EXPECT_EQ(first, 5s);
    EXPECT_EQ(second, 5s);
}

task<> append_steps(std::string name, int steps, clock::duration each,
                    std::vector<std::string>* log) {
    for (int i = 0; i < steps; ++i) {
        log->push_back(name + std::to_string(i));
        co_await corio::sleep(each);
    }
}

task<std::vector<std::string>> interleave(clock::duration each) {
    std::vector<std::string> log;
    join_handle<> a = corio::spawn(append_steps("a", 3, each, &log));
    join_handle<> b = corio::spawn(append_steps("b", 3, each, &log));
    co_await a;
    co_await b;
    co_return log;
}

TEST(sleep, zero_yields_to_the_other_ready_tasks) {
    const std::vector<std::string> expected{"a0", "b0", "a1", "b1", "a2", "b2"};
    EXPECT_EQ(corio::run(interleave(0s), virtual_time()), expected);
}

TEST(sleep, a_negative_duration_is_a_yield) {
    const std::vector<std::string> expected{"a0", "b0", "a1", "b1", "a2", "b2"};
    EXPECT_EQ(corio::run(interleave(-5s), virtual_time()), expected);
}

task<clock::duration> zero_does_not_move_time() {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    for (int i = 0; i < 100; ++i) {
        co_await corio::sleep(0s);
    }
    co_return loop.time() - start;
}

TEST(sleep, zero_does_not_move_the_virtual_clock) {
    EXPECT_EQ(corio::run(zero_does_not_move_time(), virtual_time()), 0s);
}

task<> record_wake(clock::duration d, int id, std::vector<int>* order) {
    co_await corio::sleep(d);
    order->push_back(id);
}

task<std::vector<int>> sleepers_in_deadline_order() {
    std::vector<int> order;
    std::vector<join_handle<>> hs;
    hs.push_back(corio::spawn(record_wake(3s, 3, &order)));
    hs.push_back(corio::spawn(record_wake(1s, 1, &order)));
    hs.push_back(corio::spawn(record_wake(2s, 2, &order)));
    hs.push_back(corio::spawn(record_wake(1s, 11, &order))); // same deadline: spawn order
    for (auto& h : hs) {
        co_await h;
    }
    co_return order;
}

TEST(sleep, sleepers_wake_in_deadline_order) {
    EXPECT_EQ(corio::run(sleepers_in_deadline_order(), virtual_time()),
              (std::vector<int>{1, 11, 2, 3}));
}

TEST(sleep, needs_a_running_loop) {
    EXPECT_THROW((void)corio::sleep(1s), corio::invalid_state_error);
}

// --- cancellation -------------------------------------------------------------------------

task<std::pair<bool, clock::duration>> cancel_a_sleep() {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    join_handle<> h = corio::spawn(corio::sleep(1h));
    co_await corio::sleep(1s);
    h.cancel();
    bool cancelled = false;
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
        cancelled = true;
    }
    co_return std::make_pair(cancelled, loop.time() - start);
}

TEST(sleep, is_cancellable) {
    const auto [cancelled, took] = corio::run(cancel_a_sleep(), virtual_time());
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(took, 1s);
}

task<clock::duration> cancelled_sleep_leaves_no_timer() {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    {
        // The sleeping task's frame (and its sleep awaiter) is destroyed once it finishes;
        // a timer left behind would fire into freed memory at 1 s (ASan reports it) and
        // resume a dead coroutine.
        join_handle<> h = corio::spawn(corio::sleep(1s));
        co_await corio::sleep(0s);
        h.cancel();
        try {
            co_await h;
        } catch (const corio::cancelled_error&) {
        }
    }
    co_await corio::sleep(2s);
    co_return loop.time() - start;
}

TEST(sleep, cancelling_a_sleep_removes_its_timer) {
    EXPECT_EQ(corio::run(cancelled_sleep_leaves_no_timer(), virtual_time()), 2s);
}

task<int> many_cancelled_sleeps() {
    // Enough cancelled timers to compact the heap while live ones wait.
    std::vector<join_handle<>> doomed;
    std::vector<int> order;
    std::vector<join_handle<>> live;
    for (int i = 0; i < 200; ++i) {
        doomed.push_back(corio::spawn(corio::sleep(std::chrono::seconds(10 + i))));
        if (i % 50 == 0) {
            live.push_back(corio::spawn(record_wake(std::chrono::seconds(300 - i), i, &order)));
        }
    }
    co_await corio::sleep(0s);
    for (auto& h : doomed) {
        h.cancel();
    }
    for (auto& h : live) {
        co_await h;
    }
    EXPECT_EQ(order, (std::vector<int>{150, 100, 50, 0}));
    int cancelled = 0;
    for (auto& h : doomed) {
        try {
            co_await h;
        } catch (const corio::cancelled_error&) {
            ++cancelled;
        }
    }
    co_return cancelled;
}

TEST(sleep, many_cancelled_sleeps_leave_the_live_ones_in_order) {
    EXPECT_EQ(corio::run(many_cancelled_sleeps(), virtual_time()), 200);
}

task<bool> sleep_in_cancelled_task() {
    join_handle<> h = corio::spawn(corio::sleep(0s));
    h.cancel();
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

TEST(sleep, a_spawned_sleep_cancelled_before_it_starts_throws_cancelled) {
    EXPECT_TRUE(corio::run(sleep_in_cancelled_task()));
}

} // namespace
