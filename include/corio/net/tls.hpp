#pragma once
/// \file
/// TLS over OpenSSL 3: `tls_context` (what a side trusts and presents), `tls_error`, and
/// what a TLS stream negotiated (`tls_info`). TLS is a transport that wraps another one
/// (transport.hpp), so every `stream` call works the same over it; it comes in by
/// `open_connection(host, port, {.tls = ctx})`, `start_server(handler, host, port, {.tls =
/// ctx})` or `co_await s.start_tls(ctx)` (STARTTLS) (Python: `ssl=`, `start_tls`).
///
/// ```cpp
/// corio::tls_context ctx = corio::tls_context::client(); // system CAs, hostname checked
/// corio::stream s = co_await corio::open_connection("example.com", 443, {.tls = ctx});
/// s.write("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n");
/// std::string reply = co_await s.read_all();
///
/// corio::tls_context server_ctx = corio::tls_context::server("cert.pem", "key.pem");
/// co_await corio::start_server(handler, "0.0.0.0", 8443, {.tls = server_ctx});
/// ```
///
/// The rules, as Python's `ssl` module and asyncio keep them:
/// - A client verifies the server's certificate against its trust store and checks that it
///   names the host (`server_hostname`, else the host connected to); TLS 1.2 at least;
///   renegotiation is refused on both sides.
/// - Closing sends close_notify; `write_eof()` sends it and keeps reading (a TLS 1.3
///   half-close).
/// - A peer that drops the connection without close_notify has truncated the stream: the
///   read that meets it throws `tls_error` ("... without close_notify ..."), not end of
///   stream, unless the context allows it (`set_suppress_ragged_eofs`).
/// - Every failure is a `tls_error` naming the peer and OpenSSL's reason; it ends that
///   connection only.

#include "corio/string_ref.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace corio {

/// A TLS failure: a handshake that failed (a certificate that does not verify, a peer
/// that speaks something else; a stalled handshake is a `timeout_error`), a record that
/// does not decrypt, a truncated stream. The message names the operation, the peer and
/// OpenSSL's reason: "tls handshake with 127.0.0.1:8443 (example.test): certificate verify
/// failed: self-signed certificate". A `std::system_error` (code EPROTO), as Python's
/// `ssl.SSLError` is an `OSError`: code that handles a connection's I/O errors handles
/// these too.
class tls_error : public std::system_error {
public:
    tls_error(const std::string& what, std::string reason, long verify_result = 0);
    ~tls_error() override;

    /// The message as given (without the error code's text appended).
    [[nodiscard]] const char* what() const noexcept override { return m_what.c_str(); }

    /// OpenSSL's reason alone ("certificate verify failed", "wrong version number",
    /// "unexpected eof while reading"), for telling kinds of failure apart.
    [[nodiscard]] const std::string& reason() const noexcept { return m_reason; }
    /// When the peer's certificate did not verify, OpenSSL's verify result
    /// (X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_HOSTNAME_MISMATCH, ...); 0 otherwise.
    [[nodiscard]] long verify_result() const noexcept { return m_verify_result; }

private:
    std::string m_what;
    std::string m_reason;
    long m_verify_result;
};

/// What one TLS connection negotiated (`stream::tls()`).
struct tls_info {
    /// "TLSv1.3", "TLSv1.2".
    std::string version;
    /// The cipher suite, in OpenSSL's name ("TLS_AES_256_GCM_SHA384").
    std::string cipher;
    /// The ALPN protocol both sides chose ("h2", "http/1.1"), empty if none.
    std::string alpn_protocol;
    /// The subject of the peer's certificate, RFC 2253 ("CN=localhost,O=corio"); empty
    /// if the peer presented none (a client, usually).
    std::string peer_subject;
    /// The name the client asked for (SNI) and checked the certificate against: on a
    /// client the one it sent, on a server the one it received; empty if none.
    std::string server_hostname;
};

/// What one side of TLS trusts and presents: an OpenSSL `SSL_CTX`. A handle: copies share
/// the same context, and every connection made with it keeps it alive. Configure it before
/// the first connection uses it (a change reaches only connections made after it). Used
/// by one thread at a time while it is being configured; connections on several threads
/// may share a configured context.
class tls_context {
public:
    /// The minimum protocol version a context accepts (default: TLS 1.2).
    enum class version { tls1_2, tls1_3 };

    /// An empty context: `valid()` is false, and only assignment works.
    tls_context() noexcept;
    ~tls_context();
    tls_context(const tls_context&) noexcept;
    tls_context(tls_context&&) noexcept;
    tls_context& operator=(const tls_context&) noexcept;
    tls_context& operator=(tls_context&&) noexcept;

    /// A client context as Python's `ssl.create_default_context()`: it verifies the
    /// server's certificate against the system's CA store (Debian: /etc/ssl/certs) and
    /// checks that it names the host; TLS 1.2 at least.
    /// \throws tls_error if OpenSSL cannot make the context.
    [[nodiscard]] static tls_context client();
    /// A server context presenting the certificate chain in `cert_chain_file` (PEM, the
    /// server's certificate first) with the private key in `key_file`; TLS 1.2 at least;
    /// clients are not asked for certificates.
    /// \throws std::system_error (ENOENT, ...) naming a file that cannot be read;
    /// tls_error if the files do not hold a certificate and its matching key.
    [[nodiscard]] static tls_context server(string_ref cert_chain_file, string_ref key_file);

    /// Trust the CA certificates in `cafile` (PEM) too, for verifying the peer.
    /// \throws std::system_error naming the file if it cannot be read; tls_error if it
    /// holds no certificate.
    void load_verify_locations(string_ref cafile);
    /// Present the certificate chain in `cert_chain_file` with the key in `key_file`.
    /// \throws as `server`.
    void load_cert_chain(string_ref cert_chain_file, string_ref key_file);
    /// Offer (client) or accept (server) these ALPN protocols, most preferred first
    /// ({"h2", "http/1.1"}); a server picks the first of its own list the client offers.
    /// \throws std::invalid_argument naming an empty protocol or one over 255 bytes.
    void set_alpn_protocols(const std::vector<std::string>& protocols);
    /// The lowest protocol version to accept.
    void set_minimum_version(version v);
    /// Accept a peer's end of stream without close_notify as a clean end of stream
    /// (Python's `suppress_ragged_eofs`). Off by default: such an end is truncation, and
    /// the read that meets it throws `tls_error`.
    void set_suppress_ragged_eofs(bool suppress);
    /// Turn off every check of the peer's certificate: any certificate, for any host,
    /// expired or self-signed, is accepted. The connection is encrypted but anyone on the
    /// path can read and change it. For tests and for `corio-crawl --insecure` only.
    void dangerously_disable_verification();

    /// True for a context made by `server()`.
    [[nodiscard]] bool is_server() const;
    /// True if the peer's certificate is checked (not disabled).
    [[nodiscard]] bool verifies_peer() const;
    /// True unless empty.
    [[nodiscard]] bool valid() const noexcept { return m_state != nullptr; }
    [[nodiscard]] explicit operator bool() const noexcept { return valid(); }
    /// The OpenSSL `SSL_CTX*`, to set what this class does not say; empty: nullptr.
    [[nodiscard]] void* native_handle() const noexcept;

    struct state;
    /// For corio's TLS transport.
    [[nodiscard]] const std::shared_ptr<state>& shared_state() const noexcept { return m_state; }

private:
    explicit tls_context(std::shared_ptr<state> s) noexcept;
    state& checked(const char* operation) const;

    std::shared_ptr<state> m_state;
};

/// A `tls_context` that option structs refer to without owning it, so that they stay
/// trivially destructible and may be written inside a `co_await` under g++ 12 (which
/// destroys an aggregate temporary there twice): `connect_options::tls`,
/// `server_options::tls`. Made from a named context (`.tls = ctx`), which must live until
/// the call that takes the options (`open_connection`, `start_server`): it copies the
/// handle. Not from a temporary (a compile error: name the context first).
class tls_context_ref {
public:
    constexpr tls_context_ref() noexcept = default;
    // Implicit, for `.tls = ctx` in a designated initializer.
    tls_context_ref(const tls_context& ctx) noexcept // NOLINT(google-explicit-constructor)
        : m_ctx(&ctx) {}
    /// A temporary context would be gone by the call: name it first.
    tls_context_ref(tls_context&&) = delete;

    /// The context, or nullptr if none was given (or it is empty).
    [[nodiscard]] const tls_context* get() const noexcept {
        return m_ctx != nullptr && m_ctx->valid() ? m_ctx : nullptr;
    }
    [[nodiscard]] explicit operator bool() const noexcept { return get() != nullptr; }

private:
    const tls_context* m_ctx = nullptr;
};

/// Options of `stream::start_tls`. Trivially destructible (written inside `co_await`).
struct tls_options {
    /// The name a client sends (SNI) and checks the server's certificate against; empty:
    /// none is sent, and a context that checks hostnames refuses to start (name the peer).
    string_ref server_hostname{};
    /// Give up (timeout_error) if the handshake has not finished by then; zero waits as
    /// long as the peer takes. Python's default, 60 s.
    std::chrono::steady_clock::duration handshake_timeout = std::chrono::seconds(60);
};

} // namespace corio
