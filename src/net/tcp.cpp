// TCP and Unix stream servers: start_server and start_unix_server, their accept loops and
// connection handlers (the connecting side is in connect.cpp).

#include "corio/net/tcp.hpp"

#include "listeners.hpp"
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
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <unordered_map>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace corio {

namespace detail {

namespace {

void set_int_option(int fd, int level, int name, int value, const char* what,
                    const socket_address& address) {
    if (::setsockopt(fd, level, name, &value, sizeof value) < 0) {
        throw_errno(errno, std::string("setsockopt ") + what + " " + address.to_string());
    }
}

} // namespace

// --- servers ---------------------------------------------------------------------------

/// A server's state. Owned by its `server` handles and by the tasks working for it: each
/// accept task and each connection handler holds a reference from its creation (a frame
/// parameter, not a local taken at its first step: a task that never runs its body must
/// keep the state alive too, and one dropped unrun must let it go). So a serving server
/// whose handles are all dropped goes on serving, as asyncio's does, until it is closed or
/// its loop cancels its tasks; one that is not serving is closed with its last handle.
/// The state's handles on those tasks are dropped when each task completes (completion
/// listeners), which breaks the reference cycle.
class server_state {
public:
    /// The task accepting on one listening socket.
    struct acceptor {
        join_handle<> handle;
        completion_listener listener;
        acceptor() = default;
        acceptor(const acceptor&) = delete;
        acceptor& operator=(const acceptor&) = delete;
        ~acceptor() { listener.unlink(); }
        static void on_complete(completion_listener& l) noexcept {
            // The loop still holds its reference: the task outlives this.
            static_cast<acceptor*>(l.context)->handle = join_handle<>();
        }
    };
    struct listener {
        unique_fd fd;
        socket_address address;
        std::unique_ptr<acceptor> accepting;
    };

    server_state(event_loop& loop, connection_handler handler, server_options options)
        : loop(&loop), handler(std::move(handler)), options(options),
          completion_accept(loop.supports_io_ops()) {
        this->options.tls = {}; // good only during start_server's call: `tls` has it
    }
    server_state(const server_state&) = delete;
    server_state& operator=(const server_state&) = delete;
    ~server_state() {
        for (listener& l : listeners) {
            close_fd(l.fd.release(), loop);
        }
        if (!unix_path.empty() && unix_path[0] != '@' && !closed) {
            ::unlink(unix_path.c_str());
        }
    }

    void start_serving(const std::shared_ptr<server_state>& self);
    /// Stop listening (the sockets close; a Unix socket's path is unlinked).
    void stop_listening();
    static void add_shutdown_hook(const server& srv, std::function<void()> hook);
    /// Begin a graceful shutdown: stop listening, run the shutdown hooks (once).
    void begin_shutdown();
    /// Stop listening and cancel every connection handler.
    void close();
    static task<> accept_loop(std::shared_ptr<server_state> self, std::size_t index);
    static task<> run_handler(std::shared_ptr<server_state> self, stream s, std::string peer);
    void on_handler_done(std::uint64_t id) noexcept {
        handlers.erase(id);
        if (closed && handlers.empty()) {
            closed_waiters.wake_all();
        }
    }

    /// A running connection handler. Its end is observed through a completion listener on
    /// the task, not by code in the task: a handler cancelled before its first step (the
    /// server closed right after accepting) never runs its body.
    struct handler_entry {
        join_handle<> handle;
        completion_listener listener;
        server_state* server = nullptr;
        std::uint64_t id = 0;
        handler_entry() = default;
        handler_entry(const handler_entry&) = delete;
        handler_entry& operator=(const handler_entry&) = delete;
        ~handler_entry() { listener.unlink(); }
        static void on_complete(completion_listener& l) noexcept {
            auto* e = static_cast<handler_entry*>(l.context);
            e->server->on_handler_done(e->id); // destroys *e
        }
    };

    /// A handle to the server `self` (server's constructor is private to this class).
    static server handle(std::shared_ptr<server_state> self) noexcept {
        return server(std::move(self));
    }

    event_loop* loop;
    connection_handler handler;
    server_options options;
    /// The server context of a TLS server, else empty.
    tls_context tls;
    /// Accept through completion-based operations (io_uring), not accept4 after readiness.
    bool completion_accept;
    std::vector<listener> listeners;
    std::string unix_path;
    std::unordered_map<std::uint64_t, std::unique_ptr<handler_entry>> handlers;
    std::uint64_t next_handler = 0;
    bool serving = false;
    bool closed = false;
    /// Its listening sockets are kept by a run_workers supervisor (listener_from_supervisor).
    bool kept = false;
    /// shutdown() has begun: the hooks ran.
    bool shutting_down = false;
    /// Run once when shutdown() begins (the HTTP layer closes idle connections with them).
    std::vector<std::function<void()>> shutdown_hooks;
    wait_queue closed_waiters{"a server to close"};
};

void server_state::start_serving(const std::shared_ptr<server_state>& self) {
    if (serving || closed) {
        return;
    }
    serving = true;
    for (std::size_t i = 0; i < listeners.size(); ++i) {
        auto a = std::make_unique<acceptor>();
        a->handle = spawn_on(*loop, accept_loop(self, i), "corio.server.accept");
        a->listener.on_complete = &acceptor::on_complete;
        a->listener.context = a.get();
        a->handle.state_ptr()->add_listener(a->listener);
        listeners[i].accepting = std::move(a);
    }
}

void server_state::stop_listening() {
    if (closed) {
        return;
    }
    closed = true;
    serving = false;
    for (listener& l : listeners) {
        close_fd(l.fd.release(), loop); // wakes an acceptor waiting on it
        if (l.accepting != nullptr && l.accepting->handle.valid() && !l.accepting->handle.done()) {
            l.accepting->handle.cancel(); // one sleeping after EMFILE
        }
    }
    if (!unix_path.empty() && unix_path[0] != '@') {
        ::unlink(unix_path.c_str());
    }
    if (handlers.empty()) {
        closed_waiters.wake_all();
    }
}

void server_state::begin_shutdown() {
    stop_listening();
    if (shutting_down) {
        return;
    }
    shutting_down = true;
    // A copy: a hook may end connections, whose end must not disturb the iteration.
    const std::vector<std::function<void()>> hooks = shutdown_hooks;
    for (const std::function<void()>& hook : hooks) {
        hook();
    }
}

void server_state::close() {
    stop_listening();
    // Copies: a handler that finishes during cancel() must not invalidate the iteration.
    std::vector<join_handle<>> running;
    running.reserve(handlers.size());
    for (auto& [id, h] : handlers) {
        running.push_back(h->handle);
    }
    for (auto& h : running) {
        h.cancel();
    }
    if (handlers.empty()) {
        closed_waiters.wake_all();
    }
}

task<> server_state::run_handler(std::shared_ptr<server_state> self, stream s, std::string peer) {
    try {
        if (self->tls) {
            try {
                co_await s.start_tls(self->tls,
                                     {.handshake_timeout = self->options.tls_handshake_timeout});
            } catch (const std::exception&) {
                // The peer's doing (a scanner, an untrusting client, a stall): its
                // connection ends here, and only debug mode says so (asyncio's rule).
                if (self->loop->get_debug()) {
                    self->loop->call_exception_handler(
                        {"tls handshake failed for " + peer, std::current_exception(), {}});
                }
                co_return;
            }
        }
        co_await self->handler(std::move(s));
    } catch (const cancelled_error&) {
        throw;
    } catch (...) {
        self->loop->call_exception_handler(
            {"connection handler failed for " + peer, std::current_exception(), {}});
    }
}

task<> server_state::accept_loop(std::shared_ptr<server_state> self, std::size_t index) {
    server_state& server = *self;
    auto& listeners = server.listeners;
    auto& options = server.options;
    const bool& closed = server.closed;
    event_loop* const loop = server.loop;
    const int family = listeners[index].address.family();
    const std::string unix_name = "unix:" + listeners[index].address.to_string();
    while (!closed) {
        const int lfd = listeners[index].fd.get();
        socket_address peer;
        socklen_t len = socket_address::capacity();
        int fd = -1;
        int err = 0;
        if (server.completion_accept) {
            io_op op;
            op.op = io_op::kind::accept;
            op.fd = lfd;
            op.address = peer.data();
            op.address_size = &len;
            io_await accepting(*loop, op);
            fd = co_await accepting;
            err = fd < 0 ? -fd : 0;
        } else {
            fd = ::accept4(lfd, peer.data(), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            err = fd < 0 ? errno : 0;
        }
        if (fd >= 0) {
            peer.resize(len);
            if (family != AF_UNIX && options.nodelay) {
                set_nodelay(fd);
            }
            std::string name = family == AF_UNIX ? unix_name : peer.to_string();
            stream s = adopt_socket(fd, name, options.limit, peer);
            auto entry = std::make_unique<handler_entry>();
            entry->server = &server;
            entry->id = server.next_handler++;
            entry->listener.on_complete = &handler_entry::on_complete;
            entry->listener.context = entry.get();
            entry->handle = spawn_on(*loop, run_handler(self, std::move(s), std::move(name)));
            entry->handle.state_ptr()->add_listener(entry->listener);
            const std::uint64_t id = entry->id;
            server.handlers.emplace(id, std::move(entry));
            continue;
        }
        switch (err) {
        case EAGAIN:
            co_await wait_fd(*loop, lfd, true);
            break;
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
            break; // the connection is gone (or refused by a firewall); take the next one
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM: {
            // Out of fds or memory: leave the connections in the backlog and retry later,
            // instead of spinning on a listener that stays readable (asyncio does this).
            const auto err_ptr = std::make_exception_ptr(std::system_error(
                err, std::generic_category(), "accept " + listeners[index].address.to_string()));
            loop->call_exception_handler(
                {"accept failed; retrying in " +
                     std::to_string(
                         std::chrono::duration<double>(options.accept_retry_delay).count()) +
                     " s",
                 err_ptr,
                 {}});
            co_await sleep(options.accept_retry_delay);
            break;
        }
        default: {
            if (closed) {
                co_return; // EBADF/EINVAL: closed under us
            }
            const auto err_ptr = std::make_exception_ptr(std::system_error(
                err, std::generic_category(), "accept " + listeners[index].address.to_string()));
            loop->call_exception_handler({"accept failed", err_ptr, {}});
            co_await sleep(options.accept_retry_delay);
            break;
        }
        }
    }
}

namespace {

/// The kernel's limit on listen backlogs (net.core.somaxconn), else SOMAXCONN.
int kernel_somaxconn() noexcept {
    std::FILE* f = std::fopen("/proc/sys/net/core/somaxconn", "re");
    if (f == nullptr) {
        return SOMAXCONN;
    }
    long value = 0;
    const bool ok = std::fscanf(f, "%ld", &value) == 1;
    std::fclose(f);
    if (!ok || value <= 0) {
        return SOMAXCONN;
    }
    return static_cast<int>(std::min<long>(value, std::numeric_limits<int>::max()));
}

} // namespace

unique_fd open_listener(const listen_request& request) {
    const socket_address& address = request.address;
    const int family = address.family();
    if (family == AF_UNIX) {
        const std::string path = address.host();
        if (!path.empty() && path[0] != '@') {
            // Replace a stale socket file left by a previous run (asyncio does the same);
            // anything else at that path is left alone and bind reports it.
            struct stat st {};
            if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
                ::unlink(path.c_str());
            }
        }
    }
    unique_fd fd = open_socket(family, address, "socket");
    if (family != AF_UNIX) {
        if (request.reuse_address) {
            set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", address);
        }
        if (request.reuse_port) {
            set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT", address);
        }
        if (family == AF_INET6) {
            // [::] and 0.0.0.0 are bound separately, as asyncio does.
            set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY", address);
        }
    }
    if (::bind(fd.get(), address.data(), address.size()) < 0) {
        throw_errno(errno, "bind " + address.to_string());
    }
    if (::listen(fd.get(), request.backlog) < 0) {
        throw_errno(errno, "listen " + address.to_string());
    }
    return fd;
}

namespace {

/// Bind and listen on each address (port 0: the first picks, the others follow it).
std::shared_ptr<server_state> make_server(connection_handler handler,
                                          std::vector<socket_address> addresses,
                                          const server_options& options, tls_context tls) {
    if (!handler) {
        throw std::invalid_argument("start_server: empty connection handler");
    }
    if (tls && !tls.is_server()) {
        throw std::invalid_argument(
            "start_server: options.tls is a client context (make it with tls_context::server)");
    }
    if (options.backlog && *options.backlog < 0) {
        throw std::invalid_argument("start_server: backlog " + std::to_string(*options.backlog) +
                                    " is negative");
    }
    const int backlog = options.backlog ? *options.backlog : kernel_somaxconn();
    auto state = std::make_shared<server_state>(get_running_loop(), std::move(handler), options);
    state->tls = std::move(tls);
    std::uint16_t chosen_port = 0;
    for (socket_address& address : addresses) {
        const int family = address.family();
        if (family != AF_UNIX && chosen_port != 0 && address.port() == 0) {
            address = socket_address::from_ip(address.host(), chosen_port);
        }
        const listen_request request{address, options.reuse_address, options.reuse_port, backlog};
        std::optional<kept_listener> kept = listener_from_supervisor(request);
        if (kept) {
            state->kept = true; // the supervisor's socket: its Unix path is the supervisor's
        }
        unique_fd fd = kept ? std::move(kept->fd) : open_listener(request);
        socket_address bound = socket_address::local_of(fd.get());
        if (family != AF_UNIX && chosen_port == 0) {
            chosen_port = bound.port();
        }
        state->listeners.push_back({std::move(fd), family == AF_UNIX ? address : bound, {}});
    }
    if (options.start_serving) {
        state->start_serving(state);
    }
    return state;
}

} // namespace

} // namespace detail

// --- server ----------------------------------------------------------------------------

server::server(const server&) noexcept = default;
server::server(server&&) noexcept = default;
server& server::operator=(const server&) noexcept = default;
server& server::operator=(server&&) noexcept = default;
server::~server() = default;
server::server(std::shared_ptr<detail::server_state> state) noexcept : m_state(std::move(state)) {}

detail::server_state& server::state(const char* operation) const {
    if (!m_state) {
        throw invalid_state_error(std::string(operation) +
                                  ": empty server (default-constructed or moved-from)");
    }
    return *m_state;
}

std::uint16_t server::port() const {
    const auto& s = state("port");
    return s.listeners.empty() ? 0 : s.listeners.front().address.port();
}

std::vector<socket_address> server::addresses() const {
    std::vector<socket_address> out;
    for (const auto& l : state("addresses").listeners) {
        out.push_back(l.address);
    }
    return out;
}

bool server::is_serving() const {
    return state("is_serving").serving;
}

void server::start_serving() {
    auto& s = state("start_serving");
    if (s.closed) {
        throw invalid_state_error("start_serving: server is closed");
    }
    s.start_serving(m_state);
}

task<> server::serve_forever() {
    std::shared_ptr<detail::server_state> s = m_state;
    if (!s) {
        throw invalid_state_error("serve_forever: empty server (default-constructed or "
                                  "moved-from)");
    }
    if (s->closed) {
        throw invalid_state_error("serve_forever: server is closed");
    }
    s->start_serving(s);
    try {
        while (!s->closed) {
            co_await detail::queue_wait(s->closed_waiters);
        }
        co_return;
    } catch (const cancelled_error&) {
        if (s->options.grace_period <= clock::duration::zero()) {
            s->close();
            throw;
        }
    }
    // Cancelled, with a grace period: the connections get it to end by themselves.
    co_await shield(server(s).shutdown(s->options.grace_period));
    throw cancelled_error{};
}

void server::close() {
    state("close").close();
}

task<> server::shutdown(clock::duration grace) {
    std::shared_ptr<detail::server_state> s = m_state;
    if (!s) {
        throw invalid_state_error("shutdown: empty server (default-constructed or moved-from)");
    }
    s->begin_shutdown();
    bool cancelled = false;
    if (!s->handlers.empty() && grace > clock::duration::zero()) {
        try {
            co_await move_on_after(grace, server(s).wait_closed());
        } catch (const cancelled_error&) {
            cancelled = true; // (no co_await inside a catch block)
        }
    }
    s->close(); // what is still running after the grace period is cancelled
    if (cancelled) {
        throw cancelled_error{};
    }
    co_await server(s).wait_closed();
}

task<> server::wait_closed() {
    std::shared_ptr<detail::server_state> s = m_state;
    if (!s) {
        throw invalid_state_error("wait_closed: empty server (default-constructed or "
                                  "moved-from)");
    }
    while (!s->closed || !s->handlers.empty()) {
        co_await detail::queue_wait(s->closed_waiters);
    }
}

void detail::on_server_shutdown(const server& srv, std::function<void()> hook) {
    server_state::add_shutdown_hook(srv, std::move(hook));
}

void detail::server_state::add_shutdown_hook(const server& srv, std::function<void()> hook) {
    server_state& s = srv.state("on_server_shutdown");
    if (s.shutting_down) {
        hook();
        return;
    }
    s.shutdown_hooks.push_back(std::move(hook));
}

std::size_t server::active_connections() const {
    return state("active_connections").handlers.size();
}

// --- entry points ----------------------------------------------------------------------
namespace detail {
namespace {

task<server> start_server_impl(connection_handler handler, std::string host, std::uint16_t port,
                               server_options options, tls_context tls) {
    address_hints hints;
    hints.socktype = SOCK_STREAM;
    hints.flags = AI_PASSIVE;
    std::vector<address_info> infos = co_await getaddrinfo(host, port, hints);
    std::vector<socket_address> addresses;
    for (const address_info& i : infos) {
        if (std::find(addresses.begin(), addresses.end(), i.address) == addresses.end()) {
            addresses.push_back(i.address);
        }
    }
    auto state = make_server(std::move(handler), std::move(addresses), options, std::move(tls));
    co_return server_state::handle(std::move(state));
}

task<server> start_unix_server_impl(connection_handler handler, std::string path,
                                    server_options options, tls_context tls) {
    socket_address address = socket_address::from_unix_path(path);
    auto state = make_server(std::move(handler), {address}, options, std::move(tls));
    if (!state->kept) {
        state->unix_path = path; // unlinked when the server closes
    }
    co_return server_state::handle(std::move(state));
}

/// The server context the options refer to, copied while the caller's context lives.
tls_context tls_of(const server_options& options) {
    const tls_context* ctx = options.tls.get();
    return ctx != nullptr ? *ctx : tls_context();
}

} // namespace
} // namespace detail

task<server> start_server(connection_handler handler, std::string host, std::uint16_t port,
                          server_options options) {
    tls_context tls = detail::tls_of(options);
    return detail::start_server_impl(std::move(handler), std::move(host), port, options,
                                     std::move(tls));
}

task<server> start_unix_server(connection_handler handler, std::string path,
                               server_options options) {
    tls_context tls = detail::tls_of(options);
    return detail::start_unix_server_impl(std::move(handler), std::move(path), options,
                                          std::move(tls));
}

} // namespace corio
