#pragma once
/// \file
/// Subprocesses: `create_subprocess_exec` and `corio::process` (asyncio's
/// create_subprocess_exec and asyncio.subprocess.Process).
///
/// ```cpp
/// std::vector<std::string> argv{"grep", "-c", "corio"};
/// corio::process p = co_await corio::create_subprocess_exec(
///     argv, {.stdin_ = corio::pipe, .stdout_ = corio::pipe});
/// auto [out, err] = co_await p.communicate("corio\nasyncio\ncorio\n");
/// int code = co_await p.wait();   // 0; out == "2\n"
/// ```
/// (Name the argv first: g++ 12 rejects a braced list such as `{"grep", "-c"}` inside
/// `co_await`. The options may be written in place: see `process_options`.)
///
/// The child's exit is observed without blocking the loop and without SIGCHLD: through a
/// pidfd (Linux 5.3 and later), which the loop watches from the moment the child starts,
/// so the child is reaped as soon as it exits whether or not anyone waits for it. On a
/// kernel without pidfd_open the loop polls waitid() instead, with a back-off from 1 ms
/// to 100 ms.
///
/// A process belongs to the loop it was created on and is not thread-safe. Do not install
/// a SIGCHLD handler that reaps every child (`waitpid(-1)`), nor set SIGCHLD to SIG_IGN:
/// the child's exit status would be lost (the exit code then reads 255, as in asyncio).

#include "corio/net/stream.hpp"
#include "corio/string_ref.hpp"
#include "corio/task.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace corio {

namespace detail {
class process_state;
}

/// What becomes of one of the child's standard streams.
enum class stdio {
    inherit, ///< the child shares this process's fd (the default)
    pipe,    ///< a pipe to the parent: `process::stdin_pipe()` etc.
    devnull, ///< /dev/null
    stdout_, ///< for `stderr_` only: the same as the child's stdout (asyncio's STDOUT)
};

/// The child shares this process's stream (asyncio: None).
inline constexpr stdio inherit = stdio::inherit;
/// A pipe to the parent, read or written through a `corio::stream` (asyncio: PIPE).
inline constexpr stdio pipe = stdio::pipe;
/// /dev/null (asyncio: DEVNULL).
inline constexpr stdio devnull = stdio::devnull;
/// For `process_options::stderr_`: stderr goes where stdout goes (asyncio: STDOUT).
inline constexpr stdio stdout_ = stdio::stdout_;

/// The environment `process_options` refers to without owning it: either none given (the
/// default: the child gets this process's environment) or a list of "NAME=value" entries
/// (possibly empty: an empty environment). Made from a named `std::vector<std::string>` or
/// a span of strings, which must live until `create_subprocess_exec` is called: it copies
/// them. Not from a temporary vector (a compile error: name it first).
class environment_ref {
public:
    /// No environment given: the child inherits this process's.
    constexpr environment_ref() noexcept = default;
    constexpr environment_ref(std::nullopt_t) noexcept {} // NOLINT(google-explicit-constructor)
    environment_ref(const std::vector<std::string>& entries) noexcept // NOLINT
        : m_entries(entries), m_given(true) {}
    constexpr environment_ref(std::span<const std::string> entries) noexcept // NOLINT
        : m_entries(entries), m_given(true) {}
    /// A temporary vector would dangle: name it first.
    environment_ref(std::vector<std::string>&&) = delete;

    /// True if an environment was given (even an empty one).
    [[nodiscard]] constexpr bool has_value() const noexcept { return m_given; }
    /// The entries given (none if `has_value()` is false).
    [[nodiscard]] constexpr std::span<const std::string> entries() const noexcept {
        return m_entries;
    }

private:
    std::span<const std::string> m_entries;
    bool m_given = false;
};

/// How `create_subprocess_exec` starts the child. An aggregate:
/// `{.stdout_ = corio::pipe, .stderr_ = corio::devnull, .cwd = "/tmp"}`.
///
/// Trivially destructible on purpose, so it may be written in place inside `co_await`
/// (`co_await corio::create_subprocess_exec(argv, {.stdout_ = corio::pipe})`): g++ 12
/// destroys an aggregate temporary written inside a `co_await` expression twice, which
/// is harmless only for such a type. That is why `cwd` and `env` refer to strings the
/// caller owns; `create_subprocess_exec` copies them when it is called, so the task it
/// returns may be stored and awaited later.
struct process_options {
    stdio stdin_ = inherit;
    stdio stdout_ = inherit;
    /// May also be `corio::stdout_` (merged into stdout).
    stdio stderr_ = inherit;
    /// The child's working directory; empty: this process's.
    string_ref cwd{};
    /// The child's whole environment, as "NAME=value" entries (the format of `environ`);
    /// none given: this process's environment. An empty vector gives an empty environment.
    environment_ref env{};
    /// The `read_until`/`read_line` limit of the stdout and stderr streams.
    std::size_t limit = stream::default_limit;
};
static_assert(std::is_trivially_destructible_v<process_options>,
              "process_options is written inside co_await, where g++ 12 destroys it twice");

/// What `process::communicate` collected: the child's stdout, then its stderr
/// (`auto [out, err] = co_await p.communicate();`).
struct process_output {
    std::string out;
    std::string err;
};

/// A running (or finished) child process (asyncio.subprocess.Process).
///
/// Destroying a process closes its pipes but neither kills nor waits for the child: the
/// loop still reaps it when it exits, as long as the loop runs (a child that outlives the
/// loop is left running, and becomes a zombie when it exits until this program ends). In
/// debug mode the loop reports a process destroyed while its child runs. To stop the child,
/// `kill()` then `co_await wait()` before dropping the process.
class process;
namespace detail {
struct owned_process_options;
task<process> start_process(std::vector<std::string> argv, owned_process_options options);
} // namespace detail

class process {
public:
    /// A process that holds nothing; every call but the destructor throws.
    process() noexcept;
    process(process&& other) noexcept;
    process& operator=(process&& other) noexcept;
    process(const process&) = delete;
    process& operator=(const process&) = delete;
    /// Closes the pipes (data written to stdin is still flushed in the background).
    ~process();

    /// True unless default-constructed or moved from.
    [[nodiscard]] bool valid() const noexcept { return m_state != nullptr; }
    [[nodiscard]] explicit operator bool() const noexcept { return valid(); }

    /// The child's process id.
    [[nodiscard]] int pid() const;

    /// The stream writing to the child's stdin. Write end only: reading it throws
    /// invalid_state_error ("read: stdin of pid 1234 has no read end"), as asyncio's
    /// `proc.stdin`, a StreamWriter, has no read().
    /// \throws invalid_state_error if stdin was not made a pipe (`.stdin_ = corio::pipe`).
    stream& stdin_pipe();
    /// The stream reading the child's stdout. Read end only: writing to it throws
    /// invalid_state_error ("write: stdout of pid 1234 has no write end").
    /// \throws invalid_state_error if stdout was not made a pipe.
    stream& stdout_pipe();
    /// The stream reading the child's stderr. \throws invalid_state_error if stderr was
    /// not made a pipe.
    stream& stderr_pipe();

    /// Wait for the child to exit; its exit code, or minus the signal number that killed it
    /// (-9 after `kill()`), as asyncio's returncode. Any number of tasks may wait at once.
    /// Cancellable: the child runs on and `wait()` can be called again.
    /// Beware: with stdout or stderr piped, a child that writes more than a pipe holds
    /// (64 KiB) blocks until someone reads; read the pipes, or use `communicate()`.
    /// \throws invalid_state_error if the child has not been seen to exit and this is not
    /// the loop the process was created on (or that loop is closed).
    task<int> wait();
    /// The exit code once the loop has seen the child exit (see `wait()`), else empty.
    [[nodiscard]] std::optional<int> returncode() const;

    /// Write `input` to the child's stdin and close it (a child that exits without reading
    /// it all is not an error), read stdout and stderr to end of stream, all concurrently,
    /// then wait for the child to exit. Streams that are not pipes read as "".
    /// Cancellable: the child runs on; bytes already read are lost, and input may have been
    /// written in part.
    /// \throws invalid_state_error if `input` is not empty and stdin is not a pipe, or if
    /// called outside the process's loop; std::system_error if reading fails.
    task<process_output> communicate(std::string input);
    /// `communicate` with no input.
    task<process_output> communicate();

    /// Send signal `signo` to the child. Does nothing once the child has been reaped
    /// (`returncode()` is set: its pid may already name another process) — unlike asyncio,
    /// which raises ProcessLookupError when its transport is closed.
    /// \throws std::system_error for an invalid signal ("send_signal 99 to pid 1234:
    /// Invalid argument") or when not permitted.
    void send_signal(int signo);
    /// `send_signal(SIGTERM)`.
    void terminate();
    /// `send_signal(SIGKILL)`.
    void kill();

private:
    friend task<process> detail::start_process(std::vector<std::string>,
                                               detail::owned_process_options);
    explicit process(std::shared_ptr<detail::process_state> state) noexcept;
    detail::process_state& state(const char* operation) const;

    std::shared_ptr<detail::process_state> m_state;
};

/// Start `argv[0]` with arguments `argv` (asyncio.create_subprocess_exec). A name without
/// '/' is looked up in this process's PATH (as execvp; `options.env` does not change the
/// search). The child starts with no signal blocked and every signal at its default action,
/// whatever this thread blocks or ignores (the loop blocks the signals it has handlers for).
/// The child inherits only fds 0, 1 and 2 (asyncio's close_fds=True; with glibc older than
/// 2.34, fds opened elsewhere without close-on-exec are inherited too).
/// \throws std::system_error naming the program if it cannot be started
/// ("create_subprocess_exec nosuch-prog: No such file or directory"; with a `cwd`, the
/// message names it too, since a missing directory fails the same way);
/// std::invalid_argument if `argv` is empty or `corio::stdout_` is given for stdin_/stdout_.
/// Not a coroutine itself: `options.cwd` and `options.env` are copied before it returns,
/// and the returned task starts the child when it is awaited.
task<process> create_subprocess_exec(std::vector<std::string> argv, process_options options);
/// With the default options (everything inherited).
task<process> create_subprocess_exec(std::vector<std::string> argv);

namespace detail {
/// For tests: make processes created from now on ignore pidfd_open and poll waitid(), the
/// fallback for kernels older than 5.3.
void process_force_polling(bool enabled) noexcept;
} // namespace detail

} // namespace corio
