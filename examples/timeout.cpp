// Timeouts: fail_after (asyncio.timeout), wait_for, and move_on_after (trio), and how a
// task cleans up when it is cancelled.

#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>

using namespace std::chrono_literals;

namespace {

corio::task<std::string> slow_fetch(std::chrono::milliseconds latency) {
    co_await corio::sleep(latency);
    co_return "payload after " + std::to_string(latency.count()) + " ms";
}

/// A task that must release something even when cancelled. C++ forbids co_await inside a
/// catch handler, so the handler only keeps the exception; the cleanup awaits after it.
corio::task<> careful_worker() {
    std::exception_ptr cancelled;
    try {
        co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
        cancelled = std::current_exception();
    }
    if (cancelled) {
        std::printf("worker: cancelled, flushing state first...\n");
        co_await corio::sleep(20ms); // cleanup may await
        std::printf("worker: flushed\n");
        std::rethrow_exception(cancelled); // and then it stays cancelled
    }
}

corio::task<> main_task() {
    // fail_after: the value, or timeout_error once the body has been cancelled.
    std::string fast = co_await corio::fail_after(200ms, slow_fetch(50ms));
    std::printf("fail_after: %s\n", fast.c_str());
    bool timed_out = false;
    try {
        co_await corio::fail_after(100ms, slow_fetch(10s));
    } catch (const corio::timeout_error& e) {
        timed_out = true;
        std::printf("fail_after: %s\n", e.what());
    }

    // wait_for is the asyncio spelling of the same thing.
    std::string via_wait_for = co_await corio::wait_for(slow_fetch(10ms), 1s);
    std::printf("wait_for: %s\n", via_wait_for.c_str());

    // move_on_after: empty instead of an exception.
    std::optional<std::string> maybe = co_await corio::move_on_after(100ms, slow_fetch(10s));
    std::printf("move_on_after: %s\n", maybe ? maybe->c_str() : "(gave up)");

    // Cancelling a spawned task: its cleanup runs, then it ends cancelled.
    auto worker = corio::spawn(careful_worker(), "worker");
    co_await corio::sleep(10ms);
    worker.cancel();
    try {
        co_await worker;
    } catch (const corio::cancelled_error&) {
        std::printf("main: worker ended cancelled=%s\n", worker.cancelled() ? "yes" : "no");
    }
    std::printf("timed out once: %s\n", timed_out ? "yes" : "no");
}

} // namespace

int main() {
    corio::run(main_task());
}
