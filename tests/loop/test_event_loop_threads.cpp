// The event loop across threads (API §3: "a loop is not thread-safe except
// call_soon_threadsafe"). Labelled "threads": CI also runs this file under ThreadSanitizer.
// Threads hand results back through call_soon_threadsafe and futures; nothing sleeps.

#include "corio/event_loop.hpp"

#include "corio/errors.hpp"
#include "corio/future.hpp"
#include "corio/join_handle.hpp"
#include "corio/sleep.hpp"
#include "corio/task.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using corio::event_loop;
using corio::future;
using corio::task;

// --- call_soon_threadsafe ---------------------------------------------------------------

struct fan_in {
    static constexpr int threads = 4;
    static constexpr int per_thread = 2000;
    std::vector<std::vector<int>> seen = std::vector<std::vector<int>>(threads);
    int total = 0;
    bool all_on_loop_thread = true;
    std::thread::id loop_thread;
};

task<> collect_from_threads(fan_in* state) {
    event_loop& loop = corio::get_running_loop();
    state->loop_thread = std::this_thread::get_id();
    future<> all_arrived;
    std::vector<std::thread> producers;
    for (int t = 0; t < fan_in::threads; ++t) {
        producers.emplace_back([&loop, state, all_arrived, t] {
            for (int i = 0; i < fan_in::per_thread; ++i) {
                loop.call_soon_threadsafe([state, all_arrived, t, i]() mutable {
                    if (std::this_thread::get_id() != state->loop_thread) {
                        state->all_on_loop_thread = false;
                    }
                    state->seen[static_cast<std::size_t>(t)].push_back(i);
                    if (++state->total == fan_in::threads * fan_in::per_thread) {
                        all_arrived.set_result();
                    }
                });
            }
        });
    }
    co_await all_arrived;
    for (auto& p : producers) {
        p.join();
    }
}

TEST(call_soon_threadsafe, callbacks_from_several_threads_all_run_on_the_loop_in_order) {
    fan_in state;
    corio::run(collect_from_threads(&state));
    EXPECT_EQ(state.total, fan_in::threads * fan_in::per_thread);
    EXPECT_TRUE(state.all_on_loop_thread);
    for (const auto& from_one_thread : state.seen) {
        ASSERT_EQ(from_one_thread.size(), static_cast<std::size_t>(fan_in::per_thread));
        for (int i = 0; i < fan_in::per_thread; ++i) {
            EXPECT_EQ(from_one_thread[static_cast<std::size_t>(i)], i)
                << "callbacks from one thread keep their order";
        }
    }
}

task<int> woken_from_another_thread() {
    event_loop& loop = corio::get_running_loop();
    future<int> f;
    future<int>* target = &f;
    // No timer and no I/O: the loop blocks in the reactor until the eventfd wakes it.
    std::thread producer(
        [&loop, target] { loop.call_soon_threadsafe([target] { target->set_result(42); }); });
    const int v = co_await f;
    producer.join();
    co_return v;
}

TEST(call_soon_threadsafe, wakes_a_loop_blocked_without_timers) {
    EXPECT_EQ(corio::run(woken_from_another_thread()), 42);
}

task<corio::clock::duration> thread_answers_before_the_virtual_timer() {
    event_loop& loop = corio::get_running_loop();
    const auto start = loop.time();
    future<int> f;
    future<int>* target = &f;
    // A timer an hour away: with autojump_threshold the loop first waits (in real time) for
    // I/O or another thread before jumping the virtual clock to it.
    corio::timer_handle fallback = loop.call_later(1h, [target] {
        if (!target->done()) {
            target->set_result(-1);
        }
    });
    std::thread producer(
        [&loop, target] { loop.call_soon_threadsafe([target] { target->set_result(1); }); });
    EXPECT_EQ(co_await f, 1);
    producer.join();
    fallback.cancel();
    co_return loop.time() - start;
}

TEST(call_soon_threadsafe, autojump_threshold_lets_another_thread_answer_first) {
    corio::run_options o;
    o.virtual_clock = true;
    o.autojump_threshold = std::chrono::milliseconds(30'000);
    EXPECT_EQ(corio::run(thread_answers_before_the_virtual_timer(), o), 0s);
}

TEST(call_soon_threadsafe, a_closed_loop_refuses_from_any_thread) {
    event_loop loop;
    loop.close();
    std::string message;
    std::thread other([&] {
        try {
            loop.call_soon_threadsafe([] {});
        } catch (const corio::invalid_state_error& e) {
            message = e.what();
        }
    });
    other.join();
    EXPECT_EQ(message, "invalid_state_error: call_soon_threadsafe: event loop is closed");
}

TEST(call_soon_threadsafe, racing_with_close_either_queues_or_throws) {
    // Regression: the eventfd was written after the lock was released, so a post racing
    // with close() could write to a closed (or reused) fd. Under TSan, 500 rounds reliably
    // caught the race on the fd number.
    for (int round = 0; round < 500; ++round) {
        event_loop loop;
        std::atomic<bool> refused{false};
        std::thread poster([&] {
            for (;;) {
                try {
                    loop.call_soon_threadsafe([&loop] { loop.stop(); });
                } catch (const corio::invalid_state_error&) {
                    refused = true;
                    return;
                }
            }
        });
        loop.run_forever(); // until the first posted callback stops it
        loop.close();
        poster.join();
        EXPECT_TRUE(refused);
    }
}

TEST(call_soon_threadsafe, callbacks_posted_before_the_loop_runs_are_kept) {
    event_loop loop;
    int ran = 0;
    std::thread other([&] {
        loop.call_soon_threadsafe([&] { ++ran; });
        loop.call_soon_threadsafe([&] {
            ++ran;
            loop.stop();
        });
    });
    other.join();
    loop.run_forever();
    EXPECT_EQ(ran, 2);
}

// --- debug mode: use from another thread -----------------------------------------------------

task<std::vector<std::string>> misuse_from_another_thread() {
    event_loop& loop = corio::get_running_loop();
    std::vector<std::string> messages;
    future<> finished;
    future<>* target = &finished;
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    std::thread intruder([&loop, &messages, target, &fds] {
        auto attempt = [&messages](auto&& fn) {
            try {
                fn();
                messages.emplace_back("allowed");
            } catch (const corio::invalid_state_error& e) {
                messages.emplace_back(e.what());
            }
        };
        attempt([&] { loop.call_soon([] {}); });
        attempt([&] { (void)loop.call_later(1s, [] {}); });
        attempt([&] { loop.add_reader(fds[0], [] {}); });
        // The way in from another thread works.
        loop.call_soon_threadsafe([target] { target->set_result(); });
    });
    co_await finished;
    intruder.join();
    ::close(fds[0]);
    ::close(fds[1]);
    co_return messages;
}

TEST(debug, a_loop_used_from_another_thread_throws_invalid_state) {
    corio::run_options o;
    o.debug = true;
    const std::string tail =
        ": event loop used from a thread other than its own (use call_soon_threadsafe)";
    const std::vector<std::string> expected{
        "invalid_state_error: call_soon" + tail,
        "invalid_state_error: call_at" + tail,
        "invalid_state_error: add_reader" + tail,
    };
    EXPECT_EQ(corio::run(misuse_from_another_thread(), o), expected);
}

// --- one loop per thread -----------------------------------------------------------------------

task<int> count_with_timers(int n) {
    int total = 0;
    for (int i = 0; i < n; ++i) {
        co_await corio::sleep(1s);
        auto h = corio::spawn(corio::sleep(0s));
        co_await h;
        total += i;
    }
    co_return total;
}

TEST(event_loop, loops_on_different_threads_run_independently) {
    corio::run_options o;
    o.virtual_clock = true;
    constexpr int threads = 4;
    std::vector<int> results(threads, -1);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&results, o, t] {
            results[static_cast<std::size_t>(t)] = corio::run(count_with_timers(100 + t), o);
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    for (int t = 0; t < threads; ++t) {
        const int n = 100 + t;
        EXPECT_EQ(results[static_cast<std::size_t>(t)], n * (n - 1) / 2);
    }
}

task<> look_for_a_loop_on_another_thread(std::string* out) {
    std::thread other([out] {
        try {
            (void)corio::get_running_loop();
        } catch (const corio::invalid_state_error& e) {
            *out = e.what();
        }
    });
    other.join();
    co_return;
}

TEST(event_loop, get_running_loop_is_per_thread) {
    std::string message;
    corio::run(look_for_a_loop_on_another_thread(&message));
    EXPECT_EQ(message, "invalid_state_error: get_running_loop: no running event loop");
}

} // namespace
