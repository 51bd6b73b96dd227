// tail_process: run a command and print each line of its output as it arrives, with the
// time since the start, then its exit code. Ctrl-C stops the child with SIGTERM.
//
//   tail_process                          # a small shell loop
//   tail_process ping -c 3 127.0.0.1

#include <corio/corio.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

corio::task<int> tail(std::vector<std::string> argv) {
    corio::event_loop& loop = corio::get_running_loop();
    const corio::clock::time_point start = loop.time();

    corio::process_options options{.stdout_ = corio::pipe, .stderr_ = corio::stdout_};
    corio::process child = co_await corio::create_subprocess_exec(argv, options);
    loop.add_signal_handler(SIGINT, [&child] { child.terminate(); });

    corio::stream& out = child.stdout_pipe();
    while (true) {
        std::string line = co_await out.read_line();
        if (line.empty()) {
            break; // end of stream: the child closed its stdout (it has exited, usually)
        }
        const std::chrono::duration<double> elapsed = loop.time() - start;
        std::printf("[%7.3f s] %s%s", elapsed.count(), line.c_str(),
                    line.back() == '\n' ? "" : "\n");
        std::fflush(stdout);
    }
    const int code = co_await child.wait(); // minus the signal number if killed
    loop.remove_signal_handler(SIGINT);
    std::printf("exit code %d\n", code);
    co_return code;
}

int main(int argc, char** argv) {
    std::vector<std::string> command(argv + 1, argv + argc);
    if (command.empty()) {
        command = {"/bin/sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.2; done"};
    }
    try {
        const int code = corio::run(tail(command));
        return code < 0 ? 128 - code : code; // as a shell reports a child killed by a signal
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tail_process: %s\n", e.what());
        return 127;
    }
}
