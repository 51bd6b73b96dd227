#pragma once
/// \file
/// `corio::socket_address`: an IPv4, IPv6 or Unix socket address, printable as
/// "127.0.0.1:8080", "[::1]:8080" or "/run/app.sock".

#include <cstdint>
#include <string>
#include <string_view>

#include <sys/socket.h>

namespace corio {

/// A socket address of any family (a `sockaddr_storage` and its length).
class socket_address {
public:
    /// An empty address (family AF_UNSPEC).
    socket_address() noexcept = default;
    /// Copy `size` bytes of `address`. \throws std::invalid_argument if it does not fit.
    socket_address(const sockaddr* address, socklen_t size);

    /// A numeric IPv4 or IPv6 address and a port ("127.0.0.1", "::1", "fe80::1%lo").
    /// \throws std::invalid_argument if `host` is not a numeric address.
    static socket_address from_ip(std::string_view host, std::uint16_t port);
    /// A Unix socket path; a leading '@' names an abstract socket.
    /// \throws std::invalid_argument if the path is empty or too long.
    static socket_address from_unix_path(std::string_view path);

    /// AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC when empty.
    [[nodiscard]] int family() const noexcept { return m_storage.ss_family; }
    [[nodiscard]] bool empty() const noexcept { return m_size == 0; }
    /// The port (IPv4/IPv6), 0 otherwise.
    [[nodiscard]] std::uint16_t port() const noexcept;
    /// The numeric host ("127.0.0.1", "::1") for IP, the path for Unix addresses.
    [[nodiscard]] std::string host() const;
    /// "127.0.0.1:8080", "[::1]:8080", the Unix path, or "" when empty.
    [[nodiscard]] std::string to_string() const;

    [[nodiscard]] const sockaddr* data() const noexcept {
        return reinterpret_cast<const sockaddr*>(&m_storage);
    }
    [[nodiscard]] sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&m_storage); }
    [[nodiscard]] socklen_t size() const noexcept { return m_size; }
    /// For filling by accept/recvfrom/getsockname: the room available, then `resize`.
    [[nodiscard]] static constexpr socklen_t capacity() noexcept {
        return sizeof(sockaddr_storage);
    }
    void resize(socklen_t size) noexcept { m_size = size; }

    /// The address `fd` is bound to (getsockname) / connected to (getpeername); empty if
    /// the call fails.
    static socket_address local_of(int fd);
    static socket_address peer_of(int fd);

    friend bool operator==(const socket_address& a, const socket_address& b) noexcept;

private:
    sockaddr_storage m_storage{};
    socklen_t m_size = 0;
};

} // namespace corio
