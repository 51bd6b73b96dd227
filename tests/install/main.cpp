// Uses corio's public API the way a first program would; exits 0 only if it all works.
#include <corio/corio.hpp>

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
