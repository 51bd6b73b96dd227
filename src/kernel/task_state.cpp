// The task control block (detail::task_state_base, detail/task_state.hpp): reference
// counting, names, cancellation requests and their delivery to where the task is parked,
// completion (listeners, the unretrieved-exception report) and abandonment at close; the
// kernel's task hooks (detail/task_hooks.hpp); current_task() and all_tasks().
//
// The cancellation protocol is described at the top of detail/task_state.hpp. Parking and
// waking (park, wake, event_loop::unpark_woken) are the loop's, in event_loop.cpp beside
// this file: they run on every suspension and stay next to the ready queue.

#include "kernel/loop_internals.hpp"

#include "corio/detail/task_hooks.hpp"
#include "corio/join_handle.hpp"

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace corio {
namespace detail {

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

/// The kernel's task hooks (detail/task_hooks.hpp).
constexpr task_hooks kernel_task_hooks{
    &on_spawned_task_complete, &check_start_cancelled, &task_creation_tracking,
    &record_task_creation,     &forget_task_creation,  &report_never_awaited,
    &record_throw_site,
};

/// Installed at static initialization, before any thread can run a task (this file is
/// linked into every program that makes a loop).
[[maybe_unused]] const bool hooks_installed_at_start =
    (install_task_hooks(kernel_task_hooks), true);
} // namespace

void install_kernel_task_hooks() noexcept {
    // Written only if a loop is made before the initializer above ran (by another static
    // initializer: still one thread). Otherwise only read, so that threads running tasks
    // while another makes its first loop never race with a write.
    if (installed_task_hooks.spawned_task_complete != kernel_task_hooks.spawned_task_complete) {
        install_task_hooks(kernel_task_hooks);
    }
}

std::uint32_t next_task_group_id() noexcept {
    static std::atomic<std::uint32_t> next{1};
    std::uint32_t id = next.fetch_add(1, std::memory_order_relaxed);
    if (id == 0) { // after 2^32 groups
        id = next.fetch_add(1, std::memory_order_relaxed);
    }
    return id;
}

} // namespace detail

// --- the loop's tasks at shutdown -----------------------------------------------------

namespace {
/// The loop's tasks that have not finished, each with a reference taken (the caller
/// releases it), so that none goes while the caller runs the loop or reports it.
std::vector<detail::task_state_base*> referenced_pending_tasks(const event_loop& loop) {
    std::vector<detail::task_state_base*> pending;
    loop.for_each_task([&](detail::task_state_base& t) {
        if (!t.done()) {
            t.add_ref();
            pending.push_back(&t);
        }
    });
    return pending;
}
} // namespace

void event_loop::cancel_remaining_tasks() {
    const std::vector<detail::task_state_base*> pending = referenced_pending_tasks(*this);
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

void event_loop::abandon_pending_tasks() {
    const std::vector<detail::task_state_base*> pending = referenced_pending_tasks(*this);
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
}

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
