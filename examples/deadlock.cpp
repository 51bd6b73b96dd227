// A deadlock on purpose, and how dump_tasks points at it.
//
// Two tasks take two mutexes in opposite orders. Each gets its first lock, then waits for
// the other's: neither will ever run again. The main task notices that nothing finished
// within a second and prints every task, what it waits for, and where it waits (the line
// with CORIO_AWAIT_SITES, as in the dev preset):
//
//   transfer-a-to-b (#2): waiting for a mutex held by task #3
//       deadlock.cpp:34 transfer()
//   transfer-b-to-a (#3): waiting for a mutex held by task #2
//       deadlock.cpp:34 transfer()
//
// A program that hangs without such a watchdog can be asked for the same dump from
// outside: run it with CORIO_DUMP_SIGNAL=SIGUSR1 and send it `kill -USR1 <pid>`.

#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

using namespace std::chrono_literals;

namespace {

struct account {
    corio::mutex lock;
    int balance = 100;
};

corio::task<> transfer(account& from, account& to, int amount) {
    auto first = co_await from.lock.lock();
    co_await corio::sleep(10ms); // the other transfer takes its first lock meanwhile
    auto second = co_await to.lock.lock();
    from.balance -= amount;
    to.balance += amount;
}

corio::task<int> main_task() {
    account a;
    account b;
    auto ab = corio::spawn(transfer(a, b, 10), "transfer-a-to-b");
    auto ba = corio::spawn(transfer(b, a, 20), "transfer-b-to-a");
    co_await corio::sleep(1s); // a watchdog: transfers take milliseconds
    if (ab.done() && ba.done()) {
        std::printf("no deadlock this time: a=%d b=%d\n", a.balance, b.balance);
        co_return 0;
    }
    std::printf("nothing finished within a second; every task and what it waits for:\n\n");
    corio::dump_tasks(std::cout);
    std::printf("\nEach transfer holds the lock the other waits for: a deadlock. Cancelling.\n");
    ab.cancel();
    ba.cancel();
    co_return 0;
}

} // namespace

int main() {
    return corio::run(main_task());
}
