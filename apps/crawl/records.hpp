#pragma once
/// \file
/// The crawl's output file (`crawl_options::output`, `corio-crawl --output FILE`): JSON
/// lines, one object per URL done, and reading it back (`--resume`).
///
/// A line (wrapped here):
///
/// ```
/// {"url":"http://127.0.0.1:8080/s0/p1.html","status":200,"content_type":"text/html",
///  "bytes":1234,"elapsed_ms":1.25,"links":9,"error":null,"outcome":"page",
///  "referrer":"http://127.0.0.1:8080/","location":null,"redirects":0,
///  "links_to":["http://127.0.0.1:8080/s0/p5.html"],"noindex":false,"nofollow":false,
///  "tls_reason":null}
/// ```
///
/// Strings are JSON strings (RFC 8259): `"` and `\` escaped, control characters as `\n`,
/// `\t`, ... or `\u00XX`, DEL as `\u007f`, valid UTF-8 as it is. A byte that is not part
/// of valid UTF-8 is written as a lone surrogate `\udc80` to `\udcff` (the byte plus
/// 0xDC00: Python's "surrogateescape"), which `parse_record` turns back into the byte, so
/// every string round-trips exactly; other JSON readers see a lone surrogate (Python's
/// `json` keeps it, `jq` shows U+FFFD).

#include "crawler.hpp"

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace corio_crawl {

/// Append `s` to `out` as a JSON string, quotes included (escaped as the file's comment
/// says).
void append_json_string(std::string& out, std::string_view s);

/// The record of `r`: one line of JSON, without its newline.
[[nodiscard]] std::string format_record(const fetch_result& r);

/// The `fetch_result` a record holds (`elapsed` to the microsecond). Keys not known are
/// ignored; `url` and `outcome` must be there.
/// \throws std::invalid_argument saying what is wrong and at which column (from 1).
[[nodiscard]] fetch_result parse_record(std::string_view line);

/// The outcome named `name` (`outcome_name`'s text), if there is one.
[[nodiscard]] std::optional<outcome> outcome_from_name(std::string_view name) noexcept;

/// What `read_records` found besides the records.
struct records_read {
    /// Records read.
    std::size_t records = 0;
    /// The length of the part of the file that holds whole lines (where to append).
    std::uint64_t good_bytes = 0;
    /// The last line is a whole record without its newline: write one before appending.
    bool needs_newline = false;
    /// Set when the last line was cut short (a crash while writing it): it was ignored,
    /// and this says so ("FILE:LINE: ignoring the last line, cut short: ...").
    std::string warning;
};

/// Read the records of the file at `path` in order, calling `each` with every one. Empty
/// lines are skipped. A last line without its newline that is not a whole record is
/// ignored (with `warning`); any other line that is not a record is an error.
/// \throws std::runtime_error "FILE:LINE: what is wrong" for such a line;
/// std::system_error (naming the file) if it cannot be read.
records_read read_records(const std::string& path, const std::function<void(fetch_result&&)>& each);

/// Writes records to a file, one line each, flushed as it is written, so that a crash
/// loses at most the line being written.
class record_writer {
public:
    /// Open `path`: emptied, or when `resumed` is given, appended to after its
    /// `good_bytes` (a last line cut short is cut off first).
    /// \throws std::system_error naming the file.
    record_writer(const std::string& path, const records_read* resumed);
    record_writer(const record_writer&) = delete;
    record_writer& operator=(const record_writer&) = delete;
    ~record_writer();

    /// Write `r`'s record and flush it. \throws std::system_error naming the file.
    void write(const fetch_result& r);
    [[nodiscard]] const std::string& path() const noexcept { return m_path; }

private:
    std::string m_path;
    std::FILE* m_file = nullptr;
    std::string m_line;
};

} // namespace corio_crawl
