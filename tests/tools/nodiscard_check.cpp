// Compiled (not run) by check_nodiscard.sh: every line marked `// discarded` drops an
// awaitable without co_await, and the compiler must warn about each one ([[nodiscard]]).
// Unmarked lines must compile without a diagnostic.

#include <corio/corio.hpp>

#include <chrono>
#include <exception>

namespace {

// A function of the user's that returns an awaiter: the awaiter type itself is
// [[nodiscard]], so discarding its result warns too.
auto my_acquire(corio::semaphore& s) {
    return s.acquire();
}
auto my_lock(corio::mutex& m) {
    return m.lock();
}

corio::async_generator<int, int> numbers() {
    co_yield 1;
}

corio::task<> body(corio::task_group&) {
    co_return;
}

int plain_call() {
    return 1;
}

corio::task<> discards() {
    corio::semaphore sem;
    corio::bounded_semaphore bounded;
    corio::mutex m;
    corio::event e;
    corio::condition cond;
    corio::barrier b(1);
    corio::queue<int> q;
    corio::thread_pool pool(1);
    auto gen = numbers();

    sem.acquire();                                               // discarded
    sem.acquire_guard();                                         // discarded
    bounded.acquire();                                           // discarded
    my_acquire(sem);                                             // discarded
    m.lock();                                                    // discarded
    my_lock(m);                                                  // discarded
    e.wait();                                                    // discarded
    cond.lock();                                                 // discarded
    cond.wait();                                                 // discarded
    b.wait();                                                    // discarded
    q.put(1);                                                    // discarded
    q.get();                                                     // discarded
    q.next();                                                    // discarded
    q.join();                                                    // discarded
    gen.next();                                                  // discarded
    gen.asend(1);                                                // discarded
    gen.athrow(std::exception_ptr());                            // discarded
    gen.aclose();                                                // discarded
    corio::with_task_group(body);                                // discarded
    corio::sleep(std::chrono::seconds(1));                       // discarded
    corio::sleep_until(corio::get_running_loop().time());        // discarded
    corio::to_thread(plain_call);                                // discarded
    corio::get_running_loop().run_in_executor(pool, plain_call); // discarded

    // Awaited: no diagnostic.
    co_await sem.acquire();
    co_await corio::sleep(std::chrono::seconds(0));
    (void)co_await corio::to_thread(plain_call);
    auto permit = co_await sem.acquire_guard();
    auto guard = co_await m.lock();
    co_await q.put(1);
    (void)co_await q.get();
}

} // namespace

int main() {
    corio::run(discards());
}
