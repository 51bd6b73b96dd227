#include "crawler.hpp"

#include "links.hpp"

#include <corio/errors.hpp>
#include <corio/event_loop.hpp>
#include <corio/http/client.hpp>
#include <corio/http/message.hpp>
#include <corio/http/url.hpp>
#include <corio/on_loop.hpp>
#include <corio/sync/channel.hpp>
#include <corio/task_group.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <utility>

#include <pthread.h>
#include <signal.h>

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

/// Loops on threads of their own, each running until this goes. Their threads block every
/// asynchronous signal, so that a Ctrl-C reaches the program's own loop, not them.
class helper_loops {
public:
    explicit helper_loops(std::size_t n) {
        sigset_t all;
        sigset_t old;
        sigfillset(&all);
        for (int synchronous : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP}) {
            sigdelset(&all, synchronous);
        }
        ::pthread_sigmask(SIG_SETMASK, &all, &old); // the threads inherit it
        try {
            for (std::size_t i = 0; i < n; ++i) {
                std::promise<corio::event_loop*> made;
                std::future<corio::event_loop*> loop = made.get_future();
                m_threads.emplace_back([&made] {
                    corio::event_loop l;
                    made.set_value(&l);
                    l.run_forever();
                });
                m_loops.push_back(loop.get());
            }
        } catch (...) {
            ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
            stop();
            throw;
        }
        ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    helper_loops(const helper_loops&) = delete;
    helper_loops& operator=(const helper_loops&) = delete;
    ~helper_loops() { stop(); }

    [[nodiscard]] std::size_t size() const noexcept { return m_loops.size(); }
    [[nodiscard]] corio::event_loop& loop(std::size_t i) const { return *m_loops[i]; }

private:
    /// Stop each loop (nothing runs on it any more: on_loop waited for its task) and join.
    void stop() noexcept {
        for (corio::event_loop* l : m_loops) {
            l->call_soon_threadsafe([l] { l->stop(); });
        }
        for (std::thread& t : m_threads) {
            t.join();
        }
        m_loops.clear();
        m_threads.clear();
    }

    std::vector<std::thread> m_threads;
    std::vector<corio::event_loop*> m_loops;
};

/// A URL waiting to be fetched.
struct job {
    corio::http::url target;
    std::string referrer;
    /// Redirects that may still be followed to reach a page from here.
    int redirects_left = 0;
};

/// What fetching a job gave, handed from the loop that fetched it to the coordinator.
struct fetched {
    fetch_result result;
    int redirects_left = 0;
    /// The links of an HTML page, resolved against its URL.
    std::vector<corio::http::url> links;
    /// Links that are not URLs at all (counted as foreign).
    std::size_t unresolvable = 0;
    /// A redirect's target, to follow.
    std::optional<corio::http::url> redirect;
};

/// Everything a crawl uses; the crawler holds it so that `summary()` outlives `run`.
///
/// One coordinator, on the loop that runs `run`, owns what is shared: the set of URLs
/// seen, the totals, the results. Fetchers, on that loop and on one more loop per extra
/// thread, take jobs from `jobs` and give back what they found through `done`; the
/// coordinator queues what is new, and closes `jobs` when every job queued is done.
class crawl_state {
public:
    explicit crawl_state(crawl_options o) : options(std::move(o)) {}

    crawl_options options;
    corio::http::url root;
    // The coordinator's alone:
    /// Every URL queued (normalised text).
    std::unordered_set<std::string> seen;
    /// New URLs refused for the page limit.
    std::unordered_set<std::string> dropped;
    std::vector<fetch_result> results;
    crawl_summary totals;
    /// Jobs queued and not yet done.
    std::size_t outstanding = 0;
    corio::clock::time_point started{};
    corio::clock::time_point finished{};
    bool ran = false;
    bool running = false;
    // Shared between the loops:
    std::optional<corio::channel<job>> jobs;
    std::optional<corio::channel<fetched>> done;
    std::atomic<std::size_t> in_flight{0};
    std::atomic<std::size_t> queued{0};

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
        job j{u, referrer, redirects_left};
        // Never full: it holds max_pages jobs, and no more are ever queued.
        (void)jobs->try_send(j);
        ++queued;
        ++outstanding;
    }

    /// The coordinator: take what the fetchers found until every job queued is done.
    corio::task<> coordinate() {
        while (outstanding > 0) {
            std::optional<fetched> f = co_await done->receive();
            if (!f) {
                break;
            }
            --outstanding;
            take(std::move(*f));
        }
        jobs->close(); // the fetchers end
    }

    void take(fetched f) {
        totals.foreign_links += f.unresolvable;
        for (const corio::http::url& u : f.links) {
            consider(u, f.result.url, options.max_redirects);
        }
        if (f.redirect) {
            consider(*f.redirect, f.result.url, f.redirects_left - 1);
        }
        count(f.result);
        results.push_back(std::move(f.result));
        if (options.on_result) {
            options.on_result(results.back());
        }
    }

    /// The client options of every loop's client.
    [[nodiscard]] corio::http::client_options client_options() const {
        corio::http::client_options c;
        c.timeout = options.timeout;
        if (options.timeout > corio::clock::duration::zero()) {
            c.connect_timeout = std::min(c.connect_timeout, options.timeout);
        }
        c.max_redirects = 0; // the crawler follows them itself
        c.max_connections_per_host = options.workers;
        c.user_agent = "corio-crawl";
        if (options.tls) {
            c.tls = options.tls;
        }
        return c;
    }

    /// `count` fetchers on the running loop, with a client of their own, until `jobs` is
    /// closed.
    corio::task<> fetch_here(std::size_t count) {
        corio::http::client client(client_options());
        auto body = [this, &client, count](corio::task_group& group) -> corio::task<> {
            for (std::size_t i = 0; i < count; ++i) {
                group.spawn(fetcher(client), "crawl worker");
            }
            co_return;
        };
        co_await corio::with_task_group(body);
    }

    /// One fetcher: take a job, fetch it, give back what it found; until `jobs` closes.
    corio::task<> fetcher(corio::http::client& client) {
        while (std::optional<job> j = co_await jobs->receive()) {
            --queued;
            corio::task<fetched> fetching = fetch(std::move(*j), client);
            fetched f = co_await std::move(fetching);
            co_await done->send(std::move(f));
        }
    }

    corio::task<fetched> fetch(job j, corio::http::client& client) {
        fetched f;
        f.redirects_left = j.redirects_left;
        fetch_result& r = f.result;
        r.url = j.target.str();
        r.referrer = std::move(j.referrer);
        const corio::clock::time_point start = now();
        std::optional<corio::http::response> response;
        {
            ++in_flight;
            struct leaving {
                std::atomic<std::size_t>& count;
                ~leaving() { --count; }
            } in_flight_guard{in_flight};
            try {
                corio::http::request req;
                req.headers.set("Accept", "text/html, */*;q=0.5");
                corio::task<corio::http::response> sending = client.send(std::move(req), j.target);
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
            examine(j, *response, f);
        }
        co_return f;
    }

    /// Classify a response, and note what it leads to (on the fetcher's loop: the links
    /// are found here, and queued by the coordinator).
    void examine(const job& j, const corio::http::response& resp, fetched& f) const {
        fetch_result& r = f.result;
        r.status = resp.status;
        r.bytes = resp.body.size();
        if (resp.status >= 200 && resp.status < 300) {
            r.kind = outcome::page;
            if (is_html(resp)) {
                for (const std::string& href : extract_links(resp.body)) {
                    if (std::optional<corio::http::url> u = j.target.resolve(href)) {
                        f.links.push_back(std::move(*u));
                    } else {
                        ++f.unresolvable;
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
        f.redirect = *target;
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
    if (options.threads == 0) {
        throw std::invalid_argument("crawler: threads must be at least 1");
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
    s.jobs.emplace(s.options.max_pages);
    s.done.emplace(2 * s.options.workers);

    // However run() ends (done, failed, cancelled, or its frame destroyed), the crawl is
    // over: stop the clock, and say whether it got to the end.
    struct finisher {
        detail::crawl_state& s;
        bool completed = false;
        void finish() noexcept {
            if (s.running) {
                s.finished = detail::now();
                s.running = false;
                s.totals.cancelled = !completed;
            }
        }
        ~finisher() { finish(); }
    } finish{s};

    // The loops: this one, and one per extra thread; the workers spread over them.
    const std::size_t loops = std::min(s.options.threads, s.options.workers);
    detail::helper_loops helpers(loops - 1);
    const auto share = [&s, loops](std::size_t k) {
        return s.options.workers / loops + (k < s.options.workers % loops ? 1 : 0);
    };

    s.consider(s.root, {}, s.options.max_redirects);
    auto body = [&s, &helpers, &share](corio::task_group& group) -> corio::task<> {
        group.spawn(s.coordinate(), "crawl coordinator");
        group.spawn(s.fetch_here(share(0)), "crawl fetchers");
        for (std::size_t k = 0; k < helpers.size(); ++k) {
            group.spawn(corio::on_loop(helpers.loop(k), s.fetch_here(share(k + 1))),
                        "crawl fetchers on thread " + std::to_string(k + 1));
        }
        co_return;
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
    p.queued = s.queued.load();
    p.in_flight = s.in_flight.load();
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
