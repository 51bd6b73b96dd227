#include "crawler.hpp"

#include "links.hpp"

#include <corio/errors.hpp>
#include <corio/http/client.hpp>
#include <corio/http/message.hpp>
#include <corio/http/url.hpp>
#include <corio/sync/queue.hpp>
#include <corio/task_group.hpp>

#include <algorithm>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>

namespace corio_crawl {

const char* outcome_name(outcome o) noexcept {
    switch (o) {
    case outcome::page:
        return "page";
    case outcome::redirect:
        return "redirect";
    case outcome::http_error:
        return "HTTP error";
    case outcome::timeout:
        return "timeout";
    case outcome::connection_error:
        return "connection error";
    case outcome::tls_error:
        return "TLS error";
    case outcome::protocol_error:
        return "protocol error";
    case outcome::redirect_error:
        return "redirect error";
    case outcome::other_error:
        return "error";
    }
    return "?";
}

std::size_t crawl_summary::errors() const noexcept {
    std::size_t n = timeouts + connection_errors + protocol_errors + redirect_errors + other_errors;
    for (const auto& [status, count] : http_errors) {
        n += count;
    }
    for (const auto& [kind, count] : tls_errors) {
        n += count;
    }
    return n;
}

namespace {

/// A TLS error's kind for the summary: why a certificate did not verify ("certificate has
/// expired", "Hostname mismatch"), else OpenSSL's reason ("wrong version number").
std::string tls_kind(const corio::tls_error& e) {
    const std::string& reason = e.reason();
    const std::string prefix = "certificate verify failed: ";
    if (reason.rfind(prefix, 0) == 0) {
        std::string why = reason.substr(prefix.size());
        if (const std::size_t comma = why.find(','); comma != std::string::npos) {
            why.resize(comma); // "Hostname mismatch, certificate is not valid for 'x'"
        }
        return why;
    }
    return reason.empty() ? std::string("unknown") : reason;
}

} // namespace

double crawl_summary::requests_per_second() const noexcept {
    const double seconds = std::chrono::duration<double>(elapsed).count();
    return seconds > 0 ? static_cast<double>(requests) / seconds : 0.0;
}

namespace detail {

namespace {

/// The loop's time, or the clock's outside a running loop (a frame destroyed late).
corio::clock::time_point now() noexcept {
    try {
        return corio::get_running_loop().time();
    } catch (...) {
        return corio::clock::now();
    }
}

bool is_redirect_status(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/// Whether a 2xx response is worth scanning for links: HTML, or of no declared type.
bool is_html(const corio::http::response& r) {
    const std::optional<std::string_view> type = r.headers.get("Content-Type");
    if (!type) {
        return true;
    }
    std::string lower(*type);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return lower.find("html") != std::string::npos;
}

} // namespace

/// A URL waiting in the queue.
struct job {
    corio::http::url target;
    std::string referrer;
    /// Redirects that may still be followed to reach a page from here.
    int redirects_left = 0;
};

/// Everything a crawl uses; the crawler holds it so that `summary()` outlives `run`.
class crawl_state {
public:
    explicit crawl_state(crawl_options o) : options(std::move(o)) {}

    crawl_options options;
    corio::http::url root;
    corio::queue<job> queue;
    /// Every URL queued (normalised text).
    std::unordered_set<std::string> seen;
    /// New URLs refused for the page limit.
    std::unordered_set<std::string> dropped;
    std::vector<fetch_result> results;
    crawl_summary totals;
    std::size_t in_flight = 0;
    corio::http::client* client = nullptr;
    corio::clock::time_point started{};
    corio::clock::time_point finished{};
    bool ran = false;
    bool running = false;

    /// Queue `u` unless it was seen, is elsewhere, or the page limit is reached.
    void consider(const corio::http::url& u, const std::string& referrer, int redirects_left) {
        if (u.scheme != "http" && u.scheme != "https") {
            ++totals.foreign_links;
            return;
        }
        if (u.scheme != root.scheme || u.host != root.host || u.port != root.port) {
            ++totals.offhost_links;
            return;
        }
        std::string key = u.str();
        if (seen.contains(key)) {
            return;
        }
        if (seen.size() >= options.max_pages) {
            if (dropped.insert(std::move(key)).second) {
                ++totals.dropped;
            }
            return;
        }
        seen.insert(std::move(key));
        queue.put_nowait(job{u, referrer, redirects_left});
    }

    /// One worker: take a URL, fetch it, mark it done; until cancelled.
    corio::task<> worker() {
        while (true) {
            job j = co_await queue.get();
            corio::task<> work = fetch(std::move(j));
            co_await work;
            queue.task_done();
        }
    }

    corio::task<> fetch(job j) {
        fetch_result r;
        r.url = j.target.str();
        r.referrer = std::move(j.referrer);
        const corio::clock::time_point start = now();
        std::optional<corio::http::response> response;
        {
            ++in_flight;
            struct leaving {
                std::size_t& count;
                ~leaving() { --count; }
            } in_flight_guard{in_flight};
            try {
                corio::http::request req;
                req.headers.set("Accept", "text/html, */*;q=0.5");
                corio::task<corio::http::response> sending = client->send(std::move(req), j.target);
                response = co_await sending;
            } catch (const corio::timeout_error& e) {
                r.kind = outcome::timeout;
                r.error = e.what();
            } catch (const corio::http::protocol_error& e) {
                r.kind = outcome::protocol_error;
                r.error = e.what();
            } catch (const corio::http::redirect_error& e) {
                r.kind = outcome::redirect_error;
                r.error = e.what();
            } catch (const corio::tls_error& e) {
                r.kind = outcome::tls_error;
                r.error = e.what();
                r.tls_reason = tls_kind(e);
            } catch (const std::system_error& e) {
                r.kind = outcome::connection_error;
                r.error = e.what();
            } catch (const std::exception& e) {
                r.kind = outcome::other_error;
                r.error = e.what();
            }
        }
        r.elapsed = now() - start;
        if (response) {
            examine(j, *response, r);
        }
        count(r);
        results.push_back(std::move(r));
        if (options.on_result) {
            options.on_result(results.back());
        }
    }

    /// Classify a response, and queue what it leads to.
    void examine(const job& j, const corio::http::response& resp, fetch_result& r) {
        r.status = resp.status;
        r.bytes = resp.body.size();
        if (resp.status >= 200 && resp.status < 300) {
            r.kind = outcome::page;
            if (is_html(resp)) {
                for (const std::string& href : extract_links(resp.body)) {
                    if (const std::optional<corio::http::url> u = j.target.resolve(href)) {
                        consider(*u, r.url, options.max_redirects);
                    } else {
                        ++totals.foreign_links;
                    }
                }
            }
            return;
        }
        if (!is_redirect_status(resp.status)) {
            r.kind = outcome::http_error;
            r.error = std::to_string(resp.status) + " " +
                      std::string(resp.reason.empty() ? corio::http::reason_phrase(resp.status)
                                                      : std::string_view(resp.reason));
            return;
        }
        const std::optional<std::string_view> location = resp.headers.get("Location");
        if (!location) {
            r.kind = outcome::redirect_error;
            r.error = std::to_string(resp.status) + " without a Location";
            return;
        }
        const std::optional<corio::http::url> target = j.target.resolve(*location);
        if (!target) {
            r.kind = outcome::redirect_error;
            r.error = std::to_string(resp.status) + " to an unusable Location '" +
                      std::string(*location) + "'";
            return;
        }
        r.location = target->str();
        if (j.redirects_left <= 0) {
            r.kind = outcome::redirect_error;
            r.error = "more than " + std::to_string(options.max_redirects) + " redirects (to " +
                      r.location + ")";
            return;
        }
        r.kind = outcome::redirect;
        consider(*target, r.url, j.redirects_left - 1);
    }

    void count(const fetch_result& r) {
        ++totals.requests;
        totals.bytes += r.bytes;
        switch (r.kind) {
        case outcome::page:
            ++totals.pages;
            break;
        case outcome::redirect:
            ++totals.redirects;
            break;
        case outcome::http_error:
            ++totals.http_errors[r.status];
            break;
        case outcome::timeout:
            ++totals.timeouts;
            break;
        case outcome::connection_error:
            ++totals.connection_errors;
            break;
        case outcome::tls_error:
            ++totals.tls_errors[r.tls_reason];
            break;
        case outcome::protocol_error:
            ++totals.protocol_errors;
            break;
        case outcome::redirect_error:
            ++totals.redirect_errors;
            break;
        case outcome::other_error:
            ++totals.other_errors;
            break;
        }
    }

    [[nodiscard]] corio::clock::duration elapsed() const noexcept {
        if (!ran) {
            return {};
        }
        return (running ? now() : finished) - started;
    }
};

} // namespace detail

crawler::crawler(crawl_options options) {
    if (options.workers == 0) {
        throw std::invalid_argument("crawler: workers must be at least 1");
    }
    if (options.max_pages == 0) {
        throw std::invalid_argument("crawler: max_pages must be at least 1");
    }
    if (options.max_redirects < 0) {
        throw std::invalid_argument("crawler: max_redirects must not be negative");
    }
    if (options.timeout < corio::clock::duration::zero()) {
        throw std::invalid_argument("crawler: timeout must not be negative");
    }
    m_state = std::make_unique<detail::crawl_state>(std::move(options));
}

crawler::crawler(crawler&&) noexcept = default;
crawler& crawler::operator=(crawler&&) noexcept = default;
crawler::~crawler() = default;

corio::task<crawl_summary> crawler::run(std::string root) {
    detail::crawl_state& s = *m_state;
    if (s.ran) {
        throw corio::invalid_state_error("crawler.run: this crawler has already run");
    }
    const corio::http::url parsed = corio::http::url::parse(root); // says what is wrong
    if (parsed.scheme != "http" && parsed.scheme != "https") {
        throw std::invalid_argument("crawler: only http and https URLs can be crawled, not '" +
                                    root + "'");
    }
    s.ran = true;
    s.running = true;
    s.root = parsed;
    s.totals.root = s.root.str();
    s.started = detail::now();

    corio::http::client_options client_options;
    client_options.timeout = s.options.timeout;
    if (s.options.timeout > corio::clock::duration::zero()) {
        client_options.connect_timeout =
            std::min(client_options.connect_timeout, s.options.timeout);
    }
    client_options.max_redirects = 0; // the crawler follows them itself
    client_options.max_connections_per_host = s.options.workers;
    client_options.user_agent = "corio-crawl";
    if (s.options.tls) {
        client_options.tls = s.options.tls;
    }
    corio::http::client client(client_options);
    s.client = &client;

    // However run() ends (done, failed, cancelled, or its frame destroyed), the crawl is
    // over: stop the clock, and say whether it got to the end.
    struct finisher {
        detail::crawl_state& s;
        bool completed = false;
        void finish() noexcept {
            if (s.running) {
                s.client = nullptr;
                s.finished = detail::now();
                s.running = false;
                s.totals.cancelled = !completed;
            }
        }
        ~finisher() { finish(); }
    } finish{s};

    s.consider(s.root, {}, s.options.max_redirects);
    auto body = [&s](corio::task_group& group) -> corio::task<> {
        for (std::size_t i = 0; i < s.options.workers; ++i) {
            group.spawn(s.worker(), "crawl worker " + std::to_string(i + 1));
        }
        co_await s.queue.join(); // every URL queued has been done
        group.cancel();          // the workers wait in queue.get(): stop them
    };
    co_await corio::with_task_group(body);
    finish.completed = true;
    finish.finish();
    co_return summary();
}

crawl_summary crawler::summary() const {
    crawl_summary out = m_state->totals;
    out.elapsed = m_state->elapsed();
    return out;
}

crawl_progress crawler::progress() const {
    const detail::crawl_state& s = *m_state;
    crawl_progress p;
    p.done = s.totals.requests;
    p.queued = s.queue.size();
    p.in_flight = s.in_flight;
    p.bytes = s.totals.bytes;
    p.errors = s.totals.errors();
    p.elapsed = s.elapsed();
    return p;
}

const std::vector<fetch_result>& crawler::results() const noexcept {
    return m_state->results;
}

const crawl_options& crawler::options() const noexcept {
    return m_state->options;
}

} // namespace corio_crawl
