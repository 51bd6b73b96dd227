#include "corio/net/stream.hpp"

#include "corio/detail/io.hpp"
#include "corio/errors.hpp"
#include "corio/join_handle.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace corio {

namespace detail {

namespace {

/// The read buffer starts this big and doubles as a call needs more.
constexpr std::size_t initial_read_buffer = 16 * 1024;

/// write(2) on a pipe without SIGPIPE: the signal is blocked for the call and, if the call
/// raised it, taken off the pending set; errno is as write left it.
ssize_t write_pipe(int fd, const char* data, std::size_t size) noexcept {
    sigset_t pipe_set;
    sigset_t old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigset_t pending;
    sigpending(&pending);
    const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    const ssize_t n = ::write(fd, data, size);
    const int err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        const timespec zero{};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    if (sigismember(&old, SIGPIPE) != 1) {
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    errno = err;
    return n;
}

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ((flags & O_NONBLOCK) == 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
        throw_errno(errno, "fcntl O_NONBLOCK on fd " + std::to_string(fd));
    }
}

} // namespace

/// Everything a stream is: fds, read buffer, write buffer, and the state of closing.
/// Reference-counted (not atomically: one loop, one thread): the `stream` object holds one
/// reference, each operation in progress another, and the background flush a third, so
/// that destroying the `stream` while its buffer is still being flushed is safe.
class stream_state {
public:
    stream_state(event_loop& loop, int read_fd, int write_fd, bool socket, std::string name,
                 std::size_t limit)
        : loop(&loop), rfd(read_fd), wfd(write_fd), is_socket(socket), name(std::move(name)),
          limit(limit), completion_reads(read_fd >= 0 && loop.supports_recv()),
          completion_writes(socket && write_fd >= 0 && loop.supports_io_ops()) {
        sink.state = this;
        sink.socket = socket;
        sink.on_data = &on_data;
        sink.on_end = &on_end;
        send_op.op = io_op::kind::send;
        send_op.fd = write_fd;
        send_op.on_complete = &on_sent;
        send_op.context = this;
    }
    stream_state(const stream_state&) = delete;
    stream_state& operator=(const stream_state&) = delete;
    ~stream_state() { close_fds(); }

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) {
            delete this;
        }
    }

    // --- read side ---

    [[nodiscard]] std::size_t buffered() const noexcept { return rend - rbegin; }
    [[nodiscard]] const char* rdata() const noexcept { return rbuf.get() + rbegin; }

    /// Take `n` buffered bytes.
    std::string take(std::size_t n) {
        std::string out(rdata(), n);
        consume(n);
        return out;
    }
    // --- completion-based reads (io_uring): the loop delivers, the stream buffers ---

    struct stream_sink : recv_sink {
        stream_state* state = nullptr;
    };

    /// Buffered bytes past which receiving pauses until the reader catches up (asyncio
    /// pauses its transport at twice the limit).
    [[nodiscard]] std::size_t pause_at() const noexcept {
        return std::max<std::size_t>(2 * limit, 64 * 1024);
    }

    static void on_data(recv_sink& sink, const char* data, std::size_t size) {
        stream_state& s = *static_cast<stream_sink&>(sink).state;
        if (s.closing) {
            return; // the read side ended with close()
        }
        s.reserve(size);
        std::memcpy(s.rbuf.get() + s.rend, data, size);
        s.rend += size;
        if (s.buffered() > s.pause_at()) {
            s.receiving = false; // the next read that finds the buffer short resumes
            s.loop->pause_recv(s.rfd);
        }
        s.wake_reader();
    }

    static void on_end(recv_sink& sink, int error) {
        stream_state& s = *static_cast<stream_sink&>(sink).state;
        s.receiving = false;
        if (error == 0) {
            s.eof = true;
        } else {
            s.read_errno = error;
        }
        s.wake_reader();
    }

    void wake_reader() noexcept {
        if (waiter* w = std::exchange(data_waiter, nullptr)) {
            wake(*w);
        }
    }

    /// fill() for completion-based reads: nothing to read now, the loop appends.
    ssize_t fill_from_completions() {
        if (eof || closing) {
            eof = true;
            return 0;
        }
        if (read_errno != 0) {
            const int err = std::exchange(read_errno, 0);
            eof = true;
            throw_errno(err, "read " + name);
        }
        if (!receiving) {
            receiving = loop->start_recv(rfd, sink);
        }
        return -1;
    }

    void consume(std::size_t n) noexcept {
        rbegin += n;
        if (rbegin == rend) {
            rbegin = rend = 0;
        }
    }

    /// Make room for at least `want` more bytes after rend (moving or growing the buffer).
    void reserve(std::size_t want) {
        if (rcap - rend >= want) {
            return;
        }
        const std::size_t have = buffered();
        if (rcap >= have + want && rbegin > 0) {
            std::memmove(rbuf.get(), rbuf.get() + rbegin, have);
        } else {
            std::size_t cap = std::max(rcap, initial_read_buffer);
            while (cap < have + want) {
                cap *= 2;
            }
            auto bigger = std::make_unique_for_overwrite<char[]>(cap);
            if (have > 0) {
                std::memcpy(bigger.get(), rbuf.get() + rbegin, have);
            }
            rbuf = std::move(bigger);
            rcap = cap;
        }
        rbegin = 0;
        rend = have;
    }

    /// Check the stream can be read from, and mark it being read.
    void begin_read(const char* operation) {
        if (rfd < 0 && !closing) {
            throw invalid_state_error(std::string(operation) + ": " + name + " has no read end");
        }
        if (reading) {
            throw invalid_state_error(std::string(operation) +
                                      ": another task is already reading from " + name);
        }
        reading = true;
    }

    /// True if the fd must be waited on before the next read (it was drained by a short
    /// read and the loop has not polled since).
    [[nodiscard]] bool must_wait() const noexcept {
        return !read_ready && loop->io_poll_count() == read_mark;
    }

    /// One read(2) into `dst`. Returns the count (>0), 0 at end of stream (or once closed),
    /// or -1 if the fd has nothing now. \throws std::system_error on an error.
    ssize_t read_some(char* dst, std::size_t room) {
        if (eof || closing) {
            eof = true;
            return 0;
        }
        if (must_wait()) {
            return -1;
        }
        while (true) {
            const ssize_t n = ::read(rfd, dst, room);
            if (n > 0) {
                if (static_cast<std::size_t>(n) < room && !loop->fd_hung_up(rfd)) {
                    // A stream fd returns less than asked only when it is drained, and
                    // new data will be a new edge. Not after a hang-up: the edge that
                    // brought the last data also brought the end of stream, and no other
                    // edge will come to say so.
                    read_ready = false;
                    read_mark = loop->io_poll_count();
                }
                return n;
            }
            if (n == 0) {
                eof = true;
                return 0;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                read_ready = false;
                read_mark = loop->io_poll_count();
                return -1;
            }
            throw_errno(errno, "read " + name);
        }
    }

    /// asyncio's transport reads in the background (until its buffer holds twice the
    /// limit), so what has arrived is in the reader's buffer and an end of stream behind
    /// the last data is known. A completion-based receive does the same; a readiness-based
    /// stream reads only when a call needs it, so where the difference shows (at_eof(),
    /// a limit overrun) it catches up with what the kernel holds now: these two calls.

    /// Read what the fd holds now into the buffer (up to pause_at() buffered), without
    /// waiting; sets `eof` if the stream has ended. \throws std::system_error on an error.
    void catch_up() {
        if (completion_reads || rfd < 0) {
            return; // the receive delivers as data arrives
        }
        while (!eof && !closing && buffered() <= pause_at()) {
            read_ready = true; // ask the fd itself, even if a short read saw it drained
            if (fill(0) <= 0) {
                return;
            }
        }
    }

    /// True if the peer's end of stream has arrived and nothing is buffered (asyncio:
    /// "the buffer is empty and feed_eof() was called"). Reads nothing and leaves a
    /// pending error for the next read (recv with MSG_PEEK or SO_ERROR would clear it):
    /// the fd is polled, and an fd that polls readable or hung up, without an error, with
    /// no byte queued (FIONREAD) has ended.
    bool eof_arrived() noexcept {
        if (eof || closing) {
            return buffered() == 0;
        }
        if (buffered() > 0 || completion_reads || rfd < 0) {
            return false;
        }
        pollfd p{rfd, POLLIN | POLLRDHUP, 0};
        if (::poll(&p, 1, 0) != 1 || (p.revents & (POLLERR | POLLNVAL)) != 0 ||
            (p.revents & (POLLIN | POLLRDHUP | POLLHUP)) == 0) {
            return false;
        }
        int queued = 0;
        if (::ioctl(rfd, FIONREAD, &queued) < 0 || queued != 0) {
            return false;
        }
        eof = true;
        return true;
    }

    /// One read into the buffer. Same results as read_some.
    ssize_t fill(std::size_t want) {
        if (completion_reads) {
            return fill_from_completions();
        }
        // At least 4 KiB of room; more once the buffer has grown, up to 64 KiB per read.
        reserve(std::max({want, std::size_t{4096}, std::min<std::size_t>(rcap / 2, 64 * 1024)}));
        const ssize_t n = read_some(rbuf.get() + rend, rcap - rend);
        if (n > 0) {
            rend += static_cast<std::size_t>(n);
        }
        return n;
    }

    /// One read into the buffer of at most `room` (> 0) bytes; same results as read_some. A
    /// completion-based receive is not bounded by `room`: it delivers as data arrives.
    ssize_t fill_at_most(std::size_t room) {
        if (completion_reads) {
            return fill_from_completions();
        }
        // A parser consumes what it parses, so the buffer is mostly empty here and would never
        // grow: after a read that filled it, the next one gets twice the room (up to 64 KiB).
        const std::size_t grown = fill_filled_buffer ? 2 * rcap : rcap / 2;
        reserve(
            std::min(room, std::max(std::size_t{4096}, std::min<std::size_t>(grown, 64 * 1024))));
        const ssize_t n = read_some(rbuf.get() + rend, std::min(room, rcap - rend));
        if (n > 0) {
            rend += static_cast<std::size_t>(n);
            fill_filled_buffer = rend == rcap;
        }
        return n;
    }

    /// Wait for data after fill/read_some returned -1.
    class read_wait {
    public:
        explicit read_wait(stream_state& s) noexcept : m_state(&s), m_fd(*s.loop, s.rfd, true) {}
        read_wait(const read_wait&) = delete;
        read_wait& operator=(const read_wait&) = delete;
        ~read_wait() {
            if (m_parked && m_state->data_waiter == &m_waiter) {
                m_state->data_waiter = nullptr;
            }
        }
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) {
            if (!m_state->completion_reads) {
                m_state->read_ready = true;
                return m_fd.await_suspend(h);
            }
            m_waiter.handle = h;
            m_waiter.on_cancel = &on_cancel;
            m_waiter.context = this;
            m_waiter.describe = [](const waiter& w, std::string& out) {
                const stream_state& s = *static_cast<const read_wait*>(w.context)->m_state;
                out += "data from " + s.name + " (fd " + std::to_string(s.rfd) + ")";
            };
            if (!park(m_waiter)) {
                return false;
            }
            m_state->data_waiter = &m_waiter;
            m_parked = true;
            return true;
        }
        void await_resume() {
            if (!m_state->completion_reads) {
                m_fd.await_resume();
                return;
            }
            m_parked = false;
            m_waiter.check_cancelled();
        }

    private:
        static bool on_cancel(waiter& w) noexcept {
            auto* self = static_cast<read_wait*>(w.context);
            if (self->m_state->data_waiter == &w) {
                self->m_state->data_waiter = nullptr;
            }
            self->m_parked = false;
            return true;
        }

        stream_state* m_state;
        wait_fd m_fd;
        waiter m_waiter;
        bool m_parked = false;
    };
    read_wait readable() noexcept { return read_wait(*this); }

    // --- write side ---

    [[nodiscard]] std::size_t pending() const noexcept {
        return wbuf.size() - woff + sending.size() - soff;
    }

    void check_writable(const char* operation) const {
        if (closing) {
            throw invalid_state_error(std::string(operation) + ": " + name + " is closed");
        }
        if (eof_requested) {
            throw invalid_state_error(std::string(operation) + ": " + name +
                                      " was shut down for writing (write_eof)");
        }
        if (wfd < 0) {
            throw invalid_state_error(std::string(operation) + ": " + name + " has no write end");
        }
    }

    /// One write(2)/send(2). Returns the count, or -1 with errno set.
    ssize_t send_some(const char* data, std::size_t size) const noexcept {
        while (true) {
            const ssize_t n =
                is_socket ? ::send(wfd, data, size, MSG_NOSIGNAL) : write_pipe(wfd, data, size);
            if (n >= 0 || errno != EINTR) {
                return n;
            }
        }
    }

    /// The connection broke: drop what is buffered and tell drain().
    void write_failed(int err) noexcept {
        write_errno = err;
        wbuf.clear();
        woff = 0;
        if (!send_op.in_flight()) {
            sending.clear();
            soff = 0;
        }
        drain_waiters.wake_all();
    }

    // --- completion-based writes (io_uring): one send in the kernel at a time ---

    /// Hand the kernel what is buffered: `wbuf` becomes `sending`, which stays untouched
    /// until the send completes (writes meanwhile append to the emptied `wbuf`). The send
    /// holds a reference to the stream.
    void start_send() {
        std::swap(sending, wbuf);
        soff = 0;
        wbuf.clear();
        try {
            submit_send();
        } catch (...) {
            std::swap(sending, wbuf);
            throw;
        }
        flushing = true;
    }

    void submit_send() {
        send_op.data = sending.data() + soff;
        send_op.size = sending.size() - soff;
        loop->submit_io(send_op);
        add_ref();
    }

    static void on_sent(io_op& op, int result) {
        stream_state& s = *static_cast<stream_state*>(op.context);
        s.sent(result);
        s.release(); // the send's reference
    }

    void sent(int result) {
        if (result > 0) {
            soff += static_cast<std::size_t>(result);
        } else if (result < 0 && result != -EAGAIN && result != -EINTR && !closed) {
            write_failed(-result);
        }
        const bool done = closed || write_errno != 0;
        if (done || soff == sending.size()) {
            sending.clear(); // the kernel is done with it
            soff = 0;
        }
        if (pending() <= low_water) {
            drain_waiters.wake_all();
        }
        if (done || pending() == 0) {
            after_flush();
            return;
        }
        if (sending.empty()) {
            std::swap(sending, wbuf); // wbuf takes the emptied buffer, capacity kept
        }
        try {
            submit_send();
        } catch (const std::system_error& e) {
            write_failed(e.code().value());
            after_flush();
        }
    }

    void write(const char* data, std::size_t size) {
        check_writable("write");
        if (size == 0 || write_errno != 0) {
            return;
        }
        if (completion_writes) {
            wbuf.append(data, size);
            if (!flushing) {
                start_send();
            }
            return;
        }
        if (pending() == 0) {
            const ssize_t n = send_some(data, size);
            if (n == static_cast<ssize_t>(size)) {
                return;
            }
            if (n > 0) {
                data += n;
                size -= static_cast<std::size_t>(n);
            } else if (errno != EAGAIN) {
                write_failed(errno);
                return;
            }
            if (woff == wbuf.size()) {
                wbuf.clear();
                woff = 0;
            }
        } else if (woff > 64 * 1024 && woff > wbuf.size() / 2) {
            wbuf.erase(0, woff);
            woff = 0;
        }
        wbuf.append(data, size);
        start_flush();
    }

    void start_flush();
    void after_flush() noexcept;

    void shutdown_write() noexcept {
        eof_sent = true;
        if (is_socket) {
            ::shutdown(wfd, SHUT_WR);
        } else {
            close_fd(wfd, loop);
            wfd = -1;
        }
    }

    void write_eof() {
        if (closing || eof_requested) {
            return;
        }
        if (wfd < 0) {
            throw invalid_state_error("write_eof: " + name + " has no write end");
        }
        eof_requested = true;
        if (!flushing) {
            shutdown_write();
        }
    }

    // --- closing ---

    void close_fds() noexcept {
        if (wfd >= 0 && wfd != rfd) {
            close_fd(wfd, loop);
        }
        close_fd(rfd, loop);
        rfd = wfd = -1;
    }

    /// Close the fds now and wake everyone waiting.
    void finish_close() noexcept {
        if (closed) {
            return;
        }
        closed = true;
        receiving = false;
        close_fds(); // wakes a pending read (it finds the stream closed) and the flush
        wake_reader();
        drain_waiters.wake_all();
        closed_waiters.wake_all();
    }

    void close() noexcept {
        if (closing) {
            return;
        }
        closing = true;
        if (!flushing) {
            finish_close();
            return;
        }
        end_reading();
    }

    /// close() while the flush goes on: reading ends now, not when the fd closes (which
    /// waits for a peer that may never read). A read pending in another task returns end
    /// of stream, as later reads do once the buffer is empty (read_some and
    /// fill_from_completions see `closing`).
    void end_reading() noexcept {
        if (rfd < 0) {
            return;
        }
        if (completion_reads) {
            if (receiving) {
                receiving = false;
                loop->pause_recv(rfd);
            }
            wake_reader();
            return;
        }
        if (!reading) {
            return; // no read is parked on the fd
        }
        // The reader waits in the reactor for the fd to become readable: make it so.
        if (rfd != wfd) {
            close_fd(rfd, loop); // a pipe's read end: closing it wakes the reader
            rfd = -1;
        } else if (is_socket) {
            // Ends the receive direction: the socket turns readable (EOF) and every reactor
            // reports it; the send direction, still flushing, is untouched.
            ::shutdown(rfd, SHUT_RD);
        }
    }

    void abort() noexcept {
        if (!closed && write_errno == 0) {
            aborted = true;
            dropped = pending();
        }
        closing = true;
        wbuf.clear();
        woff = 0;
        finish_close();
    }

    /// What drain() throws after abort().
    [[noreturn]] void throw_aborted() const {
        std::string what = "drain " + name + ": the stream was aborted";
        if (dropped > 0) {
            what += ", dropping " + std::to_string(dropped) + " buffered bytes not yet sent";
        }
        throw std::system_error(ECONNABORTED, std::generic_category(), what);
    }

    event_loop* loop;
    int rfd;
    int wfd;
    bool is_socket;
    std::string name;
    /// The peer of a socket, recorded when the connection was made.
    socket_address peer;
    std::size_t limit;
    unsigned refs = 1;

    std::unique_ptr<char[]> rbuf;
    std::size_t rcap = 0;
    std::size_t rbegin = 0;
    std::size_t rend = 0;
    std::uint64_t read_mark = 0;
    bool read_ready = true;
    /// The last read of fill_at_most filled the buffer to its end.
    bool fill_filled_buffer = false;
    bool eof = false;
    bool reading = false;
    /// Reads come from the loop's completion-based receive (io_uring), not read(2).
    bool completion_reads;
    /// Writes go to the kernel as completion-based sends (io_uring), not send(2).
    bool completion_writes;
    /// The receive is running (started, not paused or ended).
    bool receiving = false;
    /// The error that ended the receive, for the next read.
    int read_errno = 0;
    waiter* data_waiter = nullptr;
    stream_sink sink;

    std::string wbuf;
    std::size_t woff = 0;
    /// What the send in flight (completion_writes) is sending, from soff.
    std::string sending;
    std::size_t soff = 0;
    io_op send_op;
    std::size_t high_water = stream::default_high_water;
    std::size_t low_water = stream::default_high_water / 4;
    int write_errno = 0;
    /// abort() ended the stream (and drain() says so); `dropped` bytes were still buffered.
    bool aborted = false;
    std::size_t dropped = 0;
    bool flushing = false;
    bool eof_requested = false;
    bool eof_sent = false;

    bool closing = false;
    bool closed = false;
    wait_queue drain_waiters{"a stream's write buffer to drain"};
    wait_queue closed_waiters{"a stream to close"};
};

namespace {

/// A counted reference to a stream_state for the length of an operation.
class state_ref {
public:
    explicit state_ref(stream_state& s) noexcept : m_state(&s) { s.add_ref(); }
    state_ref(state_ref&& other) noexcept : m_state(std::exchange(other.m_state, nullptr)) {}
    state_ref(const state_ref&) = delete;
    state_ref& operator=(const state_ref&) = delete;
    state_ref& operator=(state_ref&&) = delete;
    ~state_ref() {
        if (m_state != nullptr) {
            m_state->release();
        }
    }
    stream_state* operator->() const noexcept { return m_state; }
    stream_state& operator*() const noexcept { return *m_state; }

private:
    stream_state* m_state;
};

/// Marks the stream as being read for the length of one read operation.
class read_guard {
public:
    read_guard(stream_state& s, const char* operation) : m_state(s) { s.begin_read(operation); }
    read_guard(const read_guard&) = delete;
    read_guard& operator=(const read_guard&) = delete;
    ~read_guard() { m_state.reading = false; }

private:
    stream_state& m_state;
};

/// The background flush: sends the write buffer as the fd takes it, then finishes a
/// write_eof or close requested meanwhile. One at a time per stream.
task<> flush_buffer(state_ref ref) {
    stream_state& s = *ref;
    struct finish {
        stream_state& s;
        ~finish() { s.after_flush(); }
    } finally{s};
    while (s.pending() > 0 && !s.closed && s.write_errno == 0) {
        const ssize_t n = s.send_some(s.wbuf.data() + s.woff, s.pending());
        if (n > 0) {
            s.woff += static_cast<std::size_t>(n);
            if (s.pending() <= s.low_water) {
                s.drain_waiters.wake_all();
            }
        } else if (errno == EAGAIN) {
            co_await wait_fd(*s.loop, s.wfd, false);
        } else {
            s.write_failed(errno);
        }
    }
}

} // namespace

void stream_state::start_flush() {
    if (flushing) {
        return;
    }
    flushing = true;
    try {
        spawn_on(*loop, flush_buffer(state_ref(*this)), "corio.stream.flush");
    } catch (...) {
        flushing = false;
        throw;
    }
}

void stream_state::after_flush() noexcept {
    flushing = false;
    if (pending() == 0) {
        wbuf.clear();
        woff = 0;
    }
    drain_waiters.wake_all();
    if (closed) {
        return;
    }
    if (eof_requested && !eof_sent && write_errno == 0 && pending() == 0) {
        shutdown_write();
    }
    if (closing) {
        finish_close();
    }
}

namespace {

task<std::string> read_impl(state_ref s, std::size_t max) {
    const read_guard guard(*s, "read");
    if (max == 0) {
        co_return std::string();
    }
    while (s->buffered() == 0) {
        const ssize_t n = s->fill(0);
        if (n == 0) {
            co_return std::string();
        }
        if (n < 0) {
            co_await s->readable();
        }
    }
    co_return s->take(std::min(max, s->buffered()));
}

task<std::size_t> read_into_impl(state_ref s, std::span<char> out) {
    const read_guard guard(*s, "read_into");
    if (out.empty()) {
        co_return 0;
    }
    while (true) {
        if (s->buffered() > 0) {
            const std::size_t n = std::min(out.size(), s->buffered());
            std::memcpy(out.data(), s->rdata(), n);
            s->consume(n);
            co_return n;
        }
        // Straight into the caller's memory: no copy through the buffer.
        const ssize_t n =
            s->completion_reads ? s->fill_from_completions() : s->read_some(out.data(), out.size());
        if (n >= 0) {
            co_return static_cast<std::size_t>(n);
        }
        co_await s->readable();
    }
}

task<std::string> read_exactly_impl(state_ref s, std::size_t count) {
    const read_guard guard(*s, "read_exactly");
    while (s->buffered() < count) {
        const ssize_t n = s->fill(count - s->buffered());
        if (n == 0) {
            throw incomplete_read_error(s->take(s->buffered()), count);
        }
        if (n < 0) {
            co_await s->readable();
        }
    }
    co_return s->take(count);
}

/// read_until; with `eof_returns_rest` (read_line), end of stream gives what is left.
task<std::string> read_until_impl(state_ref s, std::string sep, bool eof_returns_rest,
                                  const char* operation) {
    const read_guard guard(*s, operation);
    std::size_t searched = 0; // bytes already searched without finding sep
    bool caught_up = false;
    while (true) {
        const std::size_t have = s->buffered();
        if (have >= sep.size()) {
            const char* base = s->rdata();
            const char* end = base + have;
            const char* hit = std::search(base + searched, end, sep.begin(), sep.end());
            if (hit != end) {
                const auto at = static_cast<std::size_t>(hit - base);
                if (at > s->limit) {
                    throw limit_overrun_error("separator is found, but chunk is longer than "
                                              "limit (" +
                                                  std::to_string(s->limit) + " bytes)",
                                              at);
                }
                co_return s->take(at + sep.size());
            }
            searched = have - sep.size() + 1;
            if (searched > s->limit && !s->completion_reads && !caught_up) {
                // Judge on what has arrived, as asyncio and completion-based receives do:
                // the separator may be waiting in the kernel.
                caught_up = true;
                s->catch_up();
                if (s->buffered() > have) {
                    continue;
                }
            }
            if (searched > s->limit) {
                throw limit_overrun_error("separator is not found, and chunk exceeds the "
                                          "limit (" +
                                              std::to_string(s->limit) + " bytes)",
                                          searched);
            }
        }
        const ssize_t n = s->fill(0);
        if (n == 0) {
            if (eof_returns_rest) {
                co_return s->take(s->buffered());
            }
            throw incomplete_read_error(s->take(s->buffered()), have + 1);
        }
        if (n < 0) {
            co_await s->readable();
        }
    }
}

task<std::string> read_all_impl(state_ref s) {
    const read_guard guard(*s, "read_all");
    while (true) {
        const ssize_t n = s->fill(s->buffered() + 1);
        if (n == 0) {
            co_return s->take(s->buffered());
        }
        if (n < 0) {
            co_await s->readable();
        }
    }
}

task<std::size_t> fill_impl(state_ref s, std::size_t max_buffered) {
    const read_guard guard(*s, "fill");
    const std::size_t before = s->buffered();
    while (s->buffered() == before) {
        const ssize_t n = s->fill_at_most(max_buffered - before);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            co_await s->readable();
        }
    }
    co_return s->buffered() - before;
}

task<> drain_impl(state_ref s) {
    if (s->write_errno == 0 && !s->aborted && s->pending() > s->high_water) {
        while (s->write_errno == 0 && !s->closed && s->pending() > s->low_water) {
            co_await queue_wait(s->drain_waiters);
        }
    }
    if (s->write_errno != 0) {
        throw_errno(s->write_errno, "write " + s->name);
    }
    if (s->aborted) {
        s->throw_aborted();
    }
}

task<> wait_closed_impl(state_ref s) {
    while (!s->closed) {
        co_await queue_wait(s->closed_waiters);
    }
    if (s->write_errno != 0) {
        throw_errno(s->write_errno, "write " + s->name);
    }
}

} // namespace
} // namespace detail

// --- stream ----------------------------------------------------------------------------

stream::stream() noexcept = default;
stream::stream(stream&& other) noexcept : m_state(std::exchange(other.m_state, nullptr)) {}
stream& stream::operator=(stream&& other) noexcept {
    if (this != &other) {
        stream old(std::move(*this));
        m_state = std::exchange(other.m_state, nullptr);
    }
    return *this;
}
stream::~stream() {
    if (m_state != nullptr) {
        m_state->close();
        m_state->release();
    }
}

stream stream::from_socket(int fd, std::size_t limit) {
    if (fd < 0) {
        throw std::invalid_argument("stream::from_socket: invalid fd " + std::to_string(fd));
    }
    detail::set_nonblocking(fd);
    socket_address peer = socket_address::peer_of(fd);
    std::string name = peer.to_string();
    if (name.empty()) {
        name = socket_address::local_of(fd).to_string();
    }
    if (name.empty()) {
        name = "socket fd " + std::to_string(fd);
    }
    auto* state =
        new detail::stream_state(get_running_loop(), fd, fd, true, std::move(name), limit);
    state->peer = std::move(peer);
    return stream(state);
}

stream detail::adopt_socket(int fd, std::string name, std::size_t limit, socket_address peer) {
    auto* state = new stream_state(get_running_loop(), fd, fd, true, std::move(name), limit);
    state->peer = std::move(peer);
    return stream(state);
}

stream stream::from_pipes(int read_fd, int write_fd, std::string name, std::size_t limit) {
    if (read_fd < 0 && write_fd < 0) {
        throw std::invalid_argument("stream::from_pipes: no fd given");
    }
    if (read_fd >= 0) {
        detail::set_nonblocking(read_fd);
    }
    if (write_fd >= 0) {
        detail::set_nonblocking(write_fd);
    }
    return stream(new detail::stream_state(get_running_loop(), read_fd, write_fd, false,
                                           std::move(name), limit));
}

detail::stream_state& stream::state(const char* operation) const {
    if (m_state == nullptr) {
        throw invalid_state_error(std::string(operation) +
                                  ": empty stream (default-constructed or moved-from)");
    }
    return *m_state;
}

task<std::string> stream::read(std::size_t max) {
    return detail::read_impl(detail::state_ref(state("read")), max);
}
task<std::size_t> stream::read_into(std::span<char> out) {
    return detail::read_into_impl(detail::state_ref(state("read_into")), out);
}
task<std::string> stream::read_exactly(std::size_t n) {
    return detail::read_exactly_impl(detail::state_ref(state("read_exactly")), n);
}
task<std::string> stream::read_line() {
    return detail::read_until_impl(detail::state_ref(state("read_line")), "\n", true, "read_line");
}
task<std::string> stream::read_until(std::string_view separator) {
    auto& s = state("read_until");
    if (separator.empty()) {
        throw std::invalid_argument("read_until: empty separator");
    }
    return detail::read_until_impl(detail::state_ref(s), std::string(separator), false,
                                   "read_until");
}
task<std::string> stream::read_all() {
    return detail::read_all_impl(detail::state_ref(state("read_all")));
}
std::string_view stream::buffered() const {
    const auto& s = state("buffered");
    return {s.rdata(), s.buffered()};
}
void stream::consume(std::size_t n) {
    auto& s = state("consume");
    if (n > s.buffered()) {
        throw std::invalid_argument("consume: " + std::to_string(n) + " bytes asked, " +
                                    std::to_string(s.buffered()) + " buffered");
    }
    if (s.reading) {
        throw invalid_state_error("consume: another task is reading from " + s.name);
    }
    s.consume(n);
}
task<std::size_t> stream::fill(std::size_t max_buffered) {
    auto& s = state("fill");
    if (s.buffered() >= max_buffered) {
        throw std::invalid_argument("fill: " + std::to_string(s.buffered()) +
                                    " bytes buffered, not below max_buffered (" +
                                    std::to_string(max_buffered) + ")");
    }
    return detail::fill_impl(detail::state_ref(s), max_buffered);
}
bool stream::at_eof() const {
    return state("at_eof").eof_arrived();
}
std::size_t stream::limit() const {
    return state("limit").limit;
}

void stream::write(std::string_view data) {
    state("write").write(data.data(), data.size());
}
void stream::write(std::span<const std::byte> data) {
    state("write").write(reinterpret_cast<const char*>(data.data()), data.size());
}
task<> stream::drain() {
    return detail::drain_impl(detail::state_ref(state("drain")));
}
void stream::set_write_buffer_limits(std::size_t high, std::size_t low) {
    auto& s = state("set_write_buffer_limits");
    if (low > high) {
        throw std::invalid_argument("set_write_buffer_limits: low (" + std::to_string(low) +
                                    ") is above high (" + std::to_string(high) + ")");
    }
    s.high_water = high;
    s.low_water = low;
}
std::size_t stream::write_buffer_size() const {
    return state("write_buffer_size").pending();
}
void stream::write_eof() {
    state("write_eof").write_eof();
}
bool stream::can_write_eof() const {
    const auto& s = state("can_write_eof");
    return s.wfd >= 0 && !s.closing;
}

void stream::close() {
    state("close").close();
}
void stream::abort() {
    state("abort").abort();
}
bool stream::is_closing() const {
    return state("is_closing").closing;
}
task<> stream::wait_closed() {
    return detail::wait_closed_impl(detail::state_ref(state("wait_closed")));
}

socket_address stream::peer_address() const {
    const auto& s = state("peer_address");
    return s.is_socket ? s.peer : socket_address();
}
socket_address stream::local_address() const {
    const auto& s = state("local_address");
    return s.is_socket && s.rfd >= 0 ? socket_address::local_of(s.rfd) : socket_address();
}
void stream::set_nodelay(bool enabled) {
    const auto& s = state("set_nodelay");
    const int on = enabled ? 1 : 0;
    if (!s.is_socket || s.rfd < 0 ||
        ::setsockopt(s.rfd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0) {
        detail::throw_errno(s.is_socket && s.rfd >= 0 ? errno : ENOTSOCK, "set_nodelay " + s.name);
    }
}
int stream::fd() const {
    return state("fd").rfd;
}

} // namespace corio
