// co_await corio::signal(signo): delivery to every parked waiter, nothing registered once
// the waiters are gone (cancelled, destroyed, loop closed), signals from before the wait not
// delivered, conflicts with add_signal_handler, bad signal numbers; and thread-pool workers
// keeping every asynchronous signal blocked so the loop gets process-directed ones.
//
// Signals are raised with ::raise (at this thread) or ::kill (at the process) only while a
// handler is registered, so a default action never runs; where a test needs a signal to
// arrive while corio has no handler, it installs a counting sigaction handler first.

#include "support/net.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

using namespace std::chrono_literals;
using corio_net_test::error_of;
using corio_net_test::holds;
using corio_test::until;

namespace {

/// True if `signo` is blocked on the calling thread.
bool blocked_here(int signo) {
    sigset_t mask;
    sigemptyset(&mask);
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);
    return sigismember(&mask, signo) == 1;
}

/// Run `body()` on a fresh loop (virtual clock); the signals the test uses are unblocked and
/// have their default disposition afterwards, as before.
template <class F>
void run_test(F body) {
    EXPECT_FALSE(blocked_here(SIGUSR1));
    EXPECT_FALSE(blocked_here(SIGUSR2));
    corio::run(body(), corio_net_test::virtual_time());
    EXPECT_FALSE(blocked_here(SIGUSR1)) << "a handler for SIGUSR1 was left registered";
    EXPECT_FALSE(blocked_here(SIGUSR2)) << "a handler for SIGUSR2 was left registered";
}

/// Waits for `signo`, setting `*parked` just before (it parks in the same step).
corio::task<int> waiter(int signo, bool* parked) {
    *parked = true;
    co_return co_await corio::signal(signo);
}

/// A sigaction handler that counts, for signals that arrive while corio has no handler.
std::atomic<int> g_counted{0};
void count_signal(int) {
    g_counted.fetch_add(1);
}

class counting_handler {
public:
    explicit counting_handler(int signo) : m_signo(signo) {
        struct sigaction sa {};
        sa.sa_handler = &count_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(signo, &sa, &m_saved);
        g_counted = 0;
    }
    counting_handler(const counting_handler&) = delete;
    counting_handler& operator=(const counting_handler&) = delete;
    ~counting_handler() { sigaction(m_signo, &m_saved, nullptr); }

private:
    int m_signo;
    struct sigaction m_saved {};
};

// --- delivery ----------------------------------------------------------------------------

corio::task<> delivers_to_parked_waiter() {
    bool parked = false;
    auto h = corio::spawn(waiter(SIGUSR1, &parked));
    co_await until(parked);
    EXPECT_TRUE(blocked_here(SIGUSR1)); // the loop handler is registered
    ::raise(SIGUSR1);
    EXPECT_EQ(co_await h, SIGUSR1);
}

TEST(signal, a_parked_waiter_gets_the_signal_number) {
    run_test(delivers_to_parked_waiter);
}

corio::task<> one_delivery_wakes_every_waiter() {
    bool a_parked = false;
    bool b_parked = false;
    bool other_parked = false;
    auto a = corio::spawn(waiter(SIGUSR1, &a_parked));
    auto b = corio::spawn(waiter(SIGUSR1, &b_parked));
    auto other = corio::spawn(waiter(SIGUSR2, &other_parked));
    co_await until(a_parked);
    co_await until(b_parked);
    co_await until(other_parked);
    ::raise(SIGUSR1);
    EXPECT_EQ(co_await a, SIGUSR1);
    EXPECT_EQ(co_await b, SIGUSR1);
    // A waiter for another signal is not woken.
    co_await corio::sleep(1s);
    EXPECT_FALSE(other.done());
    EXPECT_TRUE(blocked_here(SIGUSR2));
    ::raise(SIGUSR2);
    EXPECT_EQ(co_await other, SIGUSR2);
}

TEST(signal, one_delivery_wakes_every_waiter_of_that_signal) {
    run_test(one_delivery_wakes_every_waiter);
}

corio::task<> count_deliveries(int signo, int n, int* seen, bool* parked) {
    *parked = true;
    for (int i = 0; i < n; ++i) {
        co_await corio::signal(signo);
        ++*seen;
    }
}

corio::task<> waiting_again_keeps_the_handler() {
    int seen = 0;
    bool parked = false;
    auto h = corio::spawn(count_deliveries(SIGUSR1, 3, &seen, &parked));
    co_await until(parked);
    for (int i = 1; i <= 3; ++i) {
        // Between deliveries the waiter is already parked again: the handler never went,
        // so SIGUSR1 never had its default (fatal) disposition.
        EXPECT_TRUE(blocked_here(SIGUSR1));
        ::raise(SIGUSR1);
        for (int spin = 0; spin < 100 && seen < i; ++spin) {
            co_await corio::sleep(0s);
        }
        EXPECT_EQ(seen, i);
    }
    co_await h;
    co_await corio::sleep(0s); // the handler goes once the woken waiter has run
    EXPECT_FALSE(blocked_here(SIGUSR1));
}

TEST(signal, a_waiter_that_waits_again_at_once_keeps_the_handler) {
    run_test(waiting_again_keeps_the_handler);
}

corio::task<> process_directed_signal_reaches_the_loop() {
    // A pool thread exists (and outlives the call): without its signals blocked, the kernel
    // could hand it the process-directed SIGUSR1, whose default action kills the process.
    EXPECT_EQ(co_await corio::to_thread([] { return 7; }), 7);
    bool parked = false;
    auto h = corio::spawn(waiter(SIGUSR1, &parked));
    co_await until(parked);
    ::kill(::getpid(), SIGUSR1);
    EXPECT_EQ(co_await h, SIGUSR1);
}

TEST(signal, a_signal_sent_to_the_process_reaches_the_loop_not_a_pool_thread) {
    run_test(process_directed_signal_reaches_the_loop);
}

// --- only deliveries during the wait count -----------------------------------------------

corio::task<> signal_before_the_wait_is_not_delivered() {
    const counting_handler counting(SIGUSR2);
    ::raise(SIGUSR2); // nobody waits: the process's own handler takes it
    EXPECT_EQ(g_counted.load(), 1);
    bool parked = false;
    auto h = corio::spawn(waiter(SIGUSR2, &parked));
    co_await until(parked);
    co_await corio::sleep(1s);
    EXPECT_FALSE(h.done());
    ::raise(SIGUSR2);
    EXPECT_EQ(co_await h, SIGUSR2);
    EXPECT_EQ(g_counted.load(), 1) << "a delivery to the loop also ran the sigaction handler";
}

TEST(signal, a_signal_before_the_wait_is_not_delivered_to_it) {
    run_test(signal_before_the_wait_is_not_delivered);
}

corio::task<> pending_signal_is_not_delivered() {
    const counting_handler counting(SIGUSR2);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &one, nullptr);
    ::raise(SIGUSR2); // stays pending on this thread
    bool parked = false;
    auto h = corio::spawn(waiter(SIGUSR2, &parked));
    co_await until(parked);
    co_await corio::sleep(1s);
    EXPECT_FALSE(h.done()) << "a signal pending before the wait was delivered to it";
    ::raise(SIGUSR2);
    EXPECT_EQ(co_await h, SIGUSR2);
    co_await corio::sleep(0s);
    // Removing the loop handler unblocks the signal (event_loop::remove_signal_handler).
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    EXPECT_EQ(g_counted.load(), 0);
}

TEST(signal, a_signal_pending_before_the_wait_is_not_delivered_to_it) {
    run_test(pending_signal_is_not_delivered);
}

// --- cancellation and cleanup ------------------------------------------------------------

corio::task<> cancel_leaves_nothing_registered() {
    bool a_parked = false;
    bool b_parked = false;
    auto a = corio::spawn(waiter(SIGUSR2, &a_parked));
    auto b = corio::spawn(waiter(SIGUSR2, &b_parked));
    co_await until(a_parked);
    co_await until(b_parked);
    EXPECT_TRUE(blocked_here(SIGUSR2));
    a.cancel();
    EXPECT_TRUE(holds<corio::cancelled_error>(co_await error_of(std::move(a))));
    EXPECT_TRUE(blocked_here(SIGUSR2)) << "b still waits";
    b.cancel();
    EXPECT_TRUE(holds<corio::cancelled_error>(co_await error_of(std::move(b))));
    EXPECT_FALSE(blocked_here(SIGUSR2));
    corio::event_loop& loop = corio::get_running_loop();
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR2)) << "a handler was left registered";

    // The signal is free for the loop's own API again, and for new waiters after that.
    int calls = 0;
    loop.add_signal_handler(SIGUSR2, [&calls] { ++calls; });
    ::raise(SIGUSR2);
    for (int spin = 0; spin < 100 && calls == 0; ++spin) {
        co_await corio::sleep(0s);
    }
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
    bool parked = false;
    auto c = corio::spawn(waiter(SIGUSR2, &parked));
    co_await until(parked);
    ::raise(SIGUSR2);
    EXPECT_EQ(co_await c, SIGUSR2);
    EXPECT_EQ(calls, 1);
}

TEST(signal, cancelled_waiters_leave_no_handler_registered) {
    run_test(cancel_leaves_nothing_registered);
}

corio::task<> timeout_on_a_signal() {
    EXPECT_TRUE(holds<corio::timeout_error>(
        co_await error_of(corio::wait_for(corio::signal(SIGUSR1), 5s))));
    EXPECT_FALSE(blocked_here(SIGUSR1));
}

TEST(signal, a_timed_out_wait_leaves_no_handler_registered) {
    run_test(timeout_on_a_signal);
}

corio::task<> park_forever(bool* parked) {
    *parked = true;
    co_await corio::signal(SIGUSR1);
    ADD_FAILURE() << "woken";
}

TEST(signal, closing_the_loop_with_a_waiter_parked_leaves_nothing_registered) {
    bool parked = false;
    {
        corio::event_loop loop(corio_net_test::virtual_time());
        loop.run_until_complete([](bool* p) -> corio::task<> {
            [[maybe_unused]] auto h = corio::spawn(park_forever(p));
            co_await corio::sleep(0s);
            co_await corio::sleep(0s);
        }(&parked));
        EXPECT_TRUE(parked);
        EXPECT_TRUE(blocked_here(SIGUSR1));
        loop.close(); // destroys the parked frame
        EXPECT_FALSE(blocked_here(SIGUSR1));
    }
    // A new loop (perhaps at the same address) starts afresh.
    run_test(delivers_to_parked_waiter);
}

// --- conflicts and misuse ----------------------------------------------------------------

corio::task<> replaced_handler_fails_the_waiters() {
    bool parked = false;
    auto h = corio::spawn(waiter(SIGUSR1, &parked));
    co_await until(parked);
    corio::event_loop& loop = corio::get_running_loop();
    int calls = 0;
    loop.add_signal_handler(SIGUSR1, [&calls] { ++calls; });
    const std::exception_ptr e = co_await error_of(std::move(h));
    EXPECT_TRUE(holds<corio::invalid_state_error>(e)) << corio_net_test::describe(e);
    ::raise(SIGUSR1);
    for (int spin = 0; spin < 100 && calls == 0; ++spin) {
        co_await corio::sleep(0s);
    }
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));

    // Removed from under a waiter: the same.
    parked = false;
    auto g = corio::spawn(waiter(SIGUSR1, &parked));
    co_await until(parked);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
    EXPECT_TRUE(holds<corio::invalid_state_error>(co_await error_of(std::move(g))));
}

TEST(signal, add_or_remove_signal_handler_under_waiters_makes_them_throw) {
    run_test(replaced_handler_fails_the_waiters);
}

corio::task<> existing_handler_refuses_waiters() {
    corio::event_loop& loop = corio::get_running_loop();
    int calls = 0;
    loop.add_signal_handler(SIGUSR2, [&calls] { ++calls; });
    const std::exception_ptr e = co_await error_of(corio::signal(SIGUSR2));
    EXPECT_TRUE(holds<corio::invalid_state_error>(e)) << corio_net_test::describe(e);
    // The loop's handler is untouched.
    ::raise(SIGUSR2);
    for (int spin = 0; spin < 100 && calls == 0; ++spin) {
        co_await corio::sleep(0s);
    }
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
}

TEST(signal, a_waiter_does_not_replace_an_add_signal_handler) {
    run_test(existing_handler_refuses_waiters);
}

corio::task<> ignored_signal_arrives() {
    bool parked = false;
    auto h = corio::spawn(waiter(SIGUSR1, &parked));
    co_await until(parked);
    ::raise(SIGUSR1);
    EXPECT_EQ(co_await h, SIGUSR1);
}

TEST(signal, a_signal_the_process_ignores_still_reaches_a_waiter) {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    struct sigaction old {};
    ASSERT_EQ(::sigaction(SIGUSR1, &ign, &old), 0);
    run_test(ignored_signal_arrives);
    struct sigaction now {};
    ::sigaction(SIGUSR1, nullptr, &now);
    EXPECT_EQ(now.sa_handler, SIG_IGN) << "the ignored disposition was not restored";
    ::sigaction(SIGUSR1, &old, nullptr);
}

TEST(signal, an_invalid_signal_number_throws_invalid_argument) {
    EXPECT_THROW((void)corio::signal(0), std::invalid_argument);
    EXPECT_THROW((void)corio::signal(-3), std::invalid_argument);
    EXPECT_THROW((void)corio::signal(NSIG), std::invalid_argument);
    EXPECT_THROW((void)corio::signal(SIGKILL), std::invalid_argument);
    EXPECT_THROW((void)corio::signal(SIGSTOP), std::invalid_argument);
    try {
        (void)corio::signal(0);
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("invalid signal 0"), std::string::npos) << e.what();
    }
}

// --- thread pool workers block signals ---------------------------------------------------

corio::task<> pool_threads_block_signals() {
    const std::vector<bool> blocked = co_await corio::to_thread([] {
        return std::vector<bool>{blocked_here(SIGINT),  blocked_here(SIGTERM),
                                 blocked_here(SIGUSR1), blocked_here(SIGCHLD),
                                 blocked_here(SIGSEGV), blocked_here(SIGBUS)};
    });
    EXPECT_EQ(blocked, (std::vector<bool>{true, true, true, true, false, false}));
    // The thread that made the worker got its own mask back.
    EXPECT_FALSE(blocked_here(SIGINT));
    EXPECT_FALSE(blocked_here(SIGUSR1));
}

TEST(thread_pool, workers_block_asynchronous_signals) {
    run_test(pool_threads_block_signals);
}

TEST(thread_pool, a_pool_made_outside_a_loop_blocks_signals_in_its_workers) {
    corio::thread_pool pool(1);
    std::promise<bool> sigint_blocked;
    pool.submit([&sigint_blocked] { sigint_blocked.set_value(blocked_here(SIGINT)); });
    EXPECT_TRUE(sigint_blocked.get_future().get());
    EXPECT_FALSE(blocked_here(SIGINT));
}

} // namespace
