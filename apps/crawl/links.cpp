#include "links.hpp"

#include <algorithm>
#include <cstddef>
#include <optional>

namespace corio_crawl {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

/// Where `needle` first occurs in `hay` from `from`, ASCII case ignored (npos if nowhere).
std::size_t ifind(std::string_view hay, std::string_view needle, std::size_t from) {
    if (needle.size() > hay.size()) {
        return std::string_view::npos;
    }
    for (std::size_t i = from; i + needle.size() <= hay.size(); ++i) {
        if (iequals(hay.substr(i, needle.size()), needle)) {
            return i;
        }
    }
    return std::string_view::npos;
}

std::string decode_entities(std::string_view v) {
    struct entity {
        std::string_view name;
        char c;
    };
    static constexpr entity entities[] = {
        {"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
        {"&quot;", '"'}, {"&#39;", '\''}, {"&apos;", '\''},
    };
    std::string out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size();) {
        bool decoded = false;
        if (v[i] == '&') {
            for (const entity& e : entities) {
                if (iequals(v.substr(i, e.name.size()), e.name)) {
                    out += e.c;
                    i += e.name.size();
                    decoded = true;
                    break;
                }
            }
        }
        if (!decoded) {
            out += v[i++];
        }
    }
    return out;
}

std::string_view trim(std::string_view v) {
    while (!v.empty() && is_space(v.front())) {
        v.remove_prefix(1);
    }
    while (!v.empty() && is_space(v.back())) {
        v.remove_suffix(1);
    }
    return v;
}

/// Call `visit(word)` for each word of `list`, words separated by any of `separators`.
template <class F>
void for_each_word(std::string_view list, std::string_view separators, F visit) {
    std::size_t i = 0;
    while (i < list.size()) {
        const std::size_t end = std::min(list.find_first_of(separators, i), list.size());
        if (end > i) {
            visit(list.substr(i, end - i));
        }
        i = end + 1;
    }
}

/// Whether `rel` (a list of link types separated by spaces) holds `nofollow`.
bool rel_nofollow(std::string_view rel) {
    bool found = false;
    for_each_word(rel, " \t\n\r\f",
                  [&found](std::string_view word) { found = found || iequals(word, "nofollow"); });
    return found;
}

void combine(robots_directives& into, const robots_directives& d) {
    into.nofollow = into.nofollow || d.nofollow;
    into.noindex = into.noindex || d.noindex;
}

} // namespace

robots_directives parse_robots_directives(std::string_view content) {
    robots_directives d;
    for_each_word(content, ", \t\n\r\f", [&d](std::string_view word) {
        if (iequals(word, "nofollow")) {
            d.nofollow = true;
        } else if (iequals(word, "noindex")) {
            d.noindex = true;
        } else if (iequals(word, "none")) {
            d.nofollow = true;
            d.noindex = true;
        }
    });
    return d;
}

robots_directives x_robots_tag(const std::vector<std::string_view>& values,
                               std::string_view robots_name) {
    // Directives that hold a colon themselves, so that "max-snippet: 20" is not read as a
    // crawler named "max-snippet".
    static constexpr std::string_view with_colon[] = {"unavailable_after", "max-snippet",
                                                      "max-image-preview", "max-video-preview"};
    robots_directives d;
    for (std::string_view value : values) {
        if (const std::size_t colon = value.find(':'); colon != std::string_view::npos) {
            const std::string_view name = trim(value.substr(0, colon));
            bool directive = false;
            for (std::string_view w : with_colon) {
                directive = directive || iequals(name, w);
            }
            const bool one_word = name.find_first_of(" \t,") == std::string_view::npos;
            if (!directive && one_word && !name.empty()) {
                if (!robots_name.empty() && iequals(name, robots_name)) {
                    combine(d, parse_robots_directives(value.substr(colon + 1)));
                }
                continue; // for another crawler
            }
        }
        combine(d, parse_robots_directives(value));
    }
    return d;
}

page_scan scan_page(std::string_view html, std::string_view robots_name) {
    page_scan scan;
    const std::size_t n = html.size();
    std::size_t i = 0;
    while (i < n) {
        const std::size_t lt = html.find('<', i);
        if (lt == std::string_view::npos) {
            break;
        }
        i = lt + 1;
        if (html.substr(i, 3) == "!--") {
            const std::size_t end = html.find("-->", i + 3);
            i = end == std::string_view::npos ? n : end + 3;
            continue;
        }
        // The tag name.
        std::size_t name_end = i;
        while (name_end < n && !is_space(html[name_end]) && html[name_end] != '>' &&
               html[name_end] != '/') {
            ++name_end;
        }
        const std::string_view name = html.substr(i, name_end - i);
        i = name_end;
        if (iequals(name, "script") || iequals(name, "style")) {
            const std::string closing = "</" + std::string(name);
            const std::size_t end = ifind(html, closing, i);
            i = end == std::string_view::npos ? n : end + closing.size();
            continue;
        }
        const bool anchor = iequals(name, "a");
        const bool meta = iequals(name, "meta");
        // What the tag says, for an <a> or a <meta>.
        std::optional<std::string> href;
        bool nofollow = false;
        std::string meta_name;
        std::string meta_content;
        // The attributes, up to the '>' that ends the tag (quotes may hold a '>').
        while (i < n && html[i] != '>') {
            if (is_space(html[i]) || html[i] == '/') {
                ++i;
                continue;
            }
            std::size_t attr_end = i;
            while (attr_end < n && !is_space(html[attr_end]) && html[attr_end] != '=' &&
                   html[attr_end] != '>') {
                ++attr_end;
            }
            const std::string_view attr = html.substr(i, attr_end - i);
            i = attr_end;
            while (i < n && is_space(html[i])) {
                ++i;
            }
            if (i >= n || html[i] != '=') {
                continue; // an attribute without a value
            }
            ++i;
            while (i < n && is_space(html[i])) {
                ++i;
            }
            std::string_view value;
            if (i < n && (html[i] == '"' || html[i] == '\'')) {
                const char quote = html[i];
                const std::size_t close = html.find(quote, i + 1);
                const std::size_t end = close == std::string_view::npos ? n : close;
                value = html.substr(i + 1, end - i - 1);
                i = close == std::string_view::npos ? n : close + 1;
            } else {
                std::size_t end = i;
                while (end < n && !is_space(html[end]) && html[end] != '>') {
                    ++end;
                }
                value = html.substr(i, end - i);
                i = end;
            }
            if (anchor && iequals(attr, "href")) {
                if (!href) { // the first one counts, as in HTML
                    href = decode_entities(trim(value));
                }
            } else if (anchor && iequals(attr, "rel")) {
                nofollow = rel_nofollow(decode_entities(value));
            } else if (meta && iequals(attr, "name")) {
                meta_name = decode_entities(trim(value));
            } else if (meta && iequals(attr, "content")) {
                meta_content = decode_entities(value);
            }
        }
        if (i < n) {
            ++i; // the '>'
        }
        if (href) {
            scan.links.push_back({std::move(*href), nofollow});
        } else if (meta && (iequals(meta_name, "robots") ||
                            (!robots_name.empty() && iequals(meta_name, robots_name)))) {
            combine(scan.robots, parse_robots_directives(meta_content));
        }
    }
    return scan;
}

std::vector<std::string> extract_links(std::string_view html) {
    page_scan scan = scan_page(html);
    std::vector<std::string> links;
    links.reserve(scan.links.size());
    for (page_link& l : scan.links) {
        links.push_back(std::move(l.href));
    }
    return links;
}

} // namespace corio_crawl
