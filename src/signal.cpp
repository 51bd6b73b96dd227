// corio::signal: coroutines waiting for a signal, on top of event_loop::add_signal_handler.
//
// Kernel facts this relies on:
// - The loop reads signals from a signalfd, which only sees signals that are blocked on the
//   reading thread; add_signal_handler blocks the signal on the loop's thread, and
//   remove_signal_handler drops the instances still pending before unblocking it (otherwise
//   they would take their default action at once).
// - A signal blocked on the thread while nobody handled it stays pending, and a new signalfd
//   reports it; sigtimedwait with a zero timeout takes it away instead.
// - Standard signals coalesce: several deliveries of one signal that arrive before it is
//   read are one.
//
// Design: the waiters of one signal on one loop share a `signal_waiters` record, found
// through a process-wide registry keyed by (loop, signo). The record registers the loop
// handler when its first waiter arrives and removes it when the last one leaves. The handler
// owns a `registration` token; the token dies when the loop drops the handler (replaced or
// removed by someone else, or the loop closing), which is how a handler taken away from
// under waiters is noticed. Deliveries and token deaths carry the generation of the
// registration they belong to, so that a stale copy of an old handler (the loop copies the
// handler into its ready queue for each delivery) never acts on a later registration.

#include "corio/signal.hpp"

#include "corio/detail/task_state.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <coroutine>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <signal.h>
#include <time.h>

namespace corio {

namespace {

class signal_waiters;

/// One coroutine waiting in corio::signal.
class signal_wait : public detail::list_node {
public:
    explicit signal_wait(std::shared_ptr<signal_waiters> waiters) noexcept
        : m_waiters(std::move(waiters)) {}
    signal_wait(const signal_wait&) = delete;
    signal_wait& operator=(const signal_wait&) = delete;
    ~signal_wait();

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h);
    int await_resume() const;

private:
    friend class signal_waiters;
    static bool on_cancel(detail::waiter& w) noexcept;

    std::shared_ptr<signal_waiters> m_waiters;
    detail::waiter m_waiter;
    /// Woken because the loop handler was replaced or removed by someone else.
    bool m_handler_lost = false;
};

/// The waiters of one signal on one loop, and the loop handler that serves them.
class signal_waiters : public std::enable_shared_from_this<signal_waiters> {
public:
    signal_waiters(event_loop& loop, int signo) noexcept : m_loop(&loop), m_signo(signo) {}
    signal_waiters(const signal_waiters&) = delete;
    signal_waiters& operator=(const signal_waiters&) = delete;
    ~signal_waiters();

    [[nodiscard]] int signo() const noexcept { return m_signo; }
    [[nodiscard]] event_loop* loop() const noexcept { return m_loop; }

    /// Queue `w`, registering the loop handler if it is the first waiter.
    void add(signal_wait& w) {
        if (!m_registered) {
            register_handler();
        }
        m_list.push_back(w);
    }

    /// Take `w` out of the queue; the handler goes with the last waiter.
    void remove(signal_wait& w) noexcept {
        w.unlink();
        if (m_list.empty() && m_registered) {
            unregister_handler();
        }
    }

private:
    /// Owned by the loop handler (through every copy the loop makes of it).
    struct registration {
        std::shared_ptr<signal_waiters> owner;
        std::uint64_t generation;
        registration(std::shared_ptr<signal_waiters> o, std::uint64_t g) noexcept
            : owner(std::move(o)), generation(g) {}
        registration(const registration&) = delete;
        registration& operator=(const registration&) = delete;
        ~registration() { owner->handler_gone(generation); }
    };

    void register_handler() {
        if (m_loop->has_signal_handler(m_signo)) {
            throw invalid_state_error("signal(" + std::to_string(m_signo) +
                                      "): the loop already has a handler for it "
                                      "(add_signal_handler); use one or the other");
        }
        const std::uint64_t generation = ++m_generation;
        auto token = std::make_shared<registration>(shared_from_this(), generation);
        std::function<void()> handler = [token] { token->owner->deliver(token->generation); };
        token.reset();
        m_loop->add_signal_handler(m_signo, std::move(handler));
        m_registered = true;
        // Instances that arrived while the thread had the signal blocked and nobody handled
        // it are not for this waiter.
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, m_signo);
        const timespec no_wait{};
        while (::sigtimedwait(&one, nullptr, &no_wait) == m_signo) {
        }
    }

    void unregister_handler() noexcept {
        m_registered = false;
        try {
            m_loop->remove_signal_handler(m_signo);
        } catch (...) { // NOLINT(bugprone-empty-catch): nothing is left to undo
        }
    }

    /// The signal arrived: wake every waiter.
    void deliver(std::uint64_t generation) {
        if (!m_registered || generation != m_generation || m_list.empty()) {
            return;
        }
        while (detail::list_node* n = m_list.pop_front()) {
            // The signal is the waiter's: a cancellation arriving before it runs waits for
            // its next suspension point.
            static_cast<signal_wait*>(n)->m_waiter.granted = true;
            detail::wake(static_cast<signal_wait*>(n)->m_waiter);
        }
        // Keep the handler until the woken coroutines have run (they are scheduled before
        // this callback): one that waits again at once finds it still there.
        m_loop->call_soon([self = shared_from_this(), generation] {
            if (self->m_registered && self->m_generation == generation && self->m_list.empty()) {
                self->unregister_handler();
            }
        });
    }

    /// The loop dropped the handler of registration `generation`.
    void handler_gone(std::uint64_t generation) noexcept {
        if (!m_registered || generation != m_generation) {
            return; // we removed it ourselves, or it belongs to an older registration
        }
        // Replaced or removed by add_signal_handler/remove_signal_handler: nothing will wake
        // the waiters any more.
        m_registered = false;
        while (detail::list_node* n = m_list.pop_front()) {
            auto* w = static_cast<signal_wait*>(n);
            w->m_handler_lost = true;
            detail::wake(w->m_waiter);
        }
    }

    event_loop* m_loop;
    int m_signo;
    detail::intrusive_list m_list;
    std::uint64_t m_generation = 0;
    bool m_registered = false;
};

// --- the registry of signal_waiters, by (loop, signo) ------------------------------------
//
// Process-wide rather than thread_local: a record dies with the last reference to it, which
// may be dropped by event_loop::close() on whatever thread closes the loop. A record lives
// only while it has waiters or a handler on its loop, so none outlives its loop, and a new
// loop at the same address never finds an old one.

struct registry_entry {
    const event_loop* loop;
    int signo;
    const signal_waiters* record;
    std::weak_ptr<signal_waiters> weak;
};

std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}

std::vector<registry_entry>& registry() {
    static std::vector<registry_entry> entries;
    return entries;
}

std::shared_ptr<signal_waiters> waiters_for(event_loop& loop, int signo) {
    const std::lock_guard lock(registry_mutex());
    auto& entries = registry();
    for (const registry_entry& e : entries) {
        if (e.loop == &loop && e.signo == signo) {
            if (auto live = e.weak.lock()) {
                return live;
            }
        }
    }
    auto record = std::make_shared<signal_waiters>(loop, signo);
    entries.push_back({&loop, signo, record.get(), record});
    return record;
}

signal_waiters::~signal_waiters() {
    const std::lock_guard lock(registry_mutex());
    auto& entries = registry();
    std::erase_if(entries, [this](const registry_entry& e) { return e.record == this; });
}

// --- signal_wait -------------------------------------------------------------------------

signal_wait::~signal_wait() {
    if (linked()) {
        m_waiters->remove(*this); // the frame is destroyed while parked here
    }
}

bool signal_wait::await_suspend(std::coroutine_handle<> h) {
    m_waiter.handle = h;
    m_waiter.on_cancel = &on_cancel;
    m_waiter.context = this;
    m_waiter.describe = [](const detail::waiter& w, std::string& out) {
        const int signo = static_cast<const signal_wait*>(w.context)->m_waiters->signo();
        out += "signal " + std::to_string(signo);
        if (const char* name = sigabbrev_np(signo)) {
            out += std::string(" (SIG") + name + ")";
        }
    };
    m_waiters->add(*this);
    if (!detail::park(m_waiter)) {
        m_waiters->remove(*this);
        return false;
    }
    return true;
}

int signal_wait::await_resume() const {
    m_waiter.check_cancelled();
    if (m_handler_lost) {
        throw invalid_state_error("corio::signal(" + std::to_string(m_waiters->signo()) +
                                  "): the loop's handler for this signal was replaced or "
                                  "removed by add_signal_handler/remove_signal_handler");
    }
    return m_waiters->signo();
}

bool signal_wait::on_cancel(detail::waiter& w) noexcept {
    auto* self = static_cast<signal_wait*>(w.context);
    self->m_waiters->remove(*self);
    return true;
}

task<int> wait_for_signal(int signo) {
    signal_wait wait(waiters_for(get_running_loop(), signo));
    co_return co_await wait;
}

} // namespace

task<int> signal(int signo) {
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) {
        throw std::invalid_argument("corio::signal: invalid signal " + std::to_string(signo));
    }
    return wait_for_signal(signo);
}

} // namespace corio
