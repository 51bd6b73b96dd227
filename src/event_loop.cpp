// The event loop, the kernel of corio: the ready queue (drained in batches), park and wake,
// running and closing, and the thread-safe queue. Beside it in src/kernel/: the task
// control block (task_state.cpp), the timer queue (timers.cpp), diagnostics and the
// environment (diagnostics.cpp), dump_tasks (dump.cpp). The services beside the loop
// (src/services/: signal handlers, the default executor, the async-generator finalizer)
// are known here only as detail::loop_service: they register on first use, and close()
// calls them.
//
// One iteration (run_once): wait for I/O (not at all if something is ready; otherwise until
// the earliest timer), move expired timers to the ready queue, then run the batch that is
// ready now. What a batch makes ready runs in the next batch, so a task that keeps
// yielding cannot starve I/O or timers.

#include "corio/event_loop.hpp"

#include "kernel/loop_internals.hpp"
#include "reactor.hpp"
#include "timer_heap.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace corio {
namespace detail {

struct fd_entry {
    std::function<void()> reader;
    std::function<void()> writer;
    waiter* read_waiter = nullptr;
    waiter* write_waiter = nullptr;
    bool registered = false;
    bool edge = false;
    /// The reactor reported a hang-up or error on this (edge-triggered) fd.
    bool hangup = false;
};

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

namespace {

corio::backend backend_from_environment(corio::backend requested) {
    if (requested != corio::backend::automatic) {
        return requested;
    }
    const char* env = std::getenv("CORIO_BACKEND");
    if (env == nullptr || *env == '\0') {
        return requested;
    }
    const std::string_view v(env);
    if (v == "epoll") {
        return corio::backend::epoll;
    }
    if (v == "io_uring") {
        return corio::backend::io_uring;
    }
    if (v == "automatic") {
        return corio::backend::automatic;
    }
    throw std::invalid_argument("CORIO_BACKEND=" + std::string(v) +
                                ": expected epoll, io_uring or automatic");
}

} // namespace

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

event_loop::event_loop(run_options options)
    : m_options(options), m_timer_heap(std::make_unique<detail::timer_heap>()) {
    detail::install_kernel_task_hooks();
    const bool thread_bound = std::exchange(detail::t_next_loop_thread_bound, false);
    // Checked before anything is set up: a bad value throws with nothing to undo.
    const int dump_signo = detail::dump_signal_from_environment();
    t_live_loops.push_back(this);
    m_debug = options.debug || detail::debug_from_environment();
    const corio::backend wanted = backend_from_environment(options.backend);
    if (wanted == corio::backend::epoll) {
        m_reactor = detail::make_epoll_reactor();
    } else {
        try {
            m_reactor = detail::make_uring_reactor(thread_bound);
        } catch (const std::system_error& e) {
            // Refused (io_uring_disabled, seccomp, ENOSYS, EPERM, no liburing at build time).
            if (wanted == corio::backend::io_uring) {
                throw invalid_state_error(
                    std::string("backend::io_uring was requested, but io_uring is not "
                                "available: ") +
                    e.what());
            }
            m_uring_refusal = e.what();
            m_reactor = detail::make_epoll_reactor();
        }
    }
    m_backend = m_reactor->kind();
    if (m_debug) {
        const std::string features = m_reactor->features();
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
    m_reactor->add(m_wakeup_fd, true, false, false);
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

// --- file descriptors ---------------------------------------------------------------------

detail::fd_entry& event_loop::fd_slot(int fd) {
    if (fd < 0) {
        throw std::invalid_argument("invalid file descriptor " + std::to_string(fd));
    }
    const auto index = static_cast<std::size_t>(fd);
    if (index >= m_fds.size()) {
        m_fds.resize(index + 1);
    }
    if (!m_fds[index]) {
        m_fds[index] = std::make_unique<detail::fd_entry>();
    }
    return *m_fds[index];
}

void event_loop::update_fd_interest(int fd) {
    detail::fd_entry& e = fd_slot(fd);
    const bool r = static_cast<bool>(e.reader);
    const bool w = static_cast<bool>(e.writer);
    if (!r && !w) {
        if (e.registered) {
            m_reactor->remove(fd);
            e.registered = false;
        }
        return;
    }
    if (!e.registered) {
        m_reactor->add(fd, r, w, false);
        e.registered = true;
    } else {
        m_reactor->modify(fd, r, w);
    }
}

namespace {
void refuse_mixed_use(const detail::fd_entry& e, int fd, bool callbacks) {
    if (callbacks && e.edge) {
        throw invalid_state_error("fd " + std::to_string(fd) +
                                  " is in use by corio I/O; add_reader/add_writer cannot "
                                  "watch it too");
    }
    if (!callbacks && (e.reader || e.writer)) {
        throw invalid_state_error("fd " + std::to_string(fd) +
                                  " has add_reader/add_writer callbacks; corio I/O cannot "
                                  "wait on it too");
    }
}
} // namespace

void event_loop::set_fd_callback(int fd, bool reading, std::function<void()> fn,
                                 const char* operation) {
    check_thread(operation);
    check_open(operation);
    if (!fn) {
        throw std::invalid_argument(std::string(operation) + ": empty function");
    }
    detail::fd_entry& e = fd_slot(fd);
    refuse_mixed_use(e, fd, true);
    (reading ? e.reader : e.writer) = std::move(fn);
    update_fd_interest(fd);
}

bool event_loop::clear_fd_callback(int fd, bool reading) {
    if (fd < 0 || static_cast<std::size_t>(fd) >= m_fds.size() || !m_fds[fd]) {
        return false;
    }
    std::function<void()>& slot = reading ? m_fds[fd]->reader : m_fds[fd]->writer;
    if (!slot) {
        return false;
    }
    slot = nullptr;
    update_fd_interest(fd);
    return true;
}

void event_loop::add_reader(int fd, std::function<void()> fn) {
    set_fd_callback(fd, true, std::move(fn), "add_reader");
}

bool event_loop::remove_reader(int fd) {
    return clear_fd_callback(fd, true);
}

void event_loop::add_writer(int fd, std::function<void()> fn) {
    set_fd_callback(fd, false, std::move(fn), "add_writer");
}

bool event_loop::remove_writer(int fd) {
    return clear_fd_callback(fd, false);
}

void event_loop::watch_fd(int fd, bool readable, detail::waiter& w) {
    detail::fd_entry& e = fd_slot(fd);
    refuse_mixed_use(e, fd, false);
    detail::waiter*& slot = readable ? e.read_waiter : e.write_waiter;
    if (slot != nullptr) {
        throw invalid_state_error("fd " + std::to_string(fd) +
                                  ": another coroutine is already waiting to " +
                                  (readable ? "read" : "write"));
    }
    if (!e.registered) {
        m_reactor->add(fd, true, true, true);
        e.registered = true;
        e.edge = true;
    }
    slot = &w;
}

void event_loop::unwatch_fd(int fd, bool readable, detail::waiter& w) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= m_fds.size() || !m_fds[fd]) {
        return;
    }
    detail::waiter*& slot = readable ? m_fds[fd]->read_waiter : m_fds[fd]->write_waiter;
    if (slot == &w) {
        slot = nullptr;
    }
}

bool event_loop::start_recv(int fd, detail::recv_sink& sink) {
    if (!m_reactor->supports_recv()) {
        return false;
    }
    m_reactor->start_recv(fd, sink);
    return true;
}

bool event_loop::supports_recv() const noexcept {
    return m_reactor->supports_recv();
}

void event_loop::pause_recv(int fd) noexcept {
    m_reactor->pause_recv(fd);
}

void event_loop::stop_recv(int fd) noexcept {
    m_reactor->stop_recv(fd);
}

bool event_loop::fd_hung_up(int fd) const noexcept {
    return fd >= 0 && static_cast<std::size_t>(fd) < m_fds.size() && m_fds[fd] && m_fds[fd]->hangup;
}

bool event_loop::supports_io_ops() const noexcept {
    return m_reactor != nullptr && m_reactor->supports_ops();
}

void event_loop::submit_io(detail::io_op& op) {
    check_open("submit_io");
    if (!m_reactor->supports_ops()) {
        throw invalid_state_error("submit_io: the " +
                                  std::string(m_backend == corio::backend::io_uring
                                                  ? "io_uring reactor of this kernel"
                                                  : "epoll reactor") +
                                  " runs no completion-based operations");
    }
    m_reactor->submit(op);
}

void event_loop::cancel_io(detail::io_op& op) noexcept {
    if (m_reactor != nullptr) {
        m_reactor->cancel(op);
    }
}

void event_loop::abandon_io(detail::io_op& op) noexcept {
    if (m_reactor != nullptr) {
        m_reactor->abandon(op);
    }
}

std::size_t event_loop::io_ops_in_flight() const noexcept {
    return m_reactor != nullptr ? m_reactor->ops_in_flight() : 0;
}

void event_loop::forget_fd(int fd) noexcept {
    if (fd < 0) {
        return;
    }
    const bool known = static_cast<std::size_t>(fd) < m_fds.size() && m_fds[fd];
    m_reactor->forget(fd, known && m_fds[fd]->registered);
    if (!known) {
        return;
    }
    const std::unique_ptr<detail::fd_entry> e = std::move(m_fds[fd]);
    if (e->read_waiter != nullptr) {
        detail::wake(*e->read_waiter);
    }
    if (e->write_waiter != nullptr) {
        detail::wake(*e->write_waiter);
    }
}

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
    // Reused from poll to poll: waiting for I/O allocates nothing once warm.
    std::vector<detail::reactor_event>& events = m_io_events;
    events.clear();
    ++m_io_polls;
    const std::size_t delivered = m_reactor->wait(timeout_ns, events);
    if (jump && events.empty() && delivered == 0 &&
        m_virtual_now < from_ns(m_timer_heap->top().when)) {
        m_virtual_now = from_ns(m_timer_heap->top().when);
    }
    for (const detail::reactor_event& ev : events) {
        if (ev.fd == m_wakeup_fd) {
            drain_threadsafe();
            continue;
        }
        if (static_cast<std::size_t>(ev.fd) >= m_fds.size() || !m_fds[ev.fd]) {
            continue;
        }
        detail::fd_entry& e = *m_fds[ev.fd];
        if (e.edge) {
            e.hangup = e.hangup || ev.hangup;
            if (ev.readable && e.read_waiter != nullptr) {
                detail::wake(*std::exchange(e.read_waiter, nullptr));
            }
            if (ev.writable && e.write_waiter != nullptr) {
                detail::wake(*std::exchange(e.write_waiter, nullptr));
            }
            continue;
        }
        // Level-triggered callbacks run now; copies, because a callback may remove itself.
        if (ev.readable && e.reader) {
            auto fn = e.reader;
            run_entry_callback(fn);
        }
        if (ev.writable && static_cast<std::size_t>(ev.fd) < m_fds.size() && m_fds[ev.fd] &&
            m_fds[ev.fd]->writer) {
            auto fn = m_fds[ev.fd]->writer;
            run_entry_callback(fn);
        }
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
        m_reactor->flush();
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
    m_reactor->cancel_all();
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
    m_fds.clear();
    m_reactor.reset();
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
