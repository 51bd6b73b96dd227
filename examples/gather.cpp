// gather: run coroutines concurrently and collect their results in argument order
// (asyncio's factorial example).
//
//     async def factorial(name, number): ...
//     await asyncio.gather(factorial("A", 2), factorial("B", 3), factorial("C", 4))

#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

corio::task<long> factorial(std::string name, int number) {
    long f = 1;
    for (int i = 2; i <= number; ++i) {
        std::printf("Task %s: Compute factorial(%d), currently i=%d...\n", name.c_str(), number, i);
        co_await corio::sleep(100ms);
        f *= i;
    }
    std::printf("Task %s: factorial(%d) = %ld\n", name.c_str(), number, f);
    co_return f;
}

corio::task<int> might_fail(int i) {
    co_await corio::sleep(std::chrono::milliseconds(10 * i));
    if (i == 2) {
        throw std::runtime_error("item 2 failed");
    }
    co_return i* i;
}

corio::task<> main_task() {
    // The tuple form: one result per argument, of each argument's own type.
    auto [a, b, c] =
        co_await corio::gather(factorial("A", 2), factorial("B", 3), factorial("C", 4));
    std::printf("results: %ld %ld %ld\n", a, b, c);

    // The vector form, for any number of tasks of one type.
    std::vector<corio::task<long>> many;
    for (int n = 1; n <= 5; ++n) {
        many.push_back(factorial("v" + std::to_string(n), n));
    }
    std::vector<long> all = co_await corio::gather(std::move(many));
    std::printf("vector: %zu results, last %ld\n", all.size(), all.back());

    // return_exceptions: failures come back as values instead of cancelling the rest.
    std::vector<corio::task<int>> risky;
    for (int i = 0; i < 4; ++i) {
        risky.push_back(might_fail(i));
    }
    auto outcomes = co_await corio::gather(corio::return_exceptions, std::move(risky));
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        if (outcomes[i].has_value()) {
            std::printf("item %zu: %d\n", i, outcomes[i].value());
        } else {
            try {
                std::rethrow_exception(outcomes[i].exception());
            } catch (const std::exception& e) {
                std::printf("item %zu: failed: %s\n", i, e.what());
            }
        }
    }
}

} // namespace

int main() {
    corio::run(main_task());
}
