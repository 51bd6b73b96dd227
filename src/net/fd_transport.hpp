#pragma once
// corio's transport over file descriptors: a connected stream socket (TCP or Unix, one fd)
// or a pair of pipe ends (either may be missing). It owns the fds and does the system
// calls; the stream above it owns the buffers and the closing rules.
//
// Two ways of doing I/O, chosen per loop:
// - readiness (epoll, and io_uring without completion I/O): try the system call, and on
//   EAGAIN wait for the fd (event_loop::watch_fd, edge-triggered, through wait_fd). A read
//   shorter than asked means the fd is drained, and until the loop polls again no new edge
//   can have come, so the next try answers would_block without a system call
//   (event_loop::io_poll_count). After a hang-up the short read proves nothing: the edge
//   that brought the last data also brought the end of stream (event_loop::fd_hung_up).
// - completion (io_uring): a multishot receive pushes what arrives to the stream's
//   receiver (event_loop::start_recv), and sends are submitted to the kernel one at a time
//   (event_loop::submit_io). Closing the fd makes the loop forget it, which ends the
//   receive and cancels a send in flight.

#include "corio/detail/io.hpp"
#include "corio/net/transport.hpp"

#include <cerrno>
#include <string>

#include <sys/socket.h>
#include <unistd.h>

namespace corio::detail {

class fd_transport final : public transport {
public:
    /// `read_fd`/`write_fd` already non-blocking; a socket passes the same fd twice.
    fd_transport(event_loop& loop, int read_fd, int write_fd, bool socket, std::string name,
                 socket_address peer = {});
    fd_transport(const fd_transport&) = delete;
    fd_transport& operator=(const fd_transport&) = delete;
    ~fd_transport() override;

    task<std::size_t> read(std::span<char> out) override;
    std::ptrdiff_t try_read(std::span<char> out) override;
    std::ptrdiff_t read_arrived(std::span<char> out) override;
    [[nodiscard]] int readable_fd() const noexcept override { return m_read_shut ? -1 : m_rfd; }
    bool eof_arrived() noexcept override;
    [[nodiscard]] bool receives_in_background() const noexcept override;
    bool start_receive(receiver& r) override;
    void pause_receive() noexcept override;

    task<std::size_t> write(std::span<const char> data) override;
    std::ptrdiff_t try_write(std::span<const char> data) override;
    [[nodiscard]] bool submits_writes() const noexcept override;
    void submit_write(std::span<const char> data, write_completion& done) override;

    void shutdown_write() override;
    [[nodiscard]] bool can_write_eof() const noexcept override;
    void shutdown_read() noexcept override;
    void close() noexcept override;

    [[nodiscard]] std::string name() const override { return m_name; }
    [[nodiscard]] socket_address peer_address() const override;
    [[nodiscard]] socket_address local_address() const override;
    [[nodiscard]] int fd() const noexcept override { return m_rfd; }
    [[nodiscard]] bool can_read() const noexcept override { return m_can_read; }
    [[nodiscard]] bool can_write() const noexcept override { return m_can_write; }

private:
    struct sink_type : recv_sink {
        fd_transport* self = nullptr;
    };
    static void on_data(recv_sink& sink, const char* data, std::size_t size);
    static void on_end(recv_sink& sink, int error);
    static void on_sent(io_op& op, int result);

    /// True if the fd must be waited on before the next read (a short read drained it and
    /// the loop has not polled since).
    [[nodiscard]] bool must_wait() const noexcept {
        return !m_read_ready && m_loop->io_poll_count() == m_read_mark;
    }
    void close_fds() noexcept;

    event_loop* m_loop;
    int m_rfd;
    int m_wfd;
    bool m_socket;
    bool m_can_read;
    bool m_can_write;
    bool m_completion_reads;
    bool m_completion_writes;
    bool m_read_ready = true;
    /// shutdown_read() was called: reads return end of stream.
    bool m_read_shut = false;
    std::uint64_t m_read_mark = 0;
    std::string m_name;
    /// The peer of a socket, recorded when the connection was made.
    socket_address m_peer;
    receiver* m_receiver = nullptr;
    sink_type m_sink;
    write_completion* m_written = nullptr;
    io_op m_send_op;
};

/// Make `fd` non-blocking. \throws std::system_error naming the fd.
void set_nonblocking(int fd);

/// write(2) on a pipe without SIGPIPE.
ssize_t write_pipe(int fd, const char* data, std::size_t size) noexcept;

// The calls a stream makes per read and per write, inline: a stream over this (final) class
// calls them directly, without virtual dispatch (stream_state::fd_fast).

inline std::ptrdiff_t fd_transport::try_read(std::span<char> out) {
    if (m_read_shut || m_rfd < 0) {
        return 0;
    }
    if (must_wait()) {
        return would_block;
    }
    while (true) {
        const ssize_t n = ::read(m_rfd, out.data(), out.size());
        if (n > 0) {
            if (static_cast<std::size_t>(n) < out.size() && !m_loop->fd_hung_up(m_rfd)) {
                // A stream fd returns less than asked only when it is drained, and new
                // data will be a new edge. Not after a hang-up: the edge that brought the
                // last data also brought the end of stream, and no other edge will come to
                // say so.
                m_read_ready = false;
                m_read_mark = m_loop->io_poll_count();
            }
            return n;
        }
        if (n == 0) {
            return 0;
        }
        if (errno == EAGAIN) {
            m_read_ready = false;
            m_read_mark = m_loop->io_poll_count();
            return would_block;
        }
        if (errno != EINTR) {
            throw_errno(errno, "read " + m_name);
        }
    }
}

inline std::ptrdiff_t fd_transport::try_write(std::span<const char> data) {
    if (m_wfd < 0) {
        throw_errno(EPIPE, "write " + m_name);
    }
    while (true) {
        const ssize_t n = m_socket ? ::send(m_wfd, data.data(), data.size(), MSG_NOSIGNAL)
                                   : write_pipe(m_wfd, data.data(), data.size());
        if (n >= 0) {
            return n;
        }
        if (errno == EAGAIN) {
            return would_block;
        }
        if (errno != EINTR) {
            throw_errno(errno, "write " + m_name);
        }
    }
}

inline void fd_transport::submit_write(std::span<const char> data, write_completion& done) {
    if (!m_completion_writes || m_wfd < 0) {
        throw_errno(EPIPE, "write " + m_name);
    }
    m_written = &done;
    m_send_op.data = data.data();
    m_send_op.size = data.size();
    m_loop->submit_io(m_send_op);
}

} // namespace corio::detail
