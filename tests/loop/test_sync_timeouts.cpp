// The synchronization primitives' awaitables handed to wait_for / move_on_after /
// fail_after (which take any awaitable by value): they time out cleanly, leave nothing
// queued behind, and the primitive works on afterwards.

#include "support/loop.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using corio_test::error_of;
using corio_test::holds;

namespace {

template <class A>
corio::task<> times_out(A a) {
    const auto start = corio_test::now();
    const auto error = co_await error_of(corio::wait_for(std::move(a), 5s));
    EXPECT_TRUE(holds<corio::timeout_error>(error));
    EXPECT_EQ(corio_test::since(start), 5s);
}

corio::task<> event_wait() {
    corio::event e;
    co_await times_out(e.wait());
    e.set();
    const bool done = co_await corio::move_on_after(1s, e.wait());
    EXPECT_TRUE(done);
}

TEST(sync_timeouts, event_wait) {
    corio::run(event_wait(), corio_test::virtual_time());
}

corio::task<> mutex_lock() {
    corio::mutex m;
    {
        auto held = co_await m.lock();
        // Not through times_out: the lock's result (a mutex_guard) must not be discarded.
        const auto start = corio_test::now();
        std::exception_ptr error;
        try {
            auto never = co_await corio::wait_for(m.lock(), 5s);
        } catch (...) {
            error = std::current_exception();
        }
        EXPECT_TRUE(holds<corio::timeout_error>(error));
        EXPECT_EQ(corio_test::since(start), 5s);
        EXPECT_TRUE(m.locked());
    }
    EXPECT_FALSE(m.locked());
    // Free again: the timed-out lock left nothing queued.
    auto again = co_await corio::fail_after(1s, m.lock());
    EXPECT_TRUE(m.locked());
}

TEST(sync_timeouts, mutex_lock) {
    corio::run(mutex_lock(), corio_test::virtual_time());
}

corio::task<> semaphore_acquire() {
    corio::semaphore s(0);
    co_await times_out(s.acquire());
    s.release();
    co_await corio::fail_after(1s, s.acquire());
}

TEST(sync_timeouts, semaphore_acquire) {
    corio::run(semaphore_acquire(), corio_test::virtual_time());
}

corio::task<> barrier_wait() {
    corio::barrier b(2);
    co_await times_out(b.wait());
}

TEST(sync_timeouts, barrier_wait) {
    corio::run(barrier_wait(), corio_test::virtual_time());
}

corio::task<> queue_get_put_join() {
    corio::queue<int> q(1);
    co_await times_out(q.get());
    co_await q.put(1);
    co_await times_out(q.put(2)); // full
    EXPECT_EQ(q.size(), 1u);
    co_await times_out(q.join()); // one item not done
    const int v = co_await corio::fail_after(1s, q.get());
    EXPECT_EQ(v, 1);
    q.task_done();
    co_await corio::fail_after(1s, q.put(3));
    EXPECT_EQ(co_await corio::fail_after(1s, q.get()), 3);
}

TEST(sync_timeouts, queue_get_put_join) {
    corio::run(queue_get_put_join(), corio_test::virtual_time());
}

} // namespace
