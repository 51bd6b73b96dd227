// The TLS transport. OpenSSL works on two memory BIOs: ciphertext from the inner transport
// goes into `rbio`, and what OpenSSL produces (handshake messages, records, alerts) comes
// out of `wbio` into `out`, which the inner transport sends.
//
// Reading: SSL_read on what has arrived; when OpenSSL needs more, more ciphertext is pulled
// from the inner transport (try_read, else its read coroutine or, for a transport that
// receives in the background, as it delivers). At most one TLS record waits in `rbio`
// beyond what a read needs, so a peer costs a bounded amount of memory whatever it sends
// (OpenSSL refuses a record over 16 KiB + 2 KiB at its header).
//
// Writing: try_write makes records of at most 64 KiB of the caller's bytes and sends them
// at once; what the inner transport does not take then is sent by a task in the
// background, and later writes wait for it. The write coroutine first sends what is still
// waiting in `out` (a write cancelled so far has taken nothing), then makes records and
// sends them before it returns. A write cancelled while its records are going out has
// taken its bytes: the records stay in `out` and go first, with the next write or at close.
// Output OpenSSL makes while reading (a TLS 1.3 key update's answer, session tickets) joins
// `out` when no write is sending it; it is needed only before this side's next record.
//
// After a TLS 1.3 handshake, corio's own record layer (tls_records.hpp) usually takes the
// connection over: ciphertext then goes to it instead of `rbio`, and the records it makes
// go to `out` (or, while a write is sending `out`, wait in its pending() buffer) instead of
// coming out of `wbio`. Everything else here stays the same.
//
// Closing: close() and shutdown_write() make close_notify and may not wait, so the task
// sending in the background, owning the connection, sends what is left (within 30 s,
// asyncio's ssl_shutdown_timeout) and then closes or shuts down the inner transport.

#include "tls_connection.hpp"

#include "corio/join_handle.hpp"

#include <arpa/inet.h>

namespace corio::detail {

namespace {

bool is_ip_address(std::string_view host) {
    const std::string h(host);
    in6_addr a6{};
    in_addr a4{};
    return ::inet_pton(AF_INET, h.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

} // namespace

namespace {

/// Sends what is left in `out` (a try_write that could not send all its records, or
/// close_notify), then closes or shuts down the inner transport if that was asked. Once
/// closing, it has tls_shutdown_timeout (asyncio's ssl_shutdown_timeout).
task<> send_in_background(std::shared_ptr<tls_transport::connection> c) {
    cancel_scope scope;
    if (c->close_requested || c->shutdown_requested) {
        scope.set_deadline(get_running_loop().time() + tls_shutdown_timeout);
    }
    c->sender_scope = &scope;
    // However the task ends (done, failed, cancelled as the loop closes, or its frame
    // destroyed before it ran), the connection no longer refers to it.
    struct ended {
        tls_transport::connection& c;
        ~ended() {
            c.sender_scope = nullptr;
            c.sending_in_background = false;
            c.sender_idle.set();
        }
    } guard{*c};
    try {
        co_await scope.run(c->send_out());
    } catch (const std::exception&) {
        c->send_error = std::current_exception();
    }
    c->finish_inner();
}

void start_sender(const std::shared_ptr<tls_transport::connection>& c) {
    c->sender_idle.clear();
    c->sending_in_background = true;
    try {
        spawn_on(*c->loop, send_in_background(c), "corio.tls.send");
    } catch (...) {
        c->sending_in_background = false; // the loop is closing: nothing more goes out
        c->sender_idle.set();
        throw;
    }
}

/// Close or shut down the inner transport once what is in `out` has gone: now if it all
/// goes at once, else when the sending task is done.
void send_then_finish(const std::shared_ptr<tls_transport::connection>& c) noexcept {
    if (c->sending_in_background) {
        if (c->sender_scope != nullptr) {
            try {
                c->sender_scope->set_deadline(c->loop->time() + tls_shutdown_timeout);
            } catch (const std::exception&) {
            }
        }
        return; // it finishes when done
    }
    bool sent = true;
    try {
        sent = c->send_out_now();
    } catch (const std::exception&) {
        sent = true; // broken: nothing more can go
    }
    if (!sent) {
        try {
            start_sender(c);
            return;
        } catch (...) {
            // the loop is closing: close without what is left
        }
    }
    c->finish_inner();
}

} // namespace

tls_transport::tls_transport(event_loop& loop, std::unique_ptr<transport>& inner,
                             const tls_context& ctx, std::string_view server_hostname,
                             std::string_view already_received)
    : m(std::make_shared<connection>(loop, ctx)) {
    connection& c = *m;
    const tls_context::state& s = *c.context;
    c.name = inner->name();
    if (!server_hostname.empty()) {
        c.name += " (" + std::string(server_hostname) + ")";
    }
    if (!s.server && s.check_hostname && server_hostname.empty()) {
        throw std::invalid_argument(
            "tls with " + c.name +
            ": the context checks the server's name, and no server_hostname was given");
    }
    clear_openssl_errors();
    c.ssl = SSL_new(s.ctx);
    c.rbio = BIO_new(BIO_s_mem());
    c.wbio = BIO_new(BIO_s_mem());
    if (c.ssl == nullptr || c.rbio == nullptr || c.wbio == nullptr) {
        BIO_free(c.rbio);
        BIO_free(c.wbio);
        std::string reason = take_openssl_reason();
        throw tls_error("tls with " + c.name + ": " + reason, reason);
    }
    BIO_set_mem_eof_return(c.rbio, -1); // empty: "retry", until the inner one ends
    SSL_set_bio(c.ssl, c.rbio, c.wbio);
    if (s.server) {
        SSL_set_accept_state(c.ssl);
    } else {
        SSL_set_connect_state(c.ssl);
        const std::string host(server_hostname);
        c.info.server_hostname = host;
        const bool ip = is_ip_address(host);
        if (!host.empty() && !ip) {
            SSL_set_tlsext_host_name(c.ssl, host.c_str()); // SNI names hosts, not addresses
        }
        if (s.check_hostname) {
            X509_VERIFY_PARAM* param = SSL_get0_param(c.ssl);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                              : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
            if (ok != 1) {
                std::string reason = take_openssl_reason();
                throw tls_error("tls with " + c.name + ": server_hostname: " + reason, reason);
            }
        }
    }
    watch_tls13_secrets(c.ssl, &c.secrets);
    if (!already_received.empty()) {
        BIO_write(c.rbio, already_received.data(), static_cast<int>(already_received.size()));
    }
    // Nothing below throws: `inner` is taken only by a constructor that succeeds.
    c.inner = std::move(inner);
    c.push = c.inner->receives_in_background();
    if (c.push) {
        // From now on what the inner transport receives comes here, including what a
        // receive paused by the layer above still delivers.
        c.receiving = c.inner->start_receive(c);
    }
}

tls_transport::~tls_transport() = default;

task<> tls_transport::handshake() {
    // The stream keeps this transport, and so the connection, while an operation runs.
    connection& c = *m;
    while (true) {
        clear_openssl_errors();
        const int r = SSL_do_handshake(c.ssl);
        const int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c.ssl, r);
        if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            tls_error failure = c.handshake_error(err);
            c.failure = failure.reason();
            // The alert OpenSSL made, so the peer learns why; best effort.
            try {
                c.send_out_now();
            } catch (const std::exception&) {
            }
            throw failure;
        }
        if (r == 1) {
            // Before what OpenSSL wrote last goes: a server's session tickets are counted.
            c.record_info();
            c.take_over_records();
        }
        if (c.has_output()) {
            co_await c.send_out();
        }
        if (r == 1) {
            break;
        }
        if (c.recv_error != 0) {
            const int e = std::exchange(c.recv_error, 0);
            throw std::system_error(e, std::system_category(), "tls handshake with " + c.name);
        }
        if (!c.pull_now(false)) {
            co_await c.pull_wait();
        }
    }
}

task<std::size_t> tls_transport::read(std::span<char> out) {
    // The stream keeps this transport, and so the connection, while an operation runs.
    connection& c = *m;
    while (true) {
        const std::ptrdiff_t n = c.decrypt(out);
        if (n >= 0) {
            co_return static_cast<std::size_t>(n);
        }
        if (!c.pull_now(false)) {
            co_await c.pull_wait();
        }
    }
}

std::ptrdiff_t tls_transport::try_read(std::span<char> out) {
    while (true) {
        const std::ptrdiff_t n = m->decrypt(out);
        if (n != would_block || !m->pull_now(false)) {
            return n;
        }
    }
}

std::ptrdiff_t tls_transport::read_arrived(std::span<char> out) {
    while (true) {
        const std::ptrdiff_t n = m->decrypt(out);
        if (n != would_block || !m->pull_now(true)) {
            return n;
        }
    }
}

int tls_transport::readable_fd() const noexcept {
    return m->push || m->read_shut ? -1 : m->inner->readable_fd();
}

/// The peer's close_notify has arrived and no data is ahead of it: what has arrived is
/// taken from the inner transport and looked at (SSL_peek), nothing is consumed.
bool tls_transport::eof_arrived() noexcept {
    connection& c = *m;
    if (c.read_shut || c.closed || !c.failure.empty() || !c.handshaken) {
        return false;
    }
    try {
        for (int i = 0; i < 8 && c.queued_input() < tls_max_queued_ciphertext && c.pull_now(true);
             ++i) {
        }
    } catch (const std::exception&) {
        return false; // the next read reports it
    }
    if (c.records) {
        bool ended = false;
        try {
            ended = c.records->end_is_next();
            c.collect_output();
        } catch (const std::exception&) {
            // the next read reports it
        }
        return ended;
    }
    clear_openssl_errors();
    char byte = 0;
    std::size_t n = 0;
    const int r = SSL_peek_ex(c.ssl, &byte, 1, &n);
    const bool ended = r != 1 && SSL_get_error(c.ssl, r) == SSL_ERROR_ZERO_RETURN;
    clear_openssl_errors();
    c.collect_output();
    return ended;
}

task<std::size_t> tls_transport::write(std::span<const char> data) {
    // The stream keeps this transport, and so the connection, while an operation runs.
    connection& c = *m;
    // What earlier writes left goes first; nothing of `data` is taken yet.
    while (c.sending_in_background) {
        co_await c.sender_idle.wait();
    }
    c.rethrow_send_error();
    co_await c.send_out();
    const std::size_t n = c.encrypt(data);
    co_await c.send_out();
    co_return n;
}

std::ptrdiff_t tls_transport::try_write(std::span<const char> data) {
    connection& c = *m;
    if (c.sending_in_background || c.writing) {
        return would_block;
    }
    c.rethrow_send_error();
    if (!c.send_out_now()) {
        return would_block; // earlier records still wait: `data` is not taken
    }
    const std::size_t n = c.encrypt(data);
    if (!c.send_out_now()) {
        start_sender(m); // the records are made: they go in the background
    }
    return static_cast<std::ptrdiff_t>(n);
}

void tls_transport::shutdown_write() {
    m->make_close_notify();
    m->shutdown_requested = true;
    send_then_finish(m);
}

bool tls_transport::can_write_eof() const noexcept {
    return m->inner->can_write_eof();
}

void tls_transport::shutdown_read() noexcept {
    m->read_shut = true;
    m->inner->shutdown_read();
    m->arrived.set();
}

void tls_transport::close() noexcept {
    connection& c = *m;
    if (c.close_requested) {
        return;
    }
    c.close_requested = true;
    c.read_shut = true;
    c.arrived.set();
    try {
        c.make_close_notify();
    } catch (const std::exception&) {
        // out of memory for the alert: close without it
    }
    send_then_finish(m);
}

void tls_transport::abort() noexcept {
    connection& c = *m;
    c.close_requested = true;
    c.read_shut = true;
    c.arrived.set();
    if (!c.closed) {
        c.closed = true;
        c.inner->abort(); // wakes a task still sending close_notify
    }
}

std::string tls_transport::name() const {
    return m->name;
}

socket_address tls_transport::peer_address() const {
    return m->inner->peer_address();
}

socket_address tls_transport::local_address() const {
    return m->inner->local_address();
}

int tls_transport::fd() const noexcept {
    return m->inner->fd();
}

bool tls_transport::can_read() const noexcept {
    return m->inner->can_read();
}

bool tls_transport::can_write() const noexcept {
    return m->inner->can_write();
}

const tls_info* tls_transport::tls() const noexcept {
    return m->handshaken ? &m->info : nullptr;
}

} // namespace corio::detail
