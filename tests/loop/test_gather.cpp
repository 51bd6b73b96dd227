// gather (strict and settled forms) and outcome. Every test runs on the virtual clock, so
// an hour-long sleep costs nothing, and times are asserted as loop-time differences.

#include "corio/gather.hpp"

#include "corio/cancel_scope.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/future.hpp"
#include "corio/join_handle.hpp"
#include "corio/outcome.hpp"
#include "corio/sleep.hpp"
#include "corio/task.hpp"

#include "support/counted.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
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

/// Collects what the loop reports (exceptions never retrieved, ...), to assert there was
/// nothing to report.
struct reports {
    std::vector<std::string> messages;
    void install() {
        corio::get_running_loop().set_exception_handler(
            [this](corio::event_loop&, const corio::exception_context& c) {
                messages.push_back(c.message);
            });
    }
};

task<std::unique_ptr<int>> boxed(int v) {
    co_await corio::sleep(1ms);
    co_return std::make_unique<int>(v);
}

task<corio_test::counted> counted_after(ms delay, int v) {
    co_await corio::sleep(delay);
    co_return corio_test::counted(v);
}

/// What happened to a child.
struct probe {
    bool started = false;
    bool cancelled = false;
    bool cleaned_up = false;
};

/// Sleeps `delay` and gives `v`. If cancelled: records it, spends `cleanup` cleaning up
/// (awaiting outside the catch handler, as C++20 requires), then rethrows.
task<int> sleeper(ms delay, int v, probe* p, ms cleanup = 0ms) {
    p->started = true;
    std::exception_ptr cancellation;
    try {
        co_await corio::sleep(delay);
        co_return v;
    } catch (const corio::cancelled_error&) {
        cancellation = std::current_exception();
    }
    p->cancelled = true;
    if (cleanup > 0ms) {
        co_await corio::sleep(cleanup);
    }
    p->cleaned_up = true;
    std::rethrow_exception(cancellation);
}

task<> cancel_after(ms delay, corio::join_handle<int> h) {
    co_await corio::sleep(delay);
    h.cancel();
}

// --- outcome ------------------------------------------------------------------------------

static_assert(std::is_same_v<corio::outcome<int>::value_type, int>);
static_assert(std::is_same_v<corio::outcome<void>::value_type, void>);

TEST(outcome, holds_a_value) {
    corio::outcome<std::string> o = std::string("page");
    EXPECT_TRUE(o.has_value());
    EXPECT_TRUE(static_cast<bool>(o));
    EXPECT_EQ(o.value(), "page");
    EXPECT_EQ(o.exception(), nullptr);
    const std::string moved = std::move(o).value();
    EXPECT_EQ(moved, "page");
}

TEST(outcome, holds_an_exception_that_value_rethrows) {
    corio::outcome<int> o(std::make_exception_ptr(test_error("boom")));
    EXPECT_FALSE(o.has_value());
    EXPECT_FALSE(static_cast<bool>(o));
    EXPECT_NE(o.exception(), nullptr);
    EXPECT_THROW(o.value(), test_error);
}

TEST(outcome, void_is_a_success_or_an_exception) {
    corio::outcome<void> ok;
    EXPECT_TRUE(ok.has_value());
    EXPECT_NO_THROW(ok.value());
    EXPECT_EQ(ok.exception(), nullptr);
    corio::outcome<void> failed(std::make_exception_ptr(test_error("boom")));
    EXPECT_FALSE(failed.has_value());
    EXPECT_THROW(failed.value(), test_error);
}

TEST(outcome, refuses_a_null_exception) {
    EXPECT_THROW(corio::outcome<int>(std::exception_ptr{}), corio::invalid_state_error);
    EXPECT_THROW(corio::outcome<void>(std::exception_ptr{}), corio::invalid_state_error);
}

TEST(outcome, holds_a_move_only_value) {
    corio::outcome<std::unique_ptr<int>> o(std::in_place, std::make_unique<int>(7));
    std::unique_ptr<int> p = std::move(o).value();
    EXPECT_EQ(*p, 7);
}

// --- gather: results --------------------------------------------------------------------

task<> results_in_argument_order_main() {
    std::vector<int> finished;
    const auto start = now();
    auto [a, b, c] =
        co_await corio::gather(value_after(30ms, 1, &finished), value_after(10ms, 2, &finished),
                               value_after(20ms, 3, &finished));
    EXPECT_EQ(finished, (std::vector<int>{2, 3, 1}));
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 2);
    EXPECT_EQ(c, 3);
    EXPECT_EQ(since(start), 30ms); // concurrently: the longest, not the sum
}

TEST(gather, results_in_argument_order_though_completion_order_differs) {
    corio::run(results_in_argument_order_main(), virtual_time());
}

task<> vector_in_argument_order_main() {
    std::vector<int> finished;
    std::vector<task<int>> tasks;
    tasks.push_back(value_after(30ms, 1, &finished));
    tasks.push_back(value_after(10ms, 2, &finished));
    tasks.push_back(value_after(20ms, 3, &finished));
    const auto start = now();
    std::vector<int> results = co_await corio::gather(std::move(tasks));
    EXPECT_EQ(finished, (std::vector<int>{2, 3, 1}));
    EXPECT_EQ(results, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(since(start), 30ms);
}

TEST(gather, vector_results_in_argument_order) {
    corio::run(vector_in_argument_order_main(), virtual_time());
}

task<> tuple_with_void_main() {
    const auto start = now();
    auto results =
        co_await corio::gather(nothing_after(10ms), value_after(5ms, 7), corio::sleep(20ms));
    static_assert(
        std::is_same_v<decltype(results), std::tuple<std::monostate, int, std::monostate>>);
    EXPECT_EQ(std::get<1>(results), 7);
    EXPECT_EQ(since(start), 20ms);
}

TEST(gather, tuple_form_gives_monostate_for_void) {
    corio::run(tuple_with_void_main(), virtual_time());
}

task<> vector_of_void_main() {
    std::vector<task<>> tasks;
    tasks.push_back(nothing_after(10ms));
    tasks.push_back(nothing_after(20ms));
    auto results = co_await corio::gather(std::move(tasks));
    static_assert(std::is_same_v<decltype(results), std::vector<std::monostate>>);
    EXPECT_EQ(results.size(), 2u);
}

TEST(gather, vector_of_void_tasks_gives_monostates) {
    corio::run(vector_of_void_main(), virtual_time());
}

task<> any_awaitables_main() {
    corio::future<int> f;
    corio::get_running_loop().call_later(10ms, [f]() mutable { f.set_result(4); });
    corio::join_handle<int> h = corio::spawn(value_after(5ms, 5));
    const auto start = now();
    auto [from_future, from_handle, from_sleep] = co_await corio::gather(f, h, corio::sleep(1ms));
    static_assert(std::is_same_v<decltype(from_sleep), std::monostate>);
    EXPECT_EQ(from_future, 4);
    EXPECT_EQ(from_handle, 5);
    EXPECT_EQ(since(start), 10ms);
}

TEST(gather, accepts_futures_join_handles_and_other_awaitables) {
    corio::run(any_awaitables_main(), virtual_time());
}

task<> empty_main() {
    std::vector<task<int>> none;
    std::vector<int> results = co_await corio::gather(std::move(none));
    EXPECT_TRUE(results.empty());
    auto nothing = co_await corio::gather();
    static_assert(std::is_same_v<decltype(nothing), std::tuple<>>);
}

TEST(gather, of_nothing_gives_nothing_at_once) {
    corio::run(empty_main(), virtual_time());
}

task<> move_only_main() {
    auto [a, b] = co_await corio::gather(boxed(1), boxed(2));
    EXPECT_EQ(*a, 1);
    EXPECT_EQ(*b, 2);
    std::vector<task<std::unique_ptr<int>>> tasks;
    tasks.push_back(boxed(3));
    tasks.push_back(boxed(4));
    std::vector<std::unique_ptr<int>> boxes = co_await corio::gather(std::move(tasks));
    EXPECT_EQ(*boxes.at(0), 3);
    EXPECT_EQ(*boxes.at(1), 4);
}

TEST(gather, gives_move_only_results) {
    corio::run(move_only_main(), virtual_time());
}

task<> counted_main() {
    {
        auto [a, b] = co_await corio::gather(counted_after(10ms, 1), counted_after(5ms, 2));
        EXPECT_EQ(a.value, 1);
        EXPECT_EQ(b.value, 2);
    }
    EXPECT_EQ(corio_test::counted::alive(), 0);
}

TEST(gather, destroys_every_result_once) {
    corio_test::counted::reset();
    corio::run(counted_main(), virtual_time());
    EXPECT_EQ(corio_test::counted::alive(), 0);
}

task<> lazy_main() {
    probe p;
    auto pending = corio::gather(sleeper(10ms, 1, &p));
    co_await corio::sleep(5ms);
    EXPECT_FALSE(p.started); // nothing starts before the gather is awaited
    auto [v] = co_await std::move(pending);
    EXPECT_EQ(v, 1);
    EXPECT_TRUE(p.started);
}

TEST(gather, starts_nothing_before_it_is_awaited) {
    corio::run(lazy_main(), virtual_time());
}

// --- gather: failure ----------------------------------------------------------------------

task<> first_exception_main(reports& r) {
    r.install();
    auto slow1 = corio::spawn(value_after(1h, 1));
    auto failing = corio::spawn(throw_after(10ms, "boom"));
    auto slow2 = corio::spawn(value_after(1h, 3));
    const auto start = now();
    std::string what;
    try {
        co_await corio::gather(slow1, failing, slow2);
        ADD_FAILURE() << "gather did not throw";
    } catch (const test_error& e) {
        what = e.what();
    }
    EXPECT_EQ(what, "boom");
    EXPECT_EQ(since(start), 10ms);
    EXPECT_TRUE(slow1.cancelled());
    EXPECT_TRUE(slow2.cancelled());
    EXPECT_FALSE(failing.cancelled());
}

TEST(gather, first_exception_cancels_the_others_and_is_rethrown) {
    reports r;
    corio::run(first_exception_main(r), virtual_time());
    EXPECT_TRUE(r.messages.empty()) << r.messages.front();
}

task<> waits_for_cleanup_main() {
    probe a;
    probe b;
    const auto start = now();
    bool threw = false;
    try {
        co_await corio::gather(sleeper(1h, 1, &a, 5ms), throw_after(10ms, "boom"),
                               sleeper(1h, 2, &b));
    } catch (const test_error&) {
        threw = true;
        // The cancelled siblings have finished, cleanup included.
        EXPECT_TRUE(a.cleaned_up);
        EXPECT_TRUE(b.cleaned_up);
    }
    EXPECT_TRUE(threw);
    EXPECT_TRUE(a.cancelled);
    EXPECT_TRUE(b.cancelled);
    EXPECT_EQ(since(start), 15ms); // the failure at 10 ms, then a's 5 ms of cleanup
    EXPECT_EQ(corio::all_tasks().size(), 1u);
}

TEST(gather, waits_for_the_cancelled_siblings_before_rethrowing) {
    corio::run(waits_for_cleanup_main(), virtual_time());
}

task<> vector_first_exception_main() {
    probe a;
    probe b;
    std::vector<task<int>> tasks;
    tasks.push_back(sleeper(1h, 1, &a));
    tasks.push_back(throw_after(10ms, "boom"));
    tasks.push_back(sleeper(1h, 2, &b));
    bool threw = false;
    try {
        co_await corio::gather(std::move(tasks));
    } catch (const test_error&) {
        threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_TRUE(a.cancelled);
    EXPECT_TRUE(b.cancelled);
}

TEST(gather, vector_form_first_exception_cancels_the_others) {
    corio::run(vector_first_exception_main(), virtual_time());
}

task<> first_of_two_failures_main(reports& r) {
    r.install();
    std::string what;
    try {
        co_await corio::gather(throw_after(20ms, "second"), throw_after(10ms, "first"));
    } catch (const test_error& e) {
        what = e.what();
    }
    EXPECT_EQ(what, "first");
}

TEST(gather, rethrows_the_first_failure_in_time_not_in_argument_order) {
    reports r;
    corio::run(first_of_two_failures_main(r), virtual_time());
    EXPECT_TRUE(r.messages.empty()) << r.messages.front();
}

task<> child_cancelled_elsewhere_main() {
    auto victim = corio::spawn(value_after(1h, 1));
    auto other = corio::spawn(value_after(1h, 2));
    auto canceller = corio::spawn(cancel_after(10ms, victim));
    bool cancelled = false;
    try {
        co_await corio::gather(victim, other);
    } catch (const corio::cancelled_error&) {
        cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(victim.cancelled());
    EXPECT_TRUE(other.cancelled());
    co_await canceller;
}

TEST(gather, a_child_cancelled_by_someone_else_fails_the_gather) {
    corio::run(child_cancelled_elsewhere_main(), virtual_time());
}

task<> already_failed_main() {
    auto failed = corio::spawn(throw_after(1ms, "early"));
    co_await corio::sleep(5ms);
    EXPECT_TRUE(failed.done());
    probe p;
    const auto start = now();
    bool threw = false;
    try {
        co_await corio::gather(failed, sleeper(1h, 2, &p));
    } catch (const test_error&) {
        threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_TRUE(!p.started || p.cancelled); // cancelled before or during its first step
    EXPECT_EQ(since(start), 0ms);
    EXPECT_EQ(corio::all_tasks().size(), 1u);
}

TEST(gather, an_argument_that_already_failed_cancels_the_rest) {
    corio::run(already_failed_main(), virtual_time());
}

// --- gather: cancellation of the gathering task -------------------------------------------

task<int> gather_two(probe* a, probe* b) {
    auto [x, y] = co_await corio::gather(sleeper(1h, 1, a, 5ms), sleeper(1h, 2, b));
    co_return x + y;
}

task<> cancel_gatherer_main(reports& r) {
    r.install();
    probe a;
    probe b;
    auto gatherer = corio::spawn(gather_two(&a, &b));
    co_await corio::sleep(10ms);
    EXPECT_TRUE(a.started);
    EXPECT_TRUE(b.started);
    const auto start = now();
    gatherer.cancel();
    bool cancelled = false;
    try {
        co_await gatherer;
    } catch (const corio::cancelled_error&) {
        cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(gatherer.cancelled());
    EXPECT_TRUE(a.cancelled);
    EXPECT_TRUE(a.cleaned_up);
    EXPECT_TRUE(b.cancelled);
    EXPECT_EQ(since(start), 5ms); // the gatherer waited for a's cleanup
    EXPECT_EQ(corio::all_tasks().size(), 1u);
    // Nothing of the gather is left on the loop: sleeping past every deadline it knew of
    // wakes nothing that belonged to it.
    co_await corio::sleep(2h);
    EXPECT_EQ(corio::all_tasks().size(), 1u);
}

TEST(gather, cancelling_the_gathering_task_cancels_the_children) {
    reports r;
    corio::run(cancel_gatherer_main(r), virtual_time());
    EXPECT_TRUE(r.messages.empty()) << r.messages.front();
}

task<> gather_in_cancelled_scope_main() {
    probe a;
    probe b;
    corio::cancel_scope scope;
    scope.cancel(); // the cancellation is pending when the gather first waits
    const auto start = now();
    auto r = co_await scope.run(corio::gather(sleeper(1h, 1, &a), sleeper(1h, 2, &b)));
    EXPECT_FALSE(r.has_value());
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_FALSE(a.started); // cancelled before their first step
    EXPECT_FALSE(b.started);
    EXPECT_EQ(since(start), 0ms);
    EXPECT_EQ(corio::all_tasks().size(), 1u);
}

TEST(gather, cancelled_before_waiting_cancels_children_before_they_start) {
    corio::run(gather_in_cancelled_scope_main(), virtual_time());
}

task<> gather_with_deadline_main() {
    probe a;
    probe b;
    const auto start = now();
    auto r = co_await corio::move_on_after(
        10ms, corio::gather(sleeper(1h, 1, &a), sleeper(1h, 2, &b, 3ms)));
    EXPECT_FALSE(r.has_value());
    EXPECT_TRUE(a.cancelled);
    EXPECT_TRUE(b.cleaned_up);
    EXPECT_EQ(since(start), 13ms);
}

TEST(gather, under_a_deadline_is_cancelled_with_its_children) {
    corio::run(gather_with_deadline_main(), virtual_time());
}

// --- gather(return_exceptions, ...) --------------------------------------------------------

task<> settled_main(reports& r) {
    r.install();
    const auto start = now();
    auto [a, b, c] = co_await corio::gather(corio::return_exceptions, value_after(30ms, 1),
                                            throw_after(10ms, "boom"), nothing_after(20ms));
    static_assert(std::is_same_v<decltype(a), corio::outcome<int>>);
    static_assert(std::is_same_v<decltype(c), corio::outcome<void>>);
    EXPECT_TRUE(a.has_value());
    EXPECT_EQ(a.value(), 1);
    EXPECT_FALSE(b.has_value());
    EXPECT_NE(b.exception(), nullptr);
    EXPECT_THROW(b.value(), test_error);
    EXPECT_TRUE(c.has_value());
    EXPECT_EQ(since(start), 30ms); // the failure cancelled nothing
}

TEST(gather, return_exceptions_collects_values_and_exceptions) {
    reports r;
    corio::run(settled_main(r), virtual_time());
    EXPECT_TRUE(r.messages.empty()) << r.messages.front();
}

task<> settled_vector_main() {
    probe a;
    probe b;
    std::vector<task<int>> tasks;
    tasks.push_back(sleeper(30ms, 1, &a));
    tasks.push_back(throw_after(10ms, "boom"));
    tasks.push_back(sleeper(20ms, 3, &b));
    std::vector<corio::outcome<int>> results =
        co_await corio::gather(corio::return_exceptions, std::move(tasks));
    EXPECT_EQ(results.size(), 3u);
    EXPECT_EQ(results.at(0).value(), 1);
    EXPECT_THROW(results.at(1).value(), test_error);
    EXPECT_EQ(results.at(2).value(), 3);
    EXPECT_FALSE(a.cancelled);
    EXPECT_FALSE(b.cancelled);
}

TEST(gather, return_exceptions_vector_form_never_cancels_siblings) {
    corio::run(settled_vector_main(), virtual_time());
}

task<> settled_cancelled_child_main() {
    auto victim = corio::spawn(value_after(1h, 1));
    auto canceller = corio::spawn(cancel_after(10ms, victim));
    auto [v, w] = co_await corio::gather(corio::return_exceptions, victim, value_after(20ms, 2));
    EXPECT_FALSE(v.has_value());
    EXPECT_THROW(v.value(), corio::cancelled_error);
    EXPECT_EQ(w.value(), 2);
    co_await canceller;
}

TEST(gather, return_exceptions_gives_a_cancelled_child_as_cancelled_error) {
    corio::run(settled_cancelled_child_main(), virtual_time());
}

task<std::size_t> settled_gather_two(probe* a, probe* b) {
    auto [x, y] =
        co_await corio::gather(corio::return_exceptions, sleeper(1h, 1, a), sleeper(1h, 2, b, 5ms));
    co_return static_cast<std::size_t>(x.has_value()) + static_cast<std::size_t>(y.has_value());
}

task<> settled_cancel_gatherer_main() {
    probe a;
    probe b;
    auto gatherer = corio::spawn(settled_gather_two(&a, &b));
    co_await corio::sleep(10ms);
    gatherer.cancel();
    bool cancelled = false;
    try {
        co_await gatherer;
    } catch (const corio::cancelled_error&) {
        cancelled = true;
    }
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(a.cancelled);
    EXPECT_TRUE(b.cleaned_up);
    EXPECT_EQ(corio::all_tasks().size(), 1u);
}

TEST(gather, return_exceptions_is_cancelled_with_its_children) {
    corio::run(settled_cancel_gatherer_main(), virtual_time());
}

task<> wait_in_gather(corio::join_handle<int> h) {
    co_await corio::gather(h, value_after(1h, 2));
}

task<> closed_while_gathering_main() {
    auto watched = corio::spawn(value_after(1h, 1)); // abandoned before its watcher
    corio::spawn(wait_in_gather(watched));
    co_await corio::sleep(1ms);
}

TEST(gather, a_loop_closed_while_it_waits_frees_everything) {
    run_then_close(closed_while_gathering_main());
}

} // namespace
