#pragma once
// What a stream is: its transport, its read buffer, its write buffer, and the state of
// closing. The transport moves bytes (net/transport.hpp); everything asyncio's
// StreamReader and StreamWriter promise on top (reads served from the buffer, end of stream
// rules, water marks, a background flush, close and abort) lives here and in stream.cpp,
// the same for every transport.
//
// Reading takes one of two shapes, fixed when the stream adopts its transport:
// - pull: `fill` asks the transport's try_read; when it would block, the read operation
//   waits for the transport's fd to turn readable and asks again (readable_fd: no
//   coroutine frame), or awaits the transport's read coroutine (read_wait, read_coroutine);
// - push (a transport that receives_in_background, io_uring): the transport delivers to
//   this object (transport::receiver) as bytes arrive, and a read parks until it does.
// Writing too: `write` tries try_write at once and buffers the rest for a background flush
// that awaits the transport's write; or, for a transport that submits_writes (io_uring),
// hands the buffer to the transport one send at a time (transport::write_completion).

#include "fd_transport.hpp"

#include "corio/detail/io.hpp"
#include "corio/errors.hpp"
#include "corio/net/stream.hpp"
#include "corio/net/transport.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

namespace corio::detail {

/// Reference-counted (not atomically: one loop, one thread): the `stream` object holds one
/// reference, each operation in progress another, and the background flush (or the send
/// in flight) a third, so that destroying the `stream` while its buffer is still being
/// flushed is safe.
class stream_state final : public transport::receiver, public transport::write_completion {
public:
    /// The read buffer starts this big and doubles as a call needs more.
    static constexpr std::size_t initial_read_buffer = 16 * 1024;

    stream_state(event_loop& loop, std::unique_ptr<transport> t, std::size_t limit)
        : loop(&loop), limit(limit) {
        adopt(std::move(t));
    }
    stream_state(const stream_state&) = delete;
    stream_state& operator=(const stream_state&) = delete;
    ~stream_state() = default;

    /// Take `next` as the transport from now on (start_tls: a TLS transport wrapping the
    /// old one), and the shape of I/O it wants.
    void adopt(std::unique_ptr<transport> next) {
        t = std::move(next);
        name = t->name();
        push_reads = t->receives_in_background();
        ready_fd = push_reads ? -1 : t->readable_fd();
        coroutine_reads = !push_reads && ready_fd < 0;
        submit_writes = t->submits_writes();
        has_read_side = t->can_read();
        has_write_side = t->can_write();
        fd_fast = dynamic_cast<fd_transport*>(t.get());
        receiving = false;
    }

    void add_ref() noexcept { ++refs; }
    void release() noexcept {
        if (--refs == 0) {
            delete this;
        }
    }

    // --- the read buffer ---

    [[nodiscard]] std::size_t buffered() const noexcept { return rend - rbegin; }
    [[nodiscard]] const char* rdata() const noexcept { return rbuf.get() + rbegin; }

    /// Take `n` buffered bytes.
    std::string take(std::size_t n) {
        std::string out(rdata(), n);
        consume(n);
        return out;
    }

    void consume(std::size_t n) noexcept {
        rbegin += n;
        if (rbegin == rend) {
            rbegin = rend = 0;
        }
    }

    /// Make room for at least `want` more bytes after rend (moving or growing the buffer).
    void reserve(std::size_t want) {
        if (rcap - rend < want) {
            make_room(want);
        }
    }
    void make_room(std::size_t want);

    /// Room after rend for one read: at least `want` and 4 KiB; more once the buffer has
    /// grown, up to 64 KiB per read; never more than `at_most`. A parser consumes what it
    /// parses (stream::consume), so its buffer is mostly empty here and would never grow:
    /// after a read that filled the buffer to its end, the next one gets twice the room.
    std::span<char> room(std::size_t want, std::size_t at_most = SIZE_MAX) {
        const std::size_t grown = last_read_filled ? 2 * rcap : rcap / 2;
        reserve(std::min(
            at_most, std::max({want, std::size_t{4096}, std::min<std::size_t>(grown, 64 * 1024)})));
        return {rbuf.get() + rend, std::min(at_most, rcap - rend)};
    }

    // --- reading ---

    /// Check the stream can be read from, and mark it being read.
    void begin_read(const char* operation);

    /// Buffered bytes past which receiving pauses until the reader catches up (asyncio
    /// pauses its transport at twice the limit).
    [[nodiscard]] std::size_t pause_at() const noexcept {
        return std::max<std::size_t>(2 * limit, 64 * 1024);
    }

    /// One read into the buffer without waiting: the count (> 0), 0 at end of stream (or
    /// once closed), -1 if nothing is there now (then wait: read_wait). Pulls at most
    /// `at_most` bytes; a push transport delivers as bytes arrive. \throws what the
    /// transport throws.
    std::ptrdiff_t fill(std::size_t want, std::size_t at_most = SIZE_MAX) {
        if (push_reads) {
            return fill_from_completions();
        }
        if (eof || closing) {
            eof = true;
            return 0;
        }
        return filled(transport_try_read(room(want, at_most)));
    }
    std::ptrdiff_t transport_try_read(std::span<char> out) {
        return fd_fast != nullptr ? fd_fast->try_read(out) : t->try_read(out);
    }
    std::ptrdiff_t transport_try_write(std::span<const char> data) {
        return fd_fast != nullptr ? fd_fast->try_write(data) : t->try_write(data);
    }

    /// Count what a pull into the buffer returned.
    std::ptrdiff_t filled(std::ptrdiff_t n) noexcept {
        if (n > 0) {
            rend += static_cast<std::size_t>(n);
            last_read_filled = rend == rcap;
        } else if (n == 0) {
            eof = true;
        }
        return n;
    }
    /// One read into `out` (past the buffer) without waiting; results as `fill`.
    std::ptrdiff_t read_direct(std::span<char> out) {
        if (push_reads) {
            return fill_from_completions();
        }
        if (eof || closing) {
            eof = true;
            return 0;
        }
        const std::ptrdiff_t n = transport_try_read(out);
        if (n == 0) {
            eof = true;
        }
        return n;
    }

    /// fill() for a push transport: nothing to read now, the transport delivers.
    std::ptrdiff_t fill_from_completions() {
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
            receiving = t->start_receive(*this);
        }
        return -1;
    }

    void on_data(std::span<const char> data) override {
        if (closing) {
            return; // the read side ended with close()
        }
        reserve(data.size());
        std::memcpy(rbuf.get() + rend, data.data(), data.size());
        rend += data.size();
        if (buffered() > pause_at()) {
            receiving = false; // the next read that finds the buffer short resumes
            t->pause_receive();
        }
        wake_reader();
    }

    void on_end(int error) noexcept override {
        receiving = false;
        if (error == 0) {
            eof = true;
        } else {
            read_errno = error;
        }
        wake_reader();
    }

    void wake_reader() noexcept {
        if (waiter* w = std::exchange(data_waiter, nullptr)) {
            wake(*w);
        }
    }

    /// Where a read that found nothing waits, after fill()/read_direct() returned -1:
    /// - push (receives_in_background): `co_await wait_more()` parks until the transport
    ///   delivers; the operation then looks at the buffer again;
    /// - pull over an fd (transport::readable_fd): `co_await wait_more()` waits for the fd
    ///   itself, with no coroutine frame; the operation then tries the transport again;
    /// - pull (`coroutine_reads`): the operation awaits the transport's read into the
    ///   buffer's room or the caller's memory (read_coroutine).
    class read_wait {
    public:
        explicit read_wait(stream_state& s) noexcept
            : m_state(&s), m_fd(*s.loop, s.ready_fd, true) {}
        read_wait(const read_wait&) = delete;
        read_wait& operator=(const read_wait&) = delete;
        ~read_wait() {
            if (m_parked && m_state->data_waiter == &m_waiter) {
                m_state->data_waiter = nullptr;
            }
        }
        bool await_ready() const noexcept { return false; }
        bool await_suspend(std::coroutine_handle<> h) {
            if (!m_state->push_reads) {
                return m_fd.await_suspend(h);
            }
            m_waiter.handle = h;
            m_waiter.on_cancel = &on_cancel;
            m_waiter.context = this;
            m_waiter.describe = &describe;
            if (!park(m_waiter)) {
                return false;
            }
            m_state->data_waiter = &m_waiter;
            m_parked = true;
            return true;
        }
        void await_resume() {
            if (!m_state->push_reads) {
                // The loop has polled since the fd was found drained, so the transport's
                // try_read asks the fd again.
                m_fd.await_resume();
                return;
            }
            m_parked = false;
            m_waiter.check_cancelled();
        }

    private:
        static bool on_cancel(waiter& w) noexcept;
        static void describe(const waiter& w, std::string& out);

        stream_state* m_state;
        wait_fd m_fd;
        waiter m_waiter;
        bool m_parked = false;
    };
    read_wait wait_more() noexcept { return read_wait(*this); }

    /// `co_await read_with_transport(into)`: the transport's read coroutine into `into`
    /// (its count, 0 at the end), for `coroutine_reads`. Out of line, so that the code of
    /// the operations, where the other two ways are hot, stays small.
    class read_coroutine {
    public:
        explicit read_coroutine(task<std::size_t> t) noexcept : m_read(std::move(t)) {}
        bool await_ready() const noexcept { return false; }
        template <class P>
        [[gnu::noinline]] std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
            auto inner = m_read.operator co_await();
            (void)inner.await_ready();
            return inner.await_suspend(h);
        }
        [[gnu::noinline]] std::ptrdiff_t await_resume() {
            return static_cast<std::ptrdiff_t>(m_read.operator co_await().await_resume());
        }

    private:
        task<std::size_t> m_read;
    };
    read_coroutine read_with_transport(std::span<char> into) {
        return read_coroutine(t->read(into));
    }

    /// asyncio's transport reads in the background (until its buffer holds twice the
    /// limit), so what has arrived is in the reader's buffer and an end of stream behind
    /// the last data is known. A push transport does the same; a pull transport reads only
    /// when a call needs it, so where the difference shows (at_eof(), a limit overrun) the
    /// stream catches up with what has arrived: these two calls.

    /// Read what has arrived into the buffer (up to pause_at() buffered), without waiting;
    /// sets `eof` if the stream has ended. \throws what the transport throws.
    void catch_up();
    /// True if the peer's end of stream has arrived and nothing is buffered (asyncio:
    /// "the buffer is empty and feed_eof() was called"), as far as the transport can tell
    /// without reading (transport::eof_arrived).
    bool eof_arrived() noexcept;

    // --- writing ---

    [[nodiscard]] std::size_t pending() const noexcept {
        return wbuf.size() + sending.size() - soff;
    }

    void check_writable(const char* operation) const;
    void write(const char* data, std::size_t size);
    void write_eof();

    /// The connection broke: drop what is buffered and tell drain().
    void write_failed(std::exception_ptr error) noexcept;
    void write_failed(int err) noexcept {
        write_failed(std::make_exception_ptr(
            std::system_error(err, std::generic_category(), "write " + name)));
    }

    /// Submitted writes: the transport holds `sending` (from soff) until it reports the
    /// write done; writes meanwhile append to `wbuf`, which becomes `sending` next. The
    /// write in flight holds a reference to the stream.
    void submit_send();
    void on_written(std::ptrdiff_t result) override;

    void start_flush();
    void after_flush() noexcept;
    void shutdown_write() noexcept;

    // --- closing ---

    /// Close the transport now and wake everyone waiting.
    void finish_close(bool dropping = false) noexcept;
    void close() noexcept;
    /// close() while the flush goes on: reading ends now, not when the transport closes
    /// (which waits for a peer that may never read).
    void end_reading() noexcept;
    void abort() noexcept;
    /// What drain() throws after abort().
    [[noreturn]] void throw_aborted() const;

    event_loop* loop;
    std::unique_ptr<transport> t;
    std::string name;
    std::size_t limit;
    unsigned refs = 1;
    /// Fixed when the transport is adopted (see the file comment and read_wait).
    bool push_reads = false;
    int ready_fd = -1;
    bool coroutine_reads = false;
    bool submit_writes = false;
    bool has_read_side = false;
    bool has_write_side = false;
    /// The transport, when it is corio's own fd transport: the hot calls (try_read,
    /// try_write) then go to it directly, inlined, instead of through the vtable.
    fd_transport* fd_fast = nullptr;

    std::unique_ptr<char[]> rbuf;
    std::size_t rcap = 0;
    std::size_t rbegin = 0;
    std::size_t rend = 0;
    bool eof = false;
    /// The last read into the buffer filled it to its end (see room()).
    bool last_read_filled = false;
    bool reading = false;
    /// The receive is running (started, not paused or ended).
    bool receiving = false;
    /// The error that ended the receive, for the next read.
    int read_errno = 0;
    waiter* data_waiter = nullptr;

    /// Written, not yet handed to the transport.
    std::string wbuf;
    /// Handed to the transport (a pending write or a submitted one), from soff.
    std::string sending;
    std::size_t soff = 0;
    /// The transport holds `sending` now.
    bool write_in_flight = false;
    std::size_t high_water = stream::default_high_water;
    std::size_t low_water = stream::default_high_water / 4;
    std::exception_ptr write_error;
    /// abort() ended the stream (and drain() says so); `dropped` bytes were still buffered.
    bool aborted = false;
    std::size_t dropped = 0;
    bool flushing = false;
    bool eof_requested = false;
    bool eof_sent = false;

    bool closing = false;
    bool closed = false;
    /// start_tls is flushing or handshaking: writes wait for it to finish (they throw).
    bool starting_tls = false;
    wait_queue drain_waiters{"a stream's write buffer to drain"};
    wait_queue closed_waiters{"a stream to close"};
};

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

} // namespace corio::detail
