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
// Closing: close() and shutdown_write() make close_notify and may not wait, so the task
// sending in the background, owning the connection, sends what is left (within 30 s,
// asyncio's ssl_shutdown_timeout) and then closes or shuts down the inner transport.

#include "tls_transport.hpp"

#include "corio/cancel_scope.hpp"
#include "corio/errors.hpp"
#include "corio/join_handle.hpp"
#include "corio/sync/event.hpp"

#include <algorithm>
#include <cerrno>
#include <system_error>

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace corio::detail {

namespace {

/// Plaintext bytes made into records per write.
constexpr std::size_t max_write_chunk = 64 * 1024;
/// Ciphertext read from the inner transport at a time.
constexpr std::size_t read_chunk = 16 * 1024 + 512;
/// Ciphertext a background receive may queue before it is paused.
constexpr std::size_t max_queued_ciphertext = 64 * 1024;
/// How long the task sending close_notify may take (asyncio's ssl_shutdown_timeout).
constexpr auto shutdown_timeout = std::chrono::seconds(30);

bool is_ip_address(std::string_view host) {
    const std::string h(host);
    in6_addr a6{};
    in_addr a4{};
    return ::inet_pton(AF_INET, h.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

} // namespace

struct tls_transport::connection final : transport::receiver {
    connection(event_loop& loop, const tls_context& ctx)
        : loop(&loop), context(ctx.shared_state()) {}
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() { SSL_free(ssl); }

    event_loop* loop;
    std::unique_ptr<transport> inner;
    std::shared_ptr<tls_context::state> context;
    SSL* ssl = nullptr;
    BIO* rbio = nullptr; // owned by ssl
    BIO* wbio = nullptr; // owned by ssl
    std::string name;
    tls_info info;
    bool handshaken = false;

    // Sending: ciphertext waiting in `out` from `out_off`; `writing` while it is handed
    // to the inner transport (nothing may move `out` then).
    std::string out;
    std::size_t out_off = 0;
    bool writing = false;
    /// close_notify was made (close or shutdown_write).
    bool shut_down = false;
    /// After what is in `out`: shut down the inner transport's write side, or close it.
    bool shutdown_requested = false;
    bool close_requested = false;
    bool closed = false;
    /// A task sends what a try_write or a close left in `out` (send_in_background).
    bool sending_in_background = false;
    /// Its deadline, once closing.
    cancel_scope* sender_scope = nullptr;
    /// Set when that task ends.
    event sender_idle;
    /// What that task failed with, for the next write.
    std::exception_ptr send_error;

    // Receiving.
    std::vector<char> inbuf;
    bool push = false;
    bool receiving = false;
    bool inner_eof = false;
    int recv_error = 0;
    bool read_shut = false;
    /// A read failed (a TLS error): later reads return end of stream, writes throw.
    std::string failure;
    event arrived;

    // --- transport::receiver (a background receive delivers ciphertext) ---

    void on_data(std::span<const char> data) override {
        BIO_write(rbio, data.data(), static_cast<int>(data.size()));
        if (BIO_ctrl_pending(rbio) > max_queued_ciphertext && receiving) {
            receiving = false;
            inner->pause_receive();
        }
        arrived.set();
    }
    void on_end(int error) noexcept override {
        receiving = false;
        if (error == 0) {
            set_inner_eof();
        } else {
            recv_error = error;
        }
        arrived.set();
    }

    void set_inner_eof() noexcept {
        inner_eof = true;
        BIO_set_mem_eof_return(rbio, 0); // SSL_read now sees the end, not "retry"
    }

    // --- output ---

    /// Move what OpenSSL produced into `out`, unless a write is sending `out` now (then
    /// it waits in the BIO for the next one).
    void collect_output() {
        if (writing) {
            return;
        }
        const std::size_t pending = BIO_ctrl_pending(wbio);
        if (pending == 0) {
            return;
        }
        if (out_off == out.size()) {
            out.clear();
            out_off = 0;
        }
        const std::size_t old = out.size();
        out.resize(old + pending);
        BIO_read(wbio, out.data() + old, static_cast<int>(pending));
    }

    [[nodiscard]] bool has_output() const noexcept {
        return out_off < out.size() || BIO_ctrl_pending(wbio) > 0;
    }

    /// Send everything waiting. Cancellable; what was not sent stays in `out`.
    task<> send_out() {
        while (true) {
            collect_output();
            if (out_off == out.size()) {
                out.clear();
                out_off = 0;
                co_return;
            }
            writing = true;
            std::size_t n = 0;
            try {
                n = co_await inner->write(std::span<const char>(out).subspan(out_off));
            } catch (...) {
                writing = false;
                throw;
            }
            writing = false;
            out_off += n;
        }
    }

    /// Send what can go without waiting; true if nothing is left.
    bool send_out_now() {
        collect_output();
        while (out_off < out.size()) {
            const std::ptrdiff_t n = inner->try_write(std::span<const char>(out).subspan(out_off));
            if (n <= 0) {
                return false;
            }
            out_off += static_cast<std::size_t>(n);
        }
        out.clear();
        out_off = 0;
        return true;
    }

    // --- input ---

    /// Pull what the inner transport has now into rbio: true if anything (or its end) came.
    bool pull_now(bool ask_source) {
        if (push) {
            if (!receiving && !inner_eof && recv_error == 0 && !read_shut) {
                receiving = inner->start_receive(*this);
            }
            return false;
        }
        if (inner_eof) {
            return false;
        }
        inbuf.resize(read_chunk);
        const std::ptrdiff_t n = ask_source ? inner->read_arrived(inbuf) : inner->try_read(inbuf);
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            set_inner_eof();
        } else {
            BIO_write(rbio, inbuf.data(), static_cast<int>(n));
        }
        return true;
    }

    /// Wait for more ciphertext (or the end). Cancellable: nothing is lost, what arrives
    /// later stays queued.
    task<> pull_wait() {
        if (push) {
            if (!receiving && !inner_eof && recv_error == 0 && !read_shut) {
                receiving = inner->start_receive(*this);
                if (!receiving) {
                    set_inner_eof(); // the inner transport cannot deliver any more
                    co_return;
                }
            }
            arrived.clear();
            co_await arrived.wait();
            co_return;
        }
        inbuf.resize(read_chunk);
        const std::size_t n = co_await inner->read(inbuf);
        if (n == 0) {
            set_inner_eof();
        } else {
            BIO_write(rbio, inbuf.data(), static_cast<int>(n));
        }
    }

    /// Decrypt into `out`: the count, 0 at a clean end (close_notify), or would_block
    /// when OpenSSL needs more ciphertext. \throws tls_error, std::system_error.
    std::ptrdiff_t decrypt(std::span<char> into) {
        if (read_shut || closed || !failure.empty()) {
            return 0;
        }
        ERR_clear_error();
        std::size_t n = 0;
        const int r = SSL_read_ex(ssl, into.data(), into.size(), &n);
        collect_output();
        if (r == 1) {
            return static_cast<std::ptrdiff_t>(n);
        }
        const int err = SSL_get_error(ssl, r);
        if (err == SSL_ERROR_ZERO_RETURN) {
            return 0;
        }
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            if (recv_error != 0) {
                const int e = std::exchange(recv_error, 0);
                failure = std::system_category().message(e);
                throw std::system_error(e, std::system_category(), "read " + name);
            }
            return transport::would_block;
        }
        std::string reason = take_openssl_reason();
        if (inner_eof && (err == SSL_ERROR_SYSCALL || reason == "unexpected eof while reading")) {
            if (context->suppress_ragged_eofs) {
                return 0;
            }
            failure = "truncated";
            throw tls_error("read " + name +
                                ": the peer closed the connection without close_notify (the "
                                "data may be truncated)",
                            "unexpected eof while reading");
        }
        if (reason.empty()) {
            reason = "error " + std::to_string(err);
        }
        failure = reason;
        throw tls_error("read " + name + ": " + reason, reason);
    }

    /// Make records of up to `max_write_chunk` bytes of `data`: the count taken.
    std::size_t encrypt(std::span<const char> data) {
        if (!failure.empty()) {
            throw tls_error(
                "write " + name + ": the TLS connection failed earlier (" + failure + ")", failure);
        }
        if (shut_down) {
            throw invalid_state_error("write " + name + ": close_notify was sent");
        }
        ERR_clear_error();
        std::size_t n = 0;
        const int r = SSL_write_ex(ssl, data.data(), std::min(data.size(), max_write_chunk), &n);
        if (r != 1) {
            std::string reason = take_openssl_reason();
            if (reason.empty()) {
                reason = "error " + std::to_string(SSL_get_error(ssl, r));
            }
            failure = reason;
            throw tls_error("write " + name + ": " + reason, reason);
        }
        collect_output();
        return n;
    }

    /// The handshake's failure, as Python words it: OpenSSL's reason, and for a
    /// certificate that did not verify, why.
    tls_error handshake_error(int err) {
        std::string reason = take_openssl_reason();
        const long verify = SSL_get_verify_result(ssl);
        if (reason.empty() && (err == SSL_ERROR_SYSCALL || inner_eof)) {
            reason = "the peer closed the connection during the handshake";
        } else if (reason.empty()) {
            reason = "error " + std::to_string(err);
        }
        long verify_result = 0;
        if (verify != X509_V_OK && reason == "certificate verify failed") {
            verify_result = verify;
            if (verify == X509_V_ERR_HOSTNAME_MISMATCH) {
                reason += ": Hostname mismatch, certificate is not valid for '" +
                          info.server_hostname + "'";
            } else if (verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
                reason += ": IP address mismatch, certificate is not valid for '" +
                          info.server_hostname + "'";
            } else {
                reason += std::string(": ") + X509_verify_cert_error_string(verify);
            }
        }
        return tls_error("tls handshake with " + name + ": " + reason, reason, verify_result);
    }

    void record_info() {
        info.version = SSL_get_version(ssl);
        info.cipher = SSL_get_cipher_name(ssl);
        const unsigned char* alpn = nullptr;
        unsigned int alpn_len = 0;
        SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
        info.alpn_protocol.assign(reinterpret_cast<const char*>(alpn), alpn_len);
        if (X509* cert = SSL_get0_peer_certificate(ssl)) {
            BIO* b = BIO_new(BIO_s_mem());
            X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
            char* text = nullptr;
            const long len = BIO_get_mem_data(b, &text);
            info.peer_subject.assign(text, static_cast<std::size_t>(len));
            BIO_free(b);
        }
        if (context->server) {
            const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
            info.server_hostname = sni != nullptr ? sni : "";
        }
        handshaken = true;
    }

    /// Make close_notify (once).
    void make_close_notify() {
        if (shut_down || !handshaken || !failure.empty()) {
            return;
        }
        shut_down = true;
        ERR_clear_error();
        SSL_shutdown(ssl);
        ERR_clear_error();
        collect_output();
    }

    /// Once `out` has gone: close the inner transport, or shut down its write side, as
    /// asked.
    void finish_inner() noexcept {
        if (close_requested) {
            if (!closed) {
                closed = true;
                inner->close();
            }
        } else if (shutdown_requested) {
            shutdown_requested = false;
            try {
                inner->shutdown_write();
            } catch (const std::exception&) {
                // the peer is gone: its reads will say so
            }
        }
    }

    void rethrow_send_error() const {
        if (send_error) {
            std::rethrow_exception(send_error);
        }
    }
};

namespace {

/// Sends what is left in `out` (a try_write that could not send all its records, or
/// close_notify), then closes or shuts down the inner transport if that was asked. Once
/// closing, it has shutdown_timeout (asyncio's ssl_shutdown_timeout).
task<> send_in_background(std::shared_ptr<tls_transport::connection> c) {
    cancel_scope scope;
    if (c->close_requested || c->shutdown_requested) {
        scope.set_deadline(get_running_loop().time() + shutdown_timeout);
    }
    c->sender_scope = &scope;
    try {
        co_await scope.run(c->send_out());
    } catch (const std::exception&) {
        c->send_error = std::current_exception();
    }
    c->sender_scope = nullptr;
    c->sending_in_background = false;
    c->sender_idle.set();
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
                c->sender_scope->set_deadline(c->loop->time() + shutdown_timeout);
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
    ERR_clear_error();
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
    const std::shared_ptr<connection> keep = m;
    connection& c = *keep;
    while (true) {
        ERR_clear_error();
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
    c.record_info();
}

task<std::size_t> tls_transport::read(std::span<char> out) {
    const std::shared_ptr<connection> keep = m;
    connection& c = *keep;
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
        for (int i = 0;
             i < 8 && BIO_ctrl_pending(c.rbio) < max_queued_ciphertext && c.pull_now(true); ++i) {
        }
    } catch (const std::exception&) {
        return false; // the next read reports it
    }
    ERR_clear_error();
    char byte = 0;
    std::size_t n = 0;
    const int r = SSL_peek_ex(c.ssl, &byte, 1, &n);
    const bool ended = r != 1 && SSL_get_error(c.ssl, r) == SSL_ERROR_ZERO_RETURN;
    ERR_clear_error();
    c.collect_output();
    return ended;
}

task<std::size_t> tls_transport::write(std::span<const char> data) {
    const std::shared_ptr<connection> keep = m;
    connection& c = *keep;
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
