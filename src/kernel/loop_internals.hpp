#pragma once
// What the kernel's files share and nothing outside them sees: src/kernel/event_loop.cpp (the
// ready queue, park/wake, running and closing), src/kernel/task_state.cpp (the task control
// block), src/kernel/timers.cpp (the timer queue) and src/kernel/diagnostics.cpp (debug
// mode, the environment, the exception handler).

#include "corio/detail/task_state.hpp"
#include "corio/event_loop.hpp"

#include <string>

namespace corio::detail {

/// What a task is "parked at" between a cancellation waking it and its next step (see
/// event_loop::unpark_woken). Only its address is used.
extern waiter cancel_on_its_way;

/// Put the kernel's task hooks (corio/detail/task_hooks.hpp) in force if they are not yet.
void install_kernel_task_hooks() noexcept;

// --- task hooks, defined in event_loop.cpp (hot: read on every task creation) ---
/// True if a loop runs on this thread in debug mode: task creation sites are recorded.
bool task_creation_tracking() noexcept;

// --- diagnostics.cpp ---
void record_task_creation(const void* promise, const char* function, const char* file,
                          unsigned line);
void forget_task_creation(const void* promise) noexcept;
/// "task was never awaited", through the running loop's exception handler in debug mode.
void report_never_awaited(const void* promise) noexcept;
/// An exception is leaving the coroutine of `p`: record the chain of awaits from `p`
/// outwards (once per exception, O(1) for the coroutines it leaves next); the task it ends
/// keeps it (task_state_base::keep_throw_site) for the report of that exception.
void record_throw_site(const task_promise_base& p) noexcept;
/// Let go of a throw site recorded and never taken (the loop closes).
void forget_throw_record() noexcept;
/// " (created in fetch at crawl.cpp:88)" in debug mode (where creation is tracked), else
/// " (coroutine fetch())".
std::string creation_site_text(const task_promise_base& promise);
/// CORIO_DEBUG=1 (anything but empty or 0).
bool debug_from_environment();
/// The signal CORIO_DUMP_SIGNAL names ("SIGUSR1", "USR1" or a number), 0 if unset.
/// \throws std::invalid_argument for anything else.
int dump_signal_from_environment();

} // namespace corio::detail
