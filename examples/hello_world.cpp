// asyncio's first example, in corio: two coroutines sleeping concurrently.
//
//     async def say_after(delay, what):
//         await asyncio.sleep(delay)
//         print(what)
//
//     async def main():
//         task1 = asyncio.create_task(say_after(1, 'hello'))
//         task2 = asyncio.create_task(say_after(2, 'world'))
//         await task1
//         await task2
//
// Run sequentially, the two sleeps would take 3 seconds; as tasks they overlap and the
// program takes 2.

#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

namespace {

double seconds_since(corio::clock::time_point start) {
    return std::chrono::duration<double>(corio::get_running_loop().time() - start).count();
}

corio::task<> say_after(std::chrono::milliseconds delay, const char* what) {
    co_await corio::sleep(delay);
    std::printf("%s\n", what);
}

corio::task<> main_task() {
    const auto start = corio::get_running_loop().time();
    std::printf("started at %.2f s\n", seconds_since(start));

    // Awaited one after the other: 1 s + 2 s.
    co_await say_after(1s, "hello");
    co_await say_after(2s, "world");
    std::printf("sequential: finished at %.2f s\n", seconds_since(start));

    // Spawned: both run concurrently, so this part takes 2 s, not 3.
    const auto again = corio::get_running_loop().time();
    auto task1 = corio::spawn(say_after(1s, "hello"), "hello");
    auto task2 = corio::spawn(say_after(2s, "world"), "world");
    co_await task1;
    co_await task2;
    std::printf("concurrent: finished after %.2f s more\n", seconds_since(again));
}

} // namespace

int main() {
    corio::run(main_task());
}
