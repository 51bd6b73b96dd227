// Cancellation of spawned tasks (API.md §4): join_handle::cancel() makes the suspension point
// the task is parked at, or its next one, throw corio::cancelled_error; the task may catch it,
// clean up with more co_awaits, and then rethrow (it ends cancelled()) or swallow it (it ends
// normally). Every test runs on the virtual clock and asserts on loop.time() differences.

#include "corio/corio.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/loop.hpp"

namespace {

using corio_test::error_of;
using corio_test::holds;
using corio_test::now;
using corio_test::virtual_time;

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::task;

task<> sleep_then_mark(corio::clock::duration d, bool* finished) {
    co_await corio::sleep(d);
    *finished = true;
}

// --- delivery at the await point ----------------------------------------------------------

task<> cancel_parked_sleeper() {
    const auto t0 = now();
    bool finished = false;
    auto h = corio::spawn(sleep_then_mark(1h, &finished));
    co_await corio::sleep(1s);
    EXPECT_FALSE(h.done());
    EXPECT_TRUE(h.cancel());
    EXPECT_FALSE(h.done()); // delivered when the task next runs
    const std::exception_ptr e = co_await error_of(h);
    EXPECT_TRUE(holds<cancelled_error>(e));
    EXPECT_TRUE(h.done());
    EXPECT_TRUE(h.cancelled());
    EXPECT_FALSE(finished);
    EXPECT_EQ(now() - t0, 1s);
    EXPECT_THROW(h.result(), cancelled_error);
    EXPECT_TRUE(holds<cancelled_error>(h.exception()));
}

TEST(cancellation, cancelled_error_is_delivered_at_the_await_point) {
    corio::run(cancel_parked_sleeper(), virtual_time());
}

task<> sleep_until_then_mark(corio::clock::time_point when, bool* finished) {
    co_await corio::sleep_until(when);
    *finished = true;
}

task<> cancel_parked_sleep_until() {
    const auto t0 = now();
    bool finished = false;
    auto h = corio::spawn(sleep_until_then_mark(t0 + 10s, &finished));
    co_await corio::sleep(2s);
    h.cancel();
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_FALSE(finished);
    EXPECT_EQ(now() - t0, 2s);
    // The cancelled sleep left no timer behind: the loop's next jump is to our own timer.
    co_await corio::sleep(20s);
    EXPECT_EQ(now() - t0, 22s);
}

TEST(cancellation, sleep_until_is_cancellable_and_leaves_no_timer) {
    corio::run(cancel_parked_sleep_until(), virtual_time());
}

task<int> await_future(corio::future<int> f, bool* resumed) {
    const int v = co_await f;
    *resumed = true;
    co_return v;
}

task<> cancel_parked_on_future() {
    corio::future<int> f;
    bool resumed = false;
    auto h = corio::spawn(await_future(f, &resumed));
    co_await corio::sleep(1s);
    h.cancel();
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_TRUE(h.cancelled());
    EXPECT_FALSE(resumed);
    // asyncio semantics: cancelling the task that awaits a future cancels the future.
    EXPECT_TRUE(f.cancelled());
}

TEST(cancellation, task_parked_on_a_future_is_cancelled_and_cancels_the_future) {
    corio::run(cancel_parked_on_future(), virtual_time());
}

task<> cleanup_for(corio::clock::duration cleanup, std::vector<std::string>* log) {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(1h);
        log->push_back("woke");
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    log->push_back("inner caught");
    co_await corio::sleep(cleanup);
    log->push_back("inner cleaned");
    std::rethrow_exception(cancelled);
}

task<> await_other(corio::join_handle<> other, std::vector<std::string>* log) {
    co_await other;
    log->push_back("outer resumed");
}

task<> cancel_parked_on_join() {
    const auto t0 = now();
    std::vector<std::string> log;
    auto inner = corio::spawn(cleanup_for(3s, &log));
    auto outer = corio::spawn(await_other(inner, &log));
    co_await corio::sleep(1s);
    outer.cancel();
    // asyncio semantics: the awaited task is cancelled too, and the awaiter waits for it.
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(outer)));
    EXPECT_EQ(now() - t0, 4s);
    EXPECT_TRUE(inner.done());
    EXPECT_TRUE(inner.cancelled());
    EXPECT_TRUE(outer.cancelled());
    EXPECT_EQ(log, (std::vector<std::string>{"inner caught", "inner cleaned"}));
}

TEST(cancellation, cancelling_a_task_that_awaits_another_cancels_both) {
    corio::run(cancel_parked_on_join(), virtual_time());
}

task<> nested_level(int depth, int* unwound) {
    std::exception_ptr e;
    try {
        if (depth == 0) {
            co_await corio::sleep(1h);
        } else {
            co_await nested_level(depth - 1, unwound);
        }
    } catch (const cancelled_error&) {
        e = std::current_exception();
    }
    if (e) {
        ++*unwound;
        std::rethrow_exception(e);
    }
}

task<> cancel_deep_chain() {
    int unwound = 0;
    auto h = corio::spawn(nested_level(200, &unwound));
    co_await corio::sleep(1s);
    h.cancel();
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_EQ(unwound, 201);
}

TEST(cancellation, cancelled_error_unwinds_every_frame_of_an_await_chain) {
    corio::run(cancel_deep_chain(), virtual_time());
}

// --- cleanup after cancellation -----------------------------------------------------------

task<int> catch_and_clean_up(bool rethrow, std::vector<std::string>* log) {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(1h);
        log->push_back("woke");
    } catch (const cancelled_error&) {
        // C++20: no co_await in a handler; keep the exception and await after it.
        cancelled = std::current_exception();
    }
    log->push_back("caught");
    co_await corio::sleep(5s);
    co_await corio::sleep(0s);
    log->push_back("cleaned");
    if (rethrow) {
        std::rethrow_exception(cancelled);
    }
    co_return 7;
}

task<> cleanup_then_rethrow() {
    const auto t0 = now();
    std::vector<std::string> log;
    auto h = corio::spawn(catch_and_clean_up(true, &log));
    co_await corio::sleep(1s);
    h.cancel();
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_TRUE(h.cancelled());
    EXPECT_EQ(now() - t0, 6s);
    EXPECT_EQ(log, (std::vector<std::string>{"caught", "cleaned"}));
}

TEST(cancellation, cancelled_task_cleans_up_with_awaits_then_rethrows) {
    corio::run(cleanup_then_rethrow(), virtual_time());
}

task<> cleanup_then_swallow() {
    const auto t0 = now();
    std::vector<std::string> log;
    auto h = corio::spawn(catch_and_clean_up(false, &log));
    co_await corio::sleep(1s);
    EXPECT_TRUE(h.cancel());
    EXPECT_EQ(co_await h, 7);
    EXPECT_TRUE(h.done());
    EXPECT_FALSE(h.cancelled());
    EXPECT_EQ(h.result(), 7);
    EXPECT_EQ(h.exception(), nullptr);
    EXPECT_EQ(now() - t0, 6s);
    EXPECT_EQ(log, (std::vector<std::string>{"caught", "cleaned"}));
}

TEST(cancellation, cancelled_task_that_swallows_the_error_ends_normally) {
    corio::run(cleanup_then_swallow(), virtual_time());
}

task<> replace_cancellation() {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(1h);
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    co_await corio::sleep(1s);
    throw std::runtime_error("replaced");
}

task<> cleanup_that_fails() {
    auto h = corio::spawn(replace_cancellation());
    co_await corio::sleep(1s);
    h.cancel();
    const std::exception_ptr e = co_await error_of(h);
    EXPECT_TRUE(holds<std::runtime_error>(e));
    EXPECT_TRUE(h.done());
    EXPECT_FALSE(h.cancelled());
}

TEST(cancellation, task_that_replaces_the_cancellation_ends_with_its_own_error) {
    corio::run(cleanup_that_fails(), virtual_time());
}

task<> recancel_during_cleanup() {
    const auto t0 = now();
    std::vector<std::string> log;
    auto h = corio::spawn(catch_and_clean_up(false, &log));
    co_await corio::sleep(1s);
    h.cancel();
    co_await corio::sleep(2s);
    EXPECT_FALSE(h.done());
    // A second cancel() while the task cleans up is a new request: the cleanup's await gets it.
    EXPECT_TRUE(h.cancel());
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_TRUE(h.cancelled());
    EXPECT_EQ(now() - t0, 3s);
    EXPECT_EQ(log, (std::vector<std::string>{"caught"}));
}

TEST(cancellation, second_cancel_interrupts_the_cleanup) {
    corio::run(recancel_during_cleanup(), virtual_time());
}

// --- a cancel that arrives while the task is not parked -------------------------------------

struct self_cancelling {
    corio::join_handle<> handle;
    bool after_cancel = false;
    bool after_sleep = false;
};

task<> cancels_itself(self_cancelling* s) {
    co_await corio::sleep(0s); // let the spawner store our handle
    EXPECT_TRUE(s->handle.cancel());
    s->after_cancel = true; // still running: nothing is thrown here
    co_await corio::sleep(1s);
    s->after_sleep = true;
}

task<> cancel_while_running() {
    const auto t0 = now();
    self_cancelling s;
    s.handle = corio::spawn(cancels_itself(&s));
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(s.handle)));
    EXPECT_TRUE(s.after_cancel);
    EXPECT_FALSE(s.after_sleep);
    EXPECT_TRUE(s.handle.cancelled());
    EXPECT_EQ(now() - t0, 0s);
}

TEST(cancellation, cancel_while_running_is_delivered_at_the_next_suspension) {
    corio::run(cancel_while_running(), virtual_time());
}

task<> never_started(bool* ran) {
    *ran = true;
    co_return;
}

task<> cancel_before_first_step() {
    bool ran = false;
    auto h = corio::spawn(never_started(&ran));
    EXPECT_TRUE(h.cancel());
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_FALSE(ran);
    EXPECT_TRUE(h.cancelled());
}

TEST(cancellation, cancel_before_first_step_skips_the_body) {
    corio::run(cancel_before_first_step(), virtual_time());
}

task<int> quick() {
    co_return 3;
}

task<> cancel_after_done() {
    auto h = corio::spawn(quick());
    EXPECT_EQ(co_await h, 3);
    EXPECT_FALSE(h.cancel());
    EXPECT_FALSE(h.cancelled());
    EXPECT_EQ(h.result(), 3);
}

TEST(cancellation, cancel_after_done_returns_false) {
    corio::run(cancel_after_done(), virtual_time());
}

task<> cancel_is_per_task() {
    const auto t0 = now();
    bool a_done = false;
    bool b_done = false;
    auto a = corio::spawn(sleep_then_mark(5s, &a_done));
    auto b = corio::spawn(sleep_then_mark(5s, &b_done));
    co_await corio::sleep(1s);
    a.cancel();
    a.cancel(); // repeated before delivery: one cancellation
    co_await b;
    EXPECT_TRUE(a.cancelled());
    EXPECT_FALSE(a_done);
    EXPECT_TRUE(b_done);
    EXPECT_FALSE(b.cancelled());
    EXPECT_EQ(now() - t0, 5s);
}

TEST(cancellation, cancelling_one_task_leaves_its_siblings_running) {
    corio::run(cancel_is_per_task(), virtual_time());
}

task<> yielder(int* steps) {
    for (;;) {
        ++*steps;
        co_await corio::sleep(0s);
    }
}

task<> cancel_yielding_task() {
    int steps = 0;
    auto h = corio::spawn(yielder(&steps));
    for (int i = 0; i < 5; ++i) {
        co_await corio::sleep(0s);
    }
    h.cancel();
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_GE(steps, 4);
    EXPECT_TRUE(h.cancelled());
}

TEST(cancellation, task_that_only_yields_is_cancellable) {
    corio::run(cancel_yielding_task(), virtual_time());
}

task<> uncaught_cancellation_in_main() {
    co_await corio::sleep(0s);
    throw cancelled_error{};
}

TEST(cancellation, run_rethrows_a_cancelled_main) {
    EXPECT_THROW(corio::run(uncaught_cancellation_in_main(), virtual_time()), cancelled_error);
}

task<> left_parked(bool* finished) {
    co_await corio::sleep(1h);
    *finished = true;
}

task<> main_leaves_tasks_behind(corio::join_handle<>* out, bool* finished) {
    *out = corio::spawn(left_parked(finished));
    co_await corio::sleep(1s);
}

TEST(cancellation, run_cancels_tasks_still_parked_when_main_returns) {
    corio::join_handle<> h;
    bool finished = false;
    corio::run(main_leaves_tasks_behind(&h, &finished), virtual_time());
    EXPECT_TRUE(h.done());
    EXPECT_TRUE(h.cancelled());
    EXPECT_FALSE(finished);
}

// --- a cancellation that reaches a task woken but not yet run (issue 15, item 1) ----------

task<int> yield_then_return(int v, bool* finished) {
    co_await corio::sleep(0s);
    *finished = true;
    co_return v;
}

task<> cancel_woken_yielder() {
    bool finished = false;
    auto h = corio::spawn(yield_then_return(7, &finished));
    // h runs its first step in the next batch and parks in sleep(0s), which makes it ready
    // again at once; this task resumes after that step, with h woken but not yet run.
    co_await corio::sleep(0s);
    EXPECT_FALSE(h.done());
    EXPECT_TRUE(h.cancel());
    const std::exception_ptr e = co_await error_of(h);
    EXPECT_TRUE(holds<cancelled_error>(e)); // asyncio: CancelledError at that resume point
    EXPECT_TRUE(h.cancelled());
    EXPECT_FALSE(finished);
}

TEST(cancellation, cancel_of_a_task_woken_but_not_yet_run_is_not_lost) {
    corio::run(cancel_woken_yielder(), virtual_time());
}

task<> cancel_after_the_future_completed() {
    bool finished = false;
    corio::future<int> f;
    auto h = corio::spawn(await_future(f, &finished));
    co_await corio::sleep(0s); // h parks on the future
    f.set_result(5);           // h is woken ...
    EXPECT_TRUE(h.cancel());   // ... and cancelled before it runs
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_FALSE(finished);
    EXPECT_EQ(f.result(), 5); // the future keeps its value
}

TEST(cancellation, cancel_after_the_awaited_future_completed_is_delivered_at_the_await) {
    corio::run(cancel_after_the_future_completed(), virtual_time());
}

task<int> cancel_self_then_return() {
    auto self = corio::current_task_handle();
    EXPECT_TRUE(self.cancel());
    co_return 3;
}

task<> self_cancel_then_return() {
    auto h = corio::spawn(cancel_self_then_return());
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_TRUE(h.cancelled()); // asyncio: cancelled right before the coroutine stopped
}

TEST(cancellation, task_cancelled_while_running_that_returns_ends_cancelled) {
    corio::run(self_cancel_then_return(), virtual_time());
}

task<> lock_then_yield(corio::mutex* m, std::vector<std::string>* log) {
    auto guard = co_await m->lock();
    log->push_back("locked");
    co_await corio::sleep(0s);
    log->push_back("not reached");
}

task<> cancel_after_the_lock_was_handed_over() {
    corio::mutex m;
    std::vector<std::string> log;
    std::vector<std::string> log2;
    auto g = co_await m.lock();
    auto h = corio::spawn(lock_then_yield(&m, &log));
    auto h2 = corio::spawn(lock_then_yield(&m, &log2));
    co_await corio::sleep(0s); // both wait for the lock
    g.unlock();                // handed to h, which is woken ...
    EXPECT_TRUE(h.cancel());   // ... and cancelled before it runs
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    // asyncio: the cancelled waiter throws where it was woken and passes the lock on.
    EXPECT_TRUE(log.empty());
    h2.cancel();
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h2)));
    EXPECT_EQ(log2, std::vector<std::string>{"locked"});
    EXPECT_FALSE(m.locked());
}

TEST(cancellation, cancel_after_a_lock_was_handed_over_passes_the_lock_on) {
    corio::run(cancel_after_the_lock_was_handed_over(), virtual_time());
}

task<> acquire_then_mark(corio::semaphore* sem, bool* got) {
    co_await sem->acquire();
    *got = true;
}

task<> cancel_after_a_permit_was_handed_over() {
    corio::semaphore sem(0);
    bool got_a = false;
    bool got_b = false;
    auto a = corio::spawn(acquire_then_mark(&sem, &got_a));
    auto b = corio::spawn(acquire_then_mark(&sem, &got_b));
    co_await corio::sleep(0s); // both wait
    sem.release();             // handed to a ...
    EXPECT_TRUE(a.cancel());   // ... cancelled before it ran: the permit goes to b
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(a)));
    co_await b;
    EXPECT_FALSE(got_a);
    EXPECT_TRUE(got_b);
    EXPECT_EQ(sem.value(), 0U);
}

TEST(cancellation, cancel_after_a_permit_was_handed_over_passes_the_permit_on) {
    corio::run(cancel_after_a_permit_was_handed_over(), virtual_time());
}

// --- a cancel passed on to an awaited task (issue 15, item 3) ------------------------------

task<int> catch_cancel_and_return(int v) {
    try {
        co_await corio::sleep(1h);
    } catch (const cancelled_error&) {
        co_return v;
    }
    co_return -1;
}

struct foo_error : std::runtime_error {
    foo_error() : std::runtime_error("foo") {}
};

task<int> raise_on_cancel() {
    try {
        co_await corio::sleep(1h);
    } catch (const cancelled_error&) {
        throw foo_error();
    }
    co_return -1;
}

task<int> await_handle(corio::join_handle<int> inner) {
    co_return co_await inner;
}

task<> awaited_task_outcome_reaches_the_awaiter() {
    // asyncio: cancelling a task that awaits another task cancels that one, and the
    // awaiter gets what it ended with.
    auto outer = corio::spawn(await_handle(corio::spawn(catch_cancel_and_return(42))));
    co_await corio::sleep(1s);
    EXPECT_TRUE(outer.cancel());
    EXPECT_EQ(co_await outer, 42);

    auto outer2 = corio::spawn(await_handle(corio::spawn(raise_on_cancel())));
    co_await corio::sleep(1s);
    EXPECT_TRUE(outer2.cancel());
    EXPECT_TRUE(holds<foo_error>(co_await error_of(outer2)));

    // wait_for: the inner task's value, or its own error, not timeout_error (asyncio 3.11).
    EXPECT_EQ(co_await corio::wait_for(corio::spawn(catch_cancel_and_return(43)), 1s), 43);
    EXPECT_TRUE(
        holds<foo_error>(co_await error_of(corio::wait_for(corio::spawn(raise_on_cancel()), 1s))));
    // An inner task that is cancelled gives the timeout.
    EXPECT_TRUE(holds<corio::timeout_error>(
        co_await error_of(corio::wait_for(corio::spawn(yield_then_return(1, nullptr)), 0s))));
}

TEST(cancellation, awaiter_gets_the_outcome_of_an_awaited_task_it_cancelled) {
    corio::run(awaited_task_outcome_reaches_the_awaiter(), virtual_time());
}

} // namespace
