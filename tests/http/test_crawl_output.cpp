// corio-crawl's output file and --resume (apps/crawl/records.hpp, crawler.hpp): JSON string
// escaping and its round trip, the records of a crawl of the generated site read back and
// checked against the summary (and against Python's json module when there is one), a
// crawl stopped by its page limit or cancelled half-way then resumed giving the same URLs as
// one crawl, a last line cut short, a malformed file, and the program's --output and
// --resume.

#include "support/net.hpp"

#include <gtest/gtest.h>

#if __has_include("crawler.hpp")

#include "crawler.hpp"
#include "records.hpp"
#include "site.hpp"

#include <corio/corio.hpp>
#include <corio/http/server.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using namespace corio_net_test;

namespace {

class crawl_output : public fd_leak_check {};

using corio_crawl::fetch_result;
using corio_crawl::outcome;

std::string json(std::string_view s) {
    std::string out;
    corio_crawl::append_json_string(out, s);
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

/// Every record of `path`, in order (a test failure if the file has a warning).
std::vector<fetch_result> records_of(const std::string& path) {
    std::vector<fetch_result> out;
    const corio_crawl::records_read read =
        corio_crawl::read_records(path, [&out](fetch_result&& r) { out.push_back(std::move(r)); });
    EXPECT_EQ(read.warning, "");
    EXPECT_EQ(read.records, out.size());
    return out;
}

// --- JSON -----------------------------------------------------------------------------------

TEST(crawl_records, json_strings_escape_quotes_backslashes_and_control_characters) {
    EXPECT_EQ(json(""), "\"\"");
    EXPECT_EQ(json("plain /path?a=1&b=2"), "\"plain /path?a=1&b=2\"");
    EXPECT_EQ(json("say \"hi\" \\ bye"), "\"say \\\"hi\\\" \\\\ bye\"");
    EXPECT_EQ(json("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
    EXPECT_EQ(json(std::string("\0\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\\u007f\"");
}

TEST(crawl_records, json_strings_keep_valid_utf8_and_escape_other_bytes_as_surrogates) {
    // é, €, and a clef outside the BMP: as they are.
    EXPECT_EQ(json("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E"),
              "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E\"");
    // A stray byte, a sequence cut short, an overlong '/', an encoded surrogate, and a
    // code point past U+10FFFF: each byte as U+DC00 + byte (surrogateescape).
    EXPECT_EQ(json("a\xFFz"), "\"a\\udcffz\"");
    EXPECT_EQ(json("\xE2\x82"), "\"\\udce2\\udc82\"");
    EXPECT_EQ(json("\xC0\xAF"), "\"\\udcc0\\udcaf\"");
    EXPECT_EQ(json("\xED\xA0\x80"), "\"\\udced\\udca0\\udc80\"");
    EXPECT_EQ(json("\xF4\x90\x80\x80"), "\"\\udcf4\\udc90\\udc80\\udc80\"");
}

fetch_result odd_record() {
    fetch_result r;
    r.url = "http://127.0.0.1:8080/a%20b?q=%22x%22";
    r.referrer = "http://127.0.0.1:8080/";
    r.kind = outcome::http_error;
    r.status = 503;
    r.bytes = 12345;
    static constexpr char error[] =
        "503 \"Busy\" \\ \x01\n caf\xC3\xA9 \xFF\xFE \xF0\x9D\x84\x9E end\0!";
    r.error = std::string(error, sizeof error - 1);
    r.content_type = "text/html; charset=\"utf-8\"";
    r.elapsed = std::chrono::microseconds(1500);
    r.links_out = 7;
    r.links_to = {"http://127.0.0.1:8080/x", "http://127.0.0.1:8080/\xE2\x82"};
    r.redirects = 2;
    r.noindex = true;
    r.tls_reason = "";
    return r;
}

TEST(crawl_records, a_record_round_trips_every_byte) {
    const fetch_result r = odd_record();
    const std::string line = corio_crawl::format_record(r);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const fetch_result back = corio_crawl::parse_record(line);
    EXPECT_EQ(back.url, r.url);
    EXPECT_EQ(back.referrer, r.referrer);
    EXPECT_EQ(back.kind, r.kind);
    EXPECT_EQ(back.status, r.status);
    EXPECT_EQ(back.bytes, r.bytes);
    EXPECT_EQ(back.error, r.error);
    EXPECT_EQ(back.content_type, r.content_type);
    EXPECT_EQ(back.elapsed, r.elapsed);
    EXPECT_EQ(back.links_out, r.links_out);
    EXPECT_EQ(back.links_to, r.links_to);
    EXPECT_EQ(back.redirects, r.redirects);
    EXPECT_EQ(back.noindex, r.noindex);
    EXPECT_EQ(back.nofollow, r.nofollow);
    EXPECT_EQ(back.location, "");
    EXPECT_EQ(line.find("\"location\":null"), line.find("\"location\""));
}

TEST(crawl_records, the_reader_takes_any_json_escape_and_ignores_keys_it_does_not_know) {
    const fetch_result r = corio_crawl::parse_record(
        " { \"outcome\" : \"page\", \"extra\": {\"a\": [1, -2.5e3, true, null, \"x\"]},"
        "\"url\":\"http:\\/\\/h\\/\\u00e9\\ud834\\udd1e\\udc80\\ud800\", \"status\": 200 } ");
    EXPECT_EQ(r.url, "http://h/\xC3\xA9\xF0\x9D\x84\x9E\x80\xEF\xBF\xBD");
    EXPECT_EQ(r.kind, outcome::page);
    EXPECT_EQ(r.status, 200);
}

TEST(crawl_records, the_reader_says_what_is_wrong_and_where) {
    const auto error_of_parse = [](std::string_view line) -> std::string {
        try {
            (void)corio_crawl::parse_record(line);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "(no error)";
    };
    EXPECT_EQ(error_of_parse("{\"outcome\":\"page\"}"), "no \"url\"");
    EXPECT_EQ(error_of_parse("{\"url\":\"x\"}"), "no \"outcome\"");
    EXPECT_EQ(error_of_parse("{\"url\":\"x\",\"outcome\":\"fine\"}"),
              "column 22: an unknown outcome 'fine'");
    EXPECT_EQ(error_of_parse("{\"url\":\"x\" \"outcome\":\"page\"}"),
              "column 12: expected '}', not '\"'");
    EXPECT_EQ(error_of_parse("{\"url\":\"x\",\"outcome\":\"page\"} x"),
              "column 30: more after the end of the record");
    EXPECT_EQ(error_of_parse("{\"url\":\"x\",\"status\":2.5,\"outcome\":\"page\"}"),
              "column 21: expected a whole number from 0 to 999");
    EXPECT_EQ(error_of_parse("{\"url\":\"a\tb\",\"outcome\":\"page\"}"),
              "column 10: a control character in a string");
    EXPECT_EQ(error_of_parse("{\"url\":\"x"), "column 10: a string without its closing quote");
    EXPECT_EQ(error_of_parse(""), "column 1: expected '{', not the end of the line");
}

// --- the records of a crawl -----------------------------------------------------------------

corio_crawl::site_options small_site(std::size_t pages) {
    corio_crawl::site_options o;
    o.pages = pages;
    o.seed = 7;
    o.slow_fraction = 0.02;
    o.slow_min = 1ms;
    o.slow_max = 3ms;
    return o;
}

corio_crawl::crawl_options crawl_with(std::size_t workers) {
    corio_crawl::crawl_options o;
    o.workers = workers;
    o.timeout = 30s;
    return o;
}

std::string root_of(const corio::server& srv) {
    return "http://127.0.0.1:" + std::to_string(srv.port()) + "/";
}

corio::task<> close_server(corio::server& srv) {
    srv.close();
    std::exception_ptr e = co_await error_of(corio::wait_for(srv.wait_closed(), 10s));
    EXPECT_FALSE(e) << "wait_closed: " << describe(e);
}

/// Each URL's path (under `root`) with its outcome.
std::map<std::string, outcome> outcomes(const std::vector<fetch_result>& results,
                                        const std::string& root) {
    std::map<std::string, outcome> out;
    for (const fetch_result& r : results) {
        EXPECT_TRUE(r.url.starts_with(root)) << r.url;
        EXPECT_TRUE(out.emplace("/" + r.url.substr(root.size()), r.kind).second)
            << r.url << " twice";
    }
    return out;
}

/// The URLs of a whole crawl of a site of `shape`, done anew, by path.
corio::task<std::map<std::string, outcome>> whole_crawl(const corio_crawl::site_options& shape) {
    corio_crawl::site site(shape);
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0);
    corio_crawl::crawler c(crawl_with(8));
    corio::task<corio_crawl::crawl_summary> crawling = c.run(root_of(srv));
    co_await crawling;
    co_await close_server(srv);
    co_return outcomes(c.results(), root_of(srv));
}

corio::task<> crawl_to_a_file(const std::string& path) {
    corio_crawl::site site(small_site(300));
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0);
    corio_crawl::crawl_options o = crawl_with(8);
    o.output = path;
    std::size_t lines_when_reported = 0;
    std::size_t reported = 0;
    o.on_result = [&](const fetch_result&) {
        // Written (and flushed) before on_result hears of it.
        ++reported;
        const std::string text = read_file(path);
        lines_when_reported +=
            static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) == reported ? 1
                                                                                             : 0;
    };
    corio_crawl::crawler c(o);
    corio::task<corio_crawl::crawl_summary> crawling = c.run(root_of(srv));
    const corio_crawl::crawl_summary s = co_await crawling;
    co_await close_server(srv);

    const std::vector<fetch_result> records = records_of(path);
    EXPECT_EQ(lines_when_reported, records.size());
    // One record per URL done, in the order they were done, as the results say.
    EXPECT_EQ(records.size(), c.results().size());
    for (std::size_t i = 0; i < std::min(records.size(), c.results().size()); ++i) {
        const fetch_result& a = records[i];
        const fetch_result& b = c.results()[i];
        EXPECT_EQ(a.url, b.url);
        EXPECT_EQ(a.kind, b.kind) << a.url;
        EXPECT_EQ(a.status, b.status) << a.url;
        EXPECT_EQ(a.bytes, b.bytes) << a.url;
        EXPECT_EQ(a.referrer, b.referrer) << a.url;
        EXPECT_EQ(a.location, b.location) << a.url;
        EXPECT_EQ(a.content_type, b.content_type) << a.url;
        EXPECT_EQ(a.links_out, b.links_out) << a.url;
        EXPECT_EQ(a.links_to, b.links_to) << a.url;
        EXPECT_EQ(a.error, b.error) << a.url;
    }
    // The records add up to the summary.
    corio_crawl::crawl_summary sum;
    std::size_t bytes = 0;
    for (const fetch_result& r : records) {
        bytes += r.bytes;
        sum.pages += r.kind == outcome::page ? 1 : 0;
        sum.redirects += r.kind == outcome::redirect ? 1 : 0;
        if (r.kind == outcome::http_error) {
            ++sum.http_errors[r.status];
        }
    }
    EXPECT_EQ(records.size(), s.requests);
    EXPECT_EQ(sum.pages, s.pages);
    EXPECT_EQ(sum.redirects, s.redirects);
    EXPECT_EQ(sum.http_errors, s.http_errors);
    EXPECT_EQ(bytes, s.bytes);
    EXPECT_EQ(s.pages, site.page_paths().size());
    // Pages carry their type and links; redirects their target.
    for (const fetch_result& r : records) {
        if (r.kind == outcome::page) {
            EXPECT_EQ(r.content_type, "text/html; charset=utf-8") << r.url;
            EXPECT_GT(r.links_out, 0U) << r.url;
            EXPECT_LE(r.links_to.size(), r.links_out) << r.url;
        } else if (r.kind == outcome::redirect) {
            EXPECT_TRUE(r.location.starts_with(root_of(srv))) << r.location;
        }
    }
}

TEST_F(crawl_output, records_one_line_per_url_done_as_each_is_done) {
    temp_dir dir;
    corio::run(crawl_to_a_file(dir.file("crawl.jsonl")));
}

/// Python's json module reads every line (skipped without Python).
corio::task<> python_reads(const std::string& path, int* code) {
    const std::vector<std::string> argv = {
        python3_path(), "-c",
        "import json, sys\n"
        "n = 0\n"
        "for line in open(sys.argv[1], encoding='utf-8', errors='surrogateescape'):\n"
        "    r = json.loads(line)\n"
        "    assert isinstance(r['url'], str) and isinstance(r['links_to'], list), line\n"
        "    n += 1\n"
        "sys.exit(0 if n > 0 else 3)\n",
        path};
    corio::process p = co_await corio::create_subprocess_exec(argv);
    *code = co_await run_to_exit(p, 30s);
}

TEST_F(crawl_output, python_json_reads_every_record) {
    if (python3_path().empty()) {
        GTEST_SKIP() << "no python3";
    }
    temp_dir dir;
    const std::string path = dir.file("crawl.jsonl");
    corio::run(crawl_to_a_file(path));
    {
        std::ofstream out(path, std::ios::app | std::ios::binary);
        out << corio_crawl::format_record(odd_record()) << '\n';
    }
    int code = -1;
    corio::run(python_reads(path, &code));
    EXPECT_EQ(code, 0);
}

// --- resume ---------------------------------------------------------------------------------

/// Crawl `shape` into `path` in two runs: the first stopped by `max_pages` (or, if 0,
/// cancelled after 40 URLs), the second resumed without a limit. The union of the records
/// must be the URLs of one whole crawl, each recorded once.
corio::task<> crawl_in_two_runs(std::string path, std::size_t max_pages, std::size_t threads) {
    const corio_crawl::site_options shape = small_site(300);
    corio_crawl::site site(shape);
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0);
    const std::string root = root_of(srv);

    corio_crawl::crawl_options first = crawl_with(4);
    first.output = path;
    first.threads = threads;
    corio::event forty_done;
    if (max_pages > 0) {
        first.max_pages = max_pages;
    } else {
        std::size_t done = 0;
        first.on_result = [&forty_done, done](const fetch_result&) mutable {
            if (++done == 40) {
                forty_done.set();
            }
        };
    }
    corio_crawl::crawler one(first);
    corio::join_handle<corio_crawl::crawl_summary> crawling = corio::spawn(one.run(root));
    if (max_pages == 0) {
        co_await forty_done.wait();
        crawling.cancel();
    }
    std::exception_ptr e = co_await error_of(crawling);
    EXPECT_EQ(e != nullptr, max_pages == 0) << describe(e);
    const std::size_t first_records = records_of(path).size();
    EXPECT_EQ(first_records, one.summary().requests);
    EXPECT_GE(first_records, 40U);
    EXPECT_LT(first_records, site.page_paths().size());

    corio_crawl::crawl_options second = crawl_with(4);
    second.output = path;
    second.resume = true;
    second.threads = threads;
    std::vector<std::string> warnings;
    second.on_warning = [&warnings](const std::string& w) { warnings.push_back(w); };
    corio_crawl::crawler two(second);
    corio::task<corio_crawl::crawl_summary> resuming = two.run(root);
    const corio_crawl::crawl_summary s = co_await resuming;
    co_await close_server(srv);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(s.resumed, first_records);
    EXPECT_FALSE(s.cancelled);

    const std::vector<fetch_result> all = records_of(path);
    EXPECT_EQ(all.size(), first_records + s.requests);
    const std::map<std::string, outcome> whole = co_await whole_crawl(shape);
    EXPECT_EQ(outcomes(all, root), whole);
    EXPECT_EQ(whole.size(), site.page_paths().size() + site.missing_paths().size() +
                                site.redirect_paths().size());
    if (max_pages > 0) {
        // Nothing was requested twice (robots.txt once per run).
        for (const auto& [p, hits] : site.hits()) {
            EXPECT_EQ(hits, p == "/robots.txt" ? 2U : 1U) << p;
        }
    }
}

TEST_F(crawl_output, a_crawl_stopped_by_its_page_limit_then_resumed_gives_every_url_once) {
    temp_dir dir;
    corio::run(crawl_in_two_runs(dir.file("crawl.jsonl"), 60, 1));
}

TEST_F(crawl_output, a_crawl_cancelled_midway_then_resumed_gives_every_url_once) {
    temp_dir dir;
    corio::run(crawl_in_two_runs(dir.file("crawl.jsonl"), 0, 1));
}

TEST_F(crawl_output, a_crawl_on_two_threads_cancelled_then_resumed_gives_every_url_once) {
    temp_dir dir;
    corio::run(crawl_in_two_runs(dir.file("crawl.jsonl"), 0, 2));
}

/// A page that answers "/" with links to /a and /b.
corio::task<corio::http::response> two_links(corio::http::request& req) {
    if (req.target == "/") {
        corio::http::response r(200, "<a href=/a>a</a><a href=/b>b</a>");
        r.headers.set("Content-Type", "text/html");
        co_return r;
    }
    co_return corio::http::response(req.target == "/a" || req.target == "/b" ? 200 : 404, "x");
}

corio::task<std::exception_ptr> resume_file(const std::string& path, const std::string& text,
                                            std::vector<std::string>* warnings,
                                            corio_crawl::crawl_summary* summary) {
    corio::server srv = co_await corio::http::serve(two_links, "127.0.0.1", 0);
    const std::string root = root_of(srv);
    std::string contents = text;
    for (std::size_t at = contents.find("ROOT"); at != std::string::npos;
         at = contents.find("ROOT")) {
        contents.replace(at, 4, root);
    }
    write_file(path, contents);
    corio_crawl::crawl_options o = crawl_with(2);
    o.output = path;
    o.resume = true;
    o.on_warning = [warnings](const std::string& w) { warnings->push_back(w); };
    corio_crawl::crawler c(o);
    std::exception_ptr e = co_await error_of(c.run(root));
    co_await close_server(srv);
    *summary = c.summary();
    co_return e;
}

TEST_F(crawl_output, a_last_line_cut_short_is_ignored_with_a_warning_and_cut_off) {
    temp_dir dir;
    const std::string path = dir.file("crawl.jsonl");
    std::vector<std::string> warnings;
    corio_crawl::crawl_summary s;
    const std::exception_ptr e =
        corio::run(resume_file(path,
                               "{\"url\":\"ROOT\",\"outcome\":\"page\",\"status\":200,\"links_to\":"
                               "[\"ROOTa\",\"ROOTb\"]}\n"
                               "\n"
                               "{\"url\":\"ROOTa\",\"outcome\":\"page\",\"status\":200}\n"
                               "{\"url\":\"ROOTb\",\"outco",
                               &warnings, &s));
    EXPECT_FALSE(e) << describe(e);
    ASSERT_EQ(warnings.size(), 1U);
    EXPECT_TRUE(warnings[0].starts_with(path + ":4: ignoring the last line, cut short ("))
        << warnings[0];
    // /b was requested again, its record written on a line of its own.
    EXPECT_EQ(s.resumed, 2U);
    EXPECT_EQ(s.requests, 1U);
    const std::vector<fetch_result> all = records_of(path);
    ASSERT_EQ(all.size(), 3U);
    EXPECT_TRUE(all[2].url.ends_with("/b")) << all[2].url;
}

TEST_F(crawl_output, a_last_record_without_its_newline_is_kept) {
    temp_dir dir;
    const std::string path = dir.file("crawl.jsonl");
    std::vector<std::string> warnings;
    corio_crawl::crawl_summary s;
    const std::exception_ptr e =
        corio::run(resume_file(path,
                               "{\"url\":\"ROOT\",\"outcome\":\"page\",\"status\":200,\"links_to\":"
                               "[\"ROOTa\",\"ROOTb\"]}\n"
                               "{\"url\":\"ROOTa\",\"outcome\":\"page\",\"status\":200}",
                               &warnings, &s));
    EXPECT_FALSE(e) << describe(e);
    EXPECT_TRUE(warnings.empty());
    EXPECT_EQ(s.resumed, 2U);
    EXPECT_EQ(s.requests, 1U);
    EXPECT_EQ(records_of(path).size(), 3U);
}

TEST_F(crawl_output, a_malformed_line_is_an_error_naming_the_file_and_line) {
    temp_dir dir;
    const std::string path = dir.file("crawl.jsonl");
    std::vector<std::string> warnings;
    corio_crawl::crawl_summary s;
    const std::exception_ptr e =
        corio::run(resume_file(path,
                               "{\"url\":\"ROOT\",\"outcome\":\"page\",\"status\":200}\n"
                               "{\"url\":\"http://x/a\",\"outcome\":\"page\",\"status\":\"200\"}\n"
                               "{\"url\":\"ROOTb\",\"outcome\":\"page\",\"status\":200}\n",
                               &warnings, &s));
    EXPECT_TRUE(holds<std::runtime_error>(e));
    EXPECT_EQ(corio_test::what_of(e),
              path + ":2: not a crawl record: column 47: expected a number, not '\"'");
    EXPECT_EQ(s.requests, 0U);
}

TEST_F(crawl_output, resuming_a_file_that_does_not_exist_starts_a_new_crawl) {
    temp_dir dir;
    const std::string path = dir.file("new.jsonl");
    corio::run([](std::string path) -> corio::task<> {
        corio::server srv = co_await corio::http::serve(two_links, "127.0.0.1", 0);
        corio_crawl::crawl_options o = crawl_with(2);
        o.output = path;
        o.resume = true;
        std::vector<std::string> warnings;
        o.on_warning = [&warnings](const std::string& w) { warnings.push_back(w); };
        corio_crawl::crawler c(o);
        corio::task<corio_crawl::crawl_summary> crawling = c.run(root_of(srv));
        const corio_crawl::crawl_summary s = co_await crawling;
        co_await close_server(srv);
        EXPECT_EQ(s.requests, 3U);
        EXPECT_EQ(warnings, std::vector<std::string>{path + " does not exist: a new crawl starts"});
    }(path));
    EXPECT_EQ(records_of(path).size(), 3U);
}

// --- the program ----------------------------------------------------------------------------

#ifdef CORIO_CRAWL_PROGRAM
corio::task<int> run_program(std::vector<std::string> argv, std::string* output) {
    argv.insert(argv.begin(), CORIO_CRAWL_PROGRAM);
    corio::process_options options;
    options.stdout_ = corio::pipe;
    options.stderr_ = corio::stdout_;
    corio::process p = co_await corio::create_subprocess_exec(argv, options);
    *output += co_await p.stdout_pipe().read_all();
    co_return co_await run_to_exit(p, 50s);
}

/// The program crawls a site served here into a file, stopped by --max-pages, then
/// resumes it: the file then holds every URL of the site once.
corio::task<> program_output_and_resume(std::string path) {
    corio_crawl::site site(small_site(120));
    corio::server srv = co_await corio::http::serve(site.handler(), "127.0.0.1", 0);
    const std::string root = root_of(srv);
    std::string output;
    const std::vector<std::string> stopped = {root, "--quiet",  "--max-pages",
                                              "30", "--output", path};
    corio::task<int> running = run_program(stopped, &output);
    const int first = co_await std::move(running);
    EXPECT_EQ(first, 0) << output;
    EXPECT_EQ(records_of(path).size(), 30U);
    const std::vector<std::string> resumed = {root,       "--quiet",    "--output", path,
                                              "--resume", "--per-host", "2"};
    running = run_program(resumed, &output);
    const int second = co_await std::move(running);
    EXPECT_EQ(second, 0) << output;
    EXPECT_NE(output.find("resumed: 30 URLs done before"), std::string::npos) << output;
    co_await close_server(srv);
    std::set<std::string> urls;
    for (const fetch_result& r : records_of(path)) {
        EXPECT_TRUE(urls.insert(r.url).second) << r.url << " twice";
    }
    EXPECT_EQ(urls.size(), site.page_paths().size() + site.missing_paths().size() +
                               site.redirect_paths().size());
}

TEST_F(crawl_output, the_program_writes_records_and_resumes_them) {
    temp_dir dir;
    corio::run(program_output_and_resume(dir.file("crawl.jsonl")));
}

TEST_F(crawl_output, the_program_refuses_resume_without_output) {
    std::string output;
    const int code = corio::run(run_program({"--resume"}, &output));
    EXPECT_EQ(code, 2);
    EXPECT_NE(output.find("--resume needs --output FILE"), std::string::npos) << output;
    output.clear();
    EXPECT_EQ(corio::run(run_program({"--allow-host", "http://x/"}, &output)), 2);
    EXPECT_NE(output.find("--allow-host: allowed host 'http://x/'"), std::string::npos) << output;
    output.clear();
    EXPECT_EQ(corio::run(run_program({"--max-page-bytes", "lots"}, &output)), 2);
    EXPECT_NE(output.find("--max-page-bytes: expected a number of bytes"), std::string::npos)
        << output;
}
#endif

} // namespace

#else

TEST(crawl_output, needs_the_programs_built) {
    GTEST_SKIP() << "corio-crawl is not built (CORIO_BUILD_APPS=OFF)";
}

#endif
