// A rate-limited worker pool: 20 downloads, at most 3 at a time (asyncio.Semaphore), all in
// one task group so a failure would cancel the rest.

#include <corio/corio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

namespace {

struct stats {
    int running = 0;
    int peak = 0;
    int done = 0;
};

corio::task<> download(int id, corio::semaphore& slots, stats& s) {
    co_await slots.acquire();
    ++s.running;
    s.peak = std::max(s.peak, s.running);
    std::printf("download %2d started (%d running)\n", id, s.running);
    co_await corio::sleep(std::chrono::milliseconds(20 + (id * 37) % 60));
    --s.running;
    ++s.done;
    slots.release();
}

corio::task<> start_all(corio::task_group& g, corio::semaphore& slots, stats& s) {
    for (int id = 1; id <= 20; ++id) {
        g.spawn(download(id, slots, s));
    }
    co_return;
}

corio::task<> main_task() {
    corio::semaphore slots(3);
    stats s;
    const auto start = corio::get_running_loop().time();
    co_await corio::with_task_group([&](corio::task_group& g) { return start_all(g, slots, s); });
    const double took =
        std::chrono::duration<double>(corio::get_running_loop().time() - start).count();
    std::printf("%d downloads, at most %d at once, in %.2f s\n", s.done, s.peak, took);
}

} // namespace

int main() {
    corio::run(main_task());
}
