// task_group / with_task_group (API.md §5; asyncio.TaskGroup, trio's nursery): every child is
// awaited before the group returns; the first failure cancels the siblings and the body; the
// failures come out together as exception_group; a cancellation from outside cancels the
// children and propagates. Also how groups compose with timeouts and with each other.

#include "corio/corio.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "support/loop.hpp"

// --- allocation counting (for the cost of spawning into a group) -----------------------------

namespace {
std::atomic<std::size_t> g_allocated_bytes{0};
std::atomic<long> g_live_blocks{0};
} // namespace

void* operator new(std::size_t size) {
    g_allocated_bytes.fetch_add(size, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        g_live_blocks.fetch_add(1, std::memory_order_relaxed);
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    if (p != nullptr) {
        g_live_blocks.fetch_sub(1, std::memory_order_relaxed);
    }
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    ::operator delete(p);
}

namespace {

using corio_test::error_of;
using corio_test::holds;
using corio_test::now;
using corio_test::value_after;
using corio_test::virtual_time;
using corio_test::what_of;

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::exception_group;
using corio::task;
using corio::task_group;
using corio::timeout_error;

/// The exceptions of the exception_group in `e`; empty if `e` is not one.
std::vector<std::exception_ptr> group_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const exception_group& g) {
        return g.exceptions();
    } catch (...) {
        return {};
    }
}

using log_t = std::vector<std::string>;

// ASSERT_* returns, which a coroutine cannot: this one co_returns.
#define CO_ASSERT_EQ(a, b)                                                                         \
    EXPECT_EQ(a, b);                                                                               \
    if (!((a) == (b)))                                                                             \
    co_return

/// Sleeps `d` and logs `name` done; on cancellation logs `name` cancelled, cleans up for
/// `cleanup`, then rethrows (or throws `error_in_cleanup` if set).
task<> child(std::string name, corio::clock::duration d, log_t* log,
             corio::clock::duration cleanup = 0s, std::string error_in_cleanup = {}) {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(d);
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (cancelled) {
        log->push_back(name + " cancelled");
        if (cleanup > 0s) {
            co_await corio::sleep(cleanup);
        }
        if (!error_in_cleanup.empty()) {
            throw std::runtime_error(error_in_cleanup);
        }
        std::rethrow_exception(cancelled);
    }
    log->push_back(name + " done");
}

task<> fail_after_delay(corio::clock::duration d, std::string what) {
    co_await corio::sleep(d);
    throw std::runtime_error(what);
}

// --- waiting for the children -------------------------------------------------------------

task<> waits_for_children() {
    const auto t0 = now();
    log_t log;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(child("a", 3s, &log));
        g.spawn(child("b", 1s, &log));
        g.spawn(child("c", 2s, &log));
        EXPECT_EQ(g.size(), 3U);
        co_return;
    });
    EXPECT_EQ(now() - t0, 3s);
    EXPECT_EQ(log, (log_t{"b done", "c done", "a done"}));
}

TEST(task_group, waits_for_every_child_before_returning) {
    corio::run(waits_for_children(), virtual_time());
}

task<> mark(bool* ran) {
    *ran = true;
    co_return;
}

task<> children_run_concurrently() {
    bool ran = false;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(mark(&ran));
        EXPECT_FALSE(ran); // starts in the next loop iteration
        co_await corio::sleep(0s);
        EXPECT_TRUE(ran);
        EXPECT_EQ(g.size(), 0U);
    });
    EXPECT_TRUE(ran);
}

TEST(task_group, children_start_in_the_next_iteration) {
    corio::run(children_run_concurrently(), virtual_time());
}

task<> handles_give_results() {
    const auto t0 = now();
    int sum = 0;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        auto a = g.spawn(value_after(1s, 20), "a");
        auto b = g.spawn(value_after(2s, 22));
        auto s = g.spawn(corio::sleep(3s)); // any awaitable
        EXPECT_EQ(a.name(), "a");
        sum = co_await a + co_await b;
        co_await s;
    });
    EXPECT_EQ(sum, 42);
    EXPECT_EQ(now() - t0, 3s);
}

TEST(task_group, spawn_returns_join_handles) {
    corio::run(handles_give_results(), virtual_time());
}

task<> empty_group() {
    const auto t0 = now();
    co_await corio::with_task_group([](task_group&) -> task<> { co_return; });
    EXPECT_EQ(now() - t0, 0s);
}

TEST(task_group, empty_group_returns_at_once) {
    corio::run(empty_group(), virtual_time());
}

task<> spawn_from_child(task_group g, log_t* log) {
    co_await corio::sleep(1s);
    g.spawn(child("late", 2s, log));
    log->push_back("spawner done");
}

task<> children_spawn_children() {
    const auto t0 = now();
    log_t log;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(spawn_from_child(g, &log));
        co_return; // the group is joining when the late child is spawned
    });
    EXPECT_EQ(now() - t0, 3s);
    EXPECT_EQ(log, (log_t{"spawner done", "late done"}));
}

TEST(task_group, child_can_spawn_into_the_group_while_it_joins) {
    corio::run(children_spawn_children(), virtual_time());
}

task<> spawn_after_finished() {
    std::optional<task_group> kept;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        kept.emplace(g); // copies refer to the same group
        co_return;
    });
    bool ran = false;
    try {
        kept->spawn(mark(&ran));
        ADD_FAILURE() << "expected invalid_state_error";
    } catch (const corio::invalid_state_error& e) {
        EXPECT_NE(std::string(e.what()).find("task_group"), std::string::npos) << e.what();
    }
    EXPECT_THROW(kept->spawn(corio::sleep(1s)), corio::invalid_state_error);
    kept->cancel(); // harmless once finished
    co_await corio::sleep(0s);
    EXPECT_FALSE(ran);
}

TEST(task_group, spawn_after_the_group_finished_throws_invalid_state_error) {
    corio::run(spawn_after_finished(), virtual_time());
}

task<> hold(std::shared_ptr<int> p) {
    co_await corio::sleep(1s);
    (void)p;
}

task<> finished_children_released() {
    auto p = std::make_shared<int>(1);
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(hold(p));
        EXPECT_EQ(p.use_count(), 2);
        co_await corio::sleep(2s);
        // The finished child's frame (and its parameter) is gone although the group runs on.
        EXPECT_EQ(p.use_count(), 1);
    });
}

TEST(task_group, finished_children_are_released_before_the_group_ends) {
    corio::run(finished_children_released(), virtual_time());
}

task<> spawn_many_at_once() {
    constexpr std::size_t n = 20000;
    std::size_t bytes = 0;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        const std::size_t before = g_allocated_bytes.load();
        for (std::size_t i = 0; i < n; ++i) {
            g.spawn(corio::sleep(0s));
        }
        bytes = g_allocated_bytes.load() - before;
        EXPECT_EQ(g.size(), n);
        co_return;
    });
    // A child costs its frame, its control block and the group's record of it: a few
    // hundred bytes. Growing the group's bookkeeping one slot per spawn costs 4 * n bytes
    // per child (80 KB at n = 20,000, 16 s in all for 200,000 children).
    EXPECT_LT(bytes / n, 1024U) << bytes << " bytes allocated for " << n << " children";
}

TEST(task_group, spawn_does_not_reallocate_the_children_per_spawn) {
    corio::run(spawn_many_at_once(), virtual_time());
}

task<> long_lived_group() {
    long after_first_wave = 0;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        for (int wave = 0; wave < 100; ++wave) {
            for (int i = 0; i < 1000; ++i) {
                g.spawn(corio::sleep(0s));
            }
            co_await corio::sleep(1s); // every child of the wave finishes
            EXPECT_EQ(g.size(), 0U);
            if (wave == 0) {
                after_first_wave = g_live_blocks.load();
            }
        }
        // 99,000 children later, the group holds nothing more than after the first 1,000.
        EXPECT_LE(g_live_blocks.load(), after_first_wave);
    });
}

TEST(task_group, long_lived_group_keeps_no_memory_per_finished_child) {
    corio::run(long_lived_group(), virtual_time());
}

TEST(task_group, used_outside_a_task_throws_invalid_state_error) {
    EXPECT_THROW(corio::sync_wait(corio::with_task_group([](task_group&) -> task<> { co_return; })),
                 corio::invalid_state_error);
}

// --- failures -----------------------------------------------------------------------------

task<> first_failure_cancels() {
    const auto t0 = now();
    log_t log;
    corio::join_handle<> failing;
    corio::join_handle<> sibling;
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
            failing = g.spawn(fail_after_delay(1s, "a failed"));
            sibling = g.spawn(child("b", 10s, &log));
            co_await child("body", 10s, &log);
        }));
    EXPECT_EQ(now() - t0, 1s);
    const auto errors = group_of(e);
    CO_ASSERT_EQ(errors.size(), 1U);
    EXPECT_EQ(what_of(errors[0]), "a failed");
    EXPECT_EQ(log, (log_t{"body cancelled", "b cancelled"}));
    EXPECT_TRUE(sibling.cancelled());
    EXPECT_FALSE(failing.cancelled());
    EXPECT_NE(std::string(what_of(e)).find("1 exception"), std::string::npos) << what_of(e);
}

TEST(task_group, first_failure_cancels_the_siblings_and_the_body) {
    corio::run(first_failure_cancels(), virtual_time());
}

task<> several_failures() {
    const auto t0 = now();
    log_t log;
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
            g.spawn(fail_after_delay(1s, "first"));
            g.spawn(fail_after_delay(1s, "second"));
            // Cancelled by the first failure, this one fails in its cleanup.
            g.spawn(child("c", 10s, &log, 1s, "third"));
            co_return;
        }));
    EXPECT_EQ(now() - t0, 2s);
    const auto errors = group_of(e);
    CO_ASSERT_EQ(errors.size(), 3U);
    EXPECT_EQ(what_of(errors[0]), "first");
    EXPECT_EQ(what_of(errors[1]), "second");
    EXPECT_EQ(what_of(errors[2]), "third");
}

TEST(task_group, several_failures_are_collected_in_order) {
    corio::run(several_failures(), virtual_time());
}

task<> fail_now(std::string what) {
    throw std::runtime_error(what);
    co_return;
}

task<> fail_after_yield(std::string what) {
    co_await corio::sleep(0s);
    throw std::runtime_error(what);
}

task<> two_steps(log_t* log) {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(0s);
        log->push_back("step 1");
        co_await corio::sleep(0s);
        log->push_back("step 2");
        co_await corio::sleep(10s);
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (cancelled) {
        log->push_back("cancelled");
        std::rethrow_exception(cancelled);
    }
}

task<> failures_in_one_iteration() {
    // Python 3.11, asyncio.TaskGroup with two children raising at their first step: both
    // errors, ['1', '2']; the same when they raise after one sleep(0), and a third child
    // ready in that iteration runs its step before it is cancelled at its next one.
    std::exception_ptr e = co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(fail_now("1"));
        g.spawn(fail_now("2"));
        co_return;
    }));
    auto errors = group_of(e);
    CO_ASSERT_EQ(errors.size(), 2U);
    EXPECT_EQ(what_of(errors[0]), "1");
    EXPECT_EQ(what_of(errors[1]), "2");

    log_t log;
    e = co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(fail_after_yield("1"));
        g.spawn(two_steps(&log));
        g.spawn(fail_after_yield("2"));
        co_await corio::sleep(1s);
    }));
    errors = group_of(e);
    CO_ASSERT_EQ(errors.size(), 2U);
    EXPECT_EQ(what_of(errors[0]), "1");
    EXPECT_EQ(what_of(errors[1]), "2");
    // Python: ['step 1', 'cancelled'] (the cancel reaches the resume point it was woken for).
    // Where a cancel reaches a task woken but not yet resumed at its next park instead,
    // "step 2" comes between; either way the step it was ready for ran.
    CO_ASSERT_EQ(log.empty(), false);
    EXPECT_EQ(log.front(), "step 1");
    EXPECT_EQ(log.back(), "cancelled");
}

TEST(task_group, two_children_failing_in_the_same_iteration_are_both_reported) {
    corio::run(failures_in_one_iteration(), virtual_time());
}

task<> spawn_or_error(task_group g, corio::clock::duration d, std::string* error) {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(d);
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    try {
        g.spawn(corio::sleep(0s));
    } catch (const corio::invalid_state_error& x) {
        *error = x.what();
    }
    if (cancelled) {
        std::rethrow_exception(cancelled);
    }
}

task<> spawn_while_shutting_down() {
    // Python 3.11: create_task in a group aborting after a failure, or after its task was
    // cancelled, raises RuntimeError('TaskGroup <...> is shutting down').
    std::string error;
    std::exception_ptr e = co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(fail_after_delay(1s, "child"));
        g.spawn(spawn_or_error(g, 10s, &error));
        co_return;
    }));
    EXPECT_EQ(group_of(e).size(), 1U);
    EXPECT_NE(error.find("task_group.spawn: the group is shutting down"), std::string::npos)
        << error;

    // The body failed.
    error.clear();
    e = co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(spawn_or_error(g, 10s, &error));
        co_await corio::sleep(1s);
        throw std::logic_error("body");
    }));
    EXPECT_EQ(group_of(e).size(), 1U);
    EXPECT_NE(error.find("shutting down"), std::string::npos) << error;

    // Cancelled from outside.
    error.clear();
    auto h = corio::spawn(corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(spawn_or_error(g, 10s, &error));
        co_await corio::sleep(10s);
    }));
    co_await corio::sleep(1s);
    h.cancel();
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(std::move(h))));
    EXPECT_NE(error.find("shutting down"), std::string::npos) << error;

    // In the iteration the child failed, before the group has acted on it, a spawn is still
    // accepted (as asyncio's, whose done callback has not run yet) and the new child is
    // cancelled with the others.
    corio::join_handle<> late;
    e = co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(fail_now("child"));
        co_await corio::sleep(0s);
        late = g.spawn(corio::sleep(5s));
        co_await corio::sleep(10s);
    }));
    EXPECT_EQ(group_of(e).size(), 1U);
    EXPECT_TRUE(late.cancelled());
}

TEST(task_group, spawn_into_a_group_shutting_down_throws_invalid_state_error) {
    corio::run(spawn_while_shutting_down(), virtual_time());
}

task<> body_fails_after_cancel() {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(10s);
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    co_await corio::sleep(1s);
    throw std::logic_error("body");
}

task<> body_failure_first() {
    log_t log;
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
            g.spawn(fail_after_delay(1s, "child"));
            co_await body_fails_after_cancel(); // fails later than the child
        }));
    const auto errors = group_of(e);
    CO_ASSERT_EQ(errors.size(), 2U);
    EXPECT_TRUE(holds<std::logic_error>(errors[0]));
    EXPECT_EQ(what_of(errors[0]), "body");
    EXPECT_EQ(what_of(errors[1]), "child");
}

TEST(task_group, body_failure_comes_first_in_the_group) {
    corio::run(body_failure_first(), virtual_time());
}

task<> body_failure_cancels_children() {
    const auto t0 = now();
    log_t log;
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
            g.spawn(child("a", 10s, &log, 2s));
            co_await corio::sleep(1s);
            throw std::logic_error("body");
        }));
    const auto errors = group_of(e);
    CO_ASSERT_EQ(errors.size(), 1U);
    EXPECT_EQ(what_of(errors[0]), "body");
    EXPECT_EQ(log, (log_t{"a cancelled"}));
    EXPECT_EQ(now() - t0, 3s); // the child's cleanup was awaited
}

TEST(task_group, body_failure_cancels_the_children_and_waits_for_them) {
    corio::run(body_failure_cancels_children(), virtual_time());
}

task<> individually_cancelled_child() {
    log_t log;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        auto a = g.spawn(child("a", 10s, &log));
        g.spawn(child("b", 2s, &log));
        co_await corio::sleep(1s);
        a.cancel();
    });
    EXPECT_EQ(log, (log_t{"a cancelled", "b done"}));
}

TEST(task_group, child_cancelled_on_its_own_does_not_fail_the_group) {
    corio::run(individually_cancelled_child(), virtual_time());
}

task<> no_unretrieved_reports() {
    int reports = 0;
    corio::get_running_loop().set_exception_handler(
        [&](corio::event_loop&, const corio::exception_context&) { ++reports; });
    co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(fail_after_delay(1s, "x"));
        g.spawn(fail_after_delay(1s, "y"));
        co_return;
    }));
    co_await corio::sleep(1s);
    EXPECT_EQ(reports, 0);
    corio::get_running_loop().set_exception_handler({});
}

TEST(task_group, children_failures_are_retrieved_by_the_group) {
    corio::run(no_unretrieved_reports(), virtual_time());
}

// --- cancel() ------------------------------------------------------------------------------

task<> cancel_from_body_and_return() {
    const auto t0 = now();
    log_t log;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(child("a", 10s, &log, 1s));
        co_await corio::sleep(1s);
        g.cancel();
        co_return; // leaves without another suspension
    });
    EXPECT_EQ(now() - t0, 2s);
    EXPECT_EQ(log, (log_t{"a cancelled"}));
    co_await corio::sleep(1s); // the task is not cancelled
}

TEST(task_group, cancel_from_the_body_ends_the_group_normally) {
    corio::run(cancel_from_body_and_return(), virtual_time());
}

task<> cancel_from_body_then_await() {
    log_t log;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(child("a", 10s, &log));
        co_await corio::sleep(1s);
        g.cancel();
        co_await child("body", 10s, &log); // cancelled at its first suspension
        log.push_back("after body await");
    });
    EXPECT_EQ(log, (log_t{"body cancelled", "a cancelled"}));
}

TEST(task_group, cancel_from_the_body_cancels_the_body_too) {
    corio::run(cancel_from_body_then_await(), virtual_time());
}

task<> cancel_group_after(task_group g, corio::clock::duration d) {
    co_await corio::sleep(d);
    g.cancel();
}

task<> cancel_from_child() {
    const auto t0 = now();
    log_t log;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(child("a", 10s, &log));
        g.spawn(cancel_group_after(g, 2s));
        co_await child("body", 10s, &log);
    });
    EXPECT_EQ(now() - t0, 2s);
    EXPECT_EQ(log, (log_t{"body cancelled", "a cancelled"}));
    // While joining (the body has returned).
    const auto t1 = now();
    log.clear();
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(child("b", 10s, &log));
        g.spawn(cancel_group_after(g, 1s));
        co_return;
    });
    EXPECT_EQ(now() - t1, 1s);
    EXPECT_EQ(log, (log_t{"b cancelled"}));
}

TEST(task_group, cancel_from_a_child_ends_the_group_normally) {
    corio::run(cancel_from_child(), virtual_time());
}

task<> cancel_with_failing_cleanup() {
    log_t log;
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
            g.spawn(child("a", 10s, &log, 1s, "cleanup failed"));
            co_await corio::sleep(1s);
            g.cancel();
        }));
    const auto errors = group_of(e);
    CO_ASSERT_EQ(errors.size(), 1U);
    EXPECT_EQ(what_of(errors[0]), "cleanup failed");
}

TEST(task_group, cancel_still_reports_children_failures) {
    corio::run(cancel_with_failing_cleanup(), virtual_time());
}

task<> spawn_while_cancelling() {
    bool ran = false;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.cancel();
        auto h = g.spawn(mark(&ran));
        co_await corio::sleep(0s); // cancelled here; the group absorbs it
        (void)h;
    });
    EXPECT_FALSE(ran); // cancelled before its first step
}

TEST(task_group, child_spawned_after_cancel_is_cancelled_before_it_starts) {
    corio::run(spawn_while_cancelling(), virtual_time());
}

// --- cancelled from outside ------------------------------------------------------------------

task<> group_in_task(log_t* log, bool body_returns) {
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(child("a", 10s, log, 1s));
        g.spawn(child("b", 10s, log));
        if (!body_returns) {
            co_await child("body", 10s, log);
        }
    });
    log->push_back("after group");
}

task<> cancelled_from_outside(bool body_returns) {
    const auto t0 = now();
    log_t log;
    auto h = corio::spawn(group_in_task(&log, body_returns));
    co_await corio::sleep(1s);
    h.cancel();
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_TRUE(h.cancelled());
    EXPECT_EQ(now() - t0, 2s); // a's cleanup was awaited
    if (body_returns) {
        EXPECT_EQ(log, (log_t{"a cancelled", "b cancelled"}));
    } else {
        EXPECT_EQ(log, (log_t{"body cancelled", "a cancelled", "b cancelled"}));
    }
}

TEST(task_group, cancelled_from_outside_in_the_body_cancels_children_and_propagates) {
    corio::run(cancelled_from_outside(false), virtual_time());
}

TEST(task_group, cancelled_from_outside_while_joining_cancels_children_and_propagates) {
    corio::run(cancelled_from_outside(true), virtual_time());
}

task<> swallowing_child(log_t* log) {
    try {
        co_await corio::sleep(10s);
    } catch (const cancelled_error&) {
        log->push_back("swallowed");
    }
}

task<> group_with_swallowing_child(log_t* log) {
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(swallowing_child(log));
        co_return;
    });
    log->push_back("after group");
}

task<> outside_cancel_not_lost_to_a_swallowing_child() {
    log_t log;
    auto h = corio::spawn(group_with_swallowing_child(&log));
    co_await corio::sleep(1s);
    h.cancel();
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_EQ(log, (log_t{"swallowed"}));
}

TEST(task_group, outside_cancel_propagates_even_if_children_swallow_it) {
    corio::run(outside_cancel_not_lost_to_a_swallowing_child(), virtual_time());
}

// --- composition with timeouts -------------------------------------------------------------

task<> timeout_in_body() {
    const auto t0 = now();
    log_t log;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(child("a", 3s, &log));
        try {
            co_await corio::fail_after(1s, child("body", 10s, &log));
        } catch (const timeout_error&) {
            log.push_back("body timeout");
        }
        EXPECT_EQ(co_await corio::move_on_after(1s, corio::sleep(10s)), false);
        log.push_back("body continued");
    });
    EXPECT_EQ(now() - t0, 3s);
    EXPECT_EQ(log, (log_t{"body cancelled", "body timeout", "body continued", "a done"}));
}

TEST(task_group_composition, timeout_inside_the_body_does_not_touch_the_group) {
    corio::run(timeout_in_body(), virtual_time());
}

task<> child_with_own_timeout(log_t* log) {
    try {
        co_await corio::fail_after(1s, corio::sleep(10s));
    } catch (const timeout_error&) {
        log->push_back("child timeout caught");
    }
    co_await corio::sleep(1s);
    log->push_back("child continued");
}

task<> timeout_in_children() {
    const auto t0 = now();
    log_t log;
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(child_with_own_timeout(&log));
        co_return;
    });
    EXPECT_EQ(log, (log_t{"child timeout caught", "child continued"}));
    EXPECT_EQ(now() - t0, 2s);
    log.clear();
    // A child whose timeout_error escapes fails the group like any error.
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
            g.spawn(corio::fail_after(1s, corio::sleep(10s)));
            g.spawn(child("sibling", 10s, &log));
            co_return;
        }));
    const auto errors = group_of(e);
    CO_ASSERT_EQ(errors.size(), 1U);
    EXPECT_TRUE(holds<timeout_error>(errors[0]));
    EXPECT_EQ(log, (log_t{"sibling cancelled"}));
}

TEST(task_group_composition, timeout_inside_a_child) {
    corio::run(timeout_in_children(), virtual_time());
}

task<> group_body(log_t* log, bool body_waits) {
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(child("a", 10s, log, 1s));
        g.spawn(child("b", 10s, log));
        if (body_waits) {
            co_await child("body", 10s, log);
        }
    });
}

task<> group_inside_timeout() {
    for (const bool body_waits : {true, false}) {
        const auto t0 = now();
        log_t log;
        EXPECT_TRUE(holds<timeout_error>(
            co_await error_of(corio::fail_after(2s, group_body(&log, body_waits)))));
        EXPECT_EQ(now() - t0, 3s); // the children's cleanup finished first
        EXPECT_EQ(log.size(), body_waits ? 3U : 2U);
        const auto t1 = now();
        EXPECT_EQ(co_await corio::move_on_after(2s, group_body(&log, body_waits)), false);
        EXPECT_EQ(now() - t1, 3s);
    }
    co_await corio::sleep(1s); // nothing left pending
}

TEST(task_group_composition, group_inside_a_timeout_times_out_after_its_children_end) {
    corio::run(group_inside_timeout(), virtual_time());
}

task<> worker_with_slow_cleanup() {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(1h);
    } catch (const cancelled_error&) {
        cancelled = std::current_exception();
    }
    co_await corio::sleep(1s);
    std::rethrow_exception(cancelled);
}

task<> group_cancel_then_timeout() {
    const auto t0 = now();
    // python/cpython#155433: after g.cancel(), a cancellation from an enclosing timeout must
    // still come out of the group (and become timeout_error), not be swallowed by it.
    const std::exception_ptr e = co_await error_of(
        corio::fail_after(500ms, corio::with_task_group([&](task_group& g) -> task<> {
                              g.spawn(worker_with_slow_cleanup());
                              co_await corio::sleep(100ms);
                              g.cancel();
                          })));
    EXPECT_TRUE(holds<timeout_error>(e));
    // The group cancels each child once: the timeout does not interrupt the worker's cleanup.
    EXPECT_EQ(now() - t0, 1100ms);
}

TEST(task_group_composition, cancelled_group_does_not_swallow_an_enclosing_timeout) {
    corio::run(group_cancel_then_timeout(), virtual_time());
}

task<> child_fails_as_timeout_expires() {
    const auto t0 = now();
    log_t log;
    // The child is woken to fail in the same iteration as the enclosing deadline passes,
    // before it runs: as in asyncio, the deadline cancels it where it was woken, so it never
    // fails, and the timeout comes out (Python 3.11 gives TimeoutError here too). The
    // timeout's cancellation ends with its scope.
    const std::exception_ptr e = co_await error_of(
        corio::fail_after(1s, corio::with_task_group([&](task_group& g) -> task<> {
                              g.spawn(fail_after_delay(1s, "child"));
                              co_await child("body", 10s, &log);
                          })));
    EXPECT_TRUE(holds<timeout_error>(e));
    EXPECT_EQ(log, (log_t{"body cancelled"}));
    co_await corio::sleep(1s); // not cancelled
    EXPECT_EQ(now() - t0, 2s);
}

TEST(task_group_composition, child_failure_and_enclosing_deadline_at_once) {
    corio::run(child_fails_as_timeout_expires(), virtual_time());
}

// --- the group's task cancelled while a child fails ------------------------------------------

task<int> group_then_more(log_t* log) {
    std::exception_ptr group_error;
    try {
        co_await corio::with_task_group([&](task_group& g) -> task<> {
            g.spawn(fail_after_delay(1s, "child"));
            co_await child("body", 10s, log);
        });
    } catch (const exception_group&) {
        group_error = std::current_exception();
    }
    if (group_error) {
        log->push_back("group error: " + what_of(group_of(group_error).at(0)));
    }
    co_await corio::sleep(5s); // the outside cancellation must not have been lost
    log->push_back("continued");
    co_return 0;
}

void cancel_handle(void* h) {
    static_cast<corio::join_handle<int>*>(h)->cancel();
}

task<> child_fails_while_outer_cancelled(bool cancel_first) {
    const auto t0 = now();
    log_t log;
    corio::join_handle<int> h;
    auto& loop = corio::get_running_loop();
    if (cancel_first) {
        loop.add_timer(t0 + 1s, &cancel_handle, &h);
        h = corio::spawn(group_then_more(&log));
    } else {
        h = corio::spawn(group_then_more(&log));
        co_await corio::sleep(0s); // the child's 1 s timer is armed before ours
        loop.add_timer(t0 + 1s, &cancel_handle, &h);
    }
    EXPECT_TRUE(holds<cancelled_error>(co_await error_of(h)));
    EXPECT_TRUE(h.cancelled());
    EXPECT_EQ(now() - t0, 1s);
    // The child was woken to fail in the iteration the outside cancel came, before it ran:
    // the cancel reaches it where it was woken, so it never fails, and the cancellation
    // comes out of the group (asyncio gives the same log).
    EXPECT_EQ(log, (log_t{"body cancelled"}));
}

TEST(task_group_composition, child_fails_just_after_the_outer_cancel) {
    corio::run(child_fails_while_outer_cancelled(true), virtual_time());
}

TEST(task_group_composition, child_fails_just_before_the_outer_cancel) {
    corio::run(child_fails_while_outer_cancelled(false), virtual_time());
}

// --- nested groups --------------------------------------------------------------------------

task<> inner_group(std::string what, corio::clock::duration d) {
    co_await corio::with_task_group([&](task_group& g) -> task<> {
        g.spawn(fail_after_delay(d, what));
        co_await corio::sleep(10s);
    });
}

task<> nested_in_body() {
    log_t log;
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
            g.spawn(child("outer child", 10s, &log));
            co_await inner_group("inner", 1s);
        }));
    const auto outer = group_of(e);
    CO_ASSERT_EQ(outer.size(), 1U);
    const auto inner = group_of(outer[0]);
    CO_ASSERT_EQ(inner.size(), 1U);
    EXPECT_EQ(what_of(inner[0]), "inner");
    EXPECT_EQ(log, (log_t{"outer child cancelled"}));
}

TEST(task_group_composition, inner_group_failure_in_the_body_is_nested_in_the_outer_group) {
    corio::run(nested_in_body(), virtual_time());
}

task<> nested_in_child() {
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
            g.spawn(inner_group("inner", 1s));
            co_await corio::sleep(10s);
        }));
    const auto outer = group_of(e);
    CO_ASSERT_EQ(outer.size(), 1U);
    const auto inner = group_of(outer[0]);
    CO_ASSERT_EQ(inner.size(), 1U);
    EXPECT_EQ(what_of(inner[0]), "inner");
}

TEST(task_group_composition, inner_group_failure_in_a_child_is_nested_in_the_outer_group) {
    corio::run(nested_in_child(), virtual_time());
}

task<> both_levels_fail_at_once() {
    const auto t0 = now();
    // python/cpython#116720: the inner and the outer group both have a child failing in the
    // same iteration; neither cancellation is swallowed, nothing hangs.
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
            g.spawn(fail_after_delay(1s, "outer"));
            co_await inner_group("inner", 1s);
            ADD_FAILURE() << "the outer body went on after its group failed";
        }));
    EXPECT_EQ(now() - t0, 1s);
    const auto outer = group_of(e);
    CO_ASSERT_EQ(outer.size(), 2U);
    const auto inner = group_of(outer[0]); // the body's failure comes first
    CO_ASSERT_EQ(inner.size(), 1U);
    EXPECT_EQ(what_of(inner[0]), "inner");
    EXPECT_EQ(what_of(outer[1]), "outer");
}

TEST(task_group_composition, nested_groups_failing_in_the_same_iteration) {
    corio::run(both_levels_fail_at_once(), virtual_time());
}

task<> outer_cancels_inner_group() {
    log_t log;
    // The outer group's failure cancels its body, which is inside an inner group: the inner
    // group cancels its children and lets the cancellation through, and the outer group
    // absorbs it.
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& outer) -> task<> {
            outer.spawn(fail_after_delay(1s, "outer"));
            co_await corio::with_task_group([&](task_group& inner) -> task<> {
                inner.spawn(child("inner child", 10s, &log));
                co_await child("inner body", 10s, &log);
            });
            log.push_back("after inner group");
        }));
    const auto errors = group_of(e);
    CO_ASSERT_EQ(errors.size(), 1U);
    EXPECT_EQ(what_of(errors[0]), "outer");
    EXPECT_EQ(log, (log_t{"inner body cancelled", "inner child cancelled"}));
}

TEST(task_group_composition, outer_group_failure_cancels_through_an_inner_group) {
    corio::run(outer_cancels_inner_group(), virtual_time());
}

task<> body_swallows_group_cancel(log_t* log) {
    try {
        co_await corio::sleep(10s);
    } catch (const cancelled_error&) {
        log->push_back("body swallowed");
    }
}

task<> swallowed_group_cancellation() {
    const auto t0 = now();
    log_t log;
    // python/cpython#95289: the body swallows the cancellation the group sent it; the group
    // still reports the child's failure and leaves the task in a clean state.
    const std::exception_ptr e =
        co_await error_of(corio::with_task_group([&](task_group& g) -> task<> {
            g.spawn(fail_after_delay(1s, "child"));
            co_await body_swallows_group_cancel(&log);
        }));
    EXPECT_EQ(group_of(e).size(), 1U);
    EXPECT_EQ(log, (log_t{"body swallowed"}));
    EXPECT_TRUE(holds<timeout_error>(co_await error_of(corio::fail_after(1s, corio::sleep(1h)))));
    EXPECT_EQ(now() - t0, 2s);
}

TEST(task_group_composition, body_swallowing_the_group_cancel_leaves_the_task_clean) {
    corio::run(swallowed_group_cancellation(), virtual_time());
}

} // namespace
