// corio-crawl: a web crawler on corio::http::client.
//
//   corio-crawl [URL] [--workers N] [--threads N] [--max-pages N] [--timeout SECONDS]
//               [--max-redirects N] [--per-host N] [--delay SECONDS] [--allow-host HOST]...
//               [--user-agent TEXT] [--ignore-robots] [--max-page-bytes N]
//               [--output FILE [--resume]] [--quiet] [--site-pages N] [--seed N]
//               [--cafile FILE] [--insecure] [--tls]
//
// Crawls every page of URL's scheme, host and port (and of the --allow-host hosts) that can
// be reached by links from URL (http or https), with N worker tasks (16 by default; on
// several loops, one per thread, with --threads), obeying each host's robots.txt and robots
// meta tags and keeping to --per-host requests at once and --delay between them per host,
// and prints a summary: pages, bytes, errors by kind (TLS errors by their reason),
// redirects, pages per second. --output writes a JSON line per URL as it is done, and
// --resume continues the crawl such a file records. Without a URL it serves a generated
// site (--site-pages pages, made from --seed) on 127.0.0.1 (over https with a certificate
// made on the spot with --tls) and crawls that, then checks what it found against what the
// site holds. Ctrl-C (SIGINT) or SIGTERM stops the crawl and prints what was done so far.
// docs/crawler.md tells more.

#include "crawler.hpp"
#include "progress.hpp"
#include "self_signed.hpp"
#include "site.hpp"

#include <corio/corio.hpp>
#include <corio/http/server.hpp>
#include <corio/http/url.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace {

constexpr const char* usage =
    "usage: corio-crawl [URL] [options]\n"
    "\n"
    "Crawl the pages of URL's scheme, host and port reachable from URL (http or https),\n"
    "obeying robots.txt. Without a URL, serve a generated site on 127.0.0.1 and crawl that.\n"
    "\n"
    "  --workers N          concurrent requests (default 16)\n"
    "  --threads N          loops fetching, one per thread, the workers spread over them;\n"
    "                       0 for one per CPU (default 1)\n"
    "  --max-pages N        the most URLs requested (default 10000)\n"
    "  --timeout SECONDS    the time one request may take, 0 for none (default 10)\n"
    "  --max-redirects N    redirects followed from a link (default 10)\n"
    "  --per-host N         requests under way at once to one host (default 8)\n"
    "  --delay SECONDS      the least time between the starts of two requests to one host\n"
    "                       (default 0); a robots.txt Crawl-delay raises it for its host\n"
    "  --allow-host HOST    follow links to HOST too: HOST (any port) or HOST:PORT;\n"
    "                       may be given more than once\n"
    "  --user-agent TEXT    the User-Agent, and the name robots.txt groups are matched\n"
    "                       against (its product token; default corio-crawl)\n"
    "  --ignore-robots      neither fetch robots.txt nor heed robots meta tags, X-Robots-Tag\n"
    "                       or rel=nofollow\n"
    "  --max-page-bytes N   the most bytes read of one response; a longer one is an error\n"
    "                       (default 8M; suffixes K, M, G for KiB, MiB, GiB)\n"
    "  --output FILE        write a JSON line per URL as it is done (the file is emptied\n"
    "                       first)\n"
    "  --resume             with --output: take the URLs FILE records as done, queue the\n"
    "                       links they led to, and append\n"
    "  --quiet              no progress display\n"
    "  --site-pages N       pages of the generated site (default 3000)\n"
    "  --seed N             the generated site's seed (default 1)\n"
    "  --cafile FILE        trust the CA certificates in FILE (PEM) for https, as well as\n"
    "                       the system's\n"
    "  --insecure           do not check https certificates at all (dangerous)\n"
    "  --tls                serve the generated site over https, with a self-signed\n"
    "                       certificate made on the spot, which the crawl trusts\n"
    "  --help               this text\n";

/// A command line that cannot be used.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct command_line {
    std::optional<std::string> url;
    corio_crawl::crawl_options crawl;
    bool quiet = false;
    std::size_t site_pages = 3000;
    std::uint64_t seed = 1;
    std::optional<std::string> cafile;
    bool insecure = false;
    bool tls_site = false;
};

std::uint64_t parse_count(std::string_view option, std::string_view text, std::uint64_t min) {
    const std::string s(text);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || s[0] == '-' || *end != '\0' || errno == ERANGE || v < min) {
        throw usage_error(std::string(option) + ": expected a whole number of at least " +
                          std::to_string(min) + ", not '" + s + "'");
    }
    return v;
}

/// A byte count: digits, maybe followed by K, M or G (KiB, MiB, GiB).
std::size_t parse_bytes(std::string_view option, std::string_view text) {
    std::string_view digits = text;
    std::uint64_t unit = 1;
    if (!digits.empty()) {
        switch (digits.back()) {
        case 'K':
        case 'k':
            unit = 1024;
            break;
        case 'M':
        case 'm':
            unit = 1024 * 1024;
            break;
        case 'G':
        case 'g':
            unit = 1024 * 1024 * 1024;
            break;
        default:
            break;
        }
        if (unit != 1) {
            digits.remove_suffix(1);
        }
    }
    try {
        const std::uint64_t v = parse_count(option, digits, 1);
        if (v > SIZE_MAX / unit) {
            throw usage_error("too many");
        }
        return static_cast<std::size_t>(v * unit);
    } catch (const usage_error&) {
        throw usage_error(std::string(option) +
                          ": expected a number of bytes of at least 1 (with K, M or G after "
                          "it for KiB, MiB or GiB), not '" +
                          std::string(text) + "'");
    }
}

double parse_seconds(std::string_view option, std::string_view text) {
    const std::string s(text);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || v < 0 || v > 1e6) {
        throw usage_error(std::string(option) +
                          ": expected a number of seconds from 0 to 1000000, not '" + s + "'");
    }
    return v;
}

command_line parse_command_line(int argc, char** argv) {
    command_line cl;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        std::string_view value;
        bool has_value = false;
        if (arg.starts_with("--")) {
            if (const std::size_t eq = arg.find('='); eq != std::string_view::npos) {
                value = arg.substr(eq + 1);
                arg = arg.substr(0, eq);
                has_value = true;
            }
        }
        const auto next_value = [&]() -> std::string_view {
            if (has_value) {
                return value;
            }
            if (i + 1 >= argc) {
                throw usage_error(std::string(arg) + ": a value is missing");
            }
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (arg == "--workers") {
            cl.crawl.workers = parse_count(arg, next_value(), 1);
        } else if (arg == "--threads") {
            cl.crawl.threads = parse_count(arg, next_value(), 0);
            if (cl.crawl.threads == 0) {
                cl.crawl.threads = corio::usable_cpus();
            }
        } else if (arg == "--max-pages") {
            cl.crawl.max_pages = parse_count(arg, next_value(), 1);
        } else if (arg == "--timeout") {
            cl.crawl.timeout = std::chrono::duration_cast<corio::clock::duration>(
                std::chrono::duration<double>(parse_seconds(arg, next_value())));
        } else if (arg == "--max-redirects") {
            cl.crawl.max_redirects = static_cast<int>(
                std::min<std::uint64_t>(parse_count(arg, next_value(), 0), INT_MAX));
        } else if (arg == "--per-host") {
            cl.crawl.per_host_concurrency = parse_count(arg, next_value(), 1);
        } else if (arg == "--delay") {
            cl.crawl.per_host_delay = std::chrono::duration_cast<corio::clock::duration>(
                std::chrono::duration<double>(parse_seconds(arg, next_value())));
        } else if (arg == "--allow-host") {
            cl.crawl.allowed_hosts.emplace_back(next_value());
        } else if (arg == "--user-agent") {
            cl.crawl.user_agent = std::string(next_value());
        } else if (arg == "--ignore-robots") {
            cl.crawl.obey_robots = false;
        } else if (arg == "--max-page-bytes") {
            cl.crawl.max_page_bytes = parse_bytes(arg, next_value());
        } else if (arg == "--output" || arg == "-o") {
            cl.crawl.output = std::string(next_value());
            if (cl.crawl.output.empty()) {
                throw usage_error("--output: a file name is missing");
            }
        } else if (arg == "--resume") {
            cl.crawl.resume = true;
        } else if (arg == "--quiet" || arg == "-q") {
            cl.quiet = true;
        } else if (arg == "--site-pages") {
            cl.site_pages = parse_count(arg, next_value(), 1);
        } else if (arg == "--seed") {
            cl.seed = parse_count(arg, next_value(), 0);
        } else if (arg == "--cafile") {
            cl.cafile = std::string(next_value());
        } else if (arg == "--insecure" || arg == "-k") {
            cl.insecure = true;
        } else if (arg == "--tls") {
            cl.tls_site = true;
        } else if (arg.starts_with("-")) {
            throw usage_error("unknown option '" + std::string(arg) + "'");
        } else if (cl.url) {
            throw usage_error("more than one URL: '" + *cl.url + "' and '" + std::string(arg) +
                              "'");
        } else {
            (void)corio::http::url::parse(arg); // says what is wrong (http and https only)
            cl.url = std::string(arg);
        }
    }
    if (cl.tls_site && cl.url) {
        throw usage_error("--tls serves the generated site: it takes no URL");
    }
    if (cl.insecure && cl.cafile) {
        throw usage_error("--insecure and --cafile: choose one");
    }
    if (cl.crawl.resume && cl.crawl.output.empty()) {
        throw usage_error("--resume needs --output FILE: the file to resume");
    }
    try {
        const corio_crawl::crawler check(cl.crawl); // an --allow-host that is not a host
    } catch (const std::invalid_argument& e) {
        std::string what = e.what(); // "crawler: allowed host 'x/y': a host name, not ..."
        if (what.starts_with("crawler: ")) {
            what.erase(0, 9);
        }
        throw usage_error("--allow-host: " + what);
    }
    if (cl.cafile || cl.insecure) {
        cl.crawl.tls = corio::tls_context::client();
        if (cl.cafile) {
            cl.crawl.tls.load_verify_locations(*cl.cafile); // names the file if unreadable
        } else {
            cl.crawl.tls.dangerously_disable_verification();
        }
    }
    return cl;
}

/// Wait for `signo`, then cancel the crawl and note which signal stopped it.
corio::task<> cancel_on_signal(int signo, corio::join_handle<corio_crawl::crawl_summary> crawl,
                               int& received) {
    co_await corio::signal(signo);
    if (received == 0) {
        received = signo;
    }
    crawl.cancel();
}

/// Cancel `h` and wait for it to finish, whatever it ends with.
template <class T>
corio::task<> stop(corio::join_handle<T> h) {
    h.cancel();
    try {
        co_await h;
    } catch (...) { // cancelled_error, or what the task failed with: nothing left to do
    }
}

/// How the crawl of the generated site compares with what the site holds.
void check_against_site(const corio_crawl::site& s, const std::string& root,
                        const std::vector<corio_crawl::fetch_result>& results) {
    std::set<std::string> pages, missing, redirects;
    for (const auto& r : results) {
        if (!r.url.starts_with(root)) {
            continue;
        }
        std::string path(1, '/');
        path.append(r.url, root.size());
        if (r.kind == corio_crawl::outcome::page) {
            pages.insert(path);
        } else if (r.kind == corio_crawl::outcome::http_error && r.status == 404) {
            missing.insert(path);
        } else if (r.kind == corio_crawl::outcome::redirect) {
            redirects.insert(path);
        }
    }
    const auto found = [](const std::vector<std::string>& truth, const std::set<std::string>& got) {
        std::size_t n = 0;
        for (const std::string& p : truth) {
            n += got.count(p);
        }
        return n;
    };
    const std::vector<std::string> truth_pages = s.page_paths();
    const std::vector<std::string> truth_missing = s.missing_paths();
    const std::vector<std::string> truth_redirects = s.redirect_paths();
    const std::size_t p = found(truth_pages, pages);
    const std::size_t m = found(truth_missing, missing);
    const std::size_t r = found(truth_redirects, redirects);
    const bool exact = p == truth_pages.size() && p == pages.size() && m == truth_missing.size() &&
                       m == missing.size() && r == truth_redirects.size() && r == redirects.size();
    std::printf("site check: %zu of %zu pages, %zu of %zu broken links, %zu of %zu redirects "
                "found%s\n",
                p, truth_pages.size(), m, truth_missing.size(), r, truth_redirects.size(),
                exact ? ": all of them, and nothing else" : "");
}

corio::task<int> crawl_main(command_line cl) {
    // Without a URL: the generated site, on a port of its own.
    std::optional<corio_crawl::site> site;
    std::optional<corio_crawl::self_signed_certificate> certificate;
    corio::tls_context server_tls;
    corio::server server;
    std::string root;
    if (cl.url) {
        root = *cl.url;
        std::printf("crawling %s with %zu workers on %zu thread%s\n", root.c_str(),
                    cl.crawl.workers, cl.crawl.threads, cl.crawl.threads == 1 ? "" : "s");
    } else {
        corio_crawl::site_options options;
        options.pages = cl.site_pages;
        options.seed = cl.seed;
        options.scheme = cl.tls_site ? "https" : "http";
        site.emplace(options);
        corio::http::server_options http_options;
        if (cl.tls_site) {
            // The crawl trusts this certificate alone (its own CA), for 127.0.0.1.
            certificate.emplace(std::vector<std::string>{"127.0.0.1", "localhost"});
            server_tls =
                corio::tls_context::server(certificate->cert_file(), certificate->key_file());
            http_options.tls = server_tls;
            cl.crawl.tls = corio::tls_context::client();
            cl.crawl.tls.load_verify_locations(certificate->cert_file());
        }
        server = co_await corio::http::serve(site->handler(), "127.0.0.1", 0, http_options);
        root = std::string(cl.tls_site ? "https" : "http") +
               "://127.0.0.1:" + std::to_string(server.port()) + "/";
        std::printf("no URL given: serving a generated site of %zu pages (seed %llu) on %s\n"
                    "crawling it with %zu workers on %zu thread%s\n",
                    cl.site_pages, static_cast<unsigned long long>(cl.seed), root.c_str(),
                    cl.crawl.workers, cl.crawl.threads, cl.crawl.threads == 1 ? "" : "s");
    }
    std::fflush(stdout);

    const corio_crawl::progress_mode mode = cl.quiet           ? corio_crawl::progress_mode::quiet
                                            : ::isatty(1) != 0 ? corio_crawl::progress_mode::live
                                                               : corio_crawl::progress_mode::lines;
    // The results are kept only for the generated site, which is checked against them;
    // a crawl of the web keeps the first failures, for the summary, and nothing else.
    cl.crawl.keep_results = site.has_value();
    std::vector<corio_crawl::fetch_result> failures;
    constexpr std::size_t listed_failures = 10;
    if (!cl.crawl.keep_results) {
        cl.crawl.on_result = [&failures](const corio_crawl::fetch_result& r) {
            using corio_crawl::outcome;
            if (failures.size() < listed_failures && r.kind != outcome::page &&
                r.kind != outcome::redirect && r.kind != outcome::disallowed) {
                failures.push_back(r);
            }
        };
    }
    cl.crawl.on_warning = [](const std::string& what) {
        std::fflush(stdout);
        std::fprintf(stderr, "corio-crawl: warning: %s\n", what.c_str());
    };
    corio_crawl::crawler crawler(cl.crawl);
    corio::join_handle<corio_crawl::crawl_summary> crawl = corio::spawn(crawler.run(root), "crawl");
    int received = 0;
    corio::join_handle<> on_sigint = corio::spawn(cancel_on_signal(SIGINT, crawl, received));
    corio::join_handle<> on_sigterm = corio::spawn(cancel_on_signal(SIGTERM, crawl, received));
    corio::join_handle<> display =
        corio::spawn(corio_crawl::show_progress(crawler, mode, stdout), "progress");

    std::exception_ptr failure;
    try {
        co_await crawl;
    } catch (const corio::cancelled_error&) {
        // By a signal: the summary below says what was done.
    } catch (...) {
        failure = std::current_exception();
    }
    co_await stop(display); // erases the live line
    co_await stop(on_sigint);
    co_await stop(on_sigterm);
    if (site) {
        server.close();
        co_await server.wait_closed();
    }
    if (failure) {
        std::rethrow_exception(failure);
    }

    corio_crawl::print_summary(stdout, crawler.summary(),
                               cl.crawl.keep_results ? crawler.results() : failures,
                               listed_failures);
    if (site && received == 0) {
        check_against_site(*site, root, crawler.results());
    }
    co_return received != 0 ? 128 + received : 0;
}

} // namespace

int main(int argc, char** argv) {
    command_line cl;
    try {
        cl = parse_command_line(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "corio-crawl: %s\n%s", e.what(), usage);
        return 2;
    }
    try {
        return corio::run(crawl_main(std::move(cl)));
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "corio-crawl: %s\n", e.what());
        return 1;
    }
}
