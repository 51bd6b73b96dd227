// The I/O driver (io_driver.hpp): the fd table, and the dispatch of what the reactor reports
// to the waiters and callbacks of each fd.

#include "io_driver.hpp"

#include "corio/errors.hpp"

#include <stdexcept>
#include <utility>

namespace corio::detail {

namespace {
void refuse_mixed_use(const fd_entry& e, int fd, bool callbacks) {
    if (callbacks && e.edge) {
        throw invalid_state_error("fd " + std::to_string(fd) +
                                  " is in use by corio I/O; add_reader/add_writer cannot "
                                  "watch it too");
    }
    if (!callbacks && (e.reader || e.writer)) {
        throw invalid_state_error("fd " + std::to_string(fd) +
                                  " has add_reader/add_writer callbacks; corio I/O cannot "
                                  "wait on it too");
    }
}
} // namespace

io_driver::io_driver(std::unique_ptr<reactor> chosen, callback_runner run_callback,
                     void* owner) noexcept
    : m_reactor(std::move(chosen)), m_run_callback(run_callback), m_owner(owner) {}

io_driver::~io_driver() = default;

void io_driver::add_loop_fd(int fd, void (*on_readable)(void*), void* context) {
    fd_entry& e = slot(fd);
    // What an fd closed without forget() left under this number is of no use any more.
    e = fd_entry{};
    m_reactor->add(fd, true, false, false);
    e.on_readable = on_readable;
    e.context = context;
}

void io_driver::remove_loop_fd(int fd) noexcept {
    m_reactor->remove(fd);
    if (fd >= 0 && static_cast<std::size_t>(fd) < m_fds.size()) {
        m_fds[fd].reset();
    }
}

fd_entry& io_driver::slot(int fd) {
    if (fd < 0) {
        throw std::invalid_argument("invalid file descriptor " + std::to_string(fd));
    }
    const auto index = static_cast<std::size_t>(fd);
    if (index >= m_fds.size()) {
        m_fds.resize(index + 1);
    }
    if (!m_fds[index]) {
        m_fds[index] = std::make_unique<fd_entry>();
    }
    return *m_fds[index];
}

void io_driver::update_interest(int fd, fd_entry& e) {
    const bool r = static_cast<bool>(e.reader);
    const bool w = static_cast<bool>(e.writer);
    if (!r && !w) {
        if (e.registered) {
            m_reactor->remove(fd);
            e.registered = false;
        }
        return;
    }
    if (!e.registered) {
        m_reactor->add(fd, r, w, false);
        e.registered = true;
    } else {
        m_reactor->modify(fd, r, w);
    }
}

void io_driver::set_callback(int fd, bool reading, std::function<void()> fn) {
    fd_entry& e = slot(fd);
    refuse_mixed_use(e, fd, true);
    (reading ? e.reader : e.writer) = std::move(fn);
    update_interest(fd, e);
}

bool io_driver::clear_callback(int fd, bool reading) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= m_fds.size() || !m_fds[fd]) {
        return false;
    }
    fd_entry& e = *m_fds[fd];
    std::function<void()>& callback = reading ? e.reader : e.writer;
    if (!callback) {
        return false;
    }
    callback = nullptr;
    update_interest(fd, e);
    return true;
}

void io_driver::watch(int fd, bool readable, waiter& w) {
    fd_entry& e = slot(fd);
    refuse_mixed_use(e, fd, false);
    waiter*& waiting = readable ? e.read_waiter : e.write_waiter;
    if (waiting != nullptr) {
        throw invalid_state_error("fd " + std::to_string(fd) +
                                  ": another coroutine is already waiting to " +
                                  (readable ? "read" : "write"));
    }
    if (!e.registered) {
        m_reactor->add(fd, true, true, true);
        e.registered = true;
        e.edge = true;
    }
    waiting = &w;
}

void io_driver::unwatch(int fd, bool readable, waiter& w) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= m_fds.size() || !m_fds[fd]) {
        return;
    }
    waiter*& waiting = readable ? m_fds[fd]->read_waiter : m_fds[fd]->write_waiter;
    if (waiting == &w) {
        waiting = nullptr;
    }
}

void io_driver::forget(int fd) noexcept {
    if (fd < 0) {
        return;
    }
    const bool known = static_cast<std::size_t>(fd) < m_fds.size() && m_fds[fd];
    m_reactor->forget(fd, known && m_fds[fd]->registered);
    if (!known) {
        return;
    }
    const std::unique_ptr<fd_entry> e = std::move(m_fds[fd]);
    if (e->read_waiter != nullptr) {
        wake(*e->read_waiter);
    }
    if (e->write_waiter != nullptr) {
        wake(*e->write_waiter);
    }
}

void io_driver::refuse_ops() const {
    throw invalid_state_error("submit_io: the " +
                              std::string(m_reactor->kind() == corio::backend::io_uring
                                              ? "io_uring reactor of this kernel"
                                              : "epoll reactor") +
                              " runs no completion-based operations");
}

bool io_driver::poll(std::int64_t timeout_ns) {
    std::vector<reactor_event>& events = m_events;
    events.clear();
    const std::size_t delivered = m_reactor->wait(timeout_ns, events);
    const bool anything = !events.empty() || delivered != 0;
    for (const reactor_event& ev : events) {
        if (static_cast<std::size_t>(ev.fd) >= m_fds.size() || !m_fds[ev.fd]) {
            continue;
        }
        fd_entry& e = *m_fds[ev.fd];
        if (e.on_readable != nullptr) {
            e.on_readable(e.context);
            continue;
        }
        if (e.edge) {
            e.hangup = e.hangup || ev.hangup;
            if (ev.readable && e.read_waiter != nullptr) {
                wake(*std::exchange(e.read_waiter, nullptr));
            }
            if (ev.writable && e.write_waiter != nullptr) {
                wake(*std::exchange(e.write_waiter, nullptr));
            }
            continue;
        }
        // Level-triggered callbacks run now; copies, because a callback may remove itself.
        if (ev.readable && e.reader) {
            auto fn = e.reader;
            m_run_callback(m_owner, fn);
        }
        if (ev.writable && static_cast<std::size_t>(ev.fd) < m_fds.size() && m_fds[ev.fd] &&
            m_fds[ev.fd]->writer) {
            auto fn = m_fds[ev.fd]->writer;
            m_run_callback(m_owner, fn);
        }
    }
    return anything;
}

} // namespace corio::detail
