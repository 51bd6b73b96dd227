#pragma once
// Control transfer between coroutines without growing the stack.
//
// `co_await some_task` suspends the awaiting coroutine and starts the task; when the task
// ends, its final_suspend resumes the awaiter. With C++20 symmetric transfer,
// `await_suspend` returns the next handle and the compiler emits a tail call, so an await
// chain of any depth runs in constant stack. Compiler facts this file relies on (clang 14
// and g++ 12 on x86-64, checked with a 1,000,000-deep chain of tasks that complete
// without suspending):
//   - clang++ emits the tail call at every optimization level (-O0 to -O3, -Og, -Os) and
//     under ASan/UBSan/TSan and -fno-optimize-sibling-calls;
//   - g++ 12 emits it only as an ordinary sibling-call optimisation: at -O2, -O3 and -Os,
//     but not at -O0, -O1 or -Og, nor with -fno-optimize-sibling-calls or
//     -fsanitize=address/thread; there each transfer is a nested call and the chain
//     overflows the stack. No predefined macro tells -O1 or -Og from -O2, so g++ always
//     gets the trampoline.
// Where the tail call is not guaranteed, corio runs coroutines from a per-thread
// trampoline instead: `transfer(h)` records `h` as the next coroutine to run and returns
// the no-op coroutine, so the awaiter's resume() returns to the trampoline loop in
// `resume()`, which then runs `h`. Depth is constant either way; only the cost of a hop
// differs (a thread-local store and a loop iteration).
//
// Define CORIO_FORCE_TRAMPOLINE=1 to use the trampoline everywhere (the tests do, to cover
// both paths under one compiler). Each mode lives in its own inline namespace, so a
// translation unit built with the trampoline (a test) and one built without (the library)
// each call their own resume()/transfer() rather than whichever copy the linker kept; a
// coroutine resumed by one mode's resume() may transfer with the other mode's transfer().

#include <coroutine>
#include <utility>

#if !defined(CORIO_FORCE_TRAMPOLINE)
#define CORIO_FORCE_TRAMPOLINE 0
#endif

#if CORIO_FORCE_TRAMPOLINE
#define CORIO_SYMMETRIC_TRANSFER 0
#elif defined(__clang__)
#define CORIO_SYMMETRIC_TRANSFER 1
#else
#define CORIO_SYMMETRIC_TRANSFER 0
#endif

namespace corio::detail {

#if CORIO_SYMMETRIC_TRANSFER

inline namespace symmetric_transfer {

/// Resume `h` and everything it transfers control to, in constant stack depth.
/// Use this, not `h.resume()`, wherever corio starts or wakes a coroutine.
inline void resume(std::coroutine_handle<> h) {
    h.resume();
}

/// The handle an `await_suspend` returns to hand control to `h`.
[[nodiscard]] inline std::coroutine_handle<> transfer(std::coroutine_handle<> h) noexcept {
    return h;
}

} // namespace symmetric_transfer

#else

inline namespace trampoline_transfer {

struct trampoline_state {
    /// Where the coroutine that just suspended transferred control; null if nowhere.
    std::coroutine_handle<> next;
    /// True while a resume() loop runs on this thread.
    bool active = false;
};
inline thread_local trampoline_state t_trampoline;

/// Resume `h` and everything it transfers control to, in constant stack depth.
/// Use this, not `h.resume()`, wherever corio starts or wakes a coroutine.
inline void resume(std::coroutine_handle<> h) {
    trampoline_state& t = t_trampoline;
    // Restores the outer trampoline (if this one is nested: a sync_wait inside a task)
    // even if a resume throws.
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
}

/// The handle an `await_suspend` returns to hand control to `h`.
[[nodiscard]] inline std::coroutine_handle<> transfer(std::coroutine_handle<> h) noexcept {
    trampoline_state& t = t_trampoline;
    if (!t.active) {
        // Resumed from outside corio (a plain resume() by user code, another thread): start
        // a trampoline here. The awaiting coroutine is already suspended, so running `h`
        // now is allowed.
        resume(h);
    } else if (t.next) {
        // Someone made a plain resume() inside this step (an event set inline resuming its
        // waiter), and the coroutine it resumed transferred to `t.next` and returned. Run
        // that first, as symmetric transfer would have, then `h`: a single slot
        // overwritten would lose it.
        resume(std::exchange(t.next, h));
    } else {
        t.next = h;
    }
    return std::noop_coroutine();
}

} // namespace trampoline_transfer

#endif

} // namespace corio::detail
