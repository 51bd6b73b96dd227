// The signal-handler service: event_loop::add_signal_handler and remove_signal_handler, on
// one signalfd per loop that the loop watches like any other fd (add_reader). Made with the
// first handler; at close it removes every handler and gives the signals back.
//
// Kernel facts this relies on:
// - A signalfd sees only signals blocked on the thread reading it, so a signal is blocked
//   on the loop's thread while it has a handler.
// - A signal whose disposition is SIG_IGN is discarded when sent, before a signalfd can see
//   it (SIGPIPE and SIGHUP often are, under nohup); while its handler is registered it gets
//   its default disposition back, which for a blocked signal only lets it queue.
// - An instance still pending when the signal is unblocked takes its default action at once
//   (SIGTERM, SIGUSR1... end the process); sigtimedwait with a zero timeout drops it first.
// - signalfd(fd, mask) on an existing signalfd changes its mask in place.

#include "corio/event_loop.hpp"

#include "corio/detail/loop_service.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace corio {
namespace detail {

class signal_service final : public loop_service {
public:
    static constexpr char key = 0;

    explicit signal_service(event_loop& loop) noexcept : loop_service(&key), m_loop(loop) {}

    void add(int signo, std::function<void()> fn) {
        auto it = find(signo);
        if (it != m_handlers.end()) {
            it->second = std::move(fn);
            return;
        }
        m_handlers.emplace_back(signo, std::move(fn));
        struct sigaction old_action {};
        if (::sigaction(signo, nullptr, &old_action) == 0 && old_action.sa_handler == SIG_IGN) {
            struct sigaction dfl {};
            dfl.sa_handler = SIG_DFL;
            sigemptyset(&dfl.sa_mask);
            ::sigaction(signo, &dfl, nullptr);
            m_ignored_before.push_back(signo);
        }
        const sigset_t set = handled();
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        pthread_sigmask(SIG_BLOCK, &one, nullptr);
        const bool fresh = m_fd < 0;
        const int fd = ::signalfd(m_fd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd >= 0 && fresh) {
            try {
                m_loop.add_reader(fd, [this] { on_readable(); });
            } catch (...) {
                ::close(fd);
                undo_add(signo, one);
                throw;
            }
        }
        if (fd < 0) {
            const int err = errno;
            undo_add(signo, one);
            throw std::system_error(err, std::generic_category(), "signalfd");
        }
        m_fd = fd;
    }

    bool remove(int signo) {
        auto it = find(signo);
        if (it == m_handlers.end()) {
            return false;
        }
        m_handlers.erase(it);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        // Its handler is gone, so an instance still pending is dropped, as asyncio does.
        const timespec no_wait{};
        while (::sigtimedwait(&one, nullptr, &no_wait) == signo) {
        }
        restore_ignored(signo);
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
        if (m_handlers.empty()) {
            m_loop.remove_reader(m_fd);
            m_loop.forget_fd(m_fd);
            ::close(m_fd);
            m_fd = -1;
            return true;
        }
        const sigset_t set = handled();
        ::signalfd(m_fd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        return true;
    }

    [[nodiscard]] bool has(int signo) const noexcept {
        return std::any_of(m_handlers.begin(), m_handlers.end(),
                           [signo](const auto& h) { return h.first == signo; });
    }

    void on_close(event_loop&) noexcept override {
        while (!m_handlers.empty()) {
            try {
                remove(m_handlers.back().first);
            } catch (...) { // remove_reader allocates nothing here; nothing else throws
                m_handlers.pop_back();
            }
        }
    }

private:
    using handler = std::pair<int, std::function<void()>>;

    std::vector<handler>::iterator find(int signo) {
        return std::find_if(m_handlers.begin(), m_handlers.end(),
                            [signo](const handler& h) { return h.first == signo; });
    }

    [[nodiscard]] sigset_t handled() const noexcept {
        sigset_t set;
        sigemptyset(&set);
        for (const handler& h : m_handlers) {
            sigaddset(&set, h.first);
        }
        return set;
    }

    /// add() failed after registering `signo`: take it back.
    void undo_add(int signo, const sigset_t& one) noexcept {
        m_handlers.pop_back();
        restore_ignored(signo);
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    }

    /// Give `signo` back its SIG_IGN if add() had taken it away.
    void restore_ignored(int signo) noexcept {
        if (std::erase(m_ignored_before, signo) > 0) {
            struct sigaction ign {};
            ign.sa_handler = SIG_IGN;
            sigemptyset(&ign.sa_mask);
            ::sigaction(signo, &ign, nullptr);
        }
    }

    /// The signalfd is readable: each signal read queues its handler (a copy, so that a
    /// handler may remove itself) in the ready queue.
    void on_readable() {
        signalfd_siginfo info{};
        while (::read(m_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            const int signo = static_cast<int>(info.ssi_signo);
            for (const handler& h : m_handlers) {
                if (h.first == signo) {
                    m_loop.call_soon(h.second);
                }
            }
        }
    }

    event_loop& m_loop;
    int m_fd = -1;
    std::vector<handler> m_handlers;
    /// Signals whose disposition was SIG_IGN before their handler was added.
    std::vector<int> m_ignored_before;
};

} // namespace detail

void event_loop::add_signal_handler(int signo, std::function<void()> fn) {
    check_thread("add_signal_handler");
    check_open("add_signal_handler");
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) {
        throw std::invalid_argument("add_signal_handler: invalid signal " + std::to_string(signo));
    }
    if (!fn) {
        throw std::invalid_argument("add_signal_handler: empty function");
    }
    service<detail::signal_service>().add(signo, std::move(fn));
}

bool event_loop::remove_signal_handler(int signo) {
    auto* s = static_cast<detail::signal_service*>(find_service(&detail::signal_service::key));
    return s != nullptr && s->remove(signo);
}

bool event_loop::has_signal_handler(int signo) const noexcept {
    const auto* s =
        static_cast<const detail::signal_service*>(find_service(&detail::signal_service::key));
    return s != nullptr && s->has(signo);
}

} // namespace corio
