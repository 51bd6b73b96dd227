// The event loop: a ready queue drained in batches, a timer heap with lazy deletion, and a
// reactor.
//
// One iteration (run_once): wait for I/O (not at all if something is ready; otherwise until
// the earliest timer), move expired timers to the ready queue, then run the batch that is
// ready now. What a batch makes ready runs in the next batch, so a task that keeps
// yielding cannot starve I/O or timers.
//
// Timers: a 4-ary min-heap (timer_heap.hpp) of (deadline, sequence) entries pointing at
// slots. A cancelled timer frees its slot and bumps the slot's generation; its heap entry
// stays until it reaches the top and is skipped (lazy deletion). When stale entries outnumber live
// ones the heap is rebuilt, so a program that sets and cancels many long timeouts does not grow the
// heap without bound (asyncio does the same).

#include "corio/event_loop.hpp"
#include "corio/async_generator.hpp"
#include "corio/detail/task_hooks.hpp"
#include "corio/thread_pool.hpp"

#include "reactor.hpp"
#include "timer_heap.hpp"

#include <cxxabi.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <unordered_map>

namespace corio {
namespace detail {

struct timer_slot {
    void (*fire)(void*) = nullptr;
    void* context = nullptr;
    std::uint32_t generation = 0;
    /// The sequence number of the heap entry of the current arming.
    std::uint32_t sequence = 0;
    /// In the heap, waiting for its deadline.
    bool armed = false;
    /// A call_later/call_at callback whose deadline passed, waiting in the ready queue. The
    /// slot stays reserved until the callback runs, so that its timer_handle can still
    /// cancel it (asyncio skips a cancelled TimerHandle that is already in the ready queue).
    bool queued = false;
};

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

namespace {
thread_local event_loop* t_running_loop = nullptr;

/// What a task is "parked at" between a cancellation waking it and its next step (see
/// event_loop::unpark_woken). Only its address is used.
waiter cancel_on_its_way;

void fire_callback_timer(void* context);

struct creation_site {
    const char* function;
    const char* file;
    unsigned line;
};
thread_local std::unordered_map<const void*, creation_site>* t_creation_sites = nullptr;

/// Where the exception last leaving a task's coroutine on this thread was thrown (the chain
/// from that coroutine outwards), until the task it ends takes it (keep_throw_site).
struct throw_record {
    std::exception_ptr exception;
    std::string chain;
};
thread_local throw_record t_throw_record;
} // namespace

/// " (created in fetch at crawl.cpp:88)" in debug mode (where creation is tracked), else
/// " (coroutine fetch())".
std::string creation_site_text(const task_promise_base& promise);

event_loop* running_loop() noexcept {
    return t_running_loop;
}

task_state_base* current_task_state() noexcept {
    return t_running_loop != nullptr ? t_running_loop->current_task_state() : nullptr;
}

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

bool is_cancellation(const std::exception_ptr& e) noexcept {
    if (!e) {
        return false;
    }
    try {
        std::rethrow_exception(e);
    } catch (const cancelled_error&) {
        return true;
    } catch (...) {
        return false;
    }
}

// --- task_state_base ----------------------------------------------------------------

task_state_base::task_state_base(event_loop& loop, std::coroutine_handle<> frame,
                                 task_promise_base& promise) noexcept
    : m_loop(&loop), m_frame(frame), m_promise(&promise) {
    m_root_scope.task = this;
    m_all_tasks_node.owner = this;
    promise.m_awaited = true;
    promise.m_task_state = this;
}

task_state_base::~task_state_base() {
    report_unretrieved();
    m_all_tasks_node.unlink();
    if (m_frame) {
        m_frame.destroy();
    }
}

void task_state_base::report_unretrieved() noexcept {
    if (m_loop != nullptr && m_done && !m_cancelled && m_promise->m_exception &&
        !m_exception_retrieved) {
        report_unretrieved_now();
    }
}

void task_state_base::report_unretrieved_now() noexcept {
    try {
        exception_context context{"Task exception was never retrieved" +
                                      creation_site_text(*m_promise),
                                  m_promise->m_exception, name()};
        context.async_stack = thrown_at(m_promise->m_exception);
        m_loop->call_exception_handler(context);
    } catch (...) { // out of memory while reporting: the report is lost, nothing else
    }
}

std::string task_state_base::thrown_at(const std::exception_ptr& e) const {
    return m_extras != nullptr && e != nullptr && m_extras->thrown == e ? m_extras->thrown_at
                                                                        : std::string();
}

std::string task_state_base::name() const {
    return m_extras != nullptr && m_extras->named ? m_extras->name : "Task-" + std::to_string(m_id);
}

void task_state_base::set_name(std::string name) {
    if (m_extras == nullptr) {
        m_extras = std::make_unique<extras>();
    }
    m_extras->name = std::move(name);
    m_extras->named = true;
}

bool task_state_base::cancel() {
    if (m_done) {
        return false;
    }
    m_root_scope.requested = true;
    m_root_scope.request_seq = ++m_requests;
    deliver_cancel();
    return true;
}

void task_state_base::deliver_cancel() {
    if (m_done || m_parked == &cancel_on_its_way) {
        // A cancellation already woke the task, which has not run since: that one
        // cancelled_error is all it gets for any number of requests meanwhile.
        m_served = m_requests;
        return;
    }
    if (waiter* w = m_parked) {
        m_served = m_requests;
        w->cancelled = true;
        if (w->on_cancel == nullptr || w->on_cancel(*w)) {
            m_parked = &cancel_on_its_way;
            m_loop->schedule(w->handle, this);
        }
    } else if (m_woken != nullptr && (!m_woken->granted || m_woken->revoke != nullptr)) {
        // Woken and scheduled, not run yet: it throws at the point it resumes from, after
        // giving back what the wake granted. It is already in the ready queue.
        m_served = m_requests;
        if (m_woken->granted) {
            m_woken->granted = false;
            m_woken->revoke(*m_woken);
        }
        m_woken->cancelled = true;
        m_woken = nullptr;
        m_parked = &cancel_on_its_way;
    } else {
        m_cancel_pending = true;
    }
}

void task_state_base::complete() noexcept {
    m_done = true;
    m_parked = nullptr; // m_woken was cleared when this step started
    if (m_cancel_pending && !m_promise->m_exception) {
        // cancel() came while the task was running (or woken with a grant) and it returned
        // before reaching another suspension point: it ends cancelled, as in asyncio.
        try {
            m_promise->m_exception = std::make_exception_ptr(cancelled_error{});
        } catch (...) { // out of memory: the task keeps its value
        }
    }
    m_cancel_pending = false;
    m_cancelled = is_cancellation(m_promise->m_exception);
    if (m_promise->m_exception && !m_cancelled) {
        keep_throw_site();
    }
    while (list_node* n = m_listeners.pop_front()) {
        auto* l = static_cast<completion_listener*>(n);
        l->on_complete(*l);
    }
    release(); // the loop's reference
}

namespace {
/// Stands in for the promise of every task whose frame close() destroyed.
task_promise_base& abandoned_promise() noexcept {
    static task_promise_base* const promise = [] {
        auto* p = new task_promise_base("", "", 0);
        p->m_tracked = false;
        p->m_awaited = true;
        p->m_exception = std::make_exception_ptr(cancelled_error{});
        return p;
    }();
    return *promise;
}
} // namespace

void task_state_base::abandon() noexcept {
    // The frame is suspended somewhere and will never be resumed: destroying it runs the
    // destructors of its locals and awaiters, which unregister their timers and waits.
    m_done = true;
    m_cancelled = true;
    m_parked = nullptr;
    m_woken = nullptr;
    m_promise->m_task_state = nullptr;
    m_frame.destroy();
    m_frame = nullptr;
    // The promise died with the frame; exception() and result() of a handle that outlives
    // close(), and listeners asking now, see a cancelled_error.
    m_promise = &abandoned_promise();
    while (list_node* n = m_listeners.pop_front()) {
        auto* l = static_cast<completion_listener*>(n);
        l->on_complete(*l);
    }
}

namespace {
void on_spawned_task_complete(task_state_base* state) noexcept {
    state->complete();
}

bool check_start_cancelled(task_state_base* state) noexcept {
    return state != nullptr && state->take_pending_cancel();
}

void record_task_creation(const void* promise, const char* function, const char* file,
                          unsigned line) {
    if (t_creation_sites == nullptr) {
        t_creation_sites = new std::unordered_map<const void*, creation_site>();
    }
    (*t_creation_sites)[promise] = {function, file, line};
}

} // namespace

std::uint32_t next_task_group_id() noexcept {
    static std::atomic<std::uint32_t> next{1};
    std::uint32_t id = next.fetch_add(1, std::memory_order_relaxed);
    if (id == 0) { // after 2^32 groups
        id = next.fetch_add(1, std::memory_order_relaxed);
    }
    return id;
}

namespace {
bool task_creation_tracking() noexcept {
    return t_running_loop != nullptr && t_running_loop->get_debug();
}

void forget_task_creation(const void* promise) noexcept {
    if (t_creation_sites != nullptr) {
        t_creation_sites->erase(promise);
    }
}

} // namespace

std::string creation_site_text(const task_promise_base& promise) {
    if (t_creation_sites != nullptr) {
        if (auto it = t_creation_sites->find(&promise); it != t_creation_sites->end()) {
            return std::string(" (created in ") + it->second.function + " at " + it->second.file +
                   ":" + std::to_string(it->second.line) + ")";
        }
    }
    if (promise.m_function != nullptr && *promise.m_function != '\0') {
        return std::string(" (coroutine ") + promise.m_function + "())";
    }
    return {};
}

namespace {
void record_throw_site(const task_promise_base& p) noexcept {
    // Cancellation runs through every task being cancelled: it is not worth a record, and
    // its type is known without rethrowing.
    if (const std::type_info* type = abi::__cxa_current_exception_type();
        type == nullptr || *type == typeid(cancelled_error)) {
        return;
    }
    if (t_throw_record.exception == p.m_exception) {
        return; // the same exception leaving an outer coroutine of the chain: O(1)
    }
    try {
        std::string chain = chain_outwards(p);
        t_throw_record.exception = p.m_exception;
        t_throw_record.chain = std::move(chain);
    } catch (...) { // out of memory: the report goes without the site
    }
}

} // namespace

void task_state_base::keep_throw_site() noexcept {
    if (t_throw_record.exception != m_promise->m_exception) {
        return;
    }
    try {
        if (m_extras == nullptr) {
            m_extras = std::make_unique<extras>();
        }
        m_extras->thrown = std::move(t_throw_record.exception);
        m_extras->thrown_at = std::move(t_throw_record.chain);
    } catch (...) { // out of memory: the report goes without the site
    }
    t_throw_record = {};
}

namespace {
void report_never_awaited(const void* promise) noexcept {
    std::string where;
    if (t_creation_sites != nullptr) {
        if (auto it = t_creation_sites->find(promise); it != t_creation_sites->end()) {
            where = std::string(" (created in ") + it->second.function + " at " + it->second.file +
                    ":" + std::to_string(it->second.line) + ")";
        }
    }
    const std::string message = "task was never awaited" + where;
    if (t_running_loop != nullptr && t_running_loop->get_debug()) {
        t_running_loop->call_exception_handler({message, nullptr, {}});
    }
}

/// The kernel's task hooks (detail/task_hooks.hpp).
constexpr task_hooks kernel_task_hooks{
    &on_spawned_task_complete, &check_start_cancelled, &task_creation_tracking,
    &record_task_creation,     &forget_task_creation,  &report_never_awaited,
    &record_throw_site,
};

/// Installed at static initialization, before any thread can run a task; and again (once)
/// by the first loop made, in case it is made by another static initializer that ran first.
[[maybe_unused]] const bool hooks_installed_at_start =
    (install_task_hooks(kernel_task_hooks), true);

void install_kernel_task_hooks() noexcept {
    static const bool installed = (install_task_hooks(kernel_task_hooks), true);
    (void)installed;
}

/// Set by run() for the loop it makes next: that loop is made, run and closed on this
/// thread, so the io_uring reactor may use the features that tie a ring to one thread.
thread_local bool t_next_loop_thread_bound = false;
} // namespace

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

/// The signal CORIO_DUMP_SIGNAL names: "SIGUSR1", "USR1" or a number.
int dump_signal_from(std::string_view name) {
    const std::string_view bare = name.starts_with("SIG") ? name.substr(3) : name;
    for (int signo = 1; signo < NSIG; ++signo) {
        const char* abbrev = sigabbrev_np(signo);
        if (abbrev != nullptr && bare == abbrev) {
            return signo;
        }
    }
    int signo = 0;
    const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), signo);
    if (error == std::errc() && end == name.data() + name.size() && signo > 0 && signo < NSIG) {
        return signo;
    }
    throw std::invalid_argument("CORIO_DUMP_SIGNAL=" + std::string(name) +
                                ": expected a signal name (SIGUSR1) or number");
}

bool debug_from_environment() {
    const char* env = std::getenv("CORIO_DEBUG");
    return env != nullptr && *env != '\0' && std::string_view(env) != "0";
}

} // namespace

namespace detail {
namespace {
// Marks the timers of call_later/call_at (their context is the std::function). Never
// called: process_timers queues those callbacks itself (see timer_slot::queued).
void fire_callback_timer(void*) {}
} // namespace
} // namespace detail

// --- timer_handle ---------------------------------------------------------------------

void timer_handle::cancel() noexcept {
    if (m_loop != nullptr) {
        m_loop->cancel_timer(*this);
    }
}

bool timer_handle::pending() const noexcept {
    return m_loop != nullptr && m_loop->timer_pending(*this);
}

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
    const char* dump_env = std::getenv("CORIO_DUMP_SIGNAL");
    const int dump_signo =
        dump_env != nullptr && *dump_env != '\0' ? dump_signal_from(dump_env) : 0;
    t_live_loops.push_back(this);
    m_debug = options.debug || debug_from_environment();
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

timer_handle event_loop::call_later(clock::duration delay, std::function<void()> fn) {
    return call_at(time() + delay, std::move(fn));
}

timer_handle event_loop::call_at(clock::time_point when, std::function<void()> fn) {
    check_thread("call_at");
    check_open("call_at");
    if (!fn) {
        throw std::invalid_argument("call_at: empty function");
    }
    auto* holder = new std::function<void()>(std::move(fn));
    return add_timer(when, &detail::fire_callback_timer, holder);
}

void event_loop::call_soon_threadsafe(std::function<void()> fn) {
    if (!fn) {
        throw std::invalid_argument("call_soon_threadsafe: empty function");
    }
    std::lock_guard lock(m_threadsafe_mutex);
    if (m_closed) {
        throw invalid_state_error("call_soon_threadsafe: event loop is closed");
    }
    const bool was_empty = m_threadsafe_queue.empty();
    m_threadsafe_queue.push_back(std::move(fn));
    if (was_empty) {
        // Under the lock: close() closes the eventfd under it too, so the write never
        // reaches a closed fd (or another file that reused its number).
        const std::uint64_t one = 1;
        // EAGAIN means the counter is saturated: the loop is woken anyway.
        [[maybe_unused]] const auto written = ::write(m_wakeup_fd, &one, sizeof one);
    }
}

void event_loop::drain_threadsafe() {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto got = ::read(m_wakeup_fd, &count, sizeof count);
    {
        std::lock_guard lock(m_threadsafe_mutex);
        m_threadsafe_batch.swap(m_threadsafe_queue);
    }
    for (auto& fn : m_threadsafe_batch) {
        push_callback(std::move(fn));
    }
    m_threadsafe_batch.clear();
}

// --- timers ------------------------------------------------------------------------------

namespace {
std::int64_t to_ns(clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
clock::time_point from_ns(std::int64_t ns) noexcept {
    return clock::time_point(
        std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(ns)));
}
} // namespace

bool event_loop::timer_entry_stale(const detail::timer_entry& e) const noexcept {
    const detail::timer_slot& s = m_timer_slots[e.slot];
    return !s.armed || s.sequence != e.sequence;
}

void event_loop::drop_stale_timers() noexcept {
    while (!m_timer_heap->empty() && timer_entry_stale(m_timer_heap->top())) {
        m_timer_heap->pop();
        if (m_cancelled_timers > 0) {
            --m_cancelled_timers;
        }
    }
}

timer_handle event_loop::add_timer(clock::time_point when, void (*fire)(void*), void* context) {
    std::uint32_t slot = 0;
    if (!m_free_timer_slots.empty()) {
        slot = m_free_timer_slots.back();
        m_free_timer_slots.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(m_timer_slots.size());
        m_timer_slots.emplace_back();
    }
    detail::timer_slot& s = m_timer_slots[slot];
    s.fire = fire;
    s.context = context;
    s.armed = true;
    s.sequence = m_timer_sequence++;
    m_timer_heap->push({to_ns(when), s.sequence, slot});
    return timer_handle(this, slot, s.generation);
}

bool event_loop::timer_pending(const timer_handle& handle) const noexcept {
    if (handle.m_slot >= m_timer_slots.size()) {
        return false;
    }
    const detail::timer_slot& s = m_timer_slots[handle.m_slot];
    return (s.armed || s.queued) && s.generation == handle.m_generation;
}

void event_loop::cancel_timer(const timer_handle& handle) noexcept {
    if (!timer_pending(handle)) {
        return;
    }
    detail::timer_slot& s = m_timer_slots[handle.m_slot];
    if (s.fire == &detail::fire_callback_timer) {
        delete static_cast<std::function<void()>*>(s.context);
        s.context = nullptr;
    }
    if (s.queued) {
        // Out of the heap already; run_timer_callback finds no callback and frees the slot.
        ++s.generation;
        return;
    }
    s.armed = false;
    ++s.generation;
    m_free_timer_slots.push_back(handle.m_slot);
    ++m_cancelled_timers;
    if (m_cancelled_timers > 64 && m_cancelled_timers * 2 > m_timer_heap->size()) {
        m_timer_heap->remove_if(
            [this](const detail::timer_entry& e) { return timer_entry_stale(e); });
        m_cancelled_timers = 0;
    }
}

void event_loop::process_timers() {
    if (m_timer_heap->empty()) {
        return;
    }
    const std::int64_t now = to_ns(time());
    while (!m_timer_heap->empty()) {
        const detail::timer_entry top = m_timer_heap->top();
        detail::timer_slot& s = m_timer_slots[top.slot];
        const bool stale = timer_entry_stale(top);
        if (!stale && top.when > now) {
            break;
        }
        m_timer_heap->pop();
        if (stale) {
            if (m_cancelled_timers > 0) {
                --m_cancelled_timers;
            }
            continue;
        }
        s.armed = false;
        if (s.fire == &detail::fire_callback_timer) {
            s.queued = true;
            const std::uint32_t slot = top.slot;
            push_callback([this, slot] { run_timer_callback(slot); });
            continue;
        }
        ++s.generation;
        m_free_timer_slots.push_back(top.slot);
        s.fire(s.context);
    }
}

void event_loop::run_timer_callback(std::uint32_t slot) {
    detail::timer_slot& s = m_timer_slots[slot];
    std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(s.context));
    s.context = nullptr;
    s.queued = false;
    ++s.generation;
    m_free_timer_slots.push_back(slot);
    if (fn) {
        (*fn)();
    }
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
        if (ev.fd == m_signal_fd) {
            on_signalfd();
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

// --- signals ------------------------------------------------------------------------------

void event_loop::add_signal_handler(int signo, std::function<void()> fn) {
    check_thread("add_signal_handler");
    check_open("add_signal_handler");
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) {
        throw std::invalid_argument("add_signal_handler: invalid signal " + std::to_string(signo));
    }
    if (!fn) {
        throw std::invalid_argument("add_signal_handler: empty function");
    }
    auto it = std::find_if(m_signal_handlers.begin(), m_signal_handlers.end(),
                           [signo](const auto& h) { return h.first == signo; });
    if (it != m_signal_handlers.end()) {
        it->second = std::move(fn);
        return;
    }
    m_signal_handlers.emplace_back(signo, std::move(fn));
    // An ignored signal is discarded when it is sent, before signalfd can see it (SIGPIPE
    // and SIGHUP often are, under nohup); while a handler is registered the signal is
    // blocked, so the default disposition only lets it queue. The old one comes back with
    // remove_signal_handler.
    struct sigaction old_action {};
    if (::sigaction(signo, nullptr, &old_action) == 0 && old_action.sa_handler == SIG_IGN) {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        ::sigaction(signo, &dfl, nullptr);
        m_signals_ignored_before.push_back(signo);
    }
    sigset_t set;
    sigemptyset(&set);
    for (const auto& h : m_signal_handlers) {
        sigaddset(&set, h.first);
    }
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    pthread_sigmask(SIG_BLOCK, &one, nullptr);
    const bool fresh = m_signal_fd < 0;
    const int fd = ::signalfd(m_signal_fd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        m_signal_handlers.pop_back();
        restore_ignored(signo);
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
        throw std::system_error(err, std::generic_category(), "signalfd");
    }
    m_signal_fd = fd;
    if (fresh) {
        m_reactor->add(m_signal_fd, true, false, false);
    }
}

void event_loop::restore_ignored(int signo) noexcept {
    if (std::erase(m_signals_ignored_before, signo) > 0) {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        ::sigaction(signo, &ign, nullptr);
    }
}

bool event_loop::has_signal_handler(int signo) const noexcept {
    return std::any_of(m_signal_handlers.begin(), m_signal_handlers.end(),
                       [signo](const auto& h) { return h.first == signo; });
}

bool event_loop::remove_signal_handler(int signo) {
    auto it = std::find_if(m_signal_handlers.begin(), m_signal_handlers.end(),
                           [signo](const auto& h) { return h.first == signo; });
    if (it == m_signal_handlers.end()) {
        return false;
    }
    m_signal_handlers.erase(it);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    // An instance still pending (not read from the signalfd yet) would take its default
    // action the moment it is unblocked (SIGUSR1, SIGTERM... kill the process). Its handler
    // is gone, so drop it, as asyncio does.
    const timespec no_wait{};
    while (::sigtimedwait(&one, nullptr, &no_wait) == signo) {
    }
    restore_ignored(signo);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    if (m_signal_handlers.empty()) {
        m_reactor->remove(m_signal_fd);
        ::close(m_signal_fd);
        m_signal_fd = -1;
        return true;
    }
    sigset_t set;
    sigemptyset(&set);
    for (const auto& h : m_signal_handlers) {
        sigaddset(&set, h.first);
    }
    ::signalfd(m_signal_fd, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return true;
}

void event_loop::on_signalfd() {
    signalfd_siginfo info{};
    while (::read(m_signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        const int signo = static_cast<int>(info.ssi_signo);
        for (const auto& h : m_signal_handlers) {
            if (h.first == signo) {
                push_callback(h.second);
            }
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

void event_loop::run_entry_timed(ready_entry& e) {
    // Where the step starts: the chain of awaits the task is suspended in now.
    std::string who = "a coroutine";
    std::string resumed_at;
    if (e.task != nullptr) {
        who = "task " + e.task->name() + " (#" + std::to_string(e.task->m_id) + ")";
        resumed_at = detail::await_chain(*e.task->m_promise);
    }
    const clock::time_point start = clock::now();
    detail::resume(e.handle);
    m_current = nullptr;
    const auto took = clock::now() - start;
    if (took > m_options.slow_callback_duration) {
        report_slow(who, took, resumed_at);
    }
}

void event_loop::report_slow(const std::string& who, clock::duration took,
                             const std::string& resumed_at) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.3f", std::chrono::duration<double>(took).count());
    std::string message = "Executing " + who + " took " + seconds +
                          " seconds (slow_callback_duration is " +
                          std::to_string(m_options.slow_callback_duration.count()) + " ms)";
    if (!resumed_at.empty()) {
        message += "; the step resumed at " + resumed_at;
    }
    call_exception_handler({message, nullptr, {}});
}

void event_loop::start_task(detail::task_state_base& task) {
    task.m_loop = this;
    task.m_id = m_next_task_id++;
    task.m_spawned_by = m_current != nullptr ? m_current->m_id : 0;
    m_tasks.push_back(task.m_all_tasks_node);
    schedule(task.m_frame, &task);
}

void event_loop::cancel_remaining_tasks() {
    std::vector<detail::task_state_base*> pending;
    for_each_task([&](detail::task_state_base& t) {
        if (!t.done()) {
            t.add_ref();
            pending.push_back(&t);
        }
    });
    for (auto* t : pending) {
        t->cancel();
    }
    enter_running();
    struct leave {
        event_loop* loop;
        ~leave() { loop->leave_running(); }
    } guard{this};
    auto all_done = [&] {
        return std::all_of(pending.begin(), pending.end(), [](auto* t) { return t->done(); });
    };
    while (!all_done()) {
        m_stopping = false; // a stop() from a task's cleanup must not make the loop spin
        run_once();
    }
    for (auto* t : pending) {
        if (!t->cancelled() && t->exception() != nullptr) {
            exception_context context{"unhandled exception during run() shutdown", t->exception(),
                                      t->name()};
            context.async_stack = t->thrown_at(context.exception);
            call_exception_handler(context);
        }
        t->release();
    }
}

void event_loop::close() {
    if (m_running) {
        throw invalid_state_error("close: cannot close a running event loop");
    }
    if (m_closed) {
        return;
    }
    // Threads of the default executor finish their calls first (their results are dropped).
    shutdown_default_executor();
    // Drop what was scheduled, then destroy the frames of tasks that never finished.
    m_ready.clear();
    m_callbacks.clear();
    std::vector<detail::task_state_base*> pending;
    for_each_task([&](detail::task_state_base& t) {
        if (!t.done()) {
            t.add_ref();
            pending.push_back(&t);
        }
    });
    for (auto* t : pending) {
        // asyncio's "Task was destroyed but it is pending!": with where it was waiting.
        exception_context context{"Task was destroyed but it is pending (the loop closed)", nullptr,
                                  t->name()};
        context.async_stack = describe_task(*t) + "; " + detail::await_chain(*t->m_promise);
        call_exception_handler(context);
    }
    for (auto* t : pending) {
        t->abandon();
        t->release(); // the loop's reference
    }
    for (auto* t : pending) {
        t->release(); // ours
    }
    // Completion-based operations still in the kernel (a stream's background send) end
    // now, so that what they hold is released.
    m_reactor->cancel_all();
    m_ready.clear();
    m_callbacks.clear();
    for (detail::timer_slot& s : m_timer_slots) {
        if ((s.armed || s.queued) && s.fire == &detail::fire_callback_timer) {
            delete static_cast<std::function<void()>*>(s.context);
        }
        s.context = nullptr;
        s.armed = false;
        s.queued = false;
    }
    m_timer_heap->clear();
    // Async generators still open outlive the loop; they no longer belong to its registry.
    while (detail::list_node* n = m_asyncgens.pop_front()) {
        static_cast<detail::asyncgen_base*>(n)->loop = nullptr;
    }
    // Tasks that outlive the loop through their join_handles no longer report to it.
    for_each_task([](detail::task_state_base& t) { t.m_loop = nullptr; });
    while (m_tasks.pop_front() != nullptr) {
    }
    while (!m_signal_handlers.empty()) {
        remove_signal_handler(m_signal_handlers.back().first);
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
    detail::t_throw_record = {}; // an exception recorded and never reported is let go
}

// --- errors -------------------------------------------------------------------------------

void event_loop::set_exception_handler(exception_handler handler) {
    m_exception_handler = std::move(handler);
}

void event_loop::call_exception_handler(const exception_context& context) {
    try {
        if (m_exception_handler) {
            m_exception_handler(*this, context);
        } else {
            default_exception_handler(*this, context);
        }
    } catch (...) {
        std::fputs("corio: the exception handler threw; falling back to the default handler\n",
                   stderr);
        default_exception_handler(*this, context);
    }
}

void event_loop::default_exception_handler(event_loop&, const exception_context& context) {
    std::string line = "corio: " + context.message;
    if (!context.task_name.empty()) {
        line += " [" + context.task_name + "]";
    }
    if (context.exception) {
        try {
            std::rethrow_exception(context.exception);
        } catch (const std::exception& e) {
            line += ": ";
            line += e.what();
        } catch (const cancelled_error& e) {
            line += ": ";
            line += e.what();
        } catch (...) {
            line += ": unknown exception";
        }
    }
    if (!context.async_stack.empty()) {
        line += "\n    async stack: " + context.async_stack;
    }
    line += '\n';
    std::fputs(line.c_str(), stderr);
}

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

#include "corio/join_handle.hpp"

namespace corio {

namespace {
task_info describe(detail::task_state_base& t) {
    return {t.id(), t.name(), t.done(), t.cancelled()};
}
} // namespace

std::optional<task_info> current_task() {
    detail::task_state_base* t = detail::current_task_state();
    if (t == nullptr) {
        return std::nullopt;
    }
    return describe(*t);
}

task_handle current_task_handle() {
    detail::task_state_base* t = detail::current_task_state();
    if (t == nullptr) {
        throw invalid_state_error(
            "current_task_handle: no task is running (call it from inside a task running on an "
            "event loop)");
    }
    return task_handle(t);
}

std::vector<task_info> all_tasks() {
    std::vector<task_info> out;
    get_running_loop().for_each_task([&](detail::task_state_base& t) {
        if (!t.done()) {
            out.push_back(describe(t));
        }
    });
    return out;
}

} // namespace corio

namespace corio {

executor& event_loop::default_executor() {
    if (!m_default_executor) {
        m_default_executor = std::make_unique<thread_pool>();
    }
    return *m_default_executor;
}

void event_loop::shutdown_default_executor() {
    if (m_default_executor) {
        m_default_executor->shutdown(true);
    }
}

} // namespace corio
