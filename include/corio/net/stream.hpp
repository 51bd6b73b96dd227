#pragma once
/// \file
/// `corio::stream`: a byte stream over a transport (a socket, a pair of pipes, or one a
/// user writes: see transport.hpp), asyncio's StreamReader and StreamWriter in one object.
///
/// ```cpp
/// corio::stream s = co_await corio::open_connection("example.com", 80);
/// s.write("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n");
/// co_await s.drain();
/// std::string status = co_await s.read_line();
/// ```
///
/// The stream owns the buffers and every rule below; its transport only moves bytes, so
/// the same API and the same rules hold over any transport.
///
/// Reading pulls from the transport only when the buffer cannot satisfy the call, so the buffer
/// never grows past what a call needs (and `limit()` for `read_until`). `write` sends at
/// once when it can and buffers the rest, which a background flush sends as the peer reads;
/// `drain` holds the writer back while more than the high water mark is buffered. End of
/// stream is not an error: reads return what is left, then empty strings.
///
/// Not thread-safe; one reader and one writer at a time (two concurrent reads throw
/// `invalid_state_error`). Every suspending call is cancellable: a cancelled read keeps the
/// bytes it had received in the buffer for the next read, and a cancelled drain leaves the
/// buffered data to be sent.

#include "corio/net/address.hpp"
#include "corio/net/tls.hpp"
#include "corio/net/transport.hpp"
#include "corio/task.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace corio {

class stream;
namespace detail {
class stream_state;
/// A stream over a connected non-blocking socket, named `name` in errors (for servers),
/// whose peer is `peer` (as accept(2) or connect(2) gave it).
stream adopt_socket(int fd, std::string name, std::size_t limit, socket_address peer);
} // namespace detail

/// A byte stream (TCP, Unix socket, pipes to a subprocess, or any transport).
class stream {
public:
    /// Default buffer limit for `read_until`/`read_line` (asyncio's 64 KiB).
    static constexpr std::size_t default_limit = 64 * 1024;
    /// Default write-buffer high water mark (asyncio's 64 KiB); the low one is a quarter.
    static constexpr std::size_t default_high_water = 64 * 1024;

    /// A stream that holds nothing; every call but the destructor throws.
    stream() noexcept;
    stream(stream&& other) noexcept;
    stream& operator=(stream&& other) noexcept;
    stream(const stream&) = delete;
    stream& operator=(const stream&) = delete;
    /// Closes the stream (as `close()`): data still buffered is flushed in the background.
    ~stream();

    /// A stream over `t`, which it owns from now on; `limit` as `limit()`. Must be called
    /// inside a running loop, whose thread the stream then belongs to.
    ///
    /// ```cpp
    /// corio::stream s(std::make_unique<my_transport>(...));
    /// s.write("hello\n");
    /// std::string reply = co_await s.read_line();
    /// ```
    /// \throws std::invalid_argument if `t` is null.
    explicit stream(std::unique_ptr<transport> t, std::size_t limit = default_limit);

    /// Adopt a connected stream socket (TCP or Unix); it is made non-blocking. Error
    /// messages name its peer address.
    static stream from_socket(int fd, std::size_t limit = default_limit);
    /// Adopt pipe ends (either may be -1): reads come from `read_fd`, writes go to
    /// `write_fd`. Both are made non-blocking. `name` appears in error messages.
    static stream from_pipes(int read_fd, int write_fd, std::string name,
                             std::size_t limit = default_limit);

    /// True unless default-constructed or moved from.
    [[nodiscard]] bool valid() const noexcept { return m_state != nullptr; }
    [[nodiscard]] explicit operator bool() const noexcept { return valid(); }

    // --- Reading -------------------------------------------------------------------------

    /// Up to `max` bytes: what is buffered, else what one read of the transport returns; empty
    /// at end of stream (or if `max` is 0). \throws std::system_error on a read error
    /// (e.g. ECONNRESET), naming the peer.
    task<std::string> read(std::size_t max);
    /// As `read`, into `out`; returns the count (0 at end of stream). Allocates nothing.
    task<std::size_t> read_into(std::span<char> out);
    /// Exactly `n` bytes. \throws incomplete_read_error (with the bytes that did arrive)
    /// if the stream ends first.
    task<std::string> read_exactly(std::size_t n);
    /// Through the next '\n' included; at end of stream what is left (possibly without
    /// '\n'), then "". \throws limit_overrun_error as `read_until`.
    task<std::string> read_line();
    /// Through the next `separator` included. \throws limit_overrun_error if `limit()`
    /// bytes are buffered without it, or it ends past `limit()` (the data stays buffered,
    /// as asyncio's readuntil keeps it). The verdict is on everything that has arrived, as
    /// asyncio's reader, which reads in the background, sees it: a separator already
    /// waiting past the limit gives "separator is found, but chunk is longer than limit";
    /// incomplete_read_error (with what is left) if the stream ends first;
    /// std::invalid_argument if `separator` is empty.
    task<std::string> read_until(std::string_view separator);
    /// Everything up to end of stream.
    task<std::string> read_all();
    /// True when the buffer is empty and the peer's end of stream has arrived, whether or
    /// not a read has returned it yet (asyncio's rule: so it is true right after the last
    /// line of a peer that had already sent EOF, on every reactor); also once `close()`
    /// was called and the buffer is empty.
    [[nodiscard]] bool at_eof() const;
    /// The byte count `read_until` may buffer.
    [[nodiscard]] std::size_t limit() const;

    // --- The buffer, for parsers ---------------------------------------------------------
    //
    // A protocol parser can work in the stream's own read buffer instead of copying the
    // bytes out: look at `buffered()`, `consume()` what it has parsed, and `fill()` when it
    // needs more.
    //
    // ```cpp
    // // One CRLF-terminated line, parsed in place, at most 8 KiB.
    // while (true) {
    //     std::string_view b = s.buffered();
    //     if (auto at = b.find("\r\n"); at != std::string_view::npos) {
    //         handle(b.substr(0, at)); // b is valid until the next non-const call
    //         s.consume(at + 2);
    //         break;
    //     }
    //     if (b.size() >= 8192) {
    //         throw line_too_long();
    //     }
    //     if (co_await s.fill(8192) == 0) {
    //         break; // end of stream
    //     }
    // }
    // ```

    /// The bytes received and not yet consumed by a read or `consume()`. Valid until the
    /// next non-const call on the stream.
    [[nodiscard]] std::string_view buffered() const;
    /// Drop the first `n` buffered bytes (as if read). \throws std::invalid_argument if
    /// `n > buffered().size()`; invalid_state_error while another task is reading.
    void consume(std::size_t n);
    /// Wait until at least one more byte is buffered, or end of stream. Reads at most
    /// `max_buffered - buffered().size()` bytes, so the buffer never holds more than
    /// `max_buffered` because of it (a transport that receives in the background, as
    /// sockets do on io_uring, may have delivered more already: those bytes are kept, and
    /// counted, up to twice `limit()`). Returns the count added: 0 at end of stream (or
    /// once closed). Cancellable: a cancelled fill loses nothing, whatever arrived stays
    /// buffered. \throws std::invalid_argument if `buffered().size() >= max_buffered`
    /// (when called); invalid_state_error if another task is reading; std::system_error
    /// on a read error, as `read`.
    task<std::size_t> fill(std::size_t max_buffered);

    // --- Writing -------------------------------------------------------------------------

    /// Send `data` (buffering what the transport does not take now). Never blocks, never raises
    /// SIGPIPE. If the connection is already broken the data is dropped and `drain`
    /// reports the error. \throws invalid_state_error after `close()` or `write_eof()`.
    void write(std::string_view data);
    void write(std::span<const std::byte> data);
    /// Wait until the write buffer is at or below the low water mark (returns at once if
    /// it is at or below the high one). \throws std::system_error if the connection broke
    /// (EPIPE, ECONNRESET), naming the peer; std::system_error with ECONNABORTED once
    /// `abort()` was called ("drain <peer>: the stream was aborted, dropping N buffered
    /// bytes not yet sent"), whether the drain was waiting then or starts after.
    task<> drain();
    /// Set the water marks (asyncio's set_write_buffer_limits); `low` defaults to high/4.
    /// \throws std::invalid_argument if low > high.
    void set_write_buffer_limits(std::size_t high, std::size_t low);
    void set_write_buffer_limits(std::size_t high) { set_write_buffer_limits(high, high / 4); }
    /// Bytes written but not yet taken by the transport.
    [[nodiscard]] std::size_t write_buffer_size() const;
    /// Half-close: the peer reads end of stream once the buffer is flushed; reading goes on.
    void write_eof();
    /// True for sockets and for a stream with a write pipe.
    [[nodiscard]] bool can_write_eof() const;

    // --- Closing -------------------------------------------------------------------------

    /// Close: buffered data is still flushed (in the background), then the transport is
    /// closed.
    /// Reading ends at once, even while the flush waits for a peer that does not read: a
    /// pending read returns end of stream, later reads what is buffered, then end of
    /// stream (`at_eof()` is true once the buffer is empty). Idempotent.
    void close();
    /// Close now, dropping buffered data (asyncio's transport.abort()). Every `drain()`,
    /// pending or later, then throws (ECONNABORTED), so a writer learns its data was lost.
    void abort();
    /// True once `close()` or `abort()` was called.
    [[nodiscard]] bool is_closing() const;
    /// Wait until the transport is closed (after the flush that `close()` started). If the flush
    /// failed, rethrows its error.
    task<> wait_closed();

    // --- TLS -----------------------------------------------------------------------------

    /// Upgrade the connection to TLS in place (STARTTLS; asyncio's StreamWriter.start_tls):
    /// what was written is sent first, then the handshake runs as `ctx` says (a client
    /// context: this side is the client), and from then on every call of this stream goes
    /// through TLS. Bytes already received and not read are taken as the start of the
    /// peer's TLS (a client that sent its hello right behind "STARTTLS"). No read may be
    /// pending; `write` throws invalid_state_error until it returns.
    ///
    /// ```cpp
    /// s.write("STARTTLS\r\n");
    /// co_await s.read_line();                    // "220 go ahead"
    /// co_await s.start_tls(ctx, {.server_hostname = "mail.example.com"});
    /// ```
    /// `options.server_hostname` (a client's SNI and the name its certificate must carry)
    /// must live until the returned task first runs.
    /// \throws std::invalid_argument if `ctx` is empty, or it checks hostnames and no
    /// `server_hostname` is given; invalid_state_error if the stream is closing, shut down
    /// for writing, being read or already TLS; tls_error if the handshake fails (the
    /// stream is then aborted); timeout_error after `options.handshake_timeout` (aborted too).
    /// Cancellable: a handshake cancelled half-way cannot be resumed, so the stream is
    /// aborted then too.
    task<> start_tls(tls_context ctx, tls_options options = {});
    /// What TLS negotiated (version, cipher, ALPN, the peer's certificate subject), or
    /// nullptr if the stream is not TLS (yet).
    [[nodiscard]] const tls_info* tls() const;

    // --- Socket details ------------------------------------------------------------------

    /// The peer's address (empty for pipes and transports without one). Recorded when the
    /// connection was made (accepted or connected), so it is still there once the connection was
    /// reset or the stream closed, when getpeername(2) no longer answers.
    [[nodiscard]] socket_address peer_address() const;
    /// The local address (empty for pipes and transports without one).
    [[nodiscard]] socket_address local_address() const;
    /// Disable (or enable) Nagle's algorithm on a TCP stream; TCP streams made by corio
    /// start with it disabled, as asyncio's. \throws std::system_error if the stream is not
    /// TCP: ENOTSOCK if its transport has no fd (`fd()` is -1), else the errno of
    /// setsockopt (ENOTSOCK for a pipe, EOPNOTSUPP for a Unix socket).
    void set_nodelay(bool enabled = true);
    /// The fd reads come from (-1 if none, as for a transport that has no fd).
    [[nodiscard]] int fd() const;

private:
    detail::stream_state& state(const char* operation) const;

    detail::stream_state* m_state = nullptr;
};

} // namespace corio
