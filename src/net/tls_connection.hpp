#pragma once
// The state of one TLS connection (tls_transport::connection), shared by the transport and
// the task that sends in the background: OpenSSL's SSL object over two memory BIOs, the
// ciphertext waiting to go out, and the receive side. See tls_transport.cpp for how reads,
// writes and closing use it.

#include "tls_records.hpp"
#include "tls_transport.hpp"

#include "corio/cancel_scope.hpp"
#include "corio/errors.hpp"
#include "corio/sync/event.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <system_error>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace corio::detail {

/// Empty this thread's OpenSSL error queue before an SSL call, so that SSL_get_error
/// speaks of that call alone. It is almost always empty (every error corio sees is taken
/// out by take_openssl_reason): peeking first spares ERR_clear_error's cost, which was the
/// largest single item of a TLS request (about 1,500 instructions, callgrind).
inline void clear_openssl_errors() noexcept {
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

/// Plaintext bytes made into records per write.
inline constexpr std::size_t tls_write_chunk = 64 * 1024;
/// Ciphertext read from the inner transport at a time.
inline constexpr std::size_t tls_read_chunk = 16 * 1024 + 512;
/// Ciphertext a background receive may queue before it is paused.
inline constexpr std::size_t tls_max_queued_ciphertext = 64 * 1024;
/// How long the task sending close_notify may take (asyncio's ssl_shutdown_timeout).
inline constexpr auto tls_shutdown_timeout = std::chrono::seconds(30);

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
    /// The TLS 1.3 traffic secrets the keylog callback reports, then corio's record layer,
    /// which takes over from OpenSSL after the handshake when it can (tls_records.hpp).
    tls13_secrets secrets;
    std::unique_ptr<tls13_records> records;

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
        take_in(data.data(), data.size());
        if (queued_input() > tls_max_queued_ciphertext && receiving) {
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

    /// Push mode: make sure the background receive runs, unless the stream has ended; false
    /// if the inner transport refused to start it.
    bool resume_receive() {
        if (!receiving && !inner_eof && recv_error == 0 && !read_shut) {
            receiving = inner->start_receive(*this);
            return receiving;
        }
        return true;
    }

    /// Queue ciphertext from the inner transport.
    void take_in(const char* data, std::size_t n) {
        if (records) {
            records->feed(data, n);
        } else {
            BIO_write(rbio, data, static_cast<int>(n));
        }
    }

    /// What arrived and has not been read: ciphertext, and the record layer's plaintext.
    [[nodiscard]] std::size_t queued_input() const noexcept {
        return records ? records->queued() : BIO_ctrl_pending(rbio);
    }

    /// After the handshake: corio's record layer takes over from OpenSSL if it can.
    void take_over_records() { records = tls13_records::take_over(ssl, rbio, wbio, secrets); }

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
        if (records) {
            std::string& pending = records->pending();
            if (!pending.empty()) {
                if (out_off == out.size()) {
                    out.swap(pending);
                    out_off = 0;
                } else {
                    out += pending;
                }
                pending.clear();
            }
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

    /// Where corio's record layer puts new records: `out`, unless a write is sending it or
    /// records made earlier wait to join it.
    std::string& output_buffer() {
        if (writing || !records->pending().empty()) {
            return records->pending();
        }
        if (out_off == out.size()) {
            out.clear();
            out_off = 0;
        }
        return out;
    }

    [[nodiscard]] bool has_output() const noexcept {
        return out_off < out.size() ||
               (records ? !records->pending().empty() : BIO_ctrl_pending(wbio) > 0);
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
            (void)resume_receive();
            return false;
        }
        if (inner_eof) {
            return false;
        }
        inbuf.resize(tls_read_chunk);
        const std::ptrdiff_t n = ask_source ? inner->read_arrived(inbuf) : inner->try_read(inbuf);
        if (n < 0) {
            return false;
        }
        if (n == 0) {
            set_inner_eof();
        } else {
            take_in(inbuf.data(), static_cast<std::size_t>(n));
        }
        return true;
    }

    /// Wait for more ciphertext (or the end). Cancellable: nothing is lost, what arrives
    /// later stays queued.
    task<> pull_wait() {
        if (push) {
            if (!resume_receive()) {
                set_inner_eof(); // the inner transport cannot deliver any more
                co_return;
            }
            arrived.clear();
            co_await arrived.wait();
            co_return;
        }
        inbuf.resize(tls_read_chunk);
        const std::size_t n = co_await inner->read(inbuf);
        if (n == 0) {
            set_inner_eof();
        } else {
            take_in(inbuf.data(), n);
        }
    }

    /// Decrypt into `out`: the count, 0 at a clean end (close_notify), or would_block
    /// when OpenSSL needs more ciphertext. \throws tls_error, std::system_error.
    std::ptrdiff_t decrypt(std::span<char> into) {
        if (read_shut || closed || !failure.empty()) {
            return 0;
        }
        if (records) {
            return decrypt_records(into);
        }
        clear_openssl_errors();
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
            return wants_more();
        }
        std::string reason = take_openssl_reason();
        if (inner_eof && (err == SSL_ERROR_SYSCALL || reason == "unexpected eof while reading")) {
            return truncated();
        }
        if (reason.empty()) {
            reason = "error " + std::to_string(err);
        }
        failure = reason;
        throw tls_error("read " + name + ": " + reason, reason);
    }

    /// decrypt() by corio's record layer.
    std::ptrdiff_t decrypt_records(std::span<char> into) {
        const std::ptrdiff_t n = records->read(into);
        if (n >= 0) {
            if (!records->pending().empty()) {
                collect_output(); // a key update's answer
            }
            return n;
        }
        if (n == tls13_records::need_more) {
            return inner_eof ? truncated() : wants_more();
        }
        failure = records->failure();
        try {
            send_out_now(); // the alert, so the peer learns why; best effort
        } catch (const std::exception&) {
        }
        throw tls_error("read " + name + ": " + failure, failure);
    }

    /// More ciphertext is needed: would_block, unless the inner transport failed.
    std::ptrdiff_t wants_more() {
        if (recv_error != 0) {
            const int e = std::exchange(recv_error, 0);
            failure = std::system_category().message(e);
            throw std::system_error(e, std::system_category(), "read " + name);
        }
        return transport::would_block;
    }

    /// The inner transport ended without close_notify: end of stream if allowed.
    std::ptrdiff_t truncated() {
        if (context->suppress_ragged_eofs) {
            return 0;
        }
        failure = "truncated";
        throw tls_error("read " + name +
                            ": the peer closed the connection without close_notify (the "
                            "data may be truncated)",
                        "unexpected eof while reading");
    }

    /// Make records of up to `tls_write_chunk` bytes of `data`: the count taken.
    std::size_t encrypt(std::span<const char> data) {
        if (!failure.empty()) {
            throw tls_error(
                "write " + name + ": the TLS connection failed earlier (" + failure + ")", failure);
        }
        if (shut_down) {
            throw invalid_state_error("write " + name + ": close_notify was sent");
        }
        if (records) {
            const std::size_t n = std::min(data.size(), tls_write_chunk);
            records->write(data.first(n), output_buffer());
            return n;
        }
        clear_openssl_errors();
        std::size_t n = 0;
        const int r = SSL_write_ex(ssl, data.data(), std::min(data.size(), tls_write_chunk), &n);
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
        if (records) {
            records->close_notify(output_buffer());
            return;
        }
        clear_openssl_errors();
        SSL_shutdown(ssl);
        clear_openssl_errors();
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

} // namespace corio::detail
