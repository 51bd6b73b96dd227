// Cancel scopes and deadlines (API.md §5): cancel_scope, move_on_after, fail_after, wait_for,
// shield, and how scopes compose with each other and with an outside cancellation
// (python/cpython#95289, #116720, #155433: an inner timeout must never swallow, nor turn into
// a timeout, a cancellation that came from outside it). Virtual clock throughout.

#include "corio/corio.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
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
using corio::timeout_error;

/// Sleeps `d`, then returns `v`. On cancellation, logs it, cleans up for `cleanup`, rethrows.
task<int> value_after(corio::clock::duration d, int v, std::vector<std::string>* log = nullptr,
                      corio::clock::duration cleanup = 0s) {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(d);
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (cancelled) {
        if (log != nullptr) {
            log->push_back("body cancelled");
        }
        if (cleanup > 0s) {
            co_await corio::sleep(cleanup);
            if (log != nullptr) {
                log->push_back("body cleaned");
            }
        }
        std::rethrow_exception(cancelled);
    }
    co_return v;
}

task<> nothing_after(corio::clock::duration d) {
    co_await corio::sleep(d);
}

template <class E>
task<> throw_after(corio::clock::duration d, std::string what) {
    co_await corio::sleep(d);
    throw E(what);
}

static_assert(std::is_same_v<decltype(corio::move_on_after(1s, value_after(1s, 1))),
                             task<std::optional<int>>>);
static_assert(std::is_same_v<decltype(corio::move_on_after(1s, nothing_after(1s))), task<bool>>);
static_assert(std::is_same_v<decltype(corio::fail_after(1s, value_after(1s, 1))), task<int>>);
static_assert(std::is_same_v<decltype(corio::wait_for(value_after(1s, 1), 1s)), task<int>>);
static_assert(!std::is_copy_constructible_v<corio::cancel_scope>);
static_assert(!std::is_move_constructible_v<corio::cancel_scope>);

// --- move_on_after ------------------------------------------------------------------------

task<> move_on_in_time() {
    const auto t0 = now();
    const std::optional<int> r = co_await corio::move_on_after(5s, value_after(1s, 42));
    EXPECT_EQ(r, 42);
    EXPECT_EQ(now() - t0, 1s);
    // The scope's timer is gone: nothing wakes us before our own sleep ends.
    co_await corio::sleep(10s);
    EXPECT_EQ(now() - t0, 11s);
}

TEST(move_on_after, gives_the_value_when_in_time) {
    corio::run(move_on_in_time(), virtual_time());
}

task<> move_on_expired() {
    const auto t0 = now();
    std::vector<std::string> log;
    const std::optional<int> r = co_await corio::move_on_after(1s, value_after(5s, 42, &log, 2s));
    EXPECT_EQ(r, std::nullopt);
    EXPECT_EQ(now() - t0, 3s); // the body's cleanup ran to completion first
    EXPECT_EQ(log, (std::vector<std::string>{"body cancelled", "body cleaned"}));
    // The task is not left cancelled.
    co_await corio::sleep(1s);
    EXPECT_EQ(now() - t0, 4s);
}

TEST(move_on_after, gives_empty_when_the_deadline_passes) {
    corio::run(move_on_expired(), virtual_time());
}

task<> move_on_void() {
    const auto t0 = now();
    EXPECT_TRUE(co_await corio::move_on_after(2s, nothing_after(1s)));
    EXPECT_EQ(now() - t0, 1s);
    EXPECT_FALSE(co_await corio::move_on_after(2s, nothing_after(5s)));
    EXPECT_EQ(now() - t0, 3s);
    // Any awaitable, not only tasks.
    EXPECT_FALSE(co_await corio::move_on_after(1s, corio::sleep(1h)));
    EXPECT_EQ(now() - t0, 4s);
    EXPECT_TRUE(co_await corio::move_on_after(1h, corio::sleep(1s)));
    EXPECT_EQ(now() - t0, 5s);
}

TEST(move_on_after, gives_a_bool_for_void_awaitables) {
    corio::run(move_on_void(), virtual_time());
}

task<> move_on_zero() {
    const auto t0 = now();
    EXPECT_EQ(co_await corio::move_on_after(0s, value_after(1s, 1)), std::nullopt);
    EXPECT_EQ(co_await corio::move_on_after(-5s, value_after(1s, 1)), std::nullopt);
    EXPECT_EQ(now() - t0, 0s);
}

TEST(move_on_after, zero_or_negative_limit_cancels_at_the_first_suspension) {
    corio::run(move_on_zero(), virtual_time());
}

task<> no_limit() {
    const auto t0 = now();
    // The largest durations mean "no limit": they must neither overflow nor fire.
    EXPECT_EQ(co_await corio::move_on_after(std::chrono::hours::max(), value_after(1s, 1)), 1);
    EXPECT_EQ(co_await corio::fail_after(std::chrono::seconds::max(), value_after(1s, 2)), 2);
    EXPECT_EQ(co_await corio::wait_for(value_after(1s, 3), std::chrono::nanoseconds::max()), 3);
    EXPECT_EQ(co_await corio::move_on_after(std::chrono::hours::min(), value_after(1s, 4)),
              std::nullopt);
    EXPECT_EQ(now() - t0, 3s);
}

TEST(move_on_after, largest_durations_mean_no_limit) {
    corio::run(no_limit(), virtual_time());
}

task<> move_on_passes_errors() {
    const std::exception_ptr e =
        co_await error_of(corio::move_on_after(5s, throw_after<std::runtime_error>(1s, "own")));
    EXPECT_TRUE(holds<std::runtime_error>(e));
}

TEST(move_on_after, body_exception_passes_through) {
    corio::run(move_on_passes_errors(), virtual_time());
}

// --- fail_after and wait_for ----------------------------------------------------------------

task<> fail_after_in_time() {
    const auto t0 = now();
    EXPECT_EQ(co_await corio::fail_after(5s, value_after(2s, 9)), 9);
    EXPECT_EQ(now() - t0, 2s);
    co_await corio::fail_after(5s, nothing_after(1s));
    EXPECT_EQ(now() - t0, 3s);
}

TEST(fail_after, gives_the_value_when_in_time) {
    corio::run(fail_after_in_time(), virtual_time());
}

task<> fail_after_expired() {
    const auto t0 = now();
    std::vector<std::string> log;
    const std::exception_ptr e =
        co_await error_of(corio::fail_after(1s, value_after(5s, 9, &log, 2s)));
    EXPECT_TRUE(holds<timeout_error>(e));
    EXPECT_EQ(now() - t0, 3s);
    EXPECT_EQ(log, (std::vector<std::string>{"body cancelled", "body cleaned"}));
    co_await corio::sleep(1s); // not left cancelled
    EXPECT_EQ(now() - t0, 4s);
}

TEST(fail_after, throws_timeout_error_after_the_body_cleaned_up) {
    corio::run(fail_after_expired(), virtual_time());
}

task<> fail_after_passes_body_errors() {
    const auto t0 = now();
    EXPECT_TRUE(holds<std::runtime_error>(
        co_await error_of(corio::fail_after(5s, throw_after<std::runtime_error>(1s, "own")))));
    // The body's own timeout_error is not confused with the deadline.
    const std::exception_ptr e =
        co_await error_of(corio::fail_after(5s, throw_after<timeout_error>(1s, "mine")));
    EXPECT_TRUE(holds<timeout_error>(e));
    try {
        std::rethrow_exception(e);
    } catch (const timeout_error& t) {
        EXPECT_NE(std::string(t.what()).find("mine"), std::string::npos);
    } catch (...) {
    }
    EXPECT_EQ(now() - t0, 2s);
}

TEST(fail_after, body_exception_passes_through) {
    corio::run(fail_after_passes_body_errors(), virtual_time());
}

task<int> swallow_cancel(corio::clock::duration d, int v) {
    try {
        co_await corio::sleep(d);
    } catch (const cancelled_error&) {
    }
    co_return v;
}

task<> fail_after_swallowed() {
    const auto t0 = now();
    // asyncio.timeout semantics: a body that swallows its cancellation returns normally.
    EXPECT_EQ(co_await corio::fail_after(1s, swallow_cancel(5s, 4)), 4);
    EXPECT_EQ(now() - t0, 1s);
}

TEST(fail_after, body_that_swallows_the_cancellation_returns_its_value) {
    corio::run(fail_after_swallowed(), virtual_time());
}

task<> wait_for_cases() {
    const auto t0 = now();
    EXPECT_EQ(co_await corio::wait_for(value_after(1s, 5), 2s), 5);
    EXPECT_EQ(now() - t0, 1s);
    EXPECT_TRUE(holds<timeout_error>(co_await error_of(corio::wait_for(value_after(5s, 5), 2s))));
    EXPECT_EQ(now() - t0, 3s);

    // A join_handle: the task is cancelled at the deadline, and wait_for waits for it.
    std::vector<std::string> log;
    auto h = corio::spawn(value_after(1h, 1, &log, 1s));
    EXPECT_TRUE(holds<timeout_error>(co_await error_of(corio::wait_for(h, 2s))));
    EXPECT_EQ(now() - t0, 6s);
    EXPECT_TRUE(h.cancelled());

    // A future: cancelled at the deadline.
    corio::future<int> f;
    EXPECT_TRUE(holds<timeout_error>(co_await error_of(corio::wait_for(f, 1s))));
    EXPECT_TRUE(f.cancelled());
    EXPECT_EQ(now() - t0, 7s);
}

TEST(wait_for, gives_the_value_or_cancels_and_throws_timeout_error) {
    corio::run(wait_for_cases(), virtual_time());
}

// --- cancel_scope used directly ---------------------------------------------------------------

task<> cancel_scope_after(corio::cancel_scope* scope, corio::clock::duration d) {
    co_await corio::sleep(d);
    scope->cancel();
}

task<> scope_cancelled_by_another_task() {
    const auto t0 = now();
    corio::cancel_scope scope;
    EXPECT_FALSE(scope.cancel_called());
    EXPECT_FALSE(scope.deadline().has_value());
    auto canceller = corio::spawn(cancel_scope_after(&scope, 2s));
    std::vector<std::string> log;
    const std::optional<int> r = co_await scope.run(value_after(1h, 1, &log));
    EXPECT_EQ(r, std::nullopt);
    EXPECT_TRUE(scope.cancel_called());
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_EQ(now() - t0, 2s);
    EXPECT_EQ(log, (std::vector<std::string>{"body cancelled"}));
    co_await canceller;
}

TEST(cancel_scope, cancel_from_another_task_ends_the_scope_empty) {
    corio::run(scope_cancelled_by_another_task(), virtual_time());
}

task<> scope_in_time() {
    corio::cancel_scope scope;
    EXPECT_EQ(co_await scope.run(value_after(1s, 8)), 8);
    EXPECT_FALSE(scope.cancel_called());
    EXPECT_FALSE(scope.cancelled_caught());
    scope.cancel(); // after it finished: recorded, nothing to cancel
    EXPECT_TRUE(scope.cancel_called());
    EXPECT_FALSE(scope.cancelled_caught());
    co_await corio::sleep(1s); // the task is not cancelled
}

TEST(cancel_scope, body_finishing_in_time_is_not_caught) {
    corio::run(scope_in_time(), virtual_time());
}

task<> scope_cancelled_before_run() {
    const auto t0 = now();
    corio::cancel_scope scope;
    scope.cancel();
    std::vector<std::string> log;
    EXPECT_EQ(co_await scope.run(value_after(1s, 1, &log)), std::nullopt);
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_EQ(log, (std::vector<std::string>{"body cancelled"}));
    EXPECT_EQ(now() - t0, 0s);
}

TEST(cancel_scope, cancel_before_run_cancels_at_the_first_suspension) {
    corio::run(scope_cancelled_before_run(), virtual_time());
}

task<> scope_with_deadline() {
    const auto t0 = now();
    corio::cancel_scope scope(t0 + 3s);
    EXPECT_EQ(scope.deadline(), t0 + 3s);
    EXPECT_FALSE(co_await scope.run(nothing_after(1h)));
    EXPECT_TRUE(scope.cancel_called());
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_EQ(now() - t0, 3s);
}

TEST(cancel_scope, deadline_cancels_the_body) {
    corio::run(scope_with_deadline(), virtual_time());
}

task<> move_deadline_after(corio::cancel_scope* scope, corio::clock::duration wait,
                           corio::clock::time_point deadline) {
    co_await corio::sleep(wait);
    scope->set_deadline(deadline);
}

task<> scope_set_deadline() {
    const auto t0 = now();
    {
        // Extended while running.
        corio::cancel_scope scope(t0 + 1s);
        auto mover = corio::spawn(move_deadline_after(&scope, 500ms, t0 + 5s));
        EXPECT_FALSE(co_await scope.run(nothing_after(1h)));
        EXPECT_EQ(now() - t0, 5s);
        EXPECT_EQ(scope.deadline(), t0 + 5s);
        co_await mover;
    }
    {
        // Shortened while running.
        const auto t1 = now();
        corio::cancel_scope scope(t1 + 1h);
        auto mover = corio::spawn(move_deadline_after(&scope, 1s, t1 + 2s));
        EXPECT_FALSE(co_await scope.run(nothing_after(1h)));
        EXPECT_EQ(now() - t1, 2s);
        co_await mover;
    }
    {
        // Set before running, on a scope made without one.
        const auto t2 = now();
        corio::cancel_scope scope;
        scope.set_deadline(t2 + 4s);
        EXPECT_FALSE(co_await scope.run(nothing_after(1h)));
        EXPECT_EQ(now() - t2, 4s);
    }
    {
        // A deadline already past cancels at the first suspension.
        const auto t3 = now();
        corio::cancel_scope scope(t3 - 1s);
        EXPECT_FALSE(co_await scope.run(nothing_after(1h)));
        EXPECT_EQ(now() - t3, 0s);
    }
}

TEST(cancel_scope, set_deadline_moves_the_deadline) {
    corio::run(scope_set_deadline(), virtual_time());
}

task<> run_same_scope(corio::cancel_scope* scope) {
    co_await scope->run(nothing_after(1s));
}

task<> scope_run_twice() {
    corio::cancel_scope scope;
    // While it runs (here, nested inside itself).
    EXPECT_TRUE(
        holds<corio::invalid_state_error>(co_await error_of(scope.run(run_same_scope(&scope)))));
    // After it ran: a scope is used once.
    corio::cancel_scope used;
    EXPECT_TRUE(co_await used.run(nothing_after(1s)));
    EXPECT_TRUE(holds<corio::invalid_state_error>(co_await error_of(used.run(nothing_after(1s)))));
    // From another task while it runs.
    corio::cancel_scope shared;
    auto other = corio::spawn(run_same_scope(&shared));
    co_await corio::sleep(0s);
    EXPECT_TRUE(
        holds<corio::invalid_state_error>(co_await error_of(shared.run(nothing_after(1s)))));
    co_await other;
}

TEST(cancel_scope, running_twice_throws_invalid_state_error) {
    corio::run(scope_run_twice(), virtual_time());
}

task<int> forty_two() {
    co_return 42;
}

TEST(cancel_scope, used_outside_a_task_throws_invalid_state_error) {
    corio::cancel_scope scope;
    try {
        corio::sync_wait(scope.run(forty_two()));
        ADD_FAILURE() << "expected invalid_state_error";
    } catch (const corio::invalid_state_error& e) {
        EXPECT_NE(std::string(e.what()).find("cancel_scope"), std::string::npos) << e.what();
    }
}

// Regression: a cancellation requested while the task was not parked, by a scope that then
// finished without another suspension, leaked out of the scope and cancelled the task at its
// next await.
task<int> cancel_own_scope(corio::cancel_scope* scope) {
    scope->cancel();
    co_return 1;
}

task<> scope_cancelled_then_left_without_suspending() {
    corio::cancel_scope scope;
    EXPECT_EQ(co_await scope.run(cancel_own_scope(&scope)), 1);
    EXPECT_TRUE(scope.cancel_called());
    EXPECT_FALSE(scope.cancelled_caught());
    co_await corio::sleep(1s); // must not throw
    co_await corio::sleep(0s);
}

TEST(cancel_scope, cancel_not_delivered_inside_the_scope_does_not_leak_out) {
    corio::run(scope_cancelled_then_left_without_suspending(), virtual_time());
}

void resolve_future(void* f) {
    static_cast<corio::future<int>*>(f)->set_result(6);
}

task<> deadline_with_value_in_the_same_iteration() {
    const auto t0 = now();
    corio::future<int> f;
    // The future is resolved by a timer that fires just before the scope's deadline, in the
    // same loop iteration: the task is woken with the value, then the deadline passes before
    // it runs. As asyncio.timeout_at, the deadline wins (the future keeps its value), and
    // nothing leaks out of the scope.
    corio::get_running_loop().add_timer(t0 + 1s, &resolve_future, &f);
    EXPECT_EQ(co_await corio::move_on_after(1s, f), std::nullopt);
    EXPECT_EQ(f.result(), 6);
    // A body that never suspends finishes even under a deadline already passed.
    EXPECT_EQ(co_await corio::fail_after(0s, forty_two()), 42);
    co_await corio::sleep(1s); // must not throw
    EXPECT_EQ(now() - t0, 2s);
}

TEST(cancel_scope, deadline_passing_after_the_wake_up_wins_and_does_not_leak_out) {
    corio::run(deadline_with_value_in_the_same_iteration(), virtual_time());
}

task<int> value_in_scope_then_sleep(corio::future<int> f, std::vector<std::string>* log) {
    const std::optional<int> r = co_await corio::move_on_after(1s, f);
    log->push_back(r ? "value" : "moved on");
    co_await corio::sleep(1s);
    log->push_back("continued");
    co_return r.value_or(0);
}

void cancel_int_handle(void* h) {
    static_cast<corio::join_handle<int>*>(h)->cancel();
}

task<> value_deadline_and_outside_cancel(bool cancel_before_deadline) {
    const auto t0 = now();
    auto& loop = corio::get_running_loop();
    corio::future<int> f;
    std::vector<std::string> log;
    corio::join_handle<int> h;
    // All three at t0 + 1 s, in this order: the value wakes the task, then the scope's
    // deadline and the outside cancel arrive (in either order) before it runs.
    loop.add_timer(t0 + 1s, &resolve_future, &f);
    if (cancel_before_deadline) {
        loop.add_timer(t0 + 1s, &cancel_int_handle, &h);
        h = corio::spawn(value_in_scope_then_sleep(f, &log));
    } else {
        h = corio::spawn(value_in_scope_then_sleep(f, &log));
        co_await corio::sleep(0s);
        loop.add_timer(t0 + 1s, &cancel_int_handle, &h);
    }
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_TRUE(h.cancelled());
    // Both reach the task at the point it was woken from, before it runs (asyncio): the
    // scope does not absorb a cancellation that also came from outside.
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(now() - t0, 1s);
}

TEST(scope_composition, outside_cancel_and_deadline_at_the_wake_up_give_cancelled_error) {
    corio::run(value_deadline_and_outside_cancel(true), virtual_time());
    corio::run(value_deadline_and_outside_cancel(false), virtual_time());
}

task<int> enter_scope_while_cancelled(corio::cancel_scope* scope, std::vector<std::string>* log) {
    co_await corio::sleep(0s);
    corio::current_task_handle().cancel(); // made while running: pending at the scope's entry
    const std::optional<int> r = co_await scope->run(value_after(1s, 1, log));
    log->push_back(r ? "value" : "moved on");
    co_return 0;
}

task<> scope_entered_with_outside_cancel_pending() {
    corio::cancel_scope scope;
    std::vector<std::string> log;
    corio::join_handle<int> h = corio::spawn(enter_scope_while_cancelled(&scope, &log));
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_EQ(log, (std::vector<std::string>{"body cancelled"}));
    EXPECT_FALSE(scope.cancel_called());
    EXPECT_FALSE(scope.cancelled_caught());
}

TEST(scope_composition, scope_does_not_absorb_an_outside_cancel_pending_at_entry) {
    corio::run(scope_entered_with_outside_cancel_pending(), virtual_time());
}

// --- shield ---------------------------------------------------------------------------------

task<int> mark_after(corio::clock::duration d, int v, bool* finished) {
    co_await corio::sleep(d);
    *finished = true;
    co_return v;
}

task<int> await_shielded(bool* finished, bool* resumed) {
    const int v = co_await corio::shield(mark_after(5s, 3, finished));
    *resumed = true;
    co_return v;
}

task<> shield_cancelled() {
    const auto t0 = now();
    bool finished = false;
    bool resumed = false;
    auto h = corio::spawn(await_shielded(&finished, &resumed));
    co_await corio::sleep(1s);
    h.cancel();
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_EQ(now() - t0, 1s); // at once, not when the inner task ends
    EXPECT_TRUE(h.cancelled());
    EXPECT_FALSE(finished);
    EXPECT_FALSE(resumed);
    co_await corio::sleep(10s);
    EXPECT_TRUE(finished); // the inner task ran on
}

TEST(shield, cancelling_the_awaiter_throws_at_once_and_the_inner_task_completes) {
    corio::run(shield_cancelled(), virtual_time());
}

task<> shield_values_and_errors() {
    bool finished = false;
    EXPECT_EQ(co_await corio::shield(mark_after(1s, 4, &finished)), 4);
    EXPECT_TRUE(finished);
    EXPECT_TRUE(holds<std::runtime_error>(
        co_await error_of(corio::shield(throw_after<std::runtime_error>(1s, "inner")))));
    co_await corio::shield(corio::sleep(1s)); // any awaitable
}

TEST(shield, passes_the_value_and_the_error_of_the_inner_task) {
    corio::run(shield_values_and_errors(), virtual_time());
}

task<> shield_in_timeout() {
    const auto t0 = now();
    bool finished = false;
    EXPECT_TRUE(holds<timeout_error>(
        co_await error_of(corio::fail_after(1s, corio::shield(mark_after(5s, 1, &finished))))));
    EXPECT_EQ(now() - t0, 1s);
    EXPECT_FALSE(finished);
    co_await corio::sleep(5s);
    EXPECT_TRUE(finished);
}

TEST(shield, timeout_around_a_shield_stops_the_wait_not_the_work) {
    corio::run(shield_in_timeout(), virtual_time());
}

// --- composition: an outside cancellation against an inner deadline ---------------------------

/// The task under test: an inner fail_after (or move_on_after) around a long sleep. Logs what
/// came out of the scope; anything after the scope is "continued".
task<int> subject(corio::clock::duration limit, bool move_on, corio::clock::duration cleanup,
                  std::vector<std::string>* log) {
    try {
        if (move_on) {
            const auto r = co_await corio::move_on_after(limit, value_after(1h, 1, log, cleanup));
            log->push_back(r ? "value" : "moved on");
        } else {
            co_await corio::fail_after(limit, value_after(1h, 1, log, cleanup));
            log->push_back("value");
        }
    } catch (const timeout_error&) {
        log->push_back("timeout");
    }
    log->push_back("continued");
    co_return 0;
}

void cancel_handle(void* h) {
    static_cast<corio::join_handle<int>*>(h)->cancel();
}

struct race_result {
    std::exception_ptr error;
    bool cancelled = false;
    std::vector<std::string> log;
    corio::clock::duration took{};
};

/// `cancel_first`: the outside cancel is a timer armed before the subject's deadline timer, at
/// the same time: in the same iteration it fires first. Otherwise it is armed after, and fires
/// second. Both are delivered from the timer phase, before the subject runs again.
task<race_result> same_iteration_race(bool cancel_first, bool move_on) {
    race_result r;
    const auto t0 = now();
    auto& loop = corio::get_running_loop();
    corio::join_handle<int> h;
    if (cancel_first) {
        loop.add_timer(t0 + 1s, &cancel_handle, &h);
        h = corio::spawn(subject(1s, move_on, 0s, &r.log));
    } else {
        h = corio::spawn(subject(1s, move_on, 0s, &r.log));
        co_await corio::sleep(0s); // the subject enters its scope and arms its timer
        loop.add_timer(t0 + 1s, &cancel_handle, &h);
    }
    r.error = co_await error_of(h);
    r.cancelled = h.cancelled();
    r.took = now() - t0;
    co_return r;
}

void expect_outer_cancel_won(const race_result& r) {
    EXPECT_TRUE(holds<cancelled_error>(r.error));
    EXPECT_TRUE(r.cancelled);
    for (const auto& entry : r.log) {
        EXPECT_NE(entry, "timeout");
        EXPECT_NE(entry, "moved on");
        EXPECT_NE(entry, "continued");
    }
}

TEST(scope_composition, outer_cancel_just_before_inner_deadline_same_iteration) {
    const auto r = corio::run(same_iteration_race(true, false), virtual_time());
    expect_outer_cancel_won(r);
    EXPECT_EQ(r.took, 1s);
}

TEST(scope_composition, outer_cancel_just_after_inner_deadline_same_iteration) {
    const auto r = corio::run(same_iteration_race(false, false), virtual_time());
    expect_outer_cancel_won(r);
    EXPECT_EQ(r.took, 1s);
}

TEST(scope_composition, outer_cancel_just_before_move_on_deadline_same_iteration) {
    const auto r = corio::run(same_iteration_race(true, true), virtual_time());
    expect_outer_cancel_won(r);
}

TEST(scope_composition, outer_cancel_just_after_move_on_deadline_same_iteration) {
    const auto r = corio::run(same_iteration_race(false, true), virtual_time());
    expect_outer_cancel_won(r);
}

/// Different iterations: the body cleans up for 3 s after its cancellation, so the second
/// request lands while the first is being handled.
task<race_result> separate_iterations_race(corio::clock::duration deadline,
                                           corio::clock::duration cancel_at, bool move_on) {
    race_result r;
    const auto t0 = now();
    auto h = corio::spawn(subject(deadline, move_on, 3s, &r.log));
    co_await corio::sleep(cancel_at);
    h.cancel();
    r.error = co_await error_of(h);
    r.cancelled = h.cancelled();
    r.took = now() - t0;
    co_return r;
}

TEST(scope_composition, outer_cancel_one_iteration_before_inner_deadline) {
    const auto r = corio::run(separate_iterations_race(2s, 1s, false), virtual_time());
    expect_outer_cancel_won(r);
    // The inner deadline, passing during the cleanup, interrupts it (it is a cancellation too).
    EXPECT_EQ(r.took, 2s);
}

TEST(scope_composition, outer_cancel_one_iteration_after_inner_deadline) {
    const auto r = corio::run(separate_iterations_race(1s, 2s, false), virtual_time());
    expect_outer_cancel_won(r);
    EXPECT_EQ(r.took, 2s);
}

TEST(scope_composition, outer_cancel_one_iteration_after_move_on_deadline) {
    const auto r = corio::run(separate_iterations_race(1s, 2s, true), virtual_time());
    expect_outer_cancel_won(r);
}

/// After the outer cancellation propagates out of the inner scope, the task catches it and
/// cleans up with awaits: that cleanup is not interrupted by a second, stray cancellation.
task<int> subject_with_outer_cleanup(std::vector<std::string>* log) {
    std::exception_ptr cancelled;
    try {
        co_await corio::fail_after(1s, value_after(1h, 1));
        log->push_back("value");
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    } catch (const timeout_error&) {
        log->push_back("timeout");
    }
    if (cancelled) {
        co_await corio::sleep(2s);
        log->push_back("outer cleaned");
        std::rethrow_exception(cancelled);
    }
    co_return 0;
}

task<race_result> race_then_cleanup(bool cancel_first) {
    race_result r;
    const auto t0 = now();
    auto& loop = corio::get_running_loop();
    corio::join_handle<int> h;
    if (cancel_first) {
        loop.add_timer(t0 + 1s, &cancel_handle, &h);
        h = corio::spawn(subject_with_outer_cleanup(&r.log));
    } else {
        h = corio::spawn(subject_with_outer_cleanup(&r.log));
        co_await corio::sleep(0s);
        loop.add_timer(t0 + 1s, &cancel_handle, &h);
    }
    r.error = co_await error_of(h);
    r.cancelled = h.cancelled();
    r.took = now() - t0;
    co_return r;
}

TEST(scope_composition, cleanup_after_a_simultaneous_cancel_and_deadline_is_not_interrupted) {
    for (const bool cancel_first : {true, false}) {
        const auto r = corio::run(race_then_cleanup(cancel_first), virtual_time());
        EXPECT_TRUE(holds<cancelled_error>(r.error)) << cancel_first;
        EXPECT_TRUE(r.cancelled) << cancel_first;
        EXPECT_EQ(r.log, (std::vector<std::string>{"outer cleaned"})) << cancel_first;
        EXPECT_EQ(r.took, 3s) << cancel_first;
    }
}

// --- composition: nested deadlines --------------------------------------------------------------

task<int> inner_timeout_then_continue(corio::clock::duration limit, std::vector<std::string>* log) {
    try {
        co_await corio::fail_after(limit, nothing_after(10s));
        log->push_back("inner value");
    } catch (const timeout_error&) {
        log->push_back("inner timeout");
    }
    co_await corio::sleep(1s);
    log->push_back("continued");
    co_return 1;
}

task<> nested_fail_after_inner_longer() {
    const auto t0 = now();
    std::vector<std::string> log;
    const std::exception_ptr e =
        co_await error_of(corio::fail_after(2s, inner_timeout_then_continue(5s, &log)));
    EXPECT_TRUE(holds<timeout_error>(e)); // the outer one's
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(now() - t0, 2s);
}

TEST(scope_composition, nested_fail_after_inner_longer_gives_the_outer_timeout) {
    corio::run(nested_fail_after_inner_longer(), virtual_time());
}

task<> nested_fail_after_inner_shorter() {
    const auto t0 = now();
    std::vector<std::string> log;
    EXPECT_EQ(co_await corio::fail_after(5s, inner_timeout_then_continue(1s, &log)), 1);
    EXPECT_EQ(log, (std::vector<std::string>{"inner timeout", "continued"}));
    EXPECT_EQ(now() - t0, 2s);
}

TEST(scope_composition, nested_fail_after_inner_shorter_gives_the_inner_timeout) {
    corio::run(nested_fail_after_inner_shorter(), virtual_time());
}

task<> nested_fail_after_equal() {
    const auto t0 = now();
    std::vector<std::string> log;
    // Both deadlines pass in the same iteration: the outer scope owns the cancellation.
    const std::exception_ptr e =
        co_await error_of(corio::fail_after(2s, inner_timeout_then_continue(2s, &log)));
    EXPECT_TRUE(holds<timeout_error>(e));
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(now() - t0, 2s);
    co_await corio::sleep(1s); // nothing left pending
    EXPECT_EQ(now() - t0, 3s);
}

TEST(scope_composition, nested_fail_after_equal_deadlines_gives_the_outer_timeout) {
    corio::run(nested_fail_after_equal(), virtual_time());
}

task<> nested_move_on() {
    const auto t0 = now();
    corio::cancel_scope outer;
    corio::cancel_scope inner;
    auto canceller = corio::spawn(cancel_scope_after(&outer, 1s));
    // The outer scope is cancelled while the inner one runs: the inner one lets it through
    // and the outer one absorbs it.
    const auto r = co_await outer.run(inner.run(value_after(1h, 1)));
    EXPECT_EQ(r, std::nullopt);
    EXPECT_TRUE(outer.cancelled_caught());
    EXPECT_FALSE(inner.cancel_called());
    EXPECT_FALSE(inner.cancelled_caught());
    EXPECT_EQ(now() - t0, 1s);
    co_await canceller;
}

TEST(scope_composition, outer_scope_cancel_passes_through_the_inner_scope) {
    corio::run(nested_move_on(), virtual_time());
}

task<> swallowed_then_timeout() {
    const auto t0 = now();
    // python/cpython#95289: after a scope's cancellation was swallowed inside it, the task is
    // not left "cancelling": a later timeout is a timeout.
    corio::cancel_scope scope;
    scope.cancel();
    EXPECT_EQ(co_await scope.run(swallow_cancel(1s, 3)), 3);
    EXPECT_FALSE(scope.cancelled_caught());
    EXPECT_TRUE(holds<timeout_error>(co_await error_of(corio::fail_after(1s, nothing_after(1h)))));
    EXPECT_EQ(now() - t0, 1s);
}

TEST(scope_composition, swallowed_scope_cancellation_does_not_affect_later_timeouts) {
    corio::run(swallowed_then_timeout(), virtual_time());
}

// --- deadlines already passed (issue 15, items 1 and 5) ------------------------------------

task<std::string> yield_then_finish(bool* past_first_yield) {
    co_await corio::sleep(0s);
    *past_first_yield = true;
    co_await corio::sleep(0s);
    co_return "body finished";
}

task<> past_deadlines_stop_the_body_at_its_first_checkpoint() {
    const auto t0 = now();
    bool past = false;
    // asyncio.timeout(0) / trio.fail_after(0): the first sleep(0) already raises.
    EXPECT_TRUE(holds<timeout_error>(co_await error_of(corio::fail_after(0s, corio::sleep(0s)))));
    EXPECT_TRUE(
        holds<timeout_error>(co_await error_of(corio::fail_after(0s, yield_then_finish(&past)))));
    EXPECT_FALSE(past);
    EXPECT_FALSE(co_await corio::move_on_after(-1s, corio::sleep(0s)));
    EXPECT_EQ(co_await corio::move_on_after(-1s, yield_then_finish(&past)), std::nullopt);
    EXPECT_FALSE(past);
    EXPECT_TRUE(
        holds<timeout_error>(co_await error_of(corio::wait_for(yield_then_finish(&past), 0s))));
    EXPECT_FALSE(past);
    corio::cancel_scope scope(now() - 1s);
    EXPECT_EQ(co_await scope.run(yield_then_finish(&past)), std::nullopt);
    EXPECT_FALSE(past);
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_EQ(now() - t0, 0s);
}

TEST(cancel_scope, deadline_already_passed_stops_the_body_at_its_first_sleep_zero) {
    corio::run(past_deadlines_stop_the_body_at_its_first_checkpoint(), virtual_time());
}

task<> cancel_called_reflects_a_passed_deadline() {
    // trio: cancel_called is true for a scope not entered yet, or running, whose deadline
    // has passed.
    corio::cancel_scope scope(now() - 1s);
    EXPECT_TRUE(scope.cancel_called());
    corio::cancel_scope later(now() + 1s);
    EXPECT_FALSE(later.cancel_called());
    co_await corio::sleep(1s);
    EXPECT_TRUE(later.cancel_called());
    EXPECT_EQ(co_await scope.run(value_after(1s, 1)), std::nullopt);
    EXPECT_TRUE(scope.cancel_called());
    // A finished scope: its deadline cannot be moved any more.
    corio::cancel_scope done(now() + 1h);
    EXPECT_EQ(co_await done.run(value_after(1s, 2)), 2);
    EXPECT_FALSE(done.cancel_called());
    try {
        done.set_deadline(now() + 2h);
        ADD_FAILURE() << "expected invalid_state_error";
    } catch (const corio::invalid_state_error& e) {
        EXPECT_NE(std::string(e.what()).find("set_deadline"), std::string::npos) << e.what();
    }
    EXPECT_EQ(done.deadline(), now() + 1h - 1s);
}

TEST(cancel_scope, cancel_called_of_a_scope_whose_deadline_passed_is_true) {
    corio::run(cancel_called_reflects_a_passed_deadline(), virtual_time());
}

// --- a timeout in the cleanup of a cancelled task (issue 15, item 2) -----------------------

task<std::string> cleanup_with_timeouts(std::vector<std::string>* log) {
    try {
        co_await corio::sleep(1h);
    } catch (const cancelled_error&) {
        log->push_back("cancelled");
    }
    // terminate(); wait up to 500 ms; kill(): the waits must time out on their own deadline.
    const auto t0 = now();
    if (!co_await corio::move_on_after(500ms, corio::sleep(1h))) {
        log->push_back("move_on_after timed out");
    }
    if (holds<timeout_error>(co_await error_of(corio::wait_for(corio::sleep(1h), 500ms)))) {
        log->push_back("wait_for timed out");
    }
    if (holds<timeout_error>(co_await error_of(corio::fail_after(500ms, corio::sleep(1h))))) {
        log->push_back("fail_after timed out");
    }
    EXPECT_EQ(now() - t0, 1500ms);
    co_return "cleaned up";
}

task<> timeouts_in_cleanup() {
    std::vector<std::string> log;
    auto h = corio::spawn(cleanup_with_timeouts(&log));
    co_await corio::sleep(1s);
    h.cancel();
    EXPECT_EQ(co_await h, "cleaned up"); // Python 3.11 gives the timeouts too
    EXPECT_EQ(log, (std::vector<std::string>{"cancelled", "move_on_after timed out",
                                             "wait_for timed out", "fail_after timed out"}));
}

TEST(scope_composition, timeout_entered_after_a_caught_cancellation_times_out) {
    corio::run(timeouts_in_cleanup(), virtual_time());
}

task<> catch_one_cancellation_then_sleep() {
    try {
        co_await corio::sleep(1h);
    } catch (const cancelled_error&) {
    }
    co_await corio::sleep(1h);
}

task<std::string> swallow_inside_the_timeout() {
    // The outer cancellation is caught inside the timeout: asyncio still reports the timeout
    // as CancelledError (the task is "cancelling" since before the timeout expired).
    const std::exception_ptr e =
        co_await error_of(corio::fail_after(1s, catch_one_cancellation_then_sleep()));
    co_return holds<cancelled_error>(e) ? "cancelled_error" : "other";
}

task<> swallowed_inside_a_timeout() {
    auto h = corio::spawn(swallow_inside_the_timeout());
    co_await corio::sleep(100ms);
    h.cancel();
    EXPECT_EQ(co_await h, "cancelled_error");
}

TEST(scope_composition, cancellation_caught_inside_a_timeout_still_wins_over_it) {
    corio::run(swallowed_inside_a_timeout(), virtual_time());
}

} // namespace
