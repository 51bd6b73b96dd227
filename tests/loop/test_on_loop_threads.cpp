// corio::on_loop: a task run on another loop's thread, its result, exception and
// cancellation coming back to the awaiting task; a closed loop and the running loop refused.

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include "support/loop.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

using namespace std::chrono_literals;

namespace {

/// A loop running on its own thread until the object goes.
class other_loop {
public:
    other_loop() {
        std::promise<corio::event_loop*> started;
        std::future<corio::event_loop*> loop = started.get_future();
        m_thread = std::jthread([this, &started] {
            corio::run([](other_loop& self, std::promise<corio::event_loop*>& p) -> corio::task<> {
                p.set_value(&corio::get_running_loop());
                (void)co_await self.m_stop.receive();
            }(*this, started));
        });
        m_loop = loop.get();
        m_id = m_thread.get_id();
    }
    other_loop(const other_loop&) = delete;
    other_loop& operator=(const other_loop&) = delete;
    ~other_loop() {
        m_stop.close();
        m_thread.join();
    }
    corio::event_loop& loop() { return *m_loop; }
    [[nodiscard]] std::thread::id thread_id() const { return m_id; }

private:
    corio::channel<int> m_stop{1};
    corio::event_loop* m_loop = nullptr;
    std::thread::id m_id;
    std::jthread m_thread;
};

corio::task<int> doubled_on(std::thread::id expected, int v) {
    EXPECT_EQ(std::this_thread::get_id(), expected);
    co_await corio::sleep(1ms);
    co_return 2 * v;
}

corio::task<> fails() {
    co_await corio::sleep(0s);
    throw corio_test::test_error("from the other loop");
}

corio::task<> until_cancelled(std::atomic<bool>& cancelled) {
    try {
        co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
        cancelled = true;
        throw;
    }
}

} // namespace

TEST(on_loop, a_task_runs_on_the_other_loop_and_its_result_comes_back) {
    other_loop b;
    corio::run([&]() -> corio::task<> {
        EXPECT_EQ(co_await corio::on_loop(b.loop(), doubled_on(b.thread_id(), 21)), 42);
        EXPECT_THROW(co_await corio::on_loop(b.loop(), fails()), corio_test::test_error);
    }());
}

TEST(on_loop, cancelling_the_await_cancels_the_task_and_waits_for_it) {
    other_loop b;
    std::atomic<bool> cancelled{false};
    corio::run([&]() -> corio::task<> {
        EXPECT_THROW(
            co_await corio::wait_for(corio::on_loop(b.loop(), until_cancelled(cancelled)), 20ms),
            corio::timeout_error);
        EXPECT_TRUE(cancelled.load()); // it ended before the await gave up
    }());
}

TEST(on_loop, a_closed_loop_and_the_running_loop_are_refused) {
    corio::event_loop closed;
    closed.close();
    corio::run([&]() -> corio::task<> {
        EXPECT_THROW(co_await corio::on_loop(closed, corio_test::value_after(0ms, 1)),
                     corio::invalid_state_error);
        EXPECT_THROW(
            co_await corio::on_loop(corio::get_running_loop(), corio_test::value_after(0ms, 1)),
            corio::invalid_state_error);
    }());
}
