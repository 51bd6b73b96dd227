// TLS streams between corio's client and server on 127.0.0.1: the handshake and what it
// negotiated, each kind of certificate failure, close_notify and truncation, STARTTLS, and
// hostile peers (garbage, a stalled handshake, oversized and truncated records), each of
// which costs only its own connection.

#include "support/loop.hpp"
#include "support/net.hpp"
#include "support/tls.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <openssl/x509_vfy.h>

#include <optional>
#include <string>

using namespace std::chrono_literals;
using corio_test::client_context;
using corio_test::contains;
using corio_test::pki;
using corio_test::server_context;
using corio_test::virtual_time;
using namespace corio_net_test;

namespace {

class tls_test : public fd_leak_check {};

/// The tls_error a connection to a server presenting `files` fails with, as the message.
corio::task<std::string> handshake_failure(corio_test::cert_files files,
                                           corio::tls_context client) {
    corio::tls_context sctx = server_context(files);
    corio::server srv =
        co_await corio::start_server(echo_lines_and_close, "127.0.0.1", 0, {.tls = sctx});
    std::string message;
    long verify = 0;
    try {
        corio::stream s = co_await corio::open_connection(
            "127.0.0.1", srv.port(), {.tls = client, .server_hostname = "localhost"});
        ADD_FAILURE() << "the handshake succeeded";
    } catch (const corio::tls_error& e) {
        message = e.what();
        verify = e.verify_result();
        EXPECT_EQ(e.reason().rfind("certificate verify failed", 0), 0U) << e.reason();
    }
    EXPECT_NE(verify, 0) << message;
    // The server goes on: a client that trusts it still gets through, and its connection
    // from the failed one is gone.
    srv.close();
    co_await srv.wait_closed();
    co_return message;
}

} // namespace

TEST_F(tls_test, echo_over_tls_with_what_was_negotiated) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        sctx.set_alpn_protocols({"http/1.1"});
        std::string server_sni;
        std::string server_version;
        corio::server srv = co_await corio::start_server(
            [&](corio::stream s) -> corio::task<> {
                if (s.tls() == nullptr) {
                    ADD_FAILURE() << "the server's stream is not TLS";
                    co_return;
                }
                server_sni = s.tls()->server_hostname;
                server_version = s.tls()->version;
                EXPECT_EQ(s.tls()->peer_subject, ""); // the client presents no certificate
                co_await echo_lines_and_close(std::move(s));
            },
            "127.0.0.1", 0, {.tls = sctx});
        corio::tls_context cctx = client_context();
        cctx.set_alpn_protocols({"h2", "http/1.1"});
        corio::stream c = co_await corio::open_connection("localhost", srv.port(),
                                                          {.family = AF_INET, .tls = cctx});
        if (c.tls() == nullptr) {
            ADD_FAILURE() << "the client's stream is not TLS";
            co_return;
        }
        EXPECT_EQ(c.tls()->version, "TLSv1.3");
        EXPECT_FALSE(c.tls()->cipher.empty());
        EXPECT_EQ(c.tls()->alpn_protocol, "http/1.1");
        EXPECT_TRUE(contains(c.tls()->peer_subject, "CN=localhost")) << c.tls()->peer_subject;
        EXPECT_EQ(c.tls()->server_hostname, "localhost");
        EXPECT_GT(c.fd(), 0);
        EXPECT_EQ(c.peer_address().port(), srv.port());
        const std::string big(50'000, 'y'); // several records
        c.write("hello\n");
        c.write(big + "\n");
        co_await c.drain();
        EXPECT_EQ(co_await c.read_line(), "hello\n");
        EXPECT_TRUE(co_await c.read_line() == big + "\n");
        c.write_eof();                      // close_notify: the server's read_line sees a clean end
        EXPECT_EQ(co_await c.read(10), ""); // and the server's close_notify: no truncation
        EXPECT_TRUE(c.at_eof());
        EXPECT_EQ(server_sni, "localhost");
        EXPECT_EQ(server_version, "TLSv1.3");
        c.close();
        srv.close();
        co_await srv.wait_closed();
    }());
}

TEST_F(tls_test, an_ip_address_is_checked_against_the_certificate_and_sends_no_sni) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        std::string sni = "unset";
        corio::server srv = co_await corio::start_server(
            [&](corio::stream s) -> corio::task<> {
                sni = s.tls()->server_hostname;
                co_await echo_lines_and_close(std::move(s));
            },
            "127.0.0.1", 0, {.tls = sctx});
        corio::tls_context cctx = client_context();
        corio::stream c = co_await corio::open_connection("127.0.0.1", srv.port(), {.tls = cctx});
        c.write("x\n");
        EXPECT_EQ(co_await c.read_line(), "x\n");
        EXPECT_EQ(sni, "");
        c.close();
        srv.close();
        co_await srv.wait_closed();
    }());
}

TEST_F(tls_test, a_self_signed_certificate_is_refused_with_its_reason) {
    corio::run([]() -> corio::task<> {
        const std::string m = co_await handshake_failure(pki().self_signed, client_context());
        EXPECT_TRUE(contains(m, "tls handshake with 127.0.0.1:")) << m;
        EXPECT_TRUE(contains(m, "(localhost): certificate verify failed: self")) << m;
        EXPECT_TRUE(contains(m, "signed certificate")) << m;
    }());
}

TEST_F(tls_test, an_expired_certificate_is_refused_with_its_reason) {
    corio::run([]() -> corio::task<> {
        const std::string m = co_await handshake_failure(pki().expired, client_context());
        EXPECT_TRUE(contains(m, "certificate verify failed: certificate has expired")) << m;
    }());
}

TEST_F(tls_test, a_certificate_for_another_host_is_refused_with_its_reason) {
    corio::run([]() -> corio::task<> {
        const std::string m = co_await handshake_failure(pki().other_host, client_context());
        EXPECT_TRUE(contains(m, "Hostname mismatch, certificate is not valid for 'localhost'"))
            << m;
    }());
}

TEST_F(tls_test, a_certificate_from_an_untrusted_ca_is_refused_with_its_reason) {
    corio::run([]() -> corio::task<> {
        // The system's CA store does not hold the test CA.
        const std::string m =
            co_await handshake_failure(pki().localhost, corio::tls_context::client());
        EXPECT_TRUE(
            contains(m, "certificate verify failed: unable to get local issuer certificate"))
            << m;
    }());
}

TEST_F(tls_test, verification_turned_off_accepts_any_certificate) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context(pki().self_signed);
        corio::server srv =
            co_await corio::start_server(echo_lines_and_close, "127.0.0.1", 0, {.tls = sctx});
        corio::tls_context cctx = corio::tls_context::client();
        EXPECT_TRUE(cctx.verifies_peer());
        cctx.dangerously_disable_verification();
        EXPECT_FALSE(cctx.verifies_peer());
        corio::stream c = co_await corio::open_connection(
            "127.0.0.1", srv.port(), {.tls = cctx, .server_hostname = "wrong.test"});
        c.write("ok\n");
        EXPECT_EQ(co_await c.read_line(), "ok\n");
        c.close();
        srv.close();
        co_await srv.wait_closed();
    }());
}

TEST_F(tls_test, a_peer_that_drops_without_close_notify_is_truncation_unless_allowed) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        corio::server srv = co_await corio::start_server(
            [](corio::stream s) -> corio::task<> {
                s.set_write_buffer_limits(0); // drain() waits until the record has gone
                s.write("partial");
                co_await s.drain();
                s.abort(); // no close_notify
                co_return;
            },
            "127.0.0.1", 0, {.tls = sctx});
        corio::tls_context cctx = client_context();
        {
            corio::stream c = co_await corio::open_connection("localhost", srv.port(),
                                                              {.family = AF_INET, .tls = cctx});
            EXPECT_EQ(co_await c.read_exactly(7), "partial");
            std::exception_ptr e = co_await error_of_call([&] { return c.read(10); });
            EXPECT_TRUE(corio_test::holds<corio::tls_error>(e)) << describe(e);
            EXPECT_TRUE(contains(describe(e), "without close_notify")) << describe(e);
        }
        cctx.set_suppress_ragged_eofs(true);
        {
            corio::stream c = co_await corio::open_connection("localhost", srv.port(),
                                                              {.family = AF_INET, .tls = cctx});
            EXPECT_EQ(co_await c.read_all(), "partial");
        }
        srv.close();
        co_await srv.wait_closed();
    }());
}

// A client that only writes and then closes: had the server sent it TLS 1.3 session
// tickets, they would sit unread in the client's socket, its close would send a reset, and
// the server would lose what was still in flight. corio's client announces no ticket
// support, and corio's server sends tickets only to clients that do.
TEST_F(tls_test, a_client_that_never_reads_closes_without_resetting_what_it_sent) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        std::size_t received = 0;
        std::string failure;
        corio::event done;
        corio::server srv = co_await corio::start_server(
            [&](corio::stream s) -> corio::task<> {
                try {
                    received = (co_await s.read_all()).size();
                } catch (const std::exception& e) {
                    failure = e.what();
                }
                done.set();
            },
            "127.0.0.1", 0, {.tls = sctx});
        corio::tls_context cctx = client_context();
        {
            corio::stream c =
                co_await corio::open_connection("127.0.0.1", srv.port(), {.tls = cctx});
            c.write(std::string(400'000, 'w'));
            c.close(); // flushed, then close_notify, then the socket closed
            co_await c.wait_closed();
        }
        co_await corio::wait_for(done.wait(), 30s);
        EXPECT_EQ(failure, "");
        EXPECT_EQ(received, 400'000U);
        srv.close();
        co_await srv.wait_closed();
    }());
}

TEST_F(tls_test, starttls_upgrades_a_plain_stream_with_the_hello_right_behind_the_command) {
    corio::run([]() -> corio::task<> {
        corio::tls_context sctx = server_context();
        corio::server srv = co_await corio::start_server(
            [&](corio::stream s) -> corio::task<> {
                EXPECT_EQ(co_await s.read_line(), "STARTTLS\n");
                // The client's hello may already be in this stream's buffer.
                co_await s.start_tls(sctx);
                co_await echo_lines_and_close(std::move(s));
            },
            "127.0.0.1", 0);
        corio::stream c = co_await corio::open_connection("127.0.0.1", srv.port());
        EXPECT_EQ(c.tls(), nullptr);
        c.write("STARTTLS\n");
        corio::tls_context cctx = client_context();
        co_await c.start_tls(cctx, {.server_hostname = "localhost"});
        EXPECT_NE(c.tls(), nullptr);
        c.write("secret\n");
        EXPECT_EQ(co_await c.read_line(), "secret\n");
        std::exception_ptr again = co_await error_of_call([&] { return c.start_tls(cctx); });
        EXPECT_TRUE(corio_test::holds<corio::invalid_state_error>(again)) << describe(again);
        c.close();
        srv.close();
        co_await srv.wait_closed();
    }());
}

TEST_F(tls_test, misuse_gives_clear_errors) {
    corio::run([]() -> corio::task<> {
        corio::tls_context empty;
        EXPECT_FALSE(empty.valid());
        EXPECT_THROW(empty.set_alpn_protocols({"h2"}), corio::invalid_state_error);
        corio::tls_context cctx = client_context();
        EXPECT_THROW(cctx.set_alpn_protocols({""}), std::invalid_argument);
        try {
            (void)corio::tls_context::server("/nonexistent/cert.pem", "/nonexistent/key.pem");
            ADD_FAILURE() << "no error for a missing certificate file";
        } catch (const std::system_error& e) {
            EXPECT_TRUE(contains(e.what(), "/nonexistent/cert.pem")) << e.what();
        }
        try {
            // A certificate with another certificate's key.
            (void)corio::tls_context::server(pki().localhost.cert, pki().expired.key);
            ADD_FAILURE() << "no error for a key that does not match";
        } catch (const corio::tls_error& e) {
            EXPECT_TRUE(contains(e.what(), "load_cert_chain")) << e.what();
        }
        corio::tls_context sctx = server_context();
        corio::server srv =
            co_await corio::start_server(echo_lines_and_close, "127.0.0.1", 0, {.tls = sctx});
        // A checking client with no name to check against.
        std::exception_ptr e = co_await error_of_call([&] {
            return corio::open_connection(
                std::vector<corio::socket_address>{
                    corio::socket_address::from_ip("127.0.0.1", srv.port())},
                {.tls = cctx});
        });
        EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << describe(e);
        EXPECT_TRUE(contains(describe(e), "server_hostname")) << describe(e);
        // Each side's context on the wrong side.
        e = co_await error_of_call(
            [&] { return corio::open_connection("127.0.0.1", srv.port(), {.tls = sctx}); });
        EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << describe(e);
        e = co_await error_of_call([&] {
            return corio::start_server(echo_lines_and_close, "127.0.0.1", 0, {.tls = cctx});
        });
        EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << describe(e);
        srv.close();
        co_await srv.wait_closed();
    }());
}

// --- hostile peers -------------------------------------------------------------------------

namespace {

/// Sends `bytes` in the clear to a TLS server, then reads until it closes the connection;
/// then checks the server still serves a real client.
corio::task<> hostile_then_good(std::string bytes, bool then_close) {
    corio::tls_context sctx = server_context();
    int handled = 0;
    corio::server srv = co_await corio::start_server(
        [&](corio::stream s) -> corio::task<> {
            ++handled;
            co_await echo_lines_and_close(std::move(s));
        },
        "127.0.0.1", 0, {.tls = sctx});
    {
        corio::stream raw = co_await corio::open_connection("127.0.0.1", srv.port());
        raw.write(bytes);
        if (then_close) {
            raw.write_eof();
        }
        co_await raw.drain();
        std::size_t got = 0;
        try {
            got = (co_await raw.read_all()).size(); // an alert at most, then the end
        } catch (const std::system_error&) {
            // reset: closed too
        }
        EXPECT_LT(got, 100U);
    }
    EXPECT_EQ(handled, 0);
    corio::tls_context cctx = client_context();
    corio::stream c = co_await corio::open_connection("127.0.0.1", srv.port(), {.tls = cctx});
    c.write("still here\n");
    EXPECT_EQ(co_await c.read_line(), "still here\n");
    c.close();
    srv.close();
    co_await srv.wait_closed();
    EXPECT_EQ(handled, 1);
}

} // namespace

TEST_F(tls_test, garbage_instead_of_a_client_hello_closes_that_connection_only) {
    corio::run(hostile_then_good("GET / HTTP/1.1\r\nHost: x\r\n\r\n", false));
}

TEST_F(tls_test, a_record_claiming_more_than_tls_allows_closes_that_connection_only) {
    // A handshake record header saying 65,535 bytes (TLS allows 16 KiB + 2 KiB), then a
    // handshake message claiming 16 MiB: neither is waited for nor buffered.
    std::string header("\x16\x03\x01\xff\xff", 5);
    corio::run(hostile_then_good(header + std::string(1000, 'A'), false));
    std::string message("\x16\x03\x01\x00\x04\x01\xff\xff\xff", 9);
    corio::run(hostile_then_good(message, false));
}

TEST_F(tls_test, a_truncated_record_closes_that_connection_only) {
    // A ClientHello record header promising 512 bytes, 20 of them, then end of stream.
    std::string partial("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    corio::run(hostile_then_good(partial + std::string(9, '\x01'), true));
}

TEST_F(tls_test, a_stalled_handshake_times_out_on_the_server) {
    corio::run(
        []() -> corio::task<> {
            corio::tls_context sctx = server_context();
            int handled = 0;
            corio::server srv = co_await corio::start_server(
                [&](corio::stream) -> corio::task<> {
                    ++handled;
                    co_return;
                },
                "127.0.0.1", 0, {.tls = sctx, .tls_handshake_timeout = 10s});
            corio::stream raw = co_await corio::open_connection("127.0.0.1", srv.port());
            const auto start = corio_test::now();
            EXPECT_EQ(co_await raw.read_all(), ""); // closed by the server, after 10 s
            EXPECT_GE(corio_test::since(start), 10s);
            EXPECT_EQ(handled, 0);
            srv.close();
            co_await srv.wait_closed();
        }(),
        virtual_time());
}

TEST_F(tls_test, a_client_handshake_against_a_silent_server_times_out) {
    corio::run(
        []() -> corio::task<> {
            corio::server srv = co_await corio::start_server(
                [](corio::stream s) -> corio::task<> { (void)co_await s.read_all(); }, "127.0.0.1",
                0);
            corio::tls_context cctx = client_context();
            std::exception_ptr e = co_await error_of_call([&] {
                return corio::open_connection("127.0.0.1", srv.port(),
                                              {.tls = cctx, .tls_handshake_timeout = 3s});
            });
            EXPECT_TRUE(corio_test::holds<corio::timeout_error>(e)) << describe(e);
            EXPECT_TRUE(contains(describe(e), "tls handshake with 127.0.0.1:")) << describe(e);
            srv.close();
            co_await srv.wait_closed();
        }(),
        virtual_time());
}

// A TLS stream whose records are still going out when its loop closes, and which is
// destroyed only after that: the loop cancels the task sending them, and the stream's close
// then makes close_notify with no loop to send it (ASan, LeakSanitizer and the fd check
// watch what is left).
TEST_F(tls_test, a_stream_sending_in_the_background_may_outlive_its_loop) {
    std::optional<corio::stream> kept;
    {
        corio::event_loop loop;
        loop.run_until_complete([](std::optional<corio::stream>& out) -> corio::task<> {
            corio::tls_context sctx = server_context();
            corio::server srv = co_await corio::start_server(
                [](corio::stream s) -> corio::task<> {
                    co_await corio::sleep(1h); // never reads
                    s.close();
                },
                "127.0.0.1", 0, {.tls = sctx});
            corio::tls_context cctx = client_context();
            corio::stream c = co_await corio::open_connection(
                "127.0.0.1", srv.port(), {.tls = cctx, .server_hostname = "localhost"});
            c.write(std::string(16 << 20, 'x')); // more than the sockets hold
            co_await corio_test::yield_times(3);
            EXPECT_GT(c.write_buffer_size(), 0U);
            out.emplace(std::move(c));
        }(kept));
        loop.close();
        kept.reset();
    }
}
