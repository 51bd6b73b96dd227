#pragma once
/// \file
/// `corio_crawl::robots_txt`: the rules a robots.txt file (RFC 9309, the Robots Exclusion
/// Protocol) sets for one crawler. A pure class: text in, rules out; fetching the file is
/// the crawler's business.
///
/// ```cpp
/// auto rules = corio_crawl::robots_txt::parse(body, "corio-crawl/1.0");
/// if (rules.allowed("/private/page.html?x=1")) { ... }
/// if (auto delay = rules.crawl_delay()) { ... delay->count() seconds ... }
/// ```
///
/// How a file is read (RFC 9309 §2, and Google's robots.txt specification where the RFC
/// leaves a choice):
/// - Lines end with LF, CR or CRLF; `#` starts a comment; a UTF-8 byte order mark is
///   skipped. A line is `key: value`; keys are matched ignoring case, and the common
///   misspellings Google accepts (`useragent`, `user agent`, `dissallow`, `disalow`, ...)
///   are accepted too. Lines without a colon, and keys not known, are ignored (`Sitemap`).
///   Only the first `max_size` bytes are read (the RFC asks for at least 500 KiB).
/// - Groups: one or more consecutive `User-agent` lines, then the rules under them. A
///   `User-agent` line after a rule starts a new group; other lines (`Sitemap`) do not
///   end a group. Rules before the first `User-agent` line belong to no group.
/// - The group that applies: every group naming the crawler's product token (the
///   `User-agent` value up to its first character that is not a letter, `-` or `_`,
///   compared ignoring case), their rules combined; if there is none, every `*` group,
///   combined; if there is none either, nothing is disallowed. A group naming the crawler
///   with no rules at all allows everything.
/// - `Allow` and `Disallow` values are path patterns: `*` matches any run of characters
///   and a `$` at the end anchors the pattern to the end of the path (a `$` elsewhere is an
///   ordinary character). An empty value is no rule. A URL's path and query are matched
///   from their start; the matching rule with the longest pattern wins, and `Allow` wins a
///   tie. No matching rule: allowed. `/robots.txt` itself is always allowed.
/// - Patterns and paths are compared after the same normalisation (RFC 3986 §6.2.2):
///   bytes outside printable ASCII are percent-encoded, `%xx` escapes get upper-case hex
///   digits, and an escape of an unreserved character (letters, digits, `-._~`) is
///   decoded. So `/caf%C3%A9`, `/café` and `/%63af%c3%a9` are one path, while `%2F` stays
///   distinct from `/`.
/// - `Crawl-delay` (not in RFC 9309, but widely used): seconds, maybe fractional (`0.5`),
///   in the group that applies; the largest if it is given more than once. A value that
///   is not a non-negative number is ignored.
///
/// Python's `urllib.robotparser` reads files differently: the first matching rule in file
/// order wins (not the longest), `*` and `$` in paths are not wildcards, and a user agent
/// matches a group when the group's name is a substring of it. Where they disagree this
/// class follows RFC 9309 (docs/crawler.md lists the cases).

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corio_crawl {

/// The rules of one robots.txt file for one crawler.
class robots_txt {
public:
    /// The most bytes of a file that are read; the rest is ignored (RFC 9309 §2.5).
    static constexpr std::size_t max_size = 500 * 1024;

    /// One `Allow` or `Disallow` line of the group that applies.
    struct rule {
        bool allow = false;
        /// The pattern, normalised (see the file's comment).
        std::string pattern;
        friend bool operator==(const rule&, const rule&) = default;
    };

    /// Which groups of the file apply to the crawler.
    enum class group : unsigned char {
        none,  ///< no group names it or `*`: nothing disallowed
        any,   ///< the `*` groups
        named, ///< the groups naming its product token
    };

    /// No rules: everything allowed (a robots.txt that answered 404, or none read).
    robots_txt() = default;

    /// The rules `text` sets for the crawler whose User-Agent is `user_agent` (its product
    /// token, "corio-crawl" in "corio-crawl/1.0 (+https://example.com/bot)", is what
    /// groups are matched against). Never throws for any text (a malformed line is
    /// ignored); only its first `max_size` bytes are read.
    [[nodiscard]] static robots_txt parse(std::string_view text, std::string_view user_agent);
    /// Everything allowed.
    [[nodiscard]] static robots_txt allow_all() { return {}; }
    /// Nothing allowed (but `/robots.txt`): what an unreachable robots.txt means.
    [[nodiscard]] static robots_txt disallow_all();

    /// Whether the crawler may fetch `path_and_query` ("/a/b.html?c=d", a URL's target;
    /// "" counts as "/").
    [[nodiscard]] bool allowed(std::string_view path_and_query) const;
    /// The Crawl-delay of the groups that apply, if they give one.
    [[nodiscard]] std::optional<std::chrono::duration<double>> crawl_delay() const noexcept {
        return m_crawl_delay;
    }
    /// The rules that apply, in file order.
    [[nodiscard]] const std::vector<rule>& rules() const noexcept { return m_rules; }
    /// Which groups applied.
    [[nodiscard]] group applied_group() const noexcept { return m_group; }

private:
    std::vector<rule> m_rules;
    std::optional<std::chrono::duration<double>> m_crawl_delay;
    group m_group = group::none;
};

/// The product token of a User-Agent: its leading letters, `-` and `_` ("corio-crawl" for
/// "corio-crawl/1.0 (+https://example.com/)"), as robots.txt groups and robots meta tags
/// name a crawler.
[[nodiscard]] std::string_view product_token(std::string_view user_agent) noexcept;

/// `path` (or a pattern) normalised for robots.txt matching: bytes outside printable
/// ASCII percent-encoded, escapes in upper case, escapes of unreserved characters decoded.
[[nodiscard]] std::string normalize_robots_path(std::string_view path);

/// Whether robots.txt `pattern` (normalised) matches the start of `path` (normalised): `*`
/// matches any run of characters, a final `$` the end of the path.
[[nodiscard]] bool robots_pattern_matches(std::string_view pattern, std::string_view path);

} // namespace corio_crawl
