// Which reactor a loop runs on: run_options.backend, CORIO_BACKEND, and the fallback from
// io_uring to epoll when the kernel refuses io_uring (simulated with a seccomp filter that
// makes io_uring_setup fail, as Docker's default profile and io_uring_disabled=2 do).

#include "support/loop.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <string>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

TEST(backend, automatic_is_io_uring_unless_the_kernel_refuses_it) {
    corio::run_options options;
    options.backend = corio::backend::automatic;
    corio::event_loop loop(options);
    const char* env = std::getenv("CORIO_BACKEND");
    if (env != nullptr && std::string(env) == "epoll") {
        EXPECT_EQ(loop.backend(), corio::backend::epoll); // the environment chose
        return;
    }
    if (!loop.io_uring_refusal().empty()) {
        EXPECT_EQ(loop.backend(), corio::backend::epoll);
        GTEST_SKIP() << "io_uring refused here: " << loop.io_uring_refusal();
    }
    EXPECT_EQ(loop.backend(), corio::backend::io_uring);
}

TEST(backend, an_explicit_choice_wins_over_the_environment) {
    corio::run_options options;
    options.backend = corio::backend::epoll;
    corio::event_loop loop(options);
    EXPECT_EQ(loop.backend(), corio::backend::epoll);
    EXPECT_TRUE(loop.io_uring_refusal().empty());
}

corio::task<int> sleep_and_answer() {
    co_await corio::sleep(1ms);
    co_return 42;
}

TEST(backend, both_reactors_run_a_loop) {
    for (const auto b : {corio::backend::epoll, corio::backend::io_uring}) {
        corio::run_options options;
        options.backend = b;
        try {
            EXPECT_EQ(corio::run(sleep_and_answer(), options), 42);
        } catch (const corio::invalid_state_error& e) {
            ASSERT_EQ(b, corio::backend::io_uring) << e.what();
            GTEST_SKIP() << e.what();
        }
    }
}

/// In a child process: make io_uring_setup fail with `err`, then check what loops do.
/// Returns the child's exit status (0: as expected; 2..: which check failed).
int child_without_io_uring(int err) {
    const pid_t pid = ::fork();
    if (pid != 0) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
    }
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K,
                 SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        ::_exit(2);
    }
    ::unsetenv("CORIO_BACKEND");
    try {
        corio::event_loop loop; // automatic
        if (loop.backend() != corio::backend::epoll) {
            ::_exit(3);
        }
        if (loop.io_uring_refusal().find("io_uring_setup") == std::string::npos) {
            ::_exit(4);
        }
        if (corio::run(sleep_and_answer()) != 42) {
            ::_exit(5);
        }
    } catch (...) {
        ::_exit(6);
    }
    try {
        corio::run_options options;
        options.backend = corio::backend::io_uring;
        corio::event_loop loop(options);
        ::_exit(7); // should have thrown
    } catch (const corio::invalid_state_error& e) {
        const std::string what = e.what();
        if (what.find("backend::io_uring was requested") == std::string::npos ||
            what.find("io_uring_setup") == std::string::npos) {
            ::_exit(8);
        }
    } catch (...) {
        ::_exit(9);
    }
    ::_exit(0);
}

TEST(backend, a_refused_io_uring_falls_back_to_epoll_or_fails_clearly_when_asked_for) {
    EXPECT_EQ(child_without_io_uring(EPERM), 0) << "seccomp: EPERM";
    EXPECT_EQ(child_without_io_uring(ENOSYS), 0) << "seccomp: ENOSYS";
}

} // namespace
