#pragma once
/// \file
/// HTTP content codings (RFC 9110 §8.4): gzip, deflate and br bodies decoded and encoded
/// incrementally over zlib and libbrotli, and the fields that name them (Content-Encoding,
/// Accept-Encoding). Free of I/O like the parsers: bytes in, bytes out.
///
/// A client that sent `Accept-Encoding: accept_encoding_value()` decodes the response:
/// ```cpp
/// namespace http = corio::http;
/// if (auto field = r.headers.get("Content-Encoding")) {
///     // throws http::protocol_error for an unknown coding, corrupt data, or a body that
///     // decodes to more than 64 MiB
///     r.body = http::decode(http::parse_content_encoding(*field), r.body, 64 << 20);
///     r.headers.erase("Content-Encoding");
/// }
/// ```
/// A server compresses a streamed response (server-sent events) as the request allows:
/// ```cpp
/// http::content_coding c = http::choose_coding(req.headers.get("Accept-Encoding"));
/// if (c != http::content_coding::identity)
///     res.headers.set("Content-Encoding", std::string(http::coding_name(c)));
/// res.headers.add("Vary", "Accept-Encoding");
/// http::encoder enc(c);
/// std::string out;
/// enc.feed(event, out);
/// enc.flush(out);   // send `out`: the client can decode the event now
/// // ... more events ...
/// enc.finish(out);  // the end of the coded stream
/// ```
///
/// Decoding is bounded: a `decoder` produces its output in steps of at most 32 KiB and
/// counts it against the `max_output` it was given, so a decompression bomb (a megabyte
/// of gzip that inflates to a gigabyte) is refused after `max_output` bytes, never
/// materialised. Its own memory is some 75 KiB (zlib's state and 32 KiB window, a 32 KiB
/// buffer), and for br the window the stream declares (at most 16 MiB, RFC 7932 §9.1;
/// large windows are refused).
///
/// Every failure of a body is an `http::protocol_error` whose message names the coding
/// and whose `status()` is what a server decoding a request body answers: 415 for a
/// Content-Encoding that names an unknown coding ("http: unsupported content coding
/// \"compress\""), 413 for a body that decodes to more than the limit ("http: the gzip
/// body decodes to more than 16777216 bytes"), 400 for corrupt data with zlib's or
/// libbrotli's reason ("http: corrupt gzip body: invalid distance too far back"), for a
/// stream cut short ("http: the gzip body ends early") and for data after the end of the
/// stream ("http: data after the end of the br body").

#include "corio/http/message.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corio::http {

/// A content coding (RFC 9110 §8.4.1): how a body was transformed.
enum class content_coding : std::uint8_t {
    identity, ///< No transformation: the bytes as they are.
    gzip,     ///< The gzip format (RFC 1952); "x-gzip" is the same coding.
    deflate,  ///< The zlib format (RFC 1950) around deflate data (RFC 1951).
    br,       ///< Brotli (RFC 7932).
};

/// The most codings a Content-Encoding field may stack ("gzip, gzip, ..."): more is
/// refused, so a message cannot make the decoder chain arbitrarily long (curl allows 5).
inline constexpr std::size_t max_content_codings = 5;

/// The coding's name as HTTP spells it: "identity", "gzip", "deflate" or "br"; an empty
/// view for a value outside the enumeration.
[[nodiscard]] std::string_view coding_name(content_coding c) noexcept;

/// The coding a name denotes, ASCII case ignored: "gzip" (and "x-gzip", RFC 9110
/// §8.4.1.3), "deflate", "br", "identity". nullopt for any other name ("compress",
/// "zstd", "*").
[[nodiscard]] std::optional<content_coding> parse_coding(std::string_view name) noexcept;

/// The codings of a Content-Encoding field value, in the order they were applied (so a
/// body is decoded from the last to the first): "deflate, gzip" is deflate then gzip.
/// Names are matched as `parse_coding` does, surrounding whitespace and empty list
/// elements are skipped, and "identity" entries are dropped (an empty vector: the body is
/// not coded). For several Content-Encoding fields, join their values with ", ".
/// \throws protocol_error (415) for a name that is no coding corio decodes
///         ("http: unsupported content coding \"compress\"") and for more than
///         `max_content_codings` codings.
[[nodiscard]] std::vector<content_coding> parse_content_encoding(std::string_view value);

/// The Accept-Encoding value a client sends to get any coding corio decodes:
/// "gzip, deflate, br".
[[nodiscard]] std::string_view accept_encoding_value() noexcept;

/// How acceptable the coding is to a client that sent `accept_encoding` (an
/// Accept-Encoding field value), as RFC 9110 §12.5.3 defines it, in thousandths: the
/// q-value of the coding's own entry, else of a "*" entry, else 0 ("gzip;q=0.5": gzip
/// 500, br 0). identity is the exception: neither listed nor covered by "*", it is
/// acceptable but least preferred, 1; so 0 for identity means "identity;q=0" or "*;q=0"
/// refused it, and a server may then answer 415 instead of sending an uncoded body.
/// Names match as `parse_coding`; when a coding is listed twice its first entry counts.
/// An entry with a malformed weight (anything but "q=" followed by a qvalue: "q=2",
/// "q=0.5x", "q=0.1234", "q = 1") or a name that is not a token is ignored, as if it were
/// not there: a malformed field never makes a coding acceptable that the client did not
/// clearly accept, nor identity unacceptable. Parameters other than q are ignored.
[[nodiscard]] int coding_quality(std::string_view accept_encoding, content_coding c) noexcept;

/// The coding a server should apply to a response, given the request's Accept-Encoding
/// field value (nullopt when the request had none): the coding with the highest
/// `coding_quality`, br before gzip before deflate among equal ones, any of them before
/// identity. identity when no coding should be applied: when the field is absent (RFC
/// 9110 allows any coding then, but a client that does not ask may not decode; nginx and
/// Go's handlers send nothing coded either), empty, names no coding with a non-zero
/// q-value, or even refuses identity (then nothing is acceptable; see `coding_quality`).
/// Examples: "gzip;q=1.0, identity; q=0.5, *;q=0" → gzip; "*" → br; "br;q=0" →
/// identity; "deflate, gzip;q=0.9" → deflate; "GZIP" → gzip.
[[nodiscard]] content_coding
choose_coding(std::optional<std::string_view> accept_encoding) noexcept;

/// As `choose_coding(accept_encoding)`, choosing among the codings the server `offers`
/// instead of all three, in the server's order of preference (the first wins among equal
/// q-values): `choose_coding(field, offers)` with offers {gzip} compresses only with gzip.
/// identity in `offers` is ignored (it is always the fallback).
[[nodiscard]] content_coding choose_coding(std::optional<std::string_view> accept_encoding,
                                           std::span<const content_coding> offers) noexcept;

/// Decodes one coded body incrementally: bytes of the coded stream in, the body out.
///
/// "deflate" is decoded as the zlib format it should be and, when the first two bytes are
/// not a zlib header, as raw deflate data (RFC 1951), which some servers send instead (as
/// curl and browsers accept). A gzip body may hold several members, one after another
/// (as `cat a.gz b.gz` makes): all are decoded; zero bytes between or after them are
/// skipped (as GNU gzip and Python's gzip module do), and anything else after a member is
/// refused. After the end of a deflate or br stream no data may follow. identity passes
/// the bytes through, with the limit still enforced. An empty body (no byte at all) is
/// accepted in every coding and decodes to nothing, as browsers and curl accept it.
///
/// After a protocol_error the decoder is unusable until `reset()`: `feed` and `finish`
/// throw invalid_state_error; `out` keeps what was decoded before the error.
class decoder {
public:
    /// A decoder for `c` that produces at most `max_output` bytes in all.
    /// \throws std::invalid_argument for a `c` outside the enumeration;
    ///         std::bad_alloc when zlib or libbrotli cannot allocate its state.
    decoder(content_coding c, std::size_t max_output);
    decoder(decoder&& other) noexcept;
    decoder& operator=(decoder&& other) noexcept;
    decoder(const decoder&) = delete;
    decoder& operator=(const decoder&) = delete;
    /// Frees zlib's or libbrotli's state.
    ~decoder();

    /// Decode `in`, the next bytes of the coded stream, appending what they decode to to
    /// `out`; input that does not complete a unit of the format is kept until more comes.
    /// \throws protocol_error: 413 when the output would pass `max_output` (at most
    ///         `max_output` bytes are appended in all), 400 for corrupt data (zlib's or
    ///         libbrotli's reason in the message) or data after the end of the stream;
    ///         invalid_state_error after `finish()`, after an error, or when moved from.
    void feed(std::string_view in, std::string& out);

    /// As `feed`, but appending at most `max_produce` bytes to `out`: for a reader that takes
    /// a body in pieces of bounded size, whatever the coded input decodes to. Returns how
    /// many bytes from the front of `in` were used; the rest must be given again. The
    /// decoder may hold decoded bytes back even when all of `in` was used, so call again
    /// (with the rest of `in`, or an empty view) as long as a call appends `max_produce`
    /// bytes; `finish` appends whatever is still held. 0 for a `max_produce` of 0.
    /// ```cpp
    /// std::size_t used = 0;
    /// std::string piece;
    /// do {
    ///     piece.clear();
    ///     used += d.feed_some(in.substr(used), piece, 64 * 1024);
    ///     deliver(piece);
    /// } while (used < in.size() || piece.size() == 64 * 1024);
    /// ```
    /// \throws as `feed`.
    [[nodiscard]] std::size_t feed_some(std::string_view in, std::string& out,
                                        std::size_t max_produce);

    /// The coded stream ended: appends what the decoder still held back (only ever after
    /// `feed_some`; after `feed`, nothing) and checks that the stream was complete.
    /// \throws protocol_error (400) when the stream was cut short ("http: the gzip body ends
    ///         early"), or as `feed` for what was held back; invalid_state_error after
    ///         `finish()`, after an error, or when moved from.
    void finish(std::string& out);

    /// Make the decoder ready for another body of the same coding and limit, keeping its
    /// allocations (a connection decoding one request body after another).
    void reset();

    /// The coding this decoder decodes.
    [[nodiscard]] content_coding coding() const noexcept;
    /// The bytes produced so far (by every `feed` since construction or `reset()`).
    [[nodiscard]] std::size_t produced() const noexcept;
    /// Whether the end of the coded stream has been seen: `finish()` will succeed. For gzip,
    /// false again while a further member is being decoded; always false for identity,
    /// whose end only the message's framing knows.
    [[nodiscard]] bool done() const noexcept;

private:
    struct state;
    std::unique_ptr<state> m_state;
};

/// Encodes one body incrementally: the body in, the coded stream out.
///
/// Levels: gzip and deflate take zlib's 0 (stored, no compression) to 9 (smallest, slowest),
/// -1 meaning zlib's default, 6. br takes brotli's quality 0 to 11, -1 meaning 5: about
/// gzip's default speed with smaller output (brotli's own default, 11, is some 50 times
/// slower, meant for compressing static files ahead of time). identity ignores the level.
/// gzip is written without a file name or time stamp (mtime 0), deflate in the zlib format
/// (RFC 1950), br with a 4 MiB window (lgwin 22), which every decoder accepts.
class encoder {
public:
    /// An encoder for `c` at `level`.
    /// \throws std::invalid_argument for a `c` outside the enumeration or a level outside
    ///         the coding's range ("http: gzip level 12 is out of range: -1, or 0 to 9");
    ///         std::bad_alloc when zlib or libbrotli cannot allocate its state.
    explicit encoder(content_coding c, int level = -1);
    encoder(encoder&& other) noexcept;
    encoder& operator=(encoder&& other) noexcept;
    encoder(const encoder&) = delete;
    encoder& operator=(const encoder&) = delete;
    /// Frees zlib's or libbrotli's state.
    ~encoder();

    /// Encode `in`, appending coded bytes to `out`. The coder may keep some input to code
    /// with what follows, so `out` may get nothing yet.
    /// \throws invalid_state_error after `finish()` or when moved from.
    void feed(std::string_view in, std::string& out);

    /// Append everything fed so far in coded form, so that the peer can decode all of it
    /// now, and keep the stream open (zlib's Z_SYNC_FLUSH, BROTLI_OPERATION_FLUSH): for a
    /// streamed response whose parts must not wait for the next ones (server-sent events).
    /// Each flush costs a few bytes and some compression.
    /// \throws invalid_state_error after `finish()` or when moved from.
    void flush(std::string& out);

    /// Append the rest of the coded stream and its end (gzip's trailer, zlib's checksum,
    /// brotli's last meta-block). Afterwards only `reset()` makes the encoder usable again.
    /// \throws invalid_state_error after `finish()` or when moved from.
    void finish(std::string& out);

    /// Make the encoder ready for another body, same coding and level, keeping its
    /// allocations (zlib's deflate state is some 270 KiB: a server reuses one).
    void reset();

    /// The coding this encoder produces.
    [[nodiscard]] content_coding coding() const noexcept;

private:
    struct state;
    std::unique_ptr<state> m_state;
};

/// The body `in`, coded with `c`, decoded whole (`decoder::feed` then `finish`).
/// \throws protocol_error as `decoder` does.
[[nodiscard]] std::string decode(content_coding c, std::string_view in, std::size_t max_output);

/// The body `in`, coded with every coding of `applied` in turn (what
/// `parse_content_encoding` returns), decoded whole: the last coding first. Each step is
/// limited to `max_output` bytes. An empty `applied` returns `in` as it is (still limited
/// to `max_output` bytes, as identity).
/// \throws protocol_error as `decoder` does.
[[nodiscard]] std::string decode(std::span<const content_coding> applied, std::string_view in,
                                 std::size_t max_output);

/// The body `in` coded with `c` at `level` (as `encoder` takes it), whole.
/// \throws std::invalid_argument as `encoder` does.
[[nodiscard]] std::string encode(content_coding c, std::string_view in, int level = -1);

} // namespace corio::http
