#pragma once
// Socket helpers shared by the connecting side (connect.cpp) and the servers (tcp.cpp).

#include "corio/detail/io.hpp"
#include "corio/net/address.hpp"

#include <cerrno>
#include <string>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace corio::detail {

/// A new non-blocking, close-on-exec stream socket of `family`. \throws std::system_error
/// naming `operation` and `address`.
inline unique_fd open_socket(int family, const socket_address& address, const char* operation) {
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw_errno(errno, std::string(operation) + " " + address.to_string());
    }
    return unique_fd(fd);
}

/// TCP_NODELAY on a new connection; best effort (as asyncio, a failure is not an error).
inline void set_nodelay(int fd) noexcept {
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

} // namespace corio::detail
