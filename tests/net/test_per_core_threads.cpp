// corio::run_per_core: a loop per thread, each worker with its own index; servers sharded
// with SO_REUSEPORT, both loops answering; SIGINT and SIGTERM handled once and delivered to
// every loop as a cancellation; a failing worker cancelling the others.

#include "support/loop.hpp"
#include "support/net.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <mutex>
#include <set>
#include <thread>

#include <csignal>
#include <sys/socket.h>
#include <unistd.h>

using namespace std::chrono_literals;
using namespace corio_net_test;

namespace {

class per_core : public fd_leak_check {};

} // namespace

TEST_F(per_core, each_worker_runs_on_its_own_thread_with_its_own_index) {
    std::mutex m;
    std::set<std::size_t> indexes;
    std::set<std::thread::id> threads;
    const int status = corio::run_per_core(3, [&](std::size_t i) -> corio::task<int> {
        co_await corio::sleep(0s);
        std::lock_guard lock(m);
        indexes.insert(corio::worker_index());
        threads.insert(std::this_thread::get_id());
        co_return static_cast<int>(i); // the largest comes out
    });
    EXPECT_EQ(status, 2);
    EXPECT_EQ(indexes, (std::set<std::size_t>{0, 1, 2}));
    EXPECT_EQ(threads.size(), 3U);
    EXPECT_EQ(threads.count(std::this_thread::get_id()), 0U);
    EXPECT_EQ(corio::worker_index(), 0U);
    EXPECT_GE(corio::usable_cpus(), 1U);
}

// One thread pool per process: every loop's to_thread goes to the same pool.
TEST_F(per_core, the_loops_share_one_thread_pool) {
    std::mutex m;
    std::set<const corio::executor*> pools;
    const int status = corio::run_per_core(2, [&](std::size_t) -> corio::task<int> {
        const int three = co_await corio::to_thread([] { return 3; });
        std::lock_guard lock(m);
        pools.insert(&corio::get_running_loop().default_executor());
        co_return three;
    });
    EXPECT_EQ(status, 3);
    EXPECT_EQ(pools.size(), 1U);
}

TEST_F(per_core, sigint_cancels_every_loop_once) {
    std::latch started(2);
    std::atomic<int> cancelled{0};
    const int status = corio::run_per_core(2, [&](std::size_t i) -> corio::task<> {
        started.count_down();
        if (i == 0) {
            started.wait(); // both loops run: now the signal (blocked in every thread)
            ::kill(::getpid(), SIGINT);
        }
        try {
            co_await corio::sleep(1h);
        } catch (const corio::cancelled_error&) {
            ++cancelled;
            throw;
        }
    });
    EXPECT_EQ(status, 128 + SIGINT);
    EXPECT_EQ(cancelled.load(), 2);
}

TEST_F(per_core, a_failing_worker_cancels_the_others_and_its_error_comes_out) {
    std::atomic<int> cancelled{0};
    EXPECT_THROW(corio::run_per_core(2,
                                     [&](std::size_t i) -> corio::task<> {
                                         if (i == 1) {
                                             co_await corio::sleep(1ms);
                                             throw corio_test::test_error("worker 1 failed");
                                         }
                                         try {
                                             co_await corio::sleep(1h);
                                         } catch (const corio::cancelled_error&) {
                                             ++cancelled;
                                             throw;
                                         }
                                     }),
                 corio_test::test_error);
    EXPECT_EQ(cancelled.load(), 1);
}

// Two loops listen on one port with SO_REUSEPORT; 64 connections from a plain thread are
// spread over both by the kernel (by their source ports: every one going to the same loop
// has a chance of 2^-63); SIGTERM then ends both.
TEST_F(per_core, servers_sharded_with_so_reuseport_both_answer) {
    const std::uint16_t port = unused_port();
    std::latch listening(2);
    std::mutex m;
    std::multiset<std::string> answers;
    std::jthread client;
    const int status = corio::run_per_core(2, [&](std::size_t i) -> corio::task<> {
        corio::server_options options;
        options.reuse_port = true;
        corio::server srv = co_await corio::start_server(
            [](corio::stream s) -> corio::task<> {
                s.write(std::to_string(corio::worker_index()) + "\n");
                co_await s.drain();
                s.close();
                co_await s.wait_closed();
            },
            "127.0.0.1", port, options);
        listening.count_down();
        if (i == 0) {
            client = std::jthread([&] {
                listening.wait();
                for (int c = 0; c < 64; ++c) {
                    raw_fd fd = raw_connect(corio::socket_address::from_ip("127.0.0.1", port));
                    char buf[8] = {};
                    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
                    std::lock_guard lock(m);
                    answers.insert(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0));
                }
                ::kill(::getpid(), SIGTERM);
            });
        }
        co_await srv.serve_forever();
    });
    client.join();
    EXPECT_EQ(status, 128 + SIGTERM);
    EXPECT_EQ(answers.size(), 64U);
    EXPECT_GT(answers.count("0\n"), 0U);
    EXPECT_GT(answers.count("1\n"), 0U);
}
