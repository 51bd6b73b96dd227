#pragma once
/// \file
/// `corio::event_loop` and `corio::run`: asyncio's event loop for C++20 coroutines.
///
/// ```cpp
/// corio::task<int> main_task() {
///     co_await corio::sleep(10ms);
///     co_return 42;
/// }
/// int main() { return corio::run(main_task()) == 42 ? 0 : 1; }
/// ```
///
/// One loop per thread. The loop owns a ready queue (drained in batches: what becomes ready
/// during a batch runs in the next one), a timer heap, and a reactor (epoll or io_uring,
/// `run_options::backend`) that waits for I/O until the earliest timer is due. Nothing in a loop is
/// thread-safe except `call_soon_threadsafe`.

#include "corio/detail/io_types.hpp"
#include "corio/detail/loop_service.hpp"
#include "corio/detail/task_state.hpp"
#include "corio/errors.hpp"
#include "corio/task.hpp"

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace corio {

/// The clock of every loop: `event_loop::time()` and all deadlines use it.
using clock = std::chrono::steady_clock;

/// Options for `corio::run` and `event_loop`.
struct run_options {
    /// The reactor; `CORIO_BACKEND=epoll|io_uring|automatic` in the environment overrides
    /// `automatic`.
    corio::backend backend = corio::backend::automatic;
    /// Debug mode (also `CORIO_DEBUG=1`): reports tasks never awaited, unretrieved
    /// exceptions, slow steps, and use of the loop from another thread.
    bool debug = false;
    /// A step or callback that holds the loop longer than this is reported in debug mode.
    std::chrono::milliseconds slow_callback_duration{100};
    /// Virtual time for tests: the clock does not move by itself; when every task is
    /// waiting and no I/O is ready, it jumps to the next timer. A test of a one-hour
    /// timeout finishes at once.
    bool virtual_clock = false;
    /// With `virtual_clock`, how long (real time) the loop waits for I/O or another thread
    /// before jumping; 0 jumps as soon as nothing is ready.
    std::chrono::milliseconds autojump_threshold{0};
};

/// What the loop's exception handler receives.
struct exception_context {
    std::string message;
    std::exception_ptr exception;
    /// The task concerned, if any ("Task-3").
    std::string task_name;
    /// Where it happened, as a chain of awaits innermost first (`fetch() ← worker()`; with
    /// CORIO_AWAIT_SITES, the file and line of each coroutine's last co_await): for an
    /// exception, the coroutine it left first and those awaiting it; for a task destroyed
    /// while pending, what it waited for and where. Empty when unknown.
    std::string async_stack = {};
};

class event_loop;
class executor;
class thread_pool;
using exception_handler = std::function<void(event_loop&, const exception_context&)>;

/// Cancels a callback scheduled with `call_later` / `call_at`.
class timer_handle {
public:
    timer_handle() noexcept = default;
    /// Cancel the callback if it has not run yet; harmless otherwise.
    void cancel() noexcept;
    /// True while the callback is scheduled and has not run or been cancelled.
    [[nodiscard]] bool pending() const noexcept;

private:
    friend class event_loop;
    timer_handle(event_loop* loop, std::uint32_t slot, std::uint32_t generation) noexcept
        : m_loop(loop), m_slot(slot), m_generation(generation) {}
    event_loop* m_loop = nullptr;
    std::uint32_t m_slot = 0;
    std::uint32_t m_generation = 0;
};

namespace detail {
class io_driver;
struct timer_slot;
struct timer_entry;
class timer_heap;
template <class T>
class task_state;
class loop_link;
std::shared_ptr<loop_link> link_of(event_loop& loop);
} // namespace detail

/// The event loop (asyncio's `AbstractEventLoop`).
class event_loop {
public:
    explicit event_loop(run_options options = {});
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;
    /// Closes the loop if it is not closed.
    ~event_loop();

    /// Run `main` as a task until it finishes; return its value or rethrow its exception.
    /// \throws invalid_state_error if a loop is already running on this thread, or this
    /// loop is closed.
    template <class T>
    T run_until_complete(task<T> main);

    /// Run until `stop()` is called. At least one iteration runs: after a `stop()` made
    /// while the loop was not running, it polls I/O once without blocking, runs what is
    /// ready, and returns (as asyncio).
    void run_forever();
    /// Make `run_forever()` return after the current iteration; a `run_until_complete`
    /// whose task has not finished then throws `invalid_state_error`.
    void stop() noexcept;
    /// Release the loop's resources: tasks still pending are destroyed (their frames, not
    /// run), timers dropped, the reactor closed. \throws invalid_state_error if running.
    void close();
    [[nodiscard]] bool is_running() const noexcept { return m_running; }
    [[nodiscard]] bool is_closed() const noexcept { return m_closed; }

    /// The loop's time (steady clock; the virtual time when `virtual_clock` is set).
    [[nodiscard]] clock::time_point time() const noexcept;

    /// Run `fn` in the next batch of the ready queue.
    /// \throws invalid_state_error if the loop is closed (so do call_later, call_at,
    /// call_soon_threadsafe, add_reader, add_writer and add_signal_handler);
    /// std::invalid_argument if `fn` is empty.
    void call_soon(std::function<void()> fn);
    /// Run `fn` after `delay` (at the earliest). The handle cancels it until it has run,
    /// even once its deadline has passed and it waits in the ready queue.
    timer_handle call_later(clock::duration delay, std::function<void()> fn);
    /// Run `fn` at `when` (at the earliest).
    timer_handle call_at(clock::time_point when, std::function<void()> fn);
    /// Run `fn` on the loop's thread; callable from any thread (wakes the loop).
    void call_soon_threadsafe(std::function<void()> fn);

    /// Call `fn` whenever `fd` is readable (level-triggered, as asyncio), until
    /// `remove_reader`. Replaces a previous reader callback.
    void add_reader(int fd, std::function<void()> fn);
    /// Returns true if a reader callback was registered.
    bool remove_reader(int fd);
    /// Call `fn` whenever `fd` is writable, until `remove_writer`.
    void add_writer(int fd, std::function<void()> fn);
    bool remove_writer(int fd);

    /// Call `fn` on the loop whenever signal `signo` arrives (through signalfd; the signal
    /// is blocked for this thread while a handler is registered, and a signal the process
    /// ignored (SIG_IGN) gets its default disposition back meanwhile, so that it arrives).
    /// \throws std::system_error if signalfd fails; std::invalid_argument for a bad signo.
    void add_signal_handler(int signo, std::function<void()> fn);
    /// Unregister and unblock `signo`; an instance still pending is dropped. Returns true
    /// if a handler was registered.
    bool remove_signal_handler(int signo);
    /// True if a handler is registered for `signo`.
    [[nodiscard]] bool has_signal_handler(int signo) const noexcept;

    /// Replace the handler for errors nobody else can receive (unretrieved task
    /// exceptions, exceptions from callbacks, debug reports). An empty function restores
    /// the default, which prints to stderr.
    void set_exception_handler(exception_handler handler);
    void call_exception_handler(const exception_context& context);
    static void default_exception_handler(event_loop& loop, const exception_context& context);

    void set_debug(bool enabled) noexcept { m_debug = enabled; }
    [[nodiscard]] bool get_debug() const noexcept { return m_debug; }
    [[nodiscard]] const run_options& options() const noexcept { return m_options; }
    /// The reactor in use: `backend::epoll` or `backend::io_uring`.
    [[nodiscard]] corio::backend backend() const noexcept { return m_backend; }
    /// Why `backend::automatic` fell back to epoll ("io_uring_setup: Operation not
    /// permitted"); empty if it did not.
    [[nodiscard]] const std::string& io_uring_refusal() const noexcept { return m_uring_refusal; }

    /// Close every async generator still open (their cleanup runs); `run()` awaits this
    /// before closing the loop.
    task<> shutdown_asyncgens();

    /// Run `fn()` on `ex` and wait for it without blocking the loop (loop.run_in_executor):
    /// `co_await loop.run_in_executor(pool, fn)`. Cancellable as `to_thread`. Defined in
    /// <corio/thread_pool.hpp>.
    template <class F>
    auto run_in_executor(executor& ex, F&& fn);

    /// The thread pool behind `to_thread`, made on first use (asyncio's default executor),
    /// or the one given to set_default_executor.
    executor& default_executor();
    /// Use `ex` as the default executor from now on (asyncio's set_default_executor): the
    /// loop does not own it, and it must outlive the loop. Several loops may share one
    /// (run_per_core shares one thread pool between its loops). A call that finishes after
    /// its loop closed is dropped, never delivered to the loop.
    void set_default_executor(executor& ex);
    /// Finish the default executor's queued calls and join its threads; `run()` does this
    /// at the end. Blocks the calling thread. An executor given to set_default_executor is
    /// left alone (it is not the loop's).
    void shutdown_default_executor();

    /// While work is ready, the loop asks the reactor for I/O once every this many batches
    /// (a non-blocking epoll_wait costs more than most task steps); when nothing is ready it
    /// waits in the reactor every time. So ready I/O is serviced within this many batches
    /// however busy the loop is (Tokio's event_interval is 61 too).
    static constexpr unsigned io_poll_interval = 61;

    /// The open async generators (for shutdown_asyncgens).
    [[nodiscard]] detail::intrusive_list& asyncgen_registry() noexcept;

    // --- Building blocks for awaitables (corio's own, or yours) ------------------------

    /// Resume `h` in the next batch, as part of `task` (nullptr if it belongs to none).
    void schedule(std::coroutine_handle<> h, detail::task_state_base* task);
    /// Arm a one-shot timer that calls `fire(context)` at `when`; returns its slot.
    timer_handle add_timer(clock::time_point when, void (*fire)(void*), void* context);
    void cancel_timer(const timer_handle& handle) noexcept;
    [[nodiscard]] bool timer_pending(const timer_handle& handle) const noexcept;

    /// Wait for `fd` to become readable/writable (edge-triggered: the fd is registered once
    /// with the reactor; call after a read or write returned EAGAIN). Cancellable.
    /// An fd is used either with these or with add_reader/add_writer, not both.
    void watch_fd(int fd, bool readable, detail::waiter& w);
    void unwatch_fd(int fd, bool readable, detail::waiter& w) noexcept;
    /// Completion-based receive (io_uring with multishot receive and provided buffers):
    /// deliver the bytes arriving on stream socket or pipe `fd` to `sink`, as the loop reaps them,
    /// until stop_recv, forget_fd or the end of the stream. Returns false (and does
    /// nothing) if the reactor cannot; the caller reads through watch_fd then.
    bool start_recv(int fd, detail::recv_sink& sink);
    /// True if start_recv works on this loop.
    [[nodiscard]] bool supports_recv() const noexcept;
    /// Stop receiving for `fd` (backpressure): bytes already received still reach the
    /// sink; start_recv resumes.
    void pause_recv(int fd) noexcept;
    /// Stop delivering to the sink of `fd`; no call reaches it after this returns.
    void stop_recv(int fd) noexcept;
    /// True if submit_io works on this loop (io_uring with asynchronous cancellation).
    [[nodiscard]] bool supports_io_ops() const noexcept;
    /// Start `op`; it reaches the kernel with the loop's next poll for I/O, together with
    /// everything else queued in this iteration, and op.on_complete is called as the loop
    /// reaps its completion. \throws invalid_state_error if !supports_io_ops().
    void submit_io(detail::io_op& op);
    /// Ask the kernel to cancel `op` (IORING_OP_ASYNC_CANCEL). Its completion still comes:
    /// -ECANCELED, or the result, if it finished first.
    void cancel_io(detail::io_op& op) noexcept;
    /// Cancel `op` and wait until the kernel no longer uses its memory; no completion
    /// follows. For an op whose owner is destroyed while it is in flight.
    void abandon_io(detail::io_op& op) noexcept;
    /// How many submitted operations have not completed (nor been abandoned) yet.
    [[nodiscard]] std::size_t io_ops_in_flight() const noexcept;
    /// Forget everything about `fd` before closing it. Coroutines waiting on it through
    /// watch_fd are woken (not cancelled): they find the fd closed when they look.
    /// Operations in flight on it (submit_io) are cancelled: they complete with -ECANCELED.
    void forget_fd(int fd) noexcept;
    /// True once the reactor reported a hang-up or error on `fd` (watched with watch_fd).
    /// One readiness edge can carry both the last data and the hang-up, so after a short
    /// read of such an fd, end of stream may still be waiting to be read.
    [[nodiscard]] bool fd_hung_up(int fd) const noexcept;
    /// How many times the loop has asked the reactor for I/O events. A stream that saw a
    /// short read knows the fd is drained until the count moves (unless fd_hung_up).
    [[nodiscard]] std::uint64_t io_poll_count() const noexcept { return m_io_polls; }

    /// The running task (nullptr between steps or outside a task).
    [[nodiscard]] detail::task_state_base* current_task_state() const noexcept { return m_current; }
    /// Register a newly spawned task; the loop schedules its first step.
    void start_task(detail::task_state_base& task);
    /// Every task spawned on this loop that has not been destroyed.
    template <class F>
    void for_each_task(F&& fn) const;

    /// Cancel every pending task and run the loop until they have all finished (what
    /// `run()` does once its main task is done).
    void cancel_remaining_tasks();

    /// Print every live task of this loop to `out`, as a tree (a task under the task that
    /// spawned it), each with its chain of awaits, innermost first (`fetch() ← worker()`;
    /// `crawl.cpp:88 fetch() ← crawl.cpp:120 worker()` when built with CORIO_AWAIT_SITES),
    /// and what it waits for (a timer and when it fires, data from 127.0.0.1:8080, a mutex
    /// and who holds it, another task). See docs/debugging.md.
    /// Call it on the loop's thread. With `CORIO_DUMP_SIGNAL=SIGUSR1` (or another signal)
    /// in the environment, every loop prints this to stderr when that signal arrives.
    void dump_tasks(std::ostream& out) const;

    /// Report an unusual thread: in debug mode, use from a thread other than the loop's.
    void check_thread(const char* operation) const;

private:
    friend class detail::task_state_base;
    friend void detail::wake(detail::waiter& w) noexcept;
    friend std::shared_ptr<detail::loop_link> detail::link_of(event_loop& loop);
    /// Unpark `t` from `w`, which is being woken. If the wait ended by cancellation, `t`
    /// is marked as having a cancellation on its way until it runs again, so that more
    /// cancel() calls meanwhile do not deliver a second one (asyncio throws once).
    static void unpark_woken(detail::task_state_base& t, detail::waiter& w) noexcept;
    /// A coroutine to resume as part of a task, or (both null) the next of m_callbacks.
    struct ready_entry {
        std::coroutine_handle<> handle;
        detail::task_state_base* task;
    };

    void run_once();
    [[nodiscard]] bool timer_entry_stale(const detail::timer_entry& e) const noexcept;
    void drop_stale_timers() noexcept;
    void process_timers();
    void run_ready_batch();
    void poll_io(bool may_block);
    void run_entry(ready_entry& e);
    /// run_entry in debug mode: the step is timed, and reported if slow.
    [[gnu::noinline]] void run_entry_timed(ready_entry& e);
    void run_entry_callback(std::function<void()>& fn);
    void push_callback(std::function<void()> fn);
    void enter_running();
    void leave_running() noexcept;
    void report_slow(const std::string& who, clock::duration took, const std::string& resumed_at);
    /// "waiting for a timer due in 1.000 s", "ready to run", "running": for dump_tasks and
    /// the report of a task destroyed while pending.
    [[nodiscard]] std::string describe_task(const detail::task_state_base& t) const;
    void drain_threadsafe();
    void check_open(const char* operation) const;
    void run_timer_callback(std::uint32_t slot);
    /// Drop every timer (close).
    void clear_timers() noexcept;
    /// Destroy the frames of the tasks that never finished, each reported (close).
    void abandon_pending_tasks();

    /// The service of type `S` (a detail::loop_service with a `static constexpr char key`
    /// and a constructor taking the loop), made and registered on first use. Instantiated
    /// only where S is defined (src/services/).
    template <class S>
    S& service();
    /// The service registered under `key`, or nullptr.
    [[nodiscard]] detail::loop_service* find_service(const void* key) const noexcept;

    template <class T>
    static T take_main_result(detail::task_state<T>& state);

    run_options m_options;
    corio::backend m_backend = corio::backend::epoll;
    std::string m_uring_refusal;
    /// The reactor and the fds (src/io/io_driver.hpp); null once the loop is closed.
    std::unique_ptr<detail::io_driver> m_io;
    std::vector<ready_entry> m_ready;
    std::vector<ready_entry> m_running_batch;
    std::deque<std::function<void()>> m_callbacks;
    std::vector<detail::timer_slot> m_timer_slots;
    std::vector<std::uint32_t> m_free_timer_slots;
    std::unique_ptr<detail::timer_heap> m_timer_heap;
    std::size_t m_cancelled_timers = 0;
    std::uint32_t m_timer_sequence = 0;
    detail::intrusive_list m_tasks;
    /// The services beside the loop, in the order they registered.
    std::vector<std::unique_ptr<detail::loop_service>> m_services;
    /// Batches run since the reactor was last asked for I/O.
    unsigned m_batches_since_poll = 0;
    std::uint64_t m_io_polls = 0;
    detail::task_state_base* m_current = nullptr;
    exception_handler m_exception_handler;
    std::mutex m_threadsafe_mutex;
    std::vector<std::function<void()>> m_threadsafe_queue;
    std::vector<std::function<void()>> m_threadsafe_batch;
    int m_wakeup_fd = -1;
    clock::time_point m_virtual_now{};
    std::thread::id m_thread;
    std::uint64_t m_next_task_id = 1;
    bool m_running = false;
    bool m_stopping = false;
    bool m_closed = false;
    bool m_debug = false;
};

/// The loop running on this thread.
/// \throws invalid_state_error "get_running_loop: no running event loop" if there is none.
event_loop& get_running_loop();

namespace detail {
/// The loop running on this thread, or nullptr.
event_loop* running_loop() noexcept;
/// Throw invalid_state_error "<operation>: no running event loop on this thread" (out of
/// line, so that the callers' fast paths stay small).
[[noreturn, gnu::cold]] void throw_no_running_loop(const char* operation);
/// True if `loop` is open (not destroyed, not closed) and was made on this thread or is
/// running on it: whether an object that outlived its loop may still tell the loop about
/// its fds.
bool loop_alive(const event_loop* loop) noexcept;
/// How many loops exist (made, not yet destroyed) on this thread.
std::size_t loops_on_this_thread() noexcept;

/// A way back to a loop from an executor's thread that stays safe after the loop is gone:
/// `post` runs call_soon_threadsafe while the loop is open, and drops `fn` once it has
/// closed (the loop clears it as it closes, under the same lock).
class loop_link {
public:
    explicit loop_link(event_loop* loop) noexcept : m_loop(loop) {}
    void post(std::function<void()> fn);
    void clear() noexcept;

private:
    std::mutex m_mutex;
    event_loop* m_loop;
};

/// The link of `loop` (made with its default-executor service).
std::shared_ptr<loop_link> link_of(event_loop& loop);

/// The control block of a task<T> spawned on a loop.
template <class T>
class task_state final : public task_state_base {
public:
    task_state(event_loop& loop, task<T> t) noexcept
        : task_state_base(loop, t.handle(), t.handle().promise()) {
        t.release();
    }

    /// The result: copied out (so any number of awaiters get it) or moved out for
    /// move-only types (then only once).
    T result() {
        rethrow_if_failed();
        if constexpr (std::is_void_v<T>) {
            return;
        } else if constexpr (std::is_reference_v<T> || std::is_copy_constructible_v<T>) {
            return promise().result_ref();
        } else {
            if (m_result_taken) {
                throw invalid_state_error("result of a move-only task already taken");
            }
            m_result_taken = true;
            return std::move(promise().result_ref());
        }
    }

private:
    ~task_state() override = default;
    task_promise<T>& promise() const noexcept {
        return std::coroutine_handle<task_promise<T>>::from_address(m_frame.address()).promise();
    }
};
} // namespace detail

template <class F>
void event_loop::for_each_task(F&& fn) const {
    for (const detail::list_node* n = m_tasks.head.next; n != &m_tasks.head;) {
        const detail::list_node* next = n->next;
        fn(*static_cast<const detail::task_list_node*>(n)->owner);
        n = next;
    }
}

template <class S>
S& event_loop::service() {
    if (detail::loop_service* s = find_service(&S::key)) {
        return static_cast<S&>(*s);
    }
    auto made = std::make_unique<S>(*this);
    S& s = *made;
    m_services.push_back(std::move(made));
    return s;
}

template <class T>
T event_loop::take_main_result(detail::task_state<T>& state) {
    return state.result();
}

template <class T>
T event_loop::run_until_complete(task<T> main) {
    if (!main.valid()) {
        throw invalid_state_error("run_until_complete: empty task");
    }
    if (main.handle().promise().m_awaited) {
        throw invalid_state_error("run_until_complete: task was already awaited or spawned");
    }
    enter_running();
    struct leave {
        event_loop* loop;
        ~leave() { loop->leave_running(); }
    } guard{this};
    auto* state = new detail::task_state<T>(*this, std::move(main));
    state->add_ref(); // ours, besides the loop's
    struct drop {
        detail::task_state_base* s;
        ~drop() { s->release(); }
    } drop_ref{state};
    start_task(*state);
    while (!state->done()) {
        run_once();
        if (m_stopping && !state->done()) {
            // asyncio: "Event loop stopped before Future completed." The task stays
            // pending on the loop.
            throw invalid_state_error(
                "run_until_complete: the event loop was stopped before the task completed");
        }
    }
    return take_main_result(*state);
}

/// Run `main` to completion on a new event loop (asyncio.run): the loop runs until `main`
/// finishes, then cancels the tasks still pending and waits for them, closes every async
/// generator still open, stops the thread pool, closes the loop, and returns `main`'s value
/// or rethrows its exception.
/// \throws invalid_state_error if called while a loop is running on this thread.
template <class T>
T run(task<T> main, run_options options = {});

namespace detail {
void run_prologue();
void run_epilogue(event_loop& loop);
} // namespace detail

template <class T>
T run(task<T> main, run_options options) {
    detail::run_prologue();
    event_loop loop(options);
    struct finish {
        event_loop& loop;
        ~finish() { detail::run_epilogue(loop); }
    } finally{loop};
    return loop.run_until_complete(std::move(main));
}

} // namespace corio
