// event_loop's I/O members (the fd building blocks of event_loop.hpp): each checks what
// is the loop's to check (its thread, that it is open) and forwards to the loop's I/O
// driver (src/io/io_driver.hpp), which owns the reactor and the fds. After close() the
// driver is gone, and these answer as for an fd nobody watches.

#include "corio/event_loop.hpp"

#include "io/io_driver.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace corio {

void event_loop::add_reader(int fd, std::function<void()> fn) {
    check_thread("add_reader");
    check_open("add_reader");
    if (!fn) {
        throw std::invalid_argument("add_reader: empty function");
    }
    m_io->set_callback(fd, true, std::move(fn));
}

bool event_loop::remove_reader(int fd) {
    return m_io != nullptr && m_io->clear_callback(fd, true);
}

void event_loop::add_writer(int fd, std::function<void()> fn) {
    check_thread("add_writer");
    check_open("add_writer");
    if (!fn) {
        throw std::invalid_argument("add_writer: empty function");
    }
    m_io->set_callback(fd, false, std::move(fn));
}

bool event_loop::remove_writer(int fd) {
    return m_io != nullptr && m_io->clear_callback(fd, false);
}

void event_loop::watch_fd(int fd, bool readable, detail::waiter& w) {
    m_io->watch(fd, readable, w);
}

void event_loop::unwatch_fd(int fd, bool readable, detail::waiter& w) noexcept {
    if (m_io != nullptr) {
        m_io->unwatch(fd, readable, w);
    }
}

bool event_loop::start_recv(int fd, detail::recv_sink& sink) {
    if (!m_io->supports_recv()) {
        return false;
    }
    m_io->start_recv(fd, sink);
    return true;
}

bool event_loop::supports_recv() const noexcept {
    return m_io->supports_recv();
}

void event_loop::pause_recv(int fd) noexcept {
    m_io->pause_recv(fd);
}

void event_loop::stop_recv(int fd) noexcept {
    m_io->stop_recv(fd);
}

bool event_loop::fd_hung_up(int fd) const noexcept {
    return m_io != nullptr && m_io->hung_up(fd);
}

bool event_loop::supports_io_ops() const noexcept {
    return m_io != nullptr && m_io->supports_ops();
}

void event_loop::submit_io(detail::io_op& op) {
    check_open("submit_io");
    m_io->submit(op);
}

void event_loop::cancel_io(detail::io_op& op) noexcept {
    if (m_io != nullptr) {
        m_io->cancel(op);
    }
}

void event_loop::abandon_io(detail::io_op& op) noexcept {
    if (m_io != nullptr) {
        m_io->abandon(op);
    }
}

std::size_t event_loop::io_ops_in_flight() const noexcept {
    return m_io != nullptr ? m_io->ops_in_flight() : 0;
}

void event_loop::forget_fd(int fd) noexcept {
    if (m_io != nullptr) {
        m_io->forget(fd);
    }
}

} // namespace corio
