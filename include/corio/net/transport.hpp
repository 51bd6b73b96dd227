#pragma once
/// \file
/// `corio::transport`: what moves a stream's bytes. A `stream` owns the buffers and the
/// asyncio API (read_line, drain, water marks, closing rules); its transport only reads
/// some bytes, writes some bytes, shuts down the write side, closes and names the peer.
/// corio's sockets and pipes are transports; so is anything a user writes: an in-memory
/// pipe pair for tests, a wrapper that counts the bytes of another transport, a TLS layer
/// over another transport.
///
/// A transport a user writes implements the pure virtual members, with coroutines where
/// they wait:
///
/// ```cpp
/// // Counts what goes through another transport.
/// class counting_transport final : public corio::transport {
/// public:
///     explicit counting_transport(std::unique_ptr<corio::transport> inner)
///         : m_inner(std::move(inner)) {}
///     corio::task<std::size_t> read(std::span<char> out) override {
///         const std::size_t n = co_await m_inner->read(out);
///         received += n;
///         co_return n;
///     }
///     corio::task<std::size_t> write(std::span<const char> data) override {
///         const std::size_t n = co_await m_inner->write(data);
///         sent += n;
///         co_return n;
///     }
///     void shutdown_write() override { m_inner->shutdown_write(); }
///     void shutdown_read() noexcept override { m_inner->shutdown_read(); }
///     void close() noexcept override { m_inner->close(); }
///     void abort() noexcept override { m_inner->abort(); }
///     std::string name() const override { return m_inner->name(); }
///     corio::socket_address peer_address() const override { return m_inner->peer_address(); }
///     std::size_t received = 0;
///     std::size_t sent = 0;
/// private:
///     std::unique_ptr<corio::transport> m_inner;
/// };
///
/// corio::stream s(std::make_unique<counting_transport>(corio::transport::from_socket(fd)));
/// ```
///
/// The other virtual members are optional fast paths. corio's socket and pipe transports
/// provide them, so a stream over them does no more work than a stream bound to the fd:
/// `try_read`/`try_write` act at once, without a coroutine frame, when data or room is
/// already there; `receives_in_background` transports (io_uring) push bytes into the
/// stream's buffer as the kernel delivers them; `submits_writes` transports (io_uring)
/// take a buffer and report when the kernel has sent it.
///
/// The contract a stream relies on:
/// - One read and one write may be pending at a time, from different tasks.
/// - `read` and `write` are cancellable and lose nothing: a cancelled read consumed no
///   bytes, a cancelled write took none.
/// - End of stream is not an error: `read` returns 0, then 0 again.
/// - Errors are exceptions (`std::system_error` naming the peer, by convention).
/// - `shutdown_read`, `close` and `abort` make a read or write pending in another task
///   return soon after (a read with 0; what a write returns or throws then is ignored).
/// Transports are used by one loop's thread; none of these members is thread-safe.

#include "corio/net/address.hpp"
#include "corio/task.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace corio {

struct tls_info;

/// The byte mover under a `stream` (see the file comment for the contract).
class transport {
public:
    /// What `try_read`/`try_write` return when nothing can be done without waiting.
    static constexpr std::ptrdiff_t would_block = -1;

    transport() = default;
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;
    virtual ~transport();

    /// A transport over a connected stream socket (TCP or Unix), made non-blocking; it
    /// owns the fd. Its name in errors is the peer's address. Call it inside a running
    /// loop: the transport belongs to it.
    /// \throws std::invalid_argument if fd < 0; std::system_error if fcntl fails.
    static std::unique_ptr<transport> from_socket(int fd);
    /// A transport over pipe ends (either may be -1, not both), made non-blocking; it owns
    /// them. Reads come from `read_fd`, writes go to `write_fd`; shutting down the write
    /// side closes `write_fd`. `name` appears in errors. Writes never raise SIGPIPE. Call
    /// it inside a running loop. \throws std::invalid_argument if both are -1.
    static std::unique_ptr<transport> from_pipes(int read_fd, int write_fd, std::string name);

    // --- Reading -------------------------------------------------------------------------

    /// Wait until bytes are there and read some of them into `out` (never empty): the
    /// count (> 0), or 0 at end of stream (and after `shutdown_read`/`close`).
    /// Cancellable losing nothing. \throws std::system_error on a read error.
    virtual task<std::size_t> read(std::span<char> out) = 0;
    /// Fast path: read what is there now into `out` (never empty), without waiting: the
    /// count, 0 at end of stream, or `would_block`. It may answer `would_block` without
    /// asking the source when it knows nothing arrived since it last said so. The default
    /// answers `would_block` (the stream then awaits `read`).
    virtual std::ptrdiff_t try_read(std::span<char> out);
    /// As `try_read`, but asking the source even where `try_read` would answer from what it
    /// knows. A stream uses it where asyncio's reader, which reads in the background, would
    /// already hold what has arrived (`at_eof`, the verdict of `read_until` on its limit).
    virtual std::ptrdiff_t read_arrived(std::span<char> out);
    /// Fast path for transports over an fd with readiness semantics: the fd that turns
    /// readable (edge-triggered, as the loop watches fds) when `try_read` may find something
    /// again. A stream whose `try_read` said `would_block` then waits for it itself, with
    /// no coroutine frame, and calls `try_read` again; -1 (the default) makes it await
    /// `read`. Asked once, when a stream adopts the transport.
    [[nodiscard]] virtual int readable_fd() const noexcept;
    /// True when the peer's end of stream has arrived and nothing is left to read, found
    /// out without reading (`stream::at_eof`). The default says false: a stream over such
    /// a transport learns of the end when a read returns 0.
    virtual bool eof_arrived() noexcept;

    /// Where a transport that receives in the background delivers.
    class receiver {
    public:
        /// `data` arrived; it is valid only during the call.
        virtual void on_data(std::span<const char> data) = 0;
        /// The receive ended: `error` is 0 at end of stream, else an errno. No call follows
        /// until `start_receive` is called again.
        virtual void on_end(int error) noexcept = 0;

    protected:
        ~receiver() = default;
    };
    /// True if this transport pushes bytes to a receiver as they arrive (io_uring's
    /// multishot receive) instead of being read. Asked once, when a stream adopts it.
    [[nodiscard]] virtual bool receives_in_background() const noexcept;
    /// Start (or resume after `pause_receive`) delivering to `r`; false if it cannot now
    /// (the stream then tries again at its next read).
    virtual bool start_receive(receiver& r);
    /// Stop delivering for now (backpressure); bytes already in flight may still come.
    virtual void pause_receive() noexcept;

    // --- Writing -------------------------------------------------------------------------

    /// Wait until the transport can take some of `data` (never empty), and take it: the
    /// count (> 0). Cancellable: a cancelled write took nothing. \throws std::system_error
    /// if the connection is broken (EPIPE, ECONNRESET).
    virtual task<std::size_t> write(std::span<const char> data) = 0;
    /// Fast path: take what the transport can take of `data` now, without waiting: the
    /// count, or `would_block`. \throws as `write`. The default answers `would_block`.
    virtual std::ptrdiff_t try_write(std::span<const char> data);

    /// Told when a submitted write is done.
    class write_completion {
    public:
        /// `result` is the count sent (> 0; the rest is to be submitted again), or -errno.
        virtual void on_written(std::ptrdiff_t result) = 0;

    protected:
        ~write_completion() = default;
    };
    /// True if this transport takes writes to complete in the background (io_uring sends)
    /// through `submit_write`. Asked once, when a stream adopts it.
    [[nodiscard]] virtual bool submits_writes() const noexcept;
    /// Start sending `data`, which stays valid and untouched until `done` is told; one
    /// submitted write at a time. \throws std::system_error if it cannot be started.
    virtual void submit_write(std::span<const char> data, write_completion& done);

    // --- Ending --------------------------------------------------------------------------

    /// Shut down the write side: once what was written has gone, the peer reads end of
    /// stream; reading goes on. Called once, with no write pending. Must not wait.
    virtual void shutdown_write() = 0;
    /// True if `shutdown_write` can be called (a socket, a pipe with a write end).
    [[nodiscard]] virtual bool can_write_eof() const noexcept;
    /// Stop reading: a read pending in another task returns 0 soon, as later reads do;
    /// the write side goes on (a stream's `close()` ends reading at once while its write
    /// buffer is still being flushed).
    virtual void shutdown_read() noexcept = 0;
    /// Release the connection once everything written has been taken (the stream waits
    /// for its own buffer first). Called once; nothing but the destructor follows.
    virtual void close() noexcept = 0;
    /// Close at once, dropping whatever the transport still holds. Defaults to `close()`.
    virtual void abort() noexcept;

    // --- Description ---------------------------------------------------------------------

    /// What errors call the other end: a peer address, "stdout of pid 42", ...
    [[nodiscard]] virtual std::string name() const = 0;
    /// The peer's address (empty if there is none, as for pipes).
    [[nodiscard]] virtual socket_address peer_address() const;
    /// The local address (empty if there is none).
    [[nodiscard]] virtual socket_address local_address() const;
    /// The fd reads come from, or -1 (the default). A wrapper may give its inner one's.
    [[nodiscard]] virtual int fd() const noexcept;
    /// False for a one-way transport without a read side (a stdin pipe).
    [[nodiscard]] virtual bool can_read() const noexcept;
    /// False for a one-way transport without a write side (a stdout pipe).
    [[nodiscard]] virtual bool can_write() const noexcept;
    /// What TLS negotiated, for a TLS transport once its handshake is done (tls.hpp);
    /// nullptr (the default) otherwise.
    [[nodiscard]] virtual const tls_info* tls() const noexcept;
};

} // namespace corio
