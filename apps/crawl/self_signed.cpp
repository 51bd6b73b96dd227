// A self-signed certificate with OpenSSL 3's EVP and X509 calls.

#include "self_signed.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace corio_crawl {

namespace {

struct key_free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct x509_free {
    void operator()(X509* x) const { X509_free(x); }
};

void check(bool ok, const char* step) {
    if (!ok) {
        throw std::runtime_error(std::string("self-signed certificate: ") + step + " failed");
    }
}

bool is_ip(const std::string& name) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, name.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

void add_extension(X509* x, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    check(e != nullptr, "an extension");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

void write_pem(const std::string& path, const auto& write) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    check(f != nullptr, "opening a PEM file");
    const bool ok = write(f) == 1;
    check(std::fclose(f) == 0 && ok, "writing a PEM file");
}

} // namespace

self_signed_certificate::self_signed_certificate(const std::vector<std::string>& names) {
    check(!names.empty(), "a certificate without names");
    char tmpl[] = "/tmp/corio-crawl-tls-XXXXXX";
    check(::mkdtemp(tmpl) != nullptr, "mkdtemp");
    m_dir = tmpl;
    m_cert = m_dir + "/cert.pem";
    m_key = m_dir + "/key.pem";
    try {
        std::unique_ptr<EVP_PKEY, key_free> key(EVP_EC_gen("P-256"));
        check(key != nullptr, "making a key");
        std::unique_ptr<X509, x509_free> x(X509_new());
        check(x != nullptr, "X509_new");
        X509_set_version(x.get(), 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
        X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x.get()), 30L * 86400);
        X509_set_pubkey(x.get(), key.get());
        X509_NAME* name = X509_get_subject_name(x.get());
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("corio-crawl"), -1, -1,
                                   0);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(names.front().c_str()),
                                   -1, -1, 0);
        X509_set_issuer_name(x.get(), name);
        std::string alt;
        for (const std::string& n : names) {
            alt += (alt.empty() ? "" : ",") + std::string(is_ip(n) ? "IP:" : "DNS:") + n;
        }
        add_extension(x.get(), NID_basic_constraints, "critical,CA:TRUE");
        add_extension(x.get(), NID_subject_key_identifier, "hash");
        add_extension(x.get(), NID_subject_alt_name, alt);
        check(X509_sign(x.get(), key.get(), EVP_sha256()) != 0, "signing");
        write_pem(m_cert, [&](std::FILE* f) { return PEM_write_X509(f, x.get()); });
        write_pem(m_key, [&](std::FILE* f) {
            return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
        });
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove_all(m_dir, ec);
        throw;
    }
}

self_signed_certificate::~self_signed_certificate() {
    std::error_code ec;
    std::filesystem::remove_all(m_dir, ec);
}

} // namespace corio_crawl
