#pragma once
/// \file
/// `corio::getaddrinfo`: name resolution that never blocks the loop.
///
/// A numeric host ("127.0.0.1", "::1") is converted at once; any other name is resolved by
/// the system's getaddrinfo(3) on the loop's default executor (a thread), so /etc/hosts,
/// nsswitch and the resolver configuration apply exactly as for every other program on
/// the machine.

#include "corio/net/address.hpp"
#include "corio/task.hpp"

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include <netdb.h>
#include <sys/socket.h>

namespace corio {

/// One result of `getaddrinfo`.
struct address_info {
    int family = AF_UNSPEC;
    int socktype = 0;
    int protocol = 0;
    socket_address address;
    /// The canonical name, when asked for with AI_CANONNAME (first result only).
    std::string canonical_name;
};

/// What to ask `getaddrinfo` for (the fields of `struct addrinfo` hints).
struct address_hints {
    int family = AF_UNSPEC;
    int socktype = SOCK_STREAM;
    int protocol = 0;
    int flags = 0;
};

/// The category of getaddrinfo's EAI_* error codes (`gai_strerror`).
const std::error_category& gai_category() noexcept;

/// Resolve `host` and `port`. An empty `host` means the loopback address (or, with
/// AI_PASSIVE in the hints, every local address). Cancellable (a resolution already
/// running in its thread finishes there and is dropped).
/// \throws std::system_error with `gai_category()` ("getaddrinfo example.invalid:80: Name
/// or service not known"); for EAI_SYSTEM the errno in the generic category.
task<std::vector<address_info>> getaddrinfo(std::string host, std::uint16_t port,
                                            address_hints hints = {});

} // namespace corio
