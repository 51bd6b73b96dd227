// The stream conformance suite (trio's check_two_way_stream): every case runs on each kind
// of stream (TCP over 127.0.0.1 and ::1, a Unix socket, a duplex made of two pipes, and an
// in-memory pipe pair written as a user's transport), on a connected pair made with plain
// system calls (or memory_transport.hpp), and checks that the test leaves no fd open.

#include "memory_transport.hpp"
#include "support/net.hpp"
#include "support/tls.hpp"

#include "net/tls_records.hpp"

#include <corio/corio.hpp>
#include <corio/detail/frame_allocator.hpp>
#include <corio/detail/io.hpp>

#include <gtest/gtest.h>

#include <openssl/ssl.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <sys/ioctl.h>
#include <sys/socket.h>

using namespace std::chrono_literals;
using namespace corio_net_test;
using corio_test::contains;
using corio_test::yield_times;

// --- allocation counting (for read_into) -------------------------------------------------

namespace {
std::atomic<long> g_allocations{0};
} // namespace

void* operator new(std::size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

// --- helpers -----------------------------------------------------------------------------

using body_fn = corio::task<> (*)(stream_kind, stream_pair&);

/// For the memory kind: what the client has been sent and not read yet.
std::shared_ptr<memory_channel> g_client_channel;

/// TLS on both ends of a TCP pair: the client checks the server's certificate (the test CA's,
/// for localhost). Without Nagle's algorithm, as corio's own TCP connections (a TLS record
/// behind an unacknowledged one would otherwise wait for the peer's delayed ACK).
corio::task<> start_tls_pair(stream_pair& p, stream_kind kind) {
    p.client.set_nodelay();
    p.server.set_nodelay();
    corio::tls_context client = corio_test::client_context();
    corio::tls_context server = corio_test::server_context();
    if (kind == stream_kind::tls12) {
        SSL_CTX_set_max_proto_version(static_cast<SSL_CTX*>(server.native_handle()),
                                      TLS1_2_VERSION);
    }
    const std::uint64_t taken_over = corio::detail::tls13_records::connections_taken_over();
    auto accepting = corio::spawn(p.server.start_tls(server));
    co_await p.client.start_tls(client, {.server_hostname = "localhost"});
    co_await accepting;
    // TLS 1.3: both ends' records are corio's; TLS 1.2: OpenSSL's.
    EXPECT_EQ(corio::detail::tls13_records::connections_taken_over() - taken_over,
              kind == stream_kind::tls ? 2U : 0U);
}

corio::task<> run_body(stream_kind kind, std::size_t limit, body_fn body, bool real_deadline) {
    temp_dir dir;
    stream_pair p;
    if (is_tls_kind(kind)) {
        p = make_stream_pair(kind, dir, limit);
        co_await start_tls_pair(p, kind);
    } else if (kind == stream_kind::memory) {
        memory_pair m = make_memory_pair();
        g_client_channel = m.a_in;
        p.client = corio::stream(std::move(m.a), limit);
        p.server = corio::stream(std::move(m.b), limit);
    } else {
        p = make_stream_pair(kind, dir, limit);
    }
    if (real_deadline) {
        // A hang fails this case (after it is cancelled) instead of stalling the suite.
        co_await corio::fail_after(20s, body(kind, p));
    } else {
        co_await body(kind, p);
    }
}

/// Run `body` on a fresh pair of `kind` on a real-clock loop, bounded in time.
void run_pair(stream_kind kind, body_fn body, std::size_t limit = corio::stream::default_limit) {
    corio::run(run_body(kind, limit, body, true));
}

/// Run `body` on a fresh pair of `kind` on a virtual-clock loop (for timeouts).
void run_pair_virtual(stream_kind kind, body_fn body) {
    corio::run(run_body(kind, corio::stream::default_limit, body, false), virtual_time());
}

/// Bytes sent to `p.client` that it has not read yet: what the kernel holds for reading on
/// its fd, or what waits in its memory channel.
int bytes_for_client(const stream_pair& p) {
    if (p.client.fd() < 0 && g_client_channel) {
        return static_cast<int>(g_client_channel->data.size());
    }
    int n = 0;
    check_sys(::ioctl(p.client.fd(), FIONREAD, &n), "FIONREAD");
    return n;
}

/// Let the loop run until nothing sent to `p.client` waits for reading (a pending read took
/// it). Bounded: the loop polls I/O at least every io_poll_interval batches.
corio::task<> wait_consumed(const stream_pair& p) {
    for (int i = 0; i < 100000 && bytes_for_client(p) > 0; ++i) {
        co_await corio::sleep(0s);
    }
    EXPECT_EQ(bytes_for_client(p), 0) << "the pending read never took the bytes";
}

/// Let the loop run until at least `n` bytes sent to `p.client` wait for reading; bounded.
corio::task<> wait_arrived(const stream_pair& p, int n) {
    for (int i = 0; i < 100000 && bytes_for_client(p) < n; ++i) {
        co_await corio::sleep(0s);
    }
    EXPECT_GE(bytes_for_client(p), n) << "the bytes sent never arrived";
}

/// Let the loop run until `s` has handed everything written to the kernel; bounded.
corio::task<> wait_sent(const corio::stream& s) {
    for (int i = 0; i < 100000 && s.write_buffer_size() > 0; ++i) {
        co_await corio::sleep(0s);
    }
    EXPECT_EQ(s.write_buffer_size(), 0U) << "the write never left the buffer";
}

/// Let the loop run (I/O included) until `s.at_eof()`; bounded. Returns at_eof().
corio::task<bool> eventually_at_eof(const corio::stream& s) {
    for (int i = 0; i < 100000 && !s.at_eof(); ++i) {
        co_await corio::sleep(0s);
    }
    co_return s.at_eof();
}

corio::task<> send(corio::stream& s, std::string data) {
    s.write(data);
    co_await s.drain();
}

/// Read with read(64 KiB) until `n` bytes or end of stream.
corio::task<std::string> read_total(corio::stream& s, std::size_t n) {
    std::string out;
    while (out.size() < n) {
        std::string chunk = co_await s.read(64 * 1024);
        if (chunk.empty()) {
            break;
        }
        out += chunk;
    }
    co_return out;
}

/// Read until end of stream or an error; the byte count.
corio::task<std::size_t> count_until_end(corio::stream& s) {
    std::size_t n = 0;
    try {
        while (true) {
            std::string chunk = co_await s.read(64 * 1024);
            if (chunk.empty()) {
                break;
            }
            n += chunk.size();
        }
    } catch (const std::system_error&) {
        // a reset also ends it
    }
    co_return n;
}

/// Write 64 KiB chunks into `writer` until far more than its high water mark waits in the
/// stream's buffer; returns everything written. The sockets' kernel buffers are pinned at
/// 64 KiB first (which also turns off their autotuning), so the kernel cannot take what is
/// buffered while `reader`'s side reads nothing: a drain stays blocked until it does.
std::string fill_past_high_water(corio::stream& writer, const corio::stream& reader) {
    const int size = 64 * 1024;
    if (::setsockopt(writer.fd(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0) {
        check_sys(::setsockopt(reader.fd(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size),
                  "SO_RCVBUF");
    } // else pipes: 64 KiB already
    const std::size_t target = corio::stream::default_high_water + 1024 * 1024;
    std::string all;
    for (std::uint64_t i = 0; i < 1024 && writer.write_buffer_size() <= target; ++i) {
        std::string chunk = pattern(64 * 1024, i + 7);
        writer.write(chunk);
        all += chunk;
    }
    return all;
}

// --- the fixture -------------------------------------------------------------------------

class stream_conformance : public fd_leak_check, public ::testing::WithParamInterface<stream_kind> {
protected:
    void SetUp() override {
        fd_leak_check::SetUp();
        std::signal(SIGPIPE, SIG_DFL); // a write to a closed peer must not raise it
        if (GetParam() == stream_kind::tcp6 && !ipv6_loopback_available()) {
            GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
        }
    }
};

// --- reading -----------------------------------------------------------------------------

corio::task<> partial_reads(stream_kind, stream_pair& p) {
    co_await send(p.server, "abc");
    EXPECT_EQ(co_await p.client.read(100), "abc");
    co_await send(p.server, "defgh");
    EXPECT_EQ(co_await p.client.read(2), "de");
    EXPECT_EQ(co_await p.client.read(100), "fgh");
    EXPECT_EQ(co_await p.client.read(0), "");
    EXPECT_FALSE(p.client.at_eof());
}

TEST_P(stream_conformance, read_returns_what_is_there_up_to_max) {
    run_pair(GetParam(), partial_reads);
}

corio::task<> trickle(corio::stream& s, std::string data) {
    for (const char c : data) {
        s.write(std::string_view(&c, 1));
        co_await s.drain();
        co_await corio::sleep(0s);
    }
}

corio::task<> read_exactly_segments(stream_kind, stream_pair& p) {
    const std::string data = pattern(300, 3);
    auto writer = corio::spawn(trickle(p.server, data));
    EXPECT_EQ(co_await p.client.read_exactly(300), data);
    co_await writer;
}

TEST_P(stream_conformance, read_exactly_gathers_many_small_segments) {
    run_pair(GetParam(), read_exactly_segments);
}

corio::task<> write_pieces(corio::stream& s, std::vector<std::string> pieces, bool then_eof) {
    for (const std::string& piece : pieces) {
        s.write(piece);
        co_await s.drain();
        co_await yield_times(3);
    }
    if (then_eof) {
        s.write_eof();
    }
}

corio::task<> read_line_split(stream_kind, stream_pair& p) {
    std::vector<std::string> pieces = {"hel", "lo\nwor", "ld\n", "\n", "x", "y\nta", "il"};
    auto writer = corio::spawn(write_pieces(p.server, std::move(pieces), true));
    EXPECT_EQ(co_await p.client.read_line(), "hello\n");
    EXPECT_EQ(co_await p.client.read_line(), "world\n");
    EXPECT_EQ(co_await p.client.read_line(), "\n");
    EXPECT_EQ(co_await p.client.read_line(), "xy\n");
    EXPECT_EQ(co_await p.client.read_line(), "tail"); // end of stream in the middle
    EXPECT_EQ(co_await p.client.read_line(), "");
    EXPECT_EQ(co_await p.client.read_line(), "");
    EXPECT_TRUE(p.client.at_eof());
    co_await writer;
}

TEST_P(stream_conformance, read_line_joins_lines_split_over_packets) {
    run_pair(GetParam(), read_line_split);
}

corio::task<> eof_mid_line(stream_kind, stream_pair& p) {
    p.server.write("no newline");
    p.server.write_eof();
    EXPECT_EQ(co_await p.client.read_line(), "no newline");
    EXPECT_EQ(co_await p.client.read_line(), "");
    EXPECT_TRUE(p.client.at_eof());
}

TEST_P(stream_conformance, read_line_at_eof_returns_the_rest_then_empty) {
    run_pair(GetParam(), eof_mid_line);
}

corio::task<> eof_behind_data(stream_kind, stream_pair& p) {
    // The reader waits on the fd first, so the data and the end of stream that follow it
    // reach the reader in one readiness event.
    auto pending = corio::spawn(p.client.read(100));
    co_await yield_times(3);
    p.server.write("last words");
    p.server.write_eof();
    EXPECT_EQ(co_await pending, "last words");
    std::exception_ptr e = co_await error_of(corio::wait_for(p.client.read(100), 10s));
    EXPECT_FALSE(e) << "the read after the last bytes did not see end of stream: " << describe(e);
    EXPECT_TRUE(p.client.at_eof());
}

TEST_P(stream_conformance, eof_right_behind_the_last_bytes_is_seen) {
    run_pair(GetParam(), eof_behind_data);
}

corio::task<> read_exactly_eof(stream_kind, stream_pair& p) {
    p.server.write("abc");
    p.server.write_eof();
    bool thrown = false;
    try {
        (void)co_await p.client.read_exactly(10);
    } catch (const corio::incomplete_read_error& e) {
        thrown = true;
        EXPECT_EQ(e.partial(), "abc");
        EXPECT_EQ(e.expected(), 10U);
    }
    EXPECT_TRUE(thrown) << "read_exactly(10) on 3 bytes then EOF did not throw";
    EXPECT_EQ(co_await p.client.read(10), "");
    EXPECT_TRUE(p.client.at_eof());
    // Zero bytes are always there.
    EXPECT_EQ(co_await p.client.read_exactly(0), "");
}

TEST_P(stream_conformance, read_exactly_at_eof_throws_incomplete_read_with_partial) {
    run_pair(GetParam(), read_exactly_eof);
}

corio::task<> read_until_limit(stream_kind, stream_pair& p) {
    EXPECT_EQ(p.client.limit(), 16U);
    // The separator ends past the limit: an error, and the bytes stay readable.
    co_await send(p.server, "0123456789abcdefghij|rest\n");
    std::exception_ptr e = co_await error_of(p.client.read_until("|"));
    EXPECT_TRUE(holds<corio::limit_overrun_error>(e)) << describe(e);
    EXPECT_EQ(co_await p.client.read_exactly(21), "0123456789abcdefghij|");
    EXPECT_EQ(co_await p.client.read_line(), "rest\n");

    // No separator at all in more than limit() bytes: read_line fails the same way.
    const std::string xs(40, 'x');
    co_await send(p.server, xs + "\n");
    std::size_t consumed = 0;
    bool overrun = false;
    try {
        (void)co_await p.client.read_line();
    } catch (const corio::limit_overrun_error& err) {
        overrun = true;
        consumed = err.consumed();
    }
    EXPECT_TRUE(overrun) << "read_line over a 41-byte line with limit 16 did not throw";
    EXPECT_GT(consumed, 0U);
    EXPECT_LE(consumed, 41U);
    EXPECT_EQ(co_await p.client.read_exactly(41), xs + "\n");

    // A separator that ends exactly at the limit is fine.
    co_await send(p.server, "0123456789abcde|");
    EXPECT_EQ(co_await p.client.read_until("|"), "0123456789abcde|");
}

TEST_P(stream_conformance, read_until_past_limit_throws_and_keeps_the_data) {
    run_pair(GetParam(), read_until_limit, 16);
}

corio::task<> read_until_multibyte(stream_kind, stream_pair& p) {
    std::vector<std::string> pieces = {"ab\r", "\ncd\r", "\n", "ef\r\r\n"};
    auto writer = corio::spawn(write_pieces(p.server, std::move(pieces), true));
    EXPECT_EQ(co_await p.client.read_until("\r\n"), "ab\r\n");
    EXPECT_EQ(co_await p.client.read_until("\r\n"), "cd\r\n");
    EXPECT_EQ(co_await p.client.read_until("\r\n"), "ef\r\r\n");
    // End of stream before a separator: incomplete_read_error with what is left ("").
    std::exception_ptr e = co_await error_of(p.client.read_until("\r\n"));
    EXPECT_TRUE(holds<corio::incomplete_read_error>(e)) << describe(e);
    co_await writer;

    e = co_await error_of_call([&] { return p.client.read_until(""); });
    EXPECT_TRUE(holds<std::invalid_argument>(e)) << describe(e);
}

TEST_P(stream_conformance, read_until_finds_a_separator_split_over_packets) {
    run_pair(GetParam(), read_until_multibyte);
}

corio::task<> read_until_eof_partial(stream_kind, stream_pair& p) {
    p.server.write("abc");
    p.server.write_eof();
    bool thrown = false;
    try {
        (void)co_await p.client.read_until("|");
    } catch (const corio::incomplete_read_error& e) {
        thrown = true;
        EXPECT_EQ(e.partial(), "abc");
    }
    EXPECT_TRUE(thrown);
}

TEST_P(stream_conformance, read_until_at_eof_throws_incomplete_read_with_the_rest) {
    run_pair(GetParam(), read_until_eof_partial);
}

corio::task<> read_all(stream_kind, stream_pair& p) {
    const std::string a = pattern(1000, 1);
    const std::string b = pattern(70000, 2);
    const std::string c = "end";
    p.server.write(a);
    p.server.write(b);
    p.server.write(c);
    p.server.close();
    EXPECT_EQ(co_await p.client.read_all(), a + b + c);
    EXPECT_TRUE(p.client.at_eof());
    EXPECT_EQ(co_await p.client.read_all(), "");
    co_await p.server.wait_closed();
}

TEST_P(stream_conformance, read_all_reads_to_end_of_stream) {
    run_pair(GetParam(), read_all);
}

corio::task<> at_eof_states(stream_kind, stream_pair& p) {
    EXPECT_FALSE(p.client.at_eof());
    p.server.write("ab");
    p.server.write_eof();
    EXPECT_EQ(co_await p.client.read(1), "a");
    EXPECT_FALSE(p.client.at_eof()); // "b" is still to be read
    EXPECT_EQ(co_await p.client.read(1), "b");
    EXPECT_EQ(co_await p.client.read(1), "");
    EXPECT_TRUE(p.client.at_eof());
    EXPECT_EQ(co_await p.client.read(1), "");
}

TEST_P(stream_conformance, at_eof_is_true_once_eof_is_seen_and_the_buffer_is_empty) {
    run_pair(GetParam(), at_eof_states);
}

corio::task<> at_eof_after_last_line(stream_kind, stream_pair& p) {
    // asyncio (python3 3.11): after the last readline() of a peer that has sent EOF,
    // at_eof() is true (the EOF was fed and the buffer is empty), with no read past it.
    p.server.write("line1\nlast\n");
    p.server.write_eof();
    EXPECT_EQ(co_await p.client.read_line(), "line1\n");
    EXPECT_FALSE(p.client.at_eof()); // "last\n" is still to be read
    EXPECT_EQ(co_await p.client.read_line(), "last\n");
    EXPECT_TRUE(co_await eventually_at_eof(p.client))
        << "at_eof() stays false after the last line of a peer that sent EOF";
    EXPECT_EQ(co_await p.client.read_line(), "");
}

TEST_P(stream_conformance, at_eof_is_true_after_the_last_line_of_a_peer_that_sent_eof) {
    run_pair(GetParam(), at_eof_after_last_line);
}

corio::task<> overrun_then_separator(stream_kind kind, stream_pair& p) {
    const std::string xs(40, 'x');
    co_await send(p.server, xs);
    std::exception_ptr e = co_await error_of(p.client.read_until("|"));
    EXPECT_TRUE(holds<corio::limit_overrun_error>(e)) << describe(e);
    EXPECT_TRUE(contains(describe(e), "not found")) << describe(e);
    // The separator arrives after the overrun; let it reach the client: the stream's buffer
    // (completion-based receive) or the kernel (readiness-based).
    p.server.write("|tail\n");
    co_await wait_sent(p.server);
    corio::event_loop& loop = corio::get_running_loop();
    if (loop.supports_recv() && kind != stream_kind::memory) {
        co_await wait_consumed(p);
        // The receive that took the bytes is reaped by the next poll at the latest.
        const std::uint64_t mark = loop.io_poll_count();
        while (loop.io_poll_count() < mark + 2) {
            co_await corio::sleep(0s);
        }
    } else {
        co_await wait_arrived(p, 6);
    }
    // asyncio (python3 3.11) reads in the background, so readuntil() finds the separator
    // that has arrived, past the limit: "Separator is found, but chunk is longer than
    // limit", consumed 40, the buffer kept.
    e = co_await error_of(p.client.read_until("|"));
    EXPECT_TRUE(holds<corio::limit_overrun_error>(e)) << describe(e);
    EXPECT_TRUE(contains(describe(e), "separator is found")) << describe(e);
    try {
        if (e) {
            std::rethrow_exception(e);
        }
    } catch (const corio::limit_overrun_error& err) {
        EXPECT_EQ(err.consumed(), 40U);
    } catch (...) {
    }
    EXPECT_EQ(co_await p.client.read(100), xs + "|tail\n");
}

TEST_P(stream_conformance, read_until_after_an_overrun_finds_the_separator_that_has_arrived) {
    run_pair(GetParam(), overrun_then_separator, 16);
}

corio::task<std::size_t> read_into_chunks(corio::stream& s, std::size_t n, std::string& out) {
    std::vector<char> buf(4096);
    std::size_t calls = 0;
    while (out.size() < n) {
        const std::size_t got = co_await s.read_into(std::span<char>(buf));
        if (got == 0) {
            break;
        }
        out.append(buf.data(), got);
        ++calls;
    }
    co_return calls;
}

corio::task<> read_into_case(stream_kind kind, stream_pair& p) {
    co_await send(p.server, "hello world");
    char small[5];
    EXPECT_EQ(co_await p.client.read_into(std::span<char>(small)), 5U);
    EXPECT_EQ(std::string(small, 5), "hello");
    char big[64];
    EXPECT_EQ(co_await p.client.read_into(std::span<char>(big)), 6U);
    EXPECT_EQ(std::string(big, 6), " world");
    EXPECT_EQ(co_await p.client.read_into(std::span<char>(big, 0)), 0U);

    // Once warm (frame pools filled, the fd registered), a read_into allocates nothing,
    // whether the bytes are there already or it has to wait for them. (Under sanitizers
    // the frame pool steps aside, and the call's coroutine frame comes from operator new;
    // so does, while it waits, the frame of the memory transport's read, a coroutine, and
    // those of the TLS transport's read and its wait for ciphertext when a background
    // receive delivers it: on io_uring, even bytes sent before the call may still be on
    // their way to the TLS transport when it is made.)
    const long tls_frames =
        !CORIO_FRAME_POOL && is_tls_kind(kind) && corio::get_running_loop().supports_recv() ? 2 : 0;
    const long frame_allocations = (CORIO_FRAME_POOL ? 0 : 1) + tls_frames;
    const long waiting_allocations =
        frame_allocations + (!CORIO_FRAME_POOL && kind == stream_kind::memory ? 1 : 0);
    for (int round = 0; round < 3; ++round) {
        co_await send(p.server, "0123456789");
        co_await yield_times(2);
        const long before = g_allocations.load();
        const std::size_t got = co_await p.client.read_into(std::span<char>(big));
        const long after = g_allocations.load();
        EXPECT_EQ(got, 10U);
        EXPECT_EQ(std::string(big, got), "0123456789");
        if (round > 0) {
            EXPECT_LE(after - before, frame_allocations)
                << "read_into allocated (data already there)";
        }
    }
    for (int round = 0; round < 3; ++round) {
        long during = 0;
        auto reader = [](corio::stream& s, std::span<char> out,
                         long& allocations) -> corio::task<std::size_t> {
            const long before = g_allocations.load();
            const std::size_t got = co_await s.read_into(out);
            allocations = g_allocations.load() - before;
            co_return got;
        };
        auto h = corio::spawn(reader(p.client, std::span<char>(big), during));
        co_await yield_times(3); // parked, waiting for the fd
        const long spawn_noise = g_allocations.load();
        co_await send(p.server, "abcdefghij");
        const long send_allocs = g_allocations.load() - spawn_noise;
        const std::size_t got = co_await h;
        EXPECT_EQ(got, 10U);
        EXPECT_EQ(std::string(big, got), "abcdefghij");
        if (round > 0) {
            // The count spans the writer's send too; anything it allocated is excluded.
            EXPECT_LE(during - send_allocs, waiting_allocations)
                << "read_into allocated while waiting";
        }
    }

    // Bigger than the caller's span: many calls, every byte in order.
    const std::string data = pattern(100000, 9);
    p.server.write(data);
    std::string got;
    const std::size_t calls = co_await read_into_chunks(p.client, data.size(), got);
    EXPECT_EQ(got, data);
    EXPECT_GE(calls, data.size() / 4096);
    p.server.write_eof();
    EXPECT_EQ(co_await p.client.read_into(std::span<char>(big)), 0U);
}

TEST_P(stream_conformance, read_into_fills_the_callers_buffer_without_allocating) {
    run_pair(GetParam(), read_into_case);
}

corio::task<> concurrent_reads(stream_kind, stream_pair& p) {
    auto first = corio::spawn(p.client.read(10));
    co_await yield_times(3);
    std::exception_ptr e = co_await error_of_call([&] { return p.client.read(10); });
    EXPECT_TRUE(holds<corio::invalid_state_error>(e)) << describe(e);
    co_await send(p.server, "one");
    EXPECT_EQ(co_await first, "one");
}

TEST_P(stream_conformance, a_second_concurrent_read_is_an_invalid_state_error) {
    run_pair(GetParam(), concurrent_reads);
}

// --- the buffer seam: buffered, consume, fill ------------------------------------------------

/// One CRLF-terminated line parsed in the stream's buffer (without its CRLF), as a protocol
/// parser does; empty at end of stream before a full line.
corio::task<std::optional<std::string>> line_in_place(corio::stream& s, std::size_t max) {
    while (true) {
        const std::string_view b = s.buffered();
        if (const auto at = b.find("\r\n"); at != std::string_view::npos) {
            std::string line(b.substr(0, at));
            s.consume(at + 2);
            co_return line;
        }
        if (co_await s.fill(max) == 0) {
            co_return std::nullopt;
        }
    }
}

corio::task<> parse_in_place(stream_kind, stream_pair& p) {
    EXPECT_TRUE(p.client.buffered().empty());
    std::vector<std::string> pieces = {"GET / HT", "TP/1.1\r\nHo", "st: x\r", "\n\r\nbody"};
    auto writer = corio::spawn(write_pieces(p.server, std::move(pieces), true));
    EXPECT_EQ(co_await line_in_place(p.client, 64), "GET / HTTP/1.1");
    EXPECT_EQ(co_await line_in_place(p.client, 64), "Host: x");
    EXPECT_EQ(co_await line_in_place(p.client, 64), "");
    EXPECT_EQ(co_await line_in_place(p.client, 64), std::nullopt); // "body", then the end
    EXPECT_EQ(p.client.buffered(), "body");
    EXPECT_FALSE(p.client.at_eof());
    EXPECT_EQ(co_await p.client.fill(64), 0U); // still the end
    p.client.consume(4);
    EXPECT_TRUE(p.client.buffered().empty());
    EXPECT_TRUE(p.client.at_eof());
    EXPECT_EQ(co_await p.client.read(10), "");
    co_await writer;
}

TEST_P(stream_conformance, a_parser_reads_in_the_buffer_with_buffered_consume_and_fill) {
    run_pair(GetParam(), parse_in_place);
}

corio::task<> seam_errors(stream_kind, stream_pair& p) {
    co_await send(p.server, "abcdef");
    while (p.client.buffered().size() < 6) {
        EXPECT_GT(co_await p.client.fill(100), 0U);
    }
    EXPECT_EQ(p.client.buffered(), "abcdef");
    EXPECT_THROW(p.client.consume(7), std::invalid_argument);
    EXPECT_EQ(p.client.buffered(), "abcdef");
    std::exception_ptr e = co_await error_of_call([&] { return p.client.fill(6); });
    EXPECT_TRUE(holds<std::invalid_argument>(e)) << describe(e);
    e = co_await error_of_call([&] { return p.client.fill(0); });
    EXPECT_TRUE(holds<std::invalid_argument>(e)) << describe(e);
    p.client.consume(2);
    EXPECT_EQ(p.client.buffered(), "cdef");
    // Reads and the seam share the buffer.
    EXPECT_EQ(co_await p.client.read(2), "cd");
    EXPECT_EQ(p.client.buffered(), "ef");
    p.client.consume(0);
    EXPECT_EQ(co_await p.client.read_exactly(2), "ef");
    EXPECT_TRUE(p.client.buffered().empty());

    // fill is a read: one reader at a time, and nobody consumes under a pending read.
    auto pending = corio::spawn(p.client.fill(100));
    co_await yield_times(3);
    e = co_await error_of_call([&] { return p.client.read(1); });
    EXPECT_TRUE(holds<corio::invalid_state_error>(e)) << describe(e);
    e = co_await error_of_call([&] { return p.client.fill(100); });
    EXPECT_TRUE(holds<corio::invalid_state_error>(e)) << describe(e);
    EXPECT_THROW(p.client.consume(0), corio::invalid_state_error);
    co_await send(p.server, "g");
    EXPECT_EQ(co_await pending, 1U);
    EXPECT_EQ(p.client.buffered(), "g");
}

TEST_P(stream_conformance, consume_and_fill_reject_what_they_cannot_do) {
    run_pair(GetParam(), seam_errors);
}

corio::task<> fill_bounded(stream_kind kind, stream_pair& p) {
    const std::string data = pattern(1000, 5);
    co_await send(p.server, data);
    p.server.write_eof();
    // A transport that receives in the background (io_uring) may have buffered more than
    // asked already; one that reads on demand never goes past max_buffered.
    const bool on_demand =
        !corio::get_running_loop().supports_recv() || kind == stream_kind::memory;
    std::size_t total = 0;
    while (true) {
        const std::size_t before = p.client.buffered().size();
        const std::size_t n = co_await p.client.fill(before + 10);
        EXPECT_EQ(p.client.buffered().size(), before + n);
        if (on_demand) {
            EXPECT_LE(n, 10U);
        }
        if (n == 0) {
            break;
        }
        total += n;
        if (p.client.buffered().size() >= 300) {
            const std::size_t consumed = total - p.client.buffered().size();
            const std::string got = co_await p.client.read(300);
            EXPECT_EQ(got, data.substr(consumed, 300));
        }
    }
    EXPECT_EQ(total, data.size());
    EXPECT_EQ(std::string(p.client.buffered()),
              data.substr(data.size() - p.client.buffered().size()));
}

TEST_P(stream_conformance, fill_never_buffers_past_max_buffered) {
    run_pair(GetParam(), fill_bounded);
}

corio::task<> cancel_fill(stream_kind, stream_pair& p) {
    co_await send(p.server, "ab");
    while (p.client.buffered().size() < 2) {
        (void)co_await p.client.fill(100);
    }
    auto pending = corio::spawn(p.client.fill(100));
    co_await yield_times(3);
    pending.cancel();
    std::exception_ptr e = co_await error_of(pending);
    EXPECT_TRUE(holds<corio::cancelled_error>(e)) << describe(e);
    EXPECT_EQ(p.client.buffered(), "ab");
    co_await send(p.server, "cd");
    EXPECT_EQ(co_await p.client.read_exactly(4), "abcd");

    // close() ends a pending fill with end of stream.
    auto ended = corio::spawn(p.client.fill(100));
    co_await yield_times(3);
    p.client.close();
    EXPECT_EQ(co_await ended, 0U);
    co_await p.client.wait_closed();
}

TEST_P(stream_conformance, a_cancelled_fill_loses_nothing) {
    run_pair(GetParam(), cancel_fill);
}

// --- writing -----------------------------------------------------------------------------

corio::task<> large_write(stream_kind, stream_pair& p) {
    const std::string big = pattern(8 * 1024 * 1024, 11);
    auto reader = corio::spawn(read_total(p.client, big.size()));
    p.server.write(big); // never blocks: the rest waits in the stream's buffer
    co_await p.server.drain();
    const std::string got = co_await reader;
    EXPECT_EQ(got.size(), big.size());
    EXPECT_TRUE(got == big) << "the 8 MiB arrived changed";
    EXPECT_EQ(p.server.write_buffer_size(), 0U);
    p.server.close();
    co_await p.server.wait_closed();
    EXPECT_EQ(co_await p.client.read(1), "");
}

TEST_P(stream_conformance, a_write_larger_than_the_socket_buffer_arrives_whole) {
    run_pair(GetParam(), large_write);
}

corio::task<> span_write(stream_kind, stream_pair& p) {
    const std::byte bytes[] = {std::byte{0}, std::byte{0xFF}, std::byte{'\n'}, std::byte{7}};
    p.client.write(std::span<const std::byte>(bytes));
    co_await p.client.drain();
    const std::string got = co_await p.server.read_exactly(4);
    EXPECT_EQ(got, std::string("\0\xFF\n\7", 4));
}

TEST_P(stream_conformance, write_takes_a_span_of_bytes) {
    run_pair(GetParam(), span_write);
}

corio::task<> backpressure(stream_kind, stream_pair& p) {
    co_await p.client.drain(); // nothing buffered: at once
    const std::string all = fill_past_high_water(p.client, p.server);
    EXPECT_GT(p.client.write_buffer_size(), corio::stream::default_high_water + 1024 * 1024)
        << "could not fill the kernel's buffers with " << all.size() << " bytes";

    auto drained = corio::spawn(p.client.drain());
    co_await yield_times(5);
    EXPECT_FALSE(drained.done()) << "drain returned while the peer reads nothing";

    auto reader = corio::spawn(read_total(p.server, all.size()));
    co_await drained;
    EXPECT_LE(p.client.write_buffer_size(), corio::stream::default_high_water / 4);
    const std::string got = co_await reader;
    EXPECT_EQ(got.size(), all.size());
    EXPECT_TRUE(got == all);
}

TEST_P(stream_conformance, drain_waits_while_the_peer_does_not_read) {
    run_pair(GetParam(), backpressure);
}

corio::task<> water_marks(stream_kind, stream_pair& p) {
    EXPECT_THROW(p.client.set_write_buffer_limits(10, 20), std::invalid_argument);
    p.client.set_write_buffer_limits(1024 * 1024, 0);
    // With a 1 MiB high mark, 1 MiB over the kernel's buffers does not hold the writer.
    std::string all;
    for (std::uint64_t i = 0; i < 1024 && p.client.write_buffer_size() == 0; ++i) {
        std::string chunk = pattern(16 * 1024, i);
        p.client.write(chunk);
        all += chunk;
    }
    EXPECT_GT(p.client.write_buffer_size(), 0U);
    EXPECT_LE(p.client.write_buffer_size(), 1024U * 1024U);
    co_await p.client.drain(); // at or below the high mark: returns at once
    // Low mark 0: a drain that waits returns only when everything is handed over.
    std::string more = pattern(2 * 1024 * 1024, 99);
    p.client.write(more);
    all += more;
    auto reader = corio::spawn(read_total(p.server, all.size()));
    co_await p.client.drain();
    EXPECT_EQ(p.client.write_buffer_size(), 0U);
    const std::string got = co_await reader;
    EXPECT_TRUE(got == all);
}

TEST_P(stream_conformance, set_write_buffer_limits_moves_the_water_marks) {
    run_pair(GetParam(), water_marks);
}

corio::task<> half_close(stream_kind, stream_pair& p) {
    EXPECT_TRUE(p.client.can_write_eof());
    p.client.write("request");
    p.client.write_eof();
    EXPECT_THROW(p.client.write("more"), corio::invalid_state_error);
    EXPECT_EQ(co_await p.server.read_all(), "request");
    EXPECT_TRUE(p.server.at_eof());
    // The other direction still works.
    p.server.write("response");
    co_await p.server.drain();
    EXPECT_EQ(co_await p.client.read_exactly(8), "response");
    p.server.write_eof();
    EXPECT_EQ(co_await p.client.read_all(), "");
    EXPECT_TRUE(p.client.at_eof());
}

TEST_P(stream_conformance, write_eof_half_closes_and_the_peer_can_still_answer) {
    run_pair(GetParam(), half_close);
}

corio::task<> write_eof_flushes(stream_kind, stream_pair& p) {
    const std::string all = fill_past_high_water(p.client, p.server);
    p.client.write_eof(); // after the buffered bytes
    const std::string got = co_await p.server.read_all();
    EXPECT_EQ(got.size(), all.size());
    EXPECT_TRUE(got == all);
}

TEST_P(stream_conformance, write_eof_sends_eof_after_the_buffered_data) {
    run_pair(GetParam(), write_eof_flushes);
}

// --- cancellation ------------------------------------------------------------------------

corio::task<> cancel_read(stream_kind, stream_pair& p) {
    auto pending = corio::spawn(p.client.read(100));
    co_await yield_times(3);
    pending.cancel();
    std::exception_ptr e = co_await error_of(pending);
    EXPECT_TRUE(holds<corio::cancelled_error>(e)) << describe(e);
    co_await send(p.server, "after");
    EXPECT_EQ(co_await p.client.read(100), "after");

    // A read_exactly cancelled half-way keeps what it had received for the next read.
    auto half = corio::spawn(p.client.read_exactly(10));
    co_await yield_times(3);
    co_await send(p.server, "01234");
    co_await wait_consumed(p);
    EXPECT_FALSE(half.done());
    half.cancel();
    e = co_await error_of(half);
    EXPECT_TRUE(holds<corio::cancelled_error>(e)) << describe(e);
    co_await send(p.server, "56789");
    EXPECT_EQ(co_await p.client.read_exactly(10), "0123456789");

    // Same for read_line.
    auto line = corio::spawn(p.client.read_line());
    co_await yield_times(3);
    co_await send(p.server, "par");
    co_await wait_consumed(p);
    line.cancel();
    e = co_await error_of(line);
    EXPECT_TRUE(holds<corio::cancelled_error>(e)) << describe(e);
    co_await send(p.server, "tial\n");
    EXPECT_EQ(co_await p.client.read_line(), "partial\n");
}

TEST_P(stream_conformance, a_cancelled_read_loses_no_data) {
    run_pair(GetParam(), cancel_read);
}

corio::task<> read_timeout(stream_kind, stream_pair& p) {
    co_await send(p.server, "01234");
    const auto start = corio::get_running_loop().time();
    std::exception_ptr e = co_await error_of(corio::wait_for(p.client.read_exactly(10), 5s));
    EXPECT_TRUE(holds<corio::timeout_error>(e)) << describe(e);
    EXPECT_EQ(corio::get_running_loop().time() - start, 5s);
    co_await send(p.server, "56789");
    auto rest = co_await corio::wait_for(p.client.read_exactly(10), 5s);
    EXPECT_EQ(rest, "0123456789");
}

TEST_P(stream_conformance, a_read_that_times_out_keeps_its_bytes) {
    run_pair_virtual(GetParam(), read_timeout);
}

corio::task<> cancel_drain(stream_kind, stream_pair& p) {
    const std::string all = fill_past_high_water(p.client, p.server);
    auto drained = corio::spawn(p.client.drain());
    co_await yield_times(3);
    drained.cancel();
    std::exception_ptr e = co_await error_of(drained);
    EXPECT_TRUE(holds<corio::cancelled_error>(e)) << describe(e);
    EXPECT_GT(p.client.write_buffer_size(), 0U) << "the cancelled drain dropped the buffer";
    // The buffered bytes still go out, all of them, in order.
    auto reader = corio::spawn(read_total(p.server, all.size()));
    co_await p.client.drain();
    const std::string got = co_await reader;
    EXPECT_EQ(got.size(), all.size());
    EXPECT_TRUE(got == all);
}

TEST_P(stream_conformance, a_cancelled_drain_leaves_the_data_to_be_sent) {
    run_pair(GetParam(), cancel_drain);
}

corio::task<> drain_timeout(stream_kind, stream_pair& p) {
    const std::string all = fill_past_high_water(p.client, p.server);
    std::exception_ptr e = co_await error_of(corio::wait_for(p.client.drain(), 1h));
    EXPECT_TRUE(holds<corio::timeout_error>(e)) << describe(e);
    auto reader = corio::spawn(read_total(p.server, all.size()));
    co_await p.client.drain();
    EXPECT_TRUE(co_await reader == all);
}

TEST_P(stream_conformance, a_drain_that_times_out_leaves_the_data_to_be_sent) {
    run_pair_virtual(GetParam(), drain_timeout);
}

// --- closing -----------------------------------------------------------------------------

corio::task<> close_during_read(stream_kind, stream_pair& p) {
    auto pending = corio::spawn(p.client.read(100));
    auto pending_line = corio::spawn(p.server.read_line());
    co_await yield_times(3);
    p.client.close();
    EXPECT_TRUE(p.client.is_closing());
    EXPECT_EQ(co_await pending, "");
    // The peer sees end of stream.
    EXPECT_EQ(co_await pending_line, "");
    co_await p.client.wait_closed();
    EXPECT_THROW(p.client.write("x"), corio::invalid_state_error);
    p.client.close(); // idempotent
    co_await p.client.wait_closed();
}

TEST_P(stream_conformance, close_ends_a_pending_read_with_eof) {
    run_pair(GetParam(), close_during_read);
}

corio::task<> close_unflushable_during_read(stream_kind, stream_pair& p) {
    // The peer reads nothing, so close() cannot finish its flush: the read must still end.
    const std::string all = fill_past_high_water(p.client, p.server);
    auto pending = corio::spawn(p.client.read(100));
    co_await yield_times(3);
    EXPECT_FALSE(pending.done());
    p.client.close();
    EXPECT_EQ(co_await pending, "");
    EXPECT_TRUE(p.client.at_eof());
    EXPECT_EQ(co_await p.client.read(100), "");
    // The flush goes on: the peer gets everything, then end of stream.
    auto reader = corio::spawn(p.server.read_all());
    co_await p.client.wait_closed();
    const std::string got = co_await reader;
    EXPECT_EQ(got.size(), all.size());
    EXPECT_TRUE(got == all);
}

TEST_P(stream_conformance, close_ends_a_pending_read_while_the_write_buffer_cannot_flush) {
    run_pair(GetParam(), close_unflushable_during_read);
}

corio::task<> close_flushes(stream_kind, stream_pair& p) {
    const std::string all = fill_past_high_water(p.client, p.server);
    p.client.close(); // the rest goes out in the background
    auto reader = corio::spawn(p.server.read_all());
    co_await p.client.wait_closed();
    const std::string got = co_await reader;
    EXPECT_EQ(got.size(), all.size());
    EXPECT_TRUE(got == all);
}

TEST_P(stream_conformance, close_flushes_the_buffer_then_closes) {
    run_pair(GetParam(), close_flushes);
}

corio::task<> destructor_flushes(stream_kind, stream_pair& p) {
    std::string all;
    {
        corio::stream doomed = std::move(p.client);
        EXPECT_FALSE(p.client.valid());
        all = fill_past_high_water(doomed, p.server);
    }
    const std::string got = co_await p.server.read_all();
    EXPECT_EQ(got.size(), all.size());
    EXPECT_TRUE(got == all);
}

TEST_P(stream_conformance, destroying_a_stream_flushes_it_in_the_background) {
    run_pair(GetParam(), destructor_flushes);
}

corio::task<> abort_drops(stream_kind, stream_pair& p) {
    const std::string all = fill_past_high_water(p.client, p.server);
    p.client.abort();
    EXPECT_TRUE(p.client.is_closing());
    const std::size_t got = co_await count_until_end(p.server);
    EXPECT_LT(got, all.size()) << "abort() sent the buffered data";
    co_await p.client.wait_closed();
}

TEST_P(stream_conformance, abort_closes_at_once_dropping_the_buffer) {
    run_pair(GetParam(), abort_drops);
}

void expect_aborted(const std::exception_ptr& e, const char* which) {
    with_system_error(e, [which](const std::system_error& err) {
        EXPECT_EQ(err.code().value(), ECONNABORTED) << which << ": " << err.what();
        EXPECT_TRUE(contains(err.what(), "aborted")) << which << ": " << err.what();
        EXPECT_TRUE(contains(err.what(), "buffered bytes not yet sent"))
            << which << ": " << err.what();
    });
}

corio::task<> abort_fails_drain(stream_kind, stream_pair& p) {
    fill_past_high_water(p.client, p.server);
    auto drained = corio::spawn(p.client.drain());
    co_await yield_times(3);
    EXPECT_FALSE(drained.done()) << "drain returned while the peer reads nothing";
    p.client.abort();
    expect_aborted(co_await error_of(drained), "the pending drain");
    expect_aborted(co_await error_of(p.client.drain()), "a drain after abort()");
    co_await p.client.wait_closed(); // abort is not an error for wait_closed
}

TEST_P(stream_conformance, drain_after_abort_dropped_the_data_raises) {
    run_pair(GetParam(), abort_fails_drain);
}

corio::task<> peer_reset(stream_kind kind, stream_pair& p) {
    const std::string peer = p.client.peer_address().to_string();
    // Unread data at the peer when it closes makes it a reset (TCP and Unix alike); for
    // TCP, SO_LINGER 0 makes sure of it.
    co_await send(p.client, "never read");
    if (is_tcp_kind(kind)) {
        const linger l{1, 0};
        check_sys(::setsockopt(p.server.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l), "SO_LINGER");
    }
    auto pending = corio::spawn(p.client.read(100));
    co_await yield_times(3);
    p.server.abort();
    std::exception_ptr e = co_await error_of(pending);
    with_system_error(e, [&](const std::system_error& err) {
        EXPECT_EQ(err.code().value(), ECONNRESET) << err.what();
        EXPECT_TRUE(contains(err.what(), peer)) << err.what() << " does not name " << peer;
    });
}

TEST_P(stream_conformance, a_reset_by_the_peer_throws_econnreset_naming_the_peer) {
    if (!is_socket_kind(GetParam())) {
        GTEST_SKIP() << "pipes cannot be reset";
    }
    run_pair(GetParam(), peer_reset);
}

corio::task<> write_to_closed_peer(stream_kind kind, stream_pair& p) {
    const std::string peer = is_socket_kind(kind)          ? p.client.peer_address().to_string()
                             : kind == stream_kind::memory ? std::string("memory A")
                                                           : std::string("pipe A");
    p.server.close();
    co_await p.server.wait_closed();
    std::exception_ptr e;
    const std::string chunk(1024, 'z');
    for (int i = 0; i < 1000 && !e; ++i) {
        p.client.write(chunk);
        e = co_await error_of(p.client.drain());
        co_await yield_times(1);
    }
    with_system_error(e, [&](const std::system_error& err) {
        const int code = err.code().value();
        EXPECT_TRUE(code == EPIPE || code == ECONNRESET) << err.what();
        EXPECT_TRUE(contains(err.what(), peer)) << err.what() << " does not name " << peer;
    });
}

TEST_P(stream_conformance, writing_to_a_closed_peer_fails_in_drain_without_sigpipe) {
    run_pair(GetParam(), write_to_closed_peer);
}

// --- details -----------------------------------------------------------------------------

corio::task<> addresses(stream_kind kind, stream_pair& p) {
    if (kind == stream_kind::memory) {
        // A transport without an fd or addresses: the stream says so.
        EXPECT_EQ(p.client.fd(), -1);
        EXPECT_TRUE(p.client.peer_address().empty());
        EXPECT_TRUE(p.client.local_address().empty());
        bool thrown = false;
        try {
            p.client.set_nodelay();
        } catch (const std::system_error& e) {
            thrown = true;
            EXPECT_EQ(e.code().value(), ENOTSOCK) << e.what();
            EXPECT_TRUE(contains(e.what(), "memory A")) << e.what();
            EXPECT_TRUE(contains(e.what(), "not a TCP stream")) << e.what();
        }
        EXPECT_TRUE(thrown) << "set_nodelay on a memory transport did not throw";
        co_return;
    }
    EXPECT_GE(p.client.fd(), 0);
    EXPECT_GE(p.server.fd(), 0);
    if (!is_socket_kind(kind)) {
        EXPECT_TRUE(p.client.peer_address().empty());
        EXPECT_TRUE(p.client.local_address().empty());
        EXPECT_THROW(p.client.set_nodelay(), std::system_error);
        co_return;
    }
    EXPECT_EQ(p.client.peer_address(), p.server.local_address());
    EXPECT_EQ(p.server.peer_address(), p.client.local_address());
    if (is_tcp_kind(kind)) {
        const int family = kind == stream_kind::tcp6 ? AF_INET6 : AF_INET;
        EXPECT_EQ(p.client.peer_address().family(), family);
        EXPECT_NE(p.client.peer_address().port(), 0);
        p.client.set_nodelay(false);
        p.client.set_nodelay(true);
        int on = 0;
        socklen_t len = sizeof on;
        check_sys(::getsockopt(p.client.fd(), IPPROTO_TCP, TCP_NODELAY, &on, &len), "TCP_NODELAY");
        EXPECT_NE(on, 0);
    } else {
        EXPECT_EQ(p.client.peer_address().family(), AF_UNIX);
        EXPECT_THROW(p.client.set_nodelay(), std::system_error);
    }
}

TEST_P(stream_conformance, addresses_fd_and_nodelay) {
    run_pair(GetParam(), addresses);
}

corio::task<> moves(stream_kind, stream_pair& p) {
    corio::stream moved = std::move(p.client);
    EXPECT_FALSE(p.client.valid());
    EXPECT_TRUE(moved.valid());
    co_await send(p.server, "ping");
    EXPECT_EQ(co_await moved.read(10), "ping");
    p.client = std::move(moved);
    std::exception_ptr e = co_await error_of_call([&] { return moved.read(1); });
    EXPECT_TRUE(holds<corio::invalid_state_error>(e)) << describe(e);
    co_await send(p.client, "pong");
    EXPECT_EQ(co_await p.server.read(10), "pong");
}

TEST_P(stream_conformance, a_moved_stream_carries_on_and_the_moved_from_one_is_empty) {
    run_pair(GetParam(), moves);
}

std::string param_name(const ::testing::TestParamInfo<stream_kind>& info) {
    return kind_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(kinds, stream_conformance,
                         ::testing::Values(stream_kind::tcp4, stream_kind::tcp6,
                                           stream_kind::unix_socket, stream_kind::pipes,
                                           stream_kind::memory, stream_kind::tls,
                                           stream_kind::tls12),
                         param_name);

// --- outside the suite -------------------------------------------------------------------

corio::task<> empty_stream_throws() {
    corio::stream s;
    EXPECT_FALSE(s.valid());
    EXPECT_FALSE(static_cast<bool>(s));
    std::exception_ptr e = co_await error_of_call([&] { return s.read(1); });
    EXPECT_TRUE(holds<corio::invalid_state_error>(e)) << describe(e);
    EXPECT_THROW(s.write("x"), corio::invalid_state_error);
    EXPECT_THROW(s.close(), corio::invalid_state_error);
}

TEST(stream, an_empty_stream_throws_invalid_state_error) {
    corio::run(empty_stream_throws());
}

corio::task<> one_way_pipes() {
    int fds[2];
    check_sys(::pipe2(fds, O_CLOEXEC), "pipe2");
    corio::stream reader = corio::stream::from_pipes(fds[0], -1, "reader");
    corio::stream writer = corio::stream::from_pipes(-1, fds[1], "writer");
    EXPECT_FALSE(reader.can_write_eof());
    EXPECT_TRUE(writer.can_write_eof());
    EXPECT_EQ(writer.fd(), -1); // no fd to read from
    EXPECT_THROW(reader.write("x"), std::exception);
    writer.write("one way\n");
    writer.close();
    EXPECT_EQ(co_await reader.read_line(), "one way\n");
    EXPECT_EQ(co_await reader.read_line(), "");
    co_await writer.wait_closed();
}

TEST(stream, pipes_may_have_one_end_only) {
    const int before = count_fds();
    corio::run(one_way_pipes());
    EXPECT_EQ(count_fds(), before);
}

/// A user's transport over another one: counts the bytes, with only the required members
/// (no fast paths), so the stream awaits its read and write coroutines every time.
class counting_transport final : public corio::transport {
public:
    explicit counting_transport(std::unique_ptr<corio::transport> inner)
        : m_inner(std::move(inner)) {}
    corio::task<std::size_t> read(std::span<char> out) override {
        const std::size_t n = co_await m_inner->read(out);
        received += n;
        co_return n;
    }
    corio::task<std::size_t> write(std::span<const char> data) override {
        const std::size_t n = co_await m_inner->write(data);
        sent += n;
        co_return n;
    }
    void shutdown_write() override { m_inner->shutdown_write(); }
    void shutdown_read() noexcept override { m_inner->shutdown_read(); }
    void close() noexcept override { m_inner->close(); }
    std::string name() const override { return "counted " + m_inner->name(); }
    corio::socket_address peer_address() const override { return m_inner->peer_address(); }
    int fd() const noexcept override { return m_inner->fd(); }
    bool eof_arrived() noexcept override { return m_inner->eof_arrived(); }

    std::size_t received = 0;
    std::size_t sent = 0;

private:
    std::unique_ptr<corio::transport> m_inner;
};

corio::task<> counted_stream() {
    raw_fd listener = raw_tcp_listener("127.0.0.1", 1);
    raw_fd client = raw_connect(corio::socket_address::local_of(listener.get()));
    raw_fd accepted(check_sys(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC), "accept"));
    auto counting =
        std::make_unique<counting_transport>(corio::transport::from_socket(client.release()));
    counting_transport& counts = *counting;
    corio::stream c(std::move(counting), 16);
    corio::stream server = corio::stream::from_socket(accepted.release());
    EXPECT_EQ(c.limit(), 16U);
    EXPECT_EQ(c.peer_address(), server.local_address());
    EXPECT_TRUE(c.local_address().empty()); // not forwarded by this wrapper
    c.set_nodelay();                        // through the inner transport's fd

    c.write("hello");
    co_await c.drain();
    EXPECT_EQ(co_await server.read_exactly(5), "hello");
    server.write("line one\nline two\n");
    co_await server.drain();
    EXPECT_EQ(co_await c.read_line(), "line one\n");
    EXPECT_EQ(co_await c.read_line(), "line two\n");
    EXPECT_EQ(counts.sent, 5U);
    EXPECT_EQ(counts.received, 18U);

    // Backpressure and a big write go through the wrapper's write coroutine.
    const std::string big = pattern(4 * 1024 * 1024, 21);
    auto reader = corio::spawn(server.read_exactly(big.size()));
    c.write(big);
    co_await c.drain();
    EXPECT_TRUE(co_await reader == big);
    EXPECT_EQ(counts.sent, 5U + big.size());
    EXPECT_EQ(counts.received, 18U);

    // A read parked in the wrapper's read coroutine gets what arrives; at_eof() sees the end
    // of stream through the wrapper (eof_arrived) before a read returns it.
    auto pending = corio::spawn(c.read(10));
    co_await yield_times(3);
    server.write("x");
    EXPECT_EQ(co_await pending, "x");
    server.write_eof();
    EXPECT_TRUE(co_await eventually_at_eof(c));
    EXPECT_EQ(co_await c.read(10), "");
    c.close();
    co_await c.wait_closed();
    EXPECT_EQ(co_await server.read_all(), "");
}

TEST(stream, a_users_transport_wrapping_a_socket_transport_carries_the_whole_api) {
    const int before = count_fds();
    corio::run(counted_stream());
    EXPECT_EQ(count_fds(), before);
}

TEST(stream, a_stream_needs_a_transport) {
    corio::run([]() -> corio::task<> {
        EXPECT_THROW(corio::stream(std::unique_ptr<corio::transport>()), std::invalid_argument);
        co_return;
    }());
}

} // namespace
