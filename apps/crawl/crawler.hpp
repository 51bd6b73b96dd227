#pragma once
/// \file
/// `corio_crawl::crawler`: a web crawler on `corio::http::client`, after "A Web Crawler
/// With asyncio Coroutines" (500 Lines or Less): a queue of URLs, N worker tasks taking
/// from it, a set of URLs seen, redirects followed by the crawler itself, and a count of
/// the URLs queued and not done to know when the crawl is done. The workers may run on
/// several loops, one per thread (`crawl_options::threads`): the queue is then a
/// `corio::channel`, and what they find comes back to one coordinator, which also decides
/// when each URL may go: after its host's robots.txt, within the host's limits
/// (`per_host_concurrency`, `per_host_delay`).
///
/// ```cpp
/// corio_crawl::crawler c({.workers = 16});
/// corio_crawl::crawl_summary s = co_await c.run("http://127.0.0.1:8080/");
/// std::cout << s.pages << " pages, " << s.errors() << " errors\n";
/// ```

#include <corio/event_loop.hpp>
#include <corio/net/tls.hpp>
#include <corio/task.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace corio_crawl {

/// What one request gave.
enum class outcome : std::uint8_t {
    page,             ///< 2xx: counted as a page; its links were followed if HTML
    redirect,         ///< 301, 302, 303, 307, 308 with a Location: the target was queued
    http_error,       ///< any other status (4xx, 5xx, 1xx, other 3xx)
    timeout,          ///< no whole response within the per-request timeout
    connection_error, ///< connect, read or write failed (std::system_error)
    tls_error,        ///< the TLS handshake or a record failed (corio::tls_error)
    protocol_error,   ///< a malformed response (corio::http::protocol_error)
    redirect_error,   ///< a redirect without a usable Location, or one too many
    too_large,        ///< a body the client refused as too large (413: a body coded twice
                      ///< whose decoded size passes `max_page_bytes`)
    other_error,      ///< anything else
    disallowed,       ///< not requested: robots.txt disallows it (not an error)
};

/// The name of an outcome ("timeout"), as the output file writes it.
[[nodiscard]] const char* outcome_name(outcome o) noexcept;

/// One URL fetched (or tried).
struct fetch_result {
    /// The URL requested (normalised: no fragment, lower-case host, no default port).
    std::string url;
    /// The page the link to it was found on (empty for the root).
    std::string referrer;
    outcome kind = outcome::page;
    /// The response's status (0 when there was no response).
    int status = 0;
    /// Body bytes received (decoded, if the server compressed them).
    std::size_t bytes = 0;
    /// An HTML page longer than `crawl_options::max_page_bytes`: it was read to its end,
    /// but only its first `max_page_bytes` were kept and scanned for links.
    bool truncated = false;
    /// For a redirect: the resolved Location.
    std::string location;
    /// For an error: what went wrong.
    std::string error;
    /// For a TLS error: its kind, OpenSSL's reason ("certificate has expired",
    /// "Hostname mismatch", "wrong version number").
    std::string tls_reason;
    /// Time from sending the request to the end of the response (or the error).
    corio::clock::duration elapsed{};
    /// The response's Content-Type, as sent (empty without one).
    std::string content_type;
    /// The links (`<a href>`) found on the page, followed or not.
    std::size_t links_out = 0;
    /// The URLs of the links the crawl followed from the page (or would have: those
    /// already seen included), resolved, each once, in order: links to the crawl's hosts,
    /// not marked nofollow. What `--resume` queues again.
    std::vector<std::string> links_to;
    /// Redirects followed to reach this URL (0 for a link, or the root).
    int redirects = 0;
    /// The page's robots meta tag or X-Robots-Tag says `noindex` (reported only).
    bool noindex = false;
    /// ... says `nofollow` (or `none`): its links were not followed (unless the crawl
    /// ignores robots).
    bool nofollow = false;
};

/// Options for `crawler`.
struct crawl_options {
    /// Worker tasks, each fetching one URL at a time (at least 1).
    std::size_t workers = 16;
    /// Loops fetching, one per thread (at least 1): `run`'s loop and `threads - 1` more,
    /// each with its own HTTP client, the workers spread over them (no more loops than
    /// workers). Fetching, TLS and finding the links of a page happen on the fetcher's
    /// loop; the URLs seen, the totals, the results and `on_result` stay on `run`'s.
    std::size_t threads = 1;
    /// The most URLs requested, redirects and errors included: links found beyond it are
    /// dropped (`crawl_summary::dropped`).
    std::size_t max_pages = 10000;
    /// The time one request may take, connecting included; zero for none.
    corio::clock::duration timeout = std::chrono::seconds(10);
    /// Redirects followed from a URL found as a link before the target counts as a
    /// `redirect_error` (0: every redirect is one).
    int max_redirects = 10;
    /// Called (on the loop) after each URL is done, with what it gave.
    std::function<void(const fetch_result&)> on_result;
    /// The TLS context of https URLs; empty: `tls_context::client()` (the system's CAs).
    corio::tls_context tls;
    /// The User-Agent header; its product token (the letters, '-' and '_' it starts with:
    /// "corio-crawl" of "corio-crawl/1.0 (+https://example.com/bot)") is the name robots.txt
    /// groups and robots meta tags are matched against.
    std::string user_agent = "corio-crawl";
    /// Obey robots.txt (RFC 9309) and the pages' robots directives (`<meta name="robots">`,
    /// `X-Robots-Tag`, `rel="nofollow"`). Off: none of them is fetched or heeded.
    bool obey_robots = true;
    /// Requests under way at once to one host (scheme, host and port), across every loop
    /// (at least 1). Scrapy's default; `workers` or more: no limit but `workers`.
    std::size_t per_host_concurrency = 8;
    /// The least time between the starts of two requests to one host (robots.txt's
    /// included). A host's robots.txt Crawl-delay raises it for that host (up to a day).
    corio::clock::duration per_host_delay{};
    /// More hosts whose links are followed, besides the root's scheme, host and port:
    /// "host" (any port, http or https), "host:port", "[::1]" or "[::1]:8080". Host names
    /// are compared ignoring case; "example.com" does not cover "www.example.com".
    std::vector<std::string> allowed_hosts;
    /// The most bytes of one HTML page kept and scanned for links (at least 1). Every
    /// response is read as it arrives, to its end, in pieces of at most 64 KiB, and only
    /// these bytes of it are kept: a longer page is counted whole in `bytes` and marked
    /// `truncated`, and a body of any size (a 1 GB download) costs no more memory.
    std::size_t max_page_bytes = 8 * 1024 * 1024;
    /// Keep every `fetch_result` for `results()`. A long crawl (a million pages) should
    /// not: with an `output` file, or `on_result`, nothing needs them kept.
    bool keep_results = true;
    /// A file to write a JSON line to per URL done, flushed as each is written (see
    /// records.hpp for the format); empty: none. Emptied first unless `resume` is set.
    std::string output;
    /// With `output`: read it first, and count every URL recorded there as done (not
    /// requested again, whatever its outcome); queue the links those records followed
    /// (`links_to`) and the redirects' targets that are not recorded; then append. A
    /// missing file starts a new crawl. `max_pages` counts this run's requests only.
    bool resume = false;
    /// Called with a warning that does not stop the crawl (the last line of the `output`
    /// being resumed was cut short and is ignored; the file does not exist yet).
    std::function<void(const std::string&)> on_warning;
};

/// What a crawl did: the totals `run` returns, and `summary()` gives at any time.
struct crawl_summary {
    /// The root URL, normalised.
    std::string root;
    /// URLs requested and done, every outcome but `disallowed` (a URL of a host whose
    /// robots.txt could not be fetched at all counts, with that error).
    std::size_t requests = 0;
    /// 2xx responses.
    std::size_t pages = 0;
    /// Redirect responses followed.
    std::size_t redirects = 0;
    /// Body bytes received, every response counted.
    std::size_t bytes = 0;
    /// `http_error` outcomes, by status.
    std::map<int, std::size_t> http_errors;
    std::size_t timeouts = 0;
    std::size_t connection_errors = 0;
    /// `tls_error` outcomes, by kind (`fetch_result::tls_reason`).
    std::map<std::string, std::size_t> tls_errors;
    std::size_t protocol_errors = 0;
    std::size_t redirect_errors = 0;
    std::size_t other_errors = 0;
    /// Links (and redirect targets) to http(s) URLs of another scheme, host or port
    /// than the root's: ignored.
    std::size_t offhost_links = 0;
    /// Links that are not http or https (mailto:, javascript:, malformed): ignored.
    std::size_t foreign_links = 0;
    /// New URLs not requested because `max_pages` was reached.
    std::size_t dropped = 0;
    /// URLs not requested because robots.txt disallows them (or answered 5xx or 429).
    std::size_t disallowed = 0;
    /// Links not followed because of `rel="nofollow"`, or because their page's robots
    /// meta tag or X-Robots-Tag says `nofollow`.
    std::size_t nofollow_links = 0;
    /// `too_large` outcomes.
    std::size_t too_large = 0;
    /// URLs done in an earlier run, read from the `output` file resumed.
    std::size_t resumed = 0;
    /// What each host's robots.txt gave, by origin ("http://127.0.0.1:8080": "404 Not
    /// Found: everything allowed").
    std::map<std::string, std::string> robots;
    /// From the start of the crawl to its end (or to now, while it runs).
    corio::clock::duration elapsed{};
    /// True if the crawl was cancelled before it was done.
    bool cancelled = false;

    /// Every error counted (HTTP errors included).
    [[nodiscard]] std::size_t errors() const noexcept;
    /// Requests done per second of `elapsed` (0 before any time has passed).
    [[nodiscard]] double requests_per_second() const noexcept;
};

/// The live state of a running crawl, for a progress display.
struct crawl_progress {
    std::size_t done = 0;      ///< URLs done (disallowed ones included)
    std::size_t queued = 0;    ///< URLs waiting in the queue
    std::size_t in_flight = 0; ///< requests under way
    std::size_t bytes = 0;     ///< body bytes received
    std::size_t errors = 0;
    corio::clock::duration elapsed{};
};

namespace detail {
class crawl_state;
}

/// A crawler. It stays on the root URL's scheme, host and port (and `allowed_hosts`),
/// requests each URL once (URLs are normalised with `http::url::resolve`, fragments
/// dropped), follows redirects itself (so each one is counted and its target
/// de-duplicated like a link), and follows the links of every HTML page it gets. Before
/// the first URL of a host it fetches the host's robots.txt, and requests only what that
/// allows; it keeps to `per_host_concurrency` and `per_host_delay`. A crawler runs once.
class crawler {
public:
    /// \throws std::invalid_argument if `options.workers`, `threads`, `max_pages`,
    /// `per_host_concurrency` or `max_page_bytes` is 0, `max_redirects`, `timeout` or
    /// `per_host_delay` is negative, an `allowed_hosts` entry is not a host, or `resume`
    /// is set without `output`.
    explicit crawler(crawl_options options = {});
    crawler(crawler&&) noexcept;
    crawler& operator=(crawler&&) noexcept;
    crawler(const crawler&) = delete;
    crawler& operator=(const crawler&) = delete;
    ~crawler();

    /// Crawl from `root` ("http[s]://host[:port]/path") until no URL is left or `max_pages`
    /// were requested, and return the totals. Cancelling it stops every request under way
    /// (their connections are closed) and propagates `cancelled_error`; `summary()` then
    /// gives the partial totals, with `cancelled` set. The crawler must outlive the task.
    /// \throws std::invalid_argument for a root that is not an http or https URL;
    /// corio::invalid_state_error if this crawler has already run; std::runtime_error
    /// ("FILE:LINE: ...") for an `output` file to resume that holds a line that is not a
    /// record; std::system_error if `output` cannot be read or written.
    corio::task<crawl_summary> run(std::string root);

    /// The totals so far (all of them once `run` is over).
    [[nodiscard]] crawl_summary summary() const;
    /// The live counters.
    [[nodiscard]] crawl_progress progress() const;
    /// Every URL done so far, in the order they were done (empty unless `keep_results`).
    [[nodiscard]] const std::vector<fetch_result>& results() const noexcept;
    [[nodiscard]] const crawl_options& options() const noexcept;

private:
    std::unique_ptr<detail::crawl_state> m_state;
};

} // namespace corio_crawl
