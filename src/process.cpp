// Subprocesses. The kernel and libc facts this file relies on:
//
// - glibc's posix_spawn (2.24 and later) starts the child with clone(CLONE_VM|CLONE_VFORK)
//   and reports the failure of a file action, of the chdir, or of the exec itself through
//   its return value: the parent learns ENOENT or EACCES without an error pipe of its own.
//   posix_spawnp looks the program up in the parent's PATH. The clone is safe in a threaded
//   program (no fork of the address space, no atfork handlers).
// - dup2 onto 0, 1 or 2 clears close-on-exec on the new fd, and every other fd corio makes
//   is close-on-exec; posix_spawn_file_actions_addclosefrom_np (glibc 2.34) closes the fds
//   others left open, so the child keeps exactly its three standard fds. A pipe end that
//   happens to be fd 0, 1 or 2 (this process closed one of them) could be clobbered by
//   another stream's dup2 before its own; such ends are first moved above 2.
// - The signal mask and ignored dispositions survive exec. The loop blocks every signal it
//   has a handler for (signalfd), so without POSIX_SPAWN_SETSIGMASK the child would start
//   with SIGINT/SIGTERM blocked and could not be stopped; POSIX_SPAWN_SETSIGDEF resets what
//   this process ignores (SIGPIPE, typically).
// - pidfd_open(2) (Linux 5.3) gives an fd that polls readable once the process has exited.
//   It does not reap: waitid(P_PID, WNOHANG) does that. Until we reap the child its pid
//   cannot be reused, so waitid(P_PID) is exact; pidfd_send_signal never reaches a recycled
//   pid. The pidfd is watched with a level-triggered add_reader callback from the moment
//   the child starts, so the child is reaped as soon as it exits, by the loop, whoever
//   waits or does not; the callback holds the process state alive until then. Waiters wait
//   on an event the callback sets: one watcher on the fd, any number of waiters.
// - Without pidfd_open (ENOSYS) the loop polls waitid(WNOHANG) on a timer with back-off.

#include "corio/process.hpp"

#include "corio/detail/io.hpp"
#include "corio/event_loop.hpp"
#include "corio/gather.hpp"
#include "corio/sync/event.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ; // NOLINT: POSIX declares it nowhere

namespace corio {

namespace detail {

namespace {

std::atomic<bool> g_force_polling{false};

constexpr auto first_poll_delay = std::chrono::milliseconds(1);
constexpr auto max_poll_delay = std::chrono::milliseconds(100);

/// asyncio's returncode: the exit status, or minus the signal that ended the child.
int decode_status(const siginfo_t& info) noexcept {
    return info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
}

/// waitid(WNOHANG) for `pid`: the returncode if it has exited (255 if it is not our child
/// any more: someone else reaped it), empty while it runs.
std::optional<int> try_reap(int pid) noexcept {
    siginfo_t info{};
    int r = 0;
    do {
        r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return 255;
    }
    if (info.si_pid == 0) {
        return std::nullopt;
    }
    return decode_status(info);
}

/// Kill and reap a child we cannot track (setting it up failed after it started). It was
/// just started, so the blocking wait is short.
void kill_and_reap(int pid) noexcept {
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

int pidfd_open(int pid) noexcept {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int pidfd_send_signal(int pidfd, int signo) noexcept {
#ifdef SYS_pidfd_send_signal
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0));
#else
    (void)pidfd;
    (void)signo;
    errno = ENOSYS;
    return -1;
#endif
}

} // namespace

/// What a `process` shares with the loop's watcher of its child.
class process_state : public std::enable_shared_from_this<process_state> {
public:
    process_state(event_loop& loop, int pid, std::string program)
        : m_loop(&loop), m_pid(pid), m_program(std::move(program)) {}
    process_state(const process_state&) = delete;
    process_state& operator=(const process_state&) = delete;
    /// Reaps the child if it has exited meanwhile; one still running is left (see ~process).
    ~process_state() {
        if (!m_returncode) {
            (void)try_reap(m_pid);
        }
    }

    [[nodiscard]] int pid() const noexcept { return m_pid; }
    [[nodiscard]] const std::string& program() const noexcept { return m_program; }
    [[nodiscard]] event_loop& loop() const noexcept { return *m_loop; }
    [[nodiscard]] const std::optional<int>& returncode() const noexcept { return m_returncode; }

    /// Watch `pidfd` (owned from now on) for the child's exit.
    void watch(int pidfd) {
        m_pidfd.reset(pidfd);
        auto w = std::make_shared<watcher>(shared_from_this());
        m_loop->add_reader(m_pidfd.get(), [w] { w->state->check_exit(); });
    }

    /// Poll for the child's exit (no pidfd).
    void poll() { schedule_poll(std::make_shared<watcher>(shared_from_this()), first_poll_delay); }

    /// False once the loop dropped its watcher of a child still running: the loop was
    /// closed, and nothing will ever see the child exit.
    [[nodiscard]] bool watched() const noexcept { return m_watched; }

    /// Reap the child if it has exited, and then wake every waiter. On the loop's thread.
    void check_exit() {
        if (m_returncode) {
            return;
        }
        std::optional<int> code = try_reap(m_pid);
        if (!code) {
            return;
        }
        m_returncode = code;
        if (m_pidfd) {
            m_loop->remove_reader(m_pidfd.get());
            m_pidfd.reset();
        }
        m_exited.set();
    }

    /// Wait until the child has been reaped; its returncode.
    task<int> wait_exit() {
        while (!m_returncode) {
            co_await m_exited.wait();
        }
        co_return *m_returncode;
    }

    void send_signal(int signo) {
        if (m_returncode) {
            return; // reaped: the pid may name another process by now
        }
        const int r = m_pidfd ? pidfd_send_signal(m_pidfd.get(), signo) : ::kill(m_pid, signo);
        if (r < 0 && errno != ESRCH) {
            throw_errno(errno, "send_signal " + std::to_string(signo) + " to pid " +
                                   std::to_string(m_pid));
        }
    }

    /// The parent's ends of the pipes (invalid streams where there is no pipe).
    stream in;
    stream out;
    stream err;

private:
    /// What the loop's callbacks hold: it keeps the state alive while the loop watches the
    /// child, and tells it when the loop stops watching.
    struct watcher {
        explicit watcher(std::shared_ptr<process_state> s) noexcept : state(std::move(s)) {
            state->m_watched = true;
        }
        watcher(const watcher&) = delete;
        watcher& operator=(const watcher&) = delete;
        ~watcher() { state->m_watched = false; }
        std::shared_ptr<process_state> state;
    };

    static void schedule_poll(std::shared_ptr<watcher> w, clock::duration delay) {
        event_loop& loop = *w->state->m_loop;
        loop.call_later(delay, [w = std::move(w), delay] {
            w->state->check_exit();
            if (!w->state->m_returncode) {
                schedule_poll(w, std::min<clock::duration>(delay * 2, max_poll_delay));
            }
        });
    }

    event_loop* m_loop;
    int m_pid;
    std::string m_program;
    unique_fd m_pidfd;
    std::optional<int> m_returncode;
    event m_exited;
    bool m_watched = false;
};

/// process_options with the strings it refers to copied: what the task of
/// create_subprocess_exec keeps until it is awaited.
struct owned_process_options {
    stdio stdin_ = inherit;
    stdio stdout_ = inherit;
    stdio stderr_ = inherit;
    std::string cwd;
    std::optional<std::vector<std::string>> env;
    std::size_t limit = stream::default_limit;
};

void process_force_polling(bool enabled) noexcept {
    g_force_polling.store(enabled);
}

namespace {

/// Close a process's pipes when its `process` goes away; in debug mode, report a child
/// left running.
void release_process(std::shared_ptr<process_state>& state) noexcept {
    if (!state) {
        return;
    }
    for (stream* s : {&state->in, &state->out, &state->err}) {
        if (s->valid()) {
            try {
                s->close();
            } catch (...) { // close() is idempotent and does not fail on a valid stream
            }
        }
    }
    if (running_loop() == &state->loop()) {
        state->check_exit();
        if (!state->returncode() && state->loop().get_debug()) {
            state->loop().call_exception_handler(
                {"process pid " + std::to_string(state->pid()) + " (" + state->program() +
                     ") destroyed while its child is still running",
                 nullptr,
                 {}});
        }
    }
    state.reset();
}

/// posix_spawn_file_actions_t, destroyed on every path.
class spawn_actions {
public:
    spawn_actions() { posix_spawn_file_actions_init(&m_actions); }
    spawn_actions(const spawn_actions&) = delete;
    spawn_actions& operator=(const spawn_actions&) = delete;
    ~spawn_actions() { posix_spawn_file_actions_destroy(&m_actions); }
    posix_spawn_file_actions_t* get() noexcept { return &m_actions; }

private:
    posix_spawn_file_actions_t m_actions{};
};

/// posix_spawnattr_t, destroyed on every path.
class spawn_attributes {
public:
    spawn_attributes() { posix_spawnattr_init(&m_attr); }
    spawn_attributes(const spawn_attributes&) = delete;
    spawn_attributes& operator=(const spawn_attributes&) = delete;
    ~spawn_attributes() { posix_spawnattr_destroy(&m_attr); }
    posix_spawnattr_t* get() noexcept { return &m_attr; }

private:
    posix_spawnattr_t m_attr{};
};

/// posix_spawn* functions return their error instead of setting errno.
void check(int rc, const std::string& what) {
    if (rc != 0) {
        throw_errno(rc, what);
    }
}

/// `fd` moved above 2 (close-on-exec), so no dup2 onto 0..2 in the child can clobber it.
unique_fd above_stdio(unique_fd fd, const std::string& what) {
    if (fd.get() > 2) {
        return fd;
    }
    const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) {
        throw_errno(errno, what);
    }
    return unique_fd(moved);
}

/// Set up child fd `target` (0, 1 or 2) as `mode` says; for a pipe, `parent_end` receives
/// the parent's end and `child_end` the child's (closed once the child has started).
void plan_stdio(stdio mode, int target, posix_spawn_file_actions_t* actions, unique_fd& parent_end,
                unique_fd& child_end, const std::string& what) {
    switch (mode) {
    case stdio::inherit:
        return;
    case stdio::devnull:
        check(posix_spawn_file_actions_addopen(actions, target, "/dev/null",
                                               target == 0 ? O_RDONLY : O_WRONLY, 0),
              what);
        return;
    case stdio::stdout_:
        check(posix_spawn_file_actions_adddup2(actions, 1, target), what);
        return;
    case stdio::pipe: {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) < 0) {
            throw_errno(errno, what + ": pipe");
        }
        unique_fd read_end(fds[0]);
        unique_fd write_end(fds[1]);
        if (target == 0) {
            child_end = std::move(read_end);
            parent_end = std::move(write_end);
        } else {
            child_end = std::move(write_end);
            parent_end = std::move(read_end);
        }
        child_end = above_stdio(std::move(child_end), what);
        parent_end = above_stdio(std::move(parent_end), what);
        check(posix_spawn_file_actions_adddup2(actions, child_end.get(), target), what);
        return;
    }
    }
}

std::shared_ptr<process_state> spawn(const std::vector<std::string>& argv,
                                     const owned_process_options& options) {
    if (argv.empty()) {
        throw std::invalid_argument("create_subprocess_exec: argv is empty");
    }
    if (options.stdin_ == stdio::stdout_ || options.stdout_ == stdio::stdout_) {
        throw std::invalid_argument(
            "create_subprocess_exec: corio::stdout_ is only valid for stderr_");
    }
    event_loop& loop = get_running_loop();
    std::string what = "create_subprocess_exec " + argv[0];
    if (!options.cwd.empty()) {
        what += " (cwd " + options.cwd + ")";
    }

    spawn_actions actions;
    spawn_attributes attributes;
    unique_fd parent_ends[3];
    unique_fd child_ends[3];
    if (!options.cwd.empty()) {
        check(posix_spawn_file_actions_addchdir_np(actions.get(), options.cwd.c_str()), what);
    }
    // In this order: `stderr_ = corio::stdout_` duplicates the child's fd 1 once it is set.
    const stdio modes[3] = {options.stdin_, options.stdout_, options.stderr_};
    for (int fd = 0; fd < 3; ++fd) {
        plan_stdio(modes[fd], fd, actions.get(), parent_ends[fd], child_ends[fd], what);
    }

#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
    // asyncio's close_fds=True: fds opened without close-on-exec (by other libraries, say)
    // do not reach the child either.
    check(posix_spawn_file_actions_addclosefrom_np(actions.get(), 3), what);
#endif

    sigset_t none;
    sigemptyset(&none);
    sigset_t all;
    sigfillset(&all);
    check(posix_spawnattr_setsigmask(attributes.get(), &none), what);
    check(posix_spawnattr_setsigdefault(attributes.get(), &all), what);
    check(posix_spawnattr_setflags(
              attributes.get(), static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)),
          what);

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const std::string& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    std::vector<char*> env;
    if (options.env) {
        env.reserve(options.env->size() + 1);
        for (const std::string& e : *options.env) {
            env.push_back(const_cast<char*>(e.c_str()));
        }
        env.push_back(nullptr);
    }

    pid_t pid = 0;
    check(posix_spawnp(&pid, argv[0].c_str(), actions.get(), attributes.get(), args.data(),
                       options.env ? env.data() : environ),
          what);
    for (unique_fd& fd : child_ends) {
        fd.reset();
    }

    std::shared_ptr<process_state> state;
    int pidfd = -1;
    try {
        state = std::make_shared<process_state>(loop, pid, argv[0]);
        const std::string of_pid = " of pid " + std::to_string(pid);
        if (parent_ends[0]) {
            state->in = stream::from_pipes(-1, parent_ends[0].release(), "stdin" + of_pid);
        }
        if (parent_ends[1]) {
            state->out =
                stream::from_pipes(parent_ends[1].release(), -1, "stdout" + of_pid, options.limit);
        }
        if (parent_ends[2]) {
            state->err =
                stream::from_pipes(parent_ends[2].release(), -1, "stderr" + of_pid, options.limit);
        }
        pidfd = g_force_polling.load() ? -1 : pidfd_open(pid);
        if (pidfd < 0 && !g_force_polling.load() && errno != ENOSYS) {
            throw_errno(errno, what + ": pidfd_open");
        }
        if (pidfd >= 0) {
            state->watch(std::exchange(pidfd, -1));
        } else {
            state->poll();
        }
    } catch (...) {
        close_fd(pidfd);
        state.reset();
        kill_and_reap(pid);
        throw;
    }
    return state;
}

task<process_output> communicate_output(std::shared_ptr<process_state> state, int which) {
    stream& s = which == 1 ? state->out : state->err;
    if (!s.valid()) {
        co_return process_output{};
    }
    std::string data = co_await s.read_all();
    process_output result;
    (which == 1 ? result.out : result.err) = std::move(data);
    co_return result;
}

task<> communicate_input(std::shared_ptr<process_state> state, std::string input) {
    stream& in = state->in;
    if (!in.valid()) {
        co_return;
    }
    if (!input.empty()) {
        in.write(input);
        bool broken = false;
        try {
            co_await in.drain();
        } catch (const std::system_error& e) {
            // The child exited (or closed its stdin) without reading everything: asyncio
            // ignores BrokenPipeError and ConnectionResetError here too.
            if (e.code() != std::errc::broken_pipe && e.code() != std::errc::connection_reset) {
                throw;
            }
            broken = true;
        }
        if (broken) {
            in.abort();
            co_return;
        }
    }
    in.close();
}

task<process_output> communicate(std::shared_ptr<process_state> state, std::string input) {
    auto [out, err, fed] =
        co_await gather(communicate_output(state, 1), communicate_output(state, 2),
                        communicate_input(state, std::move(input)));
    (void)fed;
    co_await state->wait_exit();
    co_return process_output{std::move(out.out), std::move(err.err)};
}

task<int> wait_exit(std::shared_ptr<process_state> state) {
    co_return co_await state->wait_exit();
}

} // namespace

} // namespace detail

// --- process -------------------------------------------------------------------------------

process::process() noexcept = default;

process::process(std::shared_ptr<detail::process_state> state) noexcept
    : m_state(std::move(state)) {}

process::process(process&& other) noexcept = default;

process& process::operator=(process&& other) noexcept {
    if (this != &other) {
        detail::release_process(m_state);
        m_state = std::move(other.m_state);
    }
    return *this;
}

process::~process() {
    detail::release_process(m_state);
}

detail::process_state& process::state(const char* operation) const {
    if (!m_state) {
        throw invalid_state_error(std::string("process::") + operation +
                                  ": empty process (default-constructed or moved from)");
    }
    return *m_state;
}

int process::pid() const {
    return state("pid").pid();
}

namespace {
stream& piped(stream& s, const char* operation, const char* name) {
    if (!s.valid()) {
        throw invalid_state_error(std::string("process::") + operation + ": the child's " + name +
                                  " is not a pipe (start it with ." + name +
                                  "_ = corio::pipe), or its stream was moved out");
    }
    return s;
}
} // namespace

stream& process::stdin_pipe() {
    return piped(state("stdin_pipe").in, "stdin_pipe", "stdin");
}

stream& process::stdout_pipe() {
    return piped(state("stdout_pipe").out, "stdout_pipe", "stdout");
}

stream& process::stderr_pipe() {
    return piped(state("stderr_pipe").err, "stderr_pipe", "stderr");
}

namespace {
/// Waiting for the child needs the loop that watches it.
void check_loop(const detail::process_state& s, const char* operation) {
    if (!s.returncode() && !s.watched()) {
        throw invalid_state_error(std::string("process::") + operation +
                                  ": the event loop that watched the child is closed");
    }
    if (detail::running_loop() != &s.loop()) {
        throw invalid_state_error(std::string("process::") + operation +
                                  ": the process belongs to another event loop");
    }
}
} // namespace

task<int> process::wait() {
    const detail::process_state& s = state("wait");
    if (!s.returncode()) {
        check_loop(s, "wait");
    }
    return detail::wait_exit(m_state);
}

std::optional<int> process::returncode() const {
    return state("returncode").returncode();
}

task<process_output> process::communicate() {
    return communicate(std::string());
}

task<process_output> process::communicate(std::string input) {
    detail::process_state& s = state("communicate");
    check_loop(s, "communicate");
    if (!input.empty() && !s.in.valid()) {
        throw invalid_state_error(
            "process::communicate: input given but the child's stdin is not a pipe (start it "
            "with .stdin_ = corio::pipe)");
    }
    return detail::communicate(m_state, std::move(input));
}

void process::send_signal(int signo) {
    state("send_signal").send_signal(signo);
}

void process::terminate() {
    state("terminate").send_signal(SIGTERM);
}

void process::kill() {
    state("kill").send_signal(SIGKILL);
}

task<process> detail::start_process(std::vector<std::string> argv,
                                    detail::owned_process_options options) {
    co_return process(detail::spawn(argv, options));
}

task<process> create_subprocess_exec(std::vector<std::string> argv, process_options options) {
    // Copied here, before the lazy task exists: the strings `options` refers to need only
    // live until this call returns.
    detail::owned_process_options owned{.stdin_ = options.stdin_,
                                        .stdout_ = options.stdout_,
                                        .stderr_ = options.stderr_,
                                        .cwd = std::string(options.cwd.view()),
                                        .env = std::nullopt,
                                        .limit = options.limit};
    if (options.env.has_value()) {
        const std::span<const std::string> entries = options.env.entries();
        owned.env.emplace(entries.begin(), entries.end());
    }
    return detail::start_process(std::move(argv), std::move(owned));
}

task<process> create_subprocess_exec(std::vector<std::string> argv) {
    return create_subprocess_exec(std::move(argv), process_options{});
}

} // namespace corio
