// A line echo server: every line a client sends comes straight back to it.
//
//   echo_server [--port N]      listens on 127.0.0.1, port 8888 by default (0: any free one)
//
// Try it with examples/echo_client or `nc 127.0.0.1 8888`. Ctrl-C (SIGINT) stops it
// cleanly: the server stops listening and the open connections are cancelled.

#include <corio/corio.hpp>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace {

/// One connection: runs as its own task, so one slow client never holds up the others.
corio::task<> echo(corio::stream s) {
    const std::string peer = s.peer_address().to_string();
    std::printf("%s connected\n", peer.c_str());
    while (true) {
        std::string line = co_await s.read_line(); // the line with its '\n'; "" at the end
        if (line.empty()) {
            break;
        }
        s.write(line);
        co_await s.drain(); // backpressure: wait while the client is not reading
    }
    std::printf("%s disconnected\n", peer.c_str());
}

corio::task<> serve(std::uint16_t port) {
    corio::server srv = co_await corio::start_server(echo, "127.0.0.1", port);
    std::printf("echo server listening on 127.0.0.1:%u (Ctrl-C to stop)\n", srv.port());
    std::fflush(stdout);

    co_await corio::signal(SIGINT); // until Ctrl-C
    std::printf("\nshutting down\n");
    srv.close();                // stop listening; cancel every running echo()
    co_await srv.wait_closed(); // and wait until they have all finished
}

} // namespace

int main(int argc, char** argv) {
    std::uint16_t port = 8888;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--port" && i + 1 < argc) {
            port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
        } else {
            std::fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
            return 2;
        }
    }
    try {
        corio::run(serve(port));
    } catch (const std::exception& e) {
        // e.g. "bind 127.0.0.1:8888: Address already in use"
        std::fprintf(stderr, "echo_server: %s\n", e.what());
        return 1;
    }
}
