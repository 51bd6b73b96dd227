// http::router: patterns parsed once into segments; a request's path split and decoded
// once, then matched against every route (a linear scan: routers have tens of routes, and
// the most specific match needs the whole list anyway).

#include "corio/http/router.hpp"

#include "../core/hex.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <stdexcept>

namespace corio::http {

std::optional<std::string_view> route_params::get(std::string_view name) const noexcept {
    for (const auto& [n, v] : m_values) {
        if (n == name) {
            return std::string_view(v);
        }
    }
    return std::nullopt;
}

std::string_view route_params::at(std::string_view name) const {
    if (const std::optional<std::string_view> v = get(name)) {
        return *v;
    }
    throw std::out_of_range("route_params: no parameter named '" + std::string(name) + "'");
}

namespace {

/// One segment of a pattern. Ordered by specificity: literal before one before rest.
enum class kind : std::uint8_t { literal, one, rest };

struct segment {
    kind k = kind::literal;
    std::string text; // the literal, or the parameter's name
};

struct route_entry {
    std::string method;
    std::string pattern;
    std::vector<segment> segments;
    route_handler handler;
};

/// "/a/b/" → {"a", "b", ""}; "/" → {""}.
std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> out;
    path.remove_prefix(1);
    while (true) {
        const std::size_t slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) {
            return out;
        }
        path.remove_prefix(slash + 1);
    }
}

/// `s` percent-decoded; std::nullopt for a malformed escape or an encoded '/'.
std::optional<std::string> decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        if (i + 2 >= s.size()) {
            return std::nullopt; // "%" or "%a" at the end
        }
        const int hi = detail::hex_digit(s[i + 1]);
        const int lo = detail::hex_digit(s[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        const char c = static_cast<char>(hi * 16 + lo);
        if (c == '/') {
            return std::nullopt; // it would make one segment look like two
        }
        out.push_back(c);
        i += 2;
    }
    return out;
}

std::vector<segment> parse_pattern(std::string_view pattern) {
    const auto bad = [pattern](const std::string& why) {
        return std::invalid_argument("http::router: pattern '" + std::string(pattern) + "' " + why);
    };
    if (pattern.empty() || pattern[0] != '/') {
        throw bad("does not start with '/'");
    }
    std::vector<segment> out;
    std::set<std::string, std::less<>> names;
    const std::vector<std::string_view> parts = split(pattern);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::string_view p = parts[i];
        const std::size_t open = p.find('{');
        if (open == std::string_view::npos) {
            if (p.find('}') != std::string_view::npos) {
                throw bad("has a '}' without its '{'");
            }
            out.push_back({kind::literal, std::string(p)});
            continue;
        }
        if (open != 0 || p.back() != '}') {
            throw bad("mixes text and a parameter in one segment ('" + std::string(p) + "')");
        }
        std::string_view name = p.substr(1, p.size() - 2);
        kind k = kind::one;
        if (name.size() >= 3 && name.substr(name.size() - 3) == "...") {
            name.remove_suffix(3);
            k = kind::rest;
            if (i + 1 != parts.size()) {
                throw bad("has {" + std::string(name) + "...} before its end");
            }
        }
        if (name.empty() || name.find_first_of("{}/") != std::string_view::npos) {
            throw bad("has an empty or malformed parameter name");
        }
        if (!names.insert(std::string(name)).second) {
            throw bad("names {" + std::string(name) + "} twice");
        }
        out.push_back({k, std::string(name)});
    }
    return out;
}

bool same_shape(const std::vector<segment>& a, const std::vector<segment>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const segment& x, const segment& y) {
                          return x.k == y.k && (x.k != kind::literal || x.text == y.text);
                      });
}

/// Whether `r` matches the decoded `path`; fills `params` if so.
bool match(const route_entry& r, const std::vector<std::string>& path, route_params* params) {
    const std::vector<segment>& s = r.segments;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i].k == kind::rest) {
            if (params != nullptr) {
                std::string rest;
                for (std::size_t j = i; j < path.size(); ++j) {
                    rest += (j == i ? "" : "/") + path[j];
                }
                params->add(s[i].text, std::move(rest));
            }
            return true;
        }
        if (i >= path.size()) {
            return false;
        }
        if (s[i].k == kind::literal ? path[i] != s[i].text : path[i].empty()) {
            return false;
        }
        if (s[i].k == kind::one && params != nullptr) {
            params->add(s[i].text, path[i]);
        }
    }
    return s.size() == path.size();
}

/// True if `a` is more specific than `b` (both matching the same path).
bool more_specific(const route_entry& a, const route_entry& b) {
    const std::size_t n = std::min(a.segments.size(), b.segments.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (a.segments[i].k != b.segments[i].k) {
            return a.segments[i].k < b.segments[i].k;
        }
    }
    return a.segments.size() > b.segments.size();
}

response plain(int status, std::string text) {
    response r(status, std::move(text));
    r.headers.set("Content-Type", "text/plain; charset=utf-8");
    return r;
}

} // namespace

struct router::routes {
    std::vector<route_entry> entries;
};

router::router() : m_routes(std::make_shared<routes>()) {}

router& router::route(std::string_view method, std::string_view pattern, route_handler h) {
    if (!h) {
        throw std::invalid_argument("http::router: empty handler for " + std::string(method) + " " +
                                    std::string(pattern));
    }
    if (method.empty()) {
        throw std::invalid_argument("http::router: empty method for " + std::string(pattern));
    }
    route_entry e{std::string(method), std::string(pattern), parse_pattern(pattern), std::move(h)};
    for (const route_entry& other : m_routes->entries) {
        if (other.method == e.method && same_shape(other.segments, e.segments)) {
            throw std::invalid_argument("http::router: " + e.method + " " + e.pattern +
                                        " has the shape of " + other.method + " " + other.pattern +
                                        ", added before");
        }
    }
    m_routes->entries.push_back(std::move(e));
    return *this;
}

task<response> router::operator()(request& req) const {
    const std::string_view raw = req.path();
    std::vector<std::string> path;
    bool malformed = raw.empty() || raw[0] != '/';
    if (!malformed) {
        for (const std::string_view part : split(raw)) {
            std::optional<std::string> d = decode(part);
            if (!d) {
                malformed = true;
                break;
            }
            path.push_back(std::move(*d));
        }
    }
    if (malformed) {
        co_return plain(400, "Bad Request: malformed path '" + std::string(raw) + "'\n");
    }
    // The most specific route for this method (GET serves HEAD when HEAD has none), and
    // the methods of every route matching the path, for a 405.
    const route_entry* best = nullptr;
    const route_entry* best_get = nullptr;
    bool path_matched = false;
    for (const route_entry& e : m_routes->entries) {
        if (!match(e, path, nullptr)) {
            continue;
        }
        path_matched = true;
        if (e.method == req.method && (best == nullptr || more_specific(e, *best))) {
            best = &e;
        }
        if (e.method == "GET" && (best_get == nullptr || more_specific(e, *best_get))) {
            best_get = &e;
        }
    }
    if (best == nullptr && req.method == "HEAD") {
        best = best_get;
    }
    if (best == nullptr) {
        if (!path_matched) {
            co_return plain(404, "Not Found: " + std::string(raw) + "\n");
        }
        // A 405: the methods that have a route for this path (gathered only now, so that
        // routing a request that has one allocates no set).
        std::set<std::string> allowed;
        for (const route_entry& e : m_routes->entries) {
            if (match(e, path, nullptr)) {
                allowed.insert(e.method);
            }
        }
        if (allowed.count("GET") != 0) {
            allowed.insert("HEAD");
        }
        std::string allow;
        for (const std::string& m : allowed) {
            allow += (allow.empty() ? "" : ", ") + m;
        }
        response r = plain(405, "Method Not Allowed: " + req.method + " " + std::string(raw) +
                                    " (allowed: " + allow + ")\n");
        r.headers.set("Allow", allow);
        co_return r;
    }
    route_params params;
    match(*best, path, &params);
    // The handler is copied: a route added while this request runs cannot move it.
    const route_handler h = best->handler;
    co_return co_await h(req, params);
}

} // namespace corio::http
