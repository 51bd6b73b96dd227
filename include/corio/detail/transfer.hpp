#pragma once
// Control transfer between coroutines without growing the stack.
//
// `co_await some_task` suspends the awaiting coroutine and starts the task; when the task
// ends, its final_suspend resumes the awaiter. With C++20 symmetric transfer,
// `await_suspend` returns the next handle and the compiler emits a tail call, so an await
// chain of any depth runs in constant stack. Compiler facts this file relies on (checked
// with a 1,000,000-deep chain of tasks that complete without suspending):
//   - clang++ emits the tail call at every optimization level and under ASan/UBSan/TSan;
//   - g++ 12 emits it only when optimizing without sanitizers; at -O0, and at any level
//     with -fsanitize=address/undefined/thread, each transfer becomes a nested call and
//     the chain overflows the stack.
// Where the tail call is not guaranteed, corio runs coroutines from a per-thread
// trampoline instead: `transfer(h)` records `h` as the next coroutine to run and returns
// the no-op coroutine, so the awaiter's resume() returns to the trampoline loop in
// `resume()`, which then runs `h`. Depth is constant either way; only the cost of a hop
// differs (a thread-local store and a loop iteration).
//
// Define CORIO_FORCE_TRAMPOLINE=1 to use the trampoline everywhere (the tests do, to cover
// both paths under one compiler).

#include <coroutine>

#if !defined(CORIO_FORCE_TRAMPOLINE)
#define CORIO_FORCE_TRAMPOLINE 0
#endif

#if CORIO_FORCE_TRAMPOLINE
#define CORIO_SYMMETRIC_TRANSFER 0
#elif defined(__clang__)
#define CORIO_SYMMETRIC_TRANSFER 1
#elif defined(__GNUC__) && defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__) &&              \
    !defined(__SANITIZE_THREAD__) && !defined(CORIO_SANITIZE_BUILD)
#define CORIO_SYMMETRIC_TRANSFER 1
#else
#define CORIO_SYMMETRIC_TRANSFER 0
#endif

namespace corio::detail {

#if !CORIO_SYMMETRIC_TRANSFER
struct trampoline_state {
    std::coroutine_handle<> next;
    bool active = false;
};
inline thread_local trampoline_state t_trampoline;
#endif

/// Resume `h` and everything it transfers control to, in constant stack depth.
/// Use this, not `h.resume()`, wherever corio starts or wakes a coroutine.
inline void resume(std::coroutine_handle<> h) {
#if CORIO_SYMMETRIC_TRANSFER
    h.resume();
#else
    trampoline_state& t = t_trampoline;
    // Restores the outer trampoline (if this one is nested) even if a resume throws.
    struct restore {
        trampoline_state& t;
        trampoline_state saved;
        ~restore() { t = saved; }
    } guard{t, t};
    t.active = true;
    do {
        t.next = nullptr;
        h.resume();
        h = t.next;
    } while (h);
#endif
}

/// The handle an `await_suspend` returns to hand control to `h`.
[[nodiscard]] inline std::coroutine_handle<> transfer(std::coroutine_handle<> h) noexcept {
#if CORIO_SYMMETRIC_TRANSFER
    return h;
#else
    trampoline_state& t = t_trampoline;
    if (t.active) {
        t.next = h;
    } else {
        // Resumed from outside corio (a raw resume() by user code): start a trampoline here.
        // The awaiting coroutine is already suspended, so running `h` now is allowed.
        resume(h);
    }
    return std::noop_coroutine();
#endif
}

} // namespace corio::detail
