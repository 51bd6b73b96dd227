#pragma once
/// \file
/// `http::url`: parsing, printing and resolving http URLs (RFC 3986), for the client and
/// for programs (the crawler) that follow links.
///
/// ```cpp
/// auto base = corio::http::url::parse("http://example.com/a/b.html");
/// auto next = base.resolve("../c.html#top");   // http://example.com/c.html
/// ```

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace corio::http {

/// An absolute http (or https) URL, split into its parts. The fragment is dropped.
struct url {
    std::string scheme = "http"; ///< lower case
    std::string host;            ///< lower case; an IPv6 literal without its brackets
    std::uint16_t port = 80;     ///< the scheme's default when the URL has none
    std::string target = "/";    ///< path and query, never empty ("/", "/a?b=c")

    /// Parse an absolute URL ("http://host[:port][/path][?query][#fragment]").
    /// \throws std::invalid_argument naming the URL and what is wrong with it.
    static url parse(std::string_view text);
    /// Parse, or nullopt where `parse` would throw.
    static std::optional<url> try_parse(std::string_view text) noexcept;

    /// The reference `ref` (absolute, "//host/...", "/path", "path", "?q", "#f") resolved
    /// against this URL as RFC 3986 §5.2 says, dot segments removed. nullopt for a
    /// reference that is not http(s) ("mailto:", "javascript:") or is malformed.
    [[nodiscard]] std::optional<url> resolve(std::string_view ref) const;

    /// "host" or "host:port" (the port only when not the default), brackets around IPv6:
    /// the value of a Host header.
    [[nodiscard]] std::string authority() const;
    /// The URL as text: scheme://authority/target.
    [[nodiscard]] std::string str() const;

    friend bool operator==(const url&, const url&) = default;
};

} // namespace corio::http
