// W5 TCP echo (shared BENCH.md): corio's echo server, written as a user would write it.
// bench/run (W5, W7) points the shared load client (bench/load/echo_load.c) at it and at
// the peers' echo servers in bench/peers/<peer>/. Runs until SIGINT or SIGTERM
// (corio::signal), then closes the server and exits 0.
//
//   build/release/bench/w5_echo_server --port=PORT     (0 picks a free port)
//
// Prints "port=N" on stdout once it is listening.

#include "workload.hpp"

#include <corio/corio.hpp>

#include <array>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

corio::task<> echo(corio::stream s) {
    std::array<char, 64 * 1024> buf;
    try {
        while (true) {
            const std::size_t n = co_await s.read_into(buf);
            if (n == 0) {
                break;
            }
            s.write(std::string_view(buf.data(), n));
            co_await s.drain();
        }
    } catch (const std::system_error&) {
        // the client reset the connection: this one is done
    }
}

corio::task<> serve(std::uint16_t port) {
    corio::server srv = co_await corio::start_server(echo, "127.0.0.1", port);
    std::vector<corio::join_handle<int>> stop;
    stop.push_back(corio::spawn(corio::signal(SIGINT)));
    stop.push_back(corio::spawn(corio::signal(SIGTERM)));
    std::printf("port=%u\n", static_cast<unsigned>(srv.port()));
    std::fflush(stdout);
    auto [done, pending] = co_await corio::wait(stop, corio::return_when::first_completed);
    for (auto& h : pending) {
        h.cancel();
    }
    srv.close();
    co_await srv.wait_closed();
}

} // namespace

int main(int argc, char** argv) {
    const long port = corio_bench::arg(argc, argv, "port", -1);
    if (port < 0 || port > 65535) {
        std::fprintf(stderr, "usage: w5_echo_server --port=PORT\n");
        return 2;
    }
    corio::run(serve(static_cast<std::uint16_t>(port)));
    return 0;
}
