// TLS 1.3's record layer after the handshake: see tls_records.hpp.
//
// A record (RFC 8446 §5.2): a 5-byte header (type 23, version 3.3, length) that is also
// the AEAD's additional data, then the sealed inner plaintext (content, its real type,
// optional zero padding) and a 16-byte tag. The nonce is the key's IV with the record's
// 64-bit sequence number XORed into its low bytes. Keys come from a traffic secret by
// HKDF-Expand-Label (§7.1, §7.3); a key update derives the next secret (§7.2).

#include "tls_records.hpp"

#include "tls_transport.hpp"

#include "../core/hex.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/err.h>

namespace corio::detail {

namespace {

constexpr std::size_t max_plaintext = 16384;
constexpr std::size_t max_ciphertext = max_plaintext + 256;
constexpr std::size_t header_size = 5;
constexpr std::size_t tag_size = 16;
constexpr std::size_t iv_size = 12;
constexpr std::size_t max_handshake_message = 1U << 17; // a session ticket is under 2^17

constexpr unsigned char type_alert = 21;
constexpr unsigned char type_handshake = 22;
constexpr unsigned char type_application_data = 23;
constexpr unsigned char message_new_session_ticket = 4;
constexpr unsigned char message_key_update = 24;

std::atomic<std::uint64_t> key_update_interval{std::uint64_t{1} << 24};
std::atomic<std::uint64_t> taken_over{0};

int secrets_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

/// OpenSSL's own words for one of its reasons, so that both record layers say the same.
std::string openssl_reason(int reason) {
    const char* text = ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason));
    return text != nullptr ? text : "tls error " + std::to_string(reason);
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
    if (hex.size() % 2 != 0 || hex.size() > 2 * EVP_MAX_MD_SIZE) {
        return false;
    }
    out.resize(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_digit(hex[2 * i]);
        const int lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return true;
}

/// HMAC contexts with their digest set, one per hash and thread: fetching the digest by
/// name is most of what an HMAC costs in OpenSSL 3.0.
class hmac_contexts {
public:
    hmac_contexts() = default;
    hmac_contexts(const hmac_contexts&) = delete;
    hmac_contexts& operator=(const hmac_contexts&) = delete;
    ~hmac_contexts() {
        EVP_MAC_CTX_free(sha256);
        EVP_MAC_CTX_free(sha384);
    }

    /// The context for a hash of `size` bytes (TLS 1.3 uses SHA-256 and SHA-384), or nullptr.
    EVP_MAC_CTX* get(std::size_t size) {
        if (size == 32) {
            return sha256 != nullptr ? sha256 : (sha256 = make("SHA256"));
        }
        if (size == 48) {
            return sha384 != nullptr ? sha384 : (sha384 = make("SHA384"));
        }
        return nullptr;
    }

private:
    static EVP_MAC_CTX* make(const char* digest) {
        static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        if (hmac == nullptr) {
            return nullptr;
        }
        EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest), 0),
            OSSL_PARAM_construct_end()};
        if (ctx != nullptr && EVP_MAC_CTX_set_params(ctx, params) != 1) {
            EVP_MAC_CTX_free(ctx);
            return nullptr;
        }
        return ctx;
    }

    EVP_MAC_CTX* sha256 = nullptr;
    EVP_MAC_CTX* sha384 = nullptr;
};

/// HKDF-Expand-Label(secret, label, "", length) (RFC 8446 §7.1), for a length up to the
/// hash's size, where HKDF-Expand (RFC 5869) is one HMAC: HMAC(secret, info || 0x01).
bool expand_label(const std::vector<unsigned char>& secret, std::string_view label,
                  unsigned char* out, std::size_t length) {
    thread_local hmac_contexts contexts;
    EVP_MAC_CTX* mac = contexts.get(secret.size());
    if (mac == nullptr || length > secret.size()) {
        return false;
    }
    // struct { uint16 length; opaque label<7..255> = "tls13 " + label; opaque context<0..255>; }
    unsigned char info[2 + 1 + 255 + 1 + 1];
    std::size_t n = 0;
    info[n++] = static_cast<unsigned char>(length >> 8);
    info[n++] = static_cast<unsigned char>(length);
    info[n++] = static_cast<unsigned char>(6 + label.size());
    std::memcpy(info + n, "tls13 ", 6);
    n += 6;
    std::memcpy(info + n, label.data(), label.size());
    n += label.size();
    info[n++] = 0; // empty context
    info[n++] = 1; // HKDF-Expand's counter, T(1)
    unsigned char block[EVP_MAX_MD_SIZE];
    std::size_t produced = 0;
    const bool ok = EVP_MAC_init(mac, secret.data(), secret.size(), nullptr) == 1 &&
                    EVP_MAC_update(mac, info, n) == 1 &&
                    EVP_MAC_final(mac, block, &produced, sizeof block) == 1 &&
                    produced == secret.size();
    if (ok) {
        std::memcpy(out, block, length);
    }
    OPENSSL_cleanse(block, sizeof block);
    return ok;
}

const EVP_CIPHER* fetch_cipher(int nid, std::size_t& key_length) {
    static EVP_CIPHER* const aes128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
    static EVP_CIPHER* const aes256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    static EVP_CIPHER* const chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    switch (nid) {
    case NID_aes_128_gcm:
        key_length = 16;
        return aes128;
    case NID_aes_256_gcm:
        key_length = 32;
        return aes256;
    case NID_chacha20_poly1305:
        key_length = 32;
        return chacha;
    default:
        return nullptr;
    }
}

void make_nonce(const unsigned char (&iv)[iv_size], std::uint64_t seq,
                unsigned char (&nonce)[iv_size]) {
    std::memcpy(nonce, iv, iv_size);
    for (std::size_t i = 0; i < 8; ++i) {
        nonce[iv_size - 1 - i] ^= static_cast<unsigned char>(seq >> (8 * i));
    }
}

} // namespace

tls13_secrets::~tls13_secrets() {
    OPENSSL_cleanse(read.data(), read.size());
    OPENSSL_cleanse(write.data(), write.size());
}

void watch_tls13_secrets(SSL* ssl, tls13_secrets* secrets) {
    secrets->server = SSL_is_server(ssl) == 1;
    SSL_set_ex_data(ssl, secrets_index(), secrets);
}

void tls13_keylog(const SSL* ssl, const char* line) {
    auto* secrets = static_cast<tls13_secrets*>(SSL_get_ex_data(ssl, secrets_index()));
    if (secrets == nullptr) {
        return;
    }
    // "<label> <client random, hex> <secret, hex>" (NSS's key log format)
    const std::string_view text(line);
    const std::size_t first = text.find(' ');
    const std::size_t second = text.find(' ', first == std::string_view::npos ? first : first + 1);
    if (first == std::string_view::npos || second == std::string_view::npos) {
        return;
    }
    const std::string_view label = text.substr(0, first);
    const bool client_secret = label == "CLIENT_TRAFFIC_SECRET_0";
    if (!client_secret && label != "SERVER_TRAFFIC_SECRET_0") {
        return;
    }
    // The server writes with its own secret and reads with the client's.
    const bool is_read = client_secret == secrets->server;
    std::vector<unsigned char>& into = is_read ? secrets->read : secrets->write;
    if (!from_hex(text.substr(second + 1), into)) {
        into.clear();
        return;
    }
    if (is_read) {
        secrets->read_mark = BIO_number_read(SSL_get_rbio(ssl));
    } else {
        secrets->write_mark = BIO_number_written(SSL_get_wbio(ssl));
    }
}

std::unique_ptr<tls13_records> tls13_records::take_over(SSL* ssl, BIO* rbio, BIO* wbio,
                                                        tls13_secrets& secrets) {
    if (SSL_version(ssl) != TLS1_3_VERSION || secrets.read.empty() || secrets.write.empty()) {
        return nullptr;
    }
    // Exact only if OpenSSL has read no record under the peer's key and holds none it has
    // read, and every record it wrote under this side's key (a server's session tickets)
    // is still in `wbio`, to be counted.
    const std::uint64_t written = BIO_number_written(wbio) - secrets.write_mark;
    char* waiting = nullptr;
    const long waiting_size = BIO_get_mem_data(wbio, &waiting);
    if (BIO_number_read(rbio) != secrets.read_mark || SSL_has_pending(ssl) == 1 ||
        waiting_size < 0 || written > static_cast<std::uint64_t>(waiting_size)) {
        return nullptr;
    }
    std::uint64_t records_written = 0;
    for (std::size_t at = static_cast<std::size_t>(waiting_size - written);
         at < static_cast<std::size_t>(waiting_size);) {
        const auto* h = reinterpret_cast<const unsigned char*>(waiting + at);
        if (static_cast<std::size_t>(waiting_size) - at < header_size ||
            h[0] != type_application_data) {
            return nullptr;
        }
        at += header_size + ((std::size_t{h[3]} << 8) | h[4]);
        if (at > static_cast<std::size_t>(waiting_size)) {
            return nullptr;
        }
        ++records_written;
    }
    const SSL_CIPHER* current = SSL_get_current_cipher(ssl);
    if (current == nullptr) {
        return nullptr;
    }
    // The secrets are as long as the suite's hash, whose HMAC derives the keys.
    const EVP_MD* digest = SSL_CIPHER_get_handshake_digest(current);
    if (digest == nullptr ||
        static_cast<std::size_t>(EVP_MD_get_size(digest)) != secrets.read.size()) {
        return nullptr;
    }
    std::unique_ptr<tls13_records> r =
        make(SSL_CIPHER_get_cipher_nid(current), std::move(secrets.read), std::move(secrets.write),
             secrets.server);
    secrets.read.clear();
    secrets.write.clear();
    if (r == nullptr) {
        return nullptr; // OpenSSL goes on with the connection
    }
    r->tx.seq = records_written;
    // What OpenSSL wrote goes out first; what it has not read is read here.
    if (waiting_size > 0) {
        r->pending_out.resize(static_cast<std::size_t>(waiting_size));
        BIO_read(wbio, r->pending_out.data(), static_cast<int>(waiting_size));
    }
    const std::size_t queued = BIO_ctrl_pending(rbio);
    if (queued > 0) {
        r->in.resize(queued);
        BIO_read(rbio, r->in.data(), static_cast<int>(queued));
    }
    taken_over.fetch_add(1, std::memory_order_relaxed);
    return r;
}

std::unique_ptr<tls13_records> tls13_records::make(int cipher_nid,
                                                   std::vector<unsigned char> read_secret,
                                                   std::vector<unsigned char> write_secret,
                                                   bool server) {
    std::unique_ptr<tls13_records> r(new tls13_records());
    r->cipher = fetch_cipher(cipher_nid, r->key_length);
    if (r->cipher == nullptr || read_secret.size() != write_secret.size()) {
        return nullptr;
    }
    r->server = server;
    r->rx.secret = std::move(read_secret);
    r->tx.secret = std::move(write_secret);
    if (!r->install(r->rx, false) || !r->install(r->tx, true)) {
        ERR_clear_error();
        return nullptr;
    }
    return r;
}

void tls13_records::seal_record(std::uint8_t type, std::span<const char> data, std::string& dst) {
    seal(type, data.data(), data.size(), dst);
}

void tls13_records::key_update(bool request, std::string& dst) {
    seal_key_update(request, dst);
}

tls13_records::~tls13_records() {
    OPENSSL_cleanse(rx.secret.data(), rx.secret.size());
    OPENSSL_cleanse(tx.secret.data(), tx.secret.size());
    EVP_CIPHER_CTX_free(rx.ctx);
    EVP_CIPHER_CTX_free(tx.ctx);
}

void tls13_records::set_key_update_interval(std::uint64_t records) noexcept {
    key_update_interval.store(records, std::memory_order_relaxed);
}

std::uint64_t tls13_records::connections_taken_over() noexcept {
    return taken_over.load(std::memory_order_relaxed);
}

bool tls13_records::install(direction& d, bool encrypt) {
    unsigned char key[32];
    const bool ok = expand_label(d.secret, "key", key, key_length) &&
                    expand_label(d.secret, "iv", d.iv, iv_size) &&
                    (d.ctx != nullptr || (d.ctx = EVP_CIPHER_CTX_new()) != nullptr) &&
                    EVP_CipherInit_ex2(d.ctx, cipher, key, nullptr, encrypt ? 1 : 0, nullptr) == 1;
    OPENSSL_cleanse(key, sizeof key);
    d.seq = 0;
    return ok;
}

bool tls13_records::update_key(direction& d, bool encrypt) {
    std::vector<unsigned char> next(d.secret.size());
    if (!expand_label(d.secret, "traffic upd", next.data(), next.size())) {
        return false;
    }
    OPENSSL_cleanse(d.secret.data(), d.secret.size());
    d.secret = std::move(next);
    return install(d, encrypt);
}

void tls13_records::feed(const char* data, std::size_t n) {
    if (pt_begin == pt_end) {
        pt_begin = pt_end = pos; // everything before `pos` has been read
    }
    const std::size_t done = pt_begin;
    if (done == in.size()) {
        in.clear();
        pt_begin = pt_end = pos = 0;
    } else if (done >= 32 * 1024) {
        in.erase(0, done);
        pt_begin -= done;
        pt_end -= done;
        pos -= done;
    }
    in.append(data, n);
}

std::ptrdiff_t tls13_records::read(std::span<char> into) {
    while (true) {
        if (pt_begin < pt_end) {
            const std::size_t n = std::min(into.size(), pt_end - pt_begin);
            std::memcpy(into.data(), in.data() + pt_begin, n);
            pt_begin += n;
            return static_cast<std::ptrdiff_t>(n);
        }
        if (ended) {
            return 0;
        }
        if (!failed_reason.empty()) {
            return failed;
        }
        const int r = open_one();
        if (r == 0) {
            return need_more;
        }
        if (r < 0) {
            return failed;
        }
    }
}

bool tls13_records::end_is_next() {
    while (pt_begin == pt_end && !ended && failed_reason.empty() && open_one() > 0) {
    }
    return pt_begin == pt_end && ended;
}

int tls13_records::fail(int alert, int reason) {
    failed_reason = openssl_reason(reason);
    if (alert >= 0 && !closed) {
        closed = true;
        const unsigned char body[2] = {2, static_cast<unsigned char>(alert)}; // fatal
        seal(type_alert, reinterpret_cast<const char*>(body), sizeof body, pending_out);
    }
    return -1;
}

int tls13_records::open_one() {
    const std::size_t avail = in.size() - pos;
    if (avail < header_size) {
        return 0;
    }
    auto* h = reinterpret_cast<unsigned char*>(in.data() + pos);
    const std::size_t length = (std::size_t{h[3]} << 8) | h[4];
    if (h[0] != type_application_data) {
        return fail(SSL_AD_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_RECORD);
    }
    if (length > max_ciphertext) {
        return fail(SSL_AD_RECORD_OVERFLOW, SSL_R_ENCRYPTED_LENGTH_TOO_LONG);
    }
    if (length < tag_size + 1) {
        return fail(SSL_AD_BAD_RECORD_MAC, SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC);
    }
    if (avail < header_size + length) {
        return 0;
    }
    unsigned char* body = h + header_size;
    const std::size_t sealed = length - tag_size;
    unsigned char nonce[iv_size];
    make_nonce(rx.iv, rx.seq, nonce);
    OSSL_PARAM tag[] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, body + sealed, tag_size),
        OSSL_PARAM_construct_end()};
    int outl = 0;
    if (EVP_DecryptInit_ex2(rx.ctx, nullptr, nullptr, nonce, nullptr) != 1 ||
        EVP_DecryptUpdate(rx.ctx, nullptr, &outl, h, header_size) != 1 ||
        EVP_DecryptUpdate(rx.ctx, body, &outl, body, static_cast<int>(sealed)) != 1 ||
        EVP_CIPHER_CTX_set_params(rx.ctx, tag) != 1 ||
        EVP_DecryptFinal_ex(rx.ctx, body + sealed, &outl) != 1) {
        ERR_clear_error();
        return fail(SSL_AD_BAD_RECORD_MAC, SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC);
    }
    ++rx.seq;
    // The inner plaintext: content, its type, zeros.
    std::size_t end = sealed;
    while (end > 0 && body[end - 1] == 0) {
        --end;
    }
    if (end == 0) {
        return fail(SSL_AD_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_RECORD);
    }
    const unsigned char type = body[end - 1];
    const std::size_t size = end - 1;
    if (size > max_plaintext) {
        return fail(SSL_AD_RECORD_OVERFLOW, SSL_R_DATA_LENGTH_TOO_LONG);
    }
    const std::size_t start = pos + header_size;
    pos += header_size + length;
    if (!handshake.empty() && type != type_handshake) {
        // a handshake message split across records must not be interleaved (§5.1)
        return fail(SSL_AD_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_RECORD);
    }
    switch (type) {
    case type_application_data:
        pt_begin = start;
        pt_end = start + size;
        return 1;
    case type_alert:
        if (size != 2) {
            return fail(SSL_AD_DECODE_ERROR, SSL_R_BAD_LENGTH);
        }
        if (body[1] == SSL_AD_CLOSE_NOTIFY) {
            ended = true;
            return 1;
        }
        if (body[1] == SSL_AD_USER_CANCELLED) {
            return 1; // a warning; close_notify follows
        }
        // The peer's fatal alert, in OpenSSL's words ("tlsv1 alert decrypt error").
        failed_reason = openssl_reason(SSL_AD_REASON_OFFSET + body[1]);
        return -1;
    case type_handshake:
        if (size == 0) {
            return fail(SSL_AD_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_RECORD);
        }
        handshake.append(reinterpret_cast<const char*>(body), size);
        return handshake_messages();
    default:
        return fail(SSL_AD_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_RECORD);
    }
}

int tls13_records::handshake_messages() {
    std::size_t off = 0;
    while (handshake.size() - off >= 4) {
        const auto* m = reinterpret_cast<const unsigned char*>(handshake.data() + off);
        const std::size_t length =
            (std::size_t{m[1]} << 16) | (std::size_t{m[2]} << 8) | std::size_t{m[3]};
        if (length > max_handshake_message) {
            return fail(SSL_AD_ILLEGAL_PARAMETER, SSL_R_EXCESSIVE_MESSAGE_SIZE);
        }
        if (handshake.size() - off - 4 < length) {
            break; // the rest comes in the next record
        }
        switch (m[0]) {
        case message_new_session_ticket:
            // corio's client does not resume sessions: a ticket is not kept
            if (server) {
                return fail(SSL_AD_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_MESSAGE);
            }
            break;
        case message_key_update: {
            if (length != 1 || m[4] > 1) {
                return fail(length != 1 ? SSL_AD_DECODE_ERROR : SSL_AD_ILLEGAL_PARAMETER,
                            SSL_R_BAD_KEY_UPDATE);
            }
            if (off + 5 != handshake.size()) {
                return fail(SSL_AD_UNEXPECTED_MESSAGE, SSL_R_NOT_ON_RECORD_BOUNDARY);
            }
            const bool requested = m[4] == 1;
            if (!update_key(rx, false)) {
                ERR_clear_error();
                return fail(SSL_AD_INTERNAL_ERROR, SSL_R_BAD_KEY_UPDATE);
            }
            if (requested && !closed) {
                seal_key_update(false, pending_out);
            }
            break;
        }
        default:
            // post-handshake authentication was not offered
            return fail(SSL_AD_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_MESSAGE);
        }
        off += 4 + length;
    }
    handshake.erase(0, off);
    return 1;
}

void tls13_records::seal(std::uint8_t type, const char* data, std::size_t n, std::string& dst) {
    const std::size_t length = n + 1 + tag_size;
    const std::size_t at = dst.size();
    dst.resize(at + header_size + length);
    auto* h = reinterpret_cast<unsigned char*>(dst.data() + at);
    h[0] = type_application_data;
    h[1] = 3;
    h[2] = 3;
    h[3] = static_cast<unsigned char>(length >> 8);
    h[4] = static_cast<unsigned char>(length);
    unsigned char* body = h + header_size;
    std::memcpy(body, data, n);
    body[n] = type;
    unsigned char nonce[iv_size];
    make_nonce(tx.iv, tx.seq, nonce);
    OSSL_PARAM tag[] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, body + n + 1, tag_size),
        OSSL_PARAM_construct_end()};
    int outl = 0;
    if (EVP_EncryptInit_ex2(tx.ctx, nullptr, nullptr, nonce, nullptr) != 1 ||
        EVP_EncryptUpdate(tx.ctx, nullptr, &outl, h, header_size) != 1 ||
        EVP_EncryptUpdate(tx.ctx, body, &outl, body, static_cast<int>(n + 1)) != 1 ||
        EVP_EncryptFinal_ex(tx.ctx, body + n + 1, &outl) != 1 ||
        EVP_CIPHER_CTX_get_params(tx.ctx, tag) != 1) {
        dst.resize(at);
        std::string reason = take_openssl_reason();
        throw tls_error("tls: sealing a record: " + reason, reason);
    }
    ++tx.seq;
}

void tls13_records::seal_key_update(bool request, std::string& dst) {
    const char message[5] = {static_cast<char>(message_key_update), 0, 0, 1,
                             static_cast<char>(request ? 1 : 0)};
    seal(type_handshake, message, sizeof message, dst);
    if (!update_key(tx, true)) {
        std::string reason = take_openssl_reason();
        throw tls_error("tls: a key update: " + reason, reason);
    }
}

void tls13_records::write(std::span<const char> data, std::string& dst) {
    const std::size_t records = (data.size() + max_plaintext - 1) / max_plaintext;
    dst.reserve(dst.size() + data.size() + records * (header_size + 1 + tag_size));
    for (std::size_t off = 0; off < data.size();) {
        if (tx.seq >= key_update_interval.load(std::memory_order_relaxed)) {
            seal_key_update(false, dst);
        }
        const std::size_t n = std::min(max_plaintext, data.size() - off);
        seal(type_application_data, data.data() + off, n, dst);
        off += n;
    }
}

void tls13_records::close_notify(std::string& dst) {
    if (closed) {
        return;
    }
    closed = true;
    const char body[2] = {1, 0}; // warning, close_notify
    seal(type_alert, body, sizeof body, dst);
}

} // namespace corio::detail
