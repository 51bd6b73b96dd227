// Between loops and threads (also under ThreadSanitizer: this file's name ends in _threads).
// corio::channel<T>: FIFO and the capacity on one loop, closing, cancellation that loses no
// item (parked, and after an item or a place was granted), and stress between two loops on
// their own threads and two plain threads, every item delivered exactly once.
// corio::on_loop: a task run on another loop's thread, its result, exception and
// cancellation coming back to the awaiting task; a closed loop and the running loop refused.

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include "support/loop.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using corio_test::run_test;

namespace {

corio::task<> fifo_and_capacity() {
    corio::channel<int> ch(2);
    EXPECT_EQ(ch.capacity(), 2U);
    int one = 1;
    int three = 3;
    EXPECT_TRUE(ch.try_send(one));
    co_await ch.send(2);
    EXPECT_FALSE(ch.try_send(three)); // full
    EXPECT_EQ(three, 3);              // not taken
    EXPECT_EQ(ch.size(), 2U);
    EXPECT_EQ(co_await ch.receive(), 1);
    EXPECT_EQ(ch.try_receive(), 2);
    EXPECT_EQ(ch.try_receive(), std::nullopt);
}

corio::task<> int_receiver(corio::channel<int> ch, std::vector<int>& got) {
    while (std::optional<int> v = co_await ch.receive()) {
        got.push_back(*v);
    }
}

corio::task<> close_drains_then_ends() {
    corio::channel<int> ch(4);
    std::vector<int> got;
    co_await ch.send(1);
    co_await ch.send(2);
    ch.close();
    ch.close(); // idempotent
    EXPECT_TRUE(ch.is_closed());
    EXPECT_THROW(co_await ch.send(3), corio::channel_closed_error);
    int four = 4;
    EXPECT_THROW((void)ch.try_send(four), corio::channel_closed_error);
    co_await int_receiver(ch, got);
    EXPECT_EQ(got, (std::vector<int>{1, 2}));
    EXPECT_EQ(co_await ch.receive(), std::nullopt);
}

corio::task<> send_one(corio::channel<int> ch, int v) {
    co_await ch.send(v);
}

corio::task<std::optional<int>> receive_one(corio::channel<int> ch) {
    co_return co_await ch.receive();
}

corio::task<> close_wakes_parked_senders_and_receivers() {
    corio::channel<int> full(1);
    co_await full.send(0);
    auto s = corio::spawn(send_one(full, 1));
    corio::channel<int> empty(1);
    auto r = corio::spawn(receive_one(empty));
    co_await corio::sleep(1ms);
    full.close();
    empty.close();
    EXPECT_THROW(co_await s, corio::channel_closed_error);
    EXPECT_EQ(co_await r, std::nullopt);
    EXPECT_EQ(full.try_receive(), 0); // what was buffered stays
}

corio::task<> a_sender_waits_while_full() {
    corio::channel<int> ch(1);
    co_await ch.send(1);
    auto s = corio::spawn(send_one(ch, 2));
    co_await corio::sleep(1ms);
    EXPECT_FALSE(s.done());
    EXPECT_EQ(co_await ch.receive(), 1); // a place is reserved for the waiting sender
    int three = 3;
    EXPECT_FALSE(ch.try_send(three)); // which a newcomer may not take
    co_await s;
    EXPECT_EQ(co_await ch.receive(), 2);
}

corio::task<> cancelled_receives_take_nothing() {
    corio::channel<int> ch(2);
    // parked, then cancelled by a timeout: it leaves the line
    EXPECT_THROW((void)co_await corio::wait_for(ch.receive(), 10ms), corio::timeout_error);
    co_await ch.send(5);
    EXPECT_EQ(ch.try_receive(), 5);

    // handed an item, cancelled before it ran: the item goes to the next receiver
    auto a = corio::spawn(receive_one(ch));
    auto b = corio::spawn(receive_one(ch));
    co_await corio::sleep(1ms);
    co_await ch.send(7); // handed to a
    a.cancel();          // before a ran
    co_await corio::sleep(0s);
    EXPECT_TRUE(a.cancelled());
    EXPECT_EQ(co_await b, 7);

    // ... or back to the front of the buffer
    auto c = corio::spawn(receive_one(ch));
    co_await corio::sleep(1ms);
    co_await ch.send(8); // handed to c
    co_await ch.send(9);
    c.cancel();
    co_await corio::sleep(0s);
    EXPECT_TRUE(c.cancelled());
    EXPECT_EQ(ch.try_receive(), 8);
    EXPECT_EQ(ch.try_receive(), 9);
}

corio::task<> cancelled_sends_send_nothing() {
    corio::channel<int> ch(1);
    co_await ch.send(1);
    // parked, then cancelled: not sent
    EXPECT_THROW(co_await corio::wait_for(ch.send(2), 10ms), corio::timeout_error);
    EXPECT_EQ(ch.size(), 1U);

    // a place reserved for it, cancelled before it ran: the place goes to the next sender
    auto a = corio::spawn(send_one(ch, 2));
    auto b = corio::spawn(send_one(ch, 3));
    co_await corio::sleep(1ms);
    EXPECT_EQ(ch.try_receive(), 1); // reserves a place for a
    a.cancel();                     // before a ran
    co_await corio::sleep(0s);
    EXPECT_TRUE(a.cancelled());
    co_await b;
    EXPECT_EQ(ch.try_receive(), 3);
    EXPECT_EQ(ch.try_receive(), std::nullopt);
}

static_assert(corio::async_iterable<corio::channel<int>>);

corio::task<> move_only_items() {
    corio::channel<std::unique_ptr<std::string>> ch(1);
    co_await ch.send(std::make_unique<std::string>("moved"));
    std::optional<std::unique_ptr<std::string>> v = co_await ch.receive();
    EXPECT_EQ(**v, "moved");
}

} // namespace

TEST(channel, first_in_first_out_within_its_capacity) {
    run_test(fifo_and_capacity);
}

TEST(channel, a_capacity_of_zero_is_refused) {
    EXPECT_THROW(corio::channel<int>(0), std::invalid_argument);
}

TEST(channel, closing_refuses_sends_and_lets_receivers_drain) {
    run_test(close_drains_then_ends);
}

TEST(channel, closing_wakes_parked_senders_and_receivers) {
    run_test(close_wakes_parked_senders_and_receivers);
}

TEST(channel, a_sender_waits_while_it_is_full) {
    run_test(a_sender_waits_while_full);
}

TEST(channel, a_cancelled_receive_takes_nothing_and_loses_nothing) {
    run_test(cancelled_receives_take_nothing);
}

TEST(channel, a_cancelled_send_sends_nothing_and_passes_its_place_on) {
    run_test(cancelled_sends_send_nothing);
}

TEST(channel, carries_move_only_items) {
    run_test(move_only_items);
}

// --- between threads ---------------------------------------------------------------------

namespace {

constexpr int per_producer = 20'000;

corio::task<> produce(corio::channel<int> ch, int first) {
    for (int i = 0; i < per_producer; ++i) {
        co_await ch.send(first + i);
    }
}

/// Receives until closed; some receives are cancelled by a short timeout (which must lose
/// nothing), when `impatient`.
corio::task<> consume(corio::channel<int> ch, std::vector<int>& got, bool impatient) {
    while (true) {
        std::optional<int> v;
        if (impatient) {
            try {
                v = co_await corio::wait_for(ch.receive(), 50us);
            } catch (const corio::timeout_error&) {
                continue;
            }
        } else {
            v = co_await ch.receive();
        }
        if (!v) {
            co_return;
        }
        got.push_back(*v);
    }
}

void stress(bool impatient) {
    corio::channel<int> ch(16);
    std::vector<int> got_a;
    std::vector<int> got_b;
    std::vector<int> got_thread;
    std::atomic<int> producers_left{4};
    auto producer_done = [&] {
        if (producers_left.fetch_sub(1) == 1) {
            ch.close();
        }
    };
    {
        // loop A: two producing tasks; loop B: two consuming tasks; a producing thread and
        // a consuming thread.
        std::jthread loop_a([&] {
            corio::run([&]() -> corio::task<> {
                auto p1 = corio::spawn(produce(ch, 0));
                auto p2 = corio::spawn(produce(ch, per_producer));
                co_await p1;
                producer_done();
                co_await p2;
                producer_done();
            }());
        });
        std::jthread loop_b([&] {
            corio::run([&]() -> corio::task<> {
                auto c1 = corio::spawn(consume(ch, got_a, impatient));
                auto c2 = corio::spawn(consume(ch, got_b, impatient));
                co_await c1;
                co_await c2;
            }());
        });
        std::jthread producer([&] {
            for (int i = 0; i < per_producer; ++i) {
                ch.send_blocking(2 * per_producer + i);
            }
            producer_done();
        });
        std::jthread producer2([&] {
            for (int i = 0; i < per_producer; ++i) {
                int v = 3 * per_producer + i;
                while (!ch.try_send(v)) {
                    std::this_thread::yield();
                }
            }
            producer_done();
        });
        std::jthread consumer([&] {
            while (std::optional<int> v = ch.receive_blocking()) {
                got_thread.push_back(*v);
            }
        });
    }
    std::vector<int> all;
    for (auto* got : {&got_a, &got_b, &got_thread}) {
        all.insert(all.end(), got->begin(), got->end());
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), static_cast<std::size_t>(4 * per_producer));
    for (int i = 0; i < 4 * per_producer; ++i) {
        ASSERT_EQ(all[static_cast<std::size_t>(i)], i) << "every item exactly once";
    }
}

} // namespace

TEST(channel, two_loops_and_two_threads_deliver_every_item_exactly_once) {
    stress(false);
}

TEST(channel, receives_cancelled_by_timeouts_across_threads_lose_no_item) {
    stress(true);
}

// --- on_loop -----------------------------------------------------------------------------

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
