#pragma once
/// \file
/// Every core: `corio::run_per_core(n, main_fn)`, one loop per thread in one process, and
/// `corio::worker_index()`.
///
/// ```cpp
/// // an HTTP server on every core: each loop listens on the same port (SO_REUSEPORT), and
/// // the kernel spreads the connections over them
/// int status = corio::run_per_core(0, [](std::size_t) -> corio::task<> {
///     corio::http::server_options options;
///     options.tcp.reuse_port = true;
///     corio::server srv = co_await corio::http::serve(handler, "0.0.0.0", 8080, options);
///     co_await srv.serve_forever();
/// });
/// ```
///
/// SIGINT and SIGTERM are handled once, by the thread that called run_per_core (they are
/// blocked in every worker thread, which inherit the mask), and delivered to every loop as
/// a cancellation of its main task; run_per_core then returns 128 + the signal's number, as
/// a shell reports a program a signal ended. Call it before the program starts threads of
/// its own (or block the two signals in them): a thread with them unblocked would take the
/// signal, whose default action ends the process. A worker that fails (its main task
/// throws) cancels the others, and run_per_core rethrows its exception once all have ended.

#include "corio/cancel_scope.hpp"
#include "corio/event_loop.hpp"
#include "corio/task.hpp"

#include <algorithm>
#include <cstddef>
#include <exception>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace corio {

/// This worker's index: 0 to n - 1 inside run_per_core's worker `i` (and run_workers'), 0
/// outside any.
[[nodiscard]] std::size_t worker_index() noexcept;

/// The CPUs this process may run on (sched_getaffinity), at least 1.
[[nodiscard]] std::size_t usable_cpus() noexcept;

namespace detail {

void set_worker_index(std::size_t i) noexcept;

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

private:
    struct impl;
    std::unique_ptr<impl> m;
};

template <class R>
task<R> per_core_main(per_core_supervisor& sup, std::size_t i, task<R> main) {
    cancel_scope scope;
    sup.started(i, scope);
    struct stop_guard {
        per_core_supervisor& sup;
        std::size_t i;
        ~stop_guard() { sup.stopped(i); }
    } guard{sup, i};
    if constexpr (std::is_void_v<R>) {
        (void)co_await scope.run(std::move(main));
    } else {
        std::optional<R> r = co_await scope.run(std::move(main));
        co_return r ? std::move(*r) : R{};
    }
}

} // namespace detail

/// Run `main_fn(i)` (a `task<>`, or a `task<int>` giving an exit status) for i in [0, n), each
/// on its own thread with its own loop, and wait for all of them. `n` = 0: one per CPU this
/// process may use. Returns the largest status the workers returned (0 for `task<>`), or
/// 128 + the number of the signal (SIGINT, SIGTERM) that cancelled them.
/// \throws what a failed worker threw (the others were cancelled first), std::system_error
/// if a thread cannot be started.
template <class F>
int run_per_core(std::size_t n, F main_fn, run_options options = {}) {
    using T = decltype(main_fn(std::size_t{0}));
    using R = typename T::value_type;
    static_assert(std::is_void_v<R> || std::is_same_v<R, int>,
                  "run_per_core: main_fn(i) must give a task<> or a task<int>");
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
                detail::set_worker_index(i);
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
