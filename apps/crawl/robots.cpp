#include "robots.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <initializer_list>

namespace corio_crawl {

namespace {

char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

bool is_blank(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view v) noexcept {
    while (!v.empty() && is_blank(v.front())) {
        v.remove_prefix(1);
    }
    while (!v.empty() && is_blank(v.back())) {
        v.remove_suffix(1);
    }
    return v;
}

bool is_token_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool is_unreserved(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void append_escape(std::string& out, unsigned char c) {
    static constexpr char digits[] = "0123456789ABCDEF";
    out += '%';
    out += digits[c >> 4];
    out += digits[c & 0xF];
}

enum class key_kind : unsigned char { user_agent, allow, disallow, crawl_delay, other };

/// The kind of a line's key, with the misspellings Google's parser accepts.
key_kind kind_of(std::string_view key) noexcept {
    for (std::string_view k : {"user-agent", "useragent", "user agent"}) {
        if (iequals(key, k)) {
            return key_kind::user_agent;
        }
    }
    if (iequals(key, "allow")) {
        return key_kind::allow;
    }
    for (std::string_view k :
         {"disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw"}) {
        if (iequals(key, k)) {
            return key_kind::disallow;
        }
    }
    for (std::string_view k : {"crawl-delay", "crawldelay", "crawl delay"}) {
        if (iequals(key, k)) {
            return key_kind::crawl_delay;
        }
    }
    return key_kind::other;
}

/// A Crawl-delay value: digits, maybe a fraction ("10", "0.5", ".5"); nullopt otherwise.
std::optional<double> parse_delay(std::string_view v) {
    std::size_t digits = 0;
    bool point = false;
    for (char c : v) {
        if (c >= '0' && c <= '9') {
            ++digits;
        } else if (c == '.' && !point) {
            point = true;
        } else {
            return std::nullopt;
        }
    }
    if (digits == 0) {
        return std::nullopt;
    }
    const std::string text(v);
    const double d = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(d) || d < 0) {
        return std::nullopt;
    }
    return d;
}

} // namespace

std::string_view product_token(std::string_view user_agent) noexcept {
    user_agent = trim(user_agent);
    std::size_t n = 0;
    while (n < user_agent.size() && is_token_char(user_agent[n])) {
        ++n;
    }
    return user_agent.substr(0, n);
}

std::string normalize_robots_path(std::string_view path) {
    std::string out;
    out.reserve(path.size());
    for (std::size_t i = 0; i < path.size(); ++i) {
        const auto c = static_cast<unsigned char>(path[i]);
        if (c == '%' && i + 2 < path.size() && hex_value(path[i + 1]) >= 0 &&
            hex_value(path[i + 2]) >= 0) {
            const auto decoded =
                static_cast<unsigned char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
            if (is_unreserved(decoded)) {
                out += static_cast<char>(decoded);
            } else {
                append_escape(out, decoded);
            }
            i += 2;
        } else if (c <= 0x20 || c >= 0x7F) {
            append_escape(out, c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

bool robots_pattern_matches(std::string_view pattern, std::string_view path) {
    // The positions of `path` that the pattern so far can end at, ascending (Google's
    // robots.txt matcher): a '*' extends them to every later position.
    std::vector<std::size_t> ends{0};
    std::vector<std::size_t> next;
    for (std::size_t k = 0; k < pattern.size(); ++k) {
        const char p = pattern[k];
        if (p == '$' && k + 1 == pattern.size()) {
            return ends.back() == path.size();
        }
        next.clear();
        if (p == '*') {
            for (std::size_t at = ends.front(); at <= path.size(); ++at) {
                next.push_back(at);
            }
        } else {
            for (std::size_t at : ends) {
                if (at < path.size() && path[at] == p) {
                    next.push_back(at + 1);
                }
            }
            if (next.empty()) {
                return false;
            }
        }
        ends.swap(next);
    }
    return true;
}

robots_txt robots_txt::parse(std::string_view text, std::string_view user_agent) {
    if (text.size() > max_size) {
        text = text.substr(0, max_size); // a line cut in two reads as a shorter line
    }
    if (text.starts_with("\xEF\xBB\xBF")) {
        text.remove_prefix(3);
    }
    const std::string_view own = product_token(user_agent);

    robots_txt named;
    robots_txt any;
    bool named_seen = false;
    bool any_seen = false;
    // The group being read: whether its user agents name us or '*', and whether a rule
    // has been read since its last User-agent line (then another starts a new group).
    bool in_group = false;
    bool group_named = false;
    bool group_any = false;
    bool after_rule = false;

    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find_first_of("\r\n", pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (end < text.size() && text[end] == '\r' && pos < text.size() && text[pos] == '\n') {
            ++pos;
        }
        if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) {
            line = line.substr(0, hash);
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        const key_kind kind = kind_of(trim(line.substr(0, colon)));
        const std::string_view value = trim(line.substr(colon + 1));
        switch (kind) {
        case key_kind::user_agent: {
            if (!in_group || after_rule) {
                in_group = true;
                group_named = false;
                group_any = false;
                after_rule = false;
            }
            if (value.starts_with('*') && trim(value.substr(1)).empty()) {
                group_any = true;
                any_seen = true;
            } else if (const std::string_view token = product_token(value);
                       !token.empty() && iequals(token, own)) {
                group_named = true;
                named_seen = true;
            }
            break;
        }
        case key_kind::allow:
        case key_kind::disallow:
        case key_kind::crawl_delay: {
            if (!in_group) {
                break; // before any User-agent line: no group's
            }
            after_rule = true;
            for (const auto& [applies, rules] :
                 {std::pair{group_named, &named}, std::pair{group_any, &any}}) {
                if (!applies) {
                    continue;
                }
                if (kind == key_kind::crawl_delay) {
                    if (const std::optional<double> d = parse_delay(value)) {
                        const std::chrono::duration<double> delay(*d);
                        if (!rules->m_crawl_delay || *rules->m_crawl_delay < delay) {
                            rules->m_crawl_delay = delay;
                        }
                    }
                } else if (!value.empty()) {
                    rules->m_rules.push_back(
                        {kind == key_kind::allow, normalize_robots_path(value)});
                }
            }
            break;
        }
        case key_kind::other:
            break; // Sitemap and the like: no effect on groups
        }
    }
    if (named_seen) {
        named.m_group = group::named;
        return named;
    }
    if (any_seen) {
        any.m_group = group::any;
        return any;
    }
    return {};
}

robots_txt robots_txt::disallow_all() {
    robots_txt r;
    r.m_rules.push_back({false, "/"});
    r.m_group = group::any;
    return r;
}

bool robots_txt::allowed(std::string_view path_and_query) const {
    if (m_rules.empty()) {
        return true;
    }
    std::string path =
        normalize_robots_path(path_and_query.empty() ? std::string_view("/") : path_and_query);
    if (path == "/robots.txt") {
        return true;
    }
    // The longest matching pattern wins; Allow wins a tie. -1: no match.
    long best_allow = -1;
    long best_disallow = -1;
    for (const rule& r : m_rules) {
        long& best = r.allow ? best_allow : best_disallow;
        const auto length = static_cast<long>(r.pattern.size());
        if (length > best && robots_pattern_matches(r.pattern, path)) {
            best = length;
        }
    }
    return best_allow >= best_disallow;
}

} // namespace corio_crawl
