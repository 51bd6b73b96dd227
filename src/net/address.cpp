#include "corio/net/address.hpp"

#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace corio {

socket_address::socket_address(const sockaddr* address, socklen_t size) {
    if (size > sizeof m_storage) {
        throw std::invalid_argument("socket_address: " + std::to_string(size) +
                                    " bytes do not fit in a sockaddr_storage");
    }
    if (size > 0) {
        std::memcpy(&m_storage, address, size);
    }
    m_size = size;
}

socket_address socket_address::from_ip(std::string_view host, std::uint16_t port) {
    // getaddrinfo with AI_NUMERICHOST understands scope ids ("fe80::1%lo") and never blocks.
    const std::string h(host);
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (::getaddrinfo(h.c_str(), service.c_str(), &hints, &res) != 0 || res == nullptr) {
        throw std::invalid_argument("socket_address: '" + h + "' is not a numeric IP address");
    }
    socket_address a(res->ai_addr, res->ai_addrlen);
    ::freeaddrinfo(res);
    return a;
}

socket_address socket_address::from_unix_path(std::string_view path) {
    sockaddr_un un{};
    if (path.empty()) {
        throw std::invalid_argument("socket_address: empty Unix socket path");
    }
    if (path.size() >= sizeof un.sun_path) {
        throw std::invalid_argument("socket_address: Unix socket path too long (" +
                                    std::to_string(path.size()) + " bytes, at most " +
                                    std::to_string(sizeof un.sun_path - 1) +
                                    "): " + std::string(path));
    }
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path.data(), path.size());
    if (path[0] == '@') {
        un.sun_path[0] = '\0'; // abstract namespace: no terminating NUL counted
        return {reinterpret_cast<const sockaddr*>(&un),
                static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size())};
    }
    return {reinterpret_cast<const sockaddr*>(&un),
            static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1)};
}

std::uint16_t socket_address::port() const noexcept {
    switch (family()) {
    case AF_INET:
        return ntohs(reinterpret_cast<const sockaddr_in*>(&m_storage)->sin_port);
    case AF_INET6:
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&m_storage)->sin6_port);
    default:
        return 0;
    }
}

std::string socket_address::host() const {
    switch (family()) {
    case AF_INET:
    case AF_INET6: {
        char buf[NI_MAXHOST];
        if (::getnameinfo(data(), m_size, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) != 0) {
            return {};
        }
        return buf;
    }
    case AF_UNIX: {
        const auto* un = reinterpret_cast<const sockaddr_un*>(&m_storage);
        const auto offset = offsetof(sockaddr_un, sun_path);
        if (m_size <= offset) {
            return {}; // unnamed (the client end of a connection)
        }
        std::size_t len = m_size - offset;
        if (un->sun_path[0] == '\0') {
            std::string name("@");
            name.append(un->sun_path + 1, len - 1);
            return name;
        }
        return std::string(un->sun_path, ::strnlen(un->sun_path, len));
    }
    default:
        return {};
    }
}

std::string socket_address::to_string() const {
    switch (family()) {
    case AF_INET:
        return host() + ":" + std::to_string(port());
    case AF_INET6:
        return std::string("[").append(host()).append("]:").append(std::to_string(port()));
    default:
        return host();
    }
}

socket_address socket_address::local_of(int fd) {
    socket_address a;
    socklen_t len = capacity();
    if (::getsockname(fd, a.data(), &len) == 0) {
        a.resize(len);
    }
    return a;
}

socket_address socket_address::peer_of(int fd) {
    socket_address a;
    socklen_t len = capacity();
    if (::getpeername(fd, a.data(), &len) == 0) {
        a.resize(len);
    }
    return a;
}

bool operator==(const socket_address& a, const socket_address& b) noexcept {
    return a.m_size == b.m_size && std::memcmp(&a.m_storage, &b.m_storage, a.m_size) == 0;
}

} // namespace corio
