#include "progress.hpp"

#include <corio/errors.hpp>
#include <corio/sleep.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <exception>
#include <utility>

namespace corio_crawl {

namespace {

double seconds(corio::clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

} // namespace

std::string format_bytes(std::size_t bytes) {
    static constexpr const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(bytes);
    std::size_t unit = 0;
    while (v >= 1000.0 && unit + 1 < std::size(units)) {
        v /= 1000.0;
        ++unit;
    }
    char buf[32];
    if (unit == 0) {
        std::snprintf(buf, sizeof buf, "%zu B", bytes);
    } else {
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[unit]);
    }
    return buf;
}

std::string progress_line(const crawl_progress& p, double rate) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "%zu done, %zu queued, %zu in flight, %s, %.0f pages/s, %zu errors, %.1f s",
                  p.done, p.queued, p.in_flight, format_bytes(p.bytes).c_str(), rate, p.errors,
                  seconds(p.elapsed));
    return buf;
}

corio::task<> show_progress(const crawler& c, progress_mode mode, std::FILE* out) {
    if (mode == progress_mode::quiet) {
        co_return;
    }
    const bool live = mode == progress_mode::live;
    const corio::clock::duration period =
        live ? corio::clock::duration(std::chrono::milliseconds(100))
             : corio::clock::duration(std::chrono::seconds(1));
    // The rate over about the last second: (elapsed, done) samples, oldest first.
    std::deque<std::pair<corio::clock::duration, std::size_t>> samples;
    std::exception_ptr stop;
    try {
        while (true) {
            co_await corio::sleep(period);
            const crawl_progress p = c.progress();
            samples.emplace_back(p.elapsed, p.done);
            while (samples.size() > 2 && p.elapsed - samples[1].first >= std::chrono::seconds(1)) {
                samples.pop_front();
            }
            double rate = 0;
            const double span = seconds(p.elapsed - samples.front().first);
            if (samples.size() >= 2 && span > 0) {
                rate = static_cast<double>(p.done - samples.front().second) / span;
            } else if (seconds(p.elapsed) > 0) {
                rate = static_cast<double>(p.done) / seconds(p.elapsed);
            }
            const std::string line = progress_line(p, rate);
            if (live) {
                // Back to the start of the line, the new text, and erase what is left.
                std::fprintf(out, "\r%s\x1b[K", line.c_str());
            } else {
                std::fprintf(out, "%s\n", line.c_str());
            }
            std::fflush(out);
        }
    } catch (const corio::cancelled_error&) {
        stop = std::current_exception();
    }
    if (live) {
        std::fputs("\r\x1b[K", out);
        std::fflush(out);
    }
    std::rethrow_exception(stop);
}

void print_summary(std::FILE* out, const crawl_summary& s, const std::vector<fetch_result>& results,
                   std::size_t max_listed) {
    const double elapsed = seconds(s.elapsed);
    std::fprintf(out, "%s %s %s %.2f s\n", s.cancelled ? "crawl of" : "crawled", s.root.c_str(),
                 s.cancelled ? "cancelled after" : "in", elapsed);
    std::fprintf(out, "  requests   %8zu  (%.1f/s)\n", s.requests, s.requests_per_second());
    std::fprintf(out, "  pages      %8zu\n", s.pages);
    std::fprintf(out, "  redirects  %8zu\n", s.redirects);
    std::fprintf(out, "  received   %8s\n", format_bytes(s.bytes).c_str());
    std::fprintf(out, "  errors     %8zu\n", s.errors());
    for (const auto& [status, count] : s.http_errors) {
        std::fprintf(out, "    HTTP %d %8zu\n", status, count);
    }
    const std::pair<const char*, std::size_t> kinds[] = {
        {"timeouts   ", s.timeouts},        {"connection ", s.connection_errors},
        {"protocol   ", s.protocol_errors}, {"redirect   ", s.redirect_errors},
        {"too large  ", s.too_large},       {"other      ", s.other_errors},
    };
    for (const auto& [name, count] : kinds) {
        if (count > 0) {
            std::fprintf(out, "    %s%6zu\n", name, count);
        }
    }
    for (const auto& [kind, count] : s.tls_errors) {
        std::fprintf(out, "    TLS: %s %6zu\n", kind.c_str(), count);
    }
    std::fprintf(out, "  ignored links: %zu to other hosts, %zu not http(s)", s.offhost_links,
                 s.foreign_links);
    if (s.nofollow_links > 0) {
        std::fprintf(out, ", %zu nofollow", s.nofollow_links);
    }
    std::fputc('\n', out);
    if (s.disallowed > 0) {
        std::fprintf(out, "  disallowed by robots.txt: %zu URL%s not requested\n", s.disallowed,
                     s.disallowed == 1 ? "" : "s");
    }
    if (s.dropped > 0) {
        std::fprintf(out, "  page limit reached: %zu more URLs not requested\n", s.dropped);
    }
    if (s.resumed > 0) {
        std::fprintf(out, "  resumed: %zu URL%s done before\n", s.resumed,
                     s.resumed == 1 ? "" : "s");
    }
    constexpr std::size_t max_hosts = 5;
    std::size_t hosts = 0;
    for (const auto& [origin, what] : s.robots) {
        if (hosts++ == max_hosts) {
            std::fprintf(out, "  (robots.txt of %zu more hosts)\n", s.robots.size() - max_hosts);
            break;
        }
        std::fprintf(out, "  robots.txt of %s: %s\n", origin.c_str(), what.c_str());
    }
    // The failures: as many as the totals count, listed from what `results` holds.
    const auto is_failure = [](const fetch_result& r) {
        return r.kind != outcome::page && r.kind != outcome::redirect &&
               r.kind != outcome::disallowed;
    };
    const std::size_t failed = s.errors();
    const auto known =
        static_cast<std::size_t>(std::count_if(results.begin(), results.end(), is_failure));
    const std::size_t shown = std::min(max_listed, known);
    if (failed == 0 || shown == 0) {
        return;
    }
    if (failed > shown) {
        std::fprintf(out, "failed URLs (the first %zu of %zu):\n", shown, failed);
    } else {
        std::fprintf(out, "failed URLs:\n");
    }
    std::size_t listed = 0;
    for (const fetch_result& r : results) {
        if (!is_failure(r)) {
            continue;
        }
        if (listed++ == shown) {
            break;
        }
        const std::string what = r.kind == outcome::http_error ? std::to_string(r.status)
                                                               : std::string(outcome_name(r.kind));
        std::fprintf(out, "  %s %s", what.c_str(), r.url.c_str());
        if (!r.referrer.empty()) {
            std::fprintf(out, " (linked from %s)", r.referrer.c_str());
        }
        if (r.kind != outcome::http_error && !r.error.empty()) {
            std::fprintf(out, ": %s", r.error.c_str());
        }
        std::fputc('\n', out);
    }
}

} // namespace corio_crawl
