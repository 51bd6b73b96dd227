// A loop made on one thread may be run on another and closed on the first (asyncio allows
// it: new_event_loop() here, run_forever() in a thread). The io_uring reactor then must
// not tie its ring to the thread that made it (SINGLE_ISSUER, DEFER_TASKRUN and a
// registered ring fd are for loops that corio::run makes, runs and closes on one thread).

#include "support/net.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <thread>

using namespace corio_net_test;

namespace {

corio::task<> echo_line(corio::stream s) {
    s.write(co_await s.read_line());
    co_await s.drain();
}

corio::task<std::string> round_trip() {
    corio::server srv = co_await corio::start_server(echo_line, "127.0.0.1", 0);
    corio::stream c = co_await corio::open_connection("127.0.0.1", srv.port());
    c.write("across threads\n");
    std::string line = co_await c.read_line();
    srv.close();
    co_await srv.wait_closed();
    co_return line;
}

class loop_across_threads : public fd_leak_check {};

TEST_F(loop_across_threads, a_loop_made_here_runs_sockets_on_another_thread) {
    std::string line;
    {
        corio::event_loop loop;
        std::thread runner([&] { line = loop.run_until_complete(round_trip()); });
        runner.join();
        // And once more here, then closed here.
        EXPECT_EQ(loop.run_until_complete(round_trip()), "across threads\n");
        loop.close();
    }
    EXPECT_EQ(line, "across threads\n");
}

} // namespace
