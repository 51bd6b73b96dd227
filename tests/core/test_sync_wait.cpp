#include "corio/sync_wait.hpp"

#include "corio/errors.hpp"
#include "corio/task.hpp"

#include "support/awaitables.hpp"
#include "support/counted.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using corio::task;
using corio_test::counted;

struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

task<int> value_of(int v) {
    co_return v;
}

task<void> set_flag(bool& flag) {
    flag = true;
    co_return;
}

task<int> throw_error(const char* message) {
    throw test_error(message);
    co_return 0; // makes this a coroutine
}

task<long long> sum_in_sequence(int n) {
    long long sum = 0;
    for (int i = 0; i < n; ++i) {
        sum += co_await value_of(i);
    }
    co_return sum;
}

/// Gives an lvalue reference to the object it was made with.
struct gives_reference {
    int& target;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    int& await_resume() const noexcept { return target; }
};

/// Gives an rvalue reference to the string it was made with, as a "take the buffer"
/// awaitable would.
struct gives_rvalue_reference {
    std::string& target;
    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    std::string&& await_resume() const noexcept { return std::move(target); }
};

static_assert(std::is_same_v<decltype(corio::sync_wait(value_of(1))), int>);
static_assert(std::is_same_v<decltype(corio::sync_wait(std::declval<task<int&>>())), int&>);
static_assert(std::is_same_v<decltype(corio::sync_wait(std::declval<task<>>())), void>);
static_assert(std::is_same_v<decltype(corio::sync_wait(std::declval<gives_reference>())), int&>);
static_assert(std::is_same_v<decltype(corio::sync_wait(std::declval<gives_rvalue_reference>())),
                             std::string>);

// --- Tasks --------------------------------------------------------------------------------

TEST(sync_wait, returns_the_value_of_a_task) {
    EXPECT_EQ(corio::sync_wait(value_of(42)), 42);
}

TEST(sync_wait, runs_a_void_task) {
    bool ran = false;
    corio::sync_wait(set_flag(ran));
    EXPECT_TRUE(ran);
}

task<int&> reference_to(int& target) {
    co_return target;
}

TEST(sync_wait, returns_a_reference_to_the_same_object) {
    int target = 1;
    int& ref = corio::sync_wait(reference_to(target));
    EXPECT_EQ(&ref, &target);
}

TEST(sync_wait, rethrows_the_exception_of_a_task) {
    try {
        corio::sync_wait(throw_error("boom"));
        ADD_FAILURE() << "no exception";
    } catch (const test_error& e) {
        EXPECT_STREQ(e.what(), "boom");
    }
}

task<void> throw_int() {
    throw 7;
    co_return;
}

TEST(sync_wait, rethrows_an_exception_of_any_type) {
    try {
        corio::sync_wait(throw_int());
        ADD_FAILURE() << "no exception";
    } catch (int e) {
        EXPECT_EQ(e, 7);
    }
}

TEST(sync_wait, accepts_a_named_task_which_cannot_then_be_awaited_again) {
    task<int> t = value_of(5);
    EXPECT_EQ(corio::sync_wait(t), 5);
    EXPECT_TRUE(t.done());
    EXPECT_THROW(corio::sync_wait(t), corio::invalid_state_error);
}

TEST(sync_wait, accepts_a_const_named_task) {
    const task<int> t = value_of(6);
    EXPECT_EQ(corio::sync_wait(t), 6);
}

task<std::unique_ptr<int>> make_unique_int(int v) {
    co_return std::make_unique<int>(v);
}

TEST(sync_wait, returns_a_move_only_result) {
    std::unique_ptr<int> p = corio::sync_wait(make_unique_int(8));
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, 8);
}

task<counted> make_counted(int v) {
    co_return counted(v);
}

TEST(sync_wait, result_is_destroyed_exactly_once) {
    counted::reset();
    {
        const counted c = corio::sync_wait(make_counted(3));
        EXPECT_EQ(c.value, 3);
        EXPECT_EQ(counted::alive(), 1);
    }
    EXPECT_EQ(counted::copy_constructions, 0);
    EXPECT_EQ(counted::alive(), 0);
}

TEST(sync_wait, runs_a_long_sequence_of_awaits) {
    EXPECT_EQ(corio::sync_wait(sum_in_sequence(100'000)), 99'999LL * 100'000 / 2);
}

// --- Other awaitables ---------------------------------------------------------------------

TEST(sync_wait, returns_the_value_of_a_plain_awaitable) {
    EXPECT_EQ(corio::sync_wait(corio_test::ready_value{3}), 3);
}

TEST(sync_wait, runs_a_void_plain_awaitable) {
    corio::sync_wait(std::suspend_never{});
    SUCCEED();
}

TEST(sync_wait, accepts_an_awaitable_with_a_member_operator_co_await) {
    EXPECT_EQ(corio::sync_wait(corio_test::member_co_await{4}), 4);
}

TEST(sync_wait, accepts_an_awaitable_with_a_free_operator_co_await) {
    const corio_test::free_co_await named{5};
    EXPECT_EQ(corio::sync_wait(named), 5);
}

TEST(sync_wait, returns_an_lvalue_reference_from_a_plain_awaitable) {
    int target = 0;
    int& ref = corio::sync_wait(gives_reference{target});
    EXPECT_EQ(&ref, &target);
}

// Regression: an awaitable whose await_resume returns `T&&` did not compile (the driver
// stored a std::optional<T&&>). sync_wait now returns such a result by value, moved out.
TEST(sync_wait, returns_an_rvalue_reference_result_by_value) {
    std::string buffer = "payload";
    std::string taken = corio::sync_wait(gives_rvalue_reference{buffer});
    EXPECT_EQ(taken, "payload");
    EXPECT_TRUE(buffer.empty()); // NOLINT(bugprone-use-after-move): moved out by sync_wait
}

TEST(sync_wait, rethrows_the_exception_of_a_plain_awaitable) {
    EXPECT_THROW(corio::sync_wait(corio_test::throwing_resume{}), std::runtime_error);
}

// --- Blocking and threads -----------------------------------------------------------------

TEST(sync_wait, blocks_until_another_thread_resumes_a_plain_awaitable) {
    corio_test::thread_hopper hopper;
    const std::thread::id resumed_on = corio::sync_wait(hopper.hop());
    EXPECT_NE(resumed_on, std::this_thread::get_id());
}

task<void> hop_then_sleep(corio_test::thread_hopper& hopper, std::atomic<bool>& finished) {
    co_await hopper.hop();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    finished = true;
}

TEST(sync_wait, blocks_until_a_task_finishing_on_another_thread_is_done) {
    corio_test::thread_hopper hopper;
    std::atomic<bool> finished = false;
    corio::sync_wait(hop_then_sleep(hopper, finished));
    EXPECT_TRUE(finished);
}

task<int> hop_then_value(corio_test::thread_hopper& hopper, int v) {
    co_await hopper.hop();
    co_return co_await value_of(v);
}

// The other thread signals completion and then still returns through the finished
// coroutines' frames while this thread destroys them: run often to give a sanitizer the race.
TEST(sync_wait, repeated_cross_thread_completion) {
    corio_test::thread_hopper hopper;
    for (int i = 0; i < 200; ++i) {
        EXPECT_EQ(corio::sync_wait(hop_then_value(hopper, i)), i);
    }
}

TEST(sync_wait, runs_on_several_threads_at_once) {
    std::vector<long long> sums(4);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < sums.size(); ++i) {
        threads.emplace_back([&sums, i] { sums[i] = corio::sync_wait(sum_in_sequence(10'000)); });
    }
    for (std::thread& t : threads) {
        t.join();
    }
    for (const long long sum : sums) {
        EXPECT_EQ(sum, 9'999LL * 10'000 / 2);
    }
}

// --- Nesting ------------------------------------------------------------------------------

task<int> nested_sync_wait() {
    const int inner = corio::sync_wait(value_of(2));
    co_return inner + co_await value_of(3);
}

TEST(sync_wait, nested_inside_a_task) {
    EXPECT_EQ(corio::sync_wait(nested_sync_wait()), 5);
}

task<long long> nested_sync_wait_in_a_loop() {
    long long sum = 0;
    for (int i = 0; i < 100; ++i) {
        sum += co_await value_of(1);
        sum += corio::sync_wait(sum_in_sequence(100));
    }
    co_return sum;
}

TEST(sync_wait, nested_inside_a_task_between_awaits) {
    EXPECT_EQ(corio::sync_wait(nested_sync_wait_in_a_loop()), 100 * (1 + 99LL * 100 / 2));
}

task<int> nested_cross_thread(corio_test::thread_hopper& hopper) {
    const int inner = corio::sync_wait(hop_then_value(hopper, 10));
    co_return inner + co_await hop_then_value(hopper, 1);
}

TEST(sync_wait, nested_inside_a_task_with_thread_hops) {
    corio_test::thread_hopper hopper;
    EXPECT_EQ(corio::sync_wait(nested_cross_thread(hopper)), 11);
}

} // namespace
