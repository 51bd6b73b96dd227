#include "corio/task.hpp"

#include "corio/detail/awaitable_traits.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/sync_wait.hpp"

#include "support/awaitables.hpp"
#include "support/counted.hpp"

#include <gtest/gtest.h>

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using corio::task;
using corio_test::counted;

// --- Compile-time contract ----------------------------------------------------------------

static_assert(!std::is_copy_constructible_v<task<int>>);
static_assert(!std::is_copy_assignable_v<task<int>>);
static_assert(std::is_nothrow_move_constructible_v<task<int>>);
static_assert(std::is_nothrow_move_assignable_v<task<int>>);
static_assert(std::is_nothrow_default_constructible_v<task<int>>);
static_assert(std::is_same_v<task<>, task<void>>);

static_assert(corio::awaitable<task<int>>);
static_assert(corio::awaitable<task<int>&>);
static_assert(corio::awaitable<const task<int>&>);
static_assert(corio::awaitable<task<void>>);
static_assert(corio::awaitable<task<int&>>);
static_assert(std::is_same_v<corio::await_result_t<task<int>>, int>);
static_assert(std::is_same_v<corio::await_result_t<task<int>&>, int>);
static_assert(std::is_same_v<corio::await_result_t<task<void>>, void>);
static_assert(std::is_same_v<corio::await_result_t<task<int&>>, int&>);
static_assert(std::is_same_v<corio::await_result_t<task<const int&>>, const int&>);
static_assert(std::is_same_v<corio::await_result_t<task<std::string>>, std::string>);
static_assert(
    std::is_same_v<corio::await_result_t<task<std::unique_ptr<int>>>, std::unique_ptr<int>>);

static_assert(corio::awaitable<std::suspend_always>);
static_assert(corio::awaitable<std::suspend_never&>);
static_assert(std::is_same_v<corio::await_result_t<std::suspend_never>, void>);
static_assert(corio::awaitable<corio_test::ready_value>);
static_assert(corio::awaitable<corio_test::void_suspend>);
static_assert(corio::awaitable<corio_test::bool_suspend>);
static_assert(corio::awaitable<corio_test::handle_suspend>);
static_assert(corio::awaitable<corio_test::member_co_await>);
static_assert(corio::awaitable<corio_test::free_co_await>);
static_assert(corio::awaitable<corio_test::thread_hopper::awaiter>);
static_assert(std::is_same_v<corio::await_result_t<corio_test::bool_suspend>, int>);
static_assert(std::is_same_v<corio::await_result_t<corio_test::member_co_await>, int>);
static_assert(std::is_same_v<corio::await_result_t<corio_test::free_co_await&>, int>);
static_assert(
    std::is_same_v<corio::await_result_t<corio_test::thread_hopper::awaiter>, std::thread::id>);

static_assert(!corio::awaitable<int>);
static_assert(!corio::awaitable<std::string>);
static_assert(!corio::awaitable<void*>);

// --- Helpers ------------------------------------------------------------------------------

struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

task<int> value_of(int v) {
    co_return v;
}

task<int> throw_error(const char* message) {
    throw test_error(message);
    co_return 0; // makes this a coroutine
}

task<void> set_flag(bool& flag) {
    flag = true;
    co_return;
}

task<int> count_down(int n) {
    if (n == 0) {
        co_return 0;
    }
    co_return co_await count_down(n - 1) + 1;
}

task<int> fail_at_bottom(int n) {
    if (n == 0) {
        throw test_error("bottom");
    }
    co_return co_await fail_at_bottom(n - 1) + 1;
}

// Awaits `t` and records how it ended, for tests that drive coroutines by hand.
template <class T>
task<void> capture(task<T> t, std::optional<T>& value, std::exception_ptr& error) {
    try {
        value.emplace(co_await t);
    } catch (...) {
        error = std::current_exception();
    }
}

// --- Laziness and results -----------------------------------------------------------------

TEST(task, body_does_not_run_until_awaited) {
    bool ran = false;
    task<void> t = set_flag(ran);
    EXPECT_FALSE(ran);
    EXPECT_TRUE(t.valid());
    EXPECT_FALSE(t.done());
    corio::sync_wait(t);
    EXPECT_TRUE(ran);
    EXPECT_TRUE(t.done());
}

task<int> await_value() {
    const int v = co_await value_of(42);
    co_return v;
}

TEST(task, co_await_gives_the_returned_value) {
    EXPECT_EQ(corio::sync_wait(await_value()), 42);
}

task<std::string> await_error() {
    try {
        co_await throw_error("from the body");
    } catch (const test_error& e) {
        co_return std::string("caught: ") + e.what();
    }
    co_return "not thrown";
}

TEST(task, co_await_rethrows_the_exception_that_ended_the_body) {
    EXPECT_EQ(corio::sync_wait(await_error()), "caught: from the body");
}

task<void> await_void(bool& flag) {
    co_await set_flag(flag);
}

TEST(task, void_task_runs_its_body_when_awaited) {
    bool ran = false;
    corio::sync_wait(await_void(ran));
    EXPECT_TRUE(ran);
}

task<int&> select(int& a, int& b, bool first) {
    if (first) {
        co_return a;
    }
    co_return b;
}

task<bool> await_reference(int& a, int& b) {
    int& ref = co_await select(a, b, false);
    ref = 7;
    co_return &ref == &b;
}

TEST(task, reference_task_gives_a_reference_to_the_same_object) {
    int a = 1;
    int b = 2;
    EXPECT_TRUE(corio::sync_wait(await_reference(a, b)));
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 7);
}

task<std::unique_ptr<int>> make_unique_int(int v) {
    auto p = std::make_unique<int>(v);
    co_return p; // implicitly moved
}

task<int> await_move_only() {
    std::unique_ptr<int> p = co_await make_unique_int(5);
    co_return p ? *p : -1;
}

TEST(task, move_only_result_is_moved_out) {
    EXPECT_EQ(corio::sync_wait(await_move_only()), 5);
}

task<std::string> make_string() {
    co_return {"xyz", 2}; // a braced initialiser constructs the std::string in place
}

task<std::string> await_string() {
    std::string s = co_await make_string();
    co_return s + "!";
}

TEST(task, string_result) {
    EXPECT_EQ(corio::sync_wait(await_string()), "xy!");
}

task<int> await_named_task() {
    task<int> t = value_of(11);
    const int v = co_await t;
    EXPECT_TRUE(t.done());
    co_return v;
}

TEST(task, awaiting_a_named_task_gives_its_value) {
    EXPECT_EQ(corio::sync_wait(await_named_task()), 11);
}

task<int> await_temporary_task() {
    co_return co_await value_of(12);
}

TEST(task, awaiting_a_temporary_task_gives_its_value) {
    EXPECT_EQ(corio::sync_wait(await_temporary_task()), 12);
}

task<int> await_moved_task() {
    task<int> t = value_of(13);
    co_return co_await std::move(t);
}

TEST(task, awaiting_an_rvalue_named_task_gives_its_value) {
    EXPECT_EQ(corio::sync_wait(await_moved_task()), 13);
}

// --- Misuse -------------------------------------------------------------------------------

task<std::string> await_twice() {
    task<int> t = value_of(1);
    co_await t;
    try {
        co_await t;
    } catch (const corio::invalid_state_error& e) {
        co_return e.what();
    }
    co_return "no error";
}

TEST(task, awaiting_twice_throws_invalid_state_error) {
    const std::string what = corio::sync_wait(await_twice());
    EXPECT_NE(what.find("task awaited twice"), std::string::npos) << what;
}

task<std::string> await_failed_task_twice() {
    task<int> t = throw_error("first");
    try {
        co_await t;
    } catch (const test_error&) {
    }
    try {
        co_await t;
    } catch (const corio::invalid_state_error& e) {
        co_return e.what();
    }
    co_return "no error";
}

TEST(task, awaiting_a_failed_task_twice_throws_invalid_state_error) {
    const std::string what = corio::sync_wait(await_failed_task_twice());
    EXPECT_NE(what.find("task awaited twice"), std::string::npos) << what;
}

TEST(task, awaiting_a_default_constructed_task_throws_invalid_state_error) {
    task<int> empty;
    EXPECT_FALSE(empty.valid());
    EXPECT_FALSE(empty.done());
    EXPECT_THROW(corio::sync_wait(empty), corio::invalid_state_error);
}

task<bool> await_moved_from(task<int>& moved_from) {
    try {
        co_await moved_from;
    } catch (const corio::invalid_state_error&) {
        co_return true;
    }
    co_return false;
}

TEST(task, awaiting_a_moved_from_task_throws_invalid_state_error) {
    task<int> a = value_of(1);
    task<int> b = std::move(a);
    EXPECT_FALSE(a.valid()); // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(corio::sync_wait(await_moved_from(a)));
    EXPECT_EQ(corio::sync_wait(b), 1);
}

// --- Ownership ----------------------------------------------------------------------------

task<int> hold(counted c) {
    co_return c.value;
}

TEST(task, move_construction_transfers_the_coroutine) {
    counted::reset();
    task<int> a = hold(counted(3));
    task<int> b = std::move(a);
    EXPECT_FALSE(a.valid()); // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(b.valid());
    EXPECT_EQ(corio::sync_wait(b), 3);
    EXPECT_EQ(counted::alive(), 1); // the parameter, until b is destroyed
}

TEST(task, move_assignment_destroys_the_old_frame) {
    counted::reset();
    task<int> t = hold(counted(1));
    EXPECT_EQ(counted::alive(), 1);
    t = value_of(2);
    EXPECT_EQ(counted::alive(), 0);
    EXPECT_EQ(corio::sync_wait(t), 2);
}

TEST(task, move_assignment_to_itself_keeps_the_frame) {
    counted::reset();
    task<int> t = hold(counted(4));
    task<int>& alias = t;
    t = std::move(alias);
    EXPECT_TRUE(t.valid());
    EXPECT_EQ(counted::alive(), 1);
    EXPECT_EQ(corio::sync_wait(t), 4);
}

TEST(task, destroying_an_unawaited_task_destroys_its_parameters_once) {
    counted::reset();
    {
        task<int> t = hold(counted(1));
        EXPECT_EQ(counted::alive(), 1);
    }
    EXPECT_EQ(counted::alive(), 0);
    EXPECT_EQ(counted::copy_constructions, 0);
}

task<void> construct_local(bool& ran) {
    ran = true;
    counted local(1);
    co_return;
}

TEST(task, destroying_an_unawaited_task_never_runs_its_body) {
    counted::reset();
    bool ran = false;
    { task<void> t = construct_local(ran); }
    EXPECT_FALSE(ran);
    EXPECT_EQ(counted::constructions(), 0);
}

// --- Lifetimes ----------------------------------------------------------------------------

task<counted> make_counted(int v) {
    counted local(v);
    co_return local;
}

task<int> await_counted() {
    counted c = co_await make_counted(9);
    co_return c.value;
}

TEST(task, result_and_locals_are_destroyed_exactly_once) {
    counted::reset();
    EXPECT_EQ(corio::sync_wait(await_counted()), 9);
    EXPECT_EQ(counted::copy_constructions, 0);
    EXPECT_EQ(counted::value_constructions, 1);
    EXPECT_EQ(counted::destructions, counted::constructions());
}

task<counted> fail_with_local(int v) {
    counted local(v);
    throw test_error("after the local");
    co_return local;
}

task<int> await_failing_counted() {
    try {
        counted c = co_await fail_with_local(1);
        co_return c.value;
    } catch (const test_error&) {
        co_return -1;
    }
}

TEST(task, locals_are_destroyed_once_when_an_exception_propagates) {
    counted::reset();
    EXPECT_EQ(corio::sync_wait(await_failing_counted()), -1);
    EXPECT_EQ(counted::value_constructions, 1);
    EXPECT_EQ(counted::alive(), 0);
}

task<int> park_with_local(corio_test::manual_executor& executor, counted c) {
    counted local(2);
    co_await corio_test::void_suspend{executor, 0};
    co_return c.value + local.value;
}

TEST(task, destroying_a_suspended_task_destroys_its_locals_once) {
    counted::reset();
    corio_test::manual_executor executor;
    {
        task<int> t = park_with_local(executor, counted(1));
        t.handle().resume();
        EXPECT_EQ(executor.parked(), 1U);
        EXPECT_EQ(counted::alive(), 2);
    }
    EXPECT_EQ(counted::alive(), 0);
}

TEST(task, unawaited_result_is_destroyed_with_the_task) {
    counted::reset();
    {
        task<counted> t = make_counted(3);
        t.handle().resume(); // run it to completion without awaiting it
        EXPECT_TRUE(t.done());
        EXPECT_EQ(counted::alive(), 1); // the result, held by the promise
    }
    EXPECT_EQ(counted::alive(), 0);
}

// --- Debug report -------------------------------------------------------------------------

task<int> first_char(const char* text) {
    co_return text[0];
}

task<std::vector<std::string>> drop_a_task_taking_a_string(const char* text) {
    std::vector<std::string> reports;
    corio::get_running_loop().set_exception_handler(
        [&reports](corio::event_loop&, const corio::exception_context& context) {
            reports.push_back(context.message);
        });
    { [[maybe_unused]] task<int> t = first_char(text); }
    co_return reports;
}

// Regression: the promise constructor took (const char* function, const char* file,
// unsigned line), and the compiler constructs the promise from the coroutine's arguments
// when it can, so the `const char*` argument was recorded as the function name (and read,
// possibly freed, when the report was printed).
TEST(task, never_awaited_report_names_the_coroutine_not_its_argument) {
    corio::run_options options;
    options.debug = true;
    const std::vector<std::string> reports =
        corio::run(drop_a_task_taking_a_string("an argument"), options);
    ASSERT_EQ(reports.size(), 1U);
    EXPECT_NE(reports[0].find("first_char"), std::string::npos) << reports[0];
    EXPECT_EQ(reports[0].find("an argument"), std::string::npos) << reports[0];
}

// --- Depth --------------------------------------------------------------------------------

TEST(task, million_nested_synchronous_awaits_do_not_overflow_the_stack) {
    EXPECT_EQ(corio::sync_wait(count_down(1'000'000)), 1'000'000);
}

// Regression: g++ took symmetric transfer whenever __OPTIMIZE__ was defined, but it only
// emits the tail call where sibling-call optimisation is on (-O2, -O3, -Os): at -O1 and
// -Og the million-deep chain above overflowed the stack. CI builds -O0 and -O2 only, so
// the choice itself is checked here.
TEST(task, gcc_transfers_through_the_trampoline_at_every_optimisation_level) {
#if defined(__GNUC__) && !defined(__clang__)
    static_assert(!CORIO_SYMMETRIC_TRANSFER);
#endif
    SUCCEED();
}

task<std::string> catch_deep_failure(int depth) {
    try {
        co_await fail_at_bottom(depth);
    } catch (const test_error& e) {
        co_return e.what();
    }
    co_return "not thrown";
}

TEST(task, exception_propagates_through_100000_nested_awaits) {
    EXPECT_EQ(corio::sync_wait(catch_deep_failure(100'000)), "bottom");
}

task<long long> sum_in_sequence(int n) {
    long long sum = 0;
    for (int i = 0; i < n; ++i) {
        sum += co_await value_of(i);
    }
    co_return sum;
}

TEST(task, million_tasks_awaited_one_after_another) {
    EXPECT_EQ(corio::sync_wait(sum_in_sequence(1'000'000)), 999'999LL * 1'000'000 / 2);
}

// --- Any awaitable inside a task ----------------------------------------------------------

task<int> await_ready_value() {
    co_return co_await corio_test::ready_value{21};
}

TEST(task, awaits_an_awaitable_that_is_ready) {
    EXPECT_EQ(corio::sync_wait(await_ready_value()), 21);
}

task<int> await_std_awaitables() {
    co_await std::suspend_never{};
    co_return 1;
}

TEST(task, awaits_std_suspend_never) {
    EXPECT_EQ(corio::sync_wait(await_std_awaitables()), 1);
}

task<int> await_bool_no_suspend() {
    co_return co_await corio_test::bool_suspend{nullptr, 22};
}

TEST(task, awaits_a_bool_await_suspend_that_declines_to_suspend) {
    EXPECT_EQ(corio::sync_wait(await_bool_no_suspend()), 22);
}

task<int> await_handle_to_self() {
    co_return co_await corio_test::handle_suspend{nullptr, 23};
}

TEST(task, awaits_a_handle_await_suspend_that_returns_the_awaiting_coroutine) {
    EXPECT_EQ(corio::sync_wait(await_handle_to_self()), 23);
}

task<int> await_member_co_await() {
    co_return co_await corio_test::member_co_await{24};
}

TEST(task, awaits_through_a_member_operator_co_await) {
    EXPECT_EQ(corio::sync_wait(await_member_co_await()), 24);
}

task<int> await_free_co_await() {
    const corio_test::free_co_await named{25};
    co_return co_await named;
}

TEST(task, awaits_through_a_free_operator_co_await) {
    EXPECT_EQ(corio::sync_wait(await_free_co_await()), 25);
}

task<int> park_three_ways(corio_test::manual_executor& executor) {
    int sum = co_await corio_test::void_suspend{executor, 1};
    sum += co_await corio_test::bool_suspend{&executor, 10};
    sum += co_await corio_test::handle_suspend{&executor, 100};
    co_return sum;
}

TEST(task, resumes_after_void_bool_and_handle_await_suspend_that_suspend) {
    corio_test::manual_executor executor;
    std::optional<int> value;
    std::exception_ptr error;
    task<void> outer = capture(park_three_ways(executor), value, error);
    outer.handle().resume(); // start it as a scheduler would
    for (int step = 0; step < 3; ++step) {
        EXPECT_FALSE(outer.done());
        EXPECT_EQ(executor.parked(), 1U);
        executor.run_one();
    }
    EXPECT_TRUE(outer.done());
    EXPECT_EQ(value, 111);
    EXPECT_FALSE(error);
}

task<std::string> await_throwing_resume() {
    try {
        co_await corio_test::throwing_resume{};
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "not thrown";
}

TEST(task, exception_from_await_resume_is_thrown_at_the_co_await) {
    EXPECT_EQ(corio::sync_wait(await_throwing_resume()), "await_resume failed");
}

task<std::string> await_throwing_suspend() {
    try {
        co_await corio_test::throwing_suspend{};
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "not thrown";
}

TEST(task, exception_from_await_suspend_is_thrown_at_the_co_await) {
    EXPECT_EQ(corio::sync_wait(await_throwing_suspend()), "await_suspend failed");
}

task<int> park_then_count(corio_test::manual_executor& executor, int depth) {
    co_await corio_test::void_suspend{executor, 0};
    co_return co_await count_down(depth);
}

TEST(task, deep_chain_after_a_plain_resume_from_outside_does_not_overflow_the_stack) {
    corio_test::manual_executor executor;
    std::optional<int> value;
    std::exception_ptr error;
    task<void> outer = capture(park_then_count(executor, 1'000'000), value, error);
    outer.handle().resume();
    executor.run_all(); // resume() from plain code, not from inside corio
    EXPECT_TRUE(outer.done());
    EXPECT_EQ(value, 1'000'000);
}

// Regression: with the trampoline, a coroutine resumed by a plain resume() from inside a
// running task (an event set inline) recorded its next step in the trampoline's single
// slot, and the running task's own next transfer overwrote it: the resumed coroutine was
// never continued.
task<void> wait_then_await_a_task(corio_test::inline_event& event, int& out) {
    co_await event;
    out = co_await value_of(42);
}

task<int> set_event_then_await(corio_test::inline_event& event) {
    event.set();
    co_return co_await value_of(1);
}

TEST(task, coroutine_resumed_inline_from_a_task_is_not_lost) {
    corio_test::inline_event event;
    int out = 0;
    task<void> waiter = wait_then_await_a_task(event, out);
    waiter.handle().resume(); // parks on the event
    EXPECT_EQ(corio::sync_wait(set_event_then_await(event)), 1);
    EXPECT_EQ(out, 42);
    EXPECT_TRUE(waiter.done());
}

task<void> set_event(corio_test::inline_event& event) {
    event.set();
    co_return;
}

TEST(task, coroutine_resumed_inline_from_a_finishing_task_is_not_lost) {
    corio_test::inline_event event;
    int out = 0;
    task<void> waiter = wait_then_await_a_task(event, out);
    waiter.handle().resume();
    corio::sync_wait(set_event(event));
    EXPECT_EQ(out, 42);
    EXPECT_TRUE(waiter.done());
}

// The waiter's task is owned by `parent`'s frame, so when the waiter finishes, `parent`
// resumes and destroys it, all inside the plain resume() that woke the waiter.
task<void> own_the_waiter(corio_test::inline_event& event, int& out) {
    co_await wait_then_await_a_task(event, out);
    out += 1;
}

TEST(task, task_destroyed_by_its_awaiter_during_a_plain_resume) {
    corio_test::inline_event event;
    int out = 0;
    task<void> parent = own_the_waiter(event, out);
    parent.handle().resume();
    event.set(); // from plain code: the whole chain, and the waiter's destruction, run here
    EXPECT_EQ(out, 43);
    EXPECT_TRUE(parent.done());
}

// --- Threads ------------------------------------------------------------------------------

task<int> hop_then_await_tasks(corio_test::thread_hopper& hopper, std::thread::id& resumed_on) {
    resumed_on = co_await hopper.hop();
    int sum = 0;
    for (int i = 0; i < 1000; ++i) {
        sum += co_await value_of(1);
    }
    co_return sum + co_await count_down(1000);
}

TEST(task, continues_on_the_thread_that_resumed_it) {
    corio_test::thread_hopper hopper;
    std::thread::id resumed_on;
    EXPECT_EQ(corio::sync_wait(hop_then_await_tasks(hopper, resumed_on)), 2000);
    EXPECT_NE(resumed_on, std::this_thread::get_id());
}

task<int> hop_many_times(corio_test::thread_hopper& hopper, int hops) {
    int distinct = 0;
    std::thread::id last = std::this_thread::get_id();
    for (int i = 0; i < hops; ++i) {
        const std::thread::id now = co_await hopper.hop();
        distinct += now != last ? 1 : 0;
        last = now;
        distinct += co_await value_of(0);
    }
    co_return distinct;
}

TEST(task, hops_across_many_threads) {
    corio_test::thread_hopper hopper;
    EXPECT_EQ(corio::sync_wait(hop_many_times(hopper, 100)), 100);
}

task<int> fail_after_hop(corio_test::thread_hopper& hopper) {
    co_await hopper.hop();
    co_return co_await throw_error("after the hop");
}

TEST(task, exception_after_a_thread_hop_reaches_the_awaiter) {
    corio_test::thread_hopper hopper;
    std::string what;
    try {
        corio::sync_wait(fail_after_hop(hopper));
    } catch (const test_error& e) {
        what = e.what();
    }
    EXPECT_EQ(what, "after the hop");
}

// --- Awaitable concept --------------------------------------------------------------------

struct no_await_suspend {
    bool await_ready() const noexcept { return true; }
    int await_resume() const noexcept { return 0; }
};

struct bad_await_suspend_result {
    bool await_ready() const noexcept { return true; }
    int await_suspend(std::coroutine_handle<>) const noexcept { return 0; }
    int await_resume() const noexcept { return 0; }
};

struct co_await_gives_a_non_awaiter {
    int operator co_await() const noexcept { return 0; }
};

// Regression: the concept checked await_ready and await_resume only, so these types were
// "awaitable" and failed deep inside co_await instead of at the constraint.
TEST(awaitable, rejects_types_that_do_not_follow_the_protocol) {
    static_assert(!corio::awaitable<no_await_suspend>);
    static_assert(!corio::awaitable<bad_await_suspend_result>);
    static_assert(!corio::awaitable<co_await_gives_a_non_awaiter>);
    SUCCEED();
}

struct templated_awaiter {
    bool await_ready() const noexcept { return true; }
    template <class P>
    void await_suspend(std::coroutine_handle<P>) const noexcept {}
    int await_resume() const noexcept { return 0; }
};

TEST(awaitable, accepts_a_templated_await_suspend) {
    static_assert(corio::awaitable<templated_awaiter>);
    static_assert(std::is_same_v<corio::await_result_t<templated_awaiter>, int>);
    SUCCEED();
}

} // namespace
