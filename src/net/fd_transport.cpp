// Sockets and pipes as transports: the system calls under a stream. See fd_transport.hpp for
// the two ways of doing I/O (readiness and completion) and the kernel facts they rely on.

#include "fd_transport.hpp"

#include "corio/errors.hpp"
#include "corio/net/stream.hpp"

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corio {

namespace detail {

/// Blocks SIGPIPE for the call and, if the call raised it, takes it off the pending set;
/// errno is as write left it.
ssize_t write_pipe(int fd, const char* data, std::size_t size) noexcept {
    sigset_t pipe_set;
    sigset_t old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigset_t pending;
    sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    const ssize_t n = ::write(fd, data, size);
    const int err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        const timespec zero{};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    if (sigismember(&old, SIGPIPE) != 1) {
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    errno = err;
    return n;
}

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ((flags & O_NONBLOCK) == 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
        throw_errno(errno, "fcntl O_NONBLOCK on fd " + std::to_string(fd));
    }
}

fd_transport::fd_transport(event_loop& loop, int read_fd, int write_fd, bool socket,
                           std::string name, socket_address peer)
    : m_loop(&loop), m_rfd(read_fd), m_wfd(write_fd), m_socket(socket), m_can_read(read_fd >= 0),
      m_can_write(write_fd >= 0), m_completion_reads(read_fd >= 0 && loop.supports_recv()),
      m_completion_writes(socket && write_fd >= 0 && loop.supports_io_ops()),
      m_name(std::move(name)), m_peer(std::move(peer)) {
    m_sink.self = this;
    m_sink.socket = socket;
    m_sink.on_data = &on_data;
    m_sink.on_end = &on_end;
    m_send_op.op = io_op::kind::send;
    m_send_op.fd = write_fd;
    m_send_op.on_complete = &on_sent;
    m_send_op.context = this;
}

fd_transport::~fd_transport() {
    close_fds();
}

// --- reading ---------------------------------------------------------------------------

std::ptrdiff_t fd_transport::read_arrived(std::span<char> out) {
    m_read_ready = true; // ask the fd itself, even if a short read saw it drained
    return try_read(out);
}

task<std::size_t> fd_transport::read(std::span<char> out) {
    while (true) {
        const std::ptrdiff_t n = try_read(out);
        if (n >= 0) {
            co_return static_cast<std::size_t>(n);
        }
        m_read_ready = true;
        co_await wait_fd(*m_loop, m_rfd, true);
    }
}

/// Reads nothing and leaves a pending error for the next read (recv with MSG_PEEK or
/// SO_ERROR would clear it): the fd is polled, and an fd that polls readable or hung up,
/// without an error, with no byte queued (FIONREAD) has ended.
bool fd_transport::eof_arrived() noexcept {
    if (m_read_shut || m_rfd < 0 || m_receiver != nullptr) {
        return false; // a background receive takes what arrives: the receiver knows
    }
    pollfd p{m_rfd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) != 1 || (p.revents & (POLLERR | POLLNVAL)) != 0 ||
        (p.revents & (POLLIN | POLLRDHUP | POLLHUP)) == 0) {
        return false;
    }
    int queued = 0;
    return ::ioctl(m_rfd, FIONREAD, &queued) == 0 && queued == 0;
}

bool fd_transport::receives_in_background() const noexcept {
    return m_completion_reads;
}

bool fd_transport::start_receive(receiver& r) {
    if (!m_completion_reads || m_rfd < 0 || m_read_shut) {
        return false;
    }
    m_receiver = &r;
    return m_loop->start_recv(m_rfd, m_sink);
}

void fd_transport::pause_receive() noexcept {
    if (m_rfd >= 0) {
        m_loop->pause_recv(m_rfd);
    }
}

void fd_transport::on_data(recv_sink& sink, const char* data, std::size_t size) {
    static_cast<sink_type&>(sink).self->m_receiver->on_data(std::span<const char>(data, size));
}

void fd_transport::on_end(recv_sink& sink, int error) {
    static_cast<sink_type&>(sink).self->m_receiver->on_end(error);
}

// --- writing ---------------------------------------------------------------------------

task<std::size_t> fd_transport::write(std::span<const char> data) {
    while (true) {
        const std::ptrdiff_t n = try_write(data);
        if (n > 0) {
            co_return static_cast<std::size_t>(n);
        }
        co_await wait_fd(*m_loop, m_wfd, false);
    }
}

bool fd_transport::submits_writes() const noexcept {
    return m_completion_writes;
}

void fd_transport::on_sent(io_op& op, int result) {
    static_cast<fd_transport*>(op.context)->m_written->on_written(result);
}

// --- ending ----------------------------------------------------------------------------

void fd_transport::shutdown_write() {
    if (m_wfd < 0) {
        return;
    }
    if (m_socket) {
        ::shutdown(m_wfd, SHUT_WR);
    } else {
        close_fd(m_wfd, m_loop);
        m_wfd = -1;
    }
}

bool fd_transport::can_write_eof() const noexcept {
    return m_wfd >= 0;
}

void fd_transport::shutdown_read() noexcept {
    if (m_read_shut || m_rfd < 0) {
        return;
    }
    m_read_shut = true;
    if (m_rfd != m_wfd) {
        close_fd(m_rfd, m_loop); // a pipe's read end: closing it wakes the reader
        m_rfd = -1;
    } else {
        // Ends the receive direction: the socket turns readable (EOF) and every reactor
        // reports it; the send direction, maybe still flushing, is untouched.
        ::shutdown(m_rfd, SHUT_RD);
    }
}

void fd_transport::close() noexcept {
    close_fds();
}

void fd_transport::close_fds() noexcept {
    if (m_wfd >= 0 && m_wfd != m_rfd) {
        close_fd(m_wfd, m_loop);
    }
    if (m_rfd >= 0) {
        close_fd(m_rfd, m_loop);
    }
    m_rfd = m_wfd = -1;
}

// --- description -----------------------------------------------------------------------

socket_address fd_transport::peer_address() const {
    return m_socket ? m_peer : socket_address();
}

socket_address fd_transport::local_address() const {
    return m_socket && m_rfd >= 0 ? socket_address::local_of(m_rfd) : socket_address();
}

/// A socket's name in errors: its peer, else its local address, else its fd.
std::string socket_name(int fd, const socket_address& peer) {
    std::string name = peer.to_string();
    if (name.empty()) {
        name = socket_address::local_of(fd).to_string();
    }
    if (name.empty()) {
        name = "socket fd " + std::to_string(fd);
    }
    return name;
}

stream adopt_socket(int fd, std::string name, std::size_t limit, socket_address peer) {
    return stream(std::make_unique<fd_transport>(get_running_loop(), fd, fd, true, std::move(name),
                                                 std::move(peer)),
                  limit);
}

} // namespace detail

std::unique_ptr<transport> transport::from_socket(int fd) {
    if (fd < 0) {
        throw std::invalid_argument("transport::from_socket: invalid fd " + std::to_string(fd));
    }
    detail::set_nonblocking(fd);
    socket_address peer = socket_address::peer_of(fd);
    std::string name = detail::socket_name(fd, peer);
    return std::make_unique<detail::fd_transport>(get_running_loop(), fd, fd, true, std::move(name),
                                                  std::move(peer));
}

std::unique_ptr<transport> transport::from_pipes(int read_fd, int write_fd, std::string name) {
    if (read_fd < 0 && write_fd < 0) {
        throw std::invalid_argument("transport::from_pipes: no fd given");
    }
    if (read_fd >= 0) {
        detail::set_nonblocking(read_fd);
    }
    if (write_fd >= 0) {
        detail::set_nonblocking(write_fd);
    }
    return std::make_unique<detail::fd_transport>(get_running_loop(), read_fd, write_fd, false,
                                                  std::move(name));
}

stream stream::from_socket(int fd, std::size_t limit) {
    if (fd < 0) {
        throw std::invalid_argument("stream::from_socket: invalid fd " + std::to_string(fd));
    }
    return stream(transport::from_socket(fd), limit);
}

stream stream::from_pipes(int read_fd, int write_fd, std::string name, std::size_t limit) {
    if (read_fd < 0 && write_fd < 0) {
        throw std::invalid_argument("stream::from_pipes: no fd given");
    }
    return stream(transport::from_pipes(read_fd, write_fd, std::move(name)), limit);
}

} // namespace corio
