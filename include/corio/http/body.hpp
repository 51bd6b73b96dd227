#pragma once
/// \file
/// Bodies in pieces: `http::body_stream`, which reads a body as it arrives (a request's in
/// a handler of a server with `stream_request_bodies`, a response's from
/// `http::client::open`), and `http::body_source`, which produces one as it is sent (a
/// response's, from an async generator, a stream or a body being read).
///
/// ```cpp
/// // A handler that counts an upload of any size, 64 KiB at a time.
/// corio::task<corio::http::response> count(corio::http::request& req) {
///     std::size_t n = 0;
///     while (auto piece = co_await req.body_stream().next()) {
///         n += piece->size();
///     }
///     co_return corio::http::response{200, std::to_string(n) + " bytes\n"};
/// }
///
/// // A response written as it is produced (chunked: it has no Content-Length).
/// corio::async_generator<std::string> ticks() {
///     for (int i = 0; i < 10; ++i) {
///         co_yield "data: tick " + std::to_string(i) + "\n\n";
///         co_await corio::sleep(std::chrono::seconds(1));
///     }
/// }
/// corio::task<corio::http::response> events(corio::http::request&) {
///     corio::http::response r;
///     r.headers.set("Content-Type", "text/event-stream");
///     r.stream_body(ticks());
///     co_return r;
/// }
/// ```

#include "corio/async_generator.hpp"
#include "corio/net/stream.hpp"
#include "corio/task.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace corio::http {

/// Where the pieces of a body come from. Implement it to send a body of your own making;
/// corio implements it for the bodies it reads from a connection and for
/// `response::stream_body`.
class body_source {
public:
    body_source() = default;
    body_source(const body_source&) = delete;
    body_source& operator=(const body_source&) = delete;
    virtual ~body_source();

    /// The next piece of the body, or nothing at its end (and again if called after it).
    /// Empty pieces are allowed and skipped by readers. Its errors reach whoever reads: a
    /// server that sends the body aborts the connection (the client sees the body cut
    /// short), a handler reading a request's body gets `protocol_error` (with the status
    /// to answer) or the connection's `std::system_error`.
    virtual task<std::optional<std::string>> next() = 0;
};

/// A body read as it arrives, in pieces of at most 64 KiB, with the connection's
/// backpressure: nothing more is read from the peer until the program asks for it. Or a
/// whole body already in memory, given out the same way. Async-iterable
/// (`while (auto piece = co_await b.next())`). One reader at a time.
class body_stream {
public:
    /// An empty body.
    body_stream() = default;
    /// A whole body in memory.
    explicit body_stream(std::string whole);
    /// A body coming from `source`. `read_all()` refuses a body longer than `max_whole`.
    explicit body_stream(std::unique_ptr<body_source> source,
                         std::uint64_t max_whole = default_max_whole);
    body_stream(body_stream&&) noexcept;
    body_stream& operator=(body_stream&&) noexcept;
    body_stream(const body_stream&) = delete;
    body_stream& operator=(const body_stream&) = delete;
    ~body_stream();

    /// The next piece (never empty, at most `max_piece` bytes: a larger piece from the
    /// source, or a body in memory, is given out in parts), or nothing at the end.
    /// \throws what the source throws (protocol_error: the body is malformed or too long,
    /// or the connection closed before its end; std::system_error: the connection failed).
    task<std::optional<std::string>> next();
    /// At most `max` (at least 1) bytes, waiting only if none is buffered: empty at the end.
    task<std::string> read(std::size_t max = 64 * 1024);
    /// The rest of the body, whole. \throws protocol_error (413) if the body is longer
    /// than the limit given at construction (`limits::max_body` of the server or client),
    /// what it read so far being lost.
    task<std::string> read_all();

    /// True once the end of the body has been read.
    [[nodiscard]] bool at_eof() const noexcept { return m_eof && m_offset == m_pending.size(); }
    /// Body bytes given out so far.
    [[nodiscard]] std::uint64_t bytes_read() const noexcept { return m_read; }
    /// Whether the body comes from a source (rather than from memory).
    [[nodiscard]] bool streamed() const noexcept { return m_source != nullptr; }
    /// The source (nullptr for a body in memory).
    [[nodiscard]] body_source* source() const noexcept { return m_source.get(); }

    /// `read_all()`'s default limit: `limits::max_body`'s default, 16 MiB.
    static constexpr std::uint64_t default_max_whole = 16 * 1024 * 1024;
    /// The most `next()` gives at once.
    static constexpr std::size_t max_piece = 64 * 1024;

private:
    /// Up to `max` pending bytes, given out.
    std::string take(std::size_t max);
    /// With nothing pending, take the next piece from the source (none at its end).
    task<> refill();

    std::unique_ptr<body_source> m_source;
    std::uint64_t m_max_whole = default_max_whole;
    /// Bytes taken from the source and not yet given out (from m_offset on).
    std::string m_pending;
    std::size_t m_offset = 0;
    std::uint64_t m_read = 0;
    bool m_eof = false;
};

/// A source giving what `pieces` yields (empty pieces skipped), for `response::stream_body`.
/// The generator runs in the task that sends the body: its awaits are that task's.
std::unique_ptr<body_source> source_from(async_generator<std::string> pieces);
/// A source giving what `s` reads until its end of stream (a pipe of a process, a socket),
/// 64 KiB at most at a time; `s` is closed when the source is destroyed.
std::unique_ptr<body_source> source_from(stream s);
/// A source giving what `body` reads (a client's streamed response body: a proxy).
std::unique_ptr<body_source> source_from(std::shared_ptr<body_stream> body);

} // namespace corio::http
