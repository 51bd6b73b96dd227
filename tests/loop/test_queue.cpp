// queue, lifo_queue, priority_queue: order, maxsize backpressure, nowait errors,
// task_done/join, shutdown (Python 3.13), async iteration, and cancellation that never loses
// an item.

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include "support/loop.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using corio_test::run_test;

corio::task<> fifo_order() {
    corio::queue<int> q;
    for (int i = 0; i < 5; ++i) {
        co_await q.put(i);
    }
    EXPECT_EQ(q.size(), 5u);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(co_await q.get(), i);
    }
    EXPECT_TRUE(q.empty());
}

TEST(queue, first_in_first_out) {
    run_test(fifo_order);
}

corio::task<> lifo_and_priority_order() {
    corio::lifo_queue<int> l;
    corio::priority_queue<int> p;
    for (int v : {3, 1, 4, 1, 5}) {
        l.put_nowait(v);
        p.put_nowait(v);
    }
    std::vector<int> from_lifo;
    std::vector<int> from_priority;
    while (!l.empty()) {
        from_lifo.push_back(co_await l.get());
        from_priority.push_back(co_await p.get());
    }
    EXPECT_EQ(from_lifo, (std::vector<int>{5, 1, 4, 1, 3}));
    EXPECT_EQ(from_priority, (std::vector<int>{1, 1, 3, 4, 5}));

    corio::priority_queue<int, std::greater<int>> largest_first;
    for (int v : {2, 9, 4}) {
        largest_first.put_nowait(v);
    }
    EXPECT_EQ(largest_first.get_nowait(), 9);
}

TEST(queue, lifo_and_priority_orders) {
    run_test(lifo_and_priority_order);
}

corio::task<> produce(corio::queue<int>& q, int n, std::vector<corio::clock::time_point>& times) {
    for (int i = 0; i < n; ++i) {
        co_await q.put(i);
        times.push_back(corio::get_running_loop().time());
    }
}

corio::task<> backpressure() {
    corio::queue<int> q(2);
    EXPECT_EQ(q.maxsize(), 2u);
    std::vector<corio::clock::time_point> times;
    const auto start = corio::get_running_loop().time();
    auto producer = corio::spawn(produce(q, 4, times));
    co_await corio::sleep(10ms);
    EXPECT_EQ(times.size(), 2u); // blocked on the third put
    EXPECT_TRUE(q.full());
    EXPECT_EQ(co_await q.get(), 0);
    co_await corio::sleep(10ms);
    EXPECT_EQ(times.size(), 3u);
    EXPECT_EQ(times[2] - start, 10ms);
    EXPECT_EQ(co_await q.get(), 1);
    EXPECT_EQ(co_await q.get(), 2);
    EXPECT_EQ(co_await q.get(), 3);
    co_await producer;
}

TEST(queue, put_waits_while_full) {
    run_test(backpressure);
}

corio::task<> nowait_errors() {
    corio::queue<std::string> q(1);
    EXPECT_THROW(q.get_nowait(), corio::queue_empty);
    q.put_nowait("a");
    EXPECT_THROW(q.put_nowait("b"), corio::queue_full);
    EXPECT_EQ(q.get_nowait(), "a");
    co_return;
}

TEST(queue, nowait_forms_throw_queue_empty_and_queue_full) {
    run_test(nowait_errors);
}

corio::task<int> get_one(corio::queue<int>& q) {
    co_return co_await q.get();
}

corio::task<> cancelled_get_eats_nothing() {
    corio::queue<int> q;
    auto a = corio::spawn(get_one(q));
    auto b = corio::spawn(get_one(q));
    co_await corio::sleep(1ms);
    a.cancel();
    co_await corio::sleep(0s);
    q.put_nowait(42);
    EXPECT_EQ(co_await b, 42);
    EXPECT_TRUE(a.cancelled());
    EXPECT_TRUE(q.empty());
}

TEST(queue, cancelled_get_leaves_the_line_and_eats_no_item) {
    run_test(cancelled_get_eats_nothing);
}

corio::task<> handed_item_survives_cancel() {
    corio::queue<int> q;
    auto a = corio::spawn(get_one(q));
    auto b = corio::spawn(get_one(q));
    co_await corio::sleep(1ms);
    q.put_nowait(7); // handed to a
    a.cancel();      // before a ran: a gives 7 to the next getter (asyncio)
    EXPECT_TRUE(a.cancelled() || !a.done());
    co_await corio::sleep(0s);
    EXPECT_TRUE(a.cancelled());
    EXPECT_EQ(co_await b, 7);

    auto c = corio::spawn(get_one(q));
    co_await corio::sleep(1ms);
    q.put_nowait(8); // handed to c
    q.put_nowait(9);
    c.cancel(); // no other getter: 8 goes back to the head of the queue
    co_await corio::sleep(0s);
    EXPECT_TRUE(c.cancelled());
    EXPECT_EQ(q.get_nowait(), 8);
    EXPECT_EQ(q.get_nowait(), 9);
}

TEST(queue, an_item_handed_to_a_getter_cancelled_before_it_ran_goes_back_to_the_queue) {
    run_test(handed_item_survives_cancel);
}

corio::task<> put_one(corio::queue<int>& q, int v) {
    co_await q.put(v);
}

corio::task<> cancelled_put_adds_nothing() {
    corio::queue<int> q(1);
    q.put_nowait(1);
    auto p = corio::spawn(put_one(q, 2));
    co_await corio::sleep(1ms);
    p.cancel();
    EXPECT_THROW(co_await p, corio::cancelled_error);
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_TRUE(q.empty());
}

TEST(queue, cancelled_put_adds_nothing) {
    run_test(cancelled_put_adds_nothing);
}

corio::task<> work_and_mark(corio::queue<int>& q, int& processed) {
    while (true) {
        (void)co_await q.get();
        co_await corio::sleep(5ms);
        ++processed;
        q.task_done();
    }
}

corio::task<> join_waits_for_task_done() {
    corio::queue<int> q;
    int processed = 0;
    for (int i = 0; i < 4; ++i) {
        q.put_nowait(i);
    }
    auto w1 = corio::spawn(work_and_mark(q, processed));
    auto w2 = corio::spawn(work_and_mark(q, processed));
    co_await q.join();
    EXPECT_EQ(processed, 4);
    w1.cancel();
    w2.cancel();
    EXPECT_THROW(q.task_done(), corio::invalid_state_error);
}

TEST(queue, join_waits_until_every_item_is_marked_done) {
    run_test(join_waits_for_task_done);
}

corio::task<> shutdown_semantics() {
    corio::queue<int> q;
    q.put_nowait(1);
    q.put_nowait(2);
    q.shutdown();
    EXPECT_TRUE(q.is_shut_down());
    EXPECT_THROW(q.put_nowait(3), corio::queue_shut_down);
    EXPECT_THROW(co_await q.put(3), corio::queue_shut_down);
    EXPECT_EQ(co_await q.get(), 1); // items already queued can still be taken
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_THROW(co_await q.get(), corio::queue_shut_down);
    EXPECT_THROW(q.get_nowait(), corio::queue_shut_down);
}

TEST(queue, shutdown_refuses_puts_and_fails_gets_once_empty) {
    run_test(shutdown_semantics);
}

corio::task<> shutdown_wakes_waiters() {
    corio::queue<int> q(1);
    auto getter = corio::spawn(get_one(q));
    co_await corio::sleep(1ms);
    q.shutdown();
    EXPECT_THROW(co_await getter, corio::queue_shut_down);

    corio::queue<int> full(1);
    full.put_nowait(0);
    auto putter = corio::spawn(put_one(full, 1));
    co_await corio::sleep(1ms);
    full.shutdown(true); // immediate: queued items are dropped too
    EXPECT_THROW(co_await putter, corio::queue_shut_down);
    EXPECT_TRUE(full.empty());
    co_await full.join(); // dropped items count as done
}

TEST(queue, shutdown_wakes_waiting_getters_and_putters) {
    run_test(shutdown_wakes_waiters);
}

corio::task<> async_iteration() {
    corio::queue<std::unique_ptr<int>> q;
    static_assert(corio::async_iterable<corio::queue<std::unique_ptr<int>>>);
    for (int i = 0; i < 3; ++i) {
        q.put_nowait(std::make_unique<int>(i));
    }
    q.shutdown();
    int sum = 0;
    while (auto item = co_await q.next()) {
        sum += **item;
    }
    EXPECT_EQ(sum, 3);
}

TEST(queue, next_iterates_until_shutdown_and_moves_move_only_items) {
    run_test(async_iteration);
}

corio::task<> pipeline_stage(corio::queue<int>& in, corio::queue<int>& out) {
    while (auto v = co_await in.next()) {
        co_await out.put(*v * 2);
    }
    out.shutdown();
}

corio::task<> producer_consumer_through_bounded_queue() {
    corio::queue<int> raw(2);
    corio::queue<int> doubled(2);
    auto stage = corio::spawn(pipeline_stage(raw, doubled));
    auto feeder = corio::spawn([](corio::queue<int>& q) -> corio::task<> {
        for (int i = 1; i <= 100; ++i) {
            co_await q.put(i);
        }
        q.shutdown();
    }(raw));
    long sum = 0;
    while (auto v = co_await doubled.next()) {
        sum += *v;
    }
    co_await feeder;
    co_await stage;
    EXPECT_EQ(sum, 2 * 5050);
}

TEST(queue, producer_consumer_pipeline_through_bounded_queues) {
    run_test(producer_consumer_through_bounded_queue);
}

} // namespace
