// corio::datagram_socket: UDP and Unix datagram sockets.
//
// Kernel facts this relies on:
// - A datagram socket sends and receives whole datagrams: one sendto is one datagram (or
//   EMSGSIZE), one recvmsg takes one datagram, and what does not fit the buffer is dropped,
//   with MSG_TRUNC set in msg_flags. A zero-length datagram is a datagram (recv returns 0;
//   there is no end of stream).
// - connect() on a datagram socket sends nothing: it records the default peer and filters
//   what is received. ICMP "port unreachable" answers to a connected UDP socket set its
//   pending error, returned (and cleared) by the next send or receive as ECONNREFUSED;
//   epoll reports the pending error as EPOLLERR, which wakes a waiting reader. Unconnected
//   UDP sockets do not report ICMP errors.
// - recvmsg from an unbound Unix datagram sender gives a zero-length address.
// - A Unix datagram socket's receive queue holds at most net.unix.max_dgram_qlen datagrams
//   (10 by default) from senders it is not connected to; past that a non-blocking send
//   gets EAGAIN. A sender connected to that receiver is woken (EPOLLOUT) when the queue
//   drains; a sender that names the receiver's address in sendto is not, and keeps being
//   reported writable, so it can only try again later: send_to retries on a timer then.
// - The fd is non-blocking and the loop watches it edge-triggered (detail::wait_fd): every
//   operation tries the system call first and waits only after EAGAIN, then tries again.
//
// The loop lets one coroutine at a time wait on an fd for each direction, so the receivers
// of a socket take turns through a corio::mutex (FIFO: the datagrams go to receivers in the
// order they came), and so do the senders. The holder of the lock is the one that waits on
// the fd; the others wait for the lock and try the system call when they get it.

#include "corio/net/udp.hpp"

#include "corio/cancel_scope.hpp"
#include "corio/detail/io.hpp"
#include "corio/errors.hpp"
#include "corio/event_loop.hpp"
#include "corio/sync/mutex.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace corio {

namespace detail {

/// What a datagram_socket and its pending operations share: an operation in flight keeps
/// it alive after the socket object is moved or destroyed (it then sees the fd closed).
class datagram_state {
public:
    datagram_state(unique_fd fd, int family) noexcept : m_fd(std::move(fd)), m_family(family) {}

    [[nodiscard]] int fd() const noexcept { return m_fd.get(); }
    [[nodiscard]] int family() const noexcept { return m_family; }
    [[nodiscard]] bool is_open() const noexcept { return static_cast<bool>(m_fd); }
    void close() noexcept { m_fd.reset(); }

    /// The fd, or std::system_error(EBADF) "<operation>: socket closed".
    [[nodiscard]] int open_fd(const char* operation) const {
        if (!m_fd) {
            throw_errno(EBADF, std::string(operation) + ": socket closed");
        }
        return m_fd.get();
    }

    mutex receivers;
    mutex senders;

private:
    unique_fd m_fd;
    int m_family;
};

} // namespace detail

namespace {

using detail::datagram_state;

const char* family_name(int family) noexcept {
    switch (family) {
    case AF_INET:
        return "IPv4";
    case AF_INET6:
        return "IPv6";
    case AF_UNIX:
        return "Unix";
    case AF_UNSPEC:
        return "empty";
    default:
        return "unknown-family";
    }
}

/// \throws std::invalid_argument if `address` is not of the socket's family.
void check_family(const datagram_state& st, const socket_address& address, const char* operation) {
    if (address.family() != st.family()) {
        throw std::invalid_argument(std::string(operation) + ": " + family_name(address.family()) +
                                    " address \"" + address.to_string() + "\" on an " +
                                    family_name(st.family()) + " socket");
    }
}

/// "recv 127.0.0.1:9" when connected (the peer is what went wrong), else
/// "recv_from on 127.0.0.1:5000".
std::string describe(int fd, const char* operation) {
    const socket_address peer = socket_address::peer_of(fd);
    if (!peer.empty()) {
        return std::string(operation) + " " + peer.to_string();
    }
    const socket_address local = socket_address::local_of(fd);
    std::string text = operation;
    if (!local.empty() && !local.to_string().empty()) {
        text += " on " + local.to_string();
    }
    return text;
}

/// Buffers up to this size receive through a per-thread scratch buffer (then one copy of
/// the datagram's exact size); larger ones allocate a string of `max` bytes.
constexpr std::size_t scratch_limit = 256 * 1024;

std::span<char> scratch(std::size_t size) {
    thread_local std::vector<char> buffer;
    if (buffer.size() < size) {
        buffer.resize(size);
    }
    return {buffer.data(), size};
}

/// One recvmsg into `out`: the datagram's facts, or nullopt if none is waiting (EAGAIN).
std::optional<datagram_info> receive_once(int fd, std::span<char> out, bool want_sender,
                                          const char* operation) {
    datagram_info info;
    iovec iov{out.data(), out.size()};
    msghdr msg{};
    if (want_sender) {
        msg.msg_name = info.from.data();
        msg.msg_namelen = socket_address::capacity();
    }
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    for (;;) {
        const ssize_t n = ::recvmsg(fd, &msg, 0);
        if (n >= 0) {
            info.size = static_cast<std::size_t>(n);
            info.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
            if (want_sender) {
                info.from.resize(msg.msg_namelen);
            }
            return info;
        }
        const int err = errno;
        if (err == EINTR) {
            continue;
        }
        if (err == EAGAIN || err == EWOULDBLOCK) {
            return std::nullopt;
        }
        detail::throw_errno(err, describe(fd, operation));
    }
}

/// Receive one datagram, waiting for it if need be. `out` empty: into a buffer of `max`
/// bytes, the result being a `datagram` or a `std::string`; else into `out`, the result
/// being a `datagram_info` or its size.
template <class Result>
task<Result> receive(std::shared_ptr<datagram_state> st, std::span<char> out, std::size_t max,
                     const char* operation) {
    constexpr bool want_sender =
        std::is_same_v<Result, datagram> || std::is_same_v<Result, datagram_info>;
    constexpr bool want_string =
        std::is_same_v<Result, datagram> || std::is_same_v<Result, std::string>;
    mutex_guard turn = co_await st->receivers.lock();
    event_loop& loop = get_running_loop();
    for (;;) {
        const int fd = st->open_fd(operation);
        if constexpr (want_string) {
            std::string data;
            std::span<char> buffer;
            if (max <= scratch_limit) {
                buffer = scratch(max);
            } else {
                data.resize(max);
                buffer = std::span<char>(data.data(), data.size());
            }
            std::optional<datagram_info> info = receive_once(fd, buffer, want_sender, operation);
            if (info) {
                if (max <= scratch_limit) {
                    data.assign(buffer.data(), info->size);
                } else {
                    data.resize(info->size);
                }
                if constexpr (std::is_same_v<Result, datagram>) {
                    datagram result;
                    result.data = std::move(data);
                    result.from = info->from;
                    result.truncated = info->truncated;
                    co_return result;
                } else {
                    co_return data;
                }
            }
        } else {
            std::optional<datagram_info> info = receive_once(fd, out, want_sender, operation);
            if (info) {
                if constexpr (std::is_same_v<Result, datagram_info>) {
                    co_return *info;
                } else {
                    co_return info->size;
                }
            }
        }
        co_await detail::wait_fd(loop, fd, true);
    }
}

/// Until `fd` is writable (or the wait is cancelled: see send_datagram).
task<> wait_writable(event_loop& loop, int fd) {
    co_await detail::wait_fd(loop, fd, false);
}

/// How often a Unix datagram sent to an address retries while the receiver's queue is full:
/// from the first value, doubling up to the second.
constexpr clock::duration unix_retry_first = std::chrono::milliseconds(1);
constexpr clock::duration unix_retry_most = std::chrono::milliseconds(50);

/// Send one datagram to `to` (or the connected peer if `to` is empty), waiting for room.
task<std::size_t> send_datagram(std::shared_ptr<datagram_state> st, const char* data,
                                std::size_t size, socket_address to, const char* operation) {
    mutex_guard turn = co_await st->senders.lock();
    event_loop& loop = get_running_loop();
    clock::duration retry = unix_retry_first;
    for (;;) {
        const int fd = st->open_fd(operation);
        const ssize_t n = to.empty() ? ::send(fd, data, size, MSG_NOSIGNAL)
                                     : ::sendto(fd, data, size, MSG_NOSIGNAL, to.data(), to.size());
        if (n >= 0) {
            co_return static_cast<std::size_t>(n);
        }
        const int err = errno;
        if (err == EINTR) {
            continue;
        }
        if (err != EAGAIN && err != EWOULDBLOCK) {
            if (to.empty()) {
                detail::throw_errno(err, describe(fd, operation));
            }
            detail::throw_errno(err, std::string(operation) + " " + to.to_string());
        }
        if (st->family() == AF_UNIX && !to.empty()) {
            // The receiver's queue is full (or our send buffer): the kernel wakes a sender
            // waiting for the first only if it is connected to that receiver, so poll too.
            co_await move_on_after(retry, wait_writable(loop, fd));
            retry = std::min(retry * 2, unix_retry_most);
        } else {
            co_await detail::wait_fd(loop, fd, false);
        }
    }
}

const char* bytes_of(std::span<const std::byte> data) noexcept {
    return reinterpret_cast<const char*>(data.data());
}

} // namespace

// --- construction ------------------------------------------------------------------------

datagram_socket::datagram_socket() noexcept = default;

datagram_socket::datagram_socket(int family) {
    if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) {
        throw std::invalid_argument("datagram_socket: family " + std::to_string(family) +
                                    " is not AF_INET, AF_INET6 or AF_UNIX");
    }
    detail::unique_fd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        detail::throw_errno(errno,
                            std::string("datagram_socket: socket(") + family_name(family) + ")");
    }
    m_state = std::make_shared<datagram_state>(std::move(fd), family);
}

datagram_socket datagram_socket::from_fd(int fd) {
    int type = 0;
    int domain = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM) {
        throw std::invalid_argument("datagram_socket::from_fd: fd " + std::to_string(fd) +
                                    " is not a datagram socket");
    }
    len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
        throw std::invalid_argument("datagram_socket::from_fd: fd " + std::to_string(fd) +
                                    " has no address family");
    }
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        detail::throw_errno(errno, "datagram_socket::from_fd: fcntl");
    }
    datagram_socket sock;
    sock.m_state = std::make_shared<datagram_state>(detail::unique_fd(fd), domain);
    return sock;
}

datagram_socket::datagram_socket(datagram_socket&& other) noexcept = default;

datagram_socket& datagram_socket::operator=(datagram_socket&& other) noexcept {
    if (this != &other) {
        close();
        m_state = std::move(other.m_state);
    }
    return *this;
}

datagram_socket::~datagram_socket() {
    close();
}

detail::datagram_state& datagram_socket::state(const char* operation) const {
    if (!m_state) {
        throw invalid_state_error(std::string("datagram_socket.") + operation +
                                  ": the socket holds nothing (default-constructed or moved "
                                  "from)");
    }
    return *m_state;
}

// --- addresses ---------------------------------------------------------------------------

void datagram_socket::bind(const socket_address& address) {
    datagram_state& st = state("bind");
    check_family(st, address, "bind");
    const int fd = st.open_fd("bind");
    if (::bind(fd, address.data(), address.size()) != 0) {
        detail::throw_errno(errno, "bind " + address.to_string());
    }
}

void datagram_socket::bind(std::string_view host, std::uint16_t port) {
    bind(socket_address::from_ip(host, port));
}

void datagram_socket::connect(const socket_address& address) {
    datagram_state& st = state("connect");
    if (!address.empty()) {
        check_family(st, address, "connect");
    }
    const int fd = st.open_fd("connect");
    if (address.empty()) {
        sockaddr unspec{};
        unspec.sa_family = AF_UNSPEC;
        if (::connect(fd, &unspec, sizeof unspec) != 0) {
            detail::throw_errno(errno, "connect (dissolve)");
        }
        return;
    }
    // Non-blocking: a datagram connect completes at once (no EINPROGRESS).
    if (::connect(fd, address.data(), address.size()) != 0) {
        detail::throw_errno(errno, "connect " + address.to_string());
    }
}

void datagram_socket::connect(std::string_view host, std::uint16_t port) {
    connect(socket_address::from_ip(host, port));
}

socket_address datagram_socket::local_address() const {
    const datagram_state& st = state("local_address");
    return st.is_open() ? socket_address::local_of(st.fd()) : socket_address();
}

socket_address datagram_socket::peer_address() const {
    const datagram_state& st = state("peer_address");
    return st.is_open() ? socket_address::peer_of(st.fd()) : socket_address();
}

// --- sending -----------------------------------------------------------------------------

task<std::size_t> datagram_socket::send_to(std::string_view data, socket_address to) {
    datagram_state& st = state("send_to");
    if (to.empty()) {
        throw std::invalid_argument("send_to: empty destination address");
    }
    check_family(st, to, "send_to");
    return send_datagram(m_state, data.data(), data.size(), std::move(to), "send_to");
}

task<std::size_t> datagram_socket::send_to(std::span<const std::byte> data, socket_address to) {
    return send_to(std::string_view(bytes_of(data), data.size()), std::move(to));
}

task<std::size_t> datagram_socket::send(std::string_view data) {
    state("send");
    return send_datagram(m_state, data.data(), data.size(), socket_address(), "send");
}

task<std::size_t> datagram_socket::send(std::span<const std::byte> data) {
    return send(std::string_view(bytes_of(data), data.size()));
}

// --- receiving ---------------------------------------------------------------------------

task<datagram> datagram_socket::recv_from(std::size_t max) {
    state("recv_from");
    if (max == 0) {
        throw std::invalid_argument("recv_from: max must be at least 1");
    }
    return receive<datagram>(m_state, {}, max, "recv_from");
}

task<std::string> datagram_socket::recv(std::size_t max) {
    state("recv");
    if (max == 0) {
        throw std::invalid_argument("recv: max must be at least 1");
    }
    return receive<std::string>(m_state, {}, max, "recv");
}

task<std::size_t> datagram_socket::recv_into(std::span<char> out) {
    state("recv_into");
    if (out.empty()) {
        throw std::invalid_argument("recv_into: empty buffer");
    }
    return receive<std::size_t>(m_state, out, out.size(), "recv_into");
}

task<datagram_info> datagram_socket::recv_from_into(std::span<char> out) {
    state("recv_from_into");
    if (out.empty()) {
        throw std::invalid_argument("recv_from_into: empty buffer");
    }
    return receive<datagram_info>(m_state, out, out.size(), "recv_from_into");
}

// --- closing -----------------------------------------------------------------------------

void datagram_socket::close() noexcept {
    if (m_state) {
        m_state->close();
    }
}

bool datagram_socket::is_open() const noexcept {
    return m_state && m_state->is_open();
}

int datagram_socket::fd() const noexcept {
    return m_state ? m_state->fd() : -1;
}

int datagram_socket::family() const noexcept {
    return m_state ? m_state->family() : AF_UNSPEC;
}

} // namespace corio
