// The HTTP/1.1 connection state machine alone: bytes in, events and bytes out, no sockets.

#include "http/h1/connection.hpp"

#include <corio/errors.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using corio::http::request;
using corio::http::response;
namespace h1 = corio::http::h1;
using h1::event;
using h1::role;
using h1::state;

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

/// A server connection that has taken the whole of `wire` (one request).
struct server_side {
    h1::connection conn{role::server, corio::http::limits{}};
    std::string out;

    request take(std::string_view wire) {
        EXPECT_EQ(conn.receive(wire), wire.size());
        EXPECT_EQ(conn.next_event(), event::message);
        return conn.take_request();
    }
    bool answer(response r, bool close = false) { return conn.send_response(r, out, {}, close); }
};

// --- server: keep-alive ---------------------------------------------------------------------

TEST(h1_connection, http_1_1_persists_by_default) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(s.conn.their_state(), state::done);
    EXPECT_EQ(s.conn.next_event(), event::paused);
    EXPECT_TRUE(s.answer(response(200, "hi")));
    EXPECT_EQ(s.conn.our_state(), state::idle);
    EXPECT_EQ(s.conn.their_state(), state::idle);
    EXPECT_FALSE(contains(s.out, "Connection:"));
    EXPECT_EQ(s.conn.next_event(), event::need_data);
}

TEST(h1_connection, http_1_1_connection_close_ends_after_the_response) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(s.conn.their_state(), state::must_close);
    EXPECT_FALSE(s.answer(response(200, "hi")));
    EXPECT_TRUE(contains(s.out, "\r\nConnection: close\r\n"));
    EXPECT_EQ(s.conn.our_state(), state::must_close);
    EXPECT_EQ(s.conn.their_state(), state::must_close);
}

TEST(h1_connection, http_1_0_closes_unless_keep_alive_is_asked) {
    server_side s;
    s.take("GET / HTTP/1.0\r\n\r\n");
    EXPECT_FALSE(s.answer(response(200, "hi")));
    EXPECT_TRUE(contains(s.out, "\r\nConnection: close\r\n"));

    server_side k;
    k.take("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_TRUE(k.answer(response(200, "hi")));
    EXPECT_TRUE(contains(k.out, "\r\nConnection: keep-alive\r\n"));
    EXPECT_EQ(k.conn.our_state(), state::idle);
}

TEST(h1_connection, a_response_saying_close_ends_the_connection) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    response r(200, "bye");
    r.headers.set("Connection", "close");
    EXPECT_FALSE(s.answer(r));
    EXPECT_EQ(s.conn.our_state(), state::must_close);
    EXPECT_EQ(std::string_view(s.out).find("Connection"), s.out.rfind("Connection")); // once
}

TEST(h1_connection, close_asked_by_the_server_adds_connection_close) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    response r(500, "oops");
    r.headers.set("Connection", "keep-alive"); // contradicted: dropped
    EXPECT_FALSE(s.answer(r, true));
    EXPECT_TRUE(contains(s.out, "\r\nConnection: close\r\n"));
    EXPECT_FALSE(contains(s.out, "keep-alive"));
}

TEST(h1_connection, added_fields_go_only_where_the_response_lacks_them) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    response r(200, "x");
    r.headers.set("server", "mine");
    const h1::added_field added[] = {{"Server", "Server: corio\r\n"}, {"Date", "Date: today\r\n"}};
    EXPECT_TRUE(s.conn.send_response(r, s.out, added, false));
    EXPECT_FALSE(contains(s.out, "Server: corio"));
    EXPECT_TRUE(contains(s.out, "server: mine"));
    EXPECT_TRUE(s.out.starts_with("HTTP/1.1 200 OK\r\nDate: today\r\n"));
}

// --- server: pipelining -----------------------------------------------------------------------

TEST(h1_connection, a_pipelined_request_waits_until_the_one_before_is_answered) {
    server_side s;
    const std::string first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::string second = "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::string wire = first + second;
    EXPECT_EQ(s.conn.receive(wire), first.size());
    EXPECT_EQ(s.conn.next_event(), event::message);
    EXPECT_EQ(s.conn.take_request().target, "/1");
    EXPECT_EQ(s.conn.receive(second), 0U); // paused
    EXPECT_EQ(s.conn.next_event(), event::paused);
    EXPECT_TRUE(s.answer(response(200, "one")));
    EXPECT_EQ(s.conn.receive(second), second.size());
    EXPECT_EQ(s.conn.next_event(), event::message);
    EXPECT_EQ(s.conn.take_request().target, "/2");
}

TEST(h1_connection, a_request_split_across_reads_reports_its_head_state) {
    server_side s;
    EXPECT_EQ(s.conn.next_event(), event::need_data);
    EXPECT_EQ(s.conn.their_state(), state::idle);
    s.conn.receive("GET / HT");
    EXPECT_EQ(s.conn.their_state(), state::head);
    EXPECT_EQ(s.conn.next_event(), event::need_data);
    s.conn.receive("TP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab");
    EXPECT_EQ(s.conn.their_state(), state::body);
    EXPECT_EQ(s.conn.next_event(), event::body);
    EXPECT_EQ(s.conn.their_request().method, "GET");
    s.conn.receive("c");
    EXPECT_EQ(s.conn.next_event(), event::message);
    EXPECT_EQ(s.conn.take_request().body, "abc");
}

// --- server: 100-continue -----------------------------------------------------------------

TEST(h1_connection, expect_100_continue_is_answered_once_before_the_body) {
    server_side s;
    s.conn.receive(
        "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    EXPECT_EQ(s.conn.next_event(), event::send_continue);
    s.conn.send_continue(s.out);
    EXPECT_EQ(s.out, "HTTP/1.1 100 Continue\r\n\r\n");
    EXPECT_EQ(s.conn.next_event(), event::body);
    s.conn.receive("ok");
    EXPECT_EQ(s.conn.next_event(), event::message);
    s.conn.take_request();
    EXPECT_TRUE(s.answer(response(200, "")));
    // The next request asks again.
    s.conn.receive(
        "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    EXPECT_EQ(s.conn.next_event(), event::send_continue);
}

TEST(h1_connection, http_1_0_gets_no_100_continue) {
    server_side s;
    s.conn.receive("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    EXPECT_EQ(s.conn.next_event(), event::body);
}

// --- server: bodiless responses -------------------------------------------------------------

TEST(h1_connection, a_response_to_head_has_no_body_but_keeps_its_length) {
    server_side s;
    s.take("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_TRUE(s.answer(response(200, "hello")));
    EXPECT_TRUE(contains(s.out, "Content-Length: 5\r\n"));
    EXPECT_TRUE(s.out.ends_with("\r\n\r\n"));
    // HEAD was for that request only.
    s.out.clear();
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_TRUE(s.answer(response(200, "hello")));
    EXPECT_TRUE(s.out.ends_with("\r\n\r\nhello"));
}

TEST(h1_connection, responses_204_and_304_have_no_body) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    response no_content(204, "");
    no_content.headers.set("Content-Length", "0");
    EXPECT_TRUE(s.answer(no_content));
    EXPECT_FALSE(contains(s.out, "Content-Length"));
    EXPECT_TRUE(s.out.ends_with("\r\n\r\n"));

    s.out.clear();
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    response not_modified(304, "");
    not_modified.headers.set("Content-Length", "42");
    EXPECT_TRUE(s.answer(not_modified));
    EXPECT_TRUE(contains(s.out, "Content-Length: 42\r\n"));
    EXPECT_TRUE(s.out.ends_with("\r\n\r\n"));
}

TEST(h1_connection, an_interim_status_is_refused_and_changes_nothing) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    response r(103, "");
    EXPECT_THROW(s.answer(r), std::invalid_argument);
    EXPECT_TRUE(s.out.empty());
    EXPECT_EQ(s.conn.our_state(), state::idle);
    EXPECT_EQ(s.conn.their_state(), state::done);
    EXPECT_TRUE(s.answer(response(200, "")));
}

TEST(h1_connection, a_response_whose_framing_disagrees_is_refused) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    response r(200, "hello");
    r.headers.set("Content-Length", "3");
    EXPECT_THROW(s.answer(r), std::invalid_argument);
    EXPECT_TRUE(s.out.empty());
    EXPECT_EQ(s.conn.our_state(), state::idle);
}

// --- server: errors -----------------------------------------------------------------------

TEST(h1_connection, an_error_mid_body_makes_the_connection_must_close) {
    server_side s;
    s.conn.receive("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    EXPECT_EQ(s.conn.next_event(), event::body);
    s.conn.receive("5\r\nab");
    EXPECT_EQ(s.conn.next_event(), event::body);
    s.conn.receive("cdeXY"); // chunk data not followed by CRLF
    EXPECT_EQ(s.conn.next_event(), event::error);
    EXPECT_EQ(s.conn.error_status(), 400);
    EXPECT_FALSE(s.conn.error_message().empty());
    EXPECT_FALSE(s.conn.keep_alive());
    EXPECT_EQ(s.conn.receive("GET / HTTP/1.1\r\n"), 0U);
    EXPECT_FALSE(s.answer(response(400, "bad")));
    EXPECT_THROW(s.answer(response(400, "again")), corio::invalid_state_error);
    EXPECT_TRUE(s.out.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    EXPECT_TRUE(contains(s.out, "\r\nConnection: close\r\n"));
    EXPECT_EQ(s.conn.our_state(), state::must_close);
}

TEST(h1_connection, limits_give_the_status_to_answer) {
    corio::http::limits small;
    small.max_request_line = 16;
    h1::connection conn(role::server, small);
    conn.receive("GET /a-very-long-target HTTP/1.1\r\n");
    EXPECT_EQ(conn.next_event(), event::error);
    EXPECT_EQ(conn.error_status(), 414);
}

TEST(h1_connection, a_request_cut_short_by_the_end_of_stream_is_closed) {
    server_side s;
    s.conn.receive("GET / HTTP/1.1\r\nHo");
    s.conn.receive_eof();
    EXPECT_EQ(s.conn.next_event(), event::closed);
    EXPECT_EQ(s.conn.their_state(), state::closed);
}

TEST(h1_connection, a_whole_request_is_answered_after_the_end_of_stream) {
    server_side s;
    s.conn.receive("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    s.conn.receive_eof(); // the client shut down its writing side only
    EXPECT_EQ(s.conn.next_event(), event::message);
    s.conn.take_request();
    EXPECT_FALSE(s.answer(response(200, "last")));
    EXPECT_TRUE(contains(s.out, "\r\nConnection: close\r\n"));
}

// --- server: a body sent in pieces -----------------------------------------------------------

TEST(h1_connection, a_response_body_in_pieces_framed_by_its_length) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    response r(200, "");
    r.headers.set("Content-Length", "6");
    EXPECT_TRUE(s.conn.send_head(r, s.out, {}, false));
    EXPECT_EQ(s.conn.our_state(), state::body);
    s.conn.send_data("abc", s.out);
    EXPECT_THROW(s.conn.send_data("defg", s.out), std::invalid_argument);
    s.conn.send_data("def", s.out);
    s.conn.send_end(s.out);
    EXPECT_TRUE(s.out.ends_with("Content-Length: 6\r\n\r\nabcdef"));
    EXPECT_EQ(s.conn.our_state(), state::idle);
    EXPECT_EQ(s.conn.their_state(), state::idle);
}

TEST(h1_connection, a_chunked_response_body_in_pieces) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    response r(200, "");
    r.headers.set("Transfer-Encoding", "chunked");
    EXPECT_TRUE(s.conn.send_head(r, s.out, {}, false));
    s.conn.send_data("hello", s.out);
    s.conn.send_data("", s.out); // nothing: an empty chunk would end the body
    s.conn.send_data("0123456789abcdef", s.out);
    s.conn.send_end(s.out);
    EXPECT_TRUE(
        s.out.ends_with("chunked\r\n\r\n5\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"));
    EXPECT_EQ(s.conn.our_state(), state::idle);
}

TEST(h1_connection, a_response_body_without_framing_runs_until_the_close) {
    server_side s;
    s.take("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    response r(200, "");
    EXPECT_FALSE(s.conn.send_head(r, s.out, {}, false));
    EXPECT_TRUE(contains(s.out, "\r\nConnection: close\r\n"));
    EXPECT_FALSE(contains(s.out, "Content-Length"));
    s.conn.send_data("any amount", s.out);
    s.conn.send_end(s.out);
    EXPECT_TRUE(s.out.ends_with("\r\n\r\nany amount"));
    EXPECT_EQ(s.conn.our_state(), state::must_close);
}

TEST(h1_connection, a_chunked_response_to_http_1_0_is_refused) {
    server_side s;
    s.take("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    response r(200, "");
    r.headers.set("Transfer-Encoding", "chunked");
    EXPECT_THROW(s.conn.send_head(r, s.out, {}, false), std::invalid_argument);
    EXPECT_TRUE(s.out.empty());
    EXPECT_EQ(s.conn.our_state(), state::idle);
}

TEST(h1_connection, a_response_in_pieces_to_head_has_no_body) {
    server_side s;
    s.take("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
    response r(200, "");
    r.headers.set("Content-Length", "100");
    EXPECT_TRUE(s.conn.send_head(r, s.out, {}, false));
    EXPECT_TRUE(s.out.ends_with("Content-Length: 100\r\n\r\n"));
    EXPECT_THROW(s.conn.send_data("x", s.out), std::invalid_argument);
    s.conn.send_end(s.out);
    EXPECT_TRUE(s.out.ends_with("\r\n\r\n"));
    EXPECT_EQ(s.conn.our_state(), state::idle);
}

// --- client ------------------------------------------------------------------------------

/// A client connection that has sent `req`.
struct client_side {
    h1::connection conn{role::client, corio::http::limits{}};
    std::string out;

    explicit client_side(std::string method = "GET") {
        request r;
        r.method = std::move(method);
        r.headers.set("Host", "a");
        conn.send_request(r, out);
    }
};

TEST(h1_connection, client_response_framed_by_length_keeps_the_connection) {
    client_side c;
    EXPECT_TRUE(c.out.starts_with("GET / HTTP/1.1\r\n"));
    EXPECT_EQ(c.conn.our_state(), state::done);
    EXPECT_EQ(c.conn.next_event(), event::need_data);
    EXPECT_FALSE(c.conn.received_any());
    c.conn.receive("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    EXPECT_TRUE(c.conn.received_any());
    EXPECT_EQ(c.conn.next_event(), event::message);
    EXPECT_EQ(c.conn.take_response().body, "hi");
    EXPECT_TRUE(c.conn.keep_alive());
    EXPECT_EQ(c.conn.our_state(), state::idle);
    EXPECT_EQ(c.conn.their_state(), state::idle);
}

TEST(h1_connection, client_a_second_request_waits_for_the_first_response) {
    client_side c;
    request again;
    again.headers.set("Host", "a");
    EXPECT_THROW(c.conn.send_request(again, c.out), corio::invalid_state_error);
}

TEST(h1_connection, client_response_to_head_has_no_body) {
    client_side c("HEAD");
    c.conn.receive("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    EXPECT_EQ(c.conn.next_event(), event::message);
    const response r = c.conn.take_response();
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.headers.get("Content-Length"), "5");
    EXPECT_TRUE(c.conn.keep_alive());
}

TEST(h1_connection, client_204_and_304_have_no_body) {
    for (const std::string_view status : {"204 No Content", "304 Not Modified"}) {
        client_side c;
        c.conn.receive("HTTP/1.1 " + std::string(status) + "\r\nContent-Length: 7\r\n\r\n");
        EXPECT_EQ(c.conn.next_event(), event::message);
        EXPECT_TRUE(c.conn.take_response().body.empty());
        EXPECT_TRUE(c.conn.keep_alive());
    }
}

TEST(h1_connection, client_interim_responses_are_skipped) {
    client_side c;
    c.conn.receive("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(c.conn.next_event(), event::message);
    EXPECT_EQ(c.conn.take_response().status, 200);
}

TEST(h1_connection, client_body_until_close_ends_the_connection) {
    client_side c;
    c.conn.receive("HTTP/1.1 200 OK\r\n\r\npart");
    EXPECT_EQ(c.conn.next_event(), event::body);
    c.conn.receive_eof();
    EXPECT_EQ(c.conn.next_event(), event::message);
    EXPECT_EQ(c.conn.take_response().body, "part");
    EXPECT_FALSE(c.conn.keep_alive());
    EXPECT_EQ(c.conn.our_state(), state::must_close);
}

TEST(h1_connection, client_end_of_stream_before_any_byte_is_closed) {
    client_side c;
    c.conn.receive_eof();
    EXPECT_EQ(c.conn.next_event(), event::closed);
}

TEST(h1_connection, client_end_of_stream_mid_body_is_an_error) {
    client_side c;
    c.conn.receive("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc");
    c.conn.receive_eof();
    EXPECT_EQ(c.conn.next_event(), event::error);
    EXPECT_EQ(c.conn.error_status(), 400);
}

TEST(h1_connection, client_bytes_after_the_response_forbid_reuse) {
    client_side c;
    const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA";
    EXPECT_EQ(c.conn.receive(wire), wire.size());
    EXPECT_EQ(c.conn.next_event(), event::message);
    c.conn.take_response();
    EXPECT_FALSE(c.conn.keep_alive());
}

TEST(h1_connection, client_response_saying_close_or_http_1_0_forbids_reuse) {
    client_side c;
    c.conn.receive("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    c.conn.take_response();
    EXPECT_FALSE(c.conn.keep_alive());

    client_side old;
    old.conn.receive("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    old.conn.take_response();
    EXPECT_FALSE(old.conn.keep_alive());
}

TEST(h1_connection, client_malformed_response_is_an_error) {
    client_side c;
    c.conn.receive("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    EXPECT_EQ(c.conn.next_event(), event::error);
    EXPECT_FALSE(c.conn.keep_alive());
}

TEST(h1_connection, client_response_before_the_request_body_is_finished) {
    h1::connection conn(role::client, corio::http::limits{});
    std::string out;
    request r;
    r.method = "PUT";
    r.headers.set("Host", "a");
    r.headers.set("Content-Length", "6");
    conn.send_head(r, out);
    EXPECT_TRUE(out.ends_with("Content-Length: 6\r\n\r\n"));
    EXPECT_EQ(conn.our_state(), state::body);
    conn.send_data("abc", out);
    // The server answers early (RFC 9110 §15: it may): the exchange is over only once the
    // body is finished.
    conn.receive("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(conn.next_event(), event::message);
    conn.take_response();
    EXPECT_EQ(conn.their_state(), state::done);
    EXPECT_EQ(conn.our_state(), state::body);
    EXPECT_THROW(conn.send_data("toolong", out), std::invalid_argument);
    EXPECT_THROW(conn.send_end(out), std::invalid_argument); // 3 bytes short
    conn.send_data("def", out);
    conn.send_end(out);
    EXPECT_TRUE(out.ends_with("\r\n\r\nabcdef"));
    EXPECT_EQ(conn.our_state(), state::idle);
    EXPECT_EQ(conn.their_state(), state::idle);
}

TEST(h1_connection, client_early_response_saying_close_ends_the_exchange_closed) {
    h1::connection conn(role::client, corio::http::limits{});
    std::string out;
    request r;
    r.method = "POST";
    r.headers.set("Host", "a");
    r.headers.set("Transfer-Encoding", "chunked");
    conn.send_head(r, out);
    conn.send_data("abc", out);
    conn.receive(
        "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    EXPECT_EQ(conn.take_response().status, 413);
    EXPECT_EQ(conn.their_state(), state::must_close);
    conn.send_end(out);
    EXPECT_TRUE(out.ends_with("\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
    EXPECT_EQ(conn.our_state(), state::must_close);
}

} // namespace
