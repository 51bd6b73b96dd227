// corio-crawl's manners (apps/crawl/crawler.hpp), over real sockets on 127.0.0.1: robots.txt
// (rules, groups, 4xx, 5xx, redirects), robots meta tags, X-Robots-Tag and rel=nofollow,
// the per-host limits (concurrency across loops, the delay between starts, Crawl-delay, on
// the virtual clock), --allow-host, --max-page-bytes, and a crawl cancelled while it waits
// for a host's delay. Each server records every request it gets.

#include "support/net.hpp"

#include <gtest/gtest.h>

#if __has_include("crawler.hpp")

#include "crawler.hpp"

#include <corio/corio.hpp>
#include <corio/http/server.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace corio_net_test;

namespace {

class crawl_polite : public fd_leak_check {};

using corio_crawl::outcome;

/// What a `table_site` answers for one target.
struct page {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// An HTML page linking to `hrefs`, with `head` in its <head>.
page html(const std::vector<std::string>& hrefs, const std::string& head = {}) {
    page p;
    p.body = "<html><head>" + head + "</head><body>";
    for (const std::string& h : hrefs) {
        p.body += "<a href=\"" + h + "\">" + h + "</a>\n";
    }
    p.body += "</body></html>";
    p.headers.emplace_back("Content-Type", "text/html");
    return p;
}

page text(std::string body, int status = 200) {
    page p;
    p.status = status;
    p.body = std::move(body);
    p.headers.emplace_back("Content-Type", "text/plain");
    return p;
}

page redirect(int status, std::string location) {
    page p;
    p.status = status;
    p.headers.emplace_back("Location", std::move(location));
    return p;
}

/// A site answering from a table of targets (404 for the rest), which logs every request
/// with the loop's time, and counts the requests it is answering at once (each takes
/// `delay`, if any, on the loop's clock).
class table_site {
public:
    std::map<std::string, page> pages;
    corio::clock::duration delay{};

    struct hit {
        std::string target;
        corio::clock::time_point at;
    };
    std::vector<hit> log;
    std::size_t current = 0;
    std::size_t most_at_once = 0;

    corio::http::handler handler() {
        return [this](corio::http::request& req) { return handle(req); };
    }

    /// The targets requested, each once.
    [[nodiscard]] std::set<std::string> targets() const {
        std::set<std::string> out;
        for (const hit& h : log) {
            out.insert(h.target);
        }
        return out;
    }
    [[nodiscard]] std::size_t count(const std::string& target) const {
        return static_cast<std::size_t>(std::count_if(
            log.begin(), log.end(), [&target](const hit& h) { return h.target == target; }));
    }
    /// The least time between the starts of two requests (one hour with fewer than two).
    [[nodiscard]] corio::clock::duration least_gap() const {
        corio::clock::duration least = 1h;
        for (std::size_t i = 1; i < log.size(); ++i) {
            least = std::min(least, log[i].at - log[i - 1].at);
        }
        return least;
    }

private:
    corio::task<corio::http::response> handle(corio::http::request& req) {
        log.push_back({req.target, corio::get_running_loop().time()});
        ++current;
        most_at_once = std::max(most_at_once, current);
        struct leaving {
            std::size_t& n;
            ~leaving() { --n; }
        } guard{current};
        if (delay > corio::clock::duration::zero()) {
            co_await corio::sleep(delay);
        }
        const auto it = pages.find(req.target);
        if (it == pages.end()) {
            co_return corio::http::response(404, "not here");
        }
        corio::http::response r(it->second.status, it->second.body);
        for (const auto& [name, value] : it->second.headers) {
            r.headers.add(name, value);
        }
        co_return r;
    }
};

std::string root_of(const corio::server& srv, const std::string& host = "127.0.0.1") {
    return "http://" + host + ":" + std::to_string(srv.port()) + "/";
}

/// "http://127.0.0.1:port" of a root "http://127.0.0.1:port/".
std::string origin_of(const std::string& root) {
    return root.substr(0, root.size() - 1);
}

corio_crawl::crawl_options polite(std::size_t workers = 4) {
    corio_crawl::crawl_options o;
    o.workers = workers;
    o.timeout = 30s;
    return o;
}

corio::task<> close_server(corio::server& srv) {
    srv.close();
    std::exception_ptr e = co_await error_of(corio::wait_for(srv.wait_closed(), 10s));
    EXPECT_FALSE(e) << "wait_closed: " << describe(e);
}

/// Serve `site` on `host`, crawl from its root with `options`, close, and give the
/// summary (the crawler's results in `*results`).
corio::task<corio_crawl::crawl_summary> crawl_site(table_site& site,
                                                   corio_crawl::crawl_options options,
                                                   std::vector<corio_crawl::fetch_result>* results,
                                                   std::string* root = nullptr) {
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0);
    const std::string from = root_of(srv);
    if (root != nullptr) {
        *root = from;
    }
    corio_crawl::crawler c(std::move(options));
    corio::task<corio_crawl::crawl_summary> crawling = c.run(from);
    corio_crawl::crawl_summary s = co_await crawling;
    co_await close_server(srv);
    *results = c.results();
    co_return s;
}

/// The results of kind `kind`, by path.
std::map<std::string, corio_crawl::fetch_result>
by_path(const std::vector<corio_crawl::fetch_result>& results, const std::string& root,
        outcome kind) {
    std::map<std::string, corio_crawl::fetch_result> out;
    for (const auto& r : results) {
        if (r.kind == kind && r.url.starts_with(root)) {
            out.emplace("/" + r.url.substr(root.size()), r);
        }
    }
    return out;
}

std::set<std::string> keys(const std::map<std::string, corio_crawl::fetch_result>& m) {
    std::set<std::string> out;
    for (const auto& [k, v] : m) {
        out.insert(k);
    }
    return out;
}

/// Virtual time for a test with sockets: the clock jumps to the next timer only after the
/// loop has had nothing to do for a while of real time, so never while a request is on
/// its way through the kernel.
corio::run_options virtual_time_with_sockets() {
    corio::run_options o;
    o.virtual_clock = true;
    o.autojump_threshold = 100ms;
    return o;
}

// --- robots.txt -----------------------------------------------------------------------------

/// A site with a robots.txt of every kind of rule, and a root linking to pages each rule
/// decides.
table_site robots_site() {
    table_site site;
    site.pages["/robots.txt"] = text("# the test site\n"
                                     "User-agent: otherbot\n"
                                     "Disallow: /\n"
                                     "\n"
                                     "User-agent: *\n"
                                     "Disallow: /private/\n"
                                     "Allow: /private/open.html\n"
                                     "Disallow: /*.pdf$\n"
                                     "Disallow: /search?\n"
                                     "\n"
                                     "User-agent: special-bot\n"
                                     "Disallow: /a.html\n"
                                     "Sitemap: http://example.com/sitemap.xml\n");
    const std::vector<std::string> linked = {"/a.html",
                                             "/private/secret.html",
                                             "/private/open.html",
                                             "/doc.pdf",
                                             "/doc.pdf?download=1",
                                             "/search?q=corio",
                                             "/search",
                                             "/private"};
    site.pages["/"] = html(linked);
    for (const std::string& l : linked) {
        site.pages[l] = html({"/"});
    }
    return site;
}

corio::task<> crawl_robots_site() {
    table_site site = robots_site();
    std::vector<corio_crawl::fetch_result> results;
    std::string root;
    const corio_crawl::crawl_summary s = co_await crawl_site(site, polite(), &results, &root);

    // Disallowed URLs were never requested, and each is recorded as disallowed.
    const std::set<std::string> requested = {
        "/robots.txt",         "/",       "/a.html", "/private/open.html",
        "/doc.pdf?download=1", "/search", "/private"};
    EXPECT_EQ(site.targets(), requested);
    EXPECT_EQ(site.count("/robots.txt"), 1U);
    const auto disallowed = by_path(results, root, outcome::disallowed);
    EXPECT_EQ(keys(disallowed),
              (std::set<std::string>{"/private/secret.html", "/doc.pdf", "/search?q=corio"}));
    for (const auto& [path, r] : disallowed) {
        EXPECT_EQ(r.error, "disallowed by robots.txt") << path;
        EXPECT_EQ(r.status, 0) << path;
        EXPECT_EQ(r.referrer, root) << path;
    }
    EXPECT_EQ(s.disallowed, 3U);
    EXPECT_EQ(s.requests, 6U); // robots.txt is not one of them
    EXPECT_EQ(s.pages, 6U);
    EXPECT_EQ(s.errors(), 0U);
    EXPECT_EQ(results.size(), s.requests + s.disallowed);
    EXPECT_EQ(s.robots,
              (std::map<std::string, std::string>{{origin_of(root), "200 OK: 4 rules for *"}}));
}

TEST_F(crawl_polite, urls_robots_txt_disallows_are_never_requested) {
    corio::run(crawl_robots_site());
}

corio::task<> crawl_robots_site_as_special_bot() {
    table_site site = robots_site();
    std::vector<corio_crawl::fetch_result> results;
    std::string root;
    corio_crawl::crawl_options o = polite();
    o.user_agent = "Special-Bot/2.0 (+https://example.com/bot)";
    const corio_crawl::crawl_summary s = co_await crawl_site(site, o, &results, &root);
    // Its own group applies, and '*' not at all.
    EXPECT_EQ(keys(by_path(results, root, outcome::disallowed)),
              (std::set<std::string>{"/a.html"}));
    EXPECT_EQ(site.count("/a.html"), 0U);
    EXPECT_EQ(site.count("/private/secret.html"), 1U);
    EXPECT_EQ(s.disallowed, 1U);
    EXPECT_EQ(s.robots.at(origin_of(root)), "200 OK: 1 rule for Special-Bot");
}

TEST_F(crawl_polite, a_group_naming_the_crawlers_user_agent_replaces_star) {
    corio::run(crawl_robots_site_as_special_bot());
}

corio::task<> crawl_without_robots_txt() {
    table_site site = robots_site();
    site.pages.erase("/robots.txt");
    std::vector<corio_crawl::fetch_result> results;
    std::string root;
    const corio_crawl::crawl_summary s = co_await crawl_site(site, polite(), &results, &root);
    EXPECT_EQ(s.disallowed, 0U);
    EXPECT_EQ(s.pages, 9U); // everything
    EXPECT_EQ(site.targets().size(), 10U);
    EXPECT_EQ(s.robots.at(origin_of(root)), "404 Not Found: everything allowed");
}

TEST_F(crawl_polite, robots_txt_404_allows_everything) {
    corio::run(crawl_without_robots_txt());
}

corio::task<> crawl_with_robots_answering(int status) {
    table_site site = robots_site();
    site.pages["/robots.txt"] = text("overloaded", status);
    std::vector<corio_crawl::fetch_result> results;
    std::string root;
    const corio_crawl::crawl_summary s = co_await crawl_site(site, polite(), &results, &root);
    // Nothing but robots.txt was requested; the root is disallowed, saying why.
    EXPECT_EQ(site.targets(), (std::set<std::string>{"/robots.txt"}));
    EXPECT_EQ(s.requests, 0U);
    EXPECT_EQ(s.disallowed, 1U);
    EXPECT_EQ(results.size(), 1U);
    if (!results.empty()) {
        EXPECT_EQ(results[0].kind, outcome::disallowed);
        EXPECT_EQ(results[0].url, root);
        EXPECT_EQ(results[0].error, "disallowed by robots.txt (robots.txt answered " +
                                        std::to_string(status) + " " +
                                        std::string(corio::http::reason_phrase(status)) + ")");
    }
    EXPECT_NE(s.robots.at(origin_of(root)).find(": nothing allowed"), std::string::npos);
}

TEST_F(crawl_polite, robots_txt_503_crawls_nothing) {
    corio::run(crawl_with_robots_answering(503));
}

TEST_F(crawl_polite, robots_txt_429_crawls_nothing) {
    corio::run(crawl_with_robots_answering(429));
}

corio::task<> crawl_with_robots_redirected(bool loop) {
    table_site site = robots_site();
    const std::string rules = site.pages["/robots.txt"].body;
    if (loop) {
        // A redirect to itself for ever: after 5, taken as no robots.txt.
        site.pages["/robots.txt"] = redirect(301, "/robots.txt?1");
        for (int i = 1; i < 10; ++i) {
            site.pages["/robots.txt?" + std::to_string(i)] =
                redirect(302, "/robots.txt?" + std::to_string(i + 1));
        }
    } else {
        site.pages["/robots.txt"] = redirect(301, "/moved/robots.txt");
        site.pages["/moved/robots.txt"] = redirect(308, "../elsewhere.txt");
        site.pages["/elsewhere.txt"] = text(rules);
    }
    std::vector<corio_crawl::fetch_result> results;
    std::string root;
    const corio_crawl::crawl_summary s = co_await crawl_site(site, polite(), &results, &root);
    if (loop) {
        EXPECT_EQ(site.count("/robots.txt"), 1U);
        EXPECT_EQ(site.count("/robots.txt?5"), 1U); // the fifth redirect, followed
        EXPECT_EQ(site.count("/robots.txt?6"), 0U);
        EXPECT_EQ(s.disallowed, 0U);
        EXPECT_EQ(s.robots.at(origin_of(root)), "302 Found after 5 redirects: everything allowed");
    } else {
        EXPECT_EQ(s.disallowed, 3U);
        EXPECT_EQ(site.count("/private/secret.html"), 0U);
        EXPECT_EQ(s.robots.at(origin_of(root)), "200 OK: 4 rules for *");
    }
}

TEST_F(crawl_polite, robots_txt_redirects_are_followed) {
    corio::run(crawl_with_robots_redirected(false));
}

TEST_F(crawl_polite, robots_txt_past_five_redirects_is_no_robots_txt) {
    corio::run(crawl_with_robots_redirected(true));
}

corio::task<> crawl_ignoring_robots() {
    table_site site = robots_site();
    std::vector<corio_crawl::fetch_result> results;
    corio_crawl::crawl_options o = polite();
    o.obey_robots = false;
    const corio_crawl::crawl_summary s = co_await crawl_site(site, o, &results);
    EXPECT_EQ(site.count("/robots.txt"), 0U);
    EXPECT_EQ(s.pages, 9U);
    EXPECT_EQ(s.disallowed, 0U);
    EXPECT_TRUE(s.robots.empty());
}

TEST_F(crawl_polite, ignoring_robots_fetches_no_robots_txt_and_crawls_everything) {
    corio::run(crawl_ignoring_robots());
}

// --- robots directives in pages -------------------------------------------------------------

table_site nofollow_site() {
    table_site site;
    site.pages["/"].body = "<a href=/a rel=nofollow>a</a> <a href=/b>b</a>"
                           "<a href=/meta-nofollow>m</a> <a href=/none>n</a>"
                           "<a rel=\"external NoFollow\" href=/e>e</a> <a href=/own>o</a>"
                           "<a href=/other>other</a>";
    site.pages["/"].headers.emplace_back("Content-Type", "text/html");
    site.pages["/b"] = html({"/f"});
    site.pages["/b"].headers.emplace_back("X-Robots-Tag", "nofollow");
    site.pages["/meta-nofollow"] = html({"/c"}, "<meta name=\"robots\" content=\"nofollow\">");
    site.pages["/none"] = html({"/d"}, "<meta name=\"ROBOTS\" content=\"none\">");
    site.pages["/own"] = html({"/g"}, "<meta name=\"corio-crawl\" content=\"noindex,nofollow\">");
    site.pages["/other"] = html({"/h"}, "<meta name=\"otherbot\" content=\"nofollow\">");
    for (const char* p : {"/a", "/c", "/d", "/e", "/f", "/g", "/h"}) {
        site.pages[p] = html({});
    }
    return site;
}

corio::task<> crawl_nofollow_site(bool obey) {
    table_site site = nofollow_site();
    std::vector<corio_crawl::fetch_result> results;
    std::string root;
    corio_crawl::crawl_options o = polite();
    o.obey_robots = obey;
    const corio_crawl::crawl_summary s = co_await crawl_site(site, o, &results, &root);
    const auto pages = by_path(results, root, outcome::page);
    if (obey) {
        EXPECT_EQ(site.targets(), (std::set<std::string>{"/robots.txt", "/", "/b", "/meta-nofollow",
                                                         "/none", "/own", "/other", "/h"}));
        // rel on /a and /e; the pages' own links on /b (X-Robots-Tag), /meta-nofollow,
        // /none and /own.
        EXPECT_EQ(s.nofollow_links, 6U);
    } else {
        EXPECT_EQ(site.targets().size(), 13U); // every page, and no robots.txt
        EXPECT_EQ(s.nofollow_links, 0U);
    }
    // What the pages say is reported either way.
    for (const char* p : {"/b", "/meta-nofollow", "/none", "/own"}) {
        EXPECT_TRUE(pages.contains(p) && pages.at(p).nofollow) << p;
    }
    EXPECT_TRUE(pages.contains("/none") && pages.at("/none").noindex);
    EXPECT_TRUE(pages.contains("/own") && pages.at("/own").noindex);
    EXPECT_TRUE(pages.contains("/other") && !pages.at("/other").nofollow);
    EXPECT_TRUE(pages.contains("/") && !pages.at("/").nofollow);
    if (pages.contains("/")) {
        const corio_crawl::fetch_result& home = pages.at("/");
        EXPECT_EQ(home.links_out, 7U);
        EXPECT_EQ(home.links_to.size(), obey ? 5U : 7U);
        EXPECT_EQ(home.content_type, "text/html");
    }
}

TEST_F(crawl_polite, nofollow_meta_tags_headers_and_links_are_not_followed) {
    corio::run(crawl_nofollow_site(true));
}

TEST_F(crawl_polite, ignoring_robots_follows_nofollow_links) {
    corio::run(crawl_nofollow_site(false));
}

// --- per-host limits ------------------------------------------------------------------------

table_site wide_site(std::size_t n) {
    table_site site;
    std::vector<std::string> links;
    for (std::size_t i = 0; i < n; ++i) {
        links.push_back("/p" + std::to_string(i));
        site.pages[links.back()] = html({"/"});
    }
    site.pages["/"] = html(links);
    return site;
}

corio::task<> crawl_with_per_host_limit(std::size_t threads, corio::clock::duration each) {
    table_site site = wide_site(24);
    site.delay = each; // every answer takes this long, so that requests overlap
    corio_crawl::crawl_options o = polite(8);
    o.threads = threads;
    o.per_host_concurrency = 3;
    std::vector<corio_crawl::fetch_result> results;
    const corio_crawl::crawl_summary s = co_await crawl_site(site, o, &results);
    EXPECT_EQ(s.pages, 25U);
    EXPECT_LE(site.most_at_once, 3U);
    EXPECT_GE(site.most_at_once, 1U);
    if (threads == 1) {
        // On the virtual clock, the three slots fill before any answer comes.
        EXPECT_EQ(site.most_at_once, 3U);
    }
}

TEST_F(crawl_polite, per_host_concurrency_is_never_exceeded) {
    corio::run(crawl_with_per_host_limit(1, 50ms), virtual_time_with_sockets());
}

// Three loops fetching: the coordinator grants the slots, so the limit holds across them.
TEST_F(crawl_polite, per_host_concurrency_holds_across_threads) {
    corio::run(crawl_with_per_host_limit(3, 2ms));
}

/// Two hosts (127.0.0.1 and 127.0.0.2): the first asks for a Crawl-delay longer than the
/// crawl's own delay, the second has no robots.txt.
corio::task<> crawl_with_delays() {
    table_site slow = wide_site(4);
    table_site fast = wide_site(4);
    slow.pages["/robots.txt"] = text("User-agent: *\nCrawl-delay: 2.5\n");
    corio::server fast_srv = co_await corio::http::serve(fast.handler(), "127.0.0.2", 0);
    const std::string fast_root = root_of(fast_srv, "127.0.0.2");
    for (std::size_t i = 0; i < 4; ++i) {
        slow.pages["/"].body += "<a href=\"" + fast_root + "p" + std::to_string(i) + "\">x</a>";
    }
    corio_crawl::crawl_options o = polite(8);
    o.per_host_delay = 1s;
    o.allowed_hosts = {"127.0.0.2"};
    const corio::clock::time_point start = corio::get_running_loop().time();
    std::vector<corio_crawl::fetch_result> results;
    std::string root;
    const corio_crawl::crawl_summary s = co_await crawl_site(slow, o, &results, &root);
    co_await close_server(fast_srv);

    EXPECT_EQ(s.pages, 5U + 5U);
    EXPECT_EQ(slow.log.size(), 6U); // robots.txt, /, /p0 ... /p3
    EXPECT_EQ(fast.log.size(), 6U); // robots.txt, /p0 ... /p3 and the / they link to
    // Between the starts of two requests to a host: its delay at least (robots.txt's
    // Crawl-delay for the first, the crawl's for the second, which the first does not slow).
    EXPECT_GE(slow.least_gap(), 2500ms);
    EXPECT_GE(fast.least_gap(), 1s);
    EXPECT_LT(fast.least_gap(), 2500ms);
    // The virtual clock moved by the delays, no more than a few of them too far.
    const corio::clock::duration took = corio::get_running_loop().time() - start;
    EXPECT_GE(took, 5 * 2500ms);
    EXPECT_LT(took, 5 * 2500ms + 5s);
    EXPECT_EQ(s.robots.at(origin_of(root)), "200 OK: 0 rules for *, Crawl-delay 2.5 s");
}

TEST_F(crawl_polite, per_host_delay_and_crawl_delay_space_the_requests_to_each_host) {
    corio::run(crawl_with_delays(), virtual_time_with_sockets());
}

/// A crawl cancelled while the coordinator waits for a host's delay leaves no task behind.
/// (The delay is shorter than the client's idle timeout, so that the root reuses the
/// connection robots.txt came on.)
corio::task<> cancel_while_waiting_for_the_delay() {
    table_site site = wide_site(5);
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0);
    corio_crawl::crawl_options o = polite(4);
    o.per_host_delay = 20s;
    corio::event root_done;
    o.on_result = [&root_done](const corio_crawl::fetch_result&) { root_done.set(); };
    corio_crawl::crawler c(o);
    corio::join_handle<corio_crawl::crawl_summary> crawling = corio::spawn(c.run(root_of(srv)));
    co_await root_done.wait();
    const corio::clock::time_point at = corio::get_running_loop().time();
    crawling.cancel();
    std::exception_ptr e = co_await error_of(crawling);
    EXPECT_TRUE(holds<corio::cancelled_error>(e)) << describe(e);
    EXPECT_EQ(corio::get_running_loop().time(), at); // no delay waited for
    co_await close_server(srv);
    EXPECT_TRUE(c.summary().cancelled);
    EXPECT_EQ(c.summary().requests, 1U);
    EXPECT_EQ(site.log.size(), 2U); // robots.txt at 0, / 20 s later
    if (site.log.size() == 2) {
        EXPECT_EQ(site.log[1].at - site.log[0].at, 20s);
    }
    // Nothing of the crawl is left: no task, none waiting for a timer. (The server's accept
    // task may still be on its way out on io_uring, whose cancellation lands at the next
    // poll: it is not the crawler's.)
    std::ostringstream tasks;
    corio::dump_tasks(tasks);
    // (A build with CORIO_AWAIT_SITES names this file in the test's own task: not counted.)
    std::string dump = tasks.str();
    for (std::size_t at; (at = dump.find("test_crawl_polite.cpp")) != std::string::npos;) {
        dump.erase(at, std::string_view("test_crawl_polite.cpp").size());
    }
    for (const char* trace : {"crawl", "coordinate", "fetch", "connect", "timer", "receive"}) {
        EXPECT_EQ(dump.find(trace), std::string::npos) << trace << " in\n" << tasks.str();
    }
}

TEST_F(crawl_polite, cancelled_while_waiting_for_a_delay_leaves_nothing_behind) {
    corio::run(cancel_while_waiting_for_the_delay(), virtual_time_with_sockets());
}

// --- hosts and sizes ------------------------------------------------------------------------

corio::task<> crawl_with_allowed_hosts(std::vector<std::string> allowed, bool second_followed) {
    table_site first;
    table_site second = wide_site(1);
    table_site third = wide_site(1);
    corio::server second_srv = co_await corio::http::serve(second.handler(), "127.0.0.2", 0);
    corio::server third_srv = co_await corio::http::serve(third.handler(), "127.0.0.3", 0);
    first.pages["/"] =
        html({root_of(second_srv, "127.0.0.2") + "p0", root_of(third_srv, "127.0.0.3"), "/same"});
    first.pages["/same"] = html({});
    corio_crawl::crawl_options o = polite();
    o.allowed_hosts = std::move(allowed);
    std::vector<corio_crawl::fetch_result> results;
    const corio_crawl::crawl_summary s = co_await crawl_site(first, o, &results);
    co_await close_server(second_srv);
    co_await close_server(third_srv);
    EXPECT_TRUE(third.log.empty());
    if (second_followed) {
        // p0 links back to "/" of 127.0.0.2, followed too.
        EXPECT_EQ(second.targets(), (std::set<std::string>{"/robots.txt", "/p0", "/"}));
        EXPECT_EQ(s.pages, 2U + 2U);
        EXPECT_EQ(s.offhost_links, 1U); // 127.0.0.3
        EXPECT_EQ(s.robots.size(), 2U);
    } else {
        EXPECT_TRUE(second.log.empty());
        EXPECT_EQ(s.pages, 2U);
        EXPECT_EQ(s.offhost_links, 2U);
    }
}

TEST_F(crawl_polite, allowed_hosts_are_followed_on_any_port) {
    corio::run(crawl_with_allowed_hosts({"127.0.0.2"}, true));
}

TEST_F(crawl_polite, an_allowed_host_with_a_port_is_followed_on_that_port_only) {
    corio::run(crawl_with_allowed_hosts({"127.0.0.2:1", "127.0.0.4"}, false));
}

TEST(crawl_polite_options, rejects_allowed_hosts_that_are_not_hosts_and_bad_limits) {
    for (const char* bad : {"http://example.com/", "example.com:", "example.com:0",
                            "example.com:65536", "[::1", "[::1]x", ":80", "a/b"}) {
        corio_crawl::crawl_options o;
        o.allowed_hosts = {bad};
        EXPECT_THROW(corio_crawl::crawler{o}, std::invalid_argument) << bad;
    }
    for (const char* good :
         {"example.com", "EXAMPLE.com:8080", "[::1]", "[::1]:8080", "10.0.0.1"}) {
        corio_crawl::crawl_options o;
        o.allowed_hosts = {good};
        EXPECT_NO_THROW(corio_crawl::crawler{o}) << good;
    }
    corio_crawl::crawl_options o;
    o.per_host_concurrency = 0;
    EXPECT_THROW(corio_crawl::crawler{o}, std::invalid_argument);
    o = {};
    o.max_page_bytes = 0;
    EXPECT_THROW(corio_crawl::crawler{o}, std::invalid_argument);
    o = {};
    o.per_host_delay = -1s;
    EXPECT_THROW(corio_crawl::crawler{o}, std::invalid_argument);
    o = {};
    o.resume = true; // without an output file
    EXPECT_THROW(corio_crawl::crawler{o}, std::invalid_argument);
}

corio::task<> crawl_with_a_huge_page() {
    table_site site;
    site.pages["/"] = html({"/huge", "/small", "/long.html"});
    site.pages["/huge"] = text(std::string(1024 * 1024, 'x'));
    site.pages["/small"] = text(std::string(1000, 'x'));
    // An HTML page of 64 KiB: a link at its start is followed, one past 4096 bytes is not.
    page long_page = html({"/early"});
    long_page.body.insert(long_page.body.size() - 14,
                          std::string(64 * 1024, ' ') + "<a href=\"/late\">late</a>");
    site.pages["/long.html"] = long_page;
    site.pages["/early"] = text("early");
    site.pages["/late"] = text("late");
    corio_crawl::crawl_options o = polite();
    o.max_page_bytes = 4096;
    std::vector<corio_crawl::fetch_result> results;
    std::string root;
    const corio_crawl::crawl_summary s = co_await crawl_site(site, o, &results, &root);
    EXPECT_EQ(s.too_large, 0U);
    EXPECT_EQ(s.errors(), 0U);
    EXPECT_EQ(s.pages, 5U); // /, /huge, /small, /long.html, /early
    const auto pages = by_path(results, root, outcome::page);
    EXPECT_EQ(keys(pages), (std::set<std::string>{"/", "/huge", "/small", "/long.html", "/early"}));
    if (pages.contains("/huge") && pages.contains("/long.html")) {
        EXPECT_EQ(pages.at("/huge").bytes, 1024U * 1024); // read whole, kept not at all
        EXPECT_FALSE(pages.at("/huge").truncated);        // not HTML: nothing to scan
        EXPECT_EQ(pages.at("/long.html").bytes, long_page.body.size());
        EXPECT_TRUE(pages.at("/long.html").truncated);
    }
}

TEST_F(crawl_polite, a_page_longer_than_max_page_bytes_is_read_whole_and_scanned_in_part) {
    corio::run(crawl_with_a_huge_page());
}

} // namespace

#else

TEST(crawl_polite, needs_the_programs_built) {
    GTEST_SKIP() << "corio-crawl is not built (CORIO_BUILD_APPS=OFF)";
}

#endif
