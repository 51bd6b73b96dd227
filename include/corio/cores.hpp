#pragma once
/// \file
/// Every core: `corio::run_workers(n, main_fn)`, a process per worker as gunicorn and nginx
/// run them (the simplest way to use every core, and a crash costs one worker);
/// `corio::run_per_core(n, main_fn)`, one loop per thread in one process; and
/// `corio::worker_index()` / `corio::worker_count()` inside either.
///
/// ```cpp
/// // an HTTP server on every core: each worker listens on the port with SO_REUSEPORT, and
/// // the kernel spreads the connections over them
/// int main() {
///     return corio::run_workers(0, [](std::size_t) -> corio::task<> {
///         corio::http::server_options options;
///         options.tcp.reuse_port = true;
///         options.tcp.grace_period = std::chrono::seconds(10); // SIGTERM: finish requests
///         corio::server srv = co_await corio::http::serve(handler, "0.0.0.0", 8080, options);
///         co_await srv.serve_forever();
///     });
/// }
/// ```
///
/// The same function runs unchanged under run_per_core (threads) or run_workers
/// (processes). Under run_workers, the listening sockets belong to the supervisor (the
/// parent process): a worker's `start_server` asks it for them, so that a worker that is
/// restarted, or replaced in a rolling restart, takes over the same socket and its queue of
/// connections: none is refused or reset meanwhile. With `reuse_port`, the supervisor
/// keeps one socket per worker slot, all in one SO_REUSEPORT group (the kernel balances
/// them, without a thundering herd); without it, one socket all the workers accept from.
///
/// Signals. run_workers: SIGINT and SIGTERM are forwarded to every worker, where they
/// cancel the main task (a `grace_period` on the server makes that a graceful stop); a
/// worker still alive `worker_options::grace_period` later is killed (SIGKILL); a second
/// SIGINT/SIGTERM kills at once. SIGHUP replaces the workers one by one (a rolling
/// restart: the new worker starts, then the old one is stopped as above). run_per_core:
/// SIGINT and SIGTERM are handled once, by the thread that called it (they are blocked in
/// every worker thread, which inherit the mask), and delivered to every loop as a
/// cancellation of its main task. Both then return 128 + the signal's number, as a shell
/// reports a program a signal ended. Call them before the program starts threads of its
/// own: run_workers refuses to fork then (fork copies only the calling thread), and under
/// run_per_core a thread with the signals unblocked would take them, whose default action
/// ends the process. A run_per_core worker that fails (its main task throws) cancels the
/// others, and run_per_core rethrows its exception once all have ended; a run_workers
/// worker that fails or crashes is restarted (see `worker_options`).
///
/// Thread pools. run_per_core's loops share one thread pool as their default executor
/// (`to_thread`): one per process, whatever the number of loops. Each run_workers worker
/// has its own, being a process of its own.

#include "corio/cancel_scope.hpp"
#include "corio/event_loop.hpp"
#include "corio/task.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

struct worker_options;

/// This worker's index: 0 to n - 1 inside run_per_core's worker `i` (and run_workers'), 0
/// outside any.
[[nodiscard]] std::size_t worker_index() noexcept;

/// How many workers run_per_core or run_workers runs (the `n` given, or the CPUs); 1
/// outside any worker.
[[nodiscard]] std::size_t worker_count() noexcept;

/// The CPUs this process may run on (sched_getaffinity), at least 1.
[[nodiscard]] std::size_t usable_cpus() noexcept;

namespace detail {

void set_worker_index(std::size_t i, std::size_t n) noexcept;

/// What a worker's main task gives: void or int (run_workers, run_per_core).
template <class F>
using worker_result_t = typename decltype(std::declval<F&>()(std::size_t{0}))::value_type;
template <class F>
inline constexpr bool valid_worker_v =
    std::is_void_v<worker_result_t<F>> || std::is_same_v<worker_result_t<F>, int>;

/// Run `main` inside a cancel scope on the running loop; `on_scope(scope)` is called first
/// and its result (a guard) lives until the scope is done. A cancelled `task<int>` gives 0.
template <class R, class OnScope>
task<R> cancellable_main(task<R> main, OnScope on_scope) {
    cancel_scope scope;
    auto guard = on_scope(scope);
    if constexpr (std::is_void_v<R>) {
        (void)co_await scope.run(std::move(main));
    } else {
        std::optional<R> r = co_await scope.run(std::move(main));
        co_return r ? std::move(*r) : R{};
    }
}

/// What run_per_core's threads share: which loops run, how to cancel each, and the wait
/// for a signal or for every worker to end (src/cores/per_core.cpp).
class per_core_supervisor {
public:
    /// Blocks SIGINT and SIGTERM in the calling thread (the workers inherit it).
    /// \throws std::system_error if the signal descriptors cannot be made.
    explicit per_core_supervisor(std::size_t n);
    per_core_supervisor(const per_core_supervisor&) = delete;
    per_core_supervisor& operator=(const per_core_supervisor&) = delete;
    /// Restores the signal mask; a signal that came meanwhile stays pending.
    ~per_core_supervisor();

    /// Worker `i`'s main task runs inside `scope` on the running loop.
    void started(std::size_t i, cancel_scope& scope);
    /// Worker `i`'s scope is done (called on its loop, before the scope goes).
    void stopped(std::size_t i) noexcept;
    /// Worker `i` has ended (its thread is about to); `error` if it failed.
    void ended(std::size_t i, std::exception_ptr error) noexcept;
    /// Cancel every worker's main task (once).
    void cancel_all() noexcept;
    /// Wait until every worker has ended; a SIGINT or SIGTERM meanwhile cancels them all.
    /// Returns the signal's number, or 0.
    int wait();
    /// The first worker's failure, if any.
    [[nodiscard]] std::exception_ptr error() const noexcept;
    /// The thread pool every worker's loop uses as its default executor (to_thread): one
    /// per process, not per loop.
    [[nodiscard]] executor& pool() noexcept;

private:
    struct impl;
    std::unique_ptr<impl> m;
};

template <class R>
task<R> per_core_main(per_core_supervisor& sup, std::size_t i, task<R> main) {
    struct stop_guard {
        per_core_supervisor* sup;
        std::size_t i;
        stop_guard(per_core_supervisor* s, std::size_t index) : sup(s), i(index) {}
        stop_guard(const stop_guard&) = delete;
        stop_guard& operator=(const stop_guard&) = delete;
        ~stop_guard() { sup->stopped(i); }
    };
    return cancellable_main(std::move(main), [&sup, i](cancel_scope& scope) {
        get_running_loop().set_default_executor(sup.pool());
        sup.started(i, scope);
        return stop_guard(&sup, i);
    });
}

/// In a run_workers worker: SIGINT and SIGTERM (read from a signalfd the worker made as it
/// started) cancel `scope` while the guard lives.
class worker_stop_watch {
public:
    explicit worker_stop_watch(cancel_scope& scope);
    worker_stop_watch(const worker_stop_watch&) = delete;
    worker_stop_watch& operator=(const worker_stop_watch&) = delete;
    ~worker_stop_watch();

private:
    event_loop* m_loop;
    int m_fd;
};

template <class R>
task<R> worker_main(task<R> main) {
    return cancellable_main(std::move(main),
                            [](cancel_scope& scope) { return worker_stop_watch(scope); });
}

/// run_workers' supervisor (src/cores/workers.cpp): forks the workers, each calling
/// `body(i)` and exiting with what it returns; returns run_workers' result.
int supervise_workers(std::size_t n, const std::function<int(std::size_t)>& body,
                      const worker_options& options);

} // namespace detail

/// Options for run_workers. An aggregate: `{.grace_period = std::chrono::seconds(5)}`.
struct worker_options {
    /// Each worker's loop.
    run_options run{};
    /// How long a worker told to stop (SIGINT, SIGTERM, or replaced in a rolling restart)
    /// has to end before it is killed with SIGKILL (gunicorn's graceful timeout, 30 s).
    std::chrono::milliseconds grace_period{30'000};
    /// A worker that crashes (a signal ends it, or its main task throws: it then prints the
    /// exception and exits with 70, EX_SOFTWARE) is restarted at once the first time, then
    /// after restart_delay, doubling with each crash in a row up to max_restart_delay; a
    /// worker that ran for max_restart_delay resets the count. Each crash and restart is
    /// reported on stderr. A worker whose main task returns is not restarted.
    std::chrono::milliseconds restart_delay{100};
    std::chrono::milliseconds max_restart_delay{10'000};
};

/// Run `main_fn(i)` (a `task<>`, or a `task<int>` giving an exit status) for i in [0, n), each
/// in its own process with its own loop, forked from this one, and supervise them (see the
/// file's comment): restart those that crash, forward SIGINT and SIGTERM, replace them one
/// by one on SIGHUP. `n` = 0: one per CPU this process may use. Returns once every worker
/// has ended: the largest status the workers returned (0 for `task<>`), or 128 + the
/// number of the signal (SIGINT, SIGTERM) that stopped them. Only the supervisor returns:
/// a worker exits when its main task ends. No worker is left behind (a worker whose
/// supervisor dies gets SIGTERM), and none is left a zombie.
/// \throws std::logic_error if this process has more than one thread or an event loop
/// already (start them in the workers), or inside a worker; std::system_error if a worker
/// cannot be forked, or naming the address if a listening socket cannot be made
/// ("bind 0.0.0.0:80: Permission denied": every worker is stopped first) or another
/// program's socket already listens on it with SO_REUSEPORT (which would take a share of
/// the connections).
template <class F>
int run_workers(std::size_t n, F main_fn, worker_options options = {}) {
    static_assert(detail::valid_worker_v<F>, "main_fn(i) must give a task<> or a task<int>");
    using R = detail::worker_result_t<F>;
    const std::function<int(std::size_t)> body = [&main_fn, &options](std::size_t i) -> int {
        if constexpr (std::is_void_v<R>) {
            run(detail::worker_main<R>(main_fn(i)), options.run);
            return 0;
        } else {
            return run(detail::worker_main<R>(main_fn(i)), options.run);
        }
    };
    return detail::supervise_workers(n, body, options);
}

/// Run `main_fn(i)` (a `task<>`, or a `task<int>` giving an exit status) for i in [0, n), each
/// on its own thread with its own loop, and wait for all of them. `n` = 0: one per CPU this
/// process may use. Returns the largest status the workers returned (0 for `task<>`), or
/// 128 + the number of the signal (SIGINT, SIGTERM) that cancelled them.
/// \throws what a failed worker threw (the others were cancelled first), std::system_error
/// if a thread cannot be started.
template <class F>
int run_per_core(std::size_t n, F main_fn, run_options options = {}) {
    static_assert(detail::valid_worker_v<F>, "main_fn(i) must give a task<> or a task<int>");
    using R = detail::worker_result_t<F>;
    if (n == 0) {
        n = usable_cpus();
    }
    detail::per_core_supervisor sup(n);
    std::vector<int> statuses(n, 0);
    std::vector<std::thread> threads;
    threads.reserve(n);
    try {
        for (std::size_t i = 0; i < n; ++i) {
            threads.emplace_back([&, i] {
                detail::set_worker_index(i, n);
                std::exception_ptr error;
                try {
                    if constexpr (std::is_void_v<R>) {
                        run(detail::per_core_main<R>(sup, i, main_fn(i)), options);
                    } else {
                        statuses[i] = run(detail::per_core_main<R>(sup, i, main_fn(i)), options);
                    }
                } catch (...) {
                    error = std::current_exception();
                }
                sup.ended(i, error);
            });
        }
    } catch (...) {
        // Not every thread started: stop those that did, then report it.
        for (std::size_t i = threads.size(); i < n; ++i) {
            sup.ended(i, nullptr);
        }
        sup.cancel_all();
        for (std::thread& t : threads) {
            t.join();
        }
        throw;
    }
    const int signal = sup.wait();
    for (std::thread& t : threads) {
        t.join();
    }
    if (std::exception_ptr e = sup.error()) {
        std::rethrow_exception(e);
    }
    if (signal != 0) {
        return 128 + signal;
    }
    return *std::max_element(statuses.begin(), statuses.end());
}

} // namespace corio
