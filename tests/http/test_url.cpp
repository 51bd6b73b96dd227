// http URLs: parsing (case, ports, IPv6, errors naming the URL), printing, and resolving
// references as RFC 3986 §5.4 shows.

#include <corio/http/url.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

using corio::http::url;

namespace {

TEST(http_url, parses_the_parts_of_a_url) {
    const url u = url::parse("http://example.com:8080/a/b?c=d#frag");
    EXPECT_EQ(u.scheme, "http");
    EXPECT_EQ(u.host, "example.com");
    EXPECT_EQ(u.port, 8080);
    EXPECT_EQ(u.target, "/a/b?c=d");
}

TEST(http_url, lower_cases_the_scheme_and_host_only) {
    const url u = url::parse("HTTPS://Example.COM/Path?Q=A");
    EXPECT_EQ(u.scheme, "https");
    EXPECT_EQ(u.host, "example.com");
    EXPECT_EQ(u.target, "/Path?Q=A");
}

TEST(http_url, defaults_the_port_and_the_target) {
    EXPECT_EQ(url::parse("http://a").port, 80);
    EXPECT_EQ(url::parse("https://a").port, 443);
    EXPECT_EQ(url::parse("http://a:").port, 80);
    EXPECT_EQ(url::parse("http://a").target, "/");
    EXPECT_EQ(url::parse("http://a?x").target, "/?x");
    EXPECT_EQ(url::parse("http://a#f").target, "/");
}

TEST(http_url, parses_ipv6_literals) {
    const url u = url::parse("http://[::1]:8080/x");
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, 8080);
    EXPECT_EQ(u.authority(), "[::1]:8080");
    EXPECT_EQ(u.str(), "http://[::1]:8080/x");
    EXPECT_EQ(url::parse("http://[2001:DB8::1]").host, "2001:db8::1");
}

TEST(http_url, prints_the_authority_and_the_whole_url) {
    EXPECT_EQ(url::parse("http://a:80/").authority(), "a");
    EXPECT_EQ(url::parse("https://a:443/").authority(), "a");
    EXPECT_EQ(url::parse("http://a:443/").authority(), "a:443");
    EXPECT_EQ(url::parse("https://a:8443/x?y").str(), "https://a:8443/x?y");
    EXPECT_EQ(url::parse("http://A/").str(), "http://a/");
}

TEST(http_url, percent_encodes_what_cannot_go_on_the_wire) {
    EXPECT_EQ(url::parse("http://a/my file.html").target, "/my%20file.html");
    EXPECT_EQ(url::parse("http://a/caf\xc3\xa9").target, "/caf%C3%A9");
    EXPECT_EQ(url::parse("  http://a/x\t\n  ").target, "/x");
}

TEST(http_url, rejects_malformed_urls_naming_them) {
    const struct {
        const char* text;
        const char* problem;
    } cases[] = {
        {"ftp://a/", "not http or https"},
        {"mailto:x@y", "not http or https"},
        {"example.com/a", "no scheme"},
        {"/a/b", "no scheme"},
        {"http:/a", "no '//'"},
        {"http://", "no host"},
        {"http:///a", "no host"},
        {"http://a:b/", "port is not a number"},
        {"http://a:65536/", "out of range"},
        {"http://a:0/", "port is 0"},
        {"http://u:p@a/", "user information"},
        {"http://[::1/", "'[' without ']'"},
        {"http://[zz]/", "IPv6"},
        {"http://[::1]x/", "after the IPv6"},
        {"http://a b/", "invalid character in the host"},
        {"http://a%zz/", "percent-encoding"},
        {"1http://a/", "malformed scheme"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        try {
            (void)url::parse(c.text);
            ADD_FAILURE() << "accepted";
        } catch (const std::invalid_argument& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find(std::string("'") + c.text + "'"), std::string::npos) << what;
            EXPECT_NE(what.find(c.problem), std::string::npos) << what;
        }
        EXPECT_FALSE(url::try_parse(c.text).has_value());
    }
}

TEST(http_url, try_parse_gives_the_url_or_nothing) {
    EXPECT_EQ(url::try_parse("http://a/b"), url::parse("http://a/b"));
    EXPECT_FALSE(url::try_parse("nope").has_value());
}

TEST(http_url, compares_by_parts) {
    EXPECT_EQ(url::parse("http://a/"), url::parse("HTTP://A:80"));
    EXPECT_NE(url::parse("http://a/"), url::parse("https://a/"));
}

// RFC 3986 §5.4.1 (normal) and §5.4.2 (abnormal) examples, base "http://a/b/c/d;p?q".
// The fragment is dropped, and "//g" gets the target "/".
TEST(http_url, resolves_the_rfc_3986_examples) {
    const url base = url::parse("http://a/b/c/d;p?q");
    const struct {
        const char* ref;
        const char* expected;
    } cases[] = {
        {"g", "http://a/b/c/g"},
        {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"},
        {"/g", "http://a/g"},
        {"//g", "http://g/"},
        {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},
        {"#s", "http://a/b/c/d;p?q"},
        {"g#s", "http://a/b/c/g"},
        {"g?y#s", "http://a/b/c/g?y"},
        {";x", "http://a/b/c/;x"},
        {"g;x", "http://a/b/c/g;x"},
        {"g;x?y#s", "http://a/b/c/g;x?y"},
        {"", "http://a/b/c/d;p?q"},
        {".", "http://a/b/c/"},
        {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},
        {"../", "http://a/b/"},
        {"../g", "http://a/b/g"},
        {"../..", "http://a/"},
        {"../../", "http://a/"},
        {"../../g", "http://a/g"},
        // §5.4.2
        {"../../../g", "http://a/g"},
        {"../../../../g", "http://a/g"},
        {"/./g", "http://a/g"},
        {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."},
        {".g", "http://a/b/c/.g"},
        {"g..", "http://a/b/c/g.."},
        {"..g", "http://a/b/c/..g"},
        {"./../g", "http://a/b/g"},
        {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"},
        {"g/../h", "http://a/b/c/h"},
        {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
        {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"},
        {"g?y/../x", "http://a/b/c/g?y/../x"},
        {"g#s/./x", "http://a/b/c/g"},
        {"g#s/../x", "http://a/b/c/g"},
        {"http:g", "http://a/b/c/g"}, // the non-strict reading (§5.2.2)
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.ref);
        const auto r = base.resolve(c.ref);
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->str(), c.expected);
    }
}

TEST(http_url, resolves_absolute_and_network_path_references) {
    const url base = url::parse("https://a:8443/x/y");
    EXPECT_EQ(base.resolve("http://B/c/../d")->str(), "http://b/d");
    EXPECT_EQ(base.resolve("//other/p")->str(), "https://other/p");
    EXPECT_EQ(base.resolve("//other:9/p")->port, 9);
    EXPECT_EQ(base.resolve("z")->str(), "https://a:8443/x/z");
    EXPECT_EQ(base.resolve("?only")->str(), "https://a:8443/x/y?only");
    EXPECT_EQ(base.resolve("?")->str(), "https://a:8443/x/y?");
}

TEST(http_url, resolve_refuses_other_schemes_and_malformed_references) {
    const url base = url::parse("http://a/b/c/d;p?q");
    EXPECT_FALSE(base.resolve("g:h").has_value());
    EXPECT_FALSE(base.resolve("mailto:someone@example.com").has_value());
    EXPECT_FALSE(base.resolve("javascript:void(0)").has_value());
    EXPECT_FALSE(base.resolve("JavaScript:alert(1)").has_value());
    EXPECT_FALSE(base.resolve("https:g").has_value()) << "another scheme needs an authority";
    EXPECT_FALSE(base.resolve("//").has_value());
    EXPECT_FALSE(base.resolve("//a:99999/").has_value());
    EXPECT_FALSE(base.resolve("1a:b").has_value());
}

TEST(http_url, resolve_cleans_links_as_browsers_do) {
    const url base = url::parse("http://a/b/");
    EXPECT_EQ(base.resolve("  c d.html\n")->str(), "http://a/b/c%20d.html");
    EXPECT_EQ(base.resolve("e\tf")->str(), "http://a/b/ef");
}

} // namespace
