#include "links.hpp"

#include <cstddef>

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

} // namespace

std::vector<std::string> extract_links(std::string_view html) {
    std::vector<std::string> links;
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
                links.push_back(decode_entities(trim(value)));
            }
        }
        if (i < n) {
            ++i; // the '>'
        }
    }
    return links;
}

} // namespace corio_crawl
