// Structured concurrency with a task group (asyncio.TaskGroup, trio's nursery): the
// group's scope does not end until every child has, and one child's failure cancels the
// others.

#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

namespace {

corio::task<> worker(std::string name, std::chrono::milliseconds work, bool fail) {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(work);
    } catch (const corio::cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (cancelled) {
        std::printf("  %s: cancelled by the group\n", name.c_str());
        std::rethrow_exception(cancelled);
    }
    if (fail) {
        std::printf("  %s: failing\n", name.c_str());
        throw std::runtime_error(name + " could not finish");
    }
    std::printf("  %s: done after %lld ms\n", name.c_str(), static_cast<long long>(work.count()));
}

corio::task<> all_succeed(corio::task_group& g) {
    g.spawn(worker("a", 30ms, false));
    g.spawn(worker("b", 10ms, false));
    g.spawn(worker("c", 20ms, false));
    co_return;
}

corio::task<> one_fails(corio::task_group& g) {
    g.spawn(worker("slow", 1s, false));
    g.spawn(worker("broken", 10ms, true));
    g.spawn(worker("also slow", 2s, false));
    co_await corio::sleep(1h); // the body is cancelled too
}

corio::task<> main_task() {
    std::printf("group 1: every child succeeds\n");
    co_await corio::with_task_group(all_succeed);
    std::printf("group 1 finished: all children are done\n\n");

    std::printf("group 2: one child fails\n");
    try {
        co_await corio::with_task_group(one_fails);
    } catch (const corio::exception_group& group) {
        std::printf("group 2 raised %s\n", group.what());
        for (const auto& e : group.exceptions()) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::printf("  - %s\n", x.what());
            }
        }
    }
}

} // namespace

int main() {
    corio::run(main_task());
}
