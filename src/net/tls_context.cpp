// tls_context over OpenSSL's SSL_CTX, and tls_error.

#include "tls_records.hpp"
#include "tls_transport.hpp"

#include "corio/errors.hpp"

#include <algorithm>

#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <system_error>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace corio {

tls_error::tls_error(const std::string& what, std::string reason, long verify_result)
    : std::system_error(EPROTO, std::generic_category(), what), m_what(what),
      m_reason(std::move(reason)), m_verify_result(verify_result) {}

tls_error::~tls_error() = default;

namespace detail {

std::string take_openssl_reason() {
    unsigned long last = 0;
    while (const unsigned long e = ERR_get_error()) {
        last = e;
    }
    if (last == 0) {
        return {};
    }
    if (const char* reason = ERR_reason_error_string(last)) {
        return reason;
    }
    char buf[256];
    ERR_error_string_n(last, buf, sizeof buf);
    return buf;
}

namespace {

/// A file OpenSSL is about to read: a clear errno error naming it if it cannot be opened.
void check_readable(std::string_view path, const char* operation) {
    const std::string p(path);
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (f == nullptr) {
        throw std::system_error(errno, std::generic_category(), std::string(operation) + " " + p);
    }
    std::fclose(f);
}

/// The server's ALPN choice: the first of its own protocols the client offers.
int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen,
                const unsigned char* in, unsigned int inlen, void* arg) {
    const auto* s = static_cast<const tls_context::state*>(arg);
    const std::vector<unsigned char>& mine = s->alpn;
    for (std::size_t i = 0; i < mine.size(); i += 1 + mine[i]) {
        const unsigned char len = mine[i];
        for (unsigned int j = 0; j < inlen; j += 1 + in[j]) {
            if (in[j] == len && j + 1 + len <= inlen &&
                std::equal(mine.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                           mine.begin() + static_cast<std::ptrdiff_t>(i) + 1 + len, in + j + 1)) {
                *out = in + j + 1;
                *outlen = len;
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK; // no protocol in common: go on without ALPN
}

/// A server's ClientHello callback: session tickets only for a client that announces it
/// takes them.
int tickets_if_announced(SSL* ssl, int* /*alert*/, void* /*arg*/) {
    const unsigned char* ext = nullptr;
    std::size_t size = 0;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_session_ticket, &ext, &size) != 1) {
        SSL_set_num_tickets(ssl, 0);
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

std::shared_ptr<tls_context::state> make_state(bool server) {
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == nullptr) {
        std::string reason = take_openssl_reason();
        throw tls_error("tls context: " + reason, reason);
    }
    auto s = std::make_shared<tls_context::state>();
    s->ctx = ctx;
    s->server = server;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // No renegotiation (TLS 1.2), no compression (CRIME); the server's cipher order.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
    // A retried write's buffer may have moved (a stream's buffer grows).
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    // TLS 1.3's traffic secrets, for corio's record layer after the handshake
    // (tls_records.hpp).
    SSL_CTX_set_keylog_callback(ctx, &tls13_keylog);
    if (server) {
        // Stateless session tickets (no cache on the server), one per handshake, and only
        // for a client that says it takes them (the session_ticket extension): a ticket a
        // client never reads would sit in its socket, so that closing it would send a
        // reset instead of a FIN, and the server would lose what was still in flight.
        SSL_CTX_set_num_tickets(ctx, 1);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_client_hello_cb(ctx, &tickets_if_announced, nullptr);
    } else {
        // corio's client does not resume sessions: it asks for no tickets.
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    }
    return s;
}

} // namespace

} // namespace detail

tls_context::state::~state() {
    SSL_CTX_free(ctx);
}

tls_context::tls_context() noexcept = default;
tls_context::~tls_context() = default;
tls_context::tls_context(const tls_context&) noexcept = default;
tls_context::tls_context(tls_context&&) noexcept = default;
tls_context& tls_context::operator=(const tls_context&) noexcept = default;
tls_context& tls_context::operator=(tls_context&&) noexcept = default;
tls_context::tls_context(std::shared_ptr<state> s) noexcept : m_state(std::move(s)) {}

tls_context::state& tls_context::checked(const char* operation) const {
    if (m_state == nullptr) {
        throw invalid_state_error(std::string("tls_context::") + operation +
                                  ": the context is empty (make it with tls_context::client() "
                                  "or tls_context::server())");
    }
    return *m_state;
}

tls_context tls_context::client() {
    std::shared_ptr<state> s = detail::make_state(false);
    SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_set_default_verify_paths(s->ctx) != 1) {
        std::string reason = detail::take_openssl_reason();
        throw tls_error("tls_context::client: the system's CA store: " + reason, reason);
    }
    s->check_hostname = true;
    return tls_context(std::move(s));
}

tls_context tls_context::server(string_ref cert_chain_file, string_ref key_file) {
    tls_context ctx(detail::make_state(true));
    ctx.load_cert_chain(cert_chain_file, key_file);
    return ctx;
}

void tls_context::load_verify_locations(string_ref cafile) {
    state& s = checked("load_verify_locations");
    detail::check_readable(cafile.view(), "load_verify_locations");
    const std::string path(cafile.view());
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(s.ctx, path.c_str(), nullptr) != 1) {
        std::string reason = detail::take_openssl_reason();
        throw tls_error("load_verify_locations " + path + ": " + reason, reason);
    }
}

void tls_context::load_cert_chain(string_ref cert_chain_file, string_ref key_file) {
    state& s = checked("load_cert_chain");
    detail::check_readable(cert_chain_file.view(), "load_cert_chain");
    detail::check_readable(key_file.view(), "load_cert_chain");
    const std::string cert(cert_chain_file.view());
    const std::string key(key_file.view());
    ERR_clear_error();
    const char* step = "certificate chain ";
    bool ok = SSL_CTX_use_certificate_chain_file(s.ctx, cert.c_str()) == 1;
    if (ok) {
        step = "private key ";
        ok = SSL_CTX_use_PrivateKey_file(s.ctx, key.c_str(), SSL_FILETYPE_PEM) == 1;
    }
    if (ok) {
        step = "private key ";
        ok = SSL_CTX_check_private_key(s.ctx) == 1;
    }
    if (!ok) {
        std::string reason = detail::take_openssl_reason();
        throw tls_error("load_cert_chain " + std::string(step) + cert + " / " + key + ": " + reason,
                        reason);
    }
}

void tls_context::set_alpn_protocols(const std::vector<std::string>& protocols) {
    state& s = checked("set_alpn_protocols");
    std::vector<unsigned char> wire;
    for (const std::string& p : protocols) {
        if (p.empty() || p.size() > 255) {
            throw std::invalid_argument("tls_context::set_alpn_protocols: protocol \"" + p +
                                        "\" must be 1 to 255 bytes long");
        }
        wire.push_back(static_cast<unsigned char>(p.size()));
        wire.insert(wire.end(), p.begin(), p.end());
    }
    s.alpn = std::move(wire);
    if (s.server) {
        SSL_CTX_set_alpn_select_cb(s.ctx, s.alpn.empty() ? nullptr : &detail::select_alpn,
                                   m_state.get());
    } else if (SSL_CTX_set_alpn_protos(s.ctx, s.alpn.data(),
                                       static_cast<unsigned int>(s.alpn.size())) != 0) {
        std::string reason = detail::take_openssl_reason();
        throw tls_error("tls_context::set_alpn_protocols: " + reason, reason);
    }
}

void tls_context::set_minimum_version(version v) {
    state& s = checked("set_minimum_version");
    SSL_CTX_set_min_proto_version(s.ctx, v == version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
}

void tls_context::set_suppress_ragged_eofs(bool suppress) {
    checked("set_suppress_ragged_eofs").suppress_ragged_eofs = suppress;
}

void tls_context::dangerously_disable_verification() {
    state& s = checked("dangerously_disable_verification");
    SSL_CTX_set_verify(s.ctx, SSL_VERIFY_NONE, nullptr);
    s.check_hostname = false;
}

bool tls_context::is_server() const {
    return checked("is_server").server;
}

bool tls_context::verifies_peer() const {
    return (SSL_CTX_get_verify_mode(checked("verifies_peer").ctx) & SSL_VERIFY_PEER) != 0;
}

void* tls_context::native_handle() const noexcept {
    return m_state != nullptr ? m_state->ctx : nullptr;
}

} // namespace corio
