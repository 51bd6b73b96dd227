// corio-crawl's crawler, link scanner and generated site (apps/crawl), over real sockets on
// 127.0.0.1: a crawl of the generated site finds exactly its pages, its planted broken links
// and redirects, and nothing off-host; the page limit, the per-request timeout, the redirect
// limit and the error kinds; and a crawl cancelled half-way stops cleanly.

#include "support/net.hpp"

#include <gtest/gtest.h>

// The crawler is built with corio's programs (CORIO_BUILD_APPS); without them there is
// nothing to test.
#if __has_include("crawler.hpp")

#include "crawler.hpp"
#include "links.hpp"
#include "self_signed.hpp"
#include "site.hpp"

#include <corio/corio.hpp>
#include <corio/http/server.hpp>
#include <corio/http/url.hpp>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace corio_net_test;

namespace {

class crawl : public fd_leak_check {};

using corio_crawl::outcome;

std::string root_of(const corio::server& srv, const char* scheme = "http") {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(srv.port()) + "/";
}

/// The paths of the results of kind `kind` (and `status`, if not 0), from URLs under `root`.
std::set<std::string> paths_of(const std::vector<corio_crawl::fetch_result>& results,
                               const std::string& root, outcome kind, int status = 0) {
    std::set<std::string> out;
    for (const auto& r : results) {
        if (r.kind == kind && (status == 0 || r.status == status)) {
            EXPECT_EQ(r.url.rfind(root, 0), 0U) << r.url << " is not under " << root;
            std::string path(1, '/');
            path.append(r.url, root.size());
            out.insert(std::move(path));
        }
    }
    return out;
}

std::set<std::string> as_set(const std::vector<std::string>& v) {
    return {v.begin(), v.end()};
}

/// A small generated site that answers at once.
corio_crawl::site_options small_site(std::size_t pages, std::uint64_t seed = 7) {
    corio_crawl::site_options o;
    o.pages = pages;
    o.seed = seed;
    o.slow_fraction = 0.02; // a few pages answer after a few milliseconds
    o.slow_min = 1ms;
    o.slow_max = 3ms;
    return o;
}

corio_crawl::crawl_options crawl_with(std::size_t workers) {
    corio_crawl::crawl_options o;
    o.workers = workers;
    o.timeout = 30s; // generous: only the timeout test means one to pass
    return o;
}

corio::task<> close_server(corio::server& srv) {
    srv.close();
    std::exception_ptr e = co_await error_of(corio::wait_for(srv.wait_closed(), 10s));
    EXPECT_FALSE(e) << "wait_closed: " << describe(e);
}

// --- links ------------------------------------------------------------------------------

TEST(crawl_links, finds_the_href_of_every_anchor) {
    const std::string html = "<html><head><link rel=stylesheet href=\"/style.css\">"
                             "<script>var s = '<a href=\"/in-script\">';</script></head>"
                             "<body><a href=\"/one\">1</a> <A HREF='two.html#x'>2</A>"
                             "<a class=\"c\"\nhref = \"  ../three \" id=t>3</a>"
                             "<!-- <a href=\"/commented\">no</a> -->"
                             "<a name=\"anchor-only\">x</a><a href=/four?a=1&amp;b=2>4</a>"
                             "<abbr href=\"/not-an-anchor\"></abbr><area href=\"/area\">"
                             "<a title='a > b' href=\"/five\">5</a><a href=\"/six";
    const std::vector<std::string> expected = {"/one",          "two.html#x", "../three",
                                               "/four?a=1&b=2", "/five",      "/six"};
    EXPECT_EQ(corio_crawl::extract_links(html), expected);
}

TEST(crawl_links, finds_nothing_in_text_without_anchors) {
    EXPECT_TRUE(corio_crawl::extract_links("").empty());
    EXPECT_TRUE(corio_crawl::extract_links("no tags at all").empty());
    EXPECT_TRUE(corio_crawl::extract_links("<p>a < b</p><a").empty());
    EXPECT_TRUE(corio_crawl::extract_links("<!-- unterminated <a href=\"/x\">").empty());
}

TEST(crawl_links, relative_references_resolve_to_their_target) {
    const std::vector<std::string> paths = {"/",           "/s1/p1.html", "/s1/d/p4.html",
                                            "/s2/p2.html", "/old/3.html", "/go/hop0.html"};
    for (const std::string& from : paths) {
        const corio::http::url base = corio::http::url::parse("http://h:81" + from);
        for (const std::string& to : paths) {
            for (const bool dot : {false, true}) {
                const std::string ref = corio_crawl::relative_reference(from, to, dot);
                const std::optional<corio::http::url> u = base.resolve(ref);
                ASSERT_TRUE(u) << ref << " from " << from;
                EXPECT_EQ(u->target, to) << ref << " from " << from;
            }
        }
    }
}

// --- the generated site -------------------------------------------------------------------

TEST(crawl_site, is_the_same_for_the_same_seed) {
    const corio_crawl::site a(small_site(500, 3));
    const corio_crawl::site b(small_site(500, 3));
    const corio_crawl::site c(small_site(500, 4));
    EXPECT_EQ(a.page_paths(), b.page_paths());
    EXPECT_EQ(a.redirect_paths(), b.redirect_paths());
    EXPECT_EQ(a.missing_paths(), b.missing_paths());
    EXPECT_EQ(a.offhost_links(), b.offhost_links());
    EXPECT_EQ(a.page_paths().size(), 500U);
    EXPECT_EQ(c.page_paths().size(), 500U);
    EXPECT_GE(a.redirect_paths().size(), 6U); // single redirects and a chain's two hops
    EXPECT_GE(a.missing_paths().size(), 2U);
    EXPECT_GT(a.offhost_links(), 0U);
    EXPECT_GT(a.foreign_links(), 0U);
}

TEST(crawl_site, rejects_impossible_options) {
    corio_crawl::site_options o;
    o.pages = 0;
    EXPECT_THROW(corio_crawl::site{o}, std::invalid_argument);
    o = small_site(10);
    o.stalled = 100; // more than its leaves
    EXPECT_THROW(corio_crawl::site{o}, std::invalid_argument);
    o = small_site(10);
    o.slow_fraction = 2;
    EXPECT_THROW(corio_crawl::site{o}, std::invalid_argument);
}

// --- crawling ---------------------------------------------------------------------------

/// The whole site, over http, or over https with a certificate made for the test, which
/// the crawler trusts alone.
corio::task<> crawl_whole_site(bool tls, std::size_t threads = 1) {
    corio_crawl::site_options options = small_site(300);
    options.scheme = tls ? "https" : "http";
    corio_crawl::site site(options);
    corio_crawl::self_signed_certificate certificate({"127.0.0.1"});
    corio::http::server_options served;
    corio::tls_context server_tls;
    corio_crawl::crawl_options crawling_options = crawl_with(8);
    crawling_options.threads = threads;
    std::size_t reported = 0; // on_result runs on this loop, whatever the threads
    const std::thread::id this_thread = std::this_thread::get_id();
    crawling_options.on_result = [&reported, this_thread](const corio_crawl::fetch_result&) {
        reported += std::this_thread::get_id() == this_thread ? 1 : 0;
    };
    if (tls) {
        server_tls = corio::tls_context::server(certificate.cert_file(), certificate.key_file());
        served.tls = server_tls;
        crawling_options.tls = corio::tls_context::client();
        crawling_options.tls.load_verify_locations(certificate.cert_file());
    }
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0, served);
    const std::string root = root_of(srv, tls ? "https" : "http");
    corio_crawl::crawler c(crawling_options);
    corio::task<corio_crawl::crawl_summary> crawling = c.run(root);
    const corio_crawl::crawl_summary s = co_await crawling;
    co_await close_server(srv);

    const auto& results = c.results();
    EXPECT_EQ(paths_of(results, root, outcome::page), as_set(site.page_paths()));
    EXPECT_EQ(paths_of(results, root, outcome::http_error, 404), as_set(site.missing_paths()));
    EXPECT_EQ(paths_of(results, root, outcome::redirect), as_set(site.redirect_paths()));

    EXPECT_FALSE(s.cancelled);
    EXPECT_EQ(s.root, root);
    EXPECT_EQ(s.pages, site.page_paths().size());
    EXPECT_EQ(s.redirects, site.redirect_paths().size());
    EXPECT_EQ(s.http_errors, (std::map<int, std::size_t>{{404, site.missing_paths().size()}}));
    EXPECT_EQ(s.errors(), site.missing_paths().size()); // nothing but the planted 404s
    EXPECT_EQ(s.requests, s.pages + s.redirects + s.errors());
    EXPECT_EQ(s.requests, results.size());
    EXPECT_EQ(s.dropped, 0U);
    EXPECT_GT(s.bytes, s.pages * 500);
    // Off-host and non-http links were seen, counted and left alone.
    EXPECT_EQ(s.offhost_links, site.offhost_links());
    EXPECT_EQ(s.foreign_links, site.foreign_links());
    // Every URL was requested once, and nothing but what the crawl reports and the
    // robots.txt asked for first (the site has none: everything allowed).
    EXPECT_EQ(site.total_hits(), s.requests + 1);
    EXPECT_EQ(site.hits().count("/robots.txt"), 1U);
    for (const auto& [path, hits] : site.hits()) {
        EXPECT_EQ(hits, 1U) << path;
    }
    const std::string origin = root.substr(0, root.size() - 1);
    EXPECT_EQ(s.robots,
              (std::map<std::string, std::string>{{origin, "404 Not Found: everything allowed"}}));
    EXPECT_EQ(s.disallowed, 0U);
    EXPECT_EQ(site.hits().count("/style.css"), 0U) << "followed a <link href>";
    EXPECT_EQ(site.hits().count("/retired.html"), 0U) << "followed a commented-out link";
    EXPECT_EQ(c.progress().in_flight, 0U);
    EXPECT_EQ(c.progress().queued, 0U);
    EXPECT_EQ(reported, results.size());
}

TEST_F(crawl, finds_exactly_the_pages_broken_links_and_redirects_of_the_site) {
    corio::run(crawl_whole_site(false));
}

TEST_F(crawl, finds_exactly_the_same_over_https) {
    corio::run(crawl_whole_site(true));
}

// The workers spread over three loops (this one and two threads): the same pages, each
// requested once.
TEST_F(crawl, finds_exactly_the_same_on_three_threads) {
    corio::run(crawl_whole_site(false, 3));
}

TEST_F(crawl, finds_exactly_the_same_over_https_on_two_threads) {
    corio::run(crawl_whole_site(true, 2));
}

/// An https site whose certificate the crawler does not trust: every request is a TLS
/// error, counted by its kind.
corio::task<> crawl_untrusted() {
    corio_crawl::site site(small_site(20));
    corio_crawl::self_signed_certificate certificate({"127.0.0.1"});
    corio::http::server_options served;
    corio::tls_context server_tls =
        corio::tls_context::server(certificate.cert_file(), certificate.key_file());
    served.tls = server_tls;
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0, served);
    corio_crawl::crawler c(crawl_with(2)); // the system's CAs only
    const corio_crawl::crawl_summary s = co_await c.run(root_of(srv, "https"));
    co_await close_server(srv);
    EXPECT_EQ(s.requests, 1U);
    EXPECT_EQ(s.pages, 0U);
    EXPECT_EQ(s.tls_errors, (std::map<std::string, std::size_t>{{"self-signed certificate", 1}}));
    EXPECT_EQ(s.errors(), 1U);
    EXPECT_EQ(c.results().size(), 1U);
    if (!c.results().empty()) {
        EXPECT_EQ(c.results()[0].kind, outcome::tls_error);
        EXPECT_NE(c.results()[0].error.find("certificate verify failed"), std::string::npos)
            << c.results()[0].error;
    }
}

TEST_F(crawl, counts_tls_errors_by_kind) {
    corio::run(crawl_untrusted());
}

corio::task<> crawl_with_page_limit() {
    corio_crawl::site site(small_site(300));
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0);
    corio_crawl::crawl_options o = crawl_with(8);
    o.max_pages = 50;
    corio_crawl::crawler c(o);
    corio::task<corio_crawl::crawl_summary> crawling = c.run(root_of(srv));
    const corio_crawl::crawl_summary s = co_await crawling;
    co_await close_server(srv);

    EXPECT_FALSE(s.cancelled);
    EXPECT_EQ(s.requests, 50U);
    EXPECT_EQ(c.results().size(), 50U);
    EXPECT_EQ(site.total_hits(), 50U + 1); // and robots.txt
    EXPECT_GT(s.dropped, 0U);
}

TEST_F(crawl, requests_no_more_urls_than_the_page_limit) {
    corio::run(crawl_with_page_limit());
}

corio::task<> crawl_with_stalled_page() {
    corio_crawl::site_options so = small_site(30);
    so.slow_fraction = 0;
    so.stalled = 1; // answers after an hour
    corio_crawl::site site(so);
    if (site.stalled_paths().size() != 1) {
        ADD_FAILURE() << "the site has " << site.stalled_paths().size() << " stalled pages";
        co_return;
    }
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0);
    const std::string root = root_of(srv);
    corio_crawl::crawl_options o = crawl_with(4);
    o.timeout = 1s;
    corio_crawl::crawler c(o);
    corio::task<corio_crawl::crawl_summary> crawling = c.run(root);
    const corio_crawl::crawl_summary s = co_await crawling;
    co_await close_server(srv); // cancels the handler still sleeping

    EXPECT_EQ(paths_of(c.results(), root, outcome::timeout), as_set(site.stalled_paths()));
    EXPECT_EQ(s.timeouts, 1U);
    EXPECT_EQ(s.pages, site.page_paths().size() - 1);
    EXPECT_EQ(s.errors(), 1U + site.missing_paths().size());
    EXPECT_FALSE(s.cancelled);
}

TEST_F(crawl, counts_a_timeout_for_a_page_slower_than_the_timeout) {
    corio::run(crawl_with_stalled_page());
}

corio::task<> crawl_with_one_redirect_allowed() {
    corio_crawl::site site(small_site(300));
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0);
    const std::string root = root_of(srv);
    corio_crawl::crawl_options o = crawl_with(8);
    o.max_redirects = 1;
    corio_crawl::crawler c(o);
    corio::task<corio_crawl::crawl_summary> crawling = c.run(root);
    const corio_crawl::crawl_summary s = co_await crawling;
    co_await close_server(srv);

    // The second hop of each chain is one redirect too many.
    std::set<std::string> hops;
    for (const std::string& p : site.redirect_paths()) {
        if (p.find("/hop") != std::string::npos) {
            hops.insert(p);
        }
    }
    EXPECT_FALSE(hops.empty());
    EXPECT_EQ(paths_of(c.results(), root, outcome::redirect_error), hops);
    EXPECT_EQ(s.redirect_errors, hops.size());
    EXPECT_EQ(s.redirects, site.redirect_paths().size() - hops.size());
    EXPECT_EQ(s.pages, site.page_paths().size()); // all reachable by links anyway
}

TEST_F(crawl, counts_redirects_beyond_the_limit_as_errors) {
    corio::run(crawl_with_one_redirect_allowed());
}

/// A site whose pages fail in every way an HTTP server can say so.
corio::task<corio::http::response> failing_site(corio::http::request& req) {
    const std::string path(req.path());
    corio::http::response r;
    if (path == "/") {
        r.body = "<a href=/boom>500</a><a href=/gone>404</a><a href=/nowhere>302</a>"
                 "<a href=/elsewhere>302 mailto</a><a href=/text>plain text</a>";
        r.headers.set("Content-Type", "text/html");
    } else if (path == "/boom") {
        r.status = 500;
    } else if (path == "/nowhere") {
        r.status = 302; // without a Location
    } else if (path == "/elsewhere") {
        r.status = 302;
        r.headers.set("Location", "mailto:someone@example.com");
    } else if (path == "/text") {
        r.body = "<a href=\"/hidden\">not HTML, so not a link</a>";
        r.headers.set("Content-Type", "text/plain");
    } else {
        r.status = 404;
    }
    co_return r;
}

corio::task<> crawl_failing_site() {
    std::map<std::string, int> hits;
    corio::http::handler h = [&hits](corio::http::request& req) {
        ++hits[std::string(req.path())];
        return failing_site(req);
    };
    corio::server srv = co_await corio::http::serve(h, "127.0.0.1", 0);
    const std::string root = root_of(srv);
    corio_crawl::crawler c(crawl_with(2));
    corio::task<corio_crawl::crawl_summary> crawling = c.run(root);
    const corio_crawl::crawl_summary s = co_await crawling;
    co_await close_server(srv);

    EXPECT_EQ(s.requests, 6U);
    EXPECT_EQ(s.pages, 2U);
    EXPECT_EQ(s.http_errors, (std::map<int, std::size_t>{{404, 1}, {500, 1}}));
    EXPECT_EQ(s.redirect_errors, 2U);
    EXPECT_EQ(s.errors(), 4U);
    EXPECT_EQ(hits.count("/hidden"), 0U);
    EXPECT_EQ(paths_of(c.results(), root, outcome::redirect_error),
              (std::set<std::string>{"/nowhere", "/elsewhere"}));
}

TEST_F(crawl, counts_http_errors_by_status_and_bad_redirects) {
    corio::run(crawl_failing_site());
}

/// Answers anything with bytes that are not HTTP.
corio::task<> not_http(corio::stream s) {
    co_await s.read(4096);
    s.write(std::string_view("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    co_await s.drain();
    s.close();
}

corio::task<> crawl_broken_servers() {
    // Nothing listening: a connection error.
    corio_crawl::crawler refused(crawl_with(2));
    const std::string closed_root = "http://127.0.0.1:" + std::to_string(unused_port()) + "/";
    corio::task<corio_crawl::crawl_summary> first = refused.run(closed_root);
    const corio_crawl::crawl_summary a = co_await first;
    EXPECT_EQ(a.requests, 1U);
    EXPECT_EQ(a.connection_errors, 1U)
        << (refused.results().empty() ? "" : refused.results()[0].error);

    // Something that is not HTTP: a protocol error.
    corio::server srv = co_await corio::start_server(not_http, "127.0.0.1", 0);
    corio_crawl::crawler garbled(crawl_with(2));
    corio::task<corio_crawl::crawl_summary> second = garbled.run(root_of(srv));
    const corio_crawl::crawl_summary b = co_await second;
    co_await close_server(srv);
    EXPECT_EQ(b.requests, 1U);
    EXPECT_EQ(b.protocol_errors, 1U)
        << (garbled.results().empty() ? "" : garbled.results()[0].error);
    // Both failed on the way to robots.txt, which their root then reports (RFC 9309 would
    // have nothing requested from such a host anyway).
    for (const corio_crawl::crawler* c : {&refused, &garbled}) {
        EXPECT_TRUE(!c->results().empty() && c->results()[0].error.starts_with("robots.txt (") &&
                    c->results()[0].url == c->summary().root)
            << (c->results().empty() ? "" : c->results()[0].error);
    }
}

TEST_F(crawl, counts_connection_and_protocol_errors) {
    corio::run(crawl_broken_servers());
}

/// The sockets of this process connected to `port` on 127.0.0.1 (the client side of
/// connections to a server of ours).
int connections_to(std::uint16_t port) {
    int n = 0;
    for (int fd = 0; fd <= highest_fd(); ++fd) {
        try {
            const corio::socket_address peer = corio::socket_address::peer_of(fd);
            if (peer.port() == port && peer.to_string().starts_with("127.0.0.1:")) {
                ++n;
            }
        } catch (const std::exception&) { // not open, not a socket, or not connected
        }
    }
    return n;
}

corio::task<> crawl_cancelled_midway(std::size_t threads) {
    corio_crawl::site site(small_site(300));
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0);
    corio::event forty_done;
    corio_crawl::crawl_options o = crawl_with(4);
    o.threads = threads;
    std::size_t done = 0;
    o.on_result = [&](const corio_crawl::fetch_result&) {
        if (++done == 40) {
            forty_done.set();
        }
    };
    corio_crawl::crawler c(o);
    corio::join_handle<corio_crawl::crawl_summary> crawling = corio::spawn(c.run(root_of(srv)));
    co_await forty_done.wait();
    EXPECT_GT(connections_to(srv.port()), 0); // the crawler's, under way or pooled
    crawling.cancel();
    std::exception_ptr e = co_await error_of(crawling);
    EXPECT_TRUE(holds<corio::cancelled_error>(e)) << describe(e);
    // The crawler's connections are closed (the fixture checks every fd once the loop is
    // closed: the server's side closes as its last bytes are sent or refused).
    EXPECT_EQ(connections_to(srv.port()), 0);

    const corio_crawl::crawl_summary s = c.summary();
    EXPECT_TRUE(s.cancelled);
    EXPECT_GE(s.requests, 40U);
    EXPECT_LT(s.requests, site.page_paths().size());
    EXPECT_EQ(s.requests, c.results().size());
    EXPECT_EQ(s.requests, s.pages + s.redirects + s.errors());
    EXPECT_EQ(c.progress().in_flight, 0U);
    // The elapsed time stopped with the crawl.
    EXPECT_EQ(c.summary().elapsed, s.elapsed);

    co_await close_server(srv);
}

TEST_F(crawl, cancelled_midway_stops_cleanly_with_a_partial_summary) {
    corio::run(crawl_cancelled_midway(1));
}

// Cancelled with fetchers on another thread: they are cancelled there, and their
// connections closed, before run() ends.
TEST_F(crawl, cancelled_midway_on_two_threads_stops_cleanly) {
    corio::run(crawl_cancelled_midway(2));
}

corio::task<> run_twice() {
    corio_crawl::crawler c(crawl_with(1));
    const std::string root = "http://127.0.0.1:" + std::to_string(unused_port()) + "/";
    corio::task<corio_crawl::crawl_summary> first = c.run(root);
    co_await first;
    std::exception_ptr e = co_await error_of(c.run(root));
    EXPECT_TRUE(holds<corio::invalid_state_error>(e)) << describe(e);
    corio_crawl::crawler other(crawl_with(1));
    e = co_await error_of(other.run("ftp://127.0.0.1/"));
    EXPECT_TRUE(holds<std::invalid_argument>(e)) << describe(e);
    e = co_await error_of(other.run("not a url"));
    EXPECT_TRUE(holds<std::invalid_argument>(e)) << describe(e);
}

TEST_F(crawl, rejects_a_second_run_and_urls_that_are_not_http) {
    corio::run(run_twice());
    corio_crawl::crawl_options o;
    o.workers = 0;
    EXPECT_THROW(corio_crawl::crawler{o}, std::invalid_argument);
    o = {};
    o.max_pages = 0;
    EXPECT_THROW(corio_crawl::crawler{o}, std::invalid_argument);
}

#ifdef CORIO_CRAWL_PROGRAM
// The program itself, stopped by a real SIGINT once its first progress line shows the crawl
// under way: exit status 130 and the partial summary.
corio::task<> interrupt_the_program(int* code, std::string* output) {
    const std::vector<std::string> argv{CORIO_CRAWL_PROGRAM, "--workers", "1", "--site-pages",
                                        "50000"};
    corio::process_options options;
    options.stdout_ = corio::pipe;
    corio::process p = co_await corio::create_subprocess_exec(argv, options);
    // Not on a terminal, the progress is a line a second ("120 done, 3 queued, ...").
    while (true) {
        std::string line = co_await p.stdout_pipe().read_line();
        *output += line;
        if (line.empty() || line.find(" done, ") != std::string::npos) {
            break;
        }
    }
    p.send_signal(SIGINT);
    *output += co_await p.stdout_pipe().read_all();
    *code = co_await p.wait();
}

// The program with --tls: its generated site over https, crawled whole.
corio::task<> run_the_program_over_tls(int* code, std::string* output) {
    const std::vector<std::string> argv{CORIO_CRAWL_PROGRAM, "--tls", "--quiet", "--site-pages",
                                        "200"};
    corio::process_options options;
    options.stdout_ = corio::pipe;
    corio::process p = co_await corio::create_subprocess_exec(argv, options);
    *output = co_await p.stdout_pipe().read_all();
    *code = co_await p.wait();
}

TEST_F(crawl, the_program_crawls_its_site_over_tls) {
    int code = -1;
    std::string output;
    corio::run(
        corio::fail_after(std::chrono::seconds(50), run_the_program_over_tls(&code, &output)));
    SCOPED_TRACE(output);
    EXPECT_EQ(code, 0);
    EXPECT_NE(output.find("crawled https://127.0.0.1:"), std::string::npos);
    EXPECT_NE(output.find("site check: 200 of 200 pages"), std::string::npos);
    EXPECT_NE(output.find("all of them, and nothing else"), std::string::npos);
}

TEST_F(crawl, sigint_stops_the_program_with_a_partial_summary) {
    int code = -1;
    std::string output;
    corio::run(corio::fail_after(std::chrono::seconds(50), interrupt_the_program(&code, &output)));
    SCOPED_TRACE(output);
    EXPECT_EQ(code, 130);
    EXPECT_NE(output.find("crawl of http://127.0.0.1:"), std::string::npos);
    EXPECT_NE(output.find(" cancelled after "), std::string::npos);
    EXPECT_EQ(output.find("site check"), std::string::npos); // no claim about a partial crawl
}
#endif

} // namespace

#else

TEST(crawl, needs_the_programs_built) {
    GTEST_SKIP() << "corio-crawl is not built (CORIO_BUILD_APPS=OFF)";
}

#endif
