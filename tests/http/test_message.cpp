// HTTP messages: header lookups (ASCII case ignored), tokens, set/erase, the keep-alive
// rules, a request's path and query, reason phrases and protocol_error.

#include <corio/http/message.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using corio::http::headers;
using corio::http::protocol_error;
using corio::http::request;
using corio::http::response;

namespace {

TEST(http_headers, looks_names_up_ignoring_ascii_case) {
    headers h;
    h.add("Content-Type", "text/html");
    EXPECT_EQ(h.get("content-type"), "text/html");
    EXPECT_EQ(h.get("CONTENT-TYPE"), "text/html");
    EXPECT_TRUE(h.contains("cOnTeNt-TyPe"));
    EXPECT_FALSE(h.get("Content-Length").has_value());
    EXPECT_FALSE(h.contains("Content-Typ"));
    EXPECT_EQ(h.begin()->first, "Content-Type") << "names keep their spelling";
}

TEST(http_headers, keeps_repeated_fields_in_order) {
    headers h;
    h.add("Set-Cookie", "a=1");
    h.add("Other", "x");
    h.add("set-cookie", "b=2");
    EXPECT_EQ(h.size(), 3U);
    EXPECT_EQ(h.get("Set-Cookie"), "a=1");
    const std::vector<std::string_view> all = h.get_all("SET-COOKIE");
    ASSERT_EQ(all.size(), 2U);
    EXPECT_EQ(all[0], "a=1");
    EXPECT_EQ(all[1], "b=2");
    EXPECT_TRUE(h.get_all("missing").empty());
}

TEST(http_headers, set_replaces_every_field_of_the_name) {
    headers h;
    h.add("A", "1");
    h.add("X-Thing", "old");
    h.add("B", "2");
    h.add("x-thing", "older");
    h.set("X-THING", "new");
    EXPECT_EQ(h.size(), 3U);
    EXPECT_EQ(h.get_all("x-thing").size(), 1U);
    EXPECT_EQ(h.get("X-Thing"), "new");
    h.set("C", "3");
    EXPECT_EQ(h.size(), 4U);
    EXPECT_EQ(h.get("c"), "3");
}

TEST(http_headers, erase_removes_every_field_of_the_name) {
    headers h;
    h.add("A", "1");
    h.add("B", "2");
    h.add("a", "3");
    EXPECT_EQ(h.erase("A"), 2U);
    EXPECT_EQ(h.size(), 1U);
    EXPECT_EQ(h.erase("A"), 0U);
    h.clear();
    EXPECT_TRUE(h.empty());
}

TEST(http_headers, has_token_finds_a_token_in_any_field_of_the_name) {
    headers h;
    h.add("Connection", "keep-alive, Upgrade");
    h.add("Connection", " TE ,close ");
    EXPECT_TRUE(h.has_token("connection", "upgrade"));
    EXPECT_TRUE(h.has_token("Connection", "KEEP-ALIVE"));
    EXPECT_TRUE(h.has_token("Connection", "te"));
    EXPECT_TRUE(h.has_token("Connection", "close"));
    EXPECT_FALSE(h.has_token("Connection", "keep"));
    EXPECT_FALSE(h.has_token("Connection", "alive"));
    EXPECT_FALSE(h.has_token("Upgrade", "upgrade"));
}

TEST(http_request, keep_alive_follows_the_version_and_connection) {
    request r;
    EXPECT_TRUE(r.keep_alive());
    r.headers.add("Connection", "Close");
    EXPECT_FALSE(r.keep_alive());
    request old;
    old.version_minor = 0;
    EXPECT_FALSE(old.keep_alive());
    old.headers.add("Connection", "Keep-Alive");
    EXPECT_TRUE(old.keep_alive());
}

TEST(http_request, splits_the_target_into_path_and_query) {
    request r;
    r.target = "/a/b?c=d&e";
    EXPECT_EQ(r.path(), "/a/b");
    EXPECT_EQ(r.query(), "c=d&e");
    r.target = "/plain";
    EXPECT_EQ(r.path(), "/plain");
    EXPECT_EQ(r.query(), "");
    r.target = "/?";
    EXPECT_EQ(r.path(), "/");
    EXPECT_EQ(r.query(), "");
    r.target = "/a?b?c";
    EXPECT_EQ(r.query(), "b?c");
}

TEST(http_request, path_and_query_of_an_absolute_form_target) {
    request r;
    r.target = "http://example.com:8080/x/y?q=1";
    EXPECT_EQ(r.path(), "/x/y");
    EXPECT_EQ(r.query(), "q=1");
    r.target = "http://example.com";
    EXPECT_EQ(r.path(), "/");
    EXPECT_EQ(r.query(), "");
    r.target = std::string("*"); // moved in: g++ 12 -O3 warns (-Wrestrict) on assigning "*"
    EXPECT_EQ(r.path(), "*");
}

TEST(http_response, keep_alive_follows_the_version_and_connection) {
    response r{200, "x"};
    EXPECT_TRUE(r.keep_alive());
    r.headers.add("Connection", "close");
    EXPECT_FALSE(r.keep_alive());
}

TEST(http_reason_phrase, names_the_standard_codes) {
    EXPECT_EQ(corio::http::reason_phrase(200), "OK");
    EXPECT_EQ(corio::http::reason_phrase(404), "Not Found");
    EXPECT_EQ(corio::http::reason_phrase(413), "Content Too Large");
    EXPECT_EQ(corio::http::reason_phrase(431), "Request Header Fields Too Large");
    EXPECT_EQ(corio::http::reason_phrase(505), "HTTP Version Not Supported");
    EXPECT_EQ(corio::http::reason_phrase(299), "Unknown");
    EXPECT_EQ(corio::http::reason_phrase(-1), "Unknown");
}

TEST(http_protocol_error, carries_its_status_and_message) {
    const protocol_error e(431, "http: too many fields");
    EXPECT_EQ(e.status(), 431);
    EXPECT_STREQ(e.what(), "http: too many fields");
    const std::runtime_error& base = e;
    EXPECT_STREQ(base.what(), "http: too many fields");
}

} // namespace
