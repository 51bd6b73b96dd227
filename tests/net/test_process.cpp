// create_subprocess_exec and corio::process, with real children (/bin/sh, cat, sleep...):
// exit codes and signals, pipes in every combination, large transfers without deadlock,
// cwd and env, exec failures, concurrent and cancelled waits, and no fd or zombie left
// behind. The tests never sleep: children that must run for a while are `sleep 1000` or a
// `cat` waiting on its stdin, and are stopped by the test.

#include <corio/corio.hpp>
#include <corio/detail/io.hpp>

#include "support/net.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

using argv_t = std::vector<std::string>;

using corio_net_test::count_fds;

/// True if `pid` is not a child of ours any more (it was reaped).
bool reaped(int pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) < 0 &&
           errno == ECHILD;
}

/// Run `body()` on a fresh loop; the fds open afterwards are those open before.
template <class F>
void run_test(F body) {
    const int before = count_fds();
    corio::run(body());
    EXPECT_EQ(count_fds(), before) << "a file descriptor leaked";
}

/// Start `args...` with `options`. (Arguments rather than a braced argv: g++ 12 rejects
/// braced lists inside `co_await`.)
template <class... Args>
corio::task<corio::process> exec_with(corio::process_options options, Args... args) {
    argv_t argv{std::string(args)...};
    co_return co_await corio::create_subprocess_exec(std::move(argv), std::move(options));
}

template <class... Args>
corio::task<corio::process> exec(Args... args) {
    return exec_with(corio::process_options(), std::move(args)...);
}

/// Yield to the loop until `done()` holds, at most `rounds` times (the loop polls for I/O
/// at least every event_loop::io_poll_interval batches).
template <class P>
corio::task<bool> yield_until(P done, int rounds = 1000) {
    for (int i = 0; i < rounds && !done(); ++i) {
        co_await corio::sleep(0s);
    }
    co_return done();
}

/// Wait (through a pidfd of our own) until `pid` has exited; at once if it was reaped.
corio::task<> until_exited(int pid) {
    corio::detail::unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) {
        co_return; // reaped already
    }
    pollfd p{pidfd.get(), POLLIN, 0};
    while (::poll(&p, 1, 0) == 0) {
        co_await corio::detail::wait_fd(corio::get_running_loop(), pidfd.get(), true);
    }
}

/// What awaiting `a` threw, as `E` (empty if it returned or threw something else).
template <class E, class A>
corio::task<std::optional<E>> error_as(A a) {
    std::optional<E> error;
    try {
        co_await std::move(a);
    } catch (const E& e) {
        error.emplace(e);
    }
    co_return error;
}

// --- exit codes and signals --------------------------------------------------------------

corio::task<> exit_codes() {
    corio::process t = co_await exec("/bin/true");
    EXPECT_GT(t.pid(), 0);
    EXPECT_EQ(co_await t.wait(), 0);
    EXPECT_EQ(t.returncode(), 0);
    corio::process f = co_await exec("/bin/false");
    EXPECT_EQ(co_await f.wait(), 1);
    corio::process s = co_await exec("/bin/sh", "-c", "exit 7");
    EXPECT_EQ(co_await s.wait(), 7);
    EXPECT_EQ(co_await s.wait(), 7); // again, at once
}

TEST(process, wait_gives_the_exit_code) {
    run_test(exit_codes);
}

corio::task<> default_options() {
    // The natural call, options left to their default (a defaulted class-type argument of
    // a coroutine is what g++ 12 destroys wrongly; create_subprocess_exec is not one).
    std::vector<std::string> argv{"/bin/sh", "-c", "exit 3"};
    corio::process p = co_await corio::create_subprocess_exec(argv);
    EXPECT_EQ(co_await p.wait(), 3);
}

TEST(process, default_options_are_inherit) {
    run_test(default_options);
}

corio::task<> killed() {
    corio::process p = co_await exec("sleep", "1000");
    EXPECT_EQ(p.returncode(), std::nullopt);
    p.kill();
    EXPECT_EQ(co_await p.wait(), -SIGKILL);
    EXPECT_EQ(p.returncode(), -SIGKILL);
}

TEST(process, a_child_killed_by_a_signal_gives_minus_the_signal) {
    run_test(killed);
}

corio::task<> terminated() {
    corio::process p = co_await exec("sleep", "1000");
    p.terminate();
    EXPECT_EQ(co_await p.wait(), -SIGTERM);
}

TEST(process, terminate_sends_sigterm) {
    run_test(terminated);
}

corio::task<> signals_blocked_in_the_parent() {
    // The loop blocks SIGINT and SIGTERM in this thread while it has handlers for them; the
    // child must still start with them deliverable.
    corio::event_loop& loop = corio::get_running_loop();
    loop.add_signal_handler(SIGINT, [] {});
    loop.add_signal_handler(SIGTERM, [] {});
    corio::process a = co_await exec("sleep", "1000");
    corio::process b = co_await exec("sleep", "1000");
    a.send_signal(SIGINT);
    b.terminate();
    EXPECT_EQ(co_await a.wait(), -SIGINT);
    EXPECT_EQ(co_await b.wait(), -SIGTERM);
    loop.remove_signal_handler(SIGINT);
    loop.remove_signal_handler(SIGTERM);
}

TEST(process, the_child_starts_with_no_signal_blocked) {
    run_test(signals_blocked_in_the_parent);
}

corio::task<> sigpipe_default_in_child() {
    corio::process p = co_await exec("sleep", "1000");
    p.send_signal(SIGPIPE);
    EXPECT_EQ(co_await p.wait(), -SIGPIPE);
}

TEST(process, signals_ignored_by_the_parent_are_default_in_the_child) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction old {};
    ::sigaction(SIGPIPE, &ignore, &old);
    run_test(sigpipe_default_in_child);
    ::sigaction(SIGPIPE, &old, nullptr);
}

corio::task<> signal_after_exit() {
    corio::process p = co_await exec("/bin/true");
    EXPECT_EQ(co_await p.wait(), 0);
    p.kill(); // reaped: nothing to signal, and no error
    p.terminate();
    p.send_signal(SIGINT);
    EXPECT_EQ(p.returncode(), 0);
}

TEST(process, signalling_a_reaped_child_does_nothing) {
    run_test(signal_after_exit);
}

corio::task<> invalid_signal() {
    corio::process p = co_await exec("sleep", "1000");
    try {
        p.send_signal(12345);
        ADD_FAILURE() << "no error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("send_signal 12345 to pid " + std::to_string(p.pid())),
                  std::string::npos)
            << e.what();
    }
    p.kill();
    EXPECT_EQ(co_await p.wait(), -SIGKILL);
}

TEST(process, an_invalid_signal_is_a_system_error) {
    run_test(invalid_signal);
}

// --- pipes -------------------------------------------------------------------------------

corio::task<> communicate_through_cat() {
    corio::process_options options{.stdin_ = corio::pipe, .stdout_ = corio::pipe};
    corio::process p = co_await exec_with(options, "cat");
    auto [out, err] = co_await p.communicate("hello\nworld\n");
    EXPECT_EQ(out, "hello\nworld\n");
    EXPECT_EQ(err, "");
    EXPECT_EQ(p.returncode(), 0);
}

TEST(process, communicate_sends_input_and_collects_output) {
    run_test(communicate_through_cat);
}

std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        s[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
    }
    return s;
}

corio::task<> large_through_cat() {
    // Far more than a pipe holds, both ways at once: the input must be written while the
    // output is read.
    const std::string input = pattern(6 * 1024 * 1024 + 123);
    corio::process_options options{.stdin_ = corio::pipe, .stdout_ = corio::pipe};
    corio::process p = co_await exec_with(options, "cat");
    auto [out, err] = co_await p.communicate(input);
    EXPECT_EQ(out.size(), input.size());
    EXPECT_TRUE(out == input);
    EXPECT_EQ(co_await p.wait(), 0);
}

TEST(process, communicate_moves_megabytes_both_ways) {
    run_test(large_through_cat);
}

corio::task<> large_on_both_outputs() {
    // stderr fills first: reading stdout to its end before touching stderr would deadlock.
    corio::process_options options{.stdout_ = corio::pipe, .stderr_ = corio::pipe};
    corio::process p =
        co_await exec_with(options, "/bin/sh", "-c",
                           "head -c 3000000 /dev/zero >&2; head -c 4000000 /dev/zero; "
                           "head -c 1000000 /dev/zero >&2");
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out.size(), 4000000U);
    EXPECT_EQ(err.size(), 4000000U);
    EXPECT_EQ(p.returncode(), 0);
}

TEST(process, communicate_reads_stdout_and_stderr_concurrently) {
    run_test(large_on_both_outputs);
}

corio::task<> input_not_read() {
    // The child exits without reading its stdin: not an error for communicate.
    corio::process_options options{.stdin_ = corio::pipe, .stdout_ = corio::pipe};
    corio::process p = co_await exec_with(options, "/bin/sh", "-c", "echo bye");
    auto [out, err] = co_await p.communicate(pattern(2 * 1024 * 1024));
    EXPECT_EQ(out, "bye\n");
    EXPECT_EQ(p.returncode(), 0);
}

TEST(process, communicate_ignores_a_child_that_does_not_read_its_input) {
    run_test(input_not_read);
}

corio::task<> stdin_eof() {
    corio::process_options options{.stdin_ = corio::pipe, .stdout_ = corio::pipe};
    corio::process p = co_await exec_with(options, "cat");
    corio::stream& in = p.stdin_pipe();
    in.write("one\n");
    co_await in.drain();
    EXPECT_EQ(co_await p.stdout_pipe().read_line(), "one\n");
    in.write("two");
    in.close(); // cat sees end of file and exits
    EXPECT_EQ(co_await p.stdout_pipe().read_all(), "two");
    EXPECT_TRUE(p.stdout_pipe().at_eof());
    EXPECT_EQ(co_await p.wait(), 0);
}

TEST(process, closing_stdin_gives_the_child_end_of_file) {
    run_test(stdin_eof);
}

corio::task<> line_across_writes() {
    corio::process_options options{.stdout_ = corio::pipe};
    corio::process p =
        co_await exec_with(options, "/bin/sh", "-c", "printf a; sleep 0.01; printf 'b\\nc'");
    EXPECT_EQ(co_await p.stdout_pipe().read_line(), "ab\n");
    EXPECT_EQ(co_await p.stdout_pipe().read_line(), "c");
    EXPECT_EQ(co_await p.stdout_pipe().read_line(), "");
    EXPECT_EQ(co_await p.wait(), 0);
}

TEST(process, read_line_joins_a_line_written_in_pieces) {
    run_test(line_across_writes);
}

corio::task<> stderr_into_stdout() {
    corio::process_options options{.stdout_ = corio::pipe, .stderr_ = corio::stdout_};
    corio::process p = co_await exec_with(options, "/bin/sh", "-c", "echo out; echo err >&2");
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "out\nerr\n");
    EXPECT_EQ(err, "");
    EXPECT_THROW(p.stderr_pipe(), corio::invalid_state_error);
}

TEST(process, stderr_can_go_to_stdout) {
    run_test(stderr_into_stdout);
}

corio::task<> devnull() {
    corio::process_options options{
        .stdin_ = corio::devnull, .stdout_ = corio::pipe, .stderr_ = corio::devnull};
    corio::process p = co_await exec_with(options, "/bin/sh", "-c", "cat; echo done; echo err >&2");
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "done\n"); // cat read an empty stdin
    EXPECT_EQ(co_await p.wait(), 0);

    corio::process_options quiet{.stdout_ = corio::devnull, .stderr_ = corio::pipe};
    corio::process q = co_await exec_with(quiet, "/bin/sh", "-c", "echo to-null");
    auto [out2, err2] = co_await q.communicate();
    EXPECT_EQ(out2, "");
    EXPECT_EQ(err2, "");
    EXPECT_EQ(q.returncode(), 0);
}

TEST(process, devnull_reads_empty_and_swallows_writes) {
    run_test(devnull);
}

corio::task<> inherit_stdin() {
    corio::process_options options{.stdout_ = corio::pipe};
    corio::process p = co_await exec_with(options, "cat");
    EXPECT_EQ(co_await p.stdout_pipe().read_all(), "from the parent's stdin\n");
    EXPECT_EQ(co_await p.wait(), 0);
}

TEST(process, inherit_shares_the_parents_fd) {
    // Put a file on our fd 0 for the child to inherit, then restore it.
    char path[] = "/tmp/corio-process-XXXXXX";
    const int file = ::mkstemp(path);
    ASSERT_GE(file, 0);
    const std::string text = "from the parent's stdin\n";
    ASSERT_EQ(::write(file, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ASSERT_EQ(::lseek(file, 0, SEEK_SET), 0);
    const int saved = ::dup(0);
    ASSERT_GE(saved, 0);
    ::dup2(file, 0);
    ::close(file);
    run_test(inherit_stdin);
    ::dup2(saved, 0);
    ::close(saved);
    ::unlink(path);
}

/// The fds open in process `pid`.
std::vector<int> fds_of(int pid) {
    std::vector<int> fds;
    for (const auto& entry :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        fds.push_back(std::stoi(entry.path().filename().string()));
    }
    std::sort(fds.begin(), fds.end());
    return fds;
}

corio::task<> only_stdio_inherited() {
    // An fd without close-on-exec that is not corio's: the child must not get it either.
    const int stray = ::open("/dev/null", O_RDONLY);
    corio::process_options options{.stdin_ = corio::pipe, .stdout_ = corio::pipe};
    corio::process p = co_await exec_with(options, "cat");
    // Once cat echoes a line it is past its start-up (which may open locale files).
    p.stdin_pipe().write("x\n");
    EXPECT_EQ(co_await p.stdout_pipe().read_line(), "x\n");
    EXPECT_EQ(fds_of(p.pid()), (std::vector<int>{0, 1, 2}));
    ::close(stray);
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(p.returncode(), 0);
}

TEST(process, the_child_inherits_only_its_standard_fds) {
    run_test(only_stdio_inherited);
}

// --- options written inside co_await (g++ 12) ---------------------------------------------
//
// g++ 12 destroys an aggregate-initialized temporary twice when it is written inside a
// `co_await` expression (it runs the destructor on the temporary and on a bitwise copy it
// makes in the coroutine frame, at every -O level). process_options is trivially
// destructible, so that second destruction frees nothing.

// What the options refer to must outlive the call: a temporary string or vector is refused
// at compile time rather than left dangling in named options.
static_assert(std::is_constructible_v<corio::string_ref, const std::string&>);
static_assert(!std::is_constructible_v<corio::string_ref, std::string&&>);
static_assert(std::is_constructible_v<corio::environment_ref, const std::vector<std::string>&>);
static_assert(!std::is_constructible_v<corio::environment_ref, std::vector<std::string>&&>);

corio::task<> options_in_the_co_await() {
    argv_t argv{"/bin/sh", "-c", "echo one-liner"};
    corio::process p = co_await corio::create_subprocess_exec(argv, {.stdout_ = corio::pipe});
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "one-liner\n");
    EXPECT_EQ(p.returncode(), 0);
}

TEST(process, options_written_inside_the_co_await_are_destroyed_once) {
    run_test(options_in_the_co_await);
}

corio::task<> cwd_and_env_in_the_co_await(std::string dir) {
    argv_t argv{"/bin/sh", "-c", "echo \"$CORIO_A:$(pwd -P)\""};
    std::vector<std::string> env{"CORIO_A=from the env"};
    corio::process p = co_await corio::create_subprocess_exec(
        argv, {.stdout_ = corio::pipe, .cwd = dir, .env = env});
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "from the env:" + std::filesystem::canonical(dir).string() + "\n");
    EXPECT_EQ(p.returncode(), 0);
}

TEST(process, cwd_and_env_written_inside_the_co_await_are_destroyed_once) {
    char dir[] = "/tmp/corio-process-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    run_test([&] { return cwd_and_env_in_the_co_await(dir); });
    ::rmdir(dir);
}

corio::task<> stored_then_awaited(std::string dir) {
    // The task is lazy: it starts the child when awaited, after the strings the options
    // referred to are gone. create_subprocess_exec copies them when called.
    corio::task<corio::process> starting;
    {
        std::string cwd = dir;
        std::vector<std::string> env{"CORIO_A=copied"};
        argv_t argv{"/bin/sh", "-c", "echo \"$CORIO_A:$(pwd -P)\""};
        corio::process_options options{.stdout_ = corio::pipe, .cwd = cwd, .env = env};
        starting = corio::create_subprocess_exec(argv, options);
        cwd.assign(cwd.size(), 'x');
        env[0].assign(env[0].size(), 'x');
    }
    corio::process p = co_await std::move(starting);
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "copied:" + std::filesystem::canonical(dir).string() + "\n");
}

TEST(process, a_stored_create_subprocess_exec_task_owns_its_cwd_and_env) {
    char dir[] = "/tmp/corio-process-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    run_test([&] { return stored_then_awaited(dir); });
    ::rmdir(dir);
}

// --- cwd, env, exec failures ---------------------------------------------------------------

corio::task<> in_directory(std::string dir) {
    corio::process_options options{.stdout_ = corio::pipe, .cwd = dir};
    corio::process p = co_await exec_with(options, "/bin/sh", "-c", "pwd -P");
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, std::filesystem::canonical(dir).string() + "\n");
    EXPECT_EQ(p.returncode(), 0);
}

TEST(process, cwd_sets_the_childs_directory) {
    char dir[] = "/tmp/corio-process-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    run_test([&] { return in_directory(dir); });
    ::rmdir(dir);
}

corio::task<> missing_cwd() {
    corio::process_options options{.stdout_ = corio::pipe, .cwd = "/nonexistent/corio"};
    auto error = co_await error_as<std::system_error>(exec_with(options, "/bin/true"));
    if (!error) {
        ADD_FAILURE() << "no error";
        co_return;
    }
    EXPECT_EQ(error->code(), std::errc::no_such_file_or_directory);
    EXPECT_STREQ(error->what(),
                 "create_subprocess_exec /bin/true (cwd /nonexistent/corio): No such file or "
                 "directory");
}

TEST(process, a_missing_cwd_is_named_in_the_error) {
    run_test(missing_cwd);
}

corio::task<> own_environment() {
    std::vector<std::string> env{"CORIO_A=1", "CORIO_B=two words"};
    corio::process_options options{.stdout_ = corio::pipe, .env = env};
    corio::process p =
        co_await exec_with(options, "/bin/sh", "-c", "echo \"$CORIO_A/$CORIO_B/${HOME-unset}\"");
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "1/two words/unset\n");
}

TEST(process, env_replaces_the_environment) {
    run_test(own_environment);
}

corio::task<> inherited_environment() {
    corio::process_options options{.stdout_ = corio::pipe};
    corio::process p = co_await exec_with(options, "/bin/sh", "-c", "echo \"$CORIO_INHERITED\"");
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "yes\n");
}

TEST(process, without_env_the_environment_is_inherited) {
    ::setenv("CORIO_INHERITED", "yes", 1);
    run_test(inherited_environment);
    ::unsetenv("CORIO_INHERITED");
}

corio::task<> exec_failures() {
    corio::process_options all_pipes{
        .stdin_ = corio::pipe, .stdout_ = corio::pipe, .stderr_ = corio::pipe};
    auto missing = co_await error_as<std::system_error>(exec_with(all_pipes, "nosuch-prog"));
    if (!missing) {
        ADD_FAILURE() << "no error";
        co_return;
    }
    EXPECT_EQ(missing->code(), std::errc::no_such_file_or_directory);
    EXPECT_STREQ(missing->what(), "create_subprocess_exec nosuch-prog: No such file or directory");

    auto not_executable = co_await error_as<std::system_error>(exec("/etc/passwd"));
    if (!not_executable) {
        ADD_FAILURE() << "no error";
        co_return;
    }
    EXPECT_EQ(not_executable->code(), std::errc::permission_denied);
    EXPECT_STREQ(not_executable->what(), "create_subprocess_exec /etc/passwd: Permission denied");
}

TEST(process, a_failed_exec_is_a_system_error_naming_the_program) {
    run_test(exec_failures);
}

corio::task<> misuse() {
    auto empty_argv = co_await error_as<std::invalid_argument>(
        corio::create_subprocess_exec(argv_t(), corio::process_options()));
    EXPECT_TRUE(empty_argv);
    corio::process_options bad{.stdout_ = corio::stdout_};
    auto bad_redirect = co_await error_as<std::invalid_argument>(exec_with(bad, "/bin/true"));
    EXPECT_TRUE(bad_redirect);

    corio::process p = co_await exec("/bin/true");
    EXPECT_THROW(p.stdin_pipe(), corio::invalid_state_error);
    EXPECT_THROW(p.stdout_pipe(), corio::invalid_state_error);
    EXPECT_THROW(p.stderr_pipe(), corio::invalid_state_error);
    EXPECT_THROW((void)p.communicate("input"), corio::invalid_state_error);
    EXPECT_EQ(co_await p.wait(), 0);

    corio::process moved = std::move(p);
    EXPECT_FALSE(p.valid()); // NOLINT(bugprone-use-after-move): testing it
    EXPECT_THROW((void)p.pid(), corio::invalid_state_error);
    EXPECT_THROW((void)p.wait(), corio::invalid_state_error);
    EXPECT_THROW(p.kill(), corio::invalid_state_error);
    EXPECT_EQ(moved.returncode(), 0);
    corio::process none;
    EXPECT_THROW((void)none.returncode(), corio::invalid_state_error);
}

TEST(process, misuse_is_reported) {
    run_test(misuse);
}

corio::task<> wrong_direction() {
    corio::process_options options{.stdin_ = corio::pipe, .stdout_ = corio::pipe};
    corio::process p = co_await exec_with(options, "cat");
    const std::string of_pid = " of pid " + std::to_string(p.pid());
    // asyncio's proc.stdin is a StreamWriter, which has no read() (AttributeError), and
    // proc.stdout a StreamReader without write(): each is an error here too, naming the call
    // and the stream.
    auto read_stdin = co_await error_as<corio::invalid_state_error>(p.stdin_pipe().read(100));
    if (!read_stdin) {
        ADD_FAILURE() << "reading the child's stdin did not throw";
    } else {
        EXPECT_STREQ(read_stdin->what(),
                     ("invalid_state_error: read: stdin" + of_pid + " has no read end").c_str());
    }
    auto line_stdin = co_await error_as<corio::invalid_state_error>(p.stdin_pipe().read_line());
    EXPECT_TRUE(line_stdin);
    try {
        p.stdout_pipe().write("x");
        ADD_FAILURE() << "writing to the child's stdout did not throw";
    } catch (const corio::invalid_state_error& e) {
        EXPECT_STREQ(e.what(),
                     ("invalid_state_error: write: stdout" + of_pid + " has no write end").c_str());
    }
    // Neither misuse disturbed the pipes.
    p.stdin_pipe().write("still works\n");
    p.stdin_pipe().close();
    EXPECT_EQ(co_await p.stdout_pipe().read_all(), "still works\n");
    EXPECT_EQ(co_await p.wait(), 0);
}

TEST(process, reading_stdin_or_writing_stdout_is_an_error_naming_the_stream) {
    run_test(wrong_direction);
}

corio::task<corio::process> start_sleeper() {
    co_return co_await exec("sleep", "1000");
}

corio::task<> use_after_its_loop(corio::process& p) {
    EXPECT_THROW((void)p.wait(), corio::invalid_state_error);
    EXPECT_THROW((void)p.communicate(), corio::invalid_state_error);
    p.kill(); // the pidfd still names the child
    co_return;
}

TEST(process, waiting_needs_the_loop_that_started_the_child) {
    const int before = count_fds();
    {
        corio::process p = corio::run(start_sleeper());
        corio::run(use_after_its_loop(p));
        // Nobody watches the child any more: reap it here.
        int status = 0;
        EXPECT_EQ(::waitpid(p.pid(), &status, 0), p.pid());
        EXPECT_TRUE(WIFSIGNALED(status));
    }
    EXPECT_EQ(count_fds(), before);
}

// --- waiting, cancellation, lifetime ------------------------------------------------------

corio::task<> concurrent_waits() {
    corio::process_options options{.stdin_ = corio::pipe};
    corio::process p = co_await exec_with(options, "cat");
    auto a = corio::spawn(p.wait());
    auto b = corio::spawn(p.wait());
    co_await corio::sleep(0s); // both are waiting now
    co_await corio::sleep(0s);
    EXPECT_FALSE(a.done());
    EXPECT_FALSE(b.done());
    p.stdin_pipe().close();
    EXPECT_EQ(co_await a, 0);
    EXPECT_EQ(co_await b, 0);
}

TEST(process, several_tasks_can_wait_at_once) {
    run_test(concurrent_waits);
}

/// True if the task behind `h` ended with cancelled_error.
template <class T>
corio::task<bool> ended_cancelled(corio::join_handle<T> h) {
    try {
        co_await h;
    } catch (const corio::cancelled_error&) {
        co_return true;
    }
    co_return false;
}

corio::task<> cancelled_wait() {
    corio::process_options options{.stdin_ = corio::pipe};
    corio::process p = co_await exec_with(options, "cat");
    auto waiting = corio::spawn(p.wait());
    co_await corio::sleep(0s);
    waiting.cancel();
    EXPECT_TRUE(co_await ended_cancelled(waiting));
    EXPECT_EQ(p.returncode(), std::nullopt); // still running
    p.stdin_pipe().close();
    EXPECT_EQ(co_await p.wait(), 0);
}

TEST(process, a_cancelled_wait_leaves_the_child_running_and_can_be_retried) {
    run_test(cancelled_wait);
}

corio::task<corio::process_output> communicate_on(corio::process& p, std::string input) {
    co_return co_await p.communicate(std::move(input));
}

corio::task<> cancelled_communicate() {
    corio::process_options options{
        .stdin_ = corio::pipe, .stdout_ = corio::pipe, .stderr_ = corio::pipe};
    // Echoes its input, then waits for a signal: communicate cannot finish by itself.
    corio::process p =
        co_await exec_with(options, "/bin/sh", "-c", "read line; echo \"$line\"; exec sleep 1000");
    auto talking = corio::spawn(communicate_on(p, "ping\n"));
    co_await corio::sleep(0s);
    co_await corio::sleep(0s);
    talking.cancel();
    EXPECT_TRUE(co_await ended_cancelled(talking));
    EXPECT_EQ(p.returncode(), std::nullopt);
    p.terminate();
    EXPECT_EQ(co_await p.wait(), -SIGTERM);
}

TEST(process, a_cancelled_communicate_leaves_the_child_running) {
    run_test(cancelled_communicate);
}

corio::task<> dropped_while_running() {
    // Dropping the process closes its stdin: cat exits, and the loop reaps it unasked.
    int cat_pid = 0;
    {
        corio::process_options options{.stdin_ = corio::pipe, .stdout_ = corio::devnull};
        corio::process p = co_await exec_with(options, "cat");
        cat_pid = p.pid();
    }
    co_await until_exited(cat_pid);
    EXPECT_TRUE(co_await yield_until([&] { return reaped(cat_pid); }));

    // A child that runs on after its process is dropped is reaped when it exits.
    int sleep_pid = 0;
    {
        corio::process p = co_await exec("sleep", "1000");
        sleep_pid = p.pid();
    }
    co_await corio::sleep(0s);
    EXPECT_FALSE(reaped(sleep_pid));
    ::kill(sleep_pid, SIGKILL);
    co_await until_exited(sleep_pid);
    EXPECT_TRUE(co_await yield_until([&] { return reaped(sleep_pid); }));
}

TEST(process, a_dropped_process_is_still_reaped) {
    run_test(dropped_while_running);
}

corio::task<> reported_in_debug_mode() {
    corio::event_loop& loop = corio::get_running_loop();
    std::vector<std::string> reports;
    loop.set_exception_handler([&reports](corio::event_loop&, const corio::exception_context& c) {
        reports.push_back(c.message);
    });
    loop.set_debug(true);
    int pid = 0;
    {
        corio::process p = co_await exec("sleep", "1000");
        pid = p.pid();
    }
    loop.set_debug(false);
    loop.set_exception_handler({});
    const std::string expected = "process pid " + std::to_string(pid) +
                                 " (sleep) destroyed while its child is still running";
    EXPECT_NE(std::find(reports.begin(), reports.end(), expected), reports.end());
    ::kill(pid, SIGKILL);
    co_await until_exited(pid);
    EXPECT_TRUE(co_await yield_until([&] { return reaped(pid); }));
}

TEST(process, debug_mode_reports_a_process_dropped_while_running) {
    run_test(reported_in_debug_mode);
}

corio::task<> reaped_without_waiting() {
    corio::process p = co_await exec("/bin/sh", "-c", "exit 4");
    co_await until_exited(p.pid());
    EXPECT_TRUE(co_await yield_until([&] { return p.returncode().has_value(); }));
    EXPECT_EQ(p.returncode(), 4);
    EXPECT_TRUE(reaped(p.pid()));
}

TEST(process, the_loop_reaps_a_child_nobody_waits_for) {
    run_test(reaped_without_waiting);
}

corio::task<> polling_fallback() {
    corio::process s = co_await exec("/bin/sh", "-c", "exit 3");
    EXPECT_EQ(co_await s.wait(), 3);
    corio::process k = co_await exec("sleep", "1000");
    k.kill();
    EXPECT_EQ(co_await k.wait(), -SIGKILL);
    corio::process_options options{.stdin_ = corio::pipe, .stdout_ = corio::pipe};
    corio::process c = co_await exec_with(options, "cat");
    auto [out, err] = co_await c.communicate("polled\n");
    EXPECT_EQ(out, "polled\n");
    EXPECT_EQ(c.returncode(), 0);
}

TEST(process, without_pidfd_the_loop_polls_for_the_exit) {
    corio::detail::process_force_polling(true);
    run_test(polling_fallback);
    corio::detail::process_force_polling(false);
}

corio::task<> on_the_virtual_clock() {
    corio::process_options options{.stdout_ = corio::pipe};
    corio::process p = co_await exec_with(options, "/bin/sh", "-c", "echo tick");
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "tick\n");
    EXPECT_EQ(p.returncode(), 0);
}

TEST(process, works_on_the_virtual_clock) {
    const int before = count_fds();
    corio::run(on_the_virtual_clock(), corio_test::virtual_time());
    EXPECT_EQ(count_fds(), before);
}

corio::task<> many_children() {
    // More children than any fixed table would hold, all alive at once.
    std::vector<corio::process> children;
    corio::process_options options{.stdin_ = corio::pipe, .stdout_ = corio::pipe};
    for (int i = 0; i < 50; ++i) {
        children.push_back(co_await exec_with(options, "cat"));
    }
    for (std::size_t i = 0; i < children.size(); ++i) {
        auto [out, err] = co_await children[i].communicate(std::to_string(i));
        EXPECT_EQ(out, std::to_string(i));
    }
    for (auto& c : children) {
        EXPECT_EQ(c.returncode(), 0);
    }
}

TEST(process, many_children_at_once) {
    run_test(many_children);
}

} // namespace
