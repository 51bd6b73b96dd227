// A client for examples/echo_server: sends lines and prints what comes back.
//
//   echo_client [--host H] [--port N] [line...]
//
// Connects to H:N (127.0.0.1:8888 by default) and sends each line given on the command
// line, or three sample lines if there are none, one at a time, printing each echo.

#include <corio/corio.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace {

corio::task<> talk(std::string host, std::uint16_t port, std::vector<std::string> lines) {
    // A host name is resolved off the loop; with several addresses (IPv6 and IPv4) they
    // are raced as RFC 8305 says and the first to answer wins.
    corio::stream s = co_await corio::open_connection(host, port);
    std::printf("connected to %s\n", s.peer_address().to_string().c_str());
    for (const std::string& line : lines) {
        s.write(line + "\n");
        co_await s.drain();
        std::string reply = co_await s.read_line();
        if (reply.empty()) {
            std::printf("the server closed the connection\n");
            break;
        }
        std::printf("sent %-20s got %s", line.c_str(), reply.c_str());
    }
    s.write_eof();         // tell the server we are done...
    co_await s.read_all(); // ...and read until it closes its side
    s.close();
    co_await s.wait_closed();
}

} // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8888;
    std::vector<std::string> lines;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--host" && i + 1 < argc) {
            host = argv[++i];
        } else if (arg == "--port" && i + 1 < argc) {
            port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
        } else {
            lines.emplace_back(arg);
        }
    }
    if (lines.empty()) {
        lines = {"hello", "corio streams", "goodbye"};
    }
    try {
        corio::run(talk(host, port, lines));
    } catch (const std::exception& e) {
        // e.g. "connect 127.0.0.1:8888: Connection refused"
        std::fprintf(stderr, "echo_client: %s\n", e.what());
        return 1;
    }
}
