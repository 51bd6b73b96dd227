// A known tree of tasks for tools/corio-gdb.py: the test stops this program in
// corio_gdb_stop_here() (called from a task) and reads the tree with `corio-tasks`, live and
// from a core file.
//
//   main_task (#1): running
//     holder (#2): waiting for a timer          holds the mutex
//     blocked (#3): waiting for a mutex
//     task group #N: 2 tasks
//       member-a (#4), member-b (#5): waiting for a timer, in nap() ← member()

#include <corio/corio.hpp>

#include <chrono>

using namespace std::chrono_literals;

extern "C" __attribute__((noinline)) void corio_gdb_stop_here() {
    asm volatile("" ::: "memory"); // a call gdb can break on, never optimised away
}

namespace {

corio::task<> holder(corio::mutex& m) {
    auto guard = co_await m.lock();
    co_await corio::sleep(1h);
}

corio::task<> blocked(corio::mutex& m) {
    auto guard = co_await m.lock();
}

corio::task<> nap() {
    co_await corio::sleep(1h);
}

corio::task<> member() {
    co_await nap();
}

corio::task<> main_task() {
    corio::mutex m;
    auto h = corio::spawn(holder(m), "holder");
    co_await corio::sleep(1ms); // the holder takes the lock first
    auto b = corio::spawn(blocked(m), "blocked");
    auto body = [&](corio::task_group& g) -> corio::task<> {
        g.spawn(member(), "member-a");
        g.spawn(member(), "member-b");
        co_await corio::sleep(1ms);
        corio_gdb_stop_here();
        g.cancel();
    };
    co_await corio::with_task_group(body);
    h.cancel();
    b.cancel();
    for (auto* t : {&h, &b}) {
        try {
            co_await *t;
        } catch (const corio::cancelled_error&) {
        }
    }
}

} // namespace

int main() {
    corio::run_options o;
    o.virtual_clock = true;
    corio::run(main_task(), o);
    return 0;
}
