// HTTP content codings (RFC 9110 §8.4) over zlib and libbrotli, and the Content-Encoding
// and Accept-Encoding fields (§8.4.1, §12.5.3).
//
// What this relies on, from zlib.h and brotli/{decode,encode}.h:
// - inflate() writes at most avail_out bytes per call and keeps the rest of what the input
//   decodes to for the next call; so each call here gets an output buffer of at most 32
//   KiB (fewer when the limit is near) and a decompression bomb is stopped at its limit,
//   never materialised. It returns Z_BUF_ERROR when it could make no progress (all input
//   used, nothing pending): not an error when streaming.
// - windowBits selects the format, and each coding uses exactly one: 15+16 gzip only, 15
//   the zlib format, -15 raw deflate. 15+32 (zlib or gzip, detected) is never used: it would
//   take a gzip stream for "deflate" and a zlib stream for "gzip".
// - inflate() ends at the end of one gzip member (Z_STREAM_END) and leaves what follows in
//   next_in; a further member is decoded after inflateReset(). inflateReset2() switches an
//   initialised stream to raw deflate when the first two bytes are no zlib header.
// - deflate() with Z_SYNC_FLUSH ends what it wrote on a byte boundary (an empty stored
//   block, 00 00 ff ff), so everything fed so far inflates; repeating it with nothing new
//   returns Z_BUF_ERROR, harmless. zlib's avail_in and avail_out are 32-bit: larger inputs
//   go in pieces.
// - BrotliDecoderDecompressStream() returns NEEDS_MORE_OUTPUT when the output buffer is
//   full, NEEDS_MORE_INPUT with all input used, and SUCCESS at the end of the stream with
//   any input after it left in avail_in. The decoder refuses large windows (> 16 MiB)
//   unless BROTLI_DECODER_PARAM_LARGE_WINDOW is set, which it never is here (RFC 7932
//   streams only).
// - BrotliEncoderCompressStream() has completed PROCESS and FLUSH once avail_in is 0 and
//   BrotliEncoderHasMoreOutput() is false, FINISH once BrotliEncoderIsFinished(). Neither
//   library has a reset for brotli: a new instance is made.

#include "corio/http/coding.hpp"

#include "common.hpp"

#include "corio/errors.hpp"

#define ZLIB_CONST // next_in as a pointer to const
#include <zlib.h>

#include <brotli/decode.h>
#include <brotli/encode.h>

#include <algorithm>
#include <array>
#include <climits>
#include <new>
#include <stdexcept>
#include <utility>

namespace corio::http {

namespace {

using detail::ascii_iequals_lower;
using detail::trim_ows;

/// The most output one call of inflate() or BrotliDecoderDecompressStream() may write,
/// and the size of the buffer the encoders write through.
constexpr std::size_t step = std::size_t{32} * 1024;
/// The most input given to zlib at once (its avail_in is an unsigned int).
constexpr std::size_t max_zlib_input = std::size_t{1} << 30;
/// zlib's windowBits for each format.
constexpr int gzip_window = 15 + 16;
constexpr int zlib_window = 15;
constexpr int raw_window = -15;
/// The brotli quality level -1 stands for.
constexpr int default_brotli_quality = 5;

constexpr bool valid(content_coding c) noexcept {
    return static_cast<std::uint8_t>(c) <= static_cast<std::uint8_t>(content_coding::br);
}

const unsigned char* bytes(std::string_view s) noexcept {
    return reinterpret_cast<const unsigned char*>(s.data());
}

void append(std::string& out, const unsigned char* p, std::size_t n) {
    out.append(reinterpret_cast<const char*>(p), n);
}

std::string name_of(content_coding c) {
    return std::string(coding_name(c));
}

[[noreturn]] void throw_corrupt(content_coding c, std::string_view reason) {
    throw protocol_error(400, "http: corrupt " + name_of(c) + " body: " + std::string(reason));
}

[[noreturn]] void throw_trailing(content_coding c) {
    throw protocol_error(400, "http: data after the end of the " + name_of(c) + " body");
}

[[noreturn]] void throw_too_large(content_coding c, std::size_t max_output) {
    if (c == content_coding::identity) {
        throw protocol_error(413, "http: the body is longer than " + std::to_string(max_output) +
                                      " bytes");
    }
    throw protocol_error(413, "http: the " + name_of(c) + " body decodes to more than " +
                                  std::to_string(max_output) + " bytes");
}

[[noreturn]] void throw_invalid_coding(content_coding c) {
    throw std::invalid_argument(
        "http: " + std::to_string(static_cast<unsigned>(static_cast<std::uint8_t>(c))) +
        " is not a content_coding");
}

/// What libbrotli says of an error: "format error (PADDING_2)", its own name of the code
/// kept for searching; std::bad_alloc for its allocation failures.
std::string brotli_reason(BrotliDecoderErrorCode code) {
    const int value = static_cast<int>(code);
    if (value <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES &&
        value >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES) {
        throw std::bad_alloc();
    }
    const bool format = value <= BROTLI_DECODER_ERROR_FORMAT_EXUBERANT_NIBBLE &&
                        value >= BROTLI_DECODER_ERROR_FORMAT_BLOCK_SWITCH;
    return std::string(format ? "format error (" : "decoder error (") +
           BrotliDecoderErrorString(code) + ")";
}

/// Whether two bytes open a zlib stream (RFC 1950 §2.2): method 8 (deflate), a window of
/// at most 32 KiB, and the check bits making CMF*256 + FLG a multiple of 31.
constexpr bool is_zlib_header(unsigned char cmf, unsigned char flg) noexcept {
    return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
}

/// tchar (RFC 9110 §5.6.2).
constexpr bool is_token_char(char c) noexcept {
    constexpr std::string_view punct = "!#$%&'*+-.^_`|~";
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           punct.find(c) != std::string_view::npos;
}

constexpr bool is_token(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

/// Call `each` with every non-empty element of a comma-separated list, whitespace trimmed
/// (RFC 9110 §5.6.1: empty elements are allowed and mean nothing).
template <class F>
void for_each_element(std::string_view list, F&& each) {
    while (true) {
        const std::size_t comma = list.find(',');
        const std::string_view element = trim_ows(list.substr(0, comma));
        if (!element.empty()) {
            each(element);
        }
        if (comma == std::string_view::npos) {
            return;
        }
        list.remove_prefix(comma + 1);
    }
}

/// A qvalue (RFC 9110 §12.4.2) in thousandths: "0" ["." 0*3DIGIT] or "1" ["." 0*3"0"].
constexpr std::optional<int> parse_qvalue(std::string_view v) noexcept {
    if (v.empty() || (v[0] != '0' && v[0] != '1')) {
        return std::nullopt;
    }
    const int whole = v[0] - '0';
    if (v.size() == 1) {
        return whole * 1000;
    }
    if (v[1] != '.' || v.size() > 5) {
        return std::nullopt;
    }
    int fraction = 0;
    int scale = 100;
    for (const char c : v.substr(2)) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        fraction += (c - '0') * scale;
        scale /= 10;
    }
    if (whole == 1 && fraction != 0) {
        return std::nullopt;
    }
    return whole * 1000 + fraction;
}

/// The weights an Accept-Encoding field value gives: per coding and for "*", in
/// thousandths, -1 where it gives none.
struct accept_weights {
    std::array<int, 4> coding{-1, -1, -1, -1};
    int any = -1;

    [[nodiscard]] int quality(content_coding c) const noexcept {
        if (const int q = coding[static_cast<std::size_t>(c)]; q >= 0) {
            return q;
        }
        if (any >= 0) {
            return any;
        }
        return c == content_coding::identity ? 1 : 0;
    }
};

/// The weight of one Accept-Encoding element's parameters ("q=0.5", "Q=1", none: 1000);
/// nullopt when a q parameter is malformed. Other parameters are ignored.
std::optional<int> element_weight(std::string_view parameters) noexcept {
    int q = 1000;
    while (!parameters.empty()) {
        const std::size_t semicolon = parameters.find(';');
        const std::string_view parameter = trim_ows(parameters.substr(0, semicolon));
        parameters = semicolon == std::string_view::npos ? std::string_view{}
                                                         : parameters.substr(semicolon + 1);
        const std::size_t equals = parameter.find('=');
        const std::string_view name = trim_ows(parameter.substr(0, equals));
        if (!ascii_iequals_lower(name, "q")) {
            continue;
        }
        // No whitespace around '=' (RFC 9110 §5.6.6), and a qvalue after it.
        if (equals != 1) {
            return std::nullopt;
        }
        const std::optional<int> value = parse_qvalue(parameter.substr(2));
        if (!value) {
            return std::nullopt;
        }
        q = *value;
    }
    return q;
}

accept_weights parse_accept_encoding(std::string_view field) noexcept {
    accept_weights w;
    for_each_element(field, [&w](std::string_view element) {
        const std::size_t semicolon = element.find(';');
        const std::string_view name = trim_ows(element.substr(0, semicolon));
        if (!is_token(name)) {
            return;
        }
        const std::optional<int> q =
            element_weight(semicolon == std::string_view::npos ? std::string_view{}
                                                               : element.substr(semicolon + 1));
        if (!q) {
            return;
        }
        if (name == "*") {
            if (w.any < 0) {
                w.any = *q;
            }
        } else if (const std::optional<content_coding> c = parse_coding(name)) {
            int& slot = w.coding[static_cast<std::size_t>(*c)];
            if (slot < 0) {
                slot = *q;
            }
        }
    });
    return w;
}

constexpr std::array<content_coding, 3> default_offers{content_coding::br, content_coding::gzip,
                                                       content_coding::deflate};

} // namespace

// --- Names and fields --------------------------------------------------------------------

std::string_view coding_name(content_coding c) noexcept {
    switch (c) {
    case content_coding::identity:
        return "identity";
    case content_coding::gzip:
        return "gzip";
    case content_coding::deflate:
        return "deflate";
    case content_coding::br:
        return "br";
    }
    return {};
}

std::optional<content_coding> parse_coding(std::string_view name) noexcept {
    if (ascii_iequals_lower(name, "gzip") || ascii_iequals_lower(name, "x-gzip")) {
        return content_coding::gzip;
    }
    if (ascii_iequals_lower(name, "deflate")) {
        return content_coding::deflate;
    }
    if (ascii_iequals_lower(name, "br")) {
        return content_coding::br;
    }
    if (ascii_iequals_lower(name, "identity")) {
        return content_coding::identity;
    }
    return std::nullopt;
}

std::vector<content_coding> parse_content_encoding(std::string_view value) {
    std::vector<content_coding> codings;
    for_each_element(value, [&codings](std::string_view name) {
        const std::optional<content_coding> c = parse_coding(name);
        if (!c) {
            // A name from a field value: printable, but it may be long.
            constexpr std::size_t shown = 64;
            std::string quoted(name.substr(0, shown));
            if (name.size() > shown) {
                quoted += "...";
            }
            throw protocol_error(415, "http: unsupported content coding \"" + quoted + "\"");
        }
        if (*c == content_coding::identity) {
            return;
        }
        if (codings.size() == max_content_codings) {
            throw protocol_error(415, "http: more than " + std::to_string(max_content_codings) +
                                          " content codings in Content-Encoding");
        }
        codings.push_back(*c);
    });
    return codings;
}

std::string_view accept_encoding_value() noexcept {
    return "gzip, deflate, br";
}

int coding_quality(std::string_view accept_encoding, content_coding c) noexcept {
    if (!valid(c)) {
        return 0;
    }
    return parse_accept_encoding(accept_encoding).quality(c);
}

content_coding choose_coding(std::optional<std::string_view> accept_encoding) noexcept {
    return choose_coding(accept_encoding, default_offers);
}

content_coding choose_coding(std::optional<std::string_view> accept_encoding,
                             std::span<const content_coding> offers) noexcept {
    if (!accept_encoding) {
        return content_coding::identity;
    }
    const accept_weights w = parse_accept_encoding(*accept_encoding);
    content_coding best = content_coding::identity;
    int best_q = 0;
    for (const content_coding c : offers) {
        if (c == content_coding::identity || !valid(c)) {
            continue;
        }
        if (const int q = w.quality(c); q > best_q) {
            best = c;
            best_q = q;
        }
    }
    // identity wins only with a higher weight than every coding: on a tie, compress.
    if (w.quality(content_coding::identity) > best_q) {
        return content_coding::identity;
    }
    return best;
}

// --- decoder -----------------------------------------------------------------------------

struct decoder::state {
    enum class phase : std::uint8_t {
        fresh,   // no byte of the stream seen (deflate: maybe its first byte, held)
        running, // inside the coded stream (gzip: inside a member)
        ended,   // its end seen (gzip: of the last member so far)
    };

    content_coding coding;
    std::size_t max_output;
    std::size_t produced = 0;
    std::size_t budget = 0; // what the current call may still append
    phase at = phase::fresh;
    bool failed = false;
    bool finished = false;
    // deflate: the first byte, held until the second tells the zlib format from raw deflate.
    bool have_first = false;
    unsigned char first = 0;
    bool zlib_ready = false;
    z_stream zlib{};
    BrotliDecoderState* brotli = nullptr;
    std::array<unsigned char, step> buffer{};

    state(content_coding c, std::size_t limit) : coding(c), max_output(limit) {
        switch (c) {
        case content_coding::identity:
            break;
        case content_coding::gzip:
        case content_coding::deflate:
            if (inflateInit2(&zlib, c == content_coding::gzip ? gzip_window : zlib_window) !=
                Z_OK) {
                throw std::bad_alloc();
            }
            zlib_ready = true;
            break;
        case content_coding::br:
            brotli = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
            if (brotli == nullptr) {
                throw std::bad_alloc();
            }
            break;
        }
    }

    state(const state&) = delete;
    state& operator=(const state&) = delete;

    ~state() {
        if (zlib_ready) {
            inflateEnd(&zlib);
        }
        if (brotli != nullptr) {
            BrotliDecoderDestroyInstance(brotli);
        }
    }

    /// How much the next call of the library may write: a step, or one byte more than the
    /// limit allows (so that passing it is seen), and no more than this call's budget.
    [[nodiscard]] std::size_t room() const noexcept {
        const std::size_t left = max_output - produced;
        return std::min(left >= step ? step : left + 1, budget);
    }

    /// Count `n` bytes the last call wrote to `buffer` and append them to `out`, at most
    /// up to the limit. \throws protocol_error (413) past the limit.
    void emit(std::size_t n, std::string& out) {
        if (n > max_output - produced) {
            append(out, buffer.data(), max_output - produced);
            produced = max_output;
            throw_too_large(coding, max_output);
        }
        append(out, buffer.data(), n);
        produced += n;
        budget -= n;
    }

    /// Inflate `n` bytes of `in` (none: only what inflate still holds), appending the
    /// output. Returns how many bytes of `in` were used: all, unless the stream (gzip: the
    /// member) ended before them or the budget ran out.
    std::size_t inflate_some(const unsigned char* in, std::size_t n, std::string& out) {
        zlib.next_in = in;
        zlib.avail_in = static_cast<uInt>(n);
        while (budget > 0) {
            const std::size_t space = room();
            zlib.next_out = buffer.data();
            zlib.avail_out = static_cast<uInt>(space);
            const int rc = inflate(&zlib, Z_NO_FLUSH);
            emit(space - zlib.avail_out, out);
            switch (rc) {
            case Z_STREAM_END:
                at = phase::ended;
                return n - zlib.avail_in;
            case Z_OK:
                break;
            case Z_BUF_ERROR: // no progress possible: every byte used, nothing held
                return n;
            case Z_NEED_DICT:
                throw_corrupt(coding, "a preset dictionary is needed");
            case Z_MEM_ERROR:
                throw std::bad_alloc();
            default: // Z_DATA_ERROR, with zlib's reason
                throw_corrupt(coding, zlib.msg != nullptr ? zlib.msg : "invalid data");
            }
            if (zlib.avail_in == 0 && zlib.avail_out != 0) {
                return n; // everything used, and nothing held back
            }
        }
        return n - zlib.avail_in;
    }

    std::size_t feed_identity(std::string_view in, std::string& out) {
        in = in.substr(0, budget);
        if (in.size() > max_output - produced) {
            out.append(in.substr(0, max_output - produced));
            produced = max_output;
            throw_too_large(coding, max_output);
        }
        out.append(in);
        produced += in.size();
        budget -= in.size();
        return in.size();
    }

    std::size_t feed_gzip(const unsigned char* p, std::size_t n, std::string& out) {
        std::size_t used = 0;
        if (n == 0 && at == phase::running) {
            inflate_some(p, 0, out); // what inflate still holds
        }
        while (used < n && budget > 0) {
            if (at == phase::ended) {
                // Zero padding after a member is skipped; anything else must open another.
                while (used < n && p[used] == 0) {
                    ++used;
                }
                if (used == n) {
                    break;
                }
                if (p[used] != 0x1f) {
                    throw_trailing(coding);
                }
                inflateReset(&zlib);
            }
            at = phase::running;
            used += inflate_some(p + used, std::min(n - used, max_zlib_input), out);
        }
        return used;
    }

    std::size_t feed_deflate(const unsigned char* p, std::size_t n, std::string& out) {
        std::size_t used = 0;
        if (at == phase::fresh && n > 0) {
            if (!have_first) {
                first = p[used++];
                have_first = true;
            }
            if (used == n) {
                return used;
            }
            if (!is_zlib_header(first, p[used])) {
                inflateReset2(&zlib, raw_window);
            }
            at = phase::running;
            inflate_some(&first, 1, out); // a header byte or part of a block: no output yet
        }
        if (n == 0 && at == phase::running) {
            inflate_some(p, 0, out); // what inflate still holds
        }
        while (used < n && budget > 0) {
            if (at == phase::ended) {
                throw_trailing(coding);
            }
            const std::size_t piece = std::min(n - used, max_zlib_input);
            const std::size_t taken = inflate_some(p + used, piece, out);
            used += taken;
            if (at == phase::ended && used < n) {
                throw_trailing(coding);
            }
        }
        return used;
    }

    std::size_t feed_brotli(const unsigned char* p, std::size_t n, std::string& out) {
        if (at == phase::ended) {
            if (n > 0) {
                throw_trailing(coding);
            }
            return 0;
        }
        if (n == 0 && at == phase::fresh) {
            return 0;
        }
        at = phase::running;
        std::size_t available = n;
        while (budget > 0) {
            const std::size_t space = room();
            std::size_t space_left = space;
            unsigned char* next_out = buffer.data();
            const BrotliDecoderResult r = BrotliDecoderDecompressStream(
                brotli, &available, &p, &space_left, &next_out, nullptr);
            emit(space - space_left, out);
            switch (r) {
            case BROTLI_DECODER_RESULT_ERROR:
                throw_corrupt(coding, brotli_reason(BrotliDecoderGetErrorCode(brotli)));
            case BROTLI_DECODER_RESULT_SUCCESS:
                at = phase::ended;
                if (available != 0) {
                    throw_trailing(coding);
                }
                return n;
            case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
                return n;
            case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
                break;
            }
        }
        return n - available;
    }

    /// Decode from the front of `in`, appending at most `limit` bytes; returns the bytes
    /// of `in` used. An empty `in` appends what the library still holds.
    std::size_t feed(std::string_view in, std::string& out, std::size_t limit) {
        budget = limit;
        // zlib and libbrotli read nothing through a pointer to no input, but want one.
        static constexpr unsigned char none = 0;
        const unsigned char* p = in.empty() ? &none : bytes(in);
        switch (coding) {
        case content_coding::identity:
            return feed_identity(in, out);
        case content_coding::gzip:
            return feed_gzip(p, in.size(), out);
        case content_coding::deflate:
            return feed_deflate(p, in.size(), out);
        case content_coding::br:
            return feed_brotli(p, in.size(), out);
        }
        return 0;
    }

    void finish(std::string& out) {
        if (at == phase::running) {
            feed({}, out, static_cast<std::size_t>(-1)); // what the library still holds
        }
        const bool cut_short = at == phase::running || (at == phase::fresh && have_first);
        if (cut_short && coding != content_coding::identity) {
            throw protocol_error(400, "http: the " + name_of(coding) + " body ends early");
        }
    }

    void reset() {
        produced = 0;
        at = phase::fresh;
        failed = false;
        finished = false;
        have_first = false;
        first = 0;
        if (zlib_ready) {
            inflateReset2(&zlib, coding == content_coding::gzip ? gzip_window : zlib_window);
        }
        if (brotli != nullptr) {
            BrotliDecoderState* fresh = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
            if (fresh == nullptr) {
                throw std::bad_alloc();
            }
            BrotliDecoderDestroyInstance(brotli);
            brotli = fresh;
        }
    }
};

decoder::decoder(content_coding c, std::size_t max_output) {
    if (!valid(c)) {
        throw_invalid_coding(c);
    }
    m_state = std::make_unique<state>(c, max_output);
}

decoder::decoder(decoder&& other) noexcept = default;
decoder& decoder::operator=(decoder&& other) noexcept = default;
decoder::~decoder() = default;

namespace {

template <class State>
State& usable(const std::unique_ptr<State>& s, const char* type) {
    if (!s) {
        throw invalid_state_error(std::string("http::") + type + ": used after being moved from");
    }
    if (s->finished) {
        throw invalid_state_error(std::string("http::") + type + ": used after finish()");
    }
    return *s;
}

/// The decoder's state, if it may be used: not moved from, finished or failed.
template <class State>
State& usable_decoder(const std::unique_ptr<State>& s) {
    State& state = usable(s, "decoder");
    if (state.failed) {
        throw invalid_state_error("http::decoder: used after an error (reset() it first)");
    }
    return state;
}

} // namespace

std::size_t decoder::feed_some(std::string_view in, std::string& out, std::size_t max_produce) {
    state& s = usable_decoder(m_state);
    if (max_produce == 0) {
        return 0;
    }
    try {
        return s.feed(in, out, max_produce);
    } catch (...) {
        s.failed = true;
        throw;
    }
}

void decoder::feed(std::string_view in, std::string& out) {
    state& s = usable_decoder(m_state);
    try {
        // With no budget to run out, all of `in` is used (or an error thrown).
        s.feed(in, out, static_cast<std::size_t>(-1));
    } catch (...) {
        s.failed = true;
        throw;
    }
}

void decoder::finish(std::string& out) {
    state& s = usable_decoder(m_state);
    try {
        s.finish(out);
    } catch (...) {
        s.failed = true;
        throw;
    }
    s.finished = true;
}

void decoder::reset() {
    if (!m_state) {
        throw invalid_state_error("http::decoder: used after being moved from");
    }
    m_state->reset();
}

content_coding decoder::coding() const noexcept {
    return m_state ? m_state->coding : content_coding::identity;
}

std::size_t decoder::produced() const noexcept {
    return m_state ? m_state->produced : 0;
}

bool decoder::done() const noexcept {
    return m_state && m_state->at == state::phase::ended;
}

// --- encoder -----------------------------------------------------------------------------

struct encoder::state {
    content_coding coding;
    int level;
    bool finished = false;
    bool zlib_ready = false;
    z_stream zlib{};
    BrotliEncoderState* brotli = nullptr;
    std::array<unsigned char, step> buffer{};

    state(content_coding c, int lvl) : coding(c), level(lvl) {
        switch (c) {
        case content_coding::identity:
            break;
        case content_coding::gzip:
        case content_coding::deflate: {
            const int window = c == content_coding::gzip ? gzip_window : zlib_window;
            if (deflateInit2(&zlib, level, Z_DEFLATED, window, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
                throw std::bad_alloc();
            }
            zlib_ready = true;
            break;
        }
        case content_coding::br:
            brotli = make_brotli();
            break;
        }
    }

    state(const state&) = delete;
    state& operator=(const state&) = delete;

    ~state() {
        if (zlib_ready) {
            deflateEnd(&zlib);
        }
        if (brotli != nullptr) {
            BrotliEncoderDestroyInstance(brotli);
        }
    }

    [[nodiscard]] BrotliEncoderState* make_brotli() const {
        BrotliEncoderState* s = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
        if (s == nullptr) {
            throw std::bad_alloc();
        }
        BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY, static_cast<std::uint32_t>(level));
        BrotliEncoderSetParameter(s, BROTLI_PARAM_LGWIN, BROTLI_DEFAULT_WINDOW);
        return s;
    }

    /// Deflate `n` bytes of `p` with `flush` (Z_NO_FLUSH, Z_SYNC_FLUSH, Z_FINISH) applied
    /// after the last of them, appending the output.
    void deflate_run(const unsigned char* p, std::size_t n, int flush, std::string& out) {
        do {
            const std::size_t piece = std::min(n, max_zlib_input);
            zlib.next_in = p;
            zlib.avail_in = static_cast<uInt>(piece);
            p += piece;
            n -= piece;
            const int mode = n > 0 ? Z_NO_FLUSH : flush;
            while (true) {
                zlib.next_out = buffer.data();
                zlib.avail_out = static_cast<uInt>(buffer.size());
                const int rc = deflate(&zlib, mode);
                append(out, buffer.data(), buffer.size() - zlib.avail_out);
                if (rc == Z_STREAM_END || rc == Z_BUF_ERROR) {
                    break; // finished; or nothing to do (a repeated flush)
                }
                if (rc != Z_OK) {
                    throw std::bad_alloc(); // deflate fails only for want of memory
                }
                if (zlib.avail_out != 0 && mode != Z_FINISH) {
                    break; // all input taken, and everything the flush asked for written
                }
            }
        } while (n > 0);
    }

    void brotli_run(const unsigned char* p, std::size_t n, BrotliEncoderOperation op,
                    std::string& out) {
        std::size_t available = n;
        while (true) {
            std::size_t space_left = buffer.size();
            unsigned char* next_out = buffer.data();
            if (BrotliEncoderCompressStream(brotli, op, &available, &p, &space_left, &next_out,
                                            nullptr) == BROTLI_FALSE) {
                throw std::bad_alloc(); // it fails only for want of memory
            }
            append(out, buffer.data(), buffer.size() - space_left);
            if (op == BROTLI_OPERATION_FINISH
                    ? BrotliEncoderIsFinished(brotli) == BROTLI_TRUE
                    : available == 0 && BrotliEncoderHasMoreOutput(brotli) == BROTLI_FALSE) {
                return;
            }
        }
    }

    void run(std::string_view in, int zlib_flush, BrotliEncoderOperation op, std::string& out) {
        switch (coding) {
        case content_coding::identity:
            out.append(in);
            break;
        case content_coding::gzip:
        case content_coding::deflate:
            deflate_run(bytes(in), in.size(), zlib_flush, out);
            break;
        case content_coding::br:
            brotli_run(bytes(in), in.size(), op, out);
            break;
        }
    }

    void reset() {
        finished = false;
        if (zlib_ready) {
            deflateReset(&zlib);
        }
        if (brotli != nullptr) {
            BrotliEncoderState* fresh = make_brotli();
            BrotliEncoderDestroyInstance(brotli);
            brotli = fresh;
        }
    }
};

encoder::encoder(content_coding c, int level) {
    if (!valid(c)) {
        throw_invalid_coding(c);
    }
    int max_level = 9;
    switch (c) {
    case content_coding::identity:
        level = 0;
        break;
    case content_coding::gzip:
    case content_coding::deflate:
        break;
    case content_coding::br:
        max_level = BROTLI_MAX_QUALITY;
        if (level == -1) {
            level = default_brotli_quality;
        }
        break;
    }
    if (level < -1 || level > max_level) {
        throw std::invalid_argument("http: " + name_of(c) + " level " + std::to_string(level) +
                                    " is out of range: -1, or 0 to " + std::to_string(max_level));
    }
    m_state = std::make_unique<state>(c, level);
}

encoder::encoder(encoder&& other) noexcept = default;
encoder& encoder::operator=(encoder&& other) noexcept = default;
encoder::~encoder() = default;

void encoder::feed(std::string_view in, std::string& out) {
    state& s = usable(m_state, "encoder");
    if (!in.empty()) {
        s.run(in, Z_NO_FLUSH, BROTLI_OPERATION_PROCESS, out);
    }
}

void encoder::flush(std::string& out) {
    usable(m_state, "encoder").run({}, Z_SYNC_FLUSH, BROTLI_OPERATION_FLUSH, out);
}

void encoder::finish(std::string& out) {
    state& s = usable(m_state, "encoder");
    s.run({}, Z_FINISH, BROTLI_OPERATION_FINISH, out);
    s.finished = true;
}

void encoder::reset() {
    if (!m_state) {
        throw invalid_state_error("http::encoder: used after being moved from");
    }
    m_state->reset();
}

content_coding encoder::coding() const noexcept {
    return m_state ? m_state->coding : content_coding::identity;
}

// --- One-shot helpers --------------------------------------------------------------------

std::string decode(content_coding c, std::string_view in, std::size_t max_output) {
    decoder d(c, max_output);
    std::string out;
    d.feed(in, out);
    d.finish(out);
    return out;
}

std::string decode(std::span<const content_coding> applied, std::string_view in,
                   std::size_t max_output) {
    if (applied.empty()) {
        return decode(content_coding::identity, in, max_output);
    }
    std::string body = decode(applied.back(), in, max_output);
    for (auto c = applied.rbegin() + 1; c != applied.rend(); ++c) {
        body = decode(*c, body, max_output);
    }
    return body;
}

std::string encode(content_coding c, std::string_view in, int level) {
    encoder e(c, level);
    std::string out;
    e.feed(in, out);
    e.finish(out);
    return out;
}

} // namespace corio::http
