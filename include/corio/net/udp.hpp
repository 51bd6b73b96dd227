#pragma once
/// \file
/// `corio::datagram_socket`: UDP (IPv4, IPv6) and Unix datagram sockets, in the spirit of
/// Python's socket object with asyncio's `sock_sendto`/`sock_recvfrom`.
///
/// ```cpp
/// // An echo server: every datagram goes back to its sender.
/// corio::task<> echo(std::uint16_t port) {
///     auto sock = corio::datagram_socket::open(AF_INET);
///     sock.bind("127.0.0.1", port);
///     while (true) {
///         corio::datagram d = co_await sock.recv_from();
///         co_await sock.send_to(d.data, d.from);
///     }
/// }
///
/// // A client: connect() fixes the peer, so send/recv need no address.
/// corio::task<std::string> ask(std::uint16_t port) {
///     auto sock = corio::datagram_socket::open(AF_INET);
///     sock.connect("127.0.0.1", port);
///     co_await sock.send("ping");
///     co_return co_await sock.recv();
/// }
/// ```
///
/// Every operation tries the system call first and waits for the socket only when the
/// kernel has nothing to give (or no room to take), so a busy socket costs one system call
/// per datagram. Several coroutines may send, and several may receive, on one socket at the
/// same time: each datagram goes to exactly one receiver, in the order they started waiting.
/// Every suspending call is cancellable; a cancelled receive takes no datagram, a cancelled
/// send sends nothing. A socket is used from one loop (the loop that runs its first wait).
///
/// Errors are `std::system_error` with the errno, naming the operation and the address
/// concerned: "bind 127.0.0.1:80: Permission denied", "recv 127.0.0.1:9: Connection
/// refused". On a connected socket the kernel reports an ICMP "port unreachable" from the
/// peer (nobody listens there) as ECONNREFUSED on the next send or receive; an unconnected
/// socket never reports it.

#include "corio/net/address.hpp"
#include "corio/task.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <sys/socket.h>

namespace corio {

/// A datagram received by `datagram_socket::recv_from`.
struct datagram {
    /// Its bytes (at most the `max` asked for).
    std::string data;
    /// Who sent it. Empty (AF_UNSPEC) for a Unix datagram from a socket not bound to a path:
    /// it cannot be answered.
    socket_address from;
    /// True if the datagram was longer than `max`: `data` holds its first `max` bytes and
    /// the rest is lost (datagrams are never split across receives).
    bool truncated = false;
};

/// What `datagram_socket::recv_from_into` received.
struct datagram_info {
    /// How many bytes were stored (at most the buffer's size).
    std::size_t size = 0;
    /// Who sent it (as `datagram::from`).
    socket_address from;
    /// True if the datagram did not fit the buffer; the rest is lost.
    bool truncated = false;
};

namespace detail {
class datagram_state;
}

/// A datagram socket (SOCK_DGRAM): UDP over IPv4 or IPv6, or a Unix datagram socket.
/// Move-only; closed by its destructor. Copying the bytes of a datagram into a `std::string`
/// is the only allocation of `recv_from`/`recv`; `recv_into`/`recv_from_into` fill a buffer
/// of yours instead.
class datagram_socket {
public:
    /// The largest datagram `recv`/`recv_from` return whole by default (a UDP datagram
    /// carries at most 65507 bytes over IPv4).
    static constexpr std::size_t default_max_size = 65536;

    /// A socket that holds nothing; every call but the destructor, `is_open` and `fd` throws
    /// `invalid_state_error`.
    datagram_socket() noexcept;
    /// Open a datagram socket of `family` (AF_INET, AF_INET6 or AF_UNIX), non-blocking and
    /// close-on-exec. \throws std::system_error if socket(2) fails (e.g. EAFNOSUPPORT for a
    /// family the kernel lacks); std::invalid_argument for another family.
    explicit datagram_socket(int family);
    /// The same as `datagram_socket(family)`.
    static datagram_socket open(int family = AF_INET) { return datagram_socket(family); }
    /// Adopt `fd`, a datagram socket (bound, connected, or neither); it is made
    /// non-blocking and owned from then on. \throws std::invalid_argument if `fd` is not a
    /// SOCK_DGRAM socket (it is not closed then).
    static datagram_socket from_fd(int fd);

    datagram_socket(datagram_socket&& other) noexcept;
    datagram_socket& operator=(datagram_socket&& other) noexcept;
    datagram_socket(const datagram_socket&) = delete;
    datagram_socket& operator=(const datagram_socket&) = delete;
    /// Closes the socket (as `close()`).
    ~datagram_socket();

    // --- Addresses -----------------------------------------------------------------------

    /// Bind to `address` (port 0 picks a free port: see `local_address()`). A Unix socket
    /// is bound to a path that must not exist yet (and is left behind by `close`).
    /// \throws std::system_error naming the address ("bind 127.0.0.1:80: Permission
    /// denied"); std::invalid_argument if its family is not the socket's.
    void bind(const socket_address& address);
    /// Bind to a numeric IP address ("127.0.0.1", "::1", "0.0.0.0", "::") and port.
    /// \throws std::invalid_argument if `host` is not numeric; as `bind(socket_address)`.
    void bind(std::string_view host, std::uint16_t port);
    /// Set the default peer: `send` goes there, and only datagrams from it are received.
    /// Does not block (nothing is sent). Connecting again changes the peer; an AF_UNSPEC
    /// (empty) address dissolves the association. An unbound IP socket gets a local port.
    /// \throws std::system_error naming the address; std::invalid_argument if its family
    /// is not the socket's.
    void connect(const socket_address& address);
    /// Connect to a numeric IP address and port. \throws as `bind(host, port)`.
    void connect(std::string_view host, std::uint16_t port);
    /// The bound address (getsockname); empty if it fails.
    [[nodiscard]] socket_address local_address() const;
    /// The connected peer (getpeername); empty if not connected.
    [[nodiscard]] socket_address peer_address() const;

    // --- Sending -------------------------------------------------------------------------
    //
    // A datagram is sent whole or not at all: the result is always `data.size()`. The
    // bytes and address are read when the call runs (at the co_await), so they must stay
    // valid until then, as any argument of a lazy task.

    /// Send `data` as one datagram to `to`. Zero bytes make an empty datagram. Waits while
    /// the kernel has no room for it. A Unix receiver holds at most
    /// net.unix.max_dgram_qlen (10 by default) datagrams from senders not connected to it,
    /// and Linux gives such a sender no wake-up when the queue drains: `send_to` then
    /// tries again on a timer (after 1 ms, doubling up to 50 ms); `connect` to the
    /// receiver and `send` to be woken at once instead.
    /// \throws std::system_error naming `to` (EMSGSIZE: bigger than a datagram may be;
    /// ENOENT or ECONNREFUSED: no Unix socket at that path); std::invalid_argument if `to` is empty
    /// or not of the socket's family.
    task<std::size_t> send_to(std::string_view data, socket_address to);
    task<std::size_t> send_to(std::span<const std::byte> data, socket_address to);
    /// Send `data` as one datagram to the connected peer.
    /// \throws std::system_error naming the peer (ECONNREFUSED after the peer's port was
    /// found closed; EDESTADDRREQ if not connected).
    task<std::size_t> send(std::string_view data);
    task<std::size_t> send(std::span<const std::byte> data);

    // --- Receiving -----------------------------------------------------------------------

    /// The next datagram and its sender; see `datagram::truncated` for one longer than
    /// `max`. \throws std::system_error (ECONNREFUSED on a connected socket, naming the
    /// peer; EBADF "socket closed" if the socket is closed meanwhile);
    /// std::invalid_argument if `max` is 0.
    task<datagram> recv_from(std::size_t max = default_max_size);
    /// The bytes of the next datagram, cut to `max` (the rest is dropped, as recv(2) and
    /// Python's socket.recv do); for a connected socket, where the sender is known.
    /// \throws as `recv_from`.
    task<std::string> recv(std::size_t max = default_max_size);
    /// Receive the next datagram into `out`; returns the count stored (the rest of a longer
    /// datagram is dropped). Allocates nothing. \throws as `recv_from`, and
    /// std::invalid_argument if `out` is empty.
    task<std::size_t> recv_into(std::span<char> out);
    /// As `recv_into`, with the sender and whether the datagram was cut.
    task<datagram_info> recv_from_into(std::span<char> out);

    // --- Closing -------------------------------------------------------------------------

    /// Close the socket. Coroutines waiting in a send or receive wake and throw
    /// std::system_error (EBADF, "socket closed"); later calls throw the same. Idempotent.
    void close() noexcept;
    /// True until `close()` (false for a socket that holds nothing).
    [[nodiscard]] bool is_open() const noexcept;
    /// The file descriptor (-1 once closed or if it holds nothing). Still owned by the
    /// socket.
    [[nodiscard]] int fd() const noexcept;
    /// AF_INET, AF_INET6 or AF_UNIX (AF_UNSPEC if it holds nothing).
    [[nodiscard]] int family() const noexcept;

private:
    detail::datagram_state& state(const char* operation) const;

    std::shared_ptr<detail::datagram_state> m_state;
};

} // namespace corio
