#include "corio/net/tcp.hpp"

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

unique_fd open_socket(int family, const socket_address& address, const char* operation) {
    const int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw_errno(errno, std::string(operation) + " " + address.to_string());
    }
    return unique_fd(fd);
}

void set_int_option(int fd, int level, int name, int value, const char* what,
                    const socket_address& address) {
    if (::setsockopt(fd, level, name, &value, sizeof value) < 0) {
        throw_errno(errno, std::string("setsockopt ") + what + " " + address.to_string());
    }
}

/// TCP_NODELAY on a new connection; best effort (as asyncio, a failure is not an error).
void set_nodelay(int fd) noexcept {
    const int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

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
          completion_accept(loop.supports_io_ops()) {}
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

    event_loop* loop;
    connection_handler handler;
    server_options options;
    /// Accept through completion-based operations (io_uring), not accept4 after readiness.
    bool completion_accept;
    std::vector<listener> listeners;
    std::string unix_path;
    std::unordered_map<std::uint64_t, std::unique_ptr<handler_entry>> handlers;
    std::uint64_t next_handler = 0;
    bool serving = false;
    bool closed = false;
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

void server_state::close() {
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

/// Bind and listen on each address (port 0: the first picks, the others follow it).
std::shared_ptr<server_state> make_server(connection_handler handler,
                                          std::vector<socket_address> addresses,
                                          const server_options& options) {
    if (!handler) {
        throw std::invalid_argument("start_server: empty connection handler");
    }
    if (options.backlog && *options.backlog < 0) {
        throw std::invalid_argument("start_server: backlog " + std::to_string(*options.backlog) +
                                    " is negative");
    }
    const int backlog = options.backlog ? *options.backlog : kernel_somaxconn();
    auto state = std::make_shared<server_state>(get_running_loop(), std::move(handler), options);
    std::uint16_t chosen_port = 0;
    for (socket_address& address : addresses) {
        const int family = address.family();
        if (family != AF_UNIX && chosen_port != 0 && address.port() == 0) {
            address = socket_address::from_ip(address.host(), chosen_port);
        }
        unique_fd fd = open_socket(family, address, "socket");
        if (family != AF_UNIX) {
            if (options.reuse_address) {
                set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", address);
            }
            if (options.reuse_port) {
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
        if (::listen(fd.get(), backlog) < 0) {
            throw_errno(errno, "listen " + address.to_string());
        }
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
    } catch (const cancelled_error&) {
        s->close();
        throw;
    }
}

void server::close() {
    state("close").close();
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

std::size_t server::active_connections() const {
    return state("active_connections").handlers.size();
}

// --- entry points ----------------------------------------------------------------------

task<stream> open_connection(std::string host, std::uint16_t port, connect_options options) {
    address_hints hints;
    hints.family = options.family;
    hints.socktype = SOCK_STREAM;
    std::vector<address_info> infos = co_await getaddrinfo(host, port, hints);
    std::vector<socket_address> addresses = detail::interleave(infos);
    if (addresses.empty()) {
        throw std::system_error(EAI_NONAME, gai_category(),
                                "getaddrinfo " + host + ":" + std::to_string(port));
    }
    co_return co_await detail::connect_addresses(std::move(addresses), std::move(options),
                                                 host + ":" + std::to_string(port));
}

task<stream> open_connection(std::vector<socket_address> addresses, connect_options options) {
    if (addresses.empty()) {
        throw std::invalid_argument("open_connection: no address given");
    }
    std::string target = addresses.front().to_string();
    if (addresses.size() > 1) {
        target += " and " + std::to_string(addresses.size() - 1) + " more";
    }
    co_return co_await detail::connect_addresses(std::move(addresses), std::move(options),
                                                 std::move(target));
}

task<stream> open_unix_connection(std::string path, connect_options options) {
    std::vector<socket_address> addresses{socket_address::from_unix_path(path)};
    co_return co_await detail::connect_addresses(std::move(addresses), std::move(options),
                                                 std::move(path));
}

task<server> start_server(connection_handler handler, std::string host, std::uint16_t port,
                          server_options options) {
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
    co_return server(detail::make_server(std::move(handler), std::move(addresses), options));
}

task<server> start_unix_server(connection_handler handler, std::string path,
                               server_options options) {
    socket_address address = socket_address::from_unix_path(path);
    if (path[0] != '@') {
        // Replace a stale socket file left by a previous run (asyncio does the same);
        // anything else at that path is left alone and bind reports it.
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
            ::unlink(path.c_str());
        }
    }
    auto state = detail::make_server(std::move(handler), {address}, options);
    state->unix_path = path;
    co_return server(std::move(state));
}

} // namespace corio
