// dump_tasks: every live task of a loop as a tree, each with its chain of awaits and what
// it waits for.
//
// A task's chain runs from its root coroutine (the one spawned) through the tasks each
// awaits (task_promise_base::m_child, kept by await_transform) to the innermost one, where
// it is suspended; each frame knows its function and the file and line of the co_await it
// is at. What the task waits for is its parked waiter's description (waiter::describe).

#include "corio/event_loop.hpp"
#include "corio/join_handle.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ostream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace corio {

namespace detail {

std::string format_seconds(std::chrono::nanoseconds d) {
    char text[48];
    std::snprintf(text, sizeof text, "%.3f s", static_cast<double>(d.count()) / 1e9);
    return text;
}

namespace {

#if CORIO_AWAIT_SITES
/// "crawl.cpp" of "/src/app/crawl.cpp".
const char* base_name(const char* path) {
    if (path == nullptr) {
        return "?";
    }
    const char* slash = std::strrchr(path, '/');
    return slash != nullptr ? slash + 1 : path;
}
#endif

/// `crawl.cpp:88 fetch() ← crawl.cpp:120 worker()` for frames given innermost first.
std::string format_chain(const std::vector<const task_promise_base*>& innermost_first) {
    std::string out;
    for (const task_promise_base* frame : innermost_first) {
        const task_promise_base& p = *frame;
        if (!out.empty()) {
            out += " ← ";
        }
#if CORIO_AWAIT_SITES
        if (p.m_await_file != nullptr) {
            out +=
                std::string(base_name(p.m_await_file)) + ":" + std::to_string(p.m_await_line) + " ";
        }
#endif
        out += std::string(p.m_function != nullptr && *p.m_function != '\0' ? p.m_function : "?") +
               "()";
    }
    return out;
}

/// A chain longer than this is cut (a cycle would be a bug, but must not hang a report).
constexpr std::size_t max_chain = 1000;

} // namespace

std::string await_chain(const task_promise_base& root) {
    std::vector<const task_promise_base*> frames;
    for (const task_promise_base* p = &root; p != nullptr && frames.size() < max_chain;
         p = p->m_child) {
        frames.push_back(p);
    }
    std::reverse(frames.begin(), frames.end());
    return format_chain(frames);
}

std::string chain_outwards(const task_promise_base& innermost) {
    std::vector<const task_promise_base*> frames;
    for (const task_promise_base* p = &innermost; p != nullptr && frames.size() < max_chain;
         p = p->m_parent) {
        frames.push_back(p);
    }
    return format_chain(frames);
}

} // namespace detail

std::string event_loop::describe_task(const detail::task_state_base& t) const {
    std::string state;
    if (&t == m_current) {
        state = "running";
    } else if (const detail::waiter* w = t.m_parked) {
        if (w->describe != nullptr) {
            state = "waiting for ";
            w->describe(*w, state);
        } else if (w->handle) {
            state = "waiting";
        } else {
            state = "resuming to be cancelled";
        }
    } else {
        state = "ready to run";
    }
    return state;
}

void event_loop::dump_tasks(std::ostream& out) const {
    using detail::task_state_base;
    std::vector<const task_state_base*> tasks;
    for_each_task([&](const task_state_base& t) {
        if (!t.done()) {
            tasks.push_back(&t);
        }
    });
    std::sort(tasks.begin(), tasks.end(),
              [](const auto* a, const auto* b) { return a->m_id < b->m_id; });
    std::unordered_set<std::uint64_t> alive;
    for (const auto* t : tasks) {
        alive.insert(t->m_id);
    }
    // A node is a task, or (task == nullptr) a task group holding its children.
    struct node {
        const task_state_base* task;
        std::uint32_t group;
    };
    std::unordered_map<std::uint64_t, std::vector<node>> children; // by the parent's id
    std::unordered_map<std::uint32_t, std::vector<node>> members;  // by the group's id
    std::vector<node> roots;
    for (const auto* t : tasks) {
        const bool parent_alive = t->m_spawned_by != 0 && alive.contains(t->m_spawned_by);
        if (!parent_alive) {
            roots.push_back({t, 0});
        } else if (t->m_group == 0) {
            children[t->m_spawned_by].push_back({t, 0});
        } else {
            auto [it, added] = members.try_emplace(t->m_group);
            if (added) {
                children[t->m_spawned_by].push_back({nullptr, t->m_group});
            }
            it->second.push_back({t, 0});
        }
    }

    out << "corio: " << tasks.size() << (tasks.size() == 1 ? " task" : " tasks")
        << " on the event loop (" << (m_backend == corio::backend::io_uring ? "io_uring" : "epoll")
        << ")\n";
    // Depth first, without recursion (a chain of spawns can be deep); the indentation
    // stops growing at 32 levels.
    std::vector<std::pair<node, std::size_t>> pending;
    auto push_all = [&](const std::vector<node>& nodes, std::size_t depth) {
        for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
            pending.emplace_back(*it, depth);
        }
    };
    push_all(roots, 0);
    while (!pending.empty()) {
        const auto [n, depth] = pending.back();
        pending.pop_back();
        const std::string indent(2 * std::min<std::size_t>(depth, 32), ' ');
        if (n.task == nullptr) {
            const std::vector<node>& group = members[n.group];
            out << indent << "task group #" << n.group << ": " << group.size()
                << (group.size() == 1 ? " task\n" : " tasks\n");
            push_all(group, depth + 1);
            continue;
        }
        const task_state_base& t = *n.task;
        out << indent << t.name() << " (#" << t.m_id << "): " << describe_task(t) << '\n';
        out << indent << "    " << detail::await_chain(*t.m_promise) << '\n';
        if (auto it = children.find(t.m_id); it != children.end()) {
            push_all(it->second, depth + 1);
        }
    }
}

void dump_tasks(std::ostream& out) {
    event_loop* loop = detail::running_loop();
    if (loop == nullptr) {
        throw invalid_state_error("dump_tasks: no event loop is running on this thread");
    }
    loop->dump_tasks(out);
}

} // namespace corio
