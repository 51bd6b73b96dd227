// A program that uses only the coroutine types (generator, task, sync_wait, errors,
// outcome), linked against corio::core alone: it must build, link and run with neither the
// event loop nor liburing. check_core_alone.cmake then reads its symbols and its dynamic
// dependencies to prove neither was pulled in.
//
// A plain main (no GoogleTest), so that nothing but corio::core and the standard library is
// on its link line. Exits 0 if every check holds; prints the first that fails and exits 1.

#include "corio/errors.hpp"
#include "corio/generator.hpp"
#include "corio/outcome.hpp"
#include "corio/sync_wait.hpp"
#include "corio/task.hpp"

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "test_core_alone: FAILED: %s\n", what);
        ++failures;
    }
}

corio::generator<int> count_to(int n) {
    for (int i = 1; i <= n; ++i) {
        co_yield i;
    }
}

corio::generator<int, int, std::string> running_sum() {
    int total = 0;
    while (auto v = co_yield total) {
        total += *v;
    }
    co_return "sum " + std::to_string(total);
}

corio::task<int> leaf(int v) {
    co_return v * 2;
}

corio::task<int> chain(int depth) {
    if (depth == 0) {
        co_return co_await leaf(21);
    }
    co_return co_await chain(depth - 1);
}

corio::task<> fails() {
    throw std::runtime_error("boom");
    co_return;
}

/// Resumes the awaiting coroutine on another thread: sync_wait blocks until it ends.
struct resume_on_new_thread {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) const {
        std::thread([h] { h.resume(); }).detach();
    }
    void await_resume() const noexcept {}
};

corio::task<std::string> hop_threads() {
    co_await resume_on_new_thread{};
    co_return "hopped";
}

} // namespace

int main() {
    std::vector<int> seen;
    for (int v : count_to(4)) {
        seen.push_back(v);
    }
    check(seen == std::vector<int>{1, 2, 3, 4}, "a generator yields 1..4");

    auto sum = running_sum();
    sum.next();
    sum.send(5);
    sum.send(7);
    check(!sum.next().has_value(), "next() without a value ends the sum");
    check(sum.result() == "sum 12", "a generator returns its co_return value");

    auto closed = count_to(10);
    closed.next();
    closed.close();
    check(closed.done(), "a closed generator is done");

    check(corio::sync_wait(chain(1000)) == 42, "sync_wait runs a chain of 1000 awaits");

    bool threw = false;
    try {
        corio::sync_wait(fails());
    } catch (const std::runtime_error& e) {
        threw = std::string(e.what()) == "boom";
    }
    check(threw, "sync_wait rethrows the task's exception");

    check(corio::sync_wait(hop_threads()) == "hopped", "sync_wait waits for another thread");

    {
        // A task dropped unawaited: with no loop there is nothing to report it to.
        auto dropped = leaf(1);
    }

    corio::outcome<int> o(corio::sync_wait(leaf(4)));
    check(o.has_value() && o.value() == 8, "an outcome holds a task's value");

    bool invalid = false;
    try {
        corio::task<int> empty;
        corio::sync_wait(std::move(empty));
    } catch (const corio::invalid_state_error&) {
        invalid = true;
    }
    check(invalid, "awaiting an empty task throws invalid_state_error");

    return failures == 0 ? 0 : 1;
}
