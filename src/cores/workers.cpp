// run_workers: a supervisor process forking one worker process per slot.
//
// - The supervisor blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD and reads them from a
//   signalfd; it polls that and one SOCK_SEQPACKET channel per worker, with a timeout for
//   the next restart or the next SIGKILL.
// - It keeps the listening sockets. A worker's start_server sends it the address and the
//   options over the channel (listener_from_supervisor); the supervisor makes the socket on
//   the first request for that address and slot (one per slot with SO_REUSEPORT, one for all
//   without) and passes it with SCM_RIGHTS. A worker restarted, or its successor in a rolling
//   restart, gets the same socket, and with it the connections waiting in its queue.
// - In a worker, SIGINT and SIGTERM stay blocked and are read from a signalfd made as soon as
//   it is forked (so a signal sent before its loop runs is not lost), which cancels its main
//   task (worker_stop_watch). PR_SET_PDEATHSIG sends it SIGTERM if the supervisor dies.

#include "corio/cores.hpp"

#include "../net/listeners.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corio::detail {

namespace {

using steady = std::chrono::steady_clock;

/// The worker's end of its channel to the supervisor; -1 outside workers.
int g_channel = -1;
/// The worker's signalfd for SIGINT and SIGTERM; -1 outside workers.
int g_stop_fd = -1;

/// A worker whose main task threw exits with this (EX_SOFTWARE).
constexpr int exit_failed = 70;

/// A worker's request for a listening socket.
struct wire_request {
    std::uint8_t reuse_address;
    std::uint8_t reuse_port;
    std::int32_t backlog;
    std::uint32_t length;
    sockaddr_storage address;
};

/// The supervisor's answer, with the socket (SCM_RIGHTS) when `error` is 0.
struct wire_reply {
    std::int32_t error; // an errno
    std::uint32_t length;
    sockaddr_storage address;
    char what[480]; // the call and the address that failed, when error != 0
};

/// A message of one wire_reply with room for one descriptor (SCM_RIGHTS).
struct reply_message {
    wire_reply reply{};
    char control[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{&reply, sizeof reply};
    msghdr msg{};
    reply_message() {
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
    }
    reply_message(const reply_message&) = delete;
    reply_message& operator=(const reply_message&) = delete;
};

/// "SIGKILL" for 9.
std::string signal_name(int signo) {
    const char* abbrev = ::sigabbrev_np(signo);
    return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signo);
}

/// How a wait status says a process ended: "exited with status 3", "killed by SIGKILL".
std::string describe(int status) {
    if (WIFSIGNALED(status)) {
        return "was killed by " + signal_name(WTERMSIG(status));
    }
    if (WEXITSTATUS(status) == exit_failed) {
        return "failed (its main task threw; exit status 70)";
    }
    return "exited with status " + std::to_string(WEXITSTATUS(status));
}

/// What a system_error says before ": <the errno's text>" ("bind 127.0.0.1:80").
std::string context_of(const std::system_error& e) {
    const std::string what = e.what();
    const std::string reason = ": " + e.code().message();
    if (what.size() >= reason.size() &&
        what.compare(what.size() - reason.size(), reason.size(), reason) == 0) {
        return what.substr(0, what.size() - reason.size());
    }
    return what;
}

long long milliseconds(steady::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

/// Threads of this process, from /proc/self/status (0 if it cannot be read).
long threads_of_this_process() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("Threads:", 0) == 0) {
            return std::strtol(line.c_str() + 8, nullptr, 10);
        }
    }
    return 0;
}

/// The LISTEN sockets of /proc/net/tcp and tcp6: inode to local address ("0100007F:1F90").
std::map<unsigned long, std::string> listening_sockets() {
    std::map<unsigned long, std::string> out;
    for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(file);
        std::string line;
        std::getline(in, line); // the header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string sl;
            std::string local;
            std::string remote;
            std::string st;
            std::string skip;
            unsigned long inode = 0;
            fields >> sl >> local >> remote >> st;
            for (int i = 0; i < 5; ++i) {
                fields >> skip; // tx:rx, tr:when, retrnsmt, uid, timeout
            }
            fields >> inode;
            if (fields && st == "0A") {
                out.emplace(inode, local);
            }
        }
    }
    return out;
}

/// "pid 1234 (nginx)" for the process holding socket `inode`, or "socket inode N" when
/// none of the processes this one may look into holds it.
std::string holder_of(unsigned long inode) {
    const std::string target = "socket:[" + std::to_string(inode) + "]";
    DIR* proc = ::opendir("/proc");
    if (proc != nullptr) {
        while (const dirent* e = ::readdir(proc)) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9') {
                continue;
            }
            const std::string dir = std::string("/proc/") + e->d_name;
            DIR* fds = ::opendir((dir + "/fd").c_str());
            if (fds == nullptr) {
                continue;
            }
            bool found = false;
            while (const dirent* f = ::readdir(fds)) {
                char link[64] = {};
                const std::string path = dir + "/fd/" + f->d_name;
                const ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
                if (n > 0 && target == std::string_view(link, static_cast<std::size_t>(n))) {
                    found = true;
                    break;
                }
            }
            ::closedir(fds);
            if (found) {
                std::string comm;
                std::getline(std::ifstream(dir + "/comm"), comm);
                const std::string pid = e->d_name; // the entry goes with closedir
                ::closedir(proc);
                return "pid " + pid + " (" + comm + ")";
            }
        }
        ::closedir(proc);
    }
    return "socket inode " + std::to_string(inode);
}

/// Run by the supervisor's caller: the state of one run_workers call.
class supervisor {
public:
    supervisor(std::size_t n, const std::function<int(std::size_t)>& body,
               const worker_options& options);
    supervisor(const supervisor&) = delete;
    supervisor& operator=(const supervisor&) = delete;
    ~supervisor();

    int run();

private:
    struct worker {
        pid_t pid = 0;
        std::size_t slot = 0;
        int channel = -1;
        steady::time_point started{};
        bool stopping = false;
        bool killed = false;       // SIGKILL sent
        bool out_of_grace = false; // ... because its grace period ran out
        steady::time_point kill_at{};
    };
    struct slot {
        pid_t current = 0;
        unsigned crashes = 0;
        std::optional<steady::time_point> restart_at;
        int status = 0;
    };
    struct kept_socket {
        unique_fd fd;
        socket_address address;
        unsigned long inode = 0;
        bool tcp = false;
    };

    void spawn(std::size_t slot);
    [[noreturn]] void become_worker(std::size_t slot, int channel);
    void reap();
    void ended(const worker& w, int status);
    void begin_stop(int forward);
    void tell_to_stop(worker& w, int signo);
    void rolling_restart();
    void step_rolling();
    void on_deadlines();
    void answer(worker& w);
    kept_socket& listener_for(const listen_request& request, std::size_t slot);
    /// Another program's LISTEN socket on one of the kept addresses, described; "" if none.
    std::string stranger(bool only_new);
    [[nodiscard]] bool finished() const;
    [[nodiscard]] int poll_timeout() const;
    /// The live worker with this pid, or whose channel is this fd; nullptr if none.
    template <class Member>
    worker* find(Member worker::*member, Member value) {
        for (worker& w : m_workers) {
            if (w.*member == value) {
                return &w;
            }
        }
        return nullptr;
    }

    std::size_t m_n;
    const std::function<int(std::size_t)>& m_body;
    worker_options m_options;
    pid_t m_pid = ::getpid();
    sigset_t m_old_mask{};
    struct sigaction m_old_chld {};
    int m_signal_fd = -1;
    std::vector<slot> m_slots;
    std::vector<worker> m_workers;
    std::map<std::string, kept_socket> m_kept;
    std::map<std::string, std::uint16_t> m_chosen_ports;
    std::set<unsigned long> m_reported_strangers;
    bool m_stopping = false;
    int m_stop_signal = 0;
    std::optional<std::system_error> m_fatal;
    std::vector<std::size_t> m_rolling; // slots still to replace, in order
    pid_t m_rolling_old = 0;            // the worker being replaced
};

supervisor::supervisor(std::size_t n, const std::function<int(std::size_t)>& body,
                       const worker_options& options)
    : m_n(n), m_body(body), m_options(options), m_slots(n) {
    sigset_t handled;
    sigemptyset(&handled);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) {
        sigaddset(&handled, s);
    }
    // SIGCHLD ignored would reap the workers before waitpid could tell how they ended.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGCHLD, &dfl, &m_old_chld);
    ::pthread_sigmask(SIG_BLOCK, &handled, &m_old_mask);
    m_signal_fd = ::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m_signal_fd < 0) {
        const int e = errno;
        ::pthread_sigmask(SIG_SETMASK, &m_old_mask, nullptr);
        ::sigaction(SIGCHLD, &m_old_chld, nullptr);
        throw std::system_error(e, std::generic_category(), "run_workers: signalfd");
    }
}

supervisor::~supervisor() {
    // Only when run() did not finish (a fork failed): no worker outlives the call.
    for (worker& w : m_workers) {
        ::kill(w.pid, SIGKILL);
        int status = 0;
        while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
        }
        ::close(w.channel);
    }
    for (auto& [key, k] : m_kept) {
        if (k.address.family() == AF_UNIX) {
            const std::string path = k.address.host();
            if (!path.empty() && path[0] != '@') {
                ::unlink(path.c_str());
            }
        }
    }
    ::close(m_signal_fd);
    ::pthread_sigmask(SIG_SETMASK, &m_old_mask, nullptr);
    ::sigaction(SIGCHLD, &m_old_chld, nullptr);
}

void supervisor::spawn(std::size_t slot) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        throw std::system_error(errno, std::generic_category(), "run_workers: socketpair");
    }
    std::fflush(nullptr); // what stdio holds is not written twice
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int e = errno;
        ::close(sv[0]);
        ::close(sv[1]);
        throw std::system_error(e, std::generic_category(),
                                "run_workers: fork worker " + std::to_string(slot));
    }
    if (pid == 0) {
        ::close(sv[0]);
        become_worker(slot, sv[1]);
    }
    ::close(sv[1]);
    worker w;
    w.pid = pid;
    w.slot = slot;
    w.channel = sv[0];
    w.started = steady::now();
    m_workers.push_back(w);
    m_slots[slot].current = pid;
    m_slots[slot].restart_at.reset();
}

void supervisor::become_worker(std::size_t slot, int channel) {
    // A copy of the supervisor's memory, with one thread. Its descriptors are not ours.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != m_pid) {
        ::_exit(1); // the supervisor died before PR_SET_PDEATHSIG
    }
    ::close(m_signal_fd);
    for (const worker& w : m_workers) {
        ::close(w.channel);
    }
    for (auto& [key, k] : m_kept) {
        ::close(k.fd.get());
    }
    ::sigaction(SIGCHLD, &m_old_chld, nullptr);
    // SIGINT and SIGTERM stay blocked, for the worker's signalfd (which also sees one that
    // came before it was made); the rest of the mask is the caller's.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigset_t mask = m_old_mask;
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
    g_stop_fd = ::signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
    if (g_stop_fd < 0) {
        std::fprintf(stderr, "corio: worker %zu (pid %d): signalfd: %s\n", slot,
                     static_cast<int>(::getpid()), std::strerror(errno));
        ::_exit(exit_failed);
    }
    g_channel = channel;
    set_worker_index(slot, m_n);
    int status = 0;
    try {
        status = m_body(slot);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "corio: worker %zu (pid %d) failed: %s\n", slot,
                     static_cast<int>(::getpid()), e.what());
        status = exit_failed;
    } catch (...) {
        std::fprintf(stderr,
                     "corio: worker %zu (pid %d) failed: an exception not derived "
                     "from std::exception\n",
                     slot, static_cast<int>(::getpid()));
        status = exit_failed;
    }
    std::fflush(nullptr);
    // Not exit(): the caller's static objects and atexit handlers are the supervisor's.
    ::_exit(status & 0xff);
}

void supervisor::reap() {
    for (std::size_t i = 0; i < m_workers.size();) {
        int status = 0;
        const pid_t r = ::waitpid(m_workers[i].pid, &status, WNOHANG);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            ++i;
            continue;
        }
        const worker w = m_workers[i];
        m_workers.erase(m_workers.begin() + static_cast<std::ptrdiff_t>(i));
        ::close(w.channel);
        ended(w, r < 0 ? 0 : status); // ECHILD: reaped by someone else, cause unknown
    }
}

void supervisor::ended(const worker& w, int status) {
    slot& s = m_slots[w.slot];
    const pid_t pid = w.pid;
    if (m_rolling_old == pid) {
        m_rolling_old = 0;
    }
    if (w.out_of_grace) {
        std::fprintf(stderr,
                     "corio: worker %zu (pid %d) did not end within the grace period "
                     "(%lld ms): killed\n",
                     w.slot, static_cast<int>(pid),
                     static_cast<long long>(m_options.grace_period.count()));
    }
    if (s.current != pid) {
        return; // a worker replaced in a rolling restart
    }
    s.current = 0;
    const bool crashed =
        WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == exit_failed);
    if (m_stopping || !crashed) {
        if (!crashed) {
            s.status = WEXITSTATUS(status);
        } else if (!w.killed && WIFSIGNALED(status)) {
            // (one whose main task threw said so itself)
            std::fprintf(stderr, "corio: worker %zu (pid %d) %s while stopping\n", w.slot,
                         static_cast<int>(pid), describe(status).c_str());
        }
        return;
    }
    const steady::time_point now = steady::now();
    if (now - w.started >= m_options.max_restart_delay) {
        s.crashes = 0;
    }
    steady::duration delay{};
    if (s.crashes > 0) {
        delay = m_options.restart_delay;
        for (unsigned i = 1; i < s.crashes && delay < m_options.max_restart_delay; ++i) {
            delay *= 2;
        }
        delay = std::min<steady::duration>(delay, m_options.max_restart_delay);
    }
    ++s.crashes;
    s.restart_at = now + delay;
    std::fprintf(stderr, "corio: worker %zu (pid %d) %s; restarting it", w.slot,
                 static_cast<int>(pid), describe(status).c_str());
    if (delay > steady::duration::zero()) {
        std::fprintf(stderr, " in %lld ms (crash %u in a row)", milliseconds(delay), s.crashes);
    }
    std::fprintf(stderr, "\n");
}

void supervisor::tell_to_stop(worker& w, int signo) {
    if (w.stopping) {
        return;
    }
    w.stopping = true;
    w.kill_at = steady::now() + m_options.grace_period;
    ::kill(w.pid, signo);
}

void supervisor::begin_stop(int forward) {
    if (m_stopping) {
        // A second SIGINT/SIGTERM: no more grace.
        for (worker& w : m_workers) {
            if (!w.killed) {
                w.killed = true;
                ::kill(w.pid, SIGKILL);
            }
        }
        return;
    }
    m_stopping = true;
    m_rolling.clear();
    for (slot& s : m_slots) {
        s.restart_at.reset();
    }
    for (worker& w : m_workers) {
        tell_to_stop(w, forward);
    }
}

void supervisor::rolling_restart() {
    if (m_stopping) {
        return;
    }
    if (const std::string s = stranger(true); !s.empty()) {
        std::fprintf(stderr, "corio: %s\n", s.c_str());
    }
    m_rolling.clear();
    for (std::size_t i = 0; i < m_n; ++i) {
        m_rolling.push_back(i);
    }
    step_rolling();
}

void supervisor::step_rolling() {
    while (!m_stopping && m_rolling_old == 0 && !m_rolling.empty()) {
        const std::size_t i = m_rolling.front();
        m_rolling.erase(m_rolling.begin());
        const pid_t old = m_slots[i].current;
        if (old == 0) {
            continue; // ended, or waiting to be restarted: the restart is its replacement
        }
        // The new worker first: it takes over the slot's socket, whose queue the old one
        // stops taking from as it ends.
        try {
            spawn(i);
        } catch (const std::system_error& e) {
            std::fprintf(stderr, "corio: worker %zu is not replaced (it goes on): %s\n", i,
                         e.what());
            continue;
        }
        if (worker* w = find(&worker::pid, old)) {
            m_rolling_old = old;
            tell_to_stop(*w, SIGTERM);
        }
    }
}

void supervisor::on_deadlines() {
    const steady::time_point now = steady::now();
    for (worker& w : m_workers) {
        if (w.stopping && !w.killed && now >= w.kill_at) {
            w.killed = true;
            w.out_of_grace = true;
            ::kill(w.pid, SIGKILL);
        }
    }
    if (m_stopping) {
        return;
    }
    bool restarted = false;
    for (std::size_t i = 0; i < m_n; ++i) {
        if (m_slots[i].restart_at && *m_slots[i].restart_at <= now) {
            try {
                spawn(i);
                restarted = true;
            } catch (const std::system_error& e) {
                // (fork or socketpair: out of processes or memory) try again later
                m_slots[i].restart_at = now + m_options.max_restart_delay;
                std::fprintf(stderr,
                             "corio: worker %zu cannot be restarted: %s; trying again in "
                             "%lld ms\n",
                             i, e.what(),
                             static_cast<long long>(m_options.max_restart_delay.count()));
            }
        }
    }
    if (restarted) {
        if (const std::string s = stranger(true); !s.empty()) {
            std::fprintf(stderr, "corio: %s\n", s.c_str());
        }
    }
}

bool supervisor::finished() const {
    if (!m_workers.empty()) {
        return false;
    }
    return std::none_of(m_slots.begin(), m_slots.end(),
                        [](const slot& s) { return s.restart_at.has_value(); });
}

int supervisor::poll_timeout() const {
    std::optional<steady::time_point> next;
    auto consider = [&next](steady::time_point t) {
        if (!next || t < *next) {
            next = t;
        }
    };
    for (const worker& w : m_workers) {
        if (w.stopping && !w.killed) {
            consider(w.kill_at);
        }
    }
    if (!m_stopping) {
        for (const slot& s : m_slots) {
            if (s.restart_at) {
                consider(*s.restart_at);
            }
        }
    }
    if (!next) {
        return -1;
    }
    const long long ms = milliseconds(*next - steady::now()) + 1;
    return static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
}

supervisor::kept_socket& supervisor::listener_for(const listen_request& request, std::size_t slot) {
    const bool tcp = request.address.family() != AF_UNIX;
    const std::string base = request.address.to_string();
    const std::string key =
        base + (tcp && request.reuse_port ? "|slot " + std::to_string(slot) : "|shared");
    if (auto it = m_kept.find(key); it != m_kept.end()) {
        return it->second;
    }
    listen_request actual = request;
    if (tcp && request.address.port() == 0) {
        // Port 0: the first socket picks one, and the other slots share it.
        if (auto it = m_chosen_ports.find(base); it != m_chosen_ports.end()) {
            actual.address = socket_address::from_ip(request.address.host(), it->second);
        }
    }
    kept_socket k;
    k.fd = open_listener(actual);
    k.tcp = tcp;
    k.address = tcp ? socket_address::local_of(k.fd.get()) : request.address;
    struct stat st {};
    if (::fstat(k.fd.get(), &st) == 0) {
        k.inode = static_cast<unsigned long>(st.st_ino);
    }
    if (tcp && request.address.port() == 0) {
        m_chosen_ports.emplace(base, k.address.port());
    }
    kept_socket& kept = m_kept.emplace(key, std::move(k)).first->second;
    if (tcp && request.reuse_port) {
        if (std::string s = stranger(false); !s.empty()) {
            m_kept.erase(key);
            throw std::system_error(EADDRINUSE, std::generic_category(), s);
        }
    }
    return kept;
}

std::string supervisor::stranger(bool only_new) {
    std::map<unsigned long, std::string> ours;    // inode to local address
    std::map<std::string, std::string> addresses; // local address to its readable form
    const std::map<unsigned long, std::string> all = listening_sockets();
    for (const auto& [key, k] : m_kept) {
        if (!k.tcp) {
            continue;
        }
        if (auto it = all.find(k.inode); it != all.end()) {
            ours.emplace(k.inode, it->second);
            addresses.emplace(it->second, k.address.to_string());
        }
    }
    for (const auto& [inode, local] : all) {
        auto mine = addresses.find(local);
        if (mine == addresses.end() || ours.count(inode) != 0) {
            continue;
        }
        if (only_new && !m_reported_strangers.insert(inode).second) {
            continue;
        }
        m_reported_strangers.insert(inode);
        return "another program listens on " + mine->second + " beside the workers (" +
               holder_of(inode) +
               ", with SO_REUSEPORT): the kernel gives it a share of the connections";
    }
    return "";
}

void supervisor::answer(worker& w) {
    wire_request q{};
    const ssize_t got = ::recv(w.channel, &q, sizeof q, MSG_DONTWAIT);
    if (got <= 0) {
        return; // its end closed: it is exiting, and reap() will see it
    }
    reply_message m;
    wire_reply& a = m.reply;
    try {
        if (static_cast<std::size_t>(got) != sizeof q || q.length > sizeof q.address) {
            throw std::system_error(EPROTO, std::generic_category(),
                                    "run_workers: a malformed request from a worker");
        }
        listen_request r;
        r.address = socket_address(reinterpret_cast<const sockaddr*>(&q.address), q.length);
        r.reuse_address = q.reuse_address != 0;
        r.reuse_port = q.reuse_port != 0;
        r.backlog = q.backlog;
        kept_socket& k = listener_for(r, w.slot);
        std::memcpy(&a.address, k.address.data(), k.address.size());
        a.length = k.address.size();
        const int fd = k.fd.get();
        cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
        (void)::sendmsg(w.channel, &m.msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        return;
    } catch (const std::system_error& e) {
        a.error = e.code().value();
        std::snprintf(a.what, sizeof a.what, "%s", context_of(e).c_str());
        if (!m_fatal) {
            m_fatal.emplace(e.code(), context_of(e));
        }
    }
    (void)::send(w.channel, &a, sizeof a, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (!m_stopping) {
        // A listening socket the workers need cannot be made: stop them all (run() then
        // throws the error).
        begin_stop(SIGTERM);
    }
}

int supervisor::run() {
    for (std::size_t i = 0; i < m_n; ++i) {
        spawn(i);
    }
    while (!finished()) {
        std::vector<pollfd> fds;
        fds.push_back({m_signal_fd, POLLIN, 0});
        for (const worker& w : m_workers) {
            fds.push_back({w.channel, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), poll_timeout()) < 0 && errno != EINTR) {
            throw std::system_error(errno, std::generic_category(), "run_workers: poll");
        }
        if ((fds[0].revents & POLLIN) != 0) {
            signalfd_siginfo info{};
            while (::read(m_signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
                const int signo = static_cast<int>(info.ssi_signo);
                if (signo == SIGINT || signo == SIGTERM) {
                    if (m_stop_signal == 0 && !m_fatal) {
                        m_stop_signal = signo;
                    }
                    begin_stop(signo);
                } else if (signo == SIGHUP) {
                    rolling_restart();
                }
            }
        }
        // Requests first: a worker asks, then waits for the answer.
        for (std::size_t i = 1; i < fds.size(); ++i) {
            if ((fds[i].revents & POLLIN) != 0) {
                if (worker* w = find(&worker::channel, fds[i].fd)) {
                    answer(*w);
                }
            }
        }
        reap();
        on_deadlines();
        step_rolling();
    }
    if (m_fatal) {
        throw *m_fatal;
    }
    if (m_stop_signal != 0) {
        return 128 + m_stop_signal;
    }
    int status = 0;
    for (const slot& s : m_slots) {
        status = std::max(status, s.status);
    }
    return status;
}

} // namespace

std::optional<kept_listener> listener_from_supervisor(const listen_request& request) {
    if (g_channel < 0) {
        return std::nullopt;
    }
    const std::string where = " for " + request.address.to_string();
    wire_request q{};
    q.reuse_address = request.reuse_address ? 1 : 0;
    q.reuse_port = request.reuse_port ? 1 : 0;
    q.backlog = request.backlog;
    q.length = request.address.size();
    std::memcpy(&q.address, request.address.data(), request.address.size());
    if (::send(g_channel, &q, sizeof q, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof q)) {
        throw std::system_error(errno, std::generic_category(),
                                "run_workers: asking the supervisor for a socket" + where);
    }
    reply_message m;
    wire_reply& a = m.reply;
    msghdr& msg = m.msg;
    ssize_t got = 0;
    do {
        got = ::recvmsg(g_channel, &msg, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
        throw std::system_error(got == 0 ? EPIPE : errno, std::generic_category(),
                                "run_workers: no answer from the supervisor" + where);
    }
    if (a.error != 0) {
        a.what[sizeof a.what - 1] = '\0';
        throw std::system_error(a.error, std::generic_category(), a.what);
    }
    int fd = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
        }
    }
    if (fd < 0) {
        throw std::system_error(EPROTO, std::generic_category(),
                                "run_workers: the supervisor's answer has no socket" + where);
    }
    return kept_listener{unique_fd(fd),
                         socket_address(reinterpret_cast<const sockaddr*>(&a.address), a.length)};
}

worker_stop_watch::worker_stop_watch(cancel_scope& scope)
    : m_loop(&get_running_loop()), m_fd(g_stop_fd) {
    if (m_fd < 0) {
        return;
    }
    m_loop->add_reader(m_fd, [fd = m_fd, &scope] {
        signalfd_siginfo info{};
        while (::read(fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        }
        scope.cancel();
    });
}

worker_stop_watch::~worker_stop_watch() {
    if (m_fd >= 0) {
        m_loop->remove_reader(m_fd);
    }
}

int supervise_workers(std::size_t n, const std::function<int(std::size_t)>& body,
                      const worker_options& options) {
    if (g_channel >= 0) {
        throw std::logic_error("run_workers: called inside a worker (workers do not fork "
                               "workers of their own)");
    }
    if (running_loop() != nullptr || loops_on_this_thread() != 0) {
        throw std::logic_error("run_workers: an event loop exists in this process already; "
                               "call run_workers first, and corio::run in the workers");
    }
    if (const long threads = threads_of_this_process(); threads > 1) {
        throw std::logic_error(
            "run_workers: this process has " + std::to_string(threads) +
            " threads, and fork copies only the calling one; start threads (thread pools, "
            "to_thread, run_per_core) inside the workers");
    }
    if (options.grace_period < std::chrono::milliseconds::zero() ||
        options.restart_delay < std::chrono::milliseconds::zero() ||
        options.max_restart_delay < std::chrono::milliseconds::zero()) {
        throw std::invalid_argument("run_workers: negative grace_period or restart delay");
    }
    if (n == 0) {
        n = usable_cpus();
    }
    supervisor s(n, body, options);
    return s.run();
}

} // namespace corio::detail
