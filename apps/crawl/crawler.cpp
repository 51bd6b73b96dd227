#include "crawler.hpp"

#include "links.hpp"
#include "records.hpp"
#include "robots.hpp"

#include <corio/cancel_scope.hpp>
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
#include <cstdio>
#include <deque>
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
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
    case outcome::too_large:
        return "too large";
    case outcome::other_error:
        return "error";
    case outcome::disallowed:
        return "disallowed";
    }
    return "?";
}

std::size_t crawl_summary::errors() const noexcept {
    std::size_t n =
        timeouts + connection_errors + protocol_errors + redirect_errors + too_large + other_errors;
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

/// A host the crawl may follow links to, besides the root's (`crawl_options::allowed_hosts`).
struct allowed_host {
    std::string host;
    /// Any port when empty.
    std::optional<std::uint16_t> port;
};

namespace {

/// "host", "host:port", "[v6]" or "[v6]:port", host in lower case.
/// \throws std::invalid_argument naming the entry.
allowed_host parse_allowed_host(std::string_view text) {
    const auto bad = [&text](const char* why) {
        return std::invalid_argument("crawler: allowed host '" + std::string(text) + "': " + why);
    };
    allowed_host a;
    std::string_view host = text;
    std::string_view port;
    if (host.starts_with('[')) {
        const std::size_t close = host.find(']');
        if (close == std::string_view::npos) {
            throw bad("no ']' after the IPv6 address");
        }
        port = host.substr(close + 1);
        host = host.substr(1, close - 1);
        if (!port.empty() && !port.starts_with(':')) {
            throw bad("expected ':' and a port after ']'");
        }
        if (!port.empty()) {
            port.remove_prefix(1);
            if (port.empty()) {
                throw bad("no port after ':'");
            }
        }
    } else if (const std::size_t colon = host.find(':'); colon != std::string_view::npos) {
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
        if (port.empty()) {
            throw bad("no port after ':'");
        }
    }
    if (host.empty()) {
        throw bad("no host");
    }
    for (char c : host) {
        if (c == '/' || c == '@' || c == ' ' || c == '?' || c == '#' ||
            static_cast<unsigned char>(c) < 0x21) {
            throw bad("a host name, not a URL (\"example.com\" or \"example.com:8080\")");
        }
    }
    if (!port.empty()) {
        unsigned value = 0;
        for (char c : port) {
            if (c < '0' || c > '9' || value > 65535) {
                throw bad("the port is not a number from 1 to 65535");
            }
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value == 0 || value > 65535) {
            throw bad("the port is not a number from 1 to 65535");
        }
        a.port = static_cast<std::uint16_t>(value);
    }
    a.host.assign(host);
    std::transform(a.host.begin(), a.host.end(), a.host.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return a;
}

/// The origin of `u`, "http://host:port" without a default port: the key of its host.
std::string origin_of(const corio::http::url& u) {
    return u.scheme + "://" + u.authority();
}

} // namespace

/// A URL waiting to be fetched, or a host's robots.txt.
struct job {
    enum class kind_t : std::uint8_t { page, robots };
    kind_t kind = kind_t::page;
    corio::http::url target;
    std::string referrer;
    /// Redirects that may still be followed to reach a page from here.
    int redirects_left = 0;
    /// Redirects followed to reach this URL.
    int redirects = 0;
};

/// What a host's robots.txt gave.
struct robots_answer {
    /// The rules (all allowed when there is no file; nothing when it answered 5xx).
    robots_txt rules;
    /// What happened, for the summary ("404 Not Found: everything allowed").
    std::string summary;
    /// Set when it answered 5xx or 429: why every URL of the host is disallowed.
    std::string disallow_reason;
    /// Set when it could not be fetched at all (connect, TLS, timeout, a malformed
    /// response): the error every URL of the host gets, since none could be fetched either.
    std::optional<fetch_result> failure;
};

/// What fetching a job gave, handed from the loop that fetched it to the coordinator.
struct fetched {
    /// The origin of the job's host.
    std::string origin;
    fetch_result result;
    int redirects_left = 0;
    /// The links of an HTML page to follow, resolved against its URL.
    std::vector<corio::http::url> links;
    /// Links that are not URLs at all (counted as foreign).
    std::size_t unresolvable = 0;
    /// Links not followed: nofollow.
    std::size_t nofollow = 0;
    /// A redirect's target, to follow.
    std::optional<corio::http::url> redirect;
    /// For a robots.txt job: what it gave.
    std::optional<robots_answer> robots;
};

namespace {

/// Fill `r.kind`, `r.error` and `r.tls_reason` from the exception being handled (not a
/// cancellation, which is no std::exception and passes the catch this is called from).
void describe_failure(fetch_result& r) {
    try {
        throw;
    } catch (const corio::timeout_error& e) {
        r.kind = outcome::timeout;
        r.error = e.what();
    } catch (const corio::http::protocol_error& e) {
        r.kind = e.status() == 413 ? outcome::too_large : outcome::protocol_error;
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

/// "503 Service Unavailable".
std::string status_text(const corio::http::response& resp) {
    return std::to_string(resp.status) + " " +
           std::string(resp.reason.empty() ? corio::http::reason_phrase(resp.status)
                                           : std::string_view(resp.reason));
}

/// "1.5 s".
std::string seconds_text(std::chrono::duration<double> d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", d.count());
    return buf;
}

/// The longest Crawl-delay honoured.
constexpr std::chrono::hours longest_crawl_delay{24};

} // namespace

/// Everything a crawl uses; the crawler holds it so that `summary()` outlives `run`.
///
/// One coordinator, on the loop that runs `run`, owns what is shared: the set of URLs
/// seen, the hosts, the totals, the results, the output file. It is also the scheduler:
/// URLs wait in their host's queue until the host's robots.txt is known, the host has a
/// free slot (`per_host_concurrency`) and its delay has passed, and a fetcher is idle;
/// only then does a job go into `jobs`. So a job is taken at once, and its request starts
/// when the coordinator says, whichever loop's fetcher takes it. Fetchers, on that loop and
/// on one more loop per extra thread, take jobs from `jobs` and give back what they found
/// through `done`; the coordinator queues what is new, and closes `jobs` when every URL is
/// done.
class crawl_state {
public:
    explicit crawl_state(crawl_options o) : options(std::move(o)) {
        for (const std::string& h : options.allowed_hosts) {
            allowed.push_back(parse_allowed_host(h));
        }
        robots_name = std::string(product_token(options.user_agent));
    }

    /// A host (an origin) and what the coordinator knows of it.
    struct host_state {
        enum class robots_state : std::uint8_t { unknown, fetching, known };
        explicit host_state(const corio::http::url& u) : origin_url(u) {
            origin_url.target = "/robots.txt";
        }
        /// The host's robots.txt URL.
        corio::http::url origin_url;
        robots_state robots = robots_state::unknown;
        robots_txt rules;
        /// Why its URLs are disallowed ("disallowed by robots.txt").
        std::string disallow_reason = "disallowed by robots.txt";
        /// Set when its robots.txt could not be fetched: each URL's error.
        std::optional<fetch_result> unreachable;
        /// URLs seen, waiting for robots.txt before they are admitted.
        std::deque<job> awaiting_robots;
        /// URLs admitted, waiting for a slot.
        std::deque<job> waiting;
        /// Jobs handed to the fetchers and not back.
        std::size_t active = 0;
        corio::clock::duration delay{};
        std::optional<corio::clock::time_point> last_start;
    };

    crawl_options options;
    std::vector<allowed_host> allowed;
    /// The crawler's product token.
    std::string robots_name;
    corio::http::url root;
    // The coordinator's alone:
    /// Every URL seen (normalised text): done, queued, or waiting for robots.txt.
    std::unordered_set<std::string> seen;
    /// New URLs refused for the page limit.
    std::unordered_set<std::string> dropped;
    std::vector<fetch_result> results;
    crawl_summary totals;
    /// The hosts, in the order they were first seen, and by origin.
    std::vector<std::unique_ptr<host_state>> host_list;
    std::unordered_map<std::string, host_state*> host_index;
    /// Where the next round of grants starts in `host_list` (round robin).
    std::size_t next_host = 0;
    /// URLs seen and not done (waiting, queued, or being fetched).
    std::size_t pending = 0;
    /// URLs admitted in this run (requested or to be): `max_pages` bounds it.
    std::size_t admitted = 0;
    /// Jobs handed to the fetchers and not back: at most `workers`, so that each is taken
    /// by an idle fetcher at once.
    std::size_t granted = 0;
    std::optional<record_writer> output;
    corio::clock::time_point started{};
    corio::clock::time_point finished{};
    bool ran = false;
    bool running = false;
    // Shared between the loops:
    std::optional<corio::channel<job>> jobs;
    std::optional<corio::channel<fetched>> done;
    std::atomic<std::size_t> in_flight{0};
    std::atomic<std::size_t> queued{0};

    // --- the coordinator ------------------------------------------------------------------

    /// Whether links to `u` (http or https) are followed: the root's scheme, host and port,
    /// or an allowed host.
    [[nodiscard]] bool in_scope(const corio::http::url& u) const {
        if (u.scheme == root.scheme && u.host == root.host && u.port == root.port) {
            return true;
        }
        return std::any_of(allowed.begin(), allowed.end(), [&u](const allowed_host& a) {
            return a.host == u.host && (!a.port || *a.port == u.port);
        });
    }

    host_state& host_for(const corio::http::url& u) {
        std::string origin = origin_of(u);
        if (const auto it = host_index.find(origin); it != host_index.end()) {
            return *it->second;
        }
        auto h = std::make_unique<host_state>(u);
        h->delay = options.per_host_delay;
        if (!options.obey_robots) {
            h->robots = host_state::robots_state::known;
        }
        host_state& out = *h;
        host_list.push_back(std::move(h));
        host_index.emplace(std::move(origin), &out);
        return out;
    }

    /// Queue `u` unless it was seen, is elsewhere, or the page limit is reached.
    void consider(const corio::http::url& u, const std::string& referrer, int redirects_left,
                  int redirects) {
        if (u.scheme != "http" && u.scheme != "https") {
            ++totals.foreign_links;
            return;
        }
        if (!in_scope(u)) {
            ++totals.offhost_links;
            return;
        }
        std::string key = u.str();
        if (seen.contains(key)) {
            return;
        }
        if (admitted >= options.max_pages) {
            if (dropped.insert(std::move(key)).second) {
                ++totals.dropped;
            }
            return;
        }
        host_state& h = host_for(u);
        seen.insert(std::move(key));
        ++pending;
        job j{job::kind_t::page, u, referrer, redirects_left, redirects};
        if (h.robots != host_state::robots_state::known) {
            h.awaiting_robots.push_back(std::move(j));
            ++queued;
            return;
        }
        admit(h, std::move(j));
    }

    /// A URL of `h` (robots.txt known), seen and pending: done at once if robots.txt
    /// says no (or could not be had), dropped past the page limit, else queued.
    void admit(host_state& h, job j) {
        if (h.unreachable || !h.rules.allowed(j.target.target)) {
            fetch_result r = h.unreachable ? *h.unreachable : fetch_result{};
            r.url = j.target.str();
            r.referrer = std::move(j.referrer);
            r.redirects = j.redirects;
            if (!h.unreachable) {
                r.kind = outcome::disallowed;
                r.error = h.disallow_reason;
            }
            --pending;
            finish(std::move(r));
            return;
        }
        if (admitted >= options.max_pages) {
            std::string key = j.target.str();
            seen.erase(key);
            if (dropped.insert(std::move(key)).second) {
                ++totals.dropped;
            }
            --pending;
            return;
        }
        ++admitted;
        h.waiting.push_back(std::move(j));
        ++queued;
    }

    /// Whether `h` may start a request at `now`: a free slot, and its delay passed.
    [[nodiscard]] bool slot_free(const host_state& h, corio::clock::time_point now) const {
        return h.active < options.per_host_concurrency &&
               (!h.last_start || now >= *h.last_start + h.delay);
    }

    /// Hand `h`'s next job (its robots.txt first) to the fetchers if it may go now.
    bool grant(host_state& h, corio::clock::time_point now) {
        std::optional<job> j;
        if (h.robots == host_state::robots_state::unknown && !h.awaiting_robots.empty()) {
            if (!slot_free(h, now)) {
                return false;
            }
            j.emplace();
            j->kind = job::kind_t::robots;
            j->target = h.origin_url;
            h.robots = host_state::robots_state::fetching;
        } else if (h.robots == host_state::robots_state::known && !h.waiting.empty()) {
            if (!slot_free(h, now)) {
                return false;
            }
            j.emplace(std::move(h.waiting.front()));
            h.waiting.pop_front();
            --queued;
        } else {
            return false;
        }
        ++h.active;
        ++granted;
        h.last_start = now;
        // Never full: it holds no more than `granted`, at most `workers`, jobs.
        if (!jobs->try_send(*j)) {
            throw std::logic_error("crawler: the job channel is full");
        }
        return true;
    }

    /// Grant what may go now, a host at a time in turn; return when the next grant
    /// blocked only by a host's delay may go (nullopt: none is).
    std::optional<corio::clock::time_point> dispatch() {
        const corio::clock::time_point t = now();
        const std::size_t n = host_list.size();
        bool granting = true;
        while (granting && granted < options.workers) {
            granting = false;
            for (std::size_t k = 0; k < n && granted < options.workers; ++k) {
                granting = grant(*host_list[(next_host + k) % n], t) || granting;
            }
            next_host = n == 0 ? 0 : (next_host + 1) % n;
        }
        if (granted >= options.workers) {
            return std::nullopt; // a fetcher's result comes first
        }
        std::optional<corio::clock::time_point> wake;
        for (const auto& h : host_list) {
            const bool has_work =
                (h->robots == host_state::robots_state::unknown && !h->awaiting_robots.empty()) ||
                (h->robots == host_state::robots_state::known && !h->waiting.empty());
            if (has_work && h->active < options.per_host_concurrency && h->last_start) {
                const corio::clock::time_point when = *h->last_start + h->delay;
                if (when > t && (!wake || when < *wake)) {
                    wake = when;
                }
            }
        }
        return wake;
    }

    /// The coordinator: grant jobs, take what the fetchers found, until every URL is done.
    corio::task<> coordinate() {
        while (pending > 0) {
            const std::optional<corio::clock::time_point> wake = dispatch();
            std::optional<fetched> f;
            if (wake) {
                // Until a result comes, or a host's delay passes (the scope's timer goes
                // with it, and a receive cancelled loses nothing).
                corio::cancel_scope scope(*wake);
                auto receiving = done->receive();
                corio::task<std::optional<std::optional<fetched>>> waiting =
                    scope.run(std::move(receiving));
                std::optional<std::optional<fetched>> got = co_await std::move(waiting);
                if (!got) {
                    continue;
                }
                f = std::move(*got);
            } else {
                f = co_await done->receive();
            }
            if (!f) {
                break;
            }
            take(std::move(*f));
        }
        jobs->close(); // the fetchers end
    }

    void take(fetched f) {
        host_state& h = *host_index.at(f.origin);
        --h.active;
        --granted;
        if (f.robots) {
            robots_known(h, std::move(*f.robots));
            return;
        }
        --pending;
        totals.foreign_links += f.unresolvable;
        totals.nofollow_links += f.nofollow;
        // The page's record first (with the links it leads to), then what those links
        // make of it (a disallowed URL's record, say).
        fetch_result& r = f.result;
        std::unordered_set<std::string> listed;
        for (const corio::http::url& u : f.links) {
            if ((u.scheme == "http" || u.scheme == "https") && in_scope(u)) {
                std::string key = u.str();
                if (listed.insert(key).second) {
                    r.links_to.push_back(std::move(key));
                }
            }
        }
        const std::string from = r.url;
        const int redirects = r.redirects;
        finish(std::move(f.result));
        for (const corio::http::url& u : f.links) {
            consider(u, from, options.max_redirects, 0);
        }
        if (f.redirect) {
            consider(*f.redirect, from, f.redirects_left - 1, redirects + 1);
        }
    }

    /// `h`'s robots.txt is known: its URLs waiting for it are admitted (or not).
    void robots_known(host_state& h, robots_answer a) {
        h.robots = host_state::robots_state::known;
        totals.robots[origin_of(h.origin_url)] = a.summary;
        if (const auto delay = a.rules.crawl_delay()) {
            const auto capped =
                std::min(*delay, std::chrono::duration<double>(longest_crawl_delay));
            h.delay = std::max(h.delay, std::chrono::duration_cast<corio::clock::duration>(capped));
        }
        if (!a.disallow_reason.empty()) {
            h.disallow_reason = "disallowed by robots.txt (" + a.disallow_reason + ")";
        }
        h.unreachable = std::move(a.failure);
        h.rules = std::move(a.rules);
        std::deque<job> waiting = std::move(h.awaiting_robots);
        h.awaiting_robots.clear();
        queued -= waiting.size();
        for (job& j : waiting) {
            admit(h, std::move(j));
        }
    }

    /// A URL is done: count it, write it, report it, keep it.
    void finish(fetch_result r) {
        count(r);
        if (output) {
            output->write(r);
        }
        if (options.on_result) {
            options.on_result(r);
        }
        if (options.keep_results) {
            results.push_back(std::move(r));
        }
    }

    /// Take the records of the output file as done, and queue what they lead to.
    void resume_from_output() {
        struct lead {
            corio::http::url target;
            std::string referrer;
            int redirects_left = 0;
            int redirects = 0;
        };
        // Every recorded URL is done before any link is considered; the links in the
        // order they were recorded, each once.
        std::vector<lead> leads;
        std::unordered_set<std::string> led;
        const auto add = [&](const std::string& text, const std::string& referrer,
                             int redirects_left, int redirects) {
            if (seen.contains(text) || !led.insert(text).second) {
                return;
            }
            if (std::optional<corio::http::url> u = corio::http::url::try_parse(text)) {
                leads.push_back({std::move(*u), referrer, redirects_left, redirects});
            }
        };
        records_read read;
        try {
            read = read_records(options.output, [&](fetch_result&& r) {
                led.erase(r.url);
                seen.insert(r.url);
                ++totals.resumed;
                for (const std::string& link : r.links_to) {
                    add(link, r.url, options.max_redirects, 0);
                }
                if (r.kind == outcome::redirect && !r.location.empty()) {
                    add(r.location, r.url, options.max_redirects - r.redirects - 1,
                        r.redirects + 1);
                }
            });
        } catch (const std::system_error& e) {
            if (e.code() != std::errc::no_such_file_or_directory) {
                throw;
            }
            warn(options.output + " does not exist: a new crawl starts");
            output.emplace(options.output, nullptr);
            return;
        }
        if (!read.warning.empty()) {
            warn(read.warning);
        }
        output.emplace(options.output, &read);
        for (lead& l : leads) {
            if (!seen.contains(l.target.str())) {
                consider(l.target, l.referrer, l.redirects_left, l.redirects);
            }
        }
    }

    void warn(const std::string& what) const {
        if (options.on_warning) {
            options.on_warning(what);
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
        c.max_connections_per_host = std::min(options.workers, options.per_host_concurrency);
        c.user_agent = options.user_agent; // copied by the client
        c.limits.max_body = options.max_page_bytes;
        if (options.tls) {
            c.tls = options.tls;
        }
        return c;
    }

    // --- the fetchers ---------------------------------------------------------------------

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
            fetched f;
            if (j->kind == job::kind_t::robots) {
                corio::task<fetched> fetching = fetch_robots(std::move(*j), client);
                f = co_await std::move(fetching);
            } else {
                corio::task<fetched> fetching = fetch(std::move(*j), client);
                f = co_await std::move(fetching);
            }
            co_await done->send(std::move(f));
        }
    }

    /// GET `target`: the response, or nullopt with `r` describing the failure. The body
    /// is read in pieces as it arrives, and only its first `keep(response)` bytes are kept
    /// (in `body`): memory stays bounded whatever the size of the page. `r.bytes` counts
    /// all of it; `options.timeout` bounds the whole, body included.
    template <class Keep>
    corio::task<std::optional<corio::http::response>>
    get(const corio::http::url& target, corio::http::client& client, fetch_result& r,
        const char* accept, Keep keep) {
        std::optional<corio::http::response> response;
        ++in_flight;
        struct leaving {
            std::atomic<std::size_t>& count;
            ~leaving() { --count; }
        } in_flight_guard{in_flight};
        try {
            std::optional<corio::clock::time_point> deadline;
            if (options.timeout > corio::clock::duration::zero()) {
                deadline = corio::get_running_loop().time() + options.timeout;
            }
            corio::http::request req;
            req.headers.set("Accept", accept);
            corio::task<corio::http::response> opening = client.open(std::move(req), target);
            response = co_await std::move(opening);
            corio::task<std::uint64_t> reading = read_body(*response, keep(*response));
            std::optional<std::uint64_t> total;
            if (deadline) {
                corio::cancel_scope scope(*deadline);
                total = co_await scope.run(std::move(reading));
            } else {
                total = co_await std::move(reading);
            }
            if (!total) {
                throw corio::timeout_error("http client: GET " + target.str() +
                                           ": the body did not arrive within " +
                                           seconds_text(options.timeout));
            }
            r.bytes = static_cast<std::size_t>(*total);
        } catch (const std::exception&) {
            describe_failure(r);
            response.reset();
        }
        co_return response;
    }

    /// Read the body of `resp` to its end, keeping its first `keep` bytes in `resp.body`;
    /// returns the bytes read.
    static corio::task<std::uint64_t> read_body(corio::http::response& resp, std::size_t keep) {
        std::uint64_t total = 0;
        std::string kept;
        while (std::optional<std::string> piece = co_await resp.body_stream().next()) {
            total += piece->size();
            if (kept.size() < keep) {
                kept.append(*piece, 0, std::min(piece->size(), keep - kept.size()));
            }
        }
        resp.streamed_body.reset();
        resp.body = std::move(kept);
        co_return total;
    }

    corio::task<fetched> fetch(job j, corio::http::client& client) {
        fetched f;
        f.origin = origin_of(j.target);
        f.redirects_left = j.redirects_left;
        fetch_result& r = f.result;
        r.url = j.target.str();
        r.referrer = std::move(j.referrer);
        r.redirects = j.redirects;
        const corio::clock::time_point start = now();
        // Only an HTML page's first max_page_bytes are kept: its links are looked for there.
        const std::size_t cap = options.max_page_bytes;
        corio::task<std::optional<corio::http::response>> getting =
            get(j.target, client, r, "text/html, */*;q=0.5",
                [cap](const corio::http::response& resp) -> std::size_t {
                    return resp.status >= 200 && resp.status < 300 && is_html(resp) ? cap : 0;
                });
        const std::optional<corio::http::response> response = co_await std::move(getting);
        r.elapsed = now() - start;
        if (response) {
            examine(j, *response, f);
        }
        co_return f;
    }

    /// A host's robots.txt, redirects followed (up to 5, RFC 9309 §2.3.1.2), and what it
    /// means for the host's URLs (§2.3.1.3, 2.3.1.4).
    corio::task<fetched> fetch_robots(job j, corio::http::client& client) {
        fetched f;
        f.origin = origin_of(j.target);
        robots_answer& a = f.robots.emplace();
        corio::http::url target = j.target;
        for (int hops = 0;; ++hops) {
            fetch_result failure;
            // One byte past what is parsed, to know the file was longer.
            corio::task<std::optional<corio::http::response>> getting =
                get(target, client, failure, "text/plain, */*;q=0.5",
                    [](const corio::http::response&) { return robots_txt::max_size + 1; });
            const std::optional<corio::http::response> resp = co_await std::move(getting);
            if (!resp) {
                // Unreachable: every URL of the host fails so, as it would have.
                failure.error = "robots.txt (" + target.str() + "): " + failure.error;
                a.summary = std::string(outcome_name(failure.kind)) + ": " + failure.error +
                            ": nothing crawled";
                a.failure = std::move(failure);
                break;
            }
            const int status = resp->status;
            if (status >= 200 && status < 300) {
                std::string_view text = resp->body;
                a.rules = robots_txt::parse(text, options.user_agent);
                a.summary = status_text(*resp) + ": " + std::to_string(a.rules.rules().size()) +
                            (a.rules.rules().size() == 1 ? " rule" : " rules");
                switch (a.rules.applied_group()) {
                case robots_txt::group::named:
                    a.summary += " for " + robots_name;
                    break;
                case robots_txt::group::any:
                    a.summary += " for *";
                    break;
                case robots_txt::group::none:
                    a.summary += " (no group for " + robots_name + " or *)";
                    break;
                }
                if (const auto delay = a.rules.crawl_delay()) {
                    a.summary += ", Crawl-delay " + seconds_text(*delay);
                }
                if (text.size() > robots_txt::max_size) {
                    a.summary += " (only its first 500 KiB read)";
                }
                break;
            }
            if (is_redirect_status(status)) {
                const std::optional<std::string_view> location = resp->headers.get("Location");
                std::optional<corio::http::url> next;
                if (location) {
                    next = target.resolve(*location);
                }
                if (next && hops < 5) {
                    target = std::move(*next);
                    continue;
                }
                // RFC 9309 §2.3.1.2: past five redirects it may be taken as unavailable.
                a.summary = status_text(*resp) +
                            (next ? " after 5 redirects" : " without a usable Location") +
                            ": everything allowed";
                break;
            }
            if (status == 429 || status >= 500) {
                // §2.3.1.4: a server error means complete disallow (429, Too Many
                // Requests, too: the server is asking for less, as Google reads it).
                a.rules = robots_txt::disallow_all();
                a.disallow_reason = "robots.txt answered " + status_text(*resp);
                a.summary = status_text(*resp) + ": nothing allowed";
                break;
            }
            // §2.3.1.3: 4xx (no file, or not ours to read) means no rules; so does any
            // other status.
            a.summary = status_text(*resp) + ": everything allowed";
            break;
        }
        co_return f;
    }

    /// Classify a response, and note what it leads to (on the fetcher's loop: the links
    /// are found here, and queued by the coordinator).
    void examine(const job& j, const corio::http::response& resp, fetched& f) const {
        fetch_result& r = f.result;
        r.status = resp.status;
        r.truncated =
            r.bytes > resp.body.size() && resp.status >= 200 && resp.status < 300 && is_html(resp);
        if (const std::optional<std::string_view> type = resp.headers.get("Content-Type")) {
            r.content_type = std::string(*type);
        }
        if (resp.status >= 200 && resp.status < 300) {
            r.kind = outcome::page;
            if (is_html(resp)) {
                page_scan scan = scan_page(resp.body, robots_name);
                const robots_directives header =
                    x_robots_tag(resp.headers.get_all("X-Robots-Tag"), robots_name);
                r.links_out = scan.links.size();
                r.nofollow = scan.robots.nofollow || header.nofollow;
                r.noindex = scan.robots.noindex || header.noindex;
                const bool follow = !(options.obey_robots && r.nofollow);
                for (page_link& link : scan.links) {
                    if (!follow || (options.obey_robots && link.nofollow)) {
                        ++f.nofollow;
                    } else if (std::optional<corio::http::url> u = j.target.resolve(link.href)) {
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
            r.error = status_text(resp);
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
        if (r.kind != outcome::disallowed) {
            ++totals.requests;
        }
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
        case outcome::too_large:
            ++totals.too_large;
            break;
        case outcome::other_error:
            ++totals.other_errors;
            break;
        case outcome::disallowed:
            ++totals.disallowed;
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
    if (options.per_host_concurrency == 0) {
        throw std::invalid_argument("crawler: per_host_concurrency must be at least 1");
    }
    if (options.per_host_delay < corio::clock::duration::zero()) {
        throw std::invalid_argument("crawler: per_host_delay must not be negative");
    }
    if (options.max_page_bytes == 0) {
        throw std::invalid_argument("crawler: max_page_bytes must be at least 1");
    }
    if (options.resume && options.output.empty()) {
        throw std::invalid_argument("crawler: resume needs an output file");
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
    s.jobs.emplace(s.options.workers);
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

    // What an earlier run did, and the file this one writes to.
    if (s.options.resume) {
        s.resume_from_output();
    } else if (!s.options.output.empty()) {
        s.output.emplace(s.options.output, nullptr);
    }
    s.consider(s.root, {}, s.options.max_redirects, 0);

    // The loops: this one, and one per extra thread; the workers spread over them.
    const std::size_t loops = std::min(s.options.threads, s.options.workers);
    detail::helper_loops helpers(loops - 1);
    const auto share = [&s, loops](std::size_t k) {
        return s.options.workers / loops + (k < s.options.workers % loops ? 1 : 0);
    };
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
    p.done = s.totals.requests + s.totals.disallowed;
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
