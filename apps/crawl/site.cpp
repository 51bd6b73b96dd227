#include "site.hpp"

#include <corio/sleep.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace corio_crawl {

namespace {

/// splitmix64: a small generator whose sequence is the same on every platform (the
/// standard distributions are not), so a seed gives the same site everywhere.
class rng {
public:
    explicit rng(std::uint64_t seed) : m_state(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (m_state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    /// A number in [0, n); n > 0.
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    /// True with probability p.
    bool chance(double p) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }

private:
    std::uint64_t m_state;
};

/// Links to other hosts (or the same host on another port: "@other-port").
constexpr const char* offhost_hrefs[] = {
    "http://example.com/", "http://example.com/s1/p1.html#top", "//example.net/elsewhere.html",
    "@other-port",         "https://example.org/secure.html",
};
/// Links that are not http or https.
constexpr const char* foreign_hrefs[] = {
    "tel:+15555550100",
    "mailto:webmaster@example.com",
    "javascript:void(0)",
    "ftp://example.com/file.txt",
};

std::size_t resolve_count(long requested, std::size_t per, std::size_t minimum, std::size_t pages) {
    if (requested >= 0) {
        return static_cast<std::size_t>(requested);
    }
    return std::max(minimum, pages / per);
}

/// The directory part of an absolute path, with its trailing '/': "/a/b.html" → "/a/".
std::string_view directory_of(std::string_view path) {
    return path.substr(0, path.rfind('/') + 1);
}

/// "host:port" → "host" (keeps "[v6]" whole); the port, if any, into `port`.
std::string_view host_of(std::string_view authority, std::optional<unsigned>& port) {
    const std::size_t colon = authority.rfind(':');
    if (colon == std::string_view::npos || authority.find(']', colon) != std::string_view::npos) {
        return authority;
    }
    unsigned p = 0;
    for (char c : authority.substr(colon + 1)) {
        if (c < '0' || c > '9') {
            return authority;
        }
        p = p * 10 + static_cast<unsigned>(c - '0');
    }
    port = p;
    return authority.substr(0, colon);
}

std::string html_page(std::string_view title, std::string_view text) {
    std::string out = "<!DOCTYPE html>\n<html>\n<head><title>";
    out += title;
    out += "</title></head>\n<body>\n<h1>";
    out += title;
    out += "</h1>\n<p>";
    out += text;
    out += "</p>\n</body>\n</html>\n";
    return out;
}

constexpr std::string_view filler =
    "This page was generated for corio-crawl. Every page of this site links to a few "
    "others, in every form a link can take: absolute and relative paths, dot segments, "
    "fragments, whole URLs. Some links lead elsewhere and must be left alone.";

} // namespace

std::string relative_reference(std::string_view from, std::string_view to, bool dot) {
    const std::string_view from_dir = directory_of(from);
    const std::string_view to_dir = directory_of(to);
    // The longest common directory prefix, ending at a '/'.
    std::size_t common = 0;
    for (std::size_t i = 0; i < from_dir.size() && i < to_dir.size(); ++i) {
        if (from_dir[i] != to_dir[i]) {
            break;
        }
        if (from_dir[i] == '/') {
            common = i + 1;
        }
    }
    std::string out = dot ? "./" : "";
    const std::size_t ups = static_cast<std::size_t>(
        std::count(from_dir.begin() + static_cast<std::ptrdiff_t>(common), from_dir.end(), '/'));
    for (std::size_t i = 0; i < ups; ++i) {
        out += "../";
    }
    out += to.substr(common);
    if (out.empty()) {
        out = "./"; // `to` is the directory of `from` itself
    }
    return out;
}

site::site(site_options options) : m_options(std::move(options)) {
    const site_options& o = m_options;
    if (o.pages == 0) {
        throw std::invalid_argument("site: pages must be at least 1");
    }
    if (!(o.slow_fraction >= 0.0 && o.slow_fraction <= 1.0)) {
        throw std::invalid_argument("site: slow_fraction must be within [0, 1]");
    }
    if (o.slow_max < o.slow_min) {
        throw std::invalid_argument("site: slow_max is less than slow_min");
    }
    rng random(o.seed);
    const std::size_t n = o.pages;
    const std::size_t sections = std::max<std::size_t>(1, (n + 99) / 100);

    m_pages.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        page& p = m_pages[i];
        if (i == 0) {
            p.path = "/";
        } else {
            p.path = "/s" + std::to_string(i % sections) + (i % 4 == 0 ? "/d" : "") + "/p" +
                     std::to_string(i) + ".html";
        }
        m_page_index.emplace(p.path, i);
    }

    // Slow pages (never "/": the crawl would wait for it before anything else).
    const auto slow_span = o.slow_max - o.slow_min;
    for (std::size_t i = 1; i < n; ++i) {
        if (random.chance(o.slow_fraction)) {
            const auto extra = slow_span.count() > 0
                                   ? static_cast<corio::clock::duration::rep>(random.below(
                                         static_cast<std::size_t>(slow_span.count()) + 1))
                                   : 0;
            m_pages[i].delay = o.slow_min + corio::clock::duration(extra);
        }
    }

    // Stalled pages: leaves of the link tree (no child i*4+1 within the site).
    if (o.stalled > 0) {
        std::vector<std::size_t> leaves;
        for (std::size_t i = 1; i < n; ++i) {
            if (i * 4 + 1 >= n) {
                leaves.push_back(i);
            }
        }
        if (o.stalled > leaves.size()) {
            throw std::invalid_argument("site: stalled is more than the " +
                                        std::to_string(leaves.size()) +
                                        " leaf pages a site of this size has");
        }
        for (std::size_t k = 0; k < o.stalled; ++k) {
            const std::size_t pick = k + random.below(leaves.size() - k);
            std::swap(leaves[k], leaves[pick]);
            m_pages[leaves[k]].delay = o.stall_delay;
            m_pages[leaves[k]].stalled = true;
        }
    }
    const auto is_stalled = [&](std::size_t i) { return m_pages[i].stalled; };

    const auto add_link = [&](std::size_t from, std::string target, std::string label) {
        link l;
        l.target = std::move(target);
        l.form = static_cast<link_form>(random.below(6));
        l.fragment = random.chance(0.2);
        l.single_quotes = random.chance(0.2);
        l.upper_case = random.chance(0.1);
        l.label = std::move(label);
        m_pages[from].links.push_back(std::move(l));
    };
    const auto page_label = [](std::size_t i) {
        return i == 0 ? std::string("home") : "page " + std::to_string(i);
    };

    // The tree (every page reachable from "/"), the way back, and random links.
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t c = i * 4 + 1; c <= i * 4 + 4 && c < n; ++c) {
            add_link(i, m_pages[c].path, page_label(c));
        }
        if (i > 0) {
            add_link(i, m_pages[(i - 1) / 4].path, "up");
        }
        for (std::size_t k = 0; k < o.links_per_page; ++k) {
            const std::size_t to = random.below(n);
            add_link(i, m_pages[to].path, page_label(to));
        }
    }

    // A page that is not stalled, to plant a link in (or to redirect to).
    const auto some_page = [&]() {
        while (true) {
            const std::size_t i = random.below(n);
            if (!is_stalled(i)) {
                return i;
            }
        }
    };

    // Single redirects: 301 and 302, Location as an absolute path, a relative path and a
    // whole URL in turn.
    const std::size_t redirects = resolve_count(o.redirects, 60, 4, n);
    for (std::size_t j = 0; j < redirects; ++j) {
        const std::string path = "/old/" + std::to_string(j) + ".html";
        const std::string& target = m_pages[some_page()].path;
        redirect r;
        r.status = j % 2 == 0 ? 301 : 302;
        switch (j % 3) {
        case 0:
            r.location = target;
            break;
        case 1:
            r.location = relative_reference(path, target);
            break;
        default:
            r.location = target;
            r.absolute_url = true;
            break;
        }
        m_redirects.emplace(path, std::move(r));
        add_link(some_page(), path, "old page " + std::to_string(j));
    }

    // Chains of two: "/go/<j>" → "hop<j>.html" (relative: "/go/hop<j>.html") → a page.
    const std::size_t chains = resolve_count(o.redirect_chains, 300, 1, n);
    for (std::size_t j = 0; j < chains; ++j) {
        const std::string first = "/go/" + std::to_string(j);
        const std::string hop = "hop" + std::to_string(j) + ".html";
        m_redirects.emplace(first, redirect{302, hop, false});
        m_redirects.emplace("/go/" + hop, redirect{301, m_pages[some_page()].path, false});
        add_link(some_page(), first, "moved " + std::to_string(j));
    }

    // Broken links.
    const std::size_t missing = resolve_count(o.missing, 100, 2, n);
    for (std::size_t j = 0; j < missing; ++j) {
        std::string path = j % 2 == 0 ? "/gone/" + std::to_string(j) + ".html"
                                      : "/s" + std::to_string(j % sections) + "/missing" +
                                            std::to_string(j) + ".html";
        add_link(some_page(), path, "missing " + std::to_string(j));
        m_missing.push_back(std::move(path));
    }

    // Links to leave alone: all of them on "/", one of each kind on every 97th page.
    const auto add_verbatim = [&](std::size_t from, const char* href, bool offhost) {
        link l;
        l.target = href;
        l.form = link_form::verbatim;
        l.single_quotes = random.chance(0.3);
        l.label = "elsewhere";
        m_pages[from].links.push_back(std::move(l));
        ++(offhost ? m_offhost_links : m_foreign_links);
    };
    for (const char* href : offhost_hrefs) {
        add_verbatim(0, href, true);
    }
    for (const char* href : foreign_hrefs) {
        add_verbatim(0, href, false);
    }
    for (std::size_t i = 97; i < n; i += 97) {
        if (!is_stalled(i)) {
            add_verbatim(i, offhost_hrefs[random.below(std::size(offhost_hrefs))], true);
            add_verbatim(i, foreign_hrefs[random.below(std::size(foreign_hrefs))], false);
        }
    }
}

corio::http::handler site::handler() {
    return [this](corio::http::request& req) { return handle(req); };
}

std::vector<std::string> site::page_paths() const {
    std::vector<std::string> out;
    out.reserve(m_pages.size());
    for (const page& p : m_pages) {
        out.push_back(p.path);
    }
    return out;
}

std::vector<std::string> site::redirect_paths() const {
    std::vector<std::string> out;
    for (const auto& [path, r] : m_redirects) {
        out.push_back(path);
    }
    return out;
}

std::vector<std::string> site::missing_paths() const {
    return m_missing;
}

std::vector<std::string> site::stalled_paths() const {
    std::vector<std::string> out;
    for (const page& p : m_pages) {
        if (p.stalled) {
            out.push_back(p.path);
        }
    }
    return out;
}

corio::task<corio::http::response> site::handle(corio::http::request& req) {
    std::string path(req.path());
    ++m_hits[path];
    ++m_total_hits;
    const std::string authority(req.headers.get("Host").value_or("localhost"));

    if (const auto it = m_page_index.find(path); it != m_page_index.end()) {
        const page& p = m_pages[it->second];
        if (p.delay > corio::clock::duration::zero()) {
            co_await corio::sleep(p.delay);
        }
        corio::http::response r(200, render(p, authority));
        r.headers.set("Content-Type", "text/html; charset=utf-8");
        co_return r;
    }
    if (const auto it = m_redirects.find(path); it != m_redirects.end()) {
        const redirect& rd = it->second;
        std::string location =
            rd.absolute_url ? m_options.scheme + "://" + authority + rd.location : rd.location;
        corio::http::response r(rd.status,
                                html_page("Moved", "This page has moved to " + location + "."));
        r.headers.set("Location", std::move(location));
        r.headers.set("Content-Type", "text/html; charset=utf-8");
        co_return r;
    }
    corio::http::response r(404, html_page("Not Found", "Nothing lives at " + path + "."));
    r.headers.set("Content-Type", "text/html; charset=utf-8");
    co_return r;
}

std::string site::href(const page& from, const link& l, std::string_view authority) const {
    std::string out;
    switch (l.form) {
    case link_form::absolute_path:
        out = l.target;
        break;
    case link_form::absolute_url:
        out = m_options.scheme + "://" + std::string(authority) + l.target;
        break;
    case link_form::scheme_relative:
        out = "//" + std::string(authority) + l.target;
        break;
    case link_form::relative:
        out = relative_reference(from.path, l.target);
        break;
    case link_form::dot_relative:
        out = relative_reference(from.path, l.target, true);
        break;
    case link_form::too_many_ups: {
        const std::string_view dir = directory_of(from.path);
        const auto depth = static_cast<std::size_t>(std::count(dir.begin(), dir.end(), '/'));
        for (std::size_t i = 0; i < depth + 1; ++i) {
            out += "../";
        }
        out += std::string_view(l.target).substr(1);
        break;
    }
    case link_form::verbatim:
        if (l.target == "@other-port") {
            std::optional<unsigned> port;
            const std::string_view host = host_of(authority, port);
            out = m_options.scheme + "://" + std::string(host) + ":" +
                  std::to_string(port.value_or(80) == 1 ? 2 : 1) + "/";
        } else {
            out = l.target;
        }
        return out;
    }
    if (l.fragment) {
        out += "#sec";
    }
    return out;
}

std::string site::render(const page& p, std::string_view authority) const {
    const std::size_t number = m_page_index.at(p.path);
    const std::string title = number == 0 ? "Home" : "Page " + std::to_string(number);
    std::string out;
    out.reserve(1024 + p.links.size() * 80);
    out += "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>";
    out += title;
    out += "</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n<body>\n";
    out += "<h1 id=\"top\">";
    out += title;
    out += "</h1>\n<p>";
    out += filler;
    out += "</p>\n<!-- retired: <a href=\"/retired.html\">the old index</a> -->\n<ul>\n";
    std::size_t k = 0;
    for (const link& l : p.links) {
        const char quote = l.single_quotes ? '\'' : '"';
        out += "<li>";
        out += l.upper_case ? "<A " : "<a ";
        if (k++ % 3 == 1) {
            out += "class=\"nav\" ";
        }
        out += l.upper_case ? "HREF=" : "href=";
        out += quote;
        out += href(p, l, authority);
        out += quote;
        out += '>';
        out += l.label;
        out += l.upper_case ? "</A>" : "</a>";
        out += "</li>\n";
    }
    out += "</ul>\n<p><a id=\"sec\" name=\"sec\">The end.</a></p>\n</body>\n</html>\n";
    return out;
}

} // namespace corio_crawl
