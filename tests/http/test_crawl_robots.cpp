// corio-crawl's robots.txt parser (apps/crawl/robots.hpp) and robots directives in pages
// (apps/crawl/links.hpp): the examples of RFC 9309 §5 and of Google's robots.txt
// specification, groups and user agents, wildcards, percent-encoding, Crawl-delay, the size
// cap; and the cases where Python's urllib.robotparser answers otherwise (checked with
// Python 3.11), where corio follows RFC 9309.

#include <gtest/gtest.h>

#if __has_include("robots.hpp")

#include "links.hpp"
#include "robots.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace {

using corio_crawl::robots_txt;

/// The answers of `rules` for each path, as "path: yes/no" lines (a failure then shows
/// every path at once).
std::string answers(const robots_txt& rules, const std::vector<std::string>& paths) {
    std::string out;
    for (const std::string& p : paths) {
        out += p + (rules.allowed(p) ? ": allowed\n" : ": disallowed\n");
    }
    return out;
}

// --- RFC 9309 §5 ----------------------------------------------------------------------------

// RFC 9309 §5.1, verbatim (the "EOF" line included: a line without a colon is ignored).
constexpr std::string_view rfc_simple_example = "User-Agent: *\n"
                                                "Disallow: *.gif$\n"
                                                "Disallow: /example/\n"
                                                "Allow: /publications/\n"
                                                "\n"
                                                "User-Agent: foobot\n"
                                                "Disallow:/\n"
                                                "Allow:/example/page.html\n"
                                                "Allow:/example/allowed.gif\n"
                                                "\n"
                                                "User-Agent: barbot\n"
                                                "User-Agent: bazbot\n"
                                                "Disallow: /example/page.html\n"
                                                "\n"
                                                "User-Agent: quxbot\n"
                                                "\n"
                                                "EOF\n";

const std::vector<std::string> example_paths = {
    "/",          "/example/page.html", "/example/allowed.gif", "/example/other.html",
    "/a.gif",     "/publications/",     "/publications/x.gif",  "/robots.txt",
    "/a.gif?x=1",
};

TEST(crawl_robots, rfc_9309_simple_example_for_a_crawler_without_a_group_of_its_own) {
    const robots_txt r = robots_txt::parse(rfc_simple_example, "otherbot");
    EXPECT_EQ(r.applied_group(), robots_txt::group::any);
    EXPECT_EQ(answers(r, example_paths), "/: allowed\n"
                                         "/example/page.html: disallowed\n"
                                         "/example/allowed.gif: disallowed\n"
                                         "/example/other.html: disallowed\n"
                                         "/a.gif: disallowed\n"
                                         "/publications/: allowed\n"
                                         // "/publications/" (14) is longer than "*.gif$" (6)
                                         "/publications/x.gif: allowed\n"
                                         "/robots.txt: allowed\n"
                                         "/a.gif?x=1: allowed\n");
}

TEST(crawl_robots, rfc_9309_simple_example_for_foobot) {
    const robots_txt r = robots_txt::parse(rfc_simple_example, "foobot");
    EXPECT_EQ(r.applied_group(), robots_txt::group::named);
    EXPECT_EQ(answers(r, example_paths), "/: disallowed\n"
                                         "/example/page.html: allowed\n"
                                         "/example/allowed.gif: allowed\n"
                                         "/example/other.html: disallowed\n"
                                         "/a.gif: disallowed\n"
                                         "/publications/: disallowed\n"
                                         "/publications/x.gif: disallowed\n"
                                         "/robots.txt: allowed\n"
                                         "/a.gif?x=1: disallowed\n");
}

TEST(crawl_robots, rfc_9309_simple_example_consecutive_user_agents_share_a_group) {
    for (const char* agent : {"barbot", "bazbot", "BazBot/2.1"}) {
        const robots_txt r = robots_txt::parse(rfc_simple_example, agent);
        EXPECT_EQ(answers(r, example_paths), "/: allowed\n"
                                             "/example/page.html: disallowed\n"
                                             "/example/allowed.gif: allowed\n"
                                             "/example/other.html: allowed\n"
                                             "/a.gif: allowed\n"
                                             "/publications/: allowed\n"
                                             "/publications/x.gif: allowed\n"
                                             "/robots.txt: allowed\n"
                                             "/a.gif?x=1: allowed\n")
            << agent;
    }
}

TEST(crawl_robots, rfc_9309_simple_example_an_empty_group_allows_everything) {
    const robots_txt r = robots_txt::parse(rfc_simple_example, "quxbot");
    EXPECT_EQ(r.applied_group(), robots_txt::group::named);
    EXPECT_TRUE(r.rules().empty());
    for (const std::string& p : example_paths) {
        EXPECT_TRUE(r.allowed(p)) << p;
    }
}

TEST(crawl_robots, rfc_9309_longest_match_example) {
    const robots_txt r = robots_txt::parse("User-Agent: foobot\n"
                                           "Allow: /example/page/\n"
                                           "Disallow: /example/page/disallowed.gif\n",
                                           "foobot");
    EXPECT_TRUE(r.allowed("/example/page/"));
    EXPECT_TRUE(r.allowed("/example/page/page.html"));
    EXPECT_FALSE(r.allowed("/example/page/disallowed.gif"));
    EXPECT_TRUE(r.allowed("/other")); // no rule matches
}

// --- Google's robots.txt specification: path matching --------------------------------------

/// Whether `pattern`, as a Disallow rule, disallows `path`.
bool disallows(std::string_view pattern, std::string_view path) {
    const std::string text = "user-agent: *\ndisallow: " + std::string(pattern) + "\n";
    return !robots_txt::parse(text, "corio-crawl").allowed(path);
}

TEST(crawl_robots, google_examples_of_path_matching) {
    struct example {
        const char* pattern;
        std::vector<const char*> matches;
        std::vector<const char*> does_not_match;
    };
    const example examples[] = {
        {"/", {"/", "/a", "/a/b.html?c"}, {}},
        {"/*", {"/", "/a", "/a/b.html?c"}, {}},
        {"/$", {"/"}, {"/a", "/?x=1"}},
        {"/fish",
         {"/fish", "/fish.html", "/fish/salmon.html", "/fishheads", "/fishheads/yummy.html",
          "/fish.php?id=anything"},
         {"/Fish.asp", "/catfish", "/?id=fish", "/desert/fish"}},
        {"/fish*",
         {"/fish", "/fish.html", "/fish/salmon.html", "/fishheads", "/fishheads/yummy.html",
          "/fish.php?id=anything"},
         {"/Fish.asp", "/catfish", "/?id=fish", "/desert/fish"}},
        {"/fish/",
         {"/fish/", "/fish/?id=anything", "/fish/salmon.htm"},
         {"/fish", "/fish.html", "/animals/fish/", "/Fish/Salmon.asp"}},
        {"/*.php",
         {"/index.php", "/filename.php", "/folder/filename.php", "/folder/filename.php?parameters",
          "/folder/any.php.file.html", "/filename.php/"},
         {"/", "/windows.PHP"}},
        {"/*.php$",
         {"/filename.php", "/folder/filename.php"},
         {"/filename.php?parameters", "/filename.php/", "/filename.php5", "/windows.PHP"}},
        {"/fish*.php", {"/fish.php", "/fishheads/catfish.php?parameters"}, {"/Fish.PHP"}},
    };
    for (const example& e : examples) {
        for (const char* path : e.matches) {
            EXPECT_TRUE(disallows(e.pattern, path)) << e.pattern << " should match " << path;
        }
        for (const char* path : e.does_not_match) {
            EXPECT_FALSE(disallows(e.pattern, path)) << e.pattern << " should not match " << path;
        }
    }
}

TEST(crawl_robots, google_examples_of_precedence) {
    struct example {
        const char* rules;
        const char* path;
        bool allowed;
    };
    const example examples[] = {
        {"allow: /p\ndisallow: /", "/page", true},
        {"allow: /folder\ndisallow: /folder", "/folder/page", true}, // a tie: Allow wins
        {"allow: /page\ndisallow: /*.htm", "/page.htm", false},      // 6 octets beat 5
        {"allow: /page\ndisallow: /*.ph", "/page.php", true},        // 5 and 5: Allow
        {"allow: /$\ndisallow: /", "/", true},
        {"allow: /$\ndisallow: /", "/page.htm", false},
    };
    for (const example& e : examples) {
        const robots_txt r = robots_txt::parse("user-agent: *\n" + std::string(e.rules), "x");
        EXPECT_EQ(r.allowed(e.path), e.allowed) << e.rules << " for " << e.path;
    }
}

TEST(crawl_robots, a_dollar_sign_inside_a_pattern_is_an_ordinary_character) {
    EXPECT_TRUE(disallows("/a$b", "/a$b/c"));
    EXPECT_FALSE(disallows("/a$b", "/a"));
    EXPECT_TRUE(disallows("/a*$", "/a/anything"));
}

// --- groups and user agents -----------------------------------------------------------------

TEST(crawl_robots, groups_naming_the_crawler_are_combined_and_win_over_star) {
    // Google's example: googlebot-news gets the rules of both of its groups, not '*'.
    const std::string_view text = "user-agent: googlebot-news\n"
                                  "disallow: /fish\n"
                                  "\n"
                                  "user-agent: *\n"
                                  "disallow: /carrots\n"
                                  "\n"
                                  "user-agent: googlebot-news\n"
                                  "disallow: /shrimp\n";
    const robots_txt news = robots_txt::parse(text, "googlebot-news");
    EXPECT_FALSE(news.allowed("/fish"));
    EXPECT_FALSE(news.allowed("/shrimp"));
    EXPECT_TRUE(news.allowed("/carrots"));
    const robots_txt other = robots_txt::parse(text, "otherbot");
    EXPECT_TRUE(other.allowed("/fish"));
    EXPECT_FALSE(other.allowed("/carrots"));
}

TEST(crawl_robots, user_agents_match_by_product_token_ignoring_case) {
    const std::string_view text = "User-agent: Corio-Crawl/2.0 (more words)\n"
                                  "Disallow: /mine\n"
                                  "User-agent: *\n"
                                  "Disallow: /all\n";
    for (const char* agent :
         {"corio-crawl", "CORIO-CRAWL/1.0 (+https://example.com/bot)", " corio-crawl"}) {
        const robots_txt r = robots_txt::parse(text, agent);
        EXPECT_EQ(r.applied_group(), robots_txt::group::named) << agent;
        EXPECT_FALSE(r.allowed("/mine")) << agent;
        EXPECT_TRUE(r.allowed("/all")) << agent;
    }
    // A token that merely contains, or is contained in, the crawler's name is another one.
    for (const char* agent : {"corio", "corio-crawler", "crawl"}) {
        const robots_txt r = robots_txt::parse(text, agent);
        EXPECT_EQ(r.applied_group(), robots_txt::group::any) << agent;
    }
}

TEST(crawl_robots, a_file_without_a_matching_group_allows_everything) {
    const robots_txt r = robots_txt::parse("user-agent: otherbot\ndisallow: /\n", "corio-crawl");
    EXPECT_EQ(r.applied_group(), robots_txt::group::none);
    EXPECT_TRUE(r.allowed("/"));
    EXPECT_TRUE(robots_txt::parse("", "corio-crawl").allowed("/anything"));
    EXPECT_TRUE(robots_txt().allowed("/anything"));
}

TEST(crawl_robots, rules_before_any_user_agent_belong_to_no_group) {
    const robots_txt r = robots_txt::parse("disallow: /\nuser-agent: *\ndisallow: /x\n", "bot");
    EXPECT_TRUE(r.allowed("/a"));
    EXPECT_FALSE(r.allowed("/x"));
}

TEST(crawl_robots, other_lines_do_not_end_a_group_of_user_agents) {
    const std::string_view text = "user-agent: a\n"
                                  "sitemap: https://example.com/sitemap.xml\n"
                                  "user-agent: b\n"
                                  "disallow: /private\n"
                                  "unknown-key: whatever\n"
                                  "disallow: /secret\n";
    for (const char* agent : {"a", "b"}) {
        const robots_txt r = robots_txt::parse(text, agent);
        EXPECT_FALSE(r.allowed("/private")) << agent;
        EXPECT_FALSE(r.allowed("/secret")) << agent;
    }
}

TEST(crawl_robots, reads_comments_line_endings_case_spaces_and_misspellings) {
    const std::string text = "\xEF\xBB\xBF# a comment\r\n"
                             "USER-AGENT :   corio-crawl   # ours\r"
                             "DisAllow:/a # trailing comment\n"
                             "dissallow: /b\r\n"
                             "disallow /c\n" // no colon: ignored
                             "Allow:\t/a/open\t\n"
                             "disallow:\n"; // empty: no rule
    const robots_txt r = robots_txt::parse(text, "corio-crawl");
    EXPECT_EQ(r.applied_group(), robots_txt::group::named);
    const std::vector<robots_txt::rule> expected = {
        {false, "/a"}, {false, "/b"}, {true, "/a/open"}};
    EXPECT_EQ(r.rules(), expected);
    EXPECT_FALSE(r.allowed("/a/x"));
    EXPECT_TRUE(r.allowed("/a/open/x"));
    EXPECT_FALSE(r.allowed("/b"));
    EXPECT_TRUE(r.allowed("/c"));
}

// --- percent-encoding -----------------------------------------------------------------------

TEST(crawl_robots, paths_and_patterns_are_compared_percent_encoding_normalised) {
    // RFC 9309 §2.2.2's table: UTF-8 and its escapes are one, escapes of unreserved
    // characters are those characters, and reserved ones stay escaped.
    EXPECT_TRUE(disallows("/foo/bar/\xE3\x83\x84", "/foo/bar/%E3%83%84"));
    EXPECT_TRUE(disallows("/foo/bar/%E3%83%84", "/foo/bar/%e3%83%84"));
    EXPECT_TRUE(disallows("/foo/bar/%e3%83%84", "/foo/bar/\xE3\x83\x84"));
    EXPECT_TRUE(disallows("/foo/bar/baz", "/foo/bar/%62%61%7A"));
    EXPECT_TRUE(disallows("/foo/bar/%62%61%7A", "/foo/bar/baz"));
    EXPECT_TRUE(
        disallows("/foo/bar?baz=https%3A%2F%2Ffoo.bar", "/foo/bar?baz=https%3a%2f%2ffoo.bar"));
    EXPECT_FALSE(disallows("/a/b", "/a%2Fb"));
    EXPECT_TRUE(disallows("/a b", "/a%20b"));
    EXPECT_EQ(corio_crawl::normalize_robots_path("/%7euser/%41%2f%zz/\x01 %"),
              "/~user/A%2F%zz/%01%20%");
}

// --- Crawl-delay ----------------------------------------------------------------------------

TEST(crawl_robots, crawl_delay_of_the_group_that_applies_in_seconds_maybe_fractional) {
    const std::string_view text = "user-agent: *\n"
                                  "crawl-delay: 10\n"
                                  "\n"
                                  "user-agent: corio-crawl\n"
                                  "Crawl-delay: 0.5\n"
                                  "disallow: /x\n";
    const robots_txt ours = robots_txt::parse(text, "corio-crawl");
    ASSERT_TRUE(ours.crawl_delay());
    EXPECT_DOUBLE_EQ(ours.crawl_delay()->count(), 0.5);
    const robots_txt others = robots_txt::parse(text, "otherbot");
    ASSERT_TRUE(others.crawl_delay());
    EXPECT_DOUBLE_EQ(others.crawl_delay()->count(), 10.0);
    EXPECT_FALSE(robots_txt::parse("user-agent: *\ndisallow: /\n", "x").crawl_delay());
}

TEST(crawl_robots, crawl_delay_that_is_not_a_number_is_ignored_and_the_largest_counts) {
    const robots_txt bad =
        robots_txt::parse("user-agent: *\ncrawl-delay: soon\ncrawl-delay: -1\ncrawl-delay: 1e3\n"
                          "crawl-delay: .\n",
                          "x");
    EXPECT_FALSE(bad.crawl_delay());
    const robots_txt two =
        robots_txt::parse("user-agent: *\ncrawl-delay: 2\ncrawl-delay: .25\n", "x");
    ASSERT_TRUE(two.crawl_delay());
    EXPECT_DOUBLE_EQ(two.crawl_delay()->count(), 2.0);
}

// --- size, and the file when it could not be read -------------------------------------------

TEST(crawl_robots, reads_only_the_first_500_kib) {
    std::string text = "user-agent: *\ndisallow: /early\n";
    while (text.size() < robots_txt::max_size) {
        text += "# padding padding padding padding padding padding padding padding\n";
    }
    text += "disallow: /late\n";
    const robots_txt r = robots_txt::parse(text, "corio-crawl");
    EXPECT_FALSE(r.allowed("/early"));
    EXPECT_TRUE(r.allowed("/late"));
}

TEST(crawl_robots, disallow_all_allows_nothing_but_robots_txt) {
    const robots_txt r = robots_txt::disallow_all();
    EXPECT_FALSE(r.allowed("/"));
    EXPECT_FALSE(r.allowed("/a?b"));
    EXPECT_FALSE(r.allowed(""));
    EXPECT_TRUE(r.allowed("/robots.txt"));
}

TEST(crawl_robots, product_token_is_the_leading_name) {
    EXPECT_EQ(corio_crawl::product_token("corio-crawl/1.0 (+https://x/)"), "corio-crawl");
    EXPECT_EQ(corio_crawl::product_token("Googlebot-Image"), "Googlebot-Image");
    EXPECT_EQ(corio_crawl::product_token("my_bot 2"), "my_bot");
    EXPECT_EQ(corio_crawl::product_token("/x"), "");
}

// --- where Python's urllib.robotparser answers otherwise ------------------------------------
//
// Each case below was run through urllib.robotparser (Python 3.11.7) on this machine; it
// gives the other answer, for the reason named.

TEST(crawl_robots, differs_from_urllib_robotparser_longest_match_not_first_match) {
    // robotparser: the first rule in file order decides, so /page is disallowed.
    EXPECT_TRUE(robots_txt::parse("user-agent: *\ndisallow: /\nallow: /p\n", "x").allowed("/page"));
    // RFC 9309 §5.2: robotparser allows /example/page/disallowed.gif (Allow comes first).
    EXPECT_FALSE(robots_txt::parse("User-Agent: foobot\nAllow: /example/page/\n"
                                   "Disallow: /example/page/disallowed.gif\n",
                                   "foobot")
                     .allowed("/example/page/disallowed.gif"));
}

TEST(crawl_robots, differs_from_urllib_robotparser_wildcards) {
    // robotparser reads '*' and '$' as plain characters: it allows /a.gif and /page.htm,
    // and disallows "/" under "allow: /$".
    EXPECT_FALSE(robots_txt::parse(rfc_simple_example, "otherbot").allowed("/a.gif"));
    EXPECT_FALSE(robots_txt::parse("user-agent: *\nallow: /page\ndisallow: /*.htm\n", "x")
                     .allowed("/page.htm"));
    EXPECT_TRUE(robots_txt::parse("user-agent: *\nallow: /$\ndisallow: /\n", "x").allowed("/"));
}

TEST(crawl_robots, differs_from_urllib_robotparser_groups_and_user_agents) {
    // robotparser drops a group without rules, so quxbot falls to '*' there.
    EXPECT_TRUE(robots_txt::parse(rfc_simple_example, "quxbot").allowed("/example/page.html"));
    // robotparser lets "foobot" keep /robots.txt from itself ("Disallow: /").
    EXPECT_TRUE(robots_txt::parse(rfc_simple_example, "foobot").allowed("/robots.txt"));
    // robotparser matches a group whose name is a substring of the user agent.
    EXPECT_TRUE(robots_txt::parse("user-agent: crawl\ndisallow: /\n", "corio-crawl").allowed("/a"));
}

TEST(crawl_robots, differs_from_urllib_robotparser_fractional_crawl_delay) {
    // robotparser reads whole seconds only: crawl_delay() is None for 0.5.
    const robots_txt r = robots_txt::parse("user-agent: *\ncrawl-delay: 0.5\n", "x");
    ASSERT_TRUE(r.crawl_delay());
    EXPECT_DOUBLE_EQ(r.crawl_delay()->count(), 0.5);
}

// --- robots directives in pages -------------------------------------------------------------

TEST(crawl_robots, meta_robots_nofollow_and_none_and_the_crawlers_own_meta_tag) {
    using corio_crawl::scan_page;
    EXPECT_TRUE(scan_page("<meta name=\"robots\" content=\"nofollow\">").robots.nofollow);
    EXPECT_FALSE(scan_page("<meta name=\"robots\" content=\"nofollow\">").robots.noindex);
    const corio_crawl::page_scan none = scan_page("<META NAME=ROBOTS CONTENT=\"NONE\">");
    EXPECT_TRUE(none.robots.nofollow);
    EXPECT_TRUE(none.robots.noindex);
    EXPECT_TRUE(scan_page("<meta content='noarchive, noindex' name='robots'>").robots.noindex);
    EXPECT_FALSE(scan_page("<meta name=\"robots\" content=\"index, follow\">").robots.nofollow);
    EXPECT_FALSE(scan_page("<meta name=\"description\" content=\"nofollow\">").robots.nofollow);
    EXPECT_FALSE(scan_page("<!-- <meta name=\"robots\" content=\"nofollow\"> -->").robots.nofollow);
    // A tag naming the crawler counts for it alone.
    const std::string_view own = "<meta name=\"corio-crawl\" content=\"nofollow\">";
    EXPECT_TRUE(scan_page(own, "corio-crawl").robots.nofollow);
    EXPECT_FALSE(scan_page(own, "otherbot").robots.nofollow);
    EXPECT_FALSE(scan_page(own).robots.nofollow);
}

TEST(crawl_robots, rel_nofollow_marks_the_link_alone) {
    const corio_crawl::page_scan scan =
        corio_crawl::scan_page("<a href=/a rel=nofollow>a</a><a rel=\"external NoFollow\" "
                               "href='/b'>b</a><a href=/c rel=\"noopener\">c</a>"
                               "<a href=/d rel=\"nofollowing\">d</a><a href=/e>e</a>");
    ASSERT_EQ(scan.links.size(), 5U);
    const std::vector<std::pair<std::string, bool>> expected = {
        {"/a", true}, {"/b", true}, {"/c", false}, {"/d", false}, {"/e", false}};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(scan.links[i].href, expected[i].first);
        EXPECT_EQ(scan.links[i].nofollow, expected[i].second) << scan.links[i].href;
    }
    EXPECT_FALSE(scan.robots.nofollow);
}

TEST(crawl_robots, x_robots_tag_for_every_crawler_or_for_this_one) {
    using corio_crawl::x_robots_tag;
    EXPECT_TRUE(x_robots_tag({"noindex, nofollow"}, "corio-crawl").nofollow);
    EXPECT_TRUE(x_robots_tag({"noarchive", "none"}, "corio-crawl").noindex);
    EXPECT_TRUE(x_robots_tag({"corio-crawl: nofollow"}, "corio-crawl").nofollow);
    EXPECT_FALSE(x_robots_tag({"otherbot: nofollow"}, "corio-crawl").nofollow);
    EXPECT_FALSE(x_robots_tag({"unavailable_after: 25 Jun 2010 15:00:00 PST"}, "x").nofollow);
    EXPECT_TRUE(x_robots_tag({"max-snippet: 20, nofollow"}, "x").nofollow);
    EXPECT_FALSE(x_robots_tag({}, "x").nofollow);
}

} // namespace

#else

TEST(crawl_robots, needs_the_programs_built) {
    GTEST_SKIP() << "corio-crawl is not built (CORIO_BUILD_APPS=OFF)";
}

#endif
