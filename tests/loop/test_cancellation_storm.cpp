// The cancellation storm (issue 3): 100,000 tasks parked in sleeps, futures, shields, task
// groups and deadline scopes, all cancelled in one go. Every task must end cancelled(), every
// coroutine body must unwind, and (under the asan preset, LeakSanitizer on) nothing may leak.

#include "corio/corio.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <vector>

#include "support/loop.hpp"

namespace {

using corio_test::virtual_time;

using namespace std::chrono_literals;
using corio::cancelled_error;
using corio::task;

constexpr int task_count = 100'000;

struct tally {
    int started = 0;
    int bodies_alive = 0;
    int inner_cancelled = 0;  // shielded inner tasks
    int children_started = 0; // task group children
    int children_cancelled = 0;
};

/// Counts a coroutine body that has started and not yet unwound.
class alive_guard {
public:
    explicit alive_guard(tally* t) noexcept : m_tally(t) { ++m_tally->bodies_alive; }
    alive_guard(const alive_guard&) = delete;
    alive_guard& operator=(const alive_guard&) = delete;
    ~alive_guard() { --m_tally->bodies_alive; }

private:
    tally* m_tally;
};

task<> parked_in_sleep(tally* t) {
    alive_guard alive(t);
    ++t->started;
    co_await corio::sleep(1h);
}

task<> parked_in_future(corio::future<int> f, tally* t) {
    alive_guard alive(t);
    ++t->started;
    co_await f;
}

task<> shielded_inner(corio::future<> gate, tally* t) {
    alive_guard alive(t);
    try {
        co_await gate;
    } catch (const cancelled_error&) {
        ++t->inner_cancelled;
        throw;
    }
}

task<> parked_in_shield(corio::future<> gate, tally* t) {
    alive_guard alive(t);
    ++t->started;
    co_await corio::shield(shielded_inner(gate, t));
}

task<> group_child(tally* t) {
    alive_guard alive(t);
    ++t->children_started;
    try {
        co_await corio::sleep(2h);
    } catch (const cancelled_error&) {
        ++t->children_cancelled;
        throw;
    }
}

task<> parked_in_group(tally* t) {
    alive_guard alive(t);
    ++t->started;
    co_await corio::with_task_group([t](corio::task_group& g) -> task<> {
        g.spawn(group_child(t));
        co_await corio::sleep(1h);
    });
}

task<> parked_in_deadline(tally* t) {
    alive_guard alive(t);
    ++t->started;
    co_await corio::fail_after(1h, corio::sleep(2h));
}

task<> storm() {
    auto& loop = corio::get_running_loop();
    const auto t0 = loop.time();
    tally t;
    corio::future<> gate;
    std::vector<corio::future<int>> futures;
    std::vector<corio::join_handle<>> handles;
    handles.reserve(task_count);
    for (int i = 0; i < task_count; ++i) {
        switch (i % 5) {
        case 0:
            handles.push_back(corio::spawn(parked_in_sleep(&t)));
            break;
        case 1:
            futures.emplace_back();
            handles.push_back(corio::spawn(parked_in_future(futures.back(), &t)));
            break;
        case 2:
            handles.push_back(corio::spawn(parked_in_shield(gate, &t)));
            break;
        case 3:
            handles.push_back(corio::spawn(parked_in_group(&t)));
            break;
        default:
            handles.push_back(corio::spawn(parked_in_deadline(&t)));
            break;
        }
    }
    co_await corio::sleep(1s); // everything starts and parks
    EXPECT_EQ(t.started, task_count);
    EXPECT_EQ(t.children_started, task_count / 5);

    int cancel_accepted = 0;
    for (auto& h : handles) {
        cancel_accepted += h.cancel() ? 1 : 0;
    }
    EXPECT_EQ(cancel_accepted, task_count);

    // Delivery takes a few iterations (a group's body, then its join, then its children).
    const auto all_done = [&] {
        for (const auto& h : handles) {
            if (!h.done()) {
                return false;
            }
        }
        return true;
    };
    int iterations = 0;
    while (!all_done() && iterations < 100) {
        co_await corio::sleep(0s);
        ++iterations;
    }
    EXPECT_LT(iterations, 10);
    // Awaiting a cancelled task throws cancelled_error (checked on a sample: each throw costs).
    int threw_cancelled = 0;
    for (std::size_t i = 0; i < handles.size(); i += 97) {
        try {
            co_await handles[i];
        } catch (const cancelled_error&) {
            ++threw_cancelled;
        }
    }
    EXPECT_EQ(threw_cancelled, (task_count + 96) / 97);
    int ended_cancelled = 0;
    for (const auto& h : handles) {
        ended_cancelled += h.done() && h.cancelled() ? 1 : 0;
    }
    EXPECT_EQ(ended_cancelled, task_count);
    EXPECT_EQ(t.children_cancelled, task_count / 5);
    int futures_cancelled = 0;
    for (const auto& f : futures) {
        futures_cancelled += f.cancelled() ? 1 : 0;
    }
    EXPECT_EQ(futures_cancelled, static_cast<int>(futures.size()));
    EXPECT_EQ(loop.time() - t0, 1s); // cancellation took no (virtual) time

    // The shielded inner tasks run on until their gate is cancelled too.
    EXPECT_EQ(t.inner_cancelled, 0);
    gate.cancel();
    co_await corio::sleep(0s);
    co_await corio::sleep(0s);
    EXPECT_EQ(t.inner_cancelled, task_count / 5);
    EXPECT_EQ(corio::all_tasks().size(), 1U); // only this one
    EXPECT_EQ(t.bodies_alive, 0);
    handles.clear();

    // No timer was left behind by the cancelled sleeps and scopes: the next jump is ours.
    co_await corio::sleep(5s);
    EXPECT_EQ(loop.time() - t0, 6s);
}

TEST(cancellation_storm, hundred_thousand_parked_tasks_all_end_cancelled) {
    corio::run(storm(), virtual_time());
}

} // namespace
