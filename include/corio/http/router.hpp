#pragma once
/// \file
/// `http::router`: method and path patterns to handlers, for `http::serve`.
///
/// ```cpp
/// corio::http::router r;
/// r.get("/users/{id}", [](corio::http::request&, const corio::http::route_params& p)
///                          -> corio::task<corio::http::response> {
///     co_return corio::http::response{200, "user " + std::string(p.at("id"))};
/// });
/// r.get("/static/{path...}", serve_file);
/// co_await corio::http::serve(r, "127.0.0.1", 8080);
/// ```
///
/// Patterns are paths whose segments are literal text, `{name}` (any one segment, not
/// empty) or, last, `{name...}` (the rest of the path, possibly empty). A request's path is
/// split at '/', each segment percent-decoded, and matched segment by segment; a trailing
/// slash counts ("/a/" is not "/a"). When several patterns match, the most specific wins,
/// segment by segment from the left: literal text before `{name}` before `{name...}`
/// (Go 1.22's ServeMux rule, made total). No route for the path: 404. Routes for the path
/// but not for the method: 405 with `Allow` listing the methods that have one. A GET route
/// also answers HEAD (the server sends only the head). A path with a malformed escape ("%zz")
/// or an encoded '/' in a segment gets 400. The target's query is not matched
/// (`request::query()` has it).

#include "corio/http/message.hpp"
#include "corio/task.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corio::http {

/// The `{name}` values of the route that matched, percent-decoded.
class route_params {
public:
    /// The value of `{name}`, or std::nullopt if the pattern has no such parameter.
    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
    /// The value of `{name}`. \throws std::out_of_range naming it if there is none.
    [[nodiscard]] std::string_view at(std::string_view name) const;
    [[nodiscard]] std::size_t size() const noexcept { return m_values.size(); }

    /// (Used by the router.)
    void add(std::string name, std::string value) {
        m_values.emplace_back(std::move(name), std::move(value));
    }

private:
    std::vector<std::pair<std::string, std::string>> m_values;
};

/// What a route runs. `request` and the parameters stay valid until the returned task ends.
using route_handler = std::function<task<response>(request&, const route_params&)>;

/// Routes requests to handlers by method and path pattern (see the file's comment). A
/// handle: copies share the routes, so a router given to `serve` (it converts to
/// `http::handler`) sees routes added later. Routes are added before serving, on one
/// thread; matching only reads them.
class router {
public:
    router();

    /// Add a route. `method` is matched exactly ("GET"; "HEAD" for HEAD alone).
    /// \throws std::invalid_argument naming the pattern if it does not start with '/', has
    /// an empty or repeated parameter name, a `{name...}` not at the end, text and a
    /// parameter in one segment, or if the same method already has a route of the same
    /// shape ("/a/{x}" and "/a/{y}" are one shape); or if `h` is empty.
    router& route(std::string_view method, std::string_view pattern, route_handler h);
    router& get(std::string_view pattern, route_handler h) {
        return route("GET", pattern, std::move(h));
    }
    router& post(std::string_view pattern, route_handler h) {
        return route("POST", pattern, std::move(h));
    }
    router& put(std::string_view pattern, route_handler h) {
        return route("PUT", pattern, std::move(h));
    }
    router& patch(std::string_view pattern, route_handler h) {
        return route("PATCH", pattern, std::move(h));
    }
    router& del(std::string_view pattern, route_handler h) {
        return route("DELETE", pattern, std::move(h));
    }

    /// Route one request: the matching handler's response, or 404, 405 or 400.
    task<response> operator()(request& req) const;

private:
    struct routes;
    std::shared_ptr<routes> m_routes;
};

} // namespace corio::http
