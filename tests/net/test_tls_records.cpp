// corio's TLS 1.3 record layer, which takes over from OpenSSL after the handshake
// (src/net/tls_records.hpp): key updates both ways with OpenSSL itself as the peer, records
// tampered with on the wire, and what stays with OpenSSL.

#include "support/loop.hpp"
#include "support/net.hpp"
#include "support/tls.hpp"

#include "net/tls_records.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <functional>
#include <string>
#include <thread>

#include <sys/socket.h>

using namespace std::chrono_literals;
using corio::detail::tls13_records;
using corio_test::client_context;
using corio_test::contains;
using corio_test::server_context;
using namespace corio_net_test;

namespace {

class tls_records : public fd_leak_check {};

/// Sets how often corio's record layer updates its sending key, for one test.
struct key_update_interval {
    explicit key_update_interval(std::uint64_t records) {
        tls13_records::set_key_update_interval(records);
    }
    key_update_interval(const key_update_interval&) = delete;
    key_update_interval& operator=(const key_update_interval&) = delete;
    ~key_update_interval() { tls13_records::set_key_update_interval(std::uint64_t{1} << 24); }
};

/// OpenSSL itself, with blocking calls on its own thread, over the connected socket `fd`
/// (which it closes), for `rounds` lines. Each line, before it is sent, OpenSSL updates its
/// keys and asks corio to update its own. As a server it reads each line and sends it back;
/// as a client it sends each line and checks it comes back. Then close_notify. What went
/// wrong, or "".
std::string openssl_peer(SSL_CTX* ctx, bool server, int fd, int rounds) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    std::string failure;
    auto fail = [&](const std::string& what) {
        const unsigned long e = ERR_get_error();
        failure = what + ": " + (e != 0 ? ERR_reason_error_string(e) : "no reason");
    };
    auto read_line = [&] {
        std::string line;
        char c = 0;
        while (c != '\n' && SSL_read(ssl, &c, 1) == 1) {
            line += c;
        }
        return line;
    };
    auto send_line = [&](const std::string& line) {
        if (SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) != 1) {
            fail("key update");
        } else if (SSL_write(ssl, line.data(), static_cast<int>(line.size())) !=
                   static_cast<int>(line.size())) {
            fail("write");
        }
    };
    if ((server ? SSL_accept(ssl) : SSL_connect(ssl)) != 1) {
        fail("handshake");
    } else if (SSL_version(ssl) != TLS1_3_VERSION) {
        failure = "not TLS 1.3";
    }
    for (int i = 0; i < rounds && failure.empty(); ++i) {
        if (server) {
            const std::string line = read_line();
            if (line.empty() || line.back() != '\n') {
                fail("read");
            } else {
                send_line(line);
            }
        } else {
            const std::string line = "line " + std::to_string(i) + "\n";
            send_line(line);
            if (failure.empty() && read_line() != line) {
                fail("read back line " + std::to_string(i));
            }
        }
    }
    if (failure.empty()) {
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ::close(fd);
    ERR_clear_error();
    return failure;
}

/// Sends `rounds` lines and checks each comes back; then reads to the end.
corio::task<> exchange_lines(corio::stream& s, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        const std::string line = "line " + std::to_string(i) + " " + std::string(100, 'x') + "\n";
        s.write(line);
        EXPECT_EQ(co_await corio::wait_for(s.read_line(), 30s), line);
    }
    EXPECT_EQ(co_await corio::wait_for(s.read_all(), 30s), "");
}

/// Forwards bytes between its clients and `target`; `tamper`, once set, changes the next
/// chunk going to `target` (then it is cleared).
struct relay {
    std::uint16_t target = 0;
    std::function<void(std::string&)> tamper;

    corio::task<> pump(corio::stream& from, corio::stream& to, bool to_target) {
        try {
            while (true) {
                std::string chunk = co_await from.read(65536);
                if (chunk.empty()) {
                    break;
                }
                if (to_target && tamper) {
                    std::exchange(tamper, nullptr)(chunk);
                }
                to.write(chunk);
                co_await to.drain();
            }
            to.write_eof();
        } catch (const std::exception&) {
            to.abort();
        }
    }

    corio::task<> serve(corio::stream client) {
        corio::stream server = co_await corio::open_connection("127.0.0.1", target);
        auto up = corio::spawn(pump(client, server, true));
        co_await pump(server, client, false);
        co_await up;
    }
};

/// A corio client sends a line through a relay that changes its record on the wire: the
/// server's read fails with `server_reason`, the client learns of it from the server's
/// alert, and the server goes on serving others.
corio::task<> tampered(std::function<void(std::string&)> tamper, std::string server_reason) {
    corio::tls_context sctx = server_context();
    std::string result;
    corio::event done;
    corio::server srv = co_await corio::start_server(
        [&](corio::stream s) -> corio::task<> {
            s.write("ready\n");
            co_await s.drain();
            try {
                result = "read " + co_await s.read_line();
                s.write(result);
                co_await s.drain();
            } catch (const corio::tls_error& e) {
                result = e.reason();
            }
            done.set();
        },
        "127.0.0.1", 0, {.tls = sctx});
    relay r{srv.port(), nullptr};
    corio::server middle = co_await corio::start_server(
        [&](corio::stream s) { return r.serve(std::move(s)); }, "127.0.0.1", 0);
    corio::tls_context cctx = client_context();
    {
        const std::uint64_t before = tls13_records::connections_taken_over();
        corio::stream c = co_await corio::open_connection("localhost", middle.port(),
                                                          {.family = AF_INET, .tls = cctx});
        // the server's handshake is done: the next record is under the application keys
        EXPECT_EQ(co_await corio::wait_for(c.read_line(), 30s), "ready\n");
        EXPECT_EQ(tls13_records::connections_taken_over() - before, 2U);
        r.tamper = std::move(tamper);
        c.write("hello\n");
        co_await c.drain();
        co_await corio::wait_for(done.wait(), 30s);
        EXPECT_EQ(result, server_reason);
        std::exception_ptr e = co_await error_of_call([&] { return c.read(100); });
        EXPECT_TRUE(corio_test::holds<corio::tls_error>(e)) << describe(e);
        EXPECT_TRUE(contains(describe(e), "alert")) << describe(e);
    }
    // The server goes on.
    {
        done.clear();
        corio::stream c = co_await corio::open_connection("localhost", srv.port(),
                                                          {.family = AF_INET, .tls = cctx});
        EXPECT_EQ(co_await corio::wait_for(c.read_line(), 30s), "ready\n");
        c.write("again\n");
        EXPECT_EQ(co_await corio::wait_for(c.read_line(), 30s), "read again\n");
        co_await corio::wait_for(done.wait(), 30s);
    }
    middle.close();
    srv.close();
    co_await srv.wait_closed();
    co_await middle.wait_closed();
}

} // namespace

TEST_F(tls_records, a_corio_client_follows_openssl_s_key_updates_and_makes_its_own) {
    const key_update_interval every(3);
    corio::tls_context sctx = server_context();
    raw_fd listener = raw_tcp_listener("127.0.0.1", 1);
    const std::uint16_t port = corio::socket_address::local_of(listener.get()).port();
    std::string failure = "not run";
    std::jthread peer([&] {
        const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
        failure = fd < 0 ? "accept"
                         : openssl_peer(static_cast<SSL_CTX*>(sctx.native_handle()), true, fd, 20);
    });
    corio::run([&]() -> corio::task<> {
        corio::tls_context cctx = client_context();
        const std::uint64_t before = tls13_records::connections_taken_over();
        corio::stream c =
            co_await corio::open_connection("localhost", port, {.family = AF_INET, .tls = cctx});
        EXPECT_EQ(tls13_records::connections_taken_over() - before, 1U);
        co_await exchange_lines(c, 20);
        c.close();
        co_await c.wait_closed();
    }());
    peer.join(); // (a std::jthread: joined also if the loop throws)
    EXPECT_EQ(failure, "");
}

TEST_F(tls_records, a_corio_server_follows_openssl_s_key_updates_and_makes_its_own) {
    const key_update_interval every(3);
    corio::tls_context cctx = client_context();
    std::string failure = "not run";
    std::jthread peer;
    corio::run([&]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        corio::event done;
        corio::server srv = co_await corio::start_server(
            [&](corio::stream s) -> corio::task<> {
                co_await echo_lines_and_close(std::move(s));
                done.set();
            },
            "127.0.0.1", 0, {.tls = sctx});
        raw_fd fd = raw_connect(corio::socket_address::from_ip("127.0.0.1", srv.port()));
        peer = std::jthread([&, fd = fd.release()] {
            failure = openssl_peer(static_cast<SSL_CTX*>(cctx.native_handle()), false, fd, 20);
        });
        co_await corio::wait_for(done.wait(), 30s);
        srv.close();
        co_await srv.wait_closed();
    }());
    peer.join(); // (a std::jthread: joined also if the loop throws)
    EXPECT_EQ(failure, "");
}

TEST_F(tls_records, corio_updates_its_keys_on_both_ends_under_a_megabyte_each_way) {
    const key_update_interval every(2);
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        corio::server srv = co_await corio::start_server(
            [](corio::stream s) -> corio::task<> {
                std::string all = co_await s.read_all();
                s.write(all);
                s.close();
                co_await s.wait_closed();
            },
            "127.0.0.1", 0, {.tls = sctx});
        corio::tls_context cctx = client_context();
        corio::stream c = co_await corio::open_connection("localhost", srv.port(),
                                                          {.family = AF_INET, .tls = cctx});
        const std::string data = pattern(1 << 20);
        c.write(data);
        c.write_eof();
        EXPECT_EQ(co_await corio::wait_for(c.read_all(), 30s), data);
        c.close();
        srv.close();
        co_await srv.wait_closed();
    }());
}

TEST_F(tls_records, a_record_changed_on_the_wire_is_a_bad_record_mac_for_that_connection_only) {
    corio::run(tampered([](std::string& chunk) { chunk.back() ^= 1; },
                        "decryption failed or bad record mac"));
}

TEST_F(tls_records, a_record_of_another_type_after_the_handshake_is_refused) {
    corio::run(tampered([](std::string& chunk) { chunk[0] = '\x16'; }, "unexpected record"));
}

TEST_F(tls_records, a_record_claiming_more_than_tls_allows_after_the_handshake_is_refused) {
    corio::run(
        tampered([](std::string& chunk) { chunk = std::string("\x17\x03\x03\xff\xff", 5) + chunk; },
                 "encrypted length too long"));
}

TEST_F(tls_records, tls_1_2_stays_with_openssl) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        SSL_CTX_set_max_proto_version(static_cast<SSL_CTX*>(sctx.native_handle()), TLS1_2_VERSION);
        corio::server srv = co_await corio::start_server(
            [](corio::stream s) -> corio::task<> {
                s.write(co_await s.read_line());
                s.close();
                co_await s.wait_closed();
            },
            "127.0.0.1", 0, {.tls = sctx});
        corio::tls_context cctx = client_context();
        const std::uint64_t before = tls13_records::connections_taken_over();
        corio::stream c = co_await corio::open_connection("localhost", srv.port(),
                                                          {.family = AF_INET, .tls = cctx});
        EXPECT_EQ(c.tls()->version, "TLSv1.2");
        c.write("over openssl's records\n");
        EXPECT_EQ(co_await corio::wait_for(c.read_line(), 30s), "over openssl's records\n");
        EXPECT_EQ(tls13_records::connections_taken_over(), before);
        c.close();
        srv.close();
        co_await srv.wait_closed();
    }());
}
