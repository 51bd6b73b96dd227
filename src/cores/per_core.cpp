// run_per_core's supervisor: SIGINT and SIGTERM blocked in the calling thread (and so in
// the worker threads it starts), read from a signalfd by that thread alone; each worker's
// main task runs in a cancel scope its loop registers here, and a signal (or a worker's
// failure) cancels every one of them through its loop's call_soon_threadsafe.

#include "corio/cores.hpp"
#include "corio/thread_pool.hpp"

#include <cerrno>
#include <mutex>
#include <system_error>

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace corio {

namespace {
thread_local std::size_t t_worker_index = 0;
thread_local std::size_t t_worker_count = 1;
} // namespace

std::size_t worker_index() noexcept {
    return t_worker_index;
}

std::size_t worker_count() noexcept {
    return t_worker_count;
}

std::size_t usable_cpus() noexcept {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) {
        return 1;
    }
    const int n = CPU_COUNT(&set);
    return n > 0 ? static_cast<std::size_t>(n) : 1;
}

namespace detail {

void set_worker_index(std::size_t i, std::size_t n) noexcept {
    t_worker_index = i;
    t_worker_count = n;
}

struct per_core_supervisor::impl {
    struct worker {
        event_loop* loop = nullptr;
        cancel_scope* scope = nullptr;
        bool ended = false;
    };

    std::size_t n;
    sigset_t blocked{};
    sigset_t old{};
    int signal_fd = -1;
    int event_fd = -1;
    mutable std::mutex m;
    std::vector<worker> workers;
    std::size_t ended_count = 0;
    bool cancelling = false;
    std::exception_ptr first_error;
    /// Shared by every worker's loop; joined when the supervisor goes, after the workers.
    thread_pool pool;

    explicit impl(std::size_t count) : n(count), workers(count) {}

    void cancel_on_its_loop(std::size_t i) {
        cancel_scope* scope = nullptr;
        {
            std::lock_guard lock(m);
            scope = workers[i].scope;
        }
        if (scope != nullptr) {
            scope->cancel(); // on the worker's own thread, where the scope lives
        }
    }
};

per_core_supervisor::per_core_supervisor(std::size_t n) : m(std::make_unique<impl>(n)) {
    sigemptyset(&m->blocked);
    sigaddset(&m->blocked, SIGINT);
    sigaddset(&m->blocked, SIGTERM);
    if (const int e = ::pthread_sigmask(SIG_BLOCK, &m->blocked, &m->old); e != 0) {
        throw std::system_error(e, std::system_category(), "run_per_core: pthread_sigmask");
    }
    m->signal_fd = ::signalfd(-1, &m->blocked, SFD_CLOEXEC | SFD_NONBLOCK);
    m->event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (m->signal_fd < 0 || m->event_fd < 0) {
        const int e = errno;
        if (m->signal_fd >= 0) {
            ::close(m->signal_fd);
        }
        if (m->event_fd >= 0) {
            ::close(m->event_fd);
        }
        ::pthread_sigmask(SIG_SETMASK, &m->old, nullptr);
        throw std::system_error(e, std::system_category(), "run_per_core: signalfd/eventfd");
    }
}

per_core_supervisor::~per_core_supervisor() {
    ::close(m->signal_fd);
    ::close(m->event_fd);
    ::pthread_sigmask(SIG_SETMASK, &m->old, nullptr);
}

void per_core_supervisor::started(std::size_t i, cancel_scope& scope) {
    bool cancel = false;
    {
        std::lock_guard lock(m->m);
        m->workers[i].loop = &get_running_loop();
        m->workers[i].scope = &scope;
        cancel = m->cancelling;
    }
    if (cancel) {
        scope.cancel(); // a signal came before this loop started
    }
}

void per_core_supervisor::stopped(std::size_t i) noexcept {
    std::lock_guard lock(m->m);
    m->workers[i].scope = nullptr;
}

void per_core_supervisor::ended(std::size_t i, std::exception_ptr error) noexcept {
    bool cancel = false;
    {
        std::lock_guard lock(m->m);
        impl::worker& w = m->workers[i];
        if (w.ended) {
            return;
        }
        w.ended = true;
        w.loop = nullptr;
        w.scope = nullptr;
        if (error && !m->first_error) {
            m->first_error = error;
            cancel = true;
        }
        if (++m->ended_count == m->n) {
            const std::uint64_t one = 1;
            (void)!::write(m->event_fd, &one, sizeof one);
        }
    }
    if (cancel) {
        cancel_all();
    }
}

void per_core_supervisor::cancel_all() noexcept {
    std::vector<std::pair<std::size_t, event_loop*>> loops;
    {
        std::lock_guard lock(m->m);
        if (m->cancelling) {
            return;
        }
        m->cancelling = true;
        for (std::size_t i = 0; i < m->n; ++i) {
            if (m->workers[i].loop != nullptr && !m->workers[i].ended) {
                loops.emplace_back(i, m->workers[i].loop);
            }
        }
    }
    for (auto [i, loop] : loops) {
        try {
            loop->call_soon_threadsafe([s = m.get(), i = i] { s->cancel_on_its_loop(i); });
        } catch (...) {
            // that loop has closed: its worker is ending anyway
        }
    }
}

int per_core_supervisor::wait() {
    int signal = 0;
    while (true) {
        {
            std::lock_guard lock(m->m);
            if (m->ended_count == m->n) {
                break;
            }
        }
        pollfd fds[2] = {{m->signal_fd, POLLIN, 0}, {m->event_fd, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw std::system_error(errno, std::system_category(), "run_per_core: poll");
        }
        if ((fds[0].revents & POLLIN) != 0) {
            signalfd_siginfo info{};
            while (::read(m->signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
                if (signal == 0) {
                    signal = static_cast<int>(info.ssi_signo);
                }
            }
            cancel_all();
        }
        if ((fds[1].revents & POLLIN) != 0) {
            std::uint64_t count = 0;
            (void)!::read(m->event_fd, &count, sizeof count);
        }
    }
    return signal;
}

executor& per_core_supervisor::pool() noexcept {
    return m->pool;
}

std::exception_ptr per_core_supervisor::error() const noexcept {
    std::lock_guard lock(m->m);
    return m->first_error;
}

} // namespace detail
} // namespace corio
