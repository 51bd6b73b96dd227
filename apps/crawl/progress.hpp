#pragma once
/// \file
/// What corio-crawl shows: a live progress line while it crawls, and a summary at the end.

#include "crawler.hpp"

#include <corio/task.hpp>

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace corio_crawl {

/// How progress is shown.
enum class progress_mode {
    live,  ///< one line rewritten in place (`\r`) ten times a second: for a terminal
    lines, ///< a plain line every second: for a pipe or a file
    quiet, ///< nothing
};

/// "1.5 MB", "812 B": a byte count for people (powers of 1000).
[[nodiscard]] std::string format_bytes(std::size_t bytes);

/// One progress line: "1234 done, 56 queued, 16 in flight, 1.2 MB, 850 pages/s, 0 errors".
/// `rate`: pages per second to show.
[[nodiscard]] std::string progress_line(const crawl_progress& p, double rate);

/// Show the progress of `c` on `out` until cancelled; then, in live mode, erase the line
/// so what is printed next starts on a clean line. Nothing at all in quiet mode.
corio::task<> show_progress(const crawler& c, progress_mode mode, std::FILE* out);

/// The summary of a crawl: totals, errors by kind, ignored links, what robots.txt said,
/// and the first `max_listed` failed URLs of `results` with the page that linked to each
/// (`results` may hold only some of them, the failures first: "the first 10 of" counts
/// `s.errors()`).
void print_summary(std::FILE* out, const crawl_summary& s, const std::vector<fetch_result>& results,
                   std::size_t max_listed = 10);

} // namespace corio_crawl
