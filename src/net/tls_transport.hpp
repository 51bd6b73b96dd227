#pragma once
// TLS as a transport that wraps another one (transport.hpp), over OpenSSL with memory
// BIOs: the inner transport moves ciphertext, OpenSSL turns it into plaintext and back, and
// the stream above sees a transport like any other. See tls_transport.cpp for how reads,
// writes and closing go.

#include "corio/event_loop.hpp"
#include "corio/net/tls.hpp"
#include "corio/net/transport.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

namespace corio {

/// What a tls_context handle shares: the SSL_CTX and what OpenSSL does not keep for us.
struct tls_context::state {
    state() = default;
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    ~state();

    SSL_CTX* ctx = nullptr;
    bool server = false;
    /// Clients: the certificate must name the host (Python's check_hostname).
    bool check_hostname = false;
    bool suppress_ragged_eofs = false;
    /// ALPN protocols in wire format (length-prefixed), for the server's choice.
    std::vector<unsigned char> alpn;
};

namespace detail {

/// OpenSSL's reason for the last error on this thread's queue, which it empties.
std::string take_openssl_reason();

class tls_transport final : public transport {
public:
    /// Wraps `inner`, which it takes (only if it does not throw). `server_hostname`: a client's SNI
    /// and the name its certificate check wants. `already_received`: ciphertext the layer above had
    /// read from `inner` before TLS started (STARTTLS), handed to OpenSSL first. \throws
    /// std::invalid_argument if a client context checks hostnames and none is given.
    tls_transport(event_loop& loop, std::unique_ptr<transport>& inner, const tls_context& ctx,
                  std::string_view server_hostname, std::string_view already_received);
    tls_transport(const tls_transport&) = delete;
    tls_transport& operator=(const tls_transport&) = delete;
    ~tls_transport() override;

    /// The handshake; once it returns, `tls()` tells what was negotiated.
    /// \throws tls_error (the peer's certificate, a peer that speaks something else, a
    /// peer that left), std::system_error from the inner transport.
    task<> handshake();

    task<std::size_t> read(std::span<char> out) override;
    std::ptrdiff_t try_read(std::span<char> out) override;
    std::ptrdiff_t read_arrived(std::span<char> out) override;
    [[nodiscard]] int readable_fd() const noexcept override;
    bool eof_arrived() noexcept override;
    task<std::size_t> write(std::span<const char> data) override;
    std::ptrdiff_t try_write(std::span<const char> data) override;
    void shutdown_write() override;
    [[nodiscard]] bool can_write_eof() const noexcept override;
    void shutdown_read() noexcept override;
    void close() noexcept override;
    void abort() noexcept override;
    [[nodiscard]] std::string name() const override;
    [[nodiscard]] socket_address peer_address() const override;
    [[nodiscard]] socket_address local_address() const override;
    [[nodiscard]] int fd() const noexcept override;
    [[nodiscard]] bool can_read() const noexcept override;
    [[nodiscard]] bool can_write() const noexcept override;
    [[nodiscard]] const tls_info* tls() const noexcept override;

    struct connection;

private:
    /// Shared with the task that finishes sending close_notify after close().
    std::shared_ptr<connection> m;
};

} // namespace detail
} // namespace corio
