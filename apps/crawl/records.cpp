#include "records.hpp"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <sys/types.h>
#include <unistd.h>

namespace corio_crawl {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_u_escape(std::string& out, unsigned code) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) {
        out += hex_digits[(code >> shift) & 0xF];
    }
}

/// The length of the valid UTF-8 sequence at the start of `s` (RFC 3629: no overlong
/// forms, no surrogates, nothing above U+10FFFF), or 0 if it does not start with one.
std::size_t utf8_sequence(std::string_view s) noexcept {
    const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
    const unsigned char c = byte(0);
    std::size_t n = 0;
    unsigned lo = 0x80;
    unsigned hi = 0xBF;
    if (in(c, 0xC2, 0xDF)) {
        n = 2;
    } else if (in(c, 0xE0, 0xEF)) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (in(c, 0xF0, 0xF4)) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (s.size() < n || !in(byte(1), lo, hi)) {
        return 0;
    }
    for (std::size_t i = 2; i < n; ++i) {
        if (!in(byte(i), 0x80, 0xBF)) {
            return 0;
        }
    }
    return n;
}

void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    }
}

void append_optional_string(std::string& out, std::string_view s) {
    if (s.empty()) {
        out += "null";
    } else {
        append_json_string(out, s);
    }
}

/// A strict reader of the JSON a record is, enough for records: objects, arrays, strings,
/// numbers, true, false, null.
class json_reader {
public:
    explicit json_reader(std::string_view text) : m_text(text) {}

    [[noreturn]] void fail(const std::string& what) const { fail_at(m_pos, what); }
    [[noreturn]] static void fail_at(std::size_t pos, const std::string& what) {
        throw std::invalid_argument("column " + std::to_string(pos + 1) + ": " + what);
    }
    /// Where the next value starts (after spaces).
    [[nodiscard]] std::size_t position() noexcept {
        skip_space();
        return m_pos;
    }

    void skip_space() noexcept {
        while (m_pos < m_text.size() && (m_text[m_pos] == ' ' || m_text[m_pos] == '\t' ||
                                         m_text[m_pos] == '\r' || m_text[m_pos] == '\n')) {
            ++m_pos;
        }
    }
    [[nodiscard]] bool at_end() noexcept {
        skip_space();
        return m_pos >= m_text.size();
    }
    /// The next character after spaces, not taken ('\0' at the end).
    [[nodiscard]] char peek() noexcept {
        skip_space();
        return m_pos < m_text.size() ? m_text[m_pos] : '\0';
    }
    void expect(char c) {
        if (peek() != c) {
            fail(std::string("expected '") + c + "'" + found());
        }
        ++m_pos;
    }
    /// Take `c` if it comes next.
    bool accept(char c) noexcept {
        if (peek() == c) {
            ++m_pos;
            return true;
        }
        return false;
    }

    std::string string() {
        expect('"');
        std::string out;
        while (true) {
            if (m_pos >= m_text.size()) {
                fail("a string without its closing quote");
            }
            const char c = m_text[m_pos++];
            if (c == '"') {
                return out;
            }
            if (static_cast<unsigned char>(c) < 0x20) {
                --m_pos;
                fail("a control character in a string");
            }
            if (c != '\\') {
                out += c;
                continue;
            }
            if (m_pos >= m_text.size()) {
                fail("a string without its closing quote");
            }
            const char e = m_text[m_pos++];
            switch (e) {
            case '"':
            case '\\':
            case '/':
                out += e;
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u':
                unicode_escape(out);
                break;
            default:
                m_pos -= 2;
                fail(std::string("an unknown escape '\\") + e + "'");
            }
        }
    }

    double number() {
        skip_space();
        const std::size_t start = m_pos;
        const auto digits = [this] {
            const std::size_t from = m_pos;
            while (m_pos < m_text.size() && m_text[m_pos] >= '0' && m_text[m_pos] <= '9') {
                ++m_pos;
            }
            return m_pos - from;
        };
        accept('-');
        if (m_pos < m_text.size() && m_text[m_pos] == '0') {
            ++m_pos;
        } else if (digits() == 0) {
            m_pos = start;
            fail("expected a number" + found());
        }
        if (m_pos < m_text.size() && m_text[m_pos] == '.') {
            ++m_pos;
            if (digits() == 0) {
                fail("expected a digit after '.'");
            }
        }
        if (m_pos < m_text.size() && (m_text[m_pos] == 'e' || m_text[m_pos] == 'E')) {
            ++m_pos;
            if (m_pos < m_text.size() && (m_text[m_pos] == '+' || m_text[m_pos] == '-')) {
                ++m_pos;
            }
            if (digits() == 0) {
                fail("expected a digit in the exponent");
            }
        }
        const std::string token(m_text.substr(start, m_pos - start));
        return std::strtod(token.c_str(), nullptr);
    }

    /// A whole number from `min` to `max`.
    long long integer(long long min, long long max) {
        const std::size_t start = m_pos;
        const double d = number();
        if (d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max)) {
            m_pos = start;
            skip_space();
            fail("expected a whole number from " + std::to_string(min) + " to " +
                 std::to_string(max));
        }
        return static_cast<long long>(d);
    }

    bool boolean() {
        if (literal("true")) {
            return true;
        }
        if (literal("false")) {
            return false;
        }
        fail("expected true or false" + found());
    }

    /// A string, or null (as "").
    std::string string_or_null() {
        if (literal("null")) {
            return {};
        }
        if (peek() != '"') {
            fail("expected a string or null" + found());
        }
        return string();
    }

    /// Any value, not kept (for keys not known). Nesting deeper than 64 is refused.
    void skip_value(int depth = 0) {
        if (depth > 64) {
            fail("values nested too deep");
        }
        const char c = peek();
        if (c == '"') {
            (void)string();
        } else if (c == '{') {
            ++m_pos;
            if (!accept('}')) {
                do {
                    (void)string();
                    expect(':');
                    skip_value(depth + 1);
                } while (accept(','));
                expect('}');
            }
        } else if (c == '[') {
            ++m_pos;
            if (!accept(']')) {
                do {
                    skip_value(depth + 1);
                } while (accept(','));
                expect(']');
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            (void)number();
        } else if (!literal("true") && !literal("false") && !literal("null")) {
            fail("expected a value" + found());
        }
    }

    /// Take `word` if it comes next.
    bool literal(std::string_view word) noexcept {
        skip_space();
        if (m_text.substr(m_pos, word.size()) == word) {
            m_pos += word.size();
            return true;
        }
        return false;
    }

private:
    /// What comes next, for a message: ", not 'x'" or ", not the end of the line".
    [[nodiscard]] std::string found() const {
        if (m_pos >= m_text.size()) {
            return ", not the end of the line";
        }
        return std::string(", not '") + m_text[m_pos] + "'";
    }

    unsigned hex4() {
        if (m_pos + 4 > m_text.size()) {
            fail("a \\u escape needs four hex digits");
        }
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = m_text[m_pos++];
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= static_cast<unsigned>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= static_cast<unsigned>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                v |= static_cast<unsigned>(c - 'A' + 10);
            } else {
                --m_pos;
                fail("a \\u escape needs four hex digits");
            }
        }
        return v;
    }

    /// After "\u": a code point (a surrogate pair as one), a lone U+DC80..U+DCFF as the byte
    /// it stands for, any other lone surrogate as U+FFFD.
    void unicode_escape(std::string& out) {
        const unsigned u = hex4();
        if (u >= 0xD800 && u <= 0xDBFF && m_text.substr(m_pos, 2) == "\\u") {
            const std::size_t save = m_pos;
            m_pos += 2;
            const unsigned low = hex4();
            if (low >= 0xDC00 && low <= 0xDFFF) {
                append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
                return;
            }
            m_pos = save;
        }
        if (u >= 0xDC80 && u <= 0xDCFF) {
            out += static_cast<char>(u - 0xDC00);
        } else if (u >= 0xD800 && u <= 0xDFFF) {
            append_utf8(out, 0xFFFD);
        } else {
            append_utf8(out, u);
        }
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

} // namespace

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7F) {
                    append_u_escape(out, c);
                } else {
                    out += static_cast<char>(c);
                }
            }
            ++i;
            continue;
        }
        if (const std::size_t n = utf8_sequence(s.substr(i)); n > 0) {
            out.append(s, i, n);
            i += n;
        } else {
            append_u_escape(out, 0xDC00U + c); // surrogateescape
            ++i;
        }
    }
    out += '"';
}

std::optional<outcome> outcome_from_name(std::string_view name) noexcept {
    for (const outcome o :
         {outcome::page, outcome::redirect, outcome::http_error, outcome::timeout,
          outcome::connection_error, outcome::tls_error, outcome::protocol_error,
          outcome::redirect_error, outcome::too_large, outcome::other_error, outcome::disallowed}) {
        if (name == outcome_name(o)) {
            return o;
        }
    }
    return std::nullopt;
}

std::string format_record(const fetch_result& r) {
    std::string out;
    out.reserve(256 + r.url.size() * 2 + r.links_to.size() * (r.url.size() + 4));
    out += "{\"url\":";
    append_json_string(out, r.url);
    out += ",\"status\":";
    out += std::to_string(r.status);
    out += ",\"content_type\":";
    append_optional_string(out, r.content_type);
    out += ",\"bytes\":";
    out += std::to_string(r.bytes);
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%.3f",
                  std::chrono::duration<double, std::milli>(r.elapsed).count());
    out += ",\"elapsed_ms\":";
    out += elapsed;
    out += ",\"links\":";
    out += std::to_string(r.links_out);
    out += ",\"error\":";
    append_optional_string(out, r.error);
    out += ",\"outcome\":";
    append_json_string(out, outcome_name(r.kind));
    out += ",\"referrer\":";
    append_optional_string(out, r.referrer);
    out += ",\"location\":";
    append_optional_string(out, r.location);
    out += ",\"redirects\":";
    out += std::to_string(r.redirects);
    out += ",\"links_to\":[";
    for (std::size_t i = 0; i < r.links_to.size(); ++i) {
        if (i > 0) {
            out += ',';
        }
        append_json_string(out, r.links_to[i]);
    }
    out += "],\"noindex\":";
    out += r.noindex ? "true" : "false";
    out += ",\"nofollow\":";
    out += r.nofollow ? "true" : "false";
    out += ",\"truncated\":";
    out += r.truncated ? "true" : "false";
    out += ",\"tls_reason\":";
    append_optional_string(out, r.tls_reason);
    out += '}';
    return out;
}

fetch_result parse_record(std::string_view line) {
    json_reader in(line);
    fetch_result r;
    bool has_url = false;
    bool has_outcome = false;
    in.expect('{');
    if (!in.accept('}')) {
        do {
            const std::string key = in.string();
            in.expect(':');
            if (key == "url") {
                r.url = in.string();
                has_url = true;
            } else if (key == "outcome") {
                const std::size_t at = in.position();
                const std::string name = in.string();
                const std::optional<outcome> o = outcome_from_name(name);
                if (!o) {
                    in.fail_at(at, "an unknown outcome '" + name + "'");
                }
                r.kind = *o;
                has_outcome = true;
            } else if (key == "status") {
                r.status = static_cast<int>(in.integer(0, 999));
            } else if (key == "content_type") {
                r.content_type = in.string_or_null();
            } else if (key == "bytes") {
                r.bytes = static_cast<std::size_t>(
                    in.integer(0, std::numeric_limits<long long>::max() / 2));
            } else if (key == "elapsed_ms") {
                const double ms = in.number();
                r.elapsed = std::chrono::duration_cast<corio::clock::duration>(
                    std::chrono::duration<double, std::milli>(std::isfinite(ms) ? ms : 0.0));
            } else if (key == "links") {
                r.links_out =
                    static_cast<std::size_t>(in.integer(0, std::numeric_limits<int>::max()));
            } else if (key == "error") {
                r.error = in.string_or_null();
            } else if (key == "referrer") {
                r.referrer = in.string_or_null();
            } else if (key == "location") {
                r.location = in.string_or_null();
            } else if (key == "redirects") {
                r.redirects = static_cast<int>(in.integer(0, 1000000));
            } else if (key == "links_to") {
                in.expect('[');
                if (!in.accept(']')) {
                    do {
                        r.links_to.push_back(in.string());
                    } while (in.accept(','));
                    in.expect(']');
                }
            } else if (key == "noindex") {
                r.noindex = in.boolean();
            } else if (key == "nofollow") {
                r.nofollow = in.boolean();
            } else if (key == "truncated") {
                r.truncated = in.boolean();
            } else if (key == "tls_reason") {
                r.tls_reason = in.string_or_null();
            } else {
                in.skip_value();
            }
        } while (in.accept(','));
        in.expect('}');
    }
    if (!in.at_end()) {
        in.fail("more after the end of the record");
    }
    if (!has_url) {
        throw std::invalid_argument("no \"url\"");
    }
    if (!has_outcome) {
        throw std::invalid_argument("no \"outcome\"");
    }
    return r;
}

records_read read_records(const std::string& path,
                          const std::function<void(fetch_result&&)>& each) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        throw std::system_error(errno, std::generic_category(), path);
    }
    struct closer {
        std::FILE* f;
        ~closer() { std::fclose(f); }
    } close_it{f};

    records_read out;
    char* buffer = nullptr;
    std::size_t capacity = 0;
    struct freer {
        char*& p;
        ~freer() { std::free(p); }
    } free_it{buffer};
    std::uint64_t offset = 0;
    std::size_t number = 0;
    while (true) {
        errno = 0;
        const ssize_t got = ::getline(&buffer, &capacity, f);
        if (got < 0) {
            if (std::ferror(f) != 0) {
                throw std::system_error(errno, std::generic_category(), "reading " + path);
            }
            break;
        }
        const std::string_view line(buffer, static_cast<std::size_t>(got));
        const bool newline = line.back() == '\n';
        ++number;
        const std::uint64_t line_bytes = line.size();
        std::string_view text(line);
        if (newline) {
            text.remove_suffix(1);
        }
        if (text.find_first_not_of(" \t\r") == std::string_view::npos) {
            offset += line_bytes;
            out.good_bytes = offset;
            continue;
        }
        std::optional<fetch_result> r;
        try {
            r = parse_record(text);
        } catch (const std::invalid_argument& e) {
            if (!newline) {
                out.warning = path + ":" + std::to_string(number) +
                              ": ignoring the last line, cut short (" + std::to_string(line_bytes) +
                              " bytes): " + e.what();
                break;
            }
            throw std::runtime_error(path + ":" + std::to_string(number) +
                                     ": not a crawl record: " + e.what());
        }
        ++out.records;
        offset += line_bytes;
        out.good_bytes = offset;
        out.needs_newline = !newline;
        each(std::move(*r));
    }
    return out;
}

record_writer::record_writer(const std::string& path, const records_read* resumed) : m_path(path) {
    if (resumed != nullptr) {
        // Cut off a last line cut short, so that the next record starts a line of its own.
        if (::truncate(path.c_str(), static_cast<off_t>(resumed->good_bytes)) != 0 &&
            errno != ENOENT) {
            throw std::system_error(errno, std::generic_category(), "truncating " + path);
        }
    }
    m_file = std::fopen(path.c_str(), resumed != nullptr ? "ab" : "wb");
    if (m_file == nullptr) {
        throw std::system_error(errno, std::generic_category(), path);
    }
    if (resumed != nullptr && resumed->needs_newline) {
        if (std::fputc('\n', m_file) == EOF || std::fflush(m_file) != 0) {
            const int error = errno;
            std::fclose(m_file);
            throw std::system_error(error, std::generic_category(), "writing " + path);
        }
    }
}

record_writer::~record_writer() {
    if (m_file != nullptr) {
        std::fclose(m_file);
    }
}

void record_writer::write(const fetch_result& r) {
    m_line = format_record(r);
    m_line += '\n';
    if (std::fwrite(m_line.data(), 1, m_line.size(), m_file) != m_line.size() ||
        std::fflush(m_file) != 0) {
        throw std::system_error(errno, std::generic_category(), "writing " + m_path);
    }
}

} // namespace corio_crawl
