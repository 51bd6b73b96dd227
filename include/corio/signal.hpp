#pragma once
/// \file
/// `co_await corio::signal(SIGTERM)`: wait for the next delivery of a signal on the running
/// loop.
///
/// ```cpp
/// corio::task<> serve_until_terminated(corio::server srv) {
///     auto serving = corio::spawn(srv.serve_forever());
///     co_await corio::signal(SIGTERM);   // Ctrl-C / kill: shut down gracefully
///     srv.close();
///     co_await srv.wait_closed();
/// }
/// ```
///
/// Built on `event_loop::add_signal_handler` (a signalfd): while at least one coroutine of a
/// loop waits for `signo`, that loop has a handler for it, so the signal is blocked on the
/// loop's thread and read by the loop; when the last waiter leaves, the handler is removed
/// and the signal gets back its normal disposition.

#include "corio/task.hpp"

namespace corio {

/// Wait for the next delivery of signal `signo` and return `signo` (handy when waiting for
/// several signals at once with `wait`/`as_completed`).
///
/// - One delivery wakes every coroutine of the loop waiting for `signo`.
/// - Only deliveries that arrive while someone waits count: a signal that arrived before
///   the first waiter (even one already pending because the thread blocked it) is not
///   delivered to it. While nobody waits the signal has its normal disposition: the default
///   for SIGINT, SIGTERM, SIGUSR1... kills the process. After a delivery the handler stays
///   until the woken coroutines have run, so a `while` loop around `co_await signal(s)`
///   never leaves a gap; code that does more work between two waits should keep another
///   waiter parked, or use `add_signal_handler`.
/// - Cancellable: a cancelled (or destroyed) wait leaves nothing registered once the last
///   waiter is gone.
/// - The loop has one handler per signal, shared by every `corio::signal` waiter of that
///   signal. Do not mix the two for one signal on one loop: `corio::signal(signo)` throws
///   `invalid_state_error` if a handler registered with `add_signal_handler(signo)` is
///   there, and an `add_signal_handler(signo)` or `remove_signal_handler(signo)` while
///   coroutines wait makes them throw `invalid_state_error`.
/// - Process-directed signals (kill(2), Ctrl-C) reach the loop only if every other thread
///   blocks them; corio's thread pools do. A signal the process ignores (SIG_IGN) gets its
///   default disposition back while it is waited for, so that it arrives.
///
/// The argument is checked at once; the wait starts when the task is awaited, on the
/// running loop. \throws std::invalid_argument for a bad signal number (0, NSIG or above,
/// SIGKILL, SIGSTOP); from the co_await: `invalid_state_error` if no loop is running or the
/// loop has (or gets) an `add_signal_handler` for the signal, std::system_error if signalfd
/// fails,
/// `cancelled_error`.
task<int> signal(int signo);

} // namespace corio
