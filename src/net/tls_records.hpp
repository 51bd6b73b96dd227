#pragma once
// TLS 1.3's record layer after the handshake (RFC 8446 §5.2, §4.6.3, §7.2), over OpenSSL's
// AEAD ciphers and HKDF. OpenSSL does the handshake; once it is done, a TLS 1.3 connection
// with AES-GCM or ChaCha20-Poly1305 is taken over here, from the traffic secrets OpenSSL
// reports to its keylog callback, as the kernel's TLS does. OpenSSL 3.0's SSL_read and
// SSL_write cost about 8,500 instructions each for a small record (a parameter lookup per
// record, a buffer allocated and freed, five BIO calls); sealing or opening one here costs
// about 3,000 (callgrind, docs/tls.md). The SSL object stays, for what was negotiated.
//
// Taken over only when it is exact: OpenSSL has read no record under the application keys
// (counted at the BIOs when the keys were installed), so the receiving sequence number
// starts at 0, and the records it wrote under them (a server's session tickets) are still
// in its BIO, where they are counted for the sending one. Anything else stays with OpenSSL
// (TLS 1.2, other ciphers, a keylog callback replaced through native_handle()).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/ssl.h>

namespace corio::detail {

/// What the keylog callback saw of a connection's TLS 1.3 application traffic secrets, and
/// where the BIOs stood as each was installed.
struct tls13_secrets {
    std::vector<unsigned char> read;
    std::vector<unsigned char> write;
    std::uint64_t read_mark = 0;  // BIO_number_read(rbio) when `read` was installed
    std::uint64_t write_mark = 0; // BIO_number_written(wbio) when `write` was installed
    bool server = false;

    tls13_secrets() = default;
    tls13_secrets(const tls13_secrets&) = delete;
    tls13_secrets& operator=(const tls13_secrets&) = delete;
    ~tls13_secrets();
};

/// Attach `secrets` to `ssl`, so that the context's keylog callback fills it in.
void watch_tls13_secrets(SSL* ssl, tls13_secrets* secrets);

/// The keylog callback every corio context installs.
void tls13_keylog(const SSL* ssl, const char* line);

class tls13_records {
public:
    /// read(): more ciphertext is needed; the record layer failed (failure() says why).
    static constexpr std::ptrdiff_t need_more = -1;
    static constexpr std::ptrdiff_t failed = -2;

    /// The record layer of a connection whose handshake has just completed, or nullptr if
    /// it is not one this layer takes (see above). What `rbio` still holds is taken, and
    /// what `wbio` holds becomes pending().
    static std::unique_ptr<tls13_records> take_over(SSL* ssl, BIO* rbio, BIO* wbio,
                                                    tls13_secrets& secrets);

    /// A record layer from two traffic secrets (SHA-256 or SHA-384 sized) for a TLS 1.3
    /// suite's cipher (NID_aes_128_gcm, NID_aes_256_gcm, NID_chacha20_poly1305), both
    /// sequence numbers 0; nullptr for anything else. (take_over's second half; the fuzzer's
    /// way in.)
    static std::unique_ptr<tls13_records> make(int cipher_nid,
                                               std::vector<unsigned char> read_secret,
                                               std::vector<unsigned char> write_secret,
                                               bool server);

    tls13_records(const tls13_records&) = delete;
    tls13_records& operator=(const tls13_records&) = delete;
    ~tls13_records();

    // --- receiving ---

    /// Queue ciphertext that arrived.
    void feed(const char* data, std::size_t n);
    /// Bytes queued: ciphertext not yet opened and plaintext not yet read.
    [[nodiscard]] std::size_t queued() const noexcept {
        return (pt_end - pt_begin) + (in.size() - pos);
    }
    /// Plaintext into `into`: the count, 0 once close_notify came, need_more, or failed.
    /// Records it makes in answer (a key update, an alert) join pending().
    std::ptrdiff_t read(std::span<char> into);
    /// Whether close_notify is next, with no data ahead of it (opens what it can).
    bool end_is_next();
    [[nodiscard]] const std::string& failure() const noexcept { return failed_reason; }

    // --- sending ---

    /// Seal `data` into records appended to `dst`.
    void write(std::span<const char> data, std::string& dst);
    /// Seal close_notify into `dst`.
    void close_notify(std::string& dst);
    /// Seal `data` as one record of any content type (a peer's view, for tests and the
    /// fuzzer: what read() must cope with).
    void seal_record(std::uint8_t type, std::span<const char> data, std::string& dst);
    /// Seal a key update, then update the sending key.
    void key_update(bool request, std::string& dst);
    /// Records made while reading, which go before anything written after them.
    std::string& pending() noexcept { return pending_out; }

    /// Tests: start a key update after this many records under one key (default: 2^24,
    /// under AES-GCM's limit of 2^24.5 full records, RFC 8446 §5.5).
    static void set_key_update_interval(std::uint64_t records) noexcept;
    /// Tests: how many connections this layer has taken over, in this process.
    static std::uint64_t connections_taken_over() noexcept;

private:
    struct direction {
        EVP_CIPHER_CTX* ctx = nullptr;
        std::vector<unsigned char> secret;
        unsigned char iv[12] = {};
        std::uint64_t seq = 0;
    };

    tls13_records() = default;
    bool install(direction& d, bool encrypt);
    bool update_key(direction& d, bool encrypt);
    void seal(std::uint8_t type, const char* data, std::size_t n, std::string& dst);
    void seal_key_update(bool request, std::string& dst);
    /// Open the record at the front of the ciphertext: 1 done, 0 need more, -1 failed.
    int open_one();
    int handshake_messages();
    int fail(int alert, int reason);

    const EVP_CIPHER* cipher = nullptr;
    std::size_t key_length = 0;
    bool server = false;
    direction rx;
    direction tx;

    // `in` holds, in order: read plaintext [0, pt_begin), unread plaintext [pt_begin,
    // pt_end), consumed ciphertext up to `pos`, then ciphertext not yet opened.
    std::string in;
    std::size_t pt_begin = 0;
    std::size_t pt_end = 0;
    std::size_t pos = 0;
    std::string handshake; // a handshake message split across records
    bool ended = false;
    bool closed = false; // close_notify sent
    std::string failed_reason;
    std::string pending_out;
};

} // namespace corio::detail
