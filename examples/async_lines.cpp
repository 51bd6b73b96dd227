// An async generator reading lines: the blocking reads run on the loop's thread pool
// (to_thread), the generator yields one line at a time, and the consumer stops early; the
// generator is then closed and its file released (PEP 525 finalization).
//
//   async_lines [file] [max-lines]     (default: /etc/os-release, 5 lines)

#include <corio/corio.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

struct file_closer {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

/// A blocking read of up to 4 KiB; empty at the end of the file.
std::string read_chunk(std::FILE* f) {
    std::string buffer(4096, '\0');
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), f);
    buffer.resize(n);
    return buffer;
}

corio::async_generator<std::string> lines_of(std::string path) {
    file_ptr file(std::fopen(path.c_str(), "r"));
    if (!file) {
        throw std::runtime_error("cannot open " + path);
    }
    std::string pending;
    std::exception_ptr closing;
    try {
        while (true) {
            auto read = [f = file.get()] { return read_chunk(f); };
            std::string chunk = co_await corio::to_thread(read);
            if (chunk.empty()) {
                break;
            }
            pending += chunk;
            std::size_t newline;
            while ((newline = pending.find('\n')) != std::string::npos) {
                co_yield pending.substr(0, newline + 1);
                pending.erase(0, newline + 1);
            }
        }
        if (!pending.empty()) {
            co_yield std::move(pending);
        }
    } catch (const corio::generator_exit&) {
        closing = std::current_exception();
    }
    std::printf("(generator: closing %s)\n", path.c_str());
    if (closing) {
        std::rethrow_exception(closing);
    }
}

corio::task<> main_task(std::string path, int max_lines) {
    auto lines = lines_of(path);
    int n = 0;
    while (auto line = co_await lines.next()) { // async for line in lines_of(path)
        std::printf("%3d: %s", ++n, line->c_str());
        if (n == max_lines) {
            std::printf("... stopping early\n");
            break; // `lines` is dropped half-read: corio closes it on the loop
        }
    }
    co_await lines.aclose(); // or close it ourselves, right now
}

} // namespace

int main(int argc, char** argv) {
    const std::string path = argc > 1 ? argv[1] : "/etc/os-release";
    const int max_lines = argc > 2 ? std::atoi(argv[2]) : 5;
    corio::run(main_task(path, max_lines));
}
