#pragma once
/// \file
/// Finding the links of an HTML page: the `href` of every `<a>` tag, with what the page
/// says about following them (`rel="nofollow"`, `<meta name="robots">`).

#include <string>
#include <string_view>
#include <vector>

namespace corio_crawl {

/// The `href` values of the `<a>` tags of `html`, in order, as written (not resolved).
///
/// A scanner, not a parser: it finds tags by their '<', skips comments (`<!-- ... -->`)
/// and the contents of `<script>` and `<style>`, reads the attributes of each `<a>` tag
/// (tag and attribute names in any case; values in double quotes, single quotes or none),
/// trims the value, and decodes the entities `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;`
/// and `&apos;` in it. Other tags (`<link href>`, `<area href>`) are ignored, and so is an
/// `<a>` without an `href`. Malformed HTML gives whatever links could be found.
[[nodiscard]] std::vector<std::string> extract_links(std::string_view html);

/// What a page says about crawling it: the directives of a robots meta tag
/// (`<meta name="robots" content="noindex, nofollow">`) or an `X-Robots-Tag` header.
struct robots_directives {
    /// Do not follow the page's links (`nofollow`, or `none`).
    bool nofollow = false;
    /// Do not index the page (`noindex`, or `none`). A crawler only reports it.
    bool noindex = false;
};

/// The directives of a robots meta tag's `content`: a list separated by commas (or
/// spaces), names in any case; `none` is `noindex, nofollow`, and anything else
/// (`all`, `noarchive`, `max-snippet:20`) changes nothing.
[[nodiscard]] robots_directives parse_robots_directives(std::string_view content);

/// The directives of the `X-Robots-Tag` header fields `values` that concern the crawler
/// named `robots_name` (its product token): a field is either a list of directives for
/// every crawler, or one for a crawler named before a colon (`X-Robots-Tag: otherbot:
/// nofollow`), which counts only if that is `robots_name` (ignoring case).
[[nodiscard]] robots_directives x_robots_tag(const std::vector<std::string_view>& values,
                                             std::string_view robots_name);

/// One `<a href>` link of a page.
struct page_link {
    /// The `href`, as `extract_links` gives it.
    std::string href;
    /// The tag's `rel` lists `nofollow` (a list separated by spaces, names in any case).
    bool nofollow = false;
};

/// What `scan_page` finds in a page.
struct page_scan {
    /// Every `<a href>`, in order (those `extract_links` gives).
    std::vector<page_link> links;
    /// The directives of the page's robots meta tags, combined: `<meta name="robots">`, and
    /// `<meta name="NAME">` where NAME is the crawler's product token (`robots_name`).
    robots_directives robots;
};

/// The links of `html` with their `rel="nofollow"`, and its robots meta tags, scanned as
/// `extract_links` does (a `<meta>` inside a comment or a script does not count).
/// `robots_name`: the crawler's product token ("corio-crawl"), for meta tags naming it;
/// empty for `name="robots"` alone.
[[nodiscard]] page_scan scan_page(std::string_view html, std::string_view robots_name = {});

} // namespace corio_crawl
