#pragma once
/// \file
/// `corio_crawl::site`: a generated web site for corio-crawl to crawl, served with
/// `corio::http::serve`. Deterministic from a seed, and aware of its own ground truth (its
/// pages, the redirects and broken links planted in it, the off-host links it holds), so a
/// crawl of it can be checked.
///
/// ```cpp
/// corio_crawl::site s({.pages = 300});
/// corio::server srv = co_await corio::http::serve(s.handler(), "127.0.0.1", 0);
/// // crawl http://127.0.0.1:<srv.port()>/ and compare with s.page_paths(), ...
/// ```
///
/// What is in it:
/// - `pages` HTML pages: "/" and "/s<k>/p<i>.html" or "/s<k>/d/p<i>.html". Page i links to
///   pages 4i+1 .. 4i+4 (so every page is reachable from "/"), back to page (i-1)/4, and to
///   `links_per_page` pages picked at random. Links come in every form a crawler must
///   resolve: absolute paths, absolute URLs, scheme-relative "//host:port/..." URLs,
///   relative paths with and without "./", "../" (and more "../" than there are
///   directories), "#fragment" suffixes, single and double quotes, upper-case tags. Each
///   page also carries a `<link href>` to a stylesheet that does
///   not exist and a commented-out `<a>`: a crawler that follows either reports a 404
///   nobody planted.
/// - Redirects: "/old/<j>.html" answers 301 or 302 with a Location that is an absolute
///   path, a relative path or an absolute URL; "/go/<j>" answers 302 to "hop<j>.html"
///   (relative), which answers 301 to a page: a chain of two.
/// - Broken links: links to paths that answer 404.
/// - Links to leave alone: other hosts (over http or https), the same host on another
///   port, mailto:, tel:, javascript:, ftp:.
/// - Slow pages: a `slow_fraction` of the pages answer after a delay (`corio::sleep`), and
///   `stalled` pages answer only after `stall_delay` (an hour by default: they time out).

#include <corio/event_loop.hpp>
#include <corio/http/message.hpp>
#include <corio/http/server.hpp>
#include <corio/task.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace corio_crawl {

/// The shape of a generated site.
struct site_options {
    /// HTML pages, "/" included (at least 1).
    std::size_t pages = 3000;
    /// Everything random about the site comes from this seed.
    std::uint64_t seed = 1;
    /// Links from each page to pages picked at random, besides the tree links.
    std::size_t links_per_page = 4;
    /// Single redirects ("/old/<j>.html"); -1: one per 60 pages, at least 4.
    long redirects = -1;
    /// Chains of two redirects ("/go/<j>" → "/go/hop<j>.html" → a page); -1: one per 300
    /// pages, at least 1.
    long redirect_chains = -1;
    /// Links to pages that do not exist (404); -1: one per 100 pages, at least 2.
    long missing = -1;
    /// The share of pages (0 to 1) that answer after a delay in [slow_min, slow_max].
    double slow_fraction = 0.05;
    corio::clock::duration slow_min = std::chrono::milliseconds(20);
    corio::clock::duration slow_max = std::chrono::milliseconds(100);
    /// Pages (leaves of the link tree, so nothing else is reachable only through them)
    /// that answer only after `stall_delay`.
    std::size_t stalled = 0;
    corio::clock::duration stall_delay = std::chrono::hours(1);
    /// The scheme of the site's absolute links and redirects: "http", or "https" when it
    /// is served over TLS.
    std::string scheme = "http";
};

/// A generated site. Serve it with `corio::http::serve(s.handler(), ...)`; the site must
/// outlive the server. Paths below are request paths ("/s3/p12.html").
class site {
public:
    /// Generate the site. \throws std::invalid_argument if `options.pages` is 0 or
    /// `slow_fraction` is not within [0, 1].
    explicit site(site_options options = {});

    /// The request handler (it refers to this site).
    [[nodiscard]] corio::http::handler handler();

    /// Every path that answers 200 with an HTML page, "/" first (stalled pages included).
    [[nodiscard]] std::vector<std::string> page_paths() const;
    /// The paths that answer with a redirect (both hops of each chain).
    [[nodiscard]] std::vector<std::string> redirect_paths() const;
    /// The linked paths that answer 404.
    [[nodiscard]] std::vector<std::string> missing_paths() const;
    /// The paths of the pages that answer only after `stall_delay`.
    [[nodiscard]] std::vector<std::string> stalled_paths() const;
    /// Links, counted over every page (once per occurrence), to http URLs of another host
    /// or port.
    [[nodiscard]] std::size_t offhost_links() const noexcept { return m_offhost_links; }
    /// Links, counted over every page, that are not http at all (https, mailto:,
    /// javascript:).
    [[nodiscard]] std::size_t foreign_links() const noexcept { return m_foreign_links; }
    [[nodiscard]] const site_options& options() const noexcept { return m_options; }

    /// Requests served so far, for each path asked for (found or not).
    [[nodiscard]] const std::map<std::string, std::size_t>& hits() const noexcept { return m_hits; }
    /// Requests served so far in all.
    [[nodiscard]] std::size_t total_hits() const noexcept { return m_total_hits; }

private:
    /// How a link is written in the page.
    enum class link_form : std::uint8_t {
        absolute_path,   ///< "/s3/p12.html"
        absolute_url,    ///< "http://host:port/s3/p12.html"
        scheme_relative, ///< "//host:port/s3/p12.html"
        relative,        ///< "p12.html", "../s3/p12.html"
        dot_relative,    ///< "./p12.html", "./../s3/p12.html"
        too_many_ups,    ///< "../../../../s3/p12.html": the extra ".." stop at the root
        verbatim,        ///< `text` as it is (off-host and non-http links)
    };
    struct link {
        std::string target; ///< a path, or the whole href for `verbatim`
        link_form form = link_form::absolute_path;
        bool fragment = false;
        bool single_quotes = false;
        bool upper_case = false;
        std::string label;
    };
    struct page {
        std::string path;
        std::vector<link> links;
        corio::clock::duration delay{};
        bool stalled = false;
    };
    struct redirect {
        int status = 301;
        std::string location;      ///< a path, or relative to the redirect's own path
        bool absolute_url = false; ///< send "http://host:port" + location
    };

    corio::task<corio::http::response> handle(corio::http::request& req);
    [[nodiscard]] std::string render(const page& p, std::string_view authority) const;
    [[nodiscard]] std::string href(const page& from, const link& l,
                                   std::string_view authority) const;

    site_options m_options;
    std::vector<page> m_pages;
    std::unordered_map<std::string, std::size_t> m_page_index;
    std::map<std::string, redirect> m_redirects;
    std::vector<std::string> m_missing;
    std::size_t m_offhost_links = 0;
    std::size_t m_foreign_links = 0;
    std::map<std::string, std::size_t> m_hits;
    std::size_t m_total_hits = 0;
};

/// "a/b/c.html" relative to the directory of `from`: the reference that, resolved against
/// `from`, gives `to` (both absolute paths). `dot`: start with "./".
[[nodiscard]] std::string relative_reference(std::string_view from, std::string_view to,
                                             bool dot = false);

} // namespace corio_crawl
