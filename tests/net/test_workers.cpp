// corio::run_workers: worker processes sharing a port through the supervisor's sockets,
// under a bounded loopback load from another process: each worker answers; a worker killed
// with SIGKILL costs only the requests in flight on it and comes back; SIGTERM ends every
// worker gracefully (a request in its handler is answered whole); a rolling restart
// (SIGHUP) loses no connection. And what run_workers refuses.
//
// The test process is the supervisor, so it has no thread: the load runs in a process
// forked first (its own corio loop), which reports through a pipe, and the workers report
// through pipes they inherit.

#include "support/net.hpp"

#include <corio/corio.hpp>
#include <corio/http/server.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <latch>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;
using namespace corio_net_test;

namespace {

class workers : public fd_leak_check {};

/// A pipe whose ends are closed when it goes (the test's own copy).
struct test_pipe {
    int r = -1;
    int w = -1;
    test_pipe() {
        int fds[2];
        check_sys(::pipe2(fds, O_CLOEXEC), "pipe2");
        r = fds[0];
        w = fds[1];
    }
    test_pipe(const test_pipe&) = delete;
    test_pipe& operator=(const test_pipe&) = delete;
    ~test_pipe() {
        close_write();
        if (r >= 0) {
            ::close(r);
        }
    }
    void close_write() {
        if (w >= 0) {
            ::close(w);
            w = -1;
        }
    }
    /// Everything until every write end is closed.
    std::string read_all() {
        std::string out;
        char buf[4096];
        while (true) {
            const ssize_t n = ::read(r, buf, sizeof buf);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return out;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
    }
};

// --- the workers -----------------------------------------------------------------------

/// Set before the fork; the workers inherit them.
int g_ready_fd = -1;   // a byte per worker listening
int g_done_fd = -1;    // a byte per worker that ended by itself
int g_started_fd = -1; // a byte per /slow request entering its handler

/// "<pid> <worker_index> <worker_count>"; /slow: says it started, then takes 500 ms.
corio::task<corio::http::response> who_am_i(corio::http::request& req) {
    if (req.target == "/slow") {
        (void)!::write(g_started_fd, "s", 1);
        co_await corio::sleep(500ms);
    }
    co_return corio::http::response{200, std::to_string(::getpid()) + " " +
                                             std::to_string(corio::worker_index()) + " " +
                                             std::to_string(corio::worker_count())};
}

corio::task<> worker_main(std::uint16_t port) {
    struct say_done {
        ~say_done() { (void)!::write(g_done_fd, "d", 1); }
    };
    corio::http::server_options options;
    options.tcp.reuse_port = true;
    options.tcp.grace_period = 30s;
    corio::server srv = co_await corio::http::serve(who_am_i, "127.0.0.1", port, options);
    (void)!::write(g_ready_fd, "r", 1);
    say_done done;
    co_await srv.serve_forever();
}

// --- the load --------------------------------------------------------------------------

enum class outcome { ok, refused, lost, cut, timed_out };

/// What the load saw.
struct load_state {
    std::uint16_t port = 0;
    bool stop = false;
    int ok = 0;
    int refused = 0;
    int lost = 0; // reset or closed before any byte of a response
    int cut = 0;  // part of a response, then the end
    int timed_out = 0;
    std::set<std::string> pids;
    std::set<std::string> indexes;
    corio::event progress;
};

/// One request on a new connection (Connection: close); on success `body` is the answer's.
corio::task<outcome> one_request(std::uint16_t port, std::string target, std::string& body) {
    std::string got;
    try {
        corio::stream s = co_await corio::open_connection("127.0.0.1", port);
        s.write("GET " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        co_await s.drain();
        while (true) {
            std::string part = co_await s.read(65536);
            if (part.empty()) {
                break;
            }
            got += part;
        }
    } catch (const corio::cancelled_error&) {
        throw;
    } catch (const std::system_error& e) {
        if (got.empty() && e.code().value() == ECONNREFUSED) {
            co_return outcome::refused;
        }
        co_return got.empty() ? outcome::lost : outcome::cut;
    }
    const std::size_t head_end = got.find("\r\n\r\n");
    const std::size_t length_at = got.find("Content-Length: ");
    if (got.empty()) {
        co_return outcome::lost;
    }
    if (got.rfind("HTTP/1.1 200 ", 0) != 0 || head_end == std::string::npos ||
        length_at == std::string::npos) {
        co_return outcome::cut;
    }
    const std::size_t length = std::stoul(got.substr(length_at + 16));
    if (got.size() - head_end - 4 != length) {
        co_return outcome::cut;
    }
    body = got.substr(head_end + 4);
    co_return outcome::ok;
}

/// Requests one after another until `stop` (or the first failure, if `until_failure`).
corio::task<> requester(load_state& st, bool until_failure) {
    while (!st.stop) {
        std::string body;
        const std::optional<outcome> o =
            co_await corio::move_on_after(10s, one_request(st.port, "/", body));
        switch (o.value_or(outcome::timed_out)) {
        case outcome::ok: {
            ++st.ok;
            std::istringstream in(body);
            std::string pid;
            std::string index;
            in >> pid >> index;
            st.pids.insert(pid);
            st.indexes.insert(index);
            break;
        }
        case outcome::refused:
            ++st.refused;
            break;
        case outcome::lost:
            ++st.lost;
            break;
        case outcome::cut:
            ++st.cut;
            break;
        case outcome::timed_out:
            ++st.timed_out;
            break;
        }
        st.progress.set();
        if (until_failure && o != outcome::ok) {
            co_return;
        }
        if (st.refused + st.lost + st.cut + st.timed_out > 1000) {
            st.stop = true; // something is badly wrong: end the test's load, and report it
        }
    }
}

/// Wait until `done()` holds, checked after each request (or the load stopped).
template <class F>
corio::task<> until(load_state& st, F done) {
    while (!done() && !st.stop) {
        st.progress.clear();
        co_await st.progress.wait();
    }
}

constexpr int concurrency = 8;

/// Fork the load process: wait until `workers` workers listen, run `scenario(state)` beside
/// `concurrency` requesters, stop them, then send `then` (a signal) to the supervisor (this
/// process), report the counts on `report_fd`, and exit. With `until_failure`, each
/// requester stops at its first failed request.
template <class Scenario>
pid_t fork_load(std::uint16_t port, int ready_fd, int report_fd, int workers, Scenario scenario,
                int then, bool until_failure = false) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid != 0) {
        return pid;
    }
    // The load process: no gtest assertions here, only the report.
    for (int seen = 0; seen < workers;) {
        char c = 0;
        const ssize_t n = ::read(ready_fd, &c, 1);
        if (n == 1) {
            ++seen;
        } else if (n == 0 || errno != EINTR) {
            ::_exit(3);
        }
    }
    load_state st;
    st.port = port;
    try {
        corio::run([&]() -> corio::task<> {
            std::vector<corio::join_handle<>> load;
            for (int i = 0; i < concurrency; ++i) {
                load.push_back(corio::spawn(requester(st, until_failure)));
            }
            co_await scenario(st);
            st.stop = true;
            for (auto& h : load) {
                co_await h;
            }
        }());
        if (then != 0) {
            ::kill(::getppid(), then);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "load: %s\n", e.what());
        ::_exit(4);
    }
    std::string pids;
    for (const std::string& p : st.pids) {
        pids += p + ",";
    }
    const std::string line =
        "ok=" + std::to_string(st.ok) + " refused=" + std::to_string(st.refused) +
        " lost=" + std::to_string(st.lost) + " cut=" + std::to_string(st.cut) +
        " timed_out=" + std::to_string(st.timed_out) + " pids=" + std::to_string(st.pids.size()) +
        " indexes=" + std::to_string(st.indexes.size()) + "\n";
    (void)!::write(report_fd, line.data(), line.size());
    ::_exit(0);
}

/// The load process's exit status (0: it ran to the end).
int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// The `name=N` figure of a report line.
int figure(const std::string& report, const std::string& name) {
    const std::size_t at = report.find(name + "=");
    return at == std::string::npos ? -1 : std::stoi(report.substr(at + name.size() + 1));
}

struct pipes {
    test_pipe ready;
    test_pipe done;
    test_pipe started;
    test_pipe report;
    pipes() {
        g_ready_fd = ready.w;
        g_done_fd = done.w;
        g_started_fd = started.w;
    }
    // The supervisor's write ends go once the workers are gone, so that reads end.
    void workers_gone() {
        ready.close_write();
        done.close_write();
        started.close_write();
    }
};

/// Run `n` workers serving `port` until the load process `load` (reporting on `p.report`)
/// stops them with SIGTERM; check both ended as they should, and give the load's report.
std::string serve_under_load(pipes& p, pid_t load, std::size_t n, std::uint16_t port,
                             corio::worker_options options = {}) {
    p.report.close_write();
    const int status = corio::run_workers(
        n, [port](std::size_t) { return worker_main(port); }, options);
    EXPECT_EQ(status, 128 + SIGTERM);
    std::string report = p.report.read_all();
    EXPECT_EQ(wait_for(load), 0);
    // No child is left, not even a zombie: every worker was reaped.
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
    p.workers_gone();
    return report;
}

} // namespace

TEST_F(workers, each_worker_answers_on_the_one_port_with_its_own_pid) {
    const std::uint16_t port = unused_port();
    pipes p;
    const pid_t load = fork_load(
        port, p.ready.r, p.report.w, 3,
        [](load_state& st) { return until(st, [&st] { return st.ok >= 96; }); }, SIGTERM);
    const std::string report = serve_under_load(p, load, 3, port);
    EXPECT_GE(figure(report, "ok"), 96) << report;
    // 3 workers, 96 connections spread by the kernel over their 3 sockets.
    EXPECT_EQ(figure(report, "pids"), 3) << report;
    EXPECT_EQ(figure(report, "indexes"), 3) << report;
    EXPECT_EQ(figure(report, "refused") + figure(report, "lost") + figure(report, "cut") +
                  figure(report, "timed_out"),
              0)
        << report;
    EXPECT_EQ(p.done.read_all(), "ddd"); // each ended by itself
}

namespace {

/// The pids that answered, as numbers.
std::set<pid_t> pids_of(const load_state& st) {
    std::set<pid_t> out;
    for (const std::string& p : st.pids) {
        out.insert(static_cast<pid_t>(std::stol(p)));
    }
    return out;
}

/// How many of `now` are not in `before`.
std::size_t new_ones(const std::set<pid_t>& now, const std::set<pid_t>& before) {
    std::size_t n = 0;
    for (pid_t p : now) {
        n += before.count(p) == 0 ? 1 : 0;
    }
    return n;
}

/// Wait until `fd` is readable, and read one byte from it.
corio::task<> read_byte(int fd) {
    corio::event readable;
    corio::event_loop& loop = corio::get_running_loop();
    loop.add_reader(fd, [&readable] { readable.set(); });
    struct forget {
        corio::event_loop& loop;
        int fd;
        ~forget() { loop.remove_reader(fd); }
    } guard{loop, fd};
    co_await readable.wait();
    char c = 0;
    (void)!::read(fd, &c, 1);
}

} // namespace

// kill -9 one of two workers under load: only the requests in flight on it fail (at most
// one per concurrent requester), the connections queued on its socket wait for its
// successor, which the supervisor starts at once and which answers.
TEST_F(workers, a_worker_killed_under_load_costs_only_its_requests_in_flight_and_comes_back) {
    const std::uint16_t port = unused_port();
    pipes p;
    const pid_t load = fork_load(
        port, p.ready.r, p.report.w, 2,
        [](load_state& st) -> corio::task<> {
            co_await until(st, [&st] { return st.ok >= 50; });
            const std::set<pid_t> before = pids_of(st);
            ::kill(*before.begin(), SIGKILL);
            const int ok_at_kill = st.ok;
            co_await until(st, [&] {
                return new_ones(pids_of(st), before) >= 1 && st.ok >= ok_at_kill + 100;
            });
        },
        SIGTERM);
    const std::string report = serve_under_load(p, load, 2, port);
    EXPECT_GE(figure(report, "ok"), 150) << report;
    EXPECT_EQ(figure(report, "pids"), 3) << report; // two, then the successor
    EXPECT_EQ(figure(report, "refused"), 0) << report;
    EXPECT_EQ(figure(report, "timed_out"), 0) << report;
    EXPECT_LE(figure(report, "lost") + figure(report, "cut"), concurrency) << report;
    EXPECT_EQ(p.done.read_all(), "dd"); // the successor and the other one, at SIGTERM
}

// SIGTERM while a request is in its handler (500 ms): the worker stops listening, answers
// it whole, and ends by itself, as every worker does, within the grace period; requests
// sent afterwards may find no worker, but none is cut mid-response.
TEST_F(workers, sigterm_under_load_answers_the_requests_in_progress_and_ends_every_worker) {
    const std::uint16_t port = unused_port();
    pipes p;
    const int started = p.started.r;
    const pid_t load = fork_load(
        port, p.ready.r, p.report.w, 2,
        [started](load_state& st) -> corio::task<> {
            co_await until(st, [&st] { return st.ok >= 20; });
            std::string body;
            corio::join_handle<outcome> slow = corio::spawn(one_request(st.port, "/slow", body));
            co_await read_byte(started); // its handler runs
            ::kill(::getppid(), SIGTERM);
            if (co_await slow == outcome::ok) {
                ++st.ok;
                st.indexes.insert("slow");
            }
        },
        0, true);
    corio::worker_options options;
    options.grace_period = 60s; // far longer than the test's timeout: a kill would fail it
    const std::string report = serve_under_load(p, load, 2, port, options);
    EXPECT_EQ(p.done.read_all(), "dd"); // both ended by themselves
    EXPECT_GE(figure(report, "ok"), 21) << report;
    EXPECT_EQ(figure(report, "indexes"), 3) << report; // "0", "1" and the slow request
    EXPECT_EQ(figure(report, "cut"), 0) << report;
    EXPECT_EQ(figure(report, "timed_out"), 0) << report;
}

// SIGHUP under load: each worker is replaced by a new one (the new one first, on the same
// socket), and no request fails: no connection refused, reset or cut.
TEST_F(workers, a_rolling_restart_under_load_loses_no_connection) {
    const std::uint16_t port = unused_port();
    pipes p;
    const pid_t load = fork_load(
        port, p.ready.r, p.report.w, 2,
        [](load_state& st) -> corio::task<> {
            co_await until(st, [&st] { return st.ok >= 50; });
            const std::set<pid_t> before = pids_of(st);
            ::kill(::getppid(), SIGHUP);
            const int ok_at_hup = st.ok;
            co_await until(
                st, [&] { return new_ones(pids_of(st), before) >= 2 && st.ok >= ok_at_hup + 100; });
        },
        SIGTERM);
    const std::string report = serve_under_load(p, load, 2, port);
    EXPECT_GE(figure(report, "ok"), 150) << report;
    EXPECT_EQ(figure(report, "pids"), 4) << report;
    EXPECT_EQ(figure(report, "refused") + figure(report, "lost") + figure(report, "cut") +
                  figure(report, "timed_out"),
              0)
        << report;
    EXPECT_EQ(p.done.read_all(), "dddd"); // the two replaced, then their successors
}

// A worker whose main task throws is restarted (it exits with 70 and says why on stderr);
// one whose main task returns is not, and the largest status comes out.
TEST_F(workers, a_failing_worker_is_restarted_and_a_returning_one_is_not) {
    temp_dir dir;
    const std::string marker = dir.path() + "/failed-once";
    const int status = corio::run_workers(
        2,
        [&marker](std::size_t i) -> corio::task<int> {
            co_await corio::sleep(0s);
            if (i == 1 &&
                ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600) >= 0) {
                throw corio_test::test_error("worker 1 fails on its first run");
            }
            co_return static_cast<int>(i) + 3;
        },
        corio::worker_options{});
    EXPECT_EQ(status, 4);
    EXPECT_TRUE(path_exists(marker));
}

// A worker that never returns to its loop (a hung worker) is killed when its grace period
// has passed.
TEST_F(workers, a_worker_that_does_not_stop_is_killed_after_the_grace_period) {
    pipes p;
    corio::worker_options options;
    options.grace_period = 200ms;
    const pid_t supervisor = ::getpid();
    const int ready_w = p.ready.w;
    const int ready_r = p.ready.r;
    const int status = corio::run_workers(
        2,
        [=](std::size_t i) -> corio::task<> {
            (void)!::write(ready_w, "r", 1);
            if (i == 0) {
                char c = 0;
                for (int seen = 0; seen < 2;) { // both run: now the signal
                    seen += ::read(ready_r, &c, 1) == 1 ? 1 : 0;
                }
                ::kill(supervisor, SIGTERM);
            }
            co_await corio::sleep(0s);
            ::pause(); // hung: SIGTERM is read from the worker's signalfd, never here
        },
        options);
    EXPECT_EQ(status, 128 + SIGTERM);
}

// run_workers forks only a process with one thread and no loop, and not from a worker.
TEST_F(workers, forking_is_refused_where_it_would_break) {
    const auto nothing = [](std::size_t) -> corio::task<> { co_return; };
    {
        std::latch checked(1);
        std::thread other([&checked] { checked.wait(); }); // alive until run_workers looked
        try {
            (void)corio::run_workers(1, nothing);
            ADD_FAILURE() << "no error with a second thread";
        } catch (const std::logic_error& e) {
            EXPECT_NE(std::string(e.what()).find("run_workers: this process has 2 threads"),
                      std::string::npos)
                << e.what();
        }
        checked.count_down();
        other.join();
    }
    {
        corio::event_loop loop;
        try {
            (void)corio::run_workers(1, nothing);
            ADD_FAILURE() << "no error with a loop";
        } catch (const std::logic_error& e) {
            EXPECT_NE(std::string(e.what()).find("an event loop exists"), std::string::npos)
                << e.what();
        }
    }
    // Inside a worker: its failure (exit status 70) is restarted until it returns.
    temp_dir dir;
    const std::string answer = dir.path() + "/answer";
    const int status = corio::run_workers(1, [&answer](std::size_t) -> corio::task<int> {
        co_await corio::sleep(0s);
        std::string what = "no error";
        try {
            (void)corio::run_workers(1, [](std::size_t) -> corio::task<> { co_return; });
        } catch (const std::logic_error& e) {
            what = e.what();
        }
        std::FILE* f = std::fopen(answer.c_str(), "we");
        std::fputs(what.c_str(), f);
        std::fclose(f);
        co_return 0;
    });
    EXPECT_EQ(status, 0);
    std::FILE* f = std::fopen(answer.c_str(), "re");
    ASSERT_NE(f, nullptr);
    char buf[256] = {};
    std::fgets(buf, sizeof buf, f);
    std::fclose(f);
    EXPECT_NE(std::string(buf).find("run_workers: called inside a worker"), std::string::npos)
        << buf;
}

// A socket of another program already listening on the port with SO_REUSEPORT would take a
// share of the connections: run_workers names it and stops; a port taken without it gives
// the bind error. Either way the error comes out of run_workers.
TEST_F(workers, a_port_another_socket_listens_on_is_an_error) {
    const std::uint16_t port = unused_port();
    const corio::socket_address address = corio::socket_address::from_ip("127.0.0.1", port);
    const auto serve = [port](std::size_t) { return worker_main(port); };
    pipes p;
    {
        const int s = check_sys(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
        const int on = 1;
        check_sys(::setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on), "SO_REUSEPORT");
        check_sys(::bind(s, address.data(), address.size()), "bind");
        check_sys(::listen(s, 4), "listen");
        try {
            (void)corio::run_workers(2, serve);
            ADD_FAILURE() << "no error";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code().value(), EADDRINUSE);
            const std::string what = e.what();
            EXPECT_NE(what.find("another program listens on " + address.to_string() +
                                " beside the workers (pid " + std::to_string(::getpid())),
                      std::string::npos)
                << what;
        }
        ::close(s);
    }
    {
        const int s = check_sys(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
        check_sys(::bind(s, address.data(), address.size()), "bind");
        check_sys(::listen(s, 4), "listen");
        try {
            (void)corio::run_workers(2, serve);
            ADD_FAILURE() << "no error";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code().value(), EADDRINUSE);
            EXPECT_EQ(std::string(e.what()),
                      "bind " + address.to_string() + ": " + std::strerror(EADDRINUSE));
        }
        ::close(s);
    }
}

// Without reuse_port (here a Unix socket, the same for TCP) the workers share one socket;
// its path is the supervisor's, removed when run_workers returns.
TEST_F(workers, workers_share_one_unix_socket_made_by_the_supervisor) {
    temp_dir dir;
    const std::string path = dir.path() + "/workers.sock";
    pipes p;
    const int ready_w = p.ready.w;
    const pid_t load = [&] {
        std::fflush(nullptr);
        const pid_t pid = ::fork();
        if (pid != 0) {
            return pid;
        }
        char c = 0;
        for (int seen = 0; seen < 2;) {
            seen += ::read(p.ready.r, &c, 1) == 1 ? 1 : 0;
        }
        int answered = 0;
        for (int i = 0; i < 20; ++i) {
            raw_fd fd = raw_connect(corio::socket_address::from_unix_path(path));
            char buf[64] = {};
            answered += ::read(fd.get(), buf, sizeof buf) > 0 ? 1 : 0;
        }
        ::kill(::getppid(), SIGTERM);
        ::_exit(answered == 20 ? 0 : 1);
    }();
    const int status = corio::run_workers(2, [&path, ready_w](std::size_t) -> corio::task<> {
        corio::server srv = co_await corio::start_unix_server(
            [](corio::stream s) -> corio::task<> {
                s.write(std::to_string(::getpid()));
                co_await s.drain();
                s.close();
                co_await s.wait_closed();
            },
            path);
        (void)!::write(ready_w, "r", 1);
        co_await srv.serve_forever();
    });
    EXPECT_EQ(status, 128 + SIGTERM);
    EXPECT_EQ(wait_for(load), 0);
    EXPECT_FALSE(path_exists(path));
}
