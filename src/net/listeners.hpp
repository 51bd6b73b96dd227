#pragma once
// Listening sockets: made by start_server (tcp.cpp) in an ordinary process, and by the
// run_workers supervisor for its workers, which get them from it (src/cores/workers.cpp).

#include "corio/detail/io.hpp"
#include "corio/net/address.hpp"

#include <functional>
#include <optional>

namespace corio {
class server;
}

namespace corio::detail {

/// What a listening socket is made with (start_server's options).
struct listen_request {
    socket_address address;
    bool reuse_address = true;
    bool reuse_port = false;
    int backlog = 0;
};

/// A socket bound to `request.address` and listening: SO_REUSEADDR and SO_REUSEPORT as
/// asked (TCP), IPV6_V6ONLY for IPv6; a stale socket file at a Unix path is replaced
/// first. \throws std::system_error naming the call and the address
/// ("bind 127.0.0.1:80: Permission denied").
unique_fd open_listener(const listen_request& request);

/// A listening socket and the address it is bound to.
struct kept_listener {
    unique_fd fd;
    socket_address address;
};

/// In a run_workers worker: the socket the supervisor keeps for `request` and this worker's
/// slot (made on the first request, then the same one for every worker that takes the
/// slot's place). Empty outside workers.
/// \throws std::system_error as open_listener, or if the supervisor cannot be reached.
std::optional<kept_listener> listener_from_supervisor(const listen_request& request);

/// Run `hook` when `srv.shutdown()` begins (at once if it has begun): a protocol layer
/// (http::serve) ends its idle connections with it.
void on_server_shutdown(const server& srv, std::function<void()> hook);

} // namespace corio::detail
