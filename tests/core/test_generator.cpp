#include "corio/errors.hpp"
#include "corio/generator.hpp"

#include <gtest/gtest.h>

#include "support/counted.hpp"

#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <list>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using corio::generator;
using corio::generator_exit;
using corio::invalid_state_error;
using corio::yield_from;

static_assert(std::ranges::input_range<generator<int>>);
static_assert(std::ranges::input_range<generator<std::unique_ptr<int>>>);
static_assert(std::ranges::input_range<generator<std::string, int, std::string>>);
static_assert(std::is_same_v<std::ranges::range_value_t<generator<int>>, int>);
static_assert(std::is_same_v<std::ranges::range_reference_t<generator<int>>, int&>);
static_assert(std::movable<generator<int>> && !std::copyable<generator<int>>);

// clang 14 cannot compile libstdc++ 12's views (every type built on view_interface fails
// its own range concepts inside <ranges>), so the tests that use std::views skip there.
#if defined(__clang__) && __clang_major__ < 15 && defined(_GLIBCXX_RELEASE)
#define CORIO_TEST_HAS_STD_VIEWS 0
#define CORIO_TEST_SKIP_WITHOUT_STD_VIEWS()                                                        \
    GTEST_SKIP() << "clang < 15 cannot compile libstdc++'s std::views"
#else
#define CORIO_TEST_HAS_STD_VIEWS 1
#endif

/// Depth of the delegation chains that must not cost stack per level.
constexpr int deep = 100'000;

using corio_test::counted;

/// Checks that every counted value made since `counted::reset()` has been destroyed once.
void expect_all_counted_destroyed() {
    EXPECT_EQ(counted::alive(), 0);
    EXPECT_EQ(counted::double_destructions, 0);
}

/// Runs `operation`, expects it to throw invalid_state_error, and returns its what().
std::string invalid_state_message(const std::function<void()>& operation) {
    try {
        operation();
    } catch (const invalid_state_error& error) {
        return error.what();
    } catch (...) {
        ADD_FAILURE() << "threw something other than invalid_state_error";
        return {};
    }
    ADD_FAILURE() << "did not throw invalid_state_error";
    return {};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

template <class Y, class S, class R>
std::vector<Y> drain(generator<Y, S, R>& g) {
    std::vector<Y> out;
    while (auto v = g.next()) {
        out.push_back(std::move(*v));
    }
    return out;
}

// ---- generators used by the tests --------------------------------------------------------

generator<int> count_to(int n) {
    for (int i = 1; i <= n; ++i) {
        co_yield i;
    }
}

generator<int> counting_forever() {
    for (int i = 0;; ++i) {
        co_yield i;
    }
}

generator<int> records_start(bool* started) {
    *started = true;
    co_yield 1;
}

/// Records what each `co_yield` evaluated to.
generator<int, int> records_sent(std::vector<std::optional<int>>* received) {
    for (int i = 0; i < 3; ++i) {
        received->push_back(co_yield i);
    }
}

/// Yields twice the value sent, until the consumer sends nothing (calls next()).
generator<int, int, int> doubler() {
    int total = 0;
    auto sent = co_yield 0;
    while (sent) {
        total += *sent;
        sent = co_yield *sent * 2;
    }
    co_return total;
}

/// Catches a std::runtime_error thrown in at its co_yield and yields -1 instead.
generator<int> catches_runtime_error() {
    for (int i = 0;; ++i) {
        bool caught = false;
        try {
            co_yield i;
        } catch (const std::runtime_error&) {
            caught = true;
        }
        if (caught) {
            co_yield -1;
        }
    }
}

generator<int, void, int> returns_after(int n, int result) {
    for (int i = 0; i < n; ++i) {
        co_yield i;
    }
    co_return result;
}

generator<int> throws_after(int n) {
    for (int i = 0; i < n; ++i) {
        co_yield i;
    }
    throw std::runtime_error("body failed");
}

/// Logs "cleanup" when closed; `mode` says what it does after catching generator_exit.
enum class on_exit { rethrow, return_normally, yield_again, throw_other };
generator<int, void, int> handles_exit(std::vector<std::string>* log, on_exit mode) {
    bool exiting = false;
    try {
        co_yield 1;
        co_yield 2;
    } catch (const generator_exit&) {
        log->push_back("cleanup");
        exiting = true;
        if (mode == on_exit::rethrow) {
            throw;
        }
        if (mode == on_exit::throw_other) {
            throw std::runtime_error("failed during cleanup");
        }
    }
    if (exiting && mode == on_exit::yield_again) {
        co_yield 99;
        log->push_back("resumed after ignoring");
    }
    co_return exiting ? -1 : 3;
}

// ---- next ---------------------------------------------------------------------------------

TEST(generator, next_returns_each_yielded_value_then_empty) {
    auto g = count_to(3);
    EXPECT_EQ(g.next(), 1);
    EXPECT_EQ(g.next(), 2);
    EXPECT_EQ(g.next(), 3);
    EXPECT_EQ(g.next(), std::nullopt);
}

TEST(generator, next_after_the_end_stays_empty) {
    auto g = count_to(1);
    EXPECT_EQ(g.next(), 1);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_TRUE(g.done());
}

TEST(generator, body_does_not_run_until_first_next) {
    bool started = false;
    auto g = records_start(&started);
    EXPECT_FALSE(started);
    EXPECT_FALSE(g.done());
    EXPECT_EQ(g.next(), 1);
    EXPECT_TRUE(started);
}

TEST(generator, done_becomes_true_only_when_the_body_finishes) {
    auto g = count_to(1);
    EXPECT_FALSE(g.done());
    EXPECT_EQ(g.next(), 1);
    EXPECT_FALSE(g.done());
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_TRUE(g.done());
}

TEST(generator, co_yield_of_an_lvalue_copies_it) {
    counted::reset();
    std::vector<int> seen_after;
    auto g = [](std::vector<int>* seen) -> generator<counted> {
        counted local(7);
        co_yield local;
        seen->push_back(local.value);
    }(&seen_after);
    auto v = g.next();
    ASSERT_TRUE(v);
    EXPECT_EQ(v->value, 7);
    EXPECT_EQ(counted::copy_constructions, 1);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(seen_after, std::vector<int>{7}); // the body's variable was not moved from
}

TEST(generator, co_yield_of_an_rvalue_moves_it) {
    counted::reset();
    std::vector<int> seen_after;
    auto g = [](std::vector<int>* seen) -> generator<counted> {
        counted local(7);
        co_yield std::move(local);
        seen->push_back(local.value);
        co_yield counted(8);
    }(&seen_after);
    EXPECT_EQ(g.next()->value, 7);
    EXPECT_EQ(g.next()->value, 8);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(counted::copy_constructions, 0);
    EXPECT_EQ(seen_after, std::vector<int>{counted::moved_from});
}

TEST(generator, co_yield_of_a_convertible_value_converts_it) {
    auto g = []() -> generator<std::string> { co_yield "converted from const char*"; }();
    EXPECT_EQ(g.next(), "converted from const char*");
}

// ---- send ---------------------------------------------------------------------------------

TEST(generator, send_delivers_the_value_as_the_result_of_co_yield) {
    auto g = doubler();
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.send(5), 10);
    EXPECT_EQ(g.send(21), 42);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(g.result(), 26);
}

TEST(generator, co_yield_is_empty_after_next_and_holds_the_value_after_send) {
    std::vector<std::optional<int>> received;
    auto g = records_sent(&received);
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.send(10), 1);
    EXPECT_EQ(g.next(), 2);
    EXPECT_EQ(g.send(30), std::nullopt);
    EXPECT_EQ(received, (std::vector<std::optional<int>>{10, std::nullopt, 30}));
}

TEST(generator, send_moves_a_non_trivial_send_type) {
    auto g = []() -> generator<std::size_t, std::string> {
        auto s = co_yield 0;
        while (s) {
            s = co_yield s->size();
        }
    }();
    EXPECT_EQ(g.next(), 0U);
    EXPECT_EQ(g.send(std::string(100, 'x')), 100U);
}

TEST(generator, send_into_an_unstarted_generator_throws_invalid_state) {
    auto g = doubler();
    const std::string what = invalid_state_message([&] { (void)g.send(1); });
    EXPECT_TRUE(contains(what, "not started")) << what;
    // The generator is untouched: it still starts normally.
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.send(2), 4);
}

TEST(generator, send_into_a_finished_generator_returns_empty) {
    auto g = doubler();
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(g.send(1), std::nullopt);
}

// ---- throw_into ---------------------------------------------------------------------------

TEST(generator, throw_into_a_caught_exception_lets_the_body_yield_again) {
    auto g = catches_runtime_error();
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.throw_into(std::make_exception_ptr(std::runtime_error("in"))), -1);
    EXPECT_EQ(g.next(), 1);
}

TEST(generator, throw_into_an_uncaught_exception_propagates_out_of_throw_into) {
    auto g = count_to(3);
    EXPECT_EQ(g.next(), 1);
    EXPECT_THROW(g.throw_into(std::make_exception_ptr(std::logic_error("in"))), std::logic_error);
    EXPECT_TRUE(g.done());
    EXPECT_EQ(g.next(), std::nullopt);
}

TEST(generator, throw_into_that_makes_the_body_return_gives_empty_and_a_result) {
    auto g = []() -> generator<int, void, int> {
        try {
            co_yield 1;
        } catch (const std::runtime_error&) {
            co_return 7;
        }
        co_return 0;
    }();
    EXPECT_EQ(g.next(), 1);
    EXPECT_EQ(g.throw_into(std::make_exception_ptr(std::runtime_error("stop"))), std::nullopt);
    EXPECT_EQ(g.result(), 7);
}

TEST(generator, throw_into_an_unstarted_generator_raises_it_before_the_body_runs) {
    bool started = false;
    auto g = records_start(&started);
    EXPECT_THROW(g.throw_into(std::make_exception_ptr(std::runtime_error("early"))),
                 std::runtime_error);
    EXPECT_FALSE(started);
    EXPECT_TRUE(g.done());
    EXPECT_EQ(g.next(), std::nullopt);
}

TEST(generator, throw_into_a_finished_generator_rethrows_the_exception) {
    auto g = count_to(1);
    EXPECT_EQ(g.next(), 1);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_THROW(g.throw_into(std::make_exception_ptr(std::runtime_error("late"))),
                 std::runtime_error);
}

TEST(generator, throw_into_with_a_null_exception_ptr_throws_invalid_state) {
    auto g = count_to(2);
    EXPECT_EQ(g.next(), 1);
    EXPECT_THROW(g.throw_into(nullptr), invalid_state_error);
    EXPECT_EQ(g.next(), 2);
}

// ---- close --------------------------------------------------------------------------------

TEST(generator, close_raises_generator_exit_so_the_body_can_clean_up) {
    std::vector<std::string> log;
    auto g = handles_exit(&log, on_exit::rethrow);
    EXPECT_EQ(g.next(), 1);
    g.close();
    EXPECT_EQ(log, std::vector<std::string>{"cleanup"});
    EXPECT_TRUE(g.done());
    EXPECT_EQ(g.next(), std::nullopt);
}

TEST(generator, close_succeeds_when_the_body_returns_after_catching_generator_exit) {
    std::vector<std::string> log;
    auto g = handles_exit(&log, on_exit::return_normally);
    EXPECT_EQ(g.next(), 1);
    g.close();
    EXPECT_EQ(log, std::vector<std::string>{"cleanup"});
    EXPECT_TRUE(g.done());
    EXPECT_EQ(g.result(), -1); // what it returned (Python 3.13's close() return value)
}

TEST(generator, close_runs_destructors_of_the_body_locals) {
    bool destroyed = false;
    auto g = [](bool* flag) -> generator<int> {
        struct sentinel {
            bool* flag;
            ~sentinel() { *flag = true; }
        } s{flag};
        co_yield 1;
    }(&destroyed);
    EXPECT_EQ(g.next(), 1);
    g.close();
    EXPECT_TRUE(destroyed);
}

TEST(generator, close_on_an_unstarted_generator_does_nothing_and_finishes_it) {
    bool started = false;
    auto g = records_start(&started);
    g.close();
    EXPECT_FALSE(started);
    EXPECT_TRUE(g.done());
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_THROW(g.result(), invalid_state_error);
}

TEST(generator, close_on_a_finished_generator_does_nothing) {
    std::vector<std::string> log;
    auto g = handles_exit(&log, on_exit::rethrow);
    EXPECT_EQ(drain(g), (std::vector<int>{1, 2}));
    g.close();
    g.close();
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(g.result(), 3);
}

TEST(generator, close_twice_runs_the_cleanup_once) {
    std::vector<std::string> log;
    auto g = handles_exit(&log, on_exit::rethrow);
    EXPECT_EQ(g.next(), 1);
    g.close();
    g.close();
    EXPECT_EQ(log, std::vector<std::string>{"cleanup"});
}

TEST(generator, close_on_a_generator_that_yields_again_throws_ignored_generator_exit) {
    std::vector<std::string> log;
    auto g = handles_exit(&log, on_exit::yield_again);
    EXPECT_EQ(g.next(), 1);
    const std::string what = invalid_state_message([&] { g.close(); });
    EXPECT_TRUE(contains(what, "ignored generator_exit")) << what;
    // It is still suspended at the second co_yield, and continues normally.
    EXPECT_FALSE(g.done());
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(log, (std::vector<std::string>{"cleanup", "resumed after ignoring"}));
    EXPECT_EQ(g.result(), -1);
}

TEST(generator, close_propagates_another_exception_thrown_by_the_body) {
    std::vector<std::string> log;
    auto g = handles_exit(&log, on_exit::throw_other);
    EXPECT_EQ(g.next(), 1);
    EXPECT_THROW(g.close(), std::runtime_error);
    EXPECT_TRUE(g.done());
    EXPECT_THROW(g.result(), invalid_state_error);
}

TEST(generator, generator_exit_is_not_swallowed_by_a_std_exception_handler) {
    std::vector<std::string> log;
    auto g = [](std::vector<std::string>* out) -> generator<int> {
        try {
            co_yield 1;
        } catch (const std::exception&) {
            out->push_back("std::exception handler");
        }
        out->push_back("after try");
    }(&log);
    EXPECT_EQ(g.next(), 1);
    g.close();
    EXPECT_TRUE(log.empty());
}

TEST(generator, destroying_a_suspended_generator_runs_destructors_but_not_exit_handlers) {
    std::vector<std::string> log;
    {
        auto g = handles_exit(&log, on_exit::rethrow);
        EXPECT_EQ(g.next(), 1);
    }
    EXPECT_TRUE(log.empty());
}

// ---- co_return and result() ---------------------------------------------------------------

TEST(generator, result_gives_the_value_of_co_return) {
    auto g = returns_after(2, 42);
    EXPECT_EQ(drain(g), (std::vector<int>{0, 1}));
    EXPECT_EQ(g.result(), 42);
    EXPECT_EQ(std::as_const(g).result(), 42);
}

TEST(generator, result_of_a_generator_that_yields_nothing) {
    auto g = returns_after(0, 5);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(g.result(), 5);
}

TEST(generator, result_before_the_end_throws_invalid_state) {
    auto g = returns_after(2, 42);
    EXPECT_THROW(g.result(), invalid_state_error);
    EXPECT_EQ(g.next(), 0);
    const std::string what = invalid_state_message([&] { (void)g.result(); });
    EXPECT_TRUE(contains(what, "not finished")) << what;
}

TEST(generator, result_after_an_exception_throws_invalid_state) {
    auto g = []() -> generator<int, void, int> {
        co_yield 1;
        throw std::runtime_error("failed");
    }();
    EXPECT_EQ(g.next(), 1);
    EXPECT_THROW(g.next(), std::runtime_error);
    EXPECT_THROW(g.result(), invalid_state_error);
}

TEST(generator, result_after_close_throws_invalid_state) {
    auto g = returns_after(5, 42);
    EXPECT_EQ(g.next(), 0);
    g.close();
    EXPECT_THROW(g.result(), invalid_state_error);
}

TEST(generator, result_of_a_void_generator_is_void_once_finished) {
    auto g = count_to(1);
    static_assert(std::is_void_v<decltype(g.result())>);
    EXPECT_THROW(g.result(), invalid_state_error);
    EXPECT_EQ(drain(g), std::vector<int>{1});
    EXPECT_NO_THROW(g.result());
}

TEST(generator, rvalue_result_moves_the_value_out) {
    auto g = []() -> generator<int, void, std::unique_ptr<int>> {
        co_yield 1;
        co_return std::make_unique<int>(9);
    }();
    EXPECT_EQ(drain(g), std::vector<int>{1});
    static_assert(std::is_same_v<decltype(std::move(g).result()), std::unique_ptr<int>>);
    static_assert(std::is_same_v<decltype(g.result()), std::unique_ptr<int>&>);
    EXPECT_EQ(*g.result(), 9); // an lvalue result() leaves it in place
    std::unique_ptr<int> p = std::move(g).result();
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 9);
    EXPECT_EQ(g.result(), nullptr);
}

TEST(generator, result_of_a_move_only_type_through_a_const_generator_is_a_reference) {
    auto g = []() -> generator<int, void, std::unique_ptr<int>> {
        co_return std::make_unique<int>(3);
    }();
    EXPECT_EQ(g.next(), std::nullopt);
    const auto& cg = g;
    static_assert(std::is_same_v<decltype(cg.result()), const std::unique_ptr<int>&>);
    EXPECT_EQ(*cg.result(), 3);
}

// ---- range-for ----------------------------------------------------------------------------

TEST(generator, range_for_visits_every_value) {
    std::vector<int> seen;
    for (int v : count_to(4)) {
        seen.push_back(v);
    }
    EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4}));
}

TEST(generator, range_for_break_destroys_the_frame_early) {
    bool destroyed = false;
    auto make = [](bool* flag) -> generator<int> {
        struct sentinel {
            bool* flag;
            ~sentinel() { *flag = true; }
        } s{flag};
        for (int i = 0;; ++i) {
            co_yield i;
        }
    };
    std::vector<int> seen;
    for (int v : make(&destroyed)) {
        if (v == 3) {
            break;
        }
        seen.push_back(v);
    }
    EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
    EXPECT_TRUE(destroyed);
}

TEST(generator, range_for_break_leaves_a_named_generator_resumable) {
    auto g = count_to(5);
    for (int v : g) {
        if (v == 2) {
            break;
        }
    }
    EXPECT_EQ(g.next(), 3);
    std::vector<int> rest;
    for (int v : g) { // begin() resumes where it was
        rest.push_back(v);
    }
    EXPECT_EQ(rest, (std::vector<int>{4, 5}));
}

TEST(generator, range_for_over_move_only_values) {
    auto g = []() -> generator<std::unique_ptr<int>> {
        for (int i = 0; i < 3; ++i) {
            co_yield std::make_unique<int>(i);
        }
        auto named = std::make_unique<int>(3);
        co_yield std::move(named);
    }();
    std::vector<std::unique_ptr<int>> taken;
    for (std::unique_ptr<int>& p : g) {
        taken.push_back(std::move(p));
    }
    ASSERT_EQ(taken.size(), 4U);
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(taken[i]);
        EXPECT_EQ(*taken[i], i);
    }
}

TEST(generator, range_for_break_over_move_only_values) {
    std::vector<int> seen;
    for (auto& p : []() -> generator<std::unique_ptr<int>> {
             for (int i = 0;; ++i) {
                 co_yield std::make_unique<int>(i);
             }
         }()) {
        if (*p == 2) {
            break;
        }
        seen.push_back(*p);
    }
    EXPECT_EQ(seen, (std::vector<int>{0, 1}));
}

TEST(generator, range_for_propagates_an_exception_from_the_body) {
    std::vector<int> seen;
    auto g = throws_after(2);
    EXPECT_THROW(
        {
            for (int v : g) {
                seen.push_back(v);
            }
        },
        std::runtime_error);
    EXPECT_EQ(seen, (std::vector<int>{0, 1}));
    EXPECT_TRUE(g.done());
}

TEST(generator, range_for_ends_when_the_loop_body_closes_the_generator) {
    // Regression: ++it resumed a generator that close() had already finished.
    auto g = count_to(10);
    std::vector<int> seen;
    for (int v : g) {
        seen.push_back(v);
        if (v == 2) {
            g.close();
        }
    }
    EXPECT_EQ(seen, (std::vector<int>{1, 2}));
}

TEST(generator, range_for_ends_when_the_loop_body_exhausts_the_generator) {
    // Regression: same as above, with next() draining the generator inside the loop.
    auto g = count_to(3);
    std::vector<int> seen;
    for (int v : g) {
        seen.push_back(v);
        while (g.next()) {
        }
    }
    EXPECT_EQ(seen, std::vector<int>{1});
}

TEST(generator, works_with_range_adaptors_as_an_input_range) {
#if CORIO_TEST_HAS_STD_VIEWS
    auto g = counting_forever();
    std::vector<int> seen;
    for (int v : g | std::views::filter([](int x) { return x % 2 == 0; }) | std::views::take(3)) {
        seen.push_back(v);
    }
    EXPECT_EQ(seen, (std::vector<int>{0, 2, 4}));
#else
    CORIO_TEST_SKIP_WITHOUT_STD_VIEWS();
#endif
}

// ---- exceptions from the body -------------------------------------------------------------

TEST(generator, exception_from_the_body_propagates_out_of_next) {
    auto g = throws_after(1);
    EXPECT_EQ(g.next(), 0);
    EXPECT_THROW(g.next(), std::runtime_error);
}

TEST(generator, next_after_the_body_threw_returns_empty) {
    auto g = throws_after(0);
    EXPECT_THROW(g.next(), std::runtime_error);
    EXPECT_TRUE(g.done());
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(g.next(), std::nullopt);
}

TEST(generator, exception_from_the_body_propagates_out_of_send) {
    auto g = []() -> generator<int, int> {
        auto v = co_yield 0;
        if (v && *v < 0) {
            throw std::invalid_argument("negative");
        }
    }();
    EXPECT_EQ(g.next(), 0);
    EXPECT_THROW(g.send(-1), std::invalid_argument);
    EXPECT_EQ(g.send(1), std::nullopt);
}

TEST(generator, exception_that_is_not_a_std_exception_propagates) {
    auto g = []() -> generator<int> {
        throw 42;
        co_return;
    }();
    EXPECT_THROW(g.next(), int);
}

// ---- resuming a running generator ---------------------------------------------------------

/// A generator that calls `operation` on itself (through `*self`) while it runs.
using self_generator = generator<int, int>;
self_generator calls_itself(self_generator** self, std::function<void(self_generator&)> operation,
                            std::vector<std::string>* errors,
                            std::vector<std::optional<int>>* received) {
    try {
        operation(**self);
    } catch (const invalid_state_error& error) {
        errors->push_back(error.what());
    }
    received->push_back(co_yield 1);
    received->push_back(co_yield 2);
}

TEST(generator, next_from_inside_its_own_body_throws_already_running) {
    self_generator* self = nullptr;
    std::vector<std::string> errors;
    std::vector<std::optional<int>> received;
    auto g = calls_itself(
        &self, [](self_generator& me) { (void)me.next(); }, &errors, &received);
    self = &g;
    EXPECT_EQ(g.next(), 1);
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_TRUE(contains(errors[0], "already running")) << errors[0];
}

TEST(generator, send_from_inside_its_own_body_throws_and_delivers_nothing) {
    // Regression: the value was stored before the check and delivered by the next next().
    self_generator* self = nullptr;
    std::vector<std::string> errors;
    std::vector<std::optional<int>> received;
    auto g = calls_itself(
        &self, [](self_generator& me) { (void)me.send(5); }, &errors, &received);
    self = &g;
    EXPECT_EQ(g.next(), 1);
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_TRUE(contains(errors[0], "already running")) << errors[0];
    EXPECT_EQ(g.next(), 2);
    EXPECT_EQ(received, std::vector<std::optional<int>>{std::nullopt});
}

TEST(generator, throw_into_from_inside_its_own_body_throws_and_raises_nothing_later) {
    // Regression: the exception was stored before the check and raised at the next co_yield.
    self_generator* self = nullptr;
    std::vector<std::string> errors;
    std::vector<std::optional<int>> received;
    auto g = calls_itself(
        &self,
        [](self_generator& me) { (void)me.throw_into(std::make_exception_ptr(std::bad_alloc())); },
        &errors, &received);
    self = &g;
    EXPECT_EQ(g.next(), 1);
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_TRUE(contains(errors[0], "already running")) << errors[0];
    EXPECT_EQ(g.next(), 2);
    EXPECT_EQ(g.next(), std::nullopt);
}

TEST(generator, close_from_inside_its_own_body_throws_and_raises_nothing_later) {
    // Regression: generator_exit was stored before the check and raised at the next co_yield.
    self_generator* self = nullptr;
    std::vector<std::string> errors;
    std::vector<std::optional<int>> received;
    auto g = calls_itself(
        &self, [](self_generator& me) { me.close(); }, &errors, &received);
    self = &g;
    EXPECT_EQ(g.next(), 1);
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_TRUE(contains(errors[0], "already running")) << errors[0];
    EXPECT_EQ(g.next(), 2);
    EXPECT_EQ(g.next(), std::nullopt);
}

TEST(generator, next_on_the_root_from_inside_a_sub_generator_throws_already_running) {
    generator<int>* root = nullptr;
    std::string error;
    auto sub = [](generator<int>** r, std::string* out) -> generator<int> {
        try {
            (void)(*r)->next();
        } catch (const invalid_state_error& e) {
            *out = e.what();
        }
        co_yield 1;
    };
    auto g = [](generator<int> s) -> generator<int> {
        co_yield yield_from(std::move(s));
    }(sub(&root, &error));
    root = &g;
    EXPECT_EQ(g.next(), 1);
    EXPECT_TRUE(contains(error, "already running")) << error;
    EXPECT_EQ(g.next(), std::nullopt);
}

TEST(generator, yield_from_itself_throws_already_running) {
    generator<int>* self = nullptr;
    std::string error;
    auto g = [](generator<int>** me, std::string* out) -> generator<int> {
        try {
            co_yield yield_from(**me);
        } catch (const invalid_state_error& e) {
            *out = e.what();
        }
        co_yield 1;
    }(&self, &error);
    self = &g;
    EXPECT_EQ(g.next(), 1);
    EXPECT_TRUE(contains(error, "already running")) << error;
}

// ---- empty generators ---------------------------------------------------------------------

TEST(generator, every_operation_on_a_default_constructed_generator_throws_invalid_state) {
    generator<int, int, int> g;
    EXPECT_TRUE(g.done());
    EXPECT_TRUE(contains(invalid_state_message([&] { (void)g.next(); }), "empty generator"));
    EXPECT_THROW(g.send(1), invalid_state_error);
    EXPECT_THROW(g.throw_into(std::make_exception_ptr(1)), invalid_state_error);
    EXPECT_THROW(g.close(), invalid_state_error);
    EXPECT_THROW(g.result(), invalid_state_error);
    EXPECT_THROW(std::move(g).result(), invalid_state_error);
    EXPECT_THROW(g.begin(), invalid_state_error);
}

TEST(generator, every_operation_on_a_moved_from_generator_throws_invalid_state) {
    auto g = count_to(3);
    EXPECT_EQ(g.next(), 1);
    auto h = std::move(g);
    EXPECT_TRUE(g.done()); // NOLINT(bugprone-use-after-move)
    EXPECT_THROW(g.next(), invalid_state_error);
    EXPECT_THROW(g.close(), invalid_state_error);
    EXPECT_THROW(g.throw_into(std::make_exception_ptr(1)), invalid_state_error);
    EXPECT_THROW(g.result(), invalid_state_error);
    EXPECT_THROW(g.begin(), invalid_state_error);
    EXPECT_EQ(h.next(), 2); // the new owner continues where it was
}

TEST(generator, move_assignment_destroys_the_previous_frame) {
    counted::reset();
    auto make = []() -> generator<counted> {
        counted local(1);
        co_yield counted(2);
    };
    auto g = make();
    EXPECT_EQ(g.next()->value, 2);
    g = make();
    EXPECT_EQ(counted::alive(), 0);
    EXPECT_EQ(g.next()->value, 2);
    g = generator<counted>();
    expect_all_counted_destroyed();
}

TEST(generator, yield_from_an_empty_generator_throws_invalid_state_in_the_body) {
    std::string error;
    auto g = [](std::string* out) -> generator<int> {
        generator<int> empty;
        try {
            co_yield yield_from(std::move(empty));
        } catch (const invalid_state_error& e) {
            *out = e.what();
        }
        co_yield 1;
    }(&error);
    EXPECT_EQ(g.next(), 1);
    EXPECT_TRUE(contains(error, "empty generator")) << error;
}

// ---- yield_from: sub-generators -----------------------------------------------------------

generator<int> concatenates(int a, int b) {
    co_yield yield_from(count_to(a));
    co_yield 0;
    co_yield yield_from(count_to(b));
}

TEST(generator, yield_from_yields_every_value_of_the_sub_generator) {
    auto g = concatenates(2, 3);
    EXPECT_EQ(drain(g), (std::vector<int>{1, 2, 0, 1, 2, 3}));
}

TEST(generator, yield_from_evaluates_to_the_result_of_the_sub_generator) {
    auto g = []() -> generator<int, void, int> {
        int r = co_yield yield_from(returns_after(2, 40));
        co_return r + 2;
    }();
    EXPECT_EQ(drain(g), (std::vector<int>{0, 1}));
    EXPECT_EQ(g.result(), 42);
}

TEST(generator, yield_from_a_sub_generator_with_a_different_return_type) {
    auto g = []() -> generator<int, void, std::string> {
        int n = co_yield yield_from(returns_after(1, 3));
        co_yield yield_from(count_to(1)); // void
        std::unique_ptr<int> p =
            co_yield yield_from([]() -> generator<int, void, std::unique_ptr<int>> {
                co_yield 7;
                co_return std::make_unique<int>(4);
            }());
        co_return std::string(static_cast<std::size_t>(n + *p), '!');
    }();
    EXPECT_EQ(drain(g), (std::vector<int>{0, 1, 7}));
    EXPECT_EQ(g.result(), "!!!!!!!");
}

TEST(generator, yield_from_forwards_send_to_the_sub_generator) {
    auto g = []() -> generator<int, int, int> {
        int total = co_yield yield_from(doubler());
        auto after = co_yield -total;
        co_return after.value_or(0);
    }();
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.send(3), 6);
    EXPECT_EQ(g.send(4), 8);
    EXPECT_EQ(g.next(), -7); // the sub returned 7 and the outer yielded again
    EXPECT_EQ(g.send(11), std::nullopt);
    EXPECT_EQ(g.result(), 11);
}

TEST(generator, yield_from_forwards_throw_into_to_the_sub_generator) {
    auto g = []() -> generator<int> { co_yield yield_from(catches_runtime_error()); }();
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.throw_into(std::make_exception_ptr(std::runtime_error("in"))), -1);
    EXPECT_EQ(g.next(), 1);
}

TEST(generator, throw_into_uncaught_by_the_sub_is_raised_at_the_outer_co_yield) {
    auto g = []() -> generator<int, void, std::string> {
        try {
            co_yield yield_from(counting_forever());
        } catch (const std::logic_error& e) {
            co_return std::string("outer caught ") + e.what();
        }
        co_return "not reached";
    }();
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.throw_into(std::make_exception_ptr(std::logic_error("boom"))), std::nullopt);
    EXPECT_EQ(g.result(), "outer caught boom");
}

TEST(generator, exception_escaping_the_sub_is_raised_at_the_outer_co_yield_and_catchable) {
    auto g = []() -> generator<int> {
        bool caught = false;
        try {
            co_yield yield_from(throws_after(2));
        } catch (const std::runtime_error&) {
            caught = true;
        }
        if (caught) {
            co_yield 100;
        }
    }();
    EXPECT_EQ(drain(g), (std::vector<int>{0, 1, 100}));
}

TEST(generator, exception_escaping_the_sub_propagates_out_of_next_if_uncaught) {
    auto g = []() -> generator<int> {
        co_yield yield_from(throws_after(1));
        co_yield 100;
    }();
    EXPECT_EQ(g.next(), 0);
    EXPECT_THROW(g.next(), std::runtime_error);
    EXPECT_TRUE(g.done());
    EXPECT_EQ(g.next(), std::nullopt);
}

generator<int, void, int> closes_sub(std::vector<std::string>* log, on_exit inner_mode) {
    try {
        int r = co_yield yield_from(handles_exit(log, inner_mode));
        log->push_back("outer got result");
        co_return r;
    } catch (const generator_exit&) {
        log->push_back("outer cleanup");
        throw;
    }
}

TEST(generator, close_while_delegating_closes_the_sub_then_the_outer) {
    std::vector<std::string> log;
    auto g = closes_sub(&log, on_exit::rethrow);
    EXPECT_EQ(g.next(), 1);
    g.close();
    EXPECT_EQ(log, (std::vector<std::string>{"cleanup", "outer cleanup"}));
    EXPECT_TRUE(g.done());
}

TEST(generator, close_while_delegating_raises_in_the_outer_even_if_the_sub_returns) {
    std::vector<std::string> log;
    auto g = closes_sub(&log, on_exit::return_normally);
    EXPECT_EQ(g.next(), 1);
    g.close();
    EXPECT_EQ(log, (std::vector<std::string>{"cleanup", "outer cleanup"}));
    EXPECT_THROW(g.result(), invalid_state_error);
}

TEST(generator, close_while_delegating_propagates_another_exception_from_the_sub) {
    std::vector<std::string> log;
    auto g = closes_sub(&log, on_exit::throw_other);
    EXPECT_EQ(g.next(), 1);
    EXPECT_THROW(g.close(), std::runtime_error);
    EXPECT_EQ(log, std::vector<std::string>{"cleanup"});
}

TEST(generator, close_while_delegating_to_a_sub_that_yields_again_throws_invalid_state) {
    // Python 3.11: the sub's close() raises RuntimeError('generator ignored GeneratorExit')
    // in the outer at its `yield from`; the outer does not catch it and ends with it, so
    // close() raises it, and the outer is finished (log: ['cleanup']).
    std::vector<std::string> log;
    auto g = closes_sub(&log, on_exit::yield_again);
    EXPECT_EQ(g.next(), 1);
    const std::string what = invalid_state_message([&] { g.close(); });
    EXPECT_TRUE(contains(what, "ignored generator_exit")) << what;
    EXPECT_TRUE(g.done());
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_THROW(g.result(), invalid_state_error);
    EXPECT_EQ(log, std::vector<std::string>{"cleanup"});
}

TEST(generator, throw_into_generator_exit_while_delegating_to_a_sub_that_yields_again_throws) {
    // Regression: throw_into() returned the sub's 99. Python 3.11: RuntimeError('generator
    // ignored GeneratorExit') out of throw(), and the outer is finished (log: ['cleanup']).
    std::vector<std::string> log;
    auto g = closes_sub(&log, on_exit::yield_again);
    EXPECT_EQ(g.next(), 1);
    const std::string what = invalid_state_message(
        [&] { (void)g.throw_into(std::make_exception_ptr(generator_exit{})); });
    EXPECT_TRUE(contains(what, "ignored generator_exit")) << what;
    EXPECT_TRUE(g.done());
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(log, std::vector<std::string>{"cleanup"});
}

generator<int, void, int> catches_ignored_exit(std::vector<std::string>* log) {
    bool caught = false;
    try {
        co_yield yield_from(handles_exit(log, on_exit::yield_again));
    } catch (const invalid_state_error&) {
        caught = true;
    }
    if (caught) {
        log->push_back("outer caught");
        co_yield 5;
    }
    co_yield 6;
    co_return 0;
}

TEST(generator, the_delegating_generator_can_catch_a_sub_ignoring_generator_exit) {
    // Python 3.11: the outer catches the RuntimeError and yields 5: throw() gives 5, then
    // next() gives 6.
    std::vector<std::string> log;
    auto g = catches_ignored_exit(&log);
    EXPECT_EQ(g.next(), 1);
    EXPECT_EQ(g.throw_into(std::make_exception_ptr(generator_exit{})), 5);
    EXPECT_EQ(g.next(), 6);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(log, (std::vector<std::string>{"cleanup", "outer caught"}));
}

TEST(generator, a_sub_ignoring_generator_exit_two_levels_down_raises_in_the_middle_one_first) {
    // Python 3.11: top delegates to mid, which delegates to the sub that ignores
    // GeneratorExit: the error reaches mid at its `yield from`, mid does not catch it, and
    // top does: throw() gives top's 7.
    std::vector<std::string> log;
    auto g = [](std::vector<std::string>* out) -> generator<int, void, int> {
        bool caught = false;
        try {
            co_yield yield_from(closes_sub(out, on_exit::yield_again));
        } catch (const invalid_state_error&) {
            caught = true;
        }
        if (caught) {
            out->push_back("top caught");
            co_yield 7;
        }
        co_return 0;
    }(&log);
    EXPECT_EQ(g.next(), 1);
    EXPECT_EQ(g.throw_into(std::make_exception_ptr(generator_exit{})), 7);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(log, (std::vector<std::string>{"cleanup", "top caught"}));
}

TEST(generator, throw_into_generator_exit_while_delegating_raises_it_in_the_outer_too) {
    // Regression: unlike close(), throwing generator_exit in let the outer continue with
    // the sub's result when the sub returned after catching it (PEP 380 closes both).
    std::vector<std::string> log;
    auto g = closes_sub(&log, on_exit::return_normally);
    EXPECT_EQ(g.next(), 1);
    EXPECT_THROW(g.throw_into(std::make_exception_ptr(generator_exit{})), generator_exit);
    EXPECT_EQ(log, (std::vector<std::string>{"cleanup", "outer cleanup"}));
    EXPECT_TRUE(g.done());
}

TEST(generator, throw_into_generator_exit_that_the_body_ignores_yields_again) {
    // Unlike close(), throw_into() returns the value the body yields instead of exiting.
    std::vector<std::string> log;
    auto g = handles_exit(&log, on_exit::yield_again);
    EXPECT_EQ(g.next(), 1);
    EXPECT_EQ(g.throw_into(std::make_exception_ptr(generator_exit{})), 99);
    EXPECT_EQ(g.next(), std::nullopt);
}

generator<int, void, int> cleanup_steps(std::vector<std::string>* log, int steps) {
    for (int i = 0; i < steps; ++i) {
        log->push_back("cleanup step");
    }
    co_return steps;
}

TEST(generator, close_lets_the_outer_delegate_to_a_new_sub_while_cleaning_up) {
    // Regression: while close() ran, every sub-generator that returned normally (not just
    // the one being closed) made generator_exit be raised in its delegating generator.
    std::vector<std::string> log;
    auto g = [](std::vector<std::string>* out) -> generator<int> {
        bool exiting = false;
        try {
            co_yield yield_from(counting_forever());
        } catch (const generator_exit&) {
            exiting = true;
        }
        if (exiting) {
            int steps = co_yield yield_from(cleanup_steps(out, 2));
            out->push_back("cleaned up in " + std::to_string(steps) + " steps");
        }
    }(&log);
    EXPECT_EQ(g.next(), 0);
    g.close();
    EXPECT_EQ(log,
              (std::vector<std::string>{"cleanup step", "cleanup step", "cleaned up in 2 steps"}));
}

TEST(generator, close_lets_the_closed_sub_delegate_to_a_new_sub_while_cleaning_up) {
    // Regression: as above, one level down: the sub being closed delegates during its
    // cleanup; only its own return raises generator_exit in the outer.
    std::vector<std::string> log;
    auto inner = [](std::vector<std::string>* out) -> generator<int> {
        bool exiting = false;
        try {
            co_yield 1;
        } catch (const generator_exit&) {
            exiting = true;
        }
        if (exiting) {
            co_yield yield_from(cleanup_steps(out, 1));
            out->push_back("inner returns");
        }
    };
    auto g = [](std::vector<std::string>* out, generator<int> sub) -> generator<int> {
        try {
            co_yield yield_from(std::move(sub));
            out->push_back("outer continued");
        } catch (const generator_exit&) {
            out->push_back("outer cleanup");
            throw;
        }
    }(&log, inner(&log));
    EXPECT_EQ(g.next(), 1);
    g.close();
    EXPECT_EQ(log, (std::vector<std::string>{"cleanup step", "inner returns", "outer cleanup"}));
}

TEST(generator, yield_from_an_lvalue_sub_continues_where_it_was) {
    auto sub = count_to(5);
    EXPECT_EQ(sub.next(), 1);
    EXPECT_EQ(sub.next(), 2);
    auto g = [](generator<int>* s) -> generator<int> {
        co_yield 0;
        co_yield yield_from(*s);
        co_yield 0;
    }(&sub);
    EXPECT_EQ(drain(g), (std::vector<int>{0, 3, 4, 5, 0}));
    EXPECT_TRUE(sub.done());
}

TEST(generator, yield_from_an_lvalue_sub_evaluates_to_its_result) {
    auto sub = returns_after(2, 8);
    auto g = [](generator<int, void, int>* s) -> generator<int, void, int> {
        co_return co_yield yield_from(*s);
    }(&sub);
    EXPECT_EQ(drain(g), (std::vector<int>{0, 1}));
    EXPECT_EQ(g.result(), 8);
    EXPECT_TRUE(sub.done());
}

TEST(generator, destroying_the_outer_while_delegating_leaves_an_lvalue_sub_to_its_owner) {
    auto sub = count_to(5);
    {
        auto g = [](generator<int>* s) -> generator<int> { co_yield yield_from(*s); }(&sub);
        EXPECT_EQ(g.next(), 1);
        EXPECT_EQ(g.next(), 2);
    }
    EXPECT_FALSE(sub.done());
    EXPECT_EQ(drain(sub), (std::vector<int>{3, 4, 5}));
}

TEST(generator, destroying_the_outer_leaves_a_delegating_lvalue_sub_usable) {
    // The lvalue sub is itself delegating, and its chain changed while it was delegated to
    // (its first sub-generator finished, a second one started): its owner continues there.
    auto sub = concatenates(3, 2);
    EXPECT_EQ(sub.next(), 1);
    {
        auto g = [](generator<int>* s) -> generator<int> {
            co_yield -1;
            co_yield yield_from(*s);
        }(&sub);
        EXPECT_EQ(g.next(), -1);
        EXPECT_EQ(g.next(), 2);
        EXPECT_EQ(g.next(), 3);
        EXPECT_EQ(g.next(), 0);
        EXPECT_EQ(g.next(), 1);
    }
    EXPECT_EQ(drain(sub), std::vector<int>{2});
}

/// `depth` generators, each owning the next as a local and delegating to it by reference.
generator<int> lvalue_chain(int depth, int* locals_destroyed) {
    struct on_destroy {
        int* count;
        ~on_destroy() { ++*count; }
    } guard{locals_destroyed};
    if (depth == 0) {
        co_yield 0;
        co_yield 1;
        co_return;
    }
    auto sub = lvalue_chain(depth - 1, locals_destroyed);
    co_yield yield_from(sub);
}

TEST(generator, destroying_a_chain_of_lvalue_sub_generators_destroys_every_level) {
    // Regression: each level detached its lvalue sub by walking the rest of the chain, so
    // destroying such a chain took quadratic time (20,000 levels: 20 s; now milliseconds).
    // Unlike a chain of owned sub-generators, this one is destroyed recursively (each
    // level's local destroys the next), so it is kept shallow enough for the stack of a
    // sanitizer build.
    constexpr int depth = 5'000;
    int locals_destroyed = 0;
    {
        auto g = lvalue_chain(depth, &locals_destroyed);
        EXPECT_EQ(g.next(), 0);
    }
    EXPECT_EQ(locals_destroyed, depth + 1);
}

TEST(generator, a_chain_of_lvalue_sub_generators_runs_to_the_end) {
    int locals_destroyed = 0;
    auto g = lvalue_chain(5'000, &locals_destroyed);
    EXPECT_EQ(drain(g), (std::vector<int>{0, 1}));
    EXPECT_EQ(locals_destroyed, 5'001);
}

TEST(generator, operations_on_a_sub_being_delegated_to_throw_and_disturb_nothing) {
    // Regression: send/throw_into/close stored their value or exception in the sub before
    // refusing, so the outer's next resume delivered it; the sub's root-only leaf pointer
    // was also stale, and sending wrote into a destroyed frame.
    auto sub = []() -> generator<int, int> {
        co_yield yield_from([]() -> generator<int, int> { co_yield 1; }());
        auto got = co_yield 2;
        co_yield got ? *got : -2;
        co_yield 3;
    }();
    EXPECT_EQ(sub.next(), 1); // its leaf is now the inner generator
    auto g = [](generator<int, int>* s) -> generator<int, int> { co_yield yield_from(*s); }(&sub);
    EXPECT_EQ(g.next(), 2); // the inner generator finished and was destroyed
    EXPECT_TRUE(contains(invalid_state_message([&] { (void)sub.next(); }), "delegated"));
    EXPECT_THROW(sub.send(5), invalid_state_error);
    EXPECT_THROW(sub.throw_into(std::make_exception_ptr(std::runtime_error("no"))),
                 invalid_state_error);
    EXPECT_THROW(sub.close(), invalid_state_error);
    EXPECT_THROW(sub.begin(), invalid_state_error);
    EXPECT_EQ(g.next(), -2); // nothing was sent
    EXPECT_EQ(g.next(), 3);
    EXPECT_EQ(g.next(), std::nullopt);
}

TEST(generator, yield_from_a_finished_generator_gives_its_result_immediately) {
    auto sub = returns_after(2, 7);
    EXPECT_EQ(drain(sub), (std::vector<int>{0, 1}));
    auto g = [](generator<int, void, int>* s) -> generator<int> {
        int r = co_yield yield_from(*s);
        co_yield r;
    }(&sub);
    EXPECT_EQ(drain(g), std::vector<int>{7});
}

TEST(generator, yield_from_a_generator_that_yields_nothing_gives_its_result) {
    auto g = []() -> generator<int> {
        int r = co_yield yield_from(returns_after(0, 9));
        co_yield r;
    }();
    EXPECT_EQ(drain(g), std::vector<int>{9});
}

TEST(generator, yield_from_one_of_several_generators_in_sequence) {
    auto g = []() -> generator<int, void, int> {
        int total = 0;
        for (int i = 1; i <= 3; ++i) {
            total += co_yield yield_from(returns_after(i, i * 10));
        }
        co_return total;
    }();
    EXPECT_EQ(drain(g), (std::vector<int>{0, 0, 1, 0, 1, 2}));
    EXPECT_EQ(g.result(), 60);
}

// ---- yield_from: input ranges -------------------------------------------------------------

// g++ 12 rejects a braced list inside a co_yield expression ("array used as initializer",
// a compiler bug with the initializer_list's backing array), so the tests build their
// temporary containers through these functions.
std::vector<int> one_to(int n) {
    std::vector<int> v;
    for (int i = 1; i <= n; ++i) {
        v.push_back(i);
    }
    return v;
}

std::vector<std::string> strings(const char* a, const char* b) {
    std::vector<std::string> v;
    v.emplace_back(a);
    v.emplace_back(b);
    return v;
}

TEST(generator, yield_from_a_vector_yields_its_elements_in_place) {
    const std::vector<int> v{1, 2, 3};
    auto g = [](const std::vector<int>* values) -> generator<int> {
        co_yield yield_from(*values);
        co_yield 4;
    }(&v);
    EXPECT_EQ(drain(g), (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(v, (std::vector<int>{1, 2, 3}));
}

TEST(generator, yield_from_an_iota_view) {
#if CORIO_TEST_HAS_STD_VIEWS
    auto g = []() -> generator<int> { co_yield yield_from(std::views::iota(0, 5)); }();
    EXPECT_EQ(drain(g), (std::vector<int>{0, 1, 2, 3, 4}));
#else
    CORIO_TEST_SKIP_WITHOUT_STD_VIEWS();
#endif
}

TEST(generator, yield_from_an_unbounded_view_stops_when_the_consumer_does) {
#if CORIO_TEST_HAS_STD_VIEWS
    auto g = []() -> generator<int> { co_yield yield_from(std::views::iota(10)); }();
    EXPECT_EQ(g.next(), 10);
    EXPECT_EQ(g.next(), 11);
#else
    CORIO_TEST_SKIP_WITHOUT_STD_VIEWS();
#endif
}

TEST(generator, yield_from_a_transform_view_of_a_temporary) {
#if CORIO_TEST_HAS_STD_VIEWS
    auto g = []() -> generator<std::string> {
        co_yield yield_from(one_to(2) | std::views::transform([](int n) {
                                return std::string(static_cast<std::size_t>(n), 'r');
                            }));
    }();
    EXPECT_EQ(drain(g), (std::vector<std::string>{"r", "rr"}));
#else
    CORIO_TEST_SKIP_WITHOUT_STD_VIEWS();
#endif
}

/// A single-pass range (input iterators only, move-only iterator, sentinel end) counting
/// down from `from` to 1; each element is a std::size_t, convertible to the tests' Y.
class countdown_range {
public:
    class iterator {
    public:
        using iterator_concept = std::input_iterator_tag;
        using value_type = std::size_t;
        using difference_type = std::ptrdiff_t;
        explicit iterator(std::size_t* left) : m_left(left) {}
        iterator(iterator&&) = default;
        iterator& operator=(iterator&&) = default;
        std::size_t operator*() const { return *m_left; }
        iterator& operator++() {
            --*m_left;
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) {
            return *it.m_left == 0;
        }

    private:
        std::size_t* m_left;
    };
    explicit countdown_range(std::size_t from) : m_left(from) {}
    iterator begin() { return iterator(&m_left); }
    std::default_sentinel_t end() const { return {}; }

private:
    std::size_t m_left;
};
static_assert(std::ranges::input_range<countdown_range>);
static_assert(!std::ranges::forward_range<countdown_range>);

TEST(generator, yield_from_a_single_pass_input_range) {
    auto g = []() -> generator<long> { co_yield yield_from(countdown_range(3)); }();
    EXPECT_EQ(drain(g), (std::vector<long>{3, 2, 1}));
}

TEST(generator, yield_from_a_list_of_strings_copies_them) {
    std::list<std::string> words{"a string longer than any small-string buffer",
                                 "another string longer than any small-string buffer"};
    auto g = [](std::list<std::string>* w) -> generator<std::string> {
        co_yield yield_from(*w);
    }(&words);
    EXPECT_EQ(drain(g), (std::vector<std::string>(words.begin(), words.end())));
    EXPECT_EQ(words.front(), "a string longer than any small-string buffer");
}

TEST(generator, yield_from_an_rvalue_temporary_vector) {
    auto g = []() -> generator<std::string> {
        co_yield yield_from(strings("x", "y"));
        co_yield "z";
    }();
    EXPECT_EQ(drain(g), (std::vector<std::string>{"x", "y", "z"}));
}

TEST(generator, yield_from_a_range_of_elements_convertible_to_y) {
    auto g = []() -> generator<std::string> {
        const std::vector<const char*> literals{"p", "q"};
        co_yield yield_from(literals);
    }();
    EXPECT_EQ(drain(g), (std::vector<std::string>{"p", "q"}));
    auto d = []() -> generator<double> { co_yield yield_from(one_to(2)); }();
    EXPECT_EQ(drain(d), (std::vector<double>{1.0, 2.0}));
}

TEST(generator, yield_from_an_empty_range_yields_nothing) {
    auto g = []() -> generator<int> {
        co_yield yield_from(one_to(0));
        co_yield 1;
    }();
    EXPECT_EQ(drain(g), std::vector<int>{1});
}

TEST(generator, values_sent_while_delegating_to_a_range_are_discarded) {
    auto g = []() -> generator<int, int> {
        co_yield yield_from(one_to(2));
        auto got = co_yield 3;
        co_yield got.value_or(-1);
    }();
    EXPECT_EQ(g.next(), 1);
    EXPECT_EQ(g.send(100), 2);
    EXPECT_EQ(g.send(200), 3);
    EXPECT_EQ(g.send(300), 300);
}

TEST(generator, close_while_delegating_to_a_range_raises_in_the_outer) {
    bool cleaned_up = false;
    auto g = [](bool* flag) -> generator<int> {
        try {
            co_yield yield_from(countdown_range(1000));
        } catch (const generator_exit&) {
            *flag = true;
            throw;
        }
    }(&cleaned_up);
    EXPECT_EQ(g.next(), 1000);
    g.close();
    EXPECT_TRUE(cleaned_up);
}

TEST(generator, throw_into_while_delegating_to_a_range_raises_in_the_outer) {
    auto g = []() -> generator<int> {
        bool caught = false;
        try {
            co_yield yield_from(one_to(3));
        } catch (const std::runtime_error&) {
            caught = true;
        }
        if (caught) {
            co_yield -1;
        }
    }();
    EXPECT_EQ(g.next(), 1);
    EXPECT_EQ(g.throw_into(std::make_exception_ptr(std::runtime_error("stop"))), -1);
    EXPECT_EQ(g.next(), std::nullopt);
}

// ---- deep delegation ----------------------------------------------------------------------

struct chain_stats {
    int levels_ended = 0;
    int exits_seen = 0;
};

/// A chain `depth` generators deep; the innermost yields 0, then doubles what it is sent,
/// yields -1 for a caught std::runtime_error, and returns the sum it was sent. Every level
/// adds one to the result and counts generator_exit going through it.
generator<int, int, long> chain(int depth, chain_stats* stats) {
    struct on_destroy {
        chain_stats* stats;
        ~on_destroy() { ++stats->levels_ended; }
    } guard{stats};
    if (depth == 0) {
        long total = 0;
        int to_yield = 0;
        for (;;) {
            std::optional<int> sent;
            bool caught = false;
            try {
                sent = co_yield to_yield;
            } catch (const std::runtime_error&) {
                caught = true;
            } catch (const generator_exit&) {
                ++stats->exits_seen;
                throw;
            }
            if (caught) {
                to_yield = -1;
                continue;
            }
            if (!sent) {
                co_return total;
            }
            total += *sent;
            to_yield = *sent * 2;
        }
    }
    try {
        long r = co_yield yield_from(chain(depth - 1, stats));
        co_return r + 1;
    } catch (const generator_exit&) {
        ++stats->exits_seen;
        throw;
    }
}

TEST(generator, chain_100000_deep_next_and_result) {
    chain_stats stats;
    {
        auto g = chain(deep, &stats);
        EXPECT_EQ(g.next(), 0);
        EXPECT_EQ(g.next(), std::nullopt);
        EXPECT_EQ(g.result(), deep);
    }
    EXPECT_EQ(stats.levels_ended, deep + 1);
}

TEST(generator, chain_100000_deep_send) {
    chain_stats stats;
    auto g = chain(deep, &stats);
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.send(5), 10);
    EXPECT_EQ(g.send(6), 12);
    EXPECT_EQ(g.next(), std::nullopt);
    EXPECT_EQ(g.result(), 11 + deep);
}

TEST(generator, chain_100000_deep_throw_into_caught_at_the_bottom) {
    chain_stats stats;
    auto g = chain(deep, &stats);
    EXPECT_EQ(g.next(), 0);
    EXPECT_EQ(g.send(1), 2);
    EXPECT_EQ(g.throw_into(std::make_exception_ptr(std::runtime_error("deep"))), -1);
    EXPECT_EQ(g.send(2), 4);
}

TEST(generator, chain_100000_deep_throw_into_uncaught_propagates_out) {
    chain_stats stats;
    auto g = chain(deep, &stats);
    EXPECT_EQ(g.next(), 0);
    EXPECT_THROW(g.throw_into(std::make_exception_ptr(std::logic_error("up"))), std::logic_error);
    EXPECT_TRUE(g.done());
    EXPECT_EQ(stats.levels_ended, deep + 1); // every level's locals were unwound
}

TEST(generator, chain_100000_deep_close_exits_every_level) {
    chain_stats stats;
    auto g = chain(deep, &stats);
    EXPECT_EQ(g.next(), 0);
    g.close();
    EXPECT_TRUE(g.done());
    EXPECT_EQ(stats.exits_seen, deep + 1);
}

TEST(generator, chain_100000_deep_destroyed_while_suspended) {
    chain_stats stats;
    {
        auto g = chain(deep, &stats);
        EXPECT_EQ(g.next(), 0);
        EXPECT_EQ(g.send(1), 2);
    }
    EXPECT_EQ(stats.levels_ended, deep + 1);
    EXPECT_EQ(stats.exits_seen, 0);
}

TEST(generator, chain_100000_deep_range_for) {
    // Each level yields its depth before delegating, so values come out deepest last.
    auto countdown = [](auto& self, int n) -> generator<int> {
        co_yield n;
        if (n > 0) {
            co_yield yield_from(self(self, n - 1));
        }
    };
    long sum = 0;
    int count = 0;
    for (int v : countdown(countdown, deep)) {
        sum += v;
        ++count;
    }
    EXPECT_EQ(count, deep + 1);
    EXPECT_EQ(sum, static_cast<long>(deep) * (deep + 1) / 2);
}

struct tree {
    int value;
    std::unique_ptr<tree> left;
    std::unique_ptr<tree> right;
};

std::unique_ptr<tree> make_tree(int lo, int hi) {
    if (lo > hi) {
        return nullptr;
    }
    int mid = lo + (hi - lo) / 2;
    return std::make_unique<tree>(tree{mid, make_tree(lo, mid - 1), make_tree(mid + 1, hi)});
}

/// In-order walk that returns the number of nodes visited.
generator<int, void, int> in_order(const tree* t) {
    if (t == nullptr) {
        co_return 0;
    }
    int left = co_yield yield_from(in_order(t->left.get()));
    co_yield t->value;
    int right = co_yield yield_from(in_order(t->right.get()));
    co_return left + 1 + right;
}

TEST(generator, recursive_tree_walk_yields_in_order) {
    auto root = make_tree(1, 1000);
    auto g = in_order(root.get());
    std::vector<int> expected(1000);
    for (int i = 0; i < 1000; ++i) {
        expected[i] = i + 1;
    }
    EXPECT_EQ(drain(g), expected);
    EXPECT_EQ(g.result(), 1000);
}

TEST(generator, recursive_tree_walk_on_a_degenerate_100000_deep_tree) {
    // A right spine: the walk delegates 100,000 levels deep.
    std::unique_ptr<tree> root;
    for (int i = deep; i >= 1; --i) {
        root = std::make_unique<tree>(tree{i, nullptr, std::move(root)});
    }
    {
        auto g = in_order(root.get());
        long sum = 0;
        for (int v : g) {
            sum += v;
        }
        EXPECT_EQ(sum, static_cast<long>(deep) * (deep + 1) / 2);
        EXPECT_EQ(g.result(), deep);
    }
    // Dismantle the spine iteratively: the recursive unique_ptr destructor would not fit.
    while (root) {
        root = std::move(root->right);
    }
}

// ---- lifetimes ----------------------------------------------------------------------------

/// Yields a temporary, a copied lvalue and a moved lvalue, and returns a counted value.
generator<counted, void, counted> yields_counted(int start) {
    counted local(start);
    co_yield counted(start + 1);
    co_yield local;
    co_yield std::move(local);
    co_return counted(start + 100);
}

TEST(generator, every_value_is_destroyed_once_after_a_normal_end) {
    counted::reset();
    {
        auto g = yields_counted(1);
        std::vector<int> values;
        while (auto v = g.next()) {
            values.push_back(v->value);
        }
        EXPECT_EQ(values, (std::vector<int>{2, 1, 1}));
        EXPECT_EQ(counted::alive(), 1); // only the result, kept in the frame
        EXPECT_EQ(g.result().value, 101);
    }
    expect_all_counted_destroyed();
    EXPECT_EQ(counted::copy_constructions, 1);
}

TEST(generator, every_value_is_destroyed_once_after_close) {
    counted::reset();
    {
        auto g = yields_counted(1);
        EXPECT_EQ(g.next()->value, 2);
        g.close();
        EXPECT_EQ(counted::alive(), 0);
    }
    expect_all_counted_destroyed();
}

TEST(generator, every_value_is_destroyed_once_after_an_exception) {
    counted::reset();
    {
        auto g = []() -> generator<counted, void, counted> {
            counted local(1);
            co_yield counted(2);
            throw std::runtime_error("failed");
        }();
        EXPECT_EQ(g.next()->value, 2);
        EXPECT_THROW(g.next(), std::runtime_error);
        EXPECT_EQ(counted::alive(), 0);
    }
    expect_all_counted_destroyed();
}

TEST(generator, every_value_is_destroyed_once_after_throw_into) {
    counted::reset();
    {
        auto g = yields_counted(1);
        EXPECT_EQ(g.next()->value, 2);
        EXPECT_THROW(g.throw_into(std::make_exception_ptr(std::runtime_error("in"))),
                     std::runtime_error);
        EXPECT_EQ(counted::alive(), 0);
    }
    expect_all_counted_destroyed();
}

TEST(generator, every_value_is_destroyed_once_when_destroyed_before_starting) {
    counted::reset();
    {
        auto g = [](counted by_value) -> generator<counted> {
            co_yield std::move(by_value);
        }(counted(1));
        EXPECT_EQ(counted::alive(), 1); // the frame's copy of the parameter
    }
    expect_all_counted_destroyed();
}

TEST(generator, every_value_is_destroyed_once_when_destroyed_at_each_suspension) {
    for (int stop = 1; stop <= 3; ++stop) {
        counted::reset();
        {
            auto g = yields_counted(1);
            for (int i = 0; i < stop; ++i) {
                ASSERT_TRUE(g.next());
            }
        }
        expect_all_counted_destroyed();
    }
}

TEST(generator, every_value_is_destroyed_once_after_range_for_break) {
    counted::reset();
    for (counted& c : yields_counted(1)) {
        if (c.value == 1) {
            break;
        }
    }
    expect_all_counted_destroyed();
}

TEST(generator, the_moved_out_result_is_the_only_live_value) {
    counted::reset();
    {
        counted r(0);
        {
            auto g = yields_counted(1);
            EXPECT_EQ(drain(g).size(), 3U);
            r = std::move(g).result();
        }
        EXPECT_EQ(r.value, 101);
        EXPECT_EQ(counted::alive(), 1);
        EXPECT_EQ(counted::copy_constructions, 1); // the co_yield of an lvalue, nothing else
    }
    expect_all_counted_destroyed();
}

/// `levels` generators deep, each holding a counted local, each yielding a counted
/// temporary before and after delegating, and each returning a counted value.
generator<counted, void, counted> nested_counted(int levels) {
    counted local(levels);
    co_yield counted(levels * 10);
    if (levels > 0) {
        counted inner = co_yield yield_from(nested_counted(levels - 1));
        co_yield std::move(inner);
    }
    co_yield counted(levels * 10 + 1);
    co_return counted(levels);
}

TEST(generator, every_value_is_destroyed_once_through_delegation) {
    counted::reset();
    {
        auto g = nested_counted(3);
        std::vector<int> values;
        for (counted& c : g) {
            values.push_back(c.value);
        }
        EXPECT_EQ(values, (std::vector<int>{30, 20, 10, 0, 1, 0, 11, 1, 21, 2, 31}));
        EXPECT_EQ(g.result().value, 3);
        EXPECT_EQ(counted::copy_constructions, 0);
    }
    expect_all_counted_destroyed();
}

TEST(generator, every_value_is_destroyed_once_when_destroyed_while_delegating) {
    // Destroy the root at every suspension point, up to four levels deep.
    for (int stop = 1; stop <= 11; ++stop) {
        counted::reset();
        {
            auto g = nested_counted(3);
            for (int i = 0; i < stop; ++i) {
                ASSERT_TRUE(g.next());
            }
        }
        expect_all_counted_destroyed();
    }
}

TEST(generator, every_value_is_destroyed_once_when_closed_while_delegating) {
    for (int stop = 1; stop <= 11; ++stop) {
        counted::reset();
        {
            auto g = nested_counted(3);
            for (int i = 0; i < stop; ++i) {
                ASSERT_TRUE(g.next());
            }
            g.close();
            EXPECT_EQ(counted::alive(), 0);
        }
        expect_all_counted_destroyed();
    }
}

TEST(generator, every_value_is_destroyed_once_when_an_exception_crosses_delegation) {
    counted::reset();
    {
        auto g = nested_counted(3);
        for (int i = 0; i < 4; ++i) {
            ASSERT_TRUE(g.next());
        }
        EXPECT_THROW(g.throw_into(std::make_exception_ptr(std::runtime_error("in"))),
                     std::runtime_error);
        EXPECT_EQ(counted::alive(), 0);
    }
    expect_all_counted_destroyed();
}

TEST(generator, every_value_is_destroyed_once_when_an_lvalue_sub_outlives_the_outer) {
    counted::reset();
    {
        auto sub = nested_counted(2);
        {
            auto g = [](generator<counted, void, counted>* s) -> generator<counted> {
                counted local(-1);
                co_yield yield_from(*s);
            }(&sub);
            EXPECT_EQ(g.next()->value, 20);
            EXPECT_EQ(g.next()->value, 10);
        }
        EXPECT_EQ(sub.next()->value, 0);
    }
    expect_all_counted_destroyed();
}

TEST(generator, every_value_is_destroyed_once_through_range_delegation) {
    counted::reset();
    {
        std::vector<counted> source;
        source.reserve(3);
        for (int i = 0; i < 3; ++i) {
            source.emplace_back(i);
        }
        auto g = [](std::vector<counted>* s) -> generator<counted> {
            co_yield yield_from(*s);
        }(&source);
        EXPECT_EQ(g.next()->value, 0);
        EXPECT_EQ(g.next()->value, 1);
    }
    expect_all_counted_destroyed();
}

} // namespace
