#pragma once
// The one interface through which the coroutine types (corio::core) reach whatever runs
// them: a table of functions, constant-initialized to ones that do nothing, that the event
// loop replaces with its own before it makes its first task (src/kernel/task_state.cpp).
//
// So task<T>, generator and sync_wait compile, link and work with neither the loop nor
// liburing: without a loop no task is ever spawned (the two spawned-task calls are never
// reached), nothing tracks creation sites, and a task dropped unawaited is not reported
// (the report is a debug-mode feature of the loop).
//
// The table is written only while no task can read it: at static initialization of the
// kernel, or, when a loop is made by a static initializer that runs before the kernel's,
// by that loop. Calling through it costs the same instructions as the direct calls it
// replaces (W1, W3: unchanged under callgrind).

namespace corio::detail {

class task_state_base;
class task_promise_base;

/// What a task asks of the loop that runs it.
struct task_hooks {
    /// A spawned task's coroutine reached its final suspend point: its control block wakes
    /// the awaiters (and may destroy the frame).
    void (*spawned_task_complete)(task_state_base* state) noexcept;
    /// A spawned task is about to run its body: true if it was cancelled before its first
    /// step (the body then does not run).
    bool (*start_cancelled)(task_state_base* state) noexcept;
    /// True if creation sites are recorded now (a loop runs on this thread in debug mode),
    /// for the "task was never awaited" report.
    bool (*creation_tracking)() noexcept;
    /// Remember where the coroutine of `promise` was created (creation_tracking was true).
    void (*record_creation)(const void* promise, const char* function, const char* file,
                            unsigned line);
    /// The promise recorded by record_creation is destroyed.
    void (*forget_creation)(const void* promise) noexcept;
    /// A task was destroyed without ever being awaited or spawned.
    void (*never_awaited)(const void* promise) noexcept;
    /// An exception is leaving the coroutine of `promise`: record the chain of awaits from
    /// it outwards (once per exception), which the task it ends keeps for its report.
    void (*throw_site)(const task_promise_base& promise) noexcept;
};

/// The hooks in force.
extern constinit task_hooks installed_task_hooks;

/// Replace the hooks (by the event loop, before any task of its can run; see above).
void install_task_hooks(const task_hooks& hooks) noexcept;

} // namespace corio::detail
