#pragma once
/// \file
/// A self-signed certificate made on the spot, for `corio-crawl --tls`, which serves its
/// generated site over https and crawls it, trusting that certificate alone.

#include <string>
#include <vector>

namespace corio_crawl {

/// A self-signed certificate (EC P-256, SHA-256) for `names` (host names and IP
/// addresses, the first also its CN), valid from an hour ago for 30 days, and its key, as
/// PEM files in a new directory under /tmp that the destructor removes.
class self_signed_certificate {
public:
    /// \throws std::runtime_error (naming the step) if OpenSSL or the files fail.
    explicit self_signed_certificate(const std::vector<std::string>& names);
    self_signed_certificate(const self_signed_certificate&) = delete;
    self_signed_certificate& operator=(const self_signed_certificate&) = delete;
    ~self_signed_certificate();

    [[nodiscard]] const std::string& cert_file() const noexcept { return m_cert; }
    [[nodiscard]] const std::string& key_file() const noexcept { return m_key; }

private:
    std::string m_dir;
    std::string m_cert;
    std::string m_key;
};

} // namespace corio_crawl
