// The event loop, the kernel of corio: the ready queue (drained in batches), park and wake,
// running and closing. Beside it in src/kernel/: the task control block (task_state.cpp),
// the timer queue (timers.cpp), the thread-safe queue (threadsafe_queue.cpp), diagnostics
// and the environment (diagnostics.cpp), dump_tasks (dump.cpp), and the fd members that
// forward to the I/O driver under the loop (event_loop_io.cpp; the driver is src/io/).
// The services beside the loop (src/services/: signal handlers, the default executor, the
// async-generator finalizer) are known here only as detail::loop_service: they register on
// first use, and close() calls them.
//
// One iteration (run_once): wait for I/O (not at all if something is ready; otherwise until
// the earliest timer), move expired timers to the ready queue, then run the batch that is
// ready now. What a batch makes ready runs in the next batch, so a task that keeps
// yielding cannot starve I/O or timers.

#include "corio/event_loop.hpp"

#include "io/io_driver.hpp"
#include "kernel/loop_internals.hpp"
#include "kernel/timer_heap.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace corio {
namespace detail {

waiter cancel_on_its_way;

namespace {
thread_local event_loop* t_running_loop = nullptr;

/// Set by run() for the loop it makes next: that loop is made, run and closed on this
/// thread, so the io_uring reactor may use the features that tie a ring to one thread.
thread_local bool t_next_loop_thread_bound = false;
} // namespace

event_loop* running_loop() noexcept {
    return t_running_loop;
}

task_state_base* current_task_state() noexcept {
    return t_running_loop != nullptr ? t_running_loop->current_task_state() : nullptr;
}

bool task_creation_tracking() noexcept {
    return t_running_loop != nullptr && t_running_loop->get_debug();
}

// --- park and wake ------------------------------------------------------------------

bool park(waiter& w) noexcept {
    task_state_base* t = current_task_state();
    w.task = t;
    return t == nullptr || t->park(w);
}

void wake(waiter& w) noexcept {
    if (w.task != nullptr) {
        event_loop::unpark_woken(*w.task, w);
        w.task->loop()->schedule(w.handle, w.task);
    } else if (t_running_loop != nullptr) {
        t_running_loop->schedule(w.handle, nullptr);
    } else {
        resume(w.handle);
    }
}

// --- run() ----------------------------------------------------------------------------

void run_prologue() {
    if (t_running_loop != nullptr) {
        throw invalid_state_error(
            "run() cannot be called while an event loop is running on this thread");
    }
    t_next_loop_thread_bound = true;
}

void run_epilogue(event_loop& loop) {
    try {
        if (!loop.is_closed()) {
            loop.cancel_remaining_tasks();
            loop.run_until_complete(loop.shutdown_asyncgens());
            loop.shutdown_default_executor();
        }
    } catch (...) {
        loop.call_exception_handler(
            {"error while finalizing the loop", std::current_exception(), {}});
    }
    loop.close();
}

} // namespace detail

using detail::from_ns;

// --- event_loop ------------------------------------------------------------------------

namespace {
/// The loops alive on this thread (see detail::loop_alive).
thread_local std::vector<const event_loop*> t_live_loops;
} // namespace

bool detail::loop_alive(const event_loop* loop) noexcept {
    // The loop running on this thread is alive wherever it was made (a loop may be made on
    // one thread and run on another).
    return loop != nullptr &&
           (loop == t_running_loop ||
            std::find(t_live_loops.begin(), t_live_loops.end(), loop) != t_live_loops.end()) &&
           !loop->is_closed();
}

std::size_t detail::loops_on_this_thread() noexcept {
    return t_live_loops.size();
}

event_loop::event_loop(run_options options)
    : m_options(options), m_timer_heap(std::make_unique<detail::timer_heap>()) {
    detail::install_kernel_task_hooks();
    const bool thread_bound = std::exchange(detail::t_next_loop_thread_bound, false);
    // Checked before anything is set up: a bad value throws with nothing to undo.
    const int dump_signo = detail::dump_signal_from_environment();
    t_live_loops.push_back(this);
    m_debug = options.debug || detail::debug_from_environment();
    detail::reactor_choice reactor = detail::make_reactor(options.backend, thread_bound);
    m_uring_refusal = std::move(reactor.refusal);
    m_io = std::make_unique<detail::io_driver>(
        std::move(reactor.chosen),
        [](void* loop, std::function<void()>& fn) {
            static_cast<event_loop*>(loop)->run_entry_callback(fn);
        },
        this);
    m_backend = m_io->kind();
    if (m_debug) {
        const std::string features = m_io->features();
        std::fprintf(stderr, "corio: event loop on %s%s%s%s%s\n",
                     m_backend == corio::backend::io_uring ? "io_uring" : "epoll",
                     features.empty() ? "" : " (", features.empty() ? "" : features.c_str(),
                     features.empty() ? "" : ")",
                     m_uring_refusal.empty()
                         ? ""
                         : (" (io_uring refused: " + m_uring_refusal + ")").c_str());
    }
    m_wakeup_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (m_wakeup_fd < 0) {
        throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    m_io->add_loop_fd(
        m_wakeup_fd, [](void* loop) { static_cast<event_loop*>(loop)->drain_threadsafe(); }, this);
    m_virtual_now = clock::now();
    m_thread = std::this_thread::get_id();
    if (dump_signo != 0) {
        add_signal_handler(dump_signo, [this] { dump_tasks(std::cerr); });
    }
}

event_loop::~event_loop() {
    if (!m_closed) {
        try {
            close();
        } catch (...) { // close() throws only while running, which cannot be the case here
        }
    }
    std::erase(t_live_loops, this);
}

clock::time_point event_loop::time() const noexcept {
    return m_options.virtual_clock ? m_virtual_now : clock::now();
}

void event_loop::check_thread(const char* operation) const {
    if (m_debug && m_running && std::this_thread::get_id() != m_thread) {
        throw invalid_state_error(std::string(operation) +
                                  ": event loop used from a thread other than its own (use "
                                  "call_soon_threadsafe)");
    }
}

void event_loop::schedule(std::coroutine_handle<> h, detail::task_state_base* task) {
    m_ready.push_back({h, task});
}

void event_loop::check_open(const char* operation) const {
    if (m_closed) {
        throw invalid_state_error(std::string(operation) + ": event loop is closed");
    }
}

void event_loop::call_soon(std::function<void()> fn) {
    check_thread("call_soon");
    check_open("call_soon");
    if (!fn) {
        throw std::invalid_argument("call_soon: empty function");
    }
    push_callback(std::move(fn));
}

void event_loop::push_callback(std::function<void()> fn) {
    m_callbacks.push_back(std::move(fn));
    m_ready.push_back({nullptr, nullptr});
}

// --- I/O (the fd members are in event_loop_io.cpp, forwarding to the io_driver) ---------

void event_loop::poll_io(bool may_block) {
    std::int64_t timeout_ns = 0;
    bool jump = false;
    if (may_block) {
        // Skip cancelled timers at the top, so the wait is for a live one.
        drop_stale_timers();
        if (m_timer_heap->empty()) {
            timeout_ns = -1;
        } else if (m_options.virtual_clock) {
            timeout_ns = std::chrono::nanoseconds(m_options.autojump_threshold).count();
            jump = true;
        } else {
            const auto until = from_ns(m_timer_heap->top().when) - clock::now();
            timeout_ns = std::max<std::int64_t>(
                0, std::chrono::duration_cast<std::chrono::nanoseconds>(until).count());
        }
    }
    ++m_io_polls;
    if (!jump) {
        m_io->poll(timeout_ns);
        return;
    }
    // The clock jumps only after the whole threshold of real time passed with nothing
    // happening: a wait can end early with nothing for the loop (io_uring reaps the
    // completion of a cancellation, or of a poll removed since), and jumping then would
    // fire a timer (a connect timeout) before the I/O it guards had its chance.
    const auto threshold = std::chrono::nanoseconds(timeout_ns);
    const auto start = std::chrono::steady_clock::now();
    bool anything = m_io->poll(timeout_ns);
    if (anything) {
        return;
    }
    while (true) {
        const auto waited = std::chrono::steady_clock::now() - start;
        if (waited >= threshold) {
            break;
        }
        anything = m_io->poll((threshold - waited).count());
        if (anything) {
            return;
        }
    }
    if (m_virtual_now < from_ns(m_timer_heap->top().when)) {
        m_virtual_now = from_ns(m_timer_heap->top().when);
    }
}

// --- running ------------------------------------------------------------------------------

void event_loop::enter_running() {
    if (m_closed) {
        throw invalid_state_error("event loop is closed");
    }
    if (detail::t_running_loop != nullptr) {
        throw invalid_state_error("cannot run an event loop while another loop is running on "
                                  "this thread");
    }
    detail::t_running_loop = this;
    m_running = true;
    m_thread = std::this_thread::get_id();
}

void event_loop::leave_running() noexcept {
    m_running = false;
    m_stopping = false;
    detail::t_running_loop = nullptr;
}

void event_loop::run_forever() {
    enter_running();
    struct leave {
        event_loop* loop;
        ~leave() { loop->leave_running(); }
    } guard{this};
    // At least one iteration: a stop() made before run_forever polls once (asyncio).
    do {
        run_once();
    } while (!m_stopping);
}

void event_loop::stop() noexcept {
    m_stopping = true;
}

void event_loop::run_once() {
    // With work ready, ask the reactor for I/O only every io_poll_interval batches: a
    // non-blocking epoll_wait costs more than most task steps, and coroutines passing
    // values back and forth would otherwise spend most of their time in it (W3 ping-pong:
    // 2,047 ns per round trip polling every batch, 72-124 ns polling every 61st). Idle, the
    // loop waits in the reactor every time.
    const bool idle = m_ready.empty() && !m_stopping;
    if (idle || ++m_batches_since_poll >= io_poll_interval) {
        m_batches_since_poll = 0;
        poll_io(idle);
    } else {
        // Operations the last batch queued (io_uring sends) go to the kernel now, not
        // dozens of batches later; one system call for all of them.
        m_io->flush();
    }
    process_timers();
    run_ready_batch();
}

void event_loop::run_ready_batch() {
    m_running_batch.swap(m_ready);
    for (ready_entry& e : m_running_batch) {
        run_entry(e);
    }
    m_running_batch.clear();
}

void event_loop::run_entry_callback(std::function<void()>& fn) {
    const clock::time_point start = m_debug ? clock::now() : clock::time_point{};
    try {
        fn();
    } catch (...) {
        call_exception_handler({"Exception in callback", std::current_exception(), {}});
    }
    if (m_debug) {
        const auto took = clock::now() - start;
        if (took > m_options.slow_callback_duration) {
            report_slow("a callback", took, {});
        }
    }
}

void event_loop::unpark_woken(detail::task_state_base& t, detail::waiter& w) noexcept {
    if (t.m_parked == &w) {
        if (w.cancelled) {
            t.m_parked = &detail::cancel_on_its_way;
        } else {
            t.m_parked = nullptr;
            t.m_woken = &w;
        }
    }
}

void event_loop::run_entry(ready_entry& e) {
    if (!e.handle) {
        std::function<void()> fn = std::move(m_callbacks.front());
        m_callbacks.pop_front();
        run_entry_callback(fn);
        return;
    }
    if (e.task != nullptr) {
        e.task->m_woken = nullptr;
        if (e.task->m_parked == &detail::cancel_on_its_way) {
            e.task->m_parked = nullptr; // it is about to receive that cancellation
        }
    }
    m_current = e.task;
    if (!m_debug) {
        detail::resume(e.handle);
        m_current = nullptr;
        return;
    }
    run_entry_timed(e);
}

void event_loop::start_task(detail::task_state_base& task) {
    task.m_loop = this;
    task.m_id = m_next_task_id++;
    task.m_spawned_by = m_current != nullptr ? m_current->m_id : 0;
    m_tasks.push_back(task.m_all_tasks_node);
    schedule(task.m_frame, &task);
}

void event_loop::close() {
    if (m_running) {
        throw invalid_state_error("close: cannot close a running event loop");
    }
    if (m_closed) {
        return;
    }
    // Services finish the work pending tasks may wait for (the default executor's threads
    // finish their calls; their results are dropped).
    for (const auto& service : m_services) {
        service->on_closing(*this);
    }
    // Drop what was scheduled, then destroy the frames of tasks that never finished.
    m_ready.clear();
    m_callbacks.clear();
    abandon_pending_tasks();
    // Completion-based operations still in the kernel (a stream's background send) end
    // now, so that what they hold is released.
    m_io->cancel_all();
    m_ready.clear();
    m_callbacks.clear();
    clear_timers();
    // Signal handlers removed, async generators still open out of the registry: the
    // services give up what they hold, while the reactor is still open.
    for (const auto& service : m_services) {
        service->on_close(*this);
    }
    // Tasks that outlive the loop through their join_handles no longer report to it.
    for_each_task([](detail::task_state_base& t) { t.m_loop = nullptr; });
    while (m_tasks.pop_front() != nullptr) {
    }
    std::vector<std::function<void()>> never_run; // destroyed outside the lock
    {
        std::lock_guard lock(m_threadsafe_mutex);
        m_closed = true;
        never_run.swap(m_threadsafe_queue);
        ::close(m_wakeup_fd);
        m_wakeup_fd = -1;
    }
    m_io.reset();
    detail::forget_throw_record(); // an exception recorded and never reported is let go
}

detail::loop_service* event_loop::find_service(const void* key) const noexcept {
    for (const auto& service : m_services) {
        if (service->key() == key) {
            return service.get();
        }
    }
    return nullptr;
}

// --- the running loop -------------------------------------------------------------------

event_loop& get_running_loop() {
    if (detail::t_running_loop == nullptr) {
        throw invalid_state_error("get_running_loop: no running event loop");
    }
    return *detail::t_running_loop;
}

void detail::throw_no_running_loop(const char* operation) {
    throw invalid_state_error(std::string(operation) + ": no running event loop on this thread");
}

} // namespace corio
