// Uses only the coroutine types, linked against corio::core (no event loop, no liburing);
// exits 0 only if they work.
#include <corio/generator.hpp>
#include <corio/sync_wait.hpp>
#include <corio/task.hpp>

namespace {

corio::generator<int> one_two_three() {
    co_yield 1;
    co_yield 2;
    co_yield 3;
}

corio::task<int> answer() {
    co_return 42;
}

} // namespace

int main() {
    int sum = 0;
    for (int value : one_two_three()) {
        sum += value;
    }
    const int result = corio::sync_wait(answer());
    return sum == 6 && result == 42 ? 0 : 1;
}
