// async_generator: co_await and co_yield in one body, next/asend/athrow/aclose,
// finalization of a generator dropped half-iterated, shutdown_asyncgens at the end of run(),
// cancellation reaching the generator's pending await, and misuse errors.

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include "support/loop.hpp"

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using corio_test::run_test;
using corio_test::virtual_time;

static_assert(corio::async_iterable<corio::async_generator<int>>);
static_assert(corio::async_iterable<corio::queue<int>>);
static_assert(!corio::async_iterable<int>);

corio::async_generator<int> ticker(std::chrono::milliseconds every, int n) {
    for (int i = 0; i < n; ++i) {
        co_yield i;
        co_await corio::sleep(every);
    }
}

corio::task<> ticker_yields_then_sleeps() {
    auto& loop = corio::get_running_loop();
    const auto start = loop.time();
    std::vector<int> got;
    std::vector<corio::clock::duration> at;
    auto ticks = ticker(100ms, 4);
    while (auto t = co_await ticks.next()) {
        got.push_back(*t);
        at.push_back(loop.time() - start);
    }
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(at, (std::vector<corio::clock::duration>{0ms, 100ms, 200ms, 300ms}));
    EXPECT_TRUE(ticks.done());
    EXPECT_FALSE(co_await ticks.next()); // finished: stays empty
}

TEST(async_generator, ticker_yields_then_sleeps) {
    run_test(ticker_yields_then_sleeps);
}

corio::async_generator<std::string, std::string> echo() {
    std::string reply = "ready";
    while (true) {
        auto data = co_yield reply;
        co_await corio::sleep(1ms);
        if (!data) {
            reply = "got nothing";
        } else {
            reply = "got " + *data;
        }
    }
}

corio::task<> asend_walkthrough() {
    auto g = echo();
    EXPECT_THROW((void)g.asend("too early"), corio::invalid_state_error);
    EXPECT_EQ(co_await g.next(), "ready");
    EXPECT_EQ(co_await g.asend("data"), "got data");
    EXPECT_EQ(co_await g.asend("outer data"), "got outer data");
    EXPECT_EQ(co_await g.next(), "got nothing");
    co_await g.aclose();
    EXPECT_TRUE(g.done());
}

TEST(async_generator, asend_delivers_the_value_of_co_yield) {
    run_test(asend_walkthrough);
}

corio::async_generator<int> resilient() {
    int errors = 0;
    for (int i = 0;; ++i) {
        std::exception_ptr caught;
        try {
            co_yield i;
        } catch (const std::runtime_error&) {
            caught = std::current_exception();
        }
        if (caught) {
            ++errors;
            co_await corio::sleep(1ms);
            co_yield -errors;
        }
    }
}

corio::task<> athrow_caught_and_uncaught() {
    auto g = resilient();
    EXPECT_EQ(co_await g.next(), 0);
    EXPECT_EQ(co_await g.athrow(std::make_exception_ptr(std::runtime_error("x"))), -1);
    EXPECT_EQ(co_await g.next(), 1);
    EXPECT_THROW(co_await g.athrow(std::make_exception_ptr(std::logic_error("fatal"))),
                 std::logic_error);
    EXPECT_TRUE(g.done());
    EXPECT_FALSE(co_await g.next());
}

TEST(async_generator, athrow_is_raised_at_the_co_yield) {
    run_test(athrow_caught_and_uncaught);
}

corio::async_generator<int> with_cleanup(std::vector<std::string>& log) {
    std::exception_ptr exiting;
    try {
        for (int i = 0;; ++i) {
            co_yield i;
        }
    } catch (const corio::generator_exit&) {
        exiting = std::current_exception();
    }
    log.push_back("closing");
    co_await corio::sleep(10ms); // cleanup may await
    log.push_back("closed");
    std::rethrow_exception(exiting);
}

corio::task<> aclose_runs_cleanup() {
    std::vector<std::string> log;
    auto g = with_cleanup(log);
    EXPECT_EQ(co_await g.next(), 0);
    EXPECT_EQ(co_await g.next(), 1);
    const auto start = corio::get_running_loop().time();
    co_await g.aclose();
    EXPECT_EQ(corio::get_running_loop().time() - start, 10ms);
    EXPECT_EQ(log, (std::vector<std::string>{"closing", "closed"}));
    try {
        (void)g.next();
        ADD_FAILURE() << "next() after aclose() must throw";
    } catch (const corio::invalid_state_error& e) {
        EXPECT_NE(std::string(e.what()).find("aclose"), std::string::npos);
    }
    co_await g.aclose(); // closing again does nothing
}

TEST(async_generator, aclose_raises_generator_exit_and_awaits_cleanup) {
    run_test(aclose_runs_cleanup);
}

corio::async_generator<int> stubborn() {
    while (true) {
        try {
            co_yield 1;
        } catch (const corio::generator_exit&) {
        }
    }
}

corio::task<> aclose_ignored() {
    auto g = stubborn();
    EXPECT_EQ(co_await g.next(), 1);
    EXPECT_THROW(co_await g.aclose(), corio::invalid_state_error);
}

TEST(async_generator, aclose_of_a_generator_that_yields_again_is_an_error) {
    run_test(aclose_ignored);
}

corio::task<std::optional<int>> pull(corio::async_generator<int>& g) {
    co_return co_await g.next();
}

corio::task<> next_while_pending() {
    auto g = ticker(1h, 3);
    EXPECT_EQ(co_await g.next(), 0);
    auto first = corio::spawn(pull(g)); // parked in the generator's sleep
    co_await corio::sleep(1ms);
    try {
        (void)g.next();
        ADD_FAILURE() << "a second next() while one is pending must throw";
    } catch (const corio::invalid_state_error& e) {
        EXPECT_NE(std::string(e.what()).find("already running"), std::string::npos);
    }
    first.cancel();
    EXPECT_THROW(co_await first, corio::cancelled_error);
}

TEST(async_generator, next_while_a_previous_next_is_pending_is_an_error) {
    run_test(next_while_pending);
}

corio::task<> consume_two(std::vector<std::string>& log) {
    auto g = with_cleanup(log);
    EXPECT_EQ(co_await g.next(), 0);
    EXPECT_EQ(co_await g.next(), 1);
    // g is dropped here, half-iterated, while the loop runs.
}

corio::task<> dropped_half_iterated() {
    std::vector<std::string> log;
    co_await consume_two(log);
    EXPECT_TRUE(log.empty()); // finalization runs as its own task, on the loop
    co_await corio::sleep(20ms);
    EXPECT_EQ(log, (std::vector<std::string>{"closing", "closed"}));
}

TEST(async_generator, dropped_half_iterated_is_closed_on_the_loop) {
    run_test(dropped_half_iterated);
}

struct kept_alive {
    std::vector<std::string> log;
    corio::async_generator<int> gen;
};

corio::task<> leave_open(kept_alive& k) {
    k.gen = with_cleanup(k.log);
    EXPECT_EQ(co_await k.gen.next(), 0);
}

TEST(async_generator, run_closes_generators_still_open_at_the_end) {
    kept_alive k;
    corio::run(leave_open(k), virtual_time());
    EXPECT_EQ(k.log, (std::vector<std::string>{"closing", "closed"}));
    EXPECT_TRUE(k.gen.done());
}

corio::async_generator<int> slow_source(bool& cleaned_up) {
    std::exception_ptr cancelled;
    try {
        co_yield 1;
        co_await corio::sleep(1h);
        co_yield 2;
    } catch (const corio::cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (cancelled) {
        co_await corio::sleep(1ms);
        cleaned_up = true;
        std::rethrow_exception(cancelled);
    }
}

corio::task<int> iterate(bool& cleaned_up) {
    int sum = 0;
    auto g = slow_source(cleaned_up);
    while (auto v = co_await g.next()) {
        sum += *v;
    }
    co_return sum;
}

corio::task<> cancel_reaches_generator() {
    bool cleaned_up = false;
    auto h = corio::spawn(iterate(cleaned_up));
    co_await corio::sleep(10ms);
    h.cancel();
    EXPECT_THROW(co_await h, corio::cancelled_error);
    EXPECT_TRUE(cleaned_up);
    EXPECT_TRUE(h.cancelled());
}

TEST(async_generator, cancelling_the_iterating_task_cancels_the_pending_await) {
    run_test(cancel_reaches_generator);
}

corio::async_generator<std::unique_ptr<int>> boxes(int n) {
    for (int i = 0; i < n; ++i) {
        co_yield std::make_unique<int>(i);
    }
}

corio::task<> move_only_values() {
    int sum = 0;
    auto g = boxes(4);
    while (auto b = co_await g.next()) {
        sum += **b;
    }
    EXPECT_EQ(sum, 6);
}

TEST(async_generator, yields_move_only_values) {
    run_test(move_only_values);
}

corio::async_generator<int> fails_after(int n) {
    for (int i = 0; i < n; ++i) {
        co_yield i;
    }
    throw std::runtime_error("source broke");
}

corio::task<> exception_out_of_next() {
    auto g = fails_after(1);
    EXPECT_EQ(co_await g.next(), 0);
    EXPECT_THROW(co_await g.next(), std::runtime_error);
    EXPECT_FALSE(co_await g.next());
}

TEST(async_generator, an_exception_ending_the_body_comes_out_of_next_once) {
    run_test(exception_out_of_next);
}

corio::async_generator<int, int> echo_sent() {
    int v = 0;
    for (;;) {
        if (auto got = co_yield v) {
            v = *got;
        }
    }
}

corio::task<> same_next_awaited_twice() {
    // Python 3.11: awaiting one __anext__()/asend() awaitable twice raises RuntimeError
    // "cannot reuse already awaited __anext__()/asend()"; the generator is not resumed.
    auto g = ticker(0ms, 3);
    auto a = g.next();
    EXPECT_EQ(co_await a, 0);
    try {
        co_await a;
        ADD_FAILURE() << "a next() awaited twice must throw";
    } catch (const corio::invalid_state_error& e) {
        EXPECT_NE(std::string(e.what()).find("already awaited"), std::string::npos) << e.what();
    }
    EXPECT_EQ(co_await g.next(), 1); // not advanced by the second await

    auto e = echo_sent();
    EXPECT_EQ(co_await e.next(), 0);
    auto s = e.asend(7);
    EXPECT_EQ(co_await s, 7);
    EXPECT_THROW(co_await s, corio::invalid_state_error);
    EXPECT_EQ(co_await e.next(), 7);

    // Also once the generator has finished (the first await found it done).
    auto done = ticker(0ms, 0);
    auto n = done.next();
    EXPECT_FALSE(co_await n);
    EXPECT_THROW(co_await n, corio::invalid_state_error);
}

TEST(async_generator, awaiting_the_same_next_twice_is_an_error) {
    run_test(same_next_awaited_twice);
}

TEST(async_generator, empty_generator_operations_are_errors) {
    corio::async_generator<int> g;
    EXPECT_THROW((void)g.next(), corio::invalid_state_error);
    EXPECT_THROW((void)g.aclose(), corio::invalid_state_error);
}

} // namespace
