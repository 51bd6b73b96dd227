// corio against Python's asyncio, both ways: an asyncio client (tests/net/py/client.py)
// talks to a corio server, and a corio client talks to an asyncio server
// (tests/net/py/server.py), over a line protocol (lines come back upper-cased) and a
// binary one (length-prefixed frames up to 1 MiB, each with its CRC-32). The Python side
// exits non-zero on any mismatch; the corio side checks everything it receives.

#include "support/net.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

using namespace std::chrono_literals;
using namespace corio_net_test;

namespace {

std::string python() {
    return python3_path();
}

std::string script(const char* name) {
    return py_script(name);
}

class interop : public fd_leak_check {
protected:
    void SetUp() override {
        fd_leak_check::SetUp();
        if (python().empty()) {
            GTEST_SKIP() << "no python3";
        }
    }
};

std::string upper(std::string s) {
    for (char& c : s) {
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 'a' + 'A');
        }
    }
    return s;
}

/// What the corio servers saw.
struct server_log {
    int lines = 0;
    int frames = 0;
    int bad_checksums = 0;
    int broken_frames = 0;
};

corio::task<> upper_case_lines(corio::stream s, std::shared_ptr<server_log> log) {
    while (true) {
        std::string line = co_await s.read_line();
        if (line.empty()) {
            co_return;
        }
        ++log->lines;
        s.write(upper(std::move(line)));
        co_await s.drain();
    }
}

/// The frame (length, payload, checksum) of `payload`.
std::string frame(const std::string& payload) {
    return be32(static_cast<std::uint32_t>(payload.size())) + payload + be32(crc32(payload));
}

/// Read one frame: its payload, or nothing at a clean end of stream. Counts bad ones.
corio::task<std::optional<std::string>> read_frame(corio::stream& s, server_log& log) {
    std::string header = co_await s.read(4);
    if (header.empty()) {
        co_return std::nullopt;
    }
    if (header.size() < 4) {
        header += co_await s.read_exactly(4 - header.size());
    }
    std::string payload = co_await s.read_exactly(from_be32(header));
    const std::string checksum = co_await s.read_exactly(4);
    if (from_be32(checksum) != crc32(payload)) {
        ++log.bad_checksums;
    }
    co_return payload;
}

corio::task<> echo_frames(corio::stream s, std::shared_ptr<server_log> log) {
    bool broken = false;
    try {
        while (auto payload = co_await read_frame(s, *log)) {
            ++log->frames;
            s.write(frame(*payload));
            co_await s.drain();
        }
    } catch (const corio::incomplete_read_error&) {
        broken = true;
    }
    if (broken) {
        ++log->broken_frames;
    }
}

/// Wait for `p` to exit; its exit code (killed after `limit`, a test failure).
corio::task<> python_client(std::string mode) {
    auto log = std::make_shared<server_log>();
    corio::connection_handler handler;
    if (mode == "line") {
        handler = [log](corio::stream s) { return upper_case_lines(std::move(s), log); };
    } else {
        handler = [log](corio::stream s) { return echo_frames(std::move(s), log); };
    }
    corio::server srv = co_await corio::start_server(handler, "127.0.0.1", 0);
    std::vector<std::string> argv{python(), script("client.py"), mode, "127.0.0.1",
                                  std::to_string(srv.port())};
    // Named options, not the default argument: g++ 12 destroys a coroutine's defaulted
    // class-type argument twice when the call is inside co_await.
    corio::process_options options;
    corio::process client = co_await corio::create_subprocess_exec(argv, options);
    const int code = co_await run_to_exit(client, 45s);
    EXPECT_EQ(code, 0) << "client.py " << mode << " failed (its stderr says why)";
    srv.close();
    co_await corio::wait_for(srv.wait_closed(), 10s);
    if (mode == "line") {
        EXPECT_EQ(log->lines, 300 + 500 + 1);
    } else {
        EXPECT_EQ(log->frames, 54 + 20);
        EXPECT_EQ(log->bad_checksums, 0);
        EXPECT_EQ(log->broken_frames, 0);
    }
}

TEST_F(interop, an_asyncio_client_talks_lines_to_a_corio_server) {
    corio::run(python_client("line"));
}

TEST_F(interop, an_asyncio_client_talks_frames_to_a_corio_server) {
    corio::run(python_client("binary"));
}

/// The port server.py prints first.
corio::task<std::uint16_t> start_python_server(corio::process& p) {
    const std::string first = co_await corio::wait_for(p.stdout_pipe().read_line(), 30s);
    co_return static_cast<std::uint16_t>(std::stoi(first));
}

corio::task<> lines_to_python(corio::stream& s) {
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> size(0, 5000);
    std::uniform_int_distribution<int> byte(1, 255);
    std::vector<std::string> lines;
    for (int i = 0; i < 400; ++i) {
        std::string line(static_cast<std::size_t>(i % 50 == 0 ? 60000 : size(rng)), 'a');
        for (char& c : line) {
            const int b = byte(rng);
            c = b == '\n' ? 'n' : static_cast<char>(b);
        }
        lines.push_back(line + "\n");
    }
    // One at a time.
    for (std::size_t i = 0; i < 200; ++i) {
        s.write(lines[i]);
        co_await s.drain();
        const std::string reply = co_await s.read_line();
        EXPECT_EQ(reply, upper(lines[i])) << "line " << i;
    }
    // Pipelined.
    std::string batch;
    for (std::size_t i = 200; i < lines.size(); ++i) {
        batch += lines[i];
    }
    s.write(batch);
    for (std::size_t i = 200; i < lines.size(); ++i) {
        const std::string reply = co_await s.read_line();
        EXPECT_EQ(reply, upper(lines[i])) << "pipelined line " << i;
    }
    co_await s.drain();
}

corio::task<> send_frames(corio::stream& s, std::vector<std::string>& payloads) {
    for (const std::string& p : payloads) {
        s.write(frame(p));
        co_await s.drain();
    }
}

corio::task<> frames_to_python(corio::stream& s) {
    std::mt19937_64 rng(9);
    std::uniform_int_distribution<std::size_t> size(0, 1 << 20);
    std::vector<std::string> payloads{"", "x", std::string(1 << 20, 'M')};
    for (int i = 0; i < 20; ++i) {
        payloads.push_back(pattern(size(rng), static_cast<std::uint64_t>(i) + 100));
    }
    server_log log;
    // One at a time.
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        s.write(frame(payloads[i]));
        co_await s.drain();
        std::optional<std::string> back = co_await read_frame(s, log);
        EXPECT_TRUE(back && *back == payloads[i]) << "frame " << i << " came back changed";
    }
    // Pipelined, with the writer and the reader concurrent.
    auto sender = corio::spawn(send_frames(s, payloads));
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        std::optional<std::string> back = co_await read_frame(s, log);
        EXPECT_TRUE(back && *back == payloads[i]) << "pipelined frame " << i;
    }
    co_await sender;
    EXPECT_EQ(log.bad_checksums, 0);
}

corio::task<> corio_client(std::string mode) {
    std::vector<std::string> argv{python(), script("server.py"), mode};
    corio::process_options options;
    options.stdout_ = corio::pipe;
    corio::process server = co_await corio::create_subprocess_exec(argv, options);
    const std::uint16_t port = co_await start_python_server(server);
    {
        corio::stream s = co_await corio::open_connection("127.0.0.1", port);
        if (mode == "line") {
            co_await corio::wait_for(lines_to_python(s), 40s);
        } else {
            co_await corio::wait_for(frames_to_python(s), 40s);
        }
        // Half-close: the server sees end of stream, closes, and exits.
        s.write_eof();
        EXPECT_EQ(co_await corio::wait_for(s.read_all(), 30s), "");
    }
    const int code = co_await run_to_exit(server, 30s);
    EXPECT_EQ(code, 0) << "server.py " << mode << " failed (its stderr says why)";
}

TEST_F(interop, a_corio_client_talks_lines_to_an_asyncio_server) {
    corio::run(corio_client("line"));
}

TEST_F(interop, a_corio_client_talks_frames_to_an_asyncio_server) {
    corio::run(corio_client("binary"));
}

} // namespace
