// A producer/consumer pipeline through bounded queues (asyncio.Queue): the producer is held
// back when the consumers fall behind (maxsize), the stages end with shutdown(), and join()
// waits until every item has been processed.

#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

corio::task<> produce(corio::queue<int>& jobs, int count) {
    for (int i = 1; i <= count; ++i) {
        co_await jobs.put(i); // waits while 4 jobs are already queued
        std::printf("produced %d (queue size %zu)\n", i, jobs.size());
    }
    jobs.shutdown(); // consumers stop once the queue is drained
}

corio::task<> consume(std::string name, corio::queue<int>& jobs,
                      corio::queue<std::string>& results) {
    while (auto job = co_await jobs.next()) { // async for job in jobs
        co_await corio::sleep(50ms);          // the work
        co_await results.put(name + " squared " + std::to_string(*job) + " = " +
                             std::to_string(*job * *job));
        jobs.task_done();
    }
}

corio::task<> main_task() {
    corio::queue<int> jobs(4);
    corio::queue<std::string> results;
    auto producer = corio::spawn(produce(jobs, 12));
    std::vector<corio::join_handle<>> consumers;
    for (const char* name : {"alpha", "beta", "gamma"}) {
        consumers.push_back(corio::spawn(consume(name, jobs, results)));
    }
    co_await jobs.join(); // every job marked task_done()
    co_await producer;
    for (auto& c : consumers) {
        co_await c;
    }
    results.shutdown();
    while (auto line = co_await results.next()) {
        std::printf("%s\n", line->c_str());
    }
}

} // namespace

int main() {
    corio::run(main_task());
}
