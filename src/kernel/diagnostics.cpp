// Diagnostics and the environment: what debug mode records and reports (where tasks were
// created, where the exception that ended a task was thrown, tasks never awaited, slow
// steps), the environment variables read when a loop is made (CORIO_DEBUG,
// CORIO_DUMP_SIGNAL; CORIO_BACKEND is read with the reactor's creation), and the loop's
// exception handler, through which every such report goes.
//
// Records are per thread (a loop runs on one thread), and cost nothing outside debug mode
// but the throw site: an exception leaving a task's coroutine records its chain of awaits
// once, however many coroutines it then leaves.

#include "kernel/loop_internals.hpp"

#include <cxxabi.h>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <unordered_map>
#include <utility>

namespace corio {
namespace detail {

namespace {
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

} // namespace

bool debug_from_environment() {
    const char* env = std::getenv("CORIO_DEBUG");
    return env != nullptr && *env != '\0' && std::string_view(env) != "0";
}

int dump_signal_from_environment() {
    const char* env = std::getenv("CORIO_DUMP_SIGNAL");
    return env != nullptr && *env != '\0' ? dump_signal_from(env) : 0;
}

// --- creation sites (debug mode) ----------------------------------------------------

void record_task_creation(const void* promise, const char* function, const char* file,
                          unsigned line) {
    if (t_creation_sites == nullptr) {
        t_creation_sites = new std::unordered_map<const void*, creation_site>();
    }
    (*t_creation_sites)[promise] = {function, file, line};
}

void forget_task_creation(const void* promise) noexcept {
    if (t_creation_sites != nullptr) {
        t_creation_sites->erase(promise);
    }
}

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

void report_never_awaited(const void* promise) noexcept {
    std::string where;
    if (t_creation_sites != nullptr) {
        if (auto it = t_creation_sites->find(promise); it != t_creation_sites->end()) {
            where = std::string(" (created in ") + it->second.function + " at " + it->second.file +
                    ":" + std::to_string(it->second.line) + ")";
        }
    }
    const std::string message = "task was never awaited" + where;
    if (event_loop* loop = running_loop(); loop != nullptr && loop->get_debug()) {
        loop->call_exception_handler({message, nullptr, {}});
    }
}

// --- throw sites --------------------------------------------------------------------

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

void forget_throw_record() noexcept {
    t_throw_record = {};
}

} // namespace detail

// --- the exception handler and slow steps --------------------------------------------

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

} // namespace corio
