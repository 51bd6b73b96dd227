// The connecting side of TCP and Unix streams: open_connection and open_unix_connection,
// with Happy Eyeballs (RFC 8305) over the addresses a name resolves to.

#include "corio/net/tcp.hpp"

#include "socket_helpers.hpp"

#include "corio/cancel_scope.hpp"
#include "corio/detail/io.hpp"
#include "corio/detail/task_state.hpp"
#include "corio/join_handle.hpp"
#include "corio/net/dns.hpp"
#include "corio/sleep.hpp"
#include "corio/sync/event.hpp"

#include <algorithm>
#include <cerrno>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corio {

namespace detail {

namespace {

/// Connect a non-blocking socket to `address`, waiting for the handshake. Returns the
/// connected stream. Cancellable (the socket is closed).
task<stream> connect_one(socket_address address, std::optional<socket_address> local,
                         std::size_t limit, bool nodelay) {
    unique_fd fd = open_socket(address.family(), address, "socket");
    if (local) {
        if (::bind(fd.get(), local->data(), local->size()) < 0) {
            throw_errno(errno, "bind " + local->to_string());
        }
    }
    const std::string name =
        address.family() == AF_UNIX ? "unix:" + address.to_string() : address.to_string();
    event_loop& loop = get_running_loop();
    if (loop.supports_io_ops() && address.family() != AF_UNIX) {
        // The handshake as one completion-based operation (a Unix connect does not wait:
        // it succeeds or fails at once, below).
        io_op op;
        op.op = io_op::kind::connect;
        op.fd = fd.get();
        op.data = address.data();
        op.size = address.size();
        io_await connecting(loop, op);
        const int result = co_await connecting;
        if (result < 0) {
            throw_errno(-result, "connect " + name);
        }
        if (nodelay) {
            set_nodelay(fd.get());
        }
        co_return adopt_socket(fd.release(), name, limit, address);
    }
    int rc = 0;
    do {
        rc = ::connect(fd.get(), address.data(), address.size());
    } while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EINPROGRESS) {
        if (errno == EAGAIN && address.family() == AF_UNIX) {
            // A Unix listener with a full backlog: Linux refuses a non-blocking connect at
            // once rather than waiting, as a TCP handshake would.
            throw_errno(EAGAIN, "connect " + name);
        }
        throw_errno(errno, "connect " + name);
    }
    if (rc < 0) {
        co_await wait_fd(loop, fd.get(), false);
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
            err = errno;
        }
        if (err != 0) {
            throw_errno(err, "connect " + name);
        }
    }
    if (nodelay && address.family() != AF_UNIX) {
        set_nodelay(fd.get());
    }
    // The fd's loop registration stays: the stream waits on the same fd.
    co_return adopt_socket(fd.release(), name, limit, address);
}

/// RFC 8305 §4: alternate the address families, starting with the first one's.
std::vector<socket_address> interleave(const std::vector<address_info>& infos) {
    std::vector<socket_address> first;
    std::vector<socket_address> second;
    const int first_family = infos.empty() ? AF_UNSPEC : infos.front().family;
    for (const address_info& i : infos) {
        const bool dup = std::any_of(first.begin(), first.end(),
                                     [&](const socket_address& a) { return a == i.address; }) ||
                         std::any_of(second.begin(), second.end(),
                                     [&](const socket_address& a) { return a == i.address; });
        if (!dup) {
            (i.family == first_family ? first : second).push_back(i.address);
        }
    }
    std::vector<socket_address> out;
    for (std::size_t k = 0; k < std::max(first.size(), second.size()); ++k) {
        if (k < first.size()) {
            out.push_back(first[k]);
        }
        if (k < second.size()) {
            out.push_back(second[k]);
        }
    }
    return out;
}

/// What one connection attempt ended with.
struct attempt_result {
    stream connected;
    std::exception_ptr error;
};

/// One Happy Eyeballs attempt: never throws (but for cancellation); sets `done` at the end.
task<attempt_result> attempt(socket_address address, connect_options options,
                             std::shared_ptr<event> done) {
    attempt_result r;
    try {
        r.connected =
            co_await connect_one(address, options.local_address, options.limit, options.nodelay);
    } catch (const std::exception&) {
        r.error = std::current_exception();
    }
    done->set();
    co_return r;
}

/// Cancels the attempts still running when open_connection leaves (by winning, failing or
/// being cancelled); the attempts close their sockets as they unwind.
struct attempts_guard {
    std::vector<join_handle<attempt_result>> handles;
    attempts_guard() = default;
    attempts_guard(const attempts_guard&) = delete;
    attempts_guard& operator=(const attempts_guard&) = delete;
    ~attempts_guard() {
        for (auto& h : handles) {
            if (!h.done()) {
                h.cancel();
            }
        }
    }
};

[[noreturn]] void throw_all_failed(const std::vector<std::exception_ptr>& errors,
                                   const std::string& target) {
    if (errors.size() == 1) {
        std::rethrow_exception(errors.front());
    }
    // One error for all when they agree (asyncio does the same); else list each.
    std::string message;
    int code = 0;
    bool same = true;
    for (const auto& e : errors) {
        try {
            std::rethrow_exception(e);
        } catch (const std::system_error& x) {
            if (code == 0) {
                code = x.code().value();
            } else if (x.code().value() != code) {
                same = false;
            }
            message += message.empty() ? "" : "; ";
            message += x.what();
        } catch (const std::exception& x) {
            same = false;
            message += message.empty() ? "" : "; ";
            message += x.what();
        }
    }
    if (same) {
        std::rethrow_exception(errors.front());
    }
    throw std::system_error(code, std::generic_category(),
                            "connect " + target +
                                ": every address "
                                "failed: " +
                                message);
}

task<> wait_event(std::shared_ptr<event> e) {
    co_await e->wait();
}

task<stream> happy_eyeballs(std::vector<socket_address> addresses, connect_options options,
                            std::string target) {
    auto done = std::make_shared<event>();
    attempts_guard guard;
    std::vector<bool> collected;
    std::vector<std::exception_ptr> errors;
    std::size_t next = 0;
    const auto start_next = [&] {
        guard.handles.push_back(spawn(attempt(addresses[next++], options, done)));
        collected.push_back(false);
    };
    start_next();
    while (true) {
        done->clear();
        bool failed = false;
        for (std::size_t i = 0; i < guard.handles.size(); ++i) {
            if (collected[i] || !guard.handles[i].done()) {
                continue;
            }
            collected[i] = true;
            attempt_result r = guard.handles[i].result();
            if (r.error == nullptr) {
                co_return std::move(r.connected); // the guard cancels the others
            }
            errors.push_back(r.error);
            failed = true;
        }
        if (errors.size() == addresses.size()) {
            throw_all_failed(errors, target);
        }
        if (next == addresses.size() || options.happy_eyeballs_delay.count() <= 0) {
            if (failed && next < addresses.size()) {
                start_next();
                continue;
            }
            co_await wait_event(done);
            continue;
        }
        if (failed) {
            start_next(); // a failure starts the next address at once (RFC 8305 §5)
            continue;
        }
        if (!co_await move_on_after(options.happy_eyeballs_delay, wait_event(done))) {
            start_next(); // the delay passed with no attempt finished: race the next one too
        }
    }
}

/// Happy Eyeballs over `addresses`, within options.timeout. `target` names them all in
/// an error ("localhost:80").
task<stream> connect_addresses(std::vector<socket_address> addresses, connect_options options,
                               std::string target) {
    if (options.timeout > clock::duration::zero()) {
        bool timed_out = false;
        try {
            co_return co_await fail_after(options.timeout,
                                          happy_eyeballs(std::move(addresses), options, target));
        } catch (const timeout_error&) {
            timed_out = true; // fail_after's own deadline: an outer one gives cancelled_error
        }
        if (timed_out) {
            throw timeout_error("connect " + target + ": timed out after " +
                                format_seconds(options.timeout));
        }
    }
    co_return co_await happy_eyeballs(std::move(addresses), options, std::move(target));
}

} // namespace

} // namespace detail

namespace detail {
namespace {

/// What a connection's TLS needs, copied from the options when the call is made.
struct tls_request {
    tls_context context;
    std::string server_hostname;
    clock::duration handshake_timeout;
};

std::optional<tls_request> tls_request_of(const connect_options& options,
                                          std::string_view default_hostname) {
    const tls_context* ctx = options.tls.get();
    if (ctx == nullptr) {
        return std::nullopt;
    }
    if (ctx->is_server()) {
        throw std::invalid_argument(
            "open_connection: options.tls is a server context (make it with tls_context::client)");
    }
    std::string_view name = options.server_hostname.view();
    if (name.empty()) {
        name = default_hostname;
    }
    return tls_request{*ctx, std::string(name), options.tls_handshake_timeout};
}

/// Connect, then start TLS if asked.
task<stream> connect_then_tls(std::vector<socket_address> addresses, connect_options options,
                              std::string target, std::optional<tls_request> tls) {
    if (addresses.empty()) {
        throw std::invalid_argument("open_connection: no address given");
    }
    options.tls = {};
    options.server_hostname = {};
    stream s = co_await connect_addresses(std::move(addresses), options, std::move(target));
    if (tls) {
        co_await s.start_tls(
            std::move(tls->context),
            {.server_hostname = tls->server_hostname, .handshake_timeout = tls->handshake_timeout});
    }
    co_return s;
}

task<stream> resolve_and_connect(std::string host, std::uint16_t port, connect_options options,
                                 std::optional<tls_request> tls) {
    address_hints hints;
    hints.family = options.family;
    hints.socktype = SOCK_STREAM;
    std::vector<address_info> infos = co_await getaddrinfo(host, port, hints);
    std::vector<socket_address> addresses = interleave(infos);
    if (addresses.empty()) {
        throw std::system_error(EAI_NONAME, gai_category(),
                                "getaddrinfo " + host + ":" + std::to_string(port));
    }
    co_return co_await connect_then_tls(std::move(addresses), options,
                                        host + ":" + std::to_string(port), std::move(tls));
}

} // namespace
} // namespace detail

task<stream> open_connection(std::string host, std::uint16_t port, connect_options options) {
    auto tls = detail::tls_request_of(options, host);
    return detail::resolve_and_connect(std::move(host), port, options, std::move(tls));
}

task<stream> open_connection(std::vector<socket_address> addresses, connect_options options) {
    std::string target = addresses.empty() ? std::string() : addresses.front().to_string();
    if (addresses.size() > 1) {
        target += " and " + std::to_string(addresses.size() - 1) + " more";
    }
    auto tls = detail::tls_request_of(options, {});
    return detail::connect_then_tls(std::move(addresses), options, std::move(target),
                                    std::move(tls));
}

task<stream> open_unix_connection(std::string path, connect_options options) {
    std::vector<socket_address> addresses{socket_address::from_unix_path(path)};
    auto tls = detail::tls_request_of(options, {});
    return detail::connect_then_tls(std::move(addresses), options, std::move(path), std::move(tls));
}

} // namespace corio
