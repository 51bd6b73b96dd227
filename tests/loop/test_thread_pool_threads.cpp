// to_thread, run_in_executor, run_coroutine_threadsafe and thread_pool: results and
// exceptions cross threads; a cancelled to_thread abandons the wait, not the thread, and its
// result is dropped safely. Runs under ThreadSanitizer in CI (label "threads").

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

int add(int a, int b) {
    return a + b;
}

corio::task<> to_thread_gives_result() {
    const auto loop_thread = std::this_thread::get_id();
    std::thread::id worker;
    int r = co_await corio::to_thread(add, 2, 40);
    EXPECT_EQ(r, 42);
    auto record = [&worker] { worker = std::this_thread::get_id(); };
    co_await corio::to_thread(record);
    EXPECT_NE(worker, loop_thread);
    auto exclaim = [](std::string x) { return x + "!"; };
    std::string s = co_await corio::to_thread(exclaim, std::string("moved in"));
    EXPECT_EQ(s, "moved in!");
}

TEST(to_thread, runs_the_call_on_another_thread_and_gives_its_result) {
    corio::run(to_thread_gives_result());
}

corio::task<> to_thread_rethrows() {
    auto fail = []() -> int { throw std::runtime_error("worker"); };
    EXPECT_THROW(co_await corio::to_thread(fail), std::runtime_error);
    co_return;
}

TEST(to_thread, rethrows_the_exception_of_the_call) {
    corio::run(to_thread_rethrows());
}

// g++ 12 destroys a lambda closure with captures twice when the lambda is written inside a
// `co_await` expression (the closure is the caller's temporary: no callee can prevent it).
// The forms the documentation gives instead, written as one-liners inside co_await, keep
// every count right.
corio::task<> values_as_arguments() {
    auto shared = std::make_shared<int>(7);
    const long inside = co_await corio::to_thread(
        [](const std::shared_ptr<int>& p) { return p.use_count(); }, shared);
    EXPECT_EQ(inside, 2); // `shared` and the call's copy
    EXPECT_EQ(shared.use_count(), 1);
    const long moved_in = co_await corio::to_thread(
        [](std::shared_ptr<int> p) { return p.use_count(); }, std::make_shared<int>(8));
    EXPECT_EQ(moved_in, 1);
    std::weak_ptr<int> watch = shared;
    const int value =
        co_await corio::to_thread([](std::shared_ptr<int> p) { return *p; }, std::move(shared));
    EXPECT_EQ(value, 7);
    EXPECT_TRUE(watch.expired()) << "the moved-in argument was not destroyed";
}

TEST(to_thread, values_passed_after_the_callable_inside_co_await_are_destroyed_once) {
    corio::run(values_as_arguments());
}

corio::task<> named_lambda() {
    auto shared = std::make_shared<int>(7);
    auto work = [shared] { return shared.use_count(); };
    EXPECT_EQ(co_await corio::to_thread(work), 3); // `shared`, `work` and the call's copy
    EXPECT_EQ(shared.use_count(), 2);
    EXPECT_EQ(co_await corio::run_in_executor(corio::get_running_loop().default_executor(), work),
              3);
    EXPECT_EQ(shared.use_count(), 2);
}

TEST(to_thread, a_named_lambda_with_captures_is_copied_and_destroyed_once) {
    corio::run(named_lambda());
}

struct gate {
    std::latch release{1};
    std::atomic<bool> finished{false};
};

corio::task<> blocked_call(std::shared_ptr<gate> g) {
    // The worker keeps the gate alive: it outlives the coroutine that stops waiting.
    // (Named, not a temporary inside co_await: g++ 12 destroys a lambda temporary with
    // non-trivial captures twice when it appears in a co_await expression.)
    auto work = [g] {
        g->release.wait();
        g->finished = true;
        return std::string(1000, 'x'); // a result to drop
    };
    co_await corio::to_thread(std::move(work));
}

corio::task<> cancel_abandons_the_wait() {
    auto g = std::make_shared<gate>();
    auto h = corio::spawn(blocked_call(g));
    co_await corio::sleep(0s);
    co_await corio::sleep(0s);
    h.cancel();
    EXPECT_THROW(co_await h, corio::cancelled_error); // returns while the thread still runs
    EXPECT_FALSE(g->finished);
    g->release.count_down();
    // run() joins the pool at the end; the result arrives after nobody waits for it.
}

TEST(to_thread, cancelling_abandons_the_wait_not_the_thread) {
    corio::run(cancel_abandons_the_wait());
}

corio::task<> many_calls_bounded_pool() {
    corio::thread_pool pool(2);
    std::atomic<int> running{0};
    std::atomic<int> peak{0};
    std::vector<corio::join_handle<int>> hs;
    for (int i = 0; i < 8; ++i) {
        hs.push_back(corio::spawn(corio::run_in_executor(pool, [&, i] {
            const int now = ++running;
            int seen = peak.load();
            while (now > seen && !peak.compare_exchange_weak(seen, now)) {
            }
            std::this_thread::yield();
            --running;
            return i;
        })));
    }
    int sum = 0;
    for (auto& h : hs) {
        sum += co_await h;
    }
    EXPECT_EQ(sum, 28);
    auto seven = [] { return 7; };
    EXPECT_EQ(co_await corio::get_running_loop().run_in_executor(pool, seven), 7);
    EXPECT_LE(peak.load(), 2);
    EXPECT_LE(pool.thread_count(), 2u);
    pool.shutdown();
    EXPECT_THROW(pool.submit([] {}), corio::invalid_state_error);
}

TEST(run_in_executor, uses_the_given_pool_which_stays_within_its_bound) {
    corio::run(many_calls_bounded_pool());
}

// set_default_executor: to_thread uses the given executor, and a call that ends after its
// loop is gone (the executor outlives the loop) is dropped, never delivered to the loop.
TEST(set_default_executor, to_thread_uses_it_and_a_call_outliving_the_loop_is_dropped) {
    corio::thread_pool pool(2);
    std::latch entered(1);
    std::latch release(1);
    std::atomic<bool> finished{false};
    corio::run([&]() -> corio::task<> {
        corio::get_running_loop().set_default_executor(pool);
        EXPECT_EQ(&corio::get_running_loop().default_executor(), &pool);
        EXPECT_EQ(co_await corio::to_thread(add, 1, 2), 3);
        EXPECT_EQ(pool.thread_count(), 1U);
        // A call still running when the loop ends: its task is cancelled at the end of
        // run(), the loop closes and goes; then the call ends.
        (void)corio::spawn(corio::to_thread([&] {
            entered.count_down();
            release.wait();
            finished = true;
            return 1;
        }));
        co_await corio::to_thread([&] { entered.wait(); });
    }());
    release.count_down();
    pool.shutdown(true); // waits for the call: its result goes to a loop that is gone
    EXPECT_TRUE(finished.load());
}

corio::task<int> compute(int x) {
    co_await corio::sleep(1ms);
    co_return x * 2;
}

corio::task<int> fail_on_loop() {
    co_await corio::sleep(0s);
    throw std::logic_error("on the loop");
}

TEST(run_coroutine_threadsafe, submits_a_task_from_another_thread) {
    corio::event_loop loop;
    std::promise<corio::event_loop*> ready;
    std::thread client([&] {
        ready.get_future().wait();
        std::future<int> r = corio::run_coroutine_threadsafe(compute(21), loop);
        EXPECT_EQ(r.get(), 42);
        std::future<int> failing = corio::run_coroutine_threadsafe(fail_on_loop(), loop);
        EXPECT_THROW(failing.get(), std::logic_error);
        loop.call_soon_threadsafe([&loop] { loop.stop(); });
    });
    loop.call_soon([&] { ready.set_value(&loop); });
    loop.run_forever();
    client.join();
}

// Two jobs submitted at once while one thread is idle: the idle thread takes one, and the
// other gets a thread of its own (here the first waits for the second).
TEST(thread_pool, jobs_beyond_the_idle_threads_get_a_thread) {
    corio::thread_pool pool(2);
    std::promise<void> warmed;
    pool.submit([&warmed] { warmed.set_value(); });
    warmed.get_future().wait(); // one thread, soon idle
    std::latch second_ran(1);
    std::promise<void> both;
    pool.submit([&] {
        second_ran.wait();
        both.set_value();
    });
    pool.submit([&] { second_ran.count_down(); });
    both.get_future().wait();
    EXPECT_EQ(pool.thread_count(), 2U);
}

TEST(thread_pool, runs_queued_jobs_before_joining) {
    std::atomic<int> done{0};
    {
        corio::thread_pool pool(3);
        for (int i = 0; i < 20; ++i) {
            pool.submit([&] { ++done; });
        }
    } // the destructor waits
    EXPECT_EQ(done.load(), 20);
}

} // namespace
