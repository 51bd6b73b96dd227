#pragma once
// Certificates for TLS tests, made with OpenSSL when a test first asks: a CA, and leaf
// certificates it signs (for localhost and 127.0.0.1/::1, expired, for another host) plus a
// self-signed one, as PEM files in a temporary directory removed at exit.

#include <corio/net/tls.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace corio_test {

struct cert_files {
    std::string cert;
    std::string key;
};

class test_pki {
public:
    test_pki() {
        char tmpl[] = "/tmp/corio-pki-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        dir = tmpl;
        key_ptr ca_key(EVP_EC_gen("P-256"));
        x509_ptr ca =
            make(ca_key.get(), "corio test CA", nullptr, nullptr, "", -3600, 86400 * 30, true);
        ca_file = dir + "/ca.pem";
        write_cert(ca.get(), ca_file);
        const std::string names = "DNS:localhost,IP:127.0.0.1,IP:::1";
        localhost = leaf("localhost", ca.get(), ca_key.get(), names, -3600, 86400 * 30);
        expired = leaf("expired", ca.get(), ca_key.get(), names, -86400 * 10, -86400);
        other_host = leaf("other", ca.get(), ca_key.get(), "DNS:other.test", -3600, 86400 * 30);
        self_signed = leaf("self", nullptr, nullptr, names, -3600, 86400 * 30);
    }
    test_pki(const test_pki&) = delete;
    test_pki& operator=(const test_pki&) = delete;
    ~test_pki() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    std::string dir;
    /// The CA that signs every leaf but `self_signed`.
    std::string ca_file;
    /// CN=localhost, for localhost, 127.0.0.1 and ::1.
    cert_files localhost;
    /// The same names, valid until yesterday.
    cert_files expired;
    /// For other.test only.
    cert_files other_host;
    /// For localhost, signed by its own key.
    cert_files self_signed;

private:
    struct key_free {
        void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
    };
    struct x509_free {
        void operator()(X509* x) const { X509_free(x); }
    };
    using key_ptr = std::unique_ptr<EVP_PKEY, key_free>;
    using x509_ptr = std::unique_ptr<X509, x509_free>;

    static void add_ext(X509* x, X509* issuer, int nid, const char* value) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
        X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
        if (e == nullptr) {
            throw std::runtime_error(std::string("test certificate extension: ") + value);
        }
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }

    static x509_ptr make(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                         const std::string& names, long not_before, long not_after, bool ca) {
        static long serial = 1;
        x509_ptr x(X509_new());
        X509_set_version(x.get(), 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
        X509_gmtime_adj(X509_getm_notBefore(x.get()), not_before);
        X509_gmtime_adj(X509_getm_notAfter(x.get()), not_after);
        X509_set_pubkey(x.get(), key);
        X509_NAME* name = X509_get_subject_name(x.get());
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("corio"), -1, -1, 0);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
        X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
        add_ext(x.get(), issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
        add_ext(x.get(), issuer, NID_subject_key_identifier, "hash");
        if (issuer != nullptr) {
            add_ext(x.get(), issuer, NID_authority_key_identifier, "keyid:always");
        }
        if (ca) {
            add_ext(x.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
        } else {
            add_ext(x.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth");
        }
        if (!names.empty()) {
            add_ext(x.get(), issuer, NID_subject_alt_name, names.c_str());
        }
        if (X509_sign(x.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) {
            throw std::runtime_error("signing a test certificate failed");
        }
        return x;
    }

    void write_cert(X509* x, const std::string& path) const {
        std::FILE* f = std::fopen(path.c_str(), "w");
        PEM_write_X509(f, x);
        std::fclose(f);
    }

    cert_files leaf(const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                    const std::string& names, long not_before, long not_after) {
        key_ptr key(EVP_EC_gen("P-256"));
        x509_ptr x =
            make(key.get(), cn == "self" || cn == "expired" || cn == "other" ? "localhost" : cn,
                 issuer, issuer_key, names, not_before, not_after, false);
        cert_files files{dir + "/" + cn + ".pem", dir + "/" + cn + ".key"};
        write_cert(x.get(), files.cert);
        std::FILE* f = std::fopen(files.key.c_str(), "w");
        PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
        std::fclose(f);
        return files;
    }
};

/// The process's test certificates, made on first use.
inline const test_pki& pki() {
    static const test_pki instance;
    return instance;
}

/// A client context that trusts the test CA (hostnames checked, as tls_context::client()).
inline corio::tls_context client_context() {
    corio::tls_context ctx = corio::tls_context::client();
    ctx.load_verify_locations(pki().ca_file);
    return ctx;
}

/// A server context presenting `files` (the CA-signed localhost certificate by default).
inline corio::tls_context server_context(const cert_files& files = pki().localhost) {
    return corio::tls_context::server(files.cert, files.key);
}

} // namespace corio_test
