// dump_tasks: a known tree of tasks, printed with each task's name, the chain of awaits
// (function and line of each co_await, innermost first) and what it waits for, task groups
// as nodes; the dump on a signal (CORIO_DUMP_SIGNAL). And the reports that carry an async
// stack: an exception never retrieved, a task destroyed while pending, a slow step.

#include "support/loop.hpp"

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using corio_test::contains;

/// One element of a chain of awaits: "file:line function()" when co_await sites are
/// recorded (CORIO_AWAIT_SITES), else "function()".
std::string at([[maybe_unused]] int line, const char* function) {
#if CORIO_AWAIT_SITES
    return "test_dump_tasks.cpp:" + std::to_string(line) + " " + function + "()";
#else
    return std::string(function) + "()";
#endif
}

int fetch_line = 0;
int worker_line = 0;
int sleeper_line = 0;
int blocked_line = 0;

corio::task<> fetch(corio::event& ready) {
    fetch_line = __LINE__ + 1;
    co_await ready.wait();
}

corio::task<> worker(corio::event& ready) {
    worker_line = __LINE__ + 1;
    co_await fetch(ready);
}

corio::task<> sleeper() {
    sleeper_line = __LINE__ + 1;
    co_await corio::sleep(5s);
}

corio::task<> holder(corio::mutex& m) {
    auto guard = co_await m.lock();
    co_await corio::sleep(1h);
}

corio::task<> blocked(corio::mutex& m) {
    blocked_line = __LINE__ + 1;
    auto guard = co_await m.lock();
}

corio::task<std::string> known_tree() {
    corio::event ready;
    corio::mutex m;
    auto w = corio::spawn(worker(ready), "worker");
    auto s = corio::spawn(sleeper());
    auto h = corio::spawn(holder(m), "holder");
    co_await corio::sleep(1ms); // the holder takes the lock first
    auto b = corio::spawn(blocked(m), "blocked");
    co_await corio::sleep(1s - 1ms);
    std::ostringstream out;
    corio::dump_tasks(out);
    for (auto* t : {&w, &s, &h, &b}) {
        t->cancel();
    }
    // They end before the event and the mutex they use go out of scope.
    for (auto* t : {&w, &s, &h, &b}) {
        co_await corio_test::error_of(*t);
    }
    co_return out.str();
}

TEST(dump_tasks, a_known_tree_with_chains_and_what_each_waits_for) {
    const std::string dump = corio::run(known_tree(), corio_test::virtual_time());
    SCOPED_TRACE(dump);
    EXPECT_TRUE(contains(dump, "corio: 5 tasks on the event loop"));
    // The main task runs (it is the one dumping); the others are under it, indented.
    EXPECT_TRUE(contains(dump, "Task-1 (#1): running\n"));
    EXPECT_TRUE(contains(dump, "\n  worker (#2): waiting for an event\n"));
    EXPECT_TRUE(contains(dump, at(fetch_line, "fetch") + " ← " + at(worker_line, "worker")));
    EXPECT_TRUE(contains(dump, "\n  Task-3 (#3): waiting for a timer due in 4.000 s\n"));
    EXPECT_TRUE(contains(dump, at(sleeper_line, "sleeper")));
    EXPECT_TRUE(contains(dump, "\n  holder (#4): waiting for a timer due in "));
    EXPECT_TRUE(contains(dump, "\n  blocked (#5): waiting for a mutex held by task #4\n"));
    EXPECT_TRUE(contains(dump, at(blocked_line, "blocked")));
    EXPECT_TRUE(contains(dump, "known_tree()"));
}

corio::task<std::string> nested_spawn_child() {
    co_await corio::sleep(1h);
    co_return "";
}

corio::task<> nested_spawn_parent() {
    auto child = corio::spawn(nested_spawn_child(), "grandchild");
    co_await child;
}

corio::task<std::string> nested() {
    auto parent = corio::spawn(nested_spawn_parent(), "child");
    co_await corio::sleep(1s);
    std::ostringstream out;
    corio::dump_tasks(out);
    parent.cancel();
    co_await corio_test::error_of(parent);
    co_return out.str();
}

TEST(dump_tasks, a_task_spawned_by_a_task_is_printed_under_it) {
    const std::string dump = corio::run(nested(), corio_test::virtual_time());
    SCOPED_TRACE(dump);
    EXPECT_TRUE(contains(dump, "\n  child (#2): waiting for grandchild (#3) to finish\n"));
    EXPECT_TRUE(contains(dump, "\n    grandchild (#3): waiting for a timer due in 3599.000 s\n"));
}

TEST(dump_tasks, outside_a_loop_is_an_error_naming_it) {
    std::ostringstream out;
    try {
        corio::dump_tasks(out);
        ADD_FAILURE() << "no error";
    } catch (const corio::invalid_state_error& e) {
        EXPECT_TRUE(contains(e.what(), "dump_tasks: no event loop is running"));
    }
}

corio::task<> raise_dump_signal() {
    ::raise(SIGUSR1);
    co_await corio::sleep(10ms);
}

TEST(dump_tasks, corio_dump_signal_prints_the_dump_to_stderr) {
    ::setenv("CORIO_DUMP_SIGNAL", "SIGUSR1", 1);
    testing::internal::CaptureStderr();
    corio::run(raise_dump_signal(), corio_test::virtual_time());
    const std::string err = testing::internal::GetCapturedStderr();
    ::unsetenv("CORIO_DUMP_SIGNAL");
    EXPECT_TRUE(contains(err, "corio: 1 task on the event loop")) << err;
    EXPECT_TRUE(contains(err, "waiting for a timer due in")) << err;
    EXPECT_TRUE(contains(err, "raise_dump_signal()")) << err;
}

TEST(dump_tasks, a_bad_corio_dump_signal_is_an_error_naming_it) {
    ::setenv("CORIO_DUMP_SIGNAL", "SIGNOPE", 1);
    try {
        corio::event_loop loop;
        ADD_FAILURE() << "no error";
    } catch (const std::invalid_argument& e) {
        EXPECT_TRUE(contains(e.what(), "CORIO_DUMP_SIGNAL=SIGNOPE")) << e.what();
    }
    ::unsetenv("CORIO_DUMP_SIGNAL");
}

// --- task groups as nodes -------------------------------------------------------------

corio::task<> group_member() {
    co_await corio::sleep(1h);
}

corio::task<std::string> grouped() {
    std::string dump;
    auto body = [&](corio::task_group& g) -> corio::task<> {
        g.spawn(group_member(), "member-a");
        g.spawn(group_member(), "member-b");
        co_await corio::sleep(1s);
        std::ostringstream out;
        corio::dump_tasks(out);
        dump = out.str();
        g.cancel();
    };
    auto loner = corio::spawn(group_member(), "loner");
    co_await corio::with_task_group(body);
    loner.cancel();
    co_await corio_test::error_of(loner);
    co_return dump;
}

TEST(dump_tasks, a_task_group_is_a_node_holding_its_children) {
    const std::string dump = corio::run(grouped(), corio_test::virtual_time());
    SCOPED_TRACE(dump);
    // Under the main task: the loner, then the group with its two children one level deeper.
    EXPECT_TRUE(contains(dump, "\n  loner (#2): waiting for a timer due in 3599.000 s\n"));
    const auto group = dump.find("\n  task group #");
    ASSERT_NE(group, std::string::npos);
    EXPECT_TRUE(contains(dump.substr(group), ": 2 tasks\n    member-a (#3): waiting for a timer"));
    EXPECT_TRUE(contains(dump.substr(group), "\n    member-b (#4): waiting for a timer"));
}

// --- reports with an async stack ----------------------------------------------------------

/// Everything the loop's exception handler received.
struct reports {
    std::vector<corio::exception_context> received;
    void install(corio::event_loop& loop) {
        loop.set_exception_handler([this](corio::event_loop&, const corio::exception_context& c) {
            received.push_back(c);
        });
    }
    [[nodiscard]] const corio::exception_context* find(const std::string& prefix) const {
        for (const auto& c : received) {
            if (c.message.rfind(prefix, 0) == 0) {
                return &c;
            }
        }
        return nullptr;
    }
};

int parse_line = 0;
int load_line = 0;

corio::task<int> parse_config() {
    parse_line = __LINE__ + 1;
    co_await corio::sleep(1ms);
    throw std::runtime_error("bad config");
}

corio::task<int> load_config() {
    load_line = __LINE__ + 1;
    co_return co_await parse_config();
}

corio::task<> drop_a_failing_task(reports* r) {
    r->install(corio::get_running_loop());
    {
        auto h = corio::spawn(load_config(), "loader");
        co_await corio::sleep(1s); // it fails meanwhile; the handle is dropped unread
    }
}

TEST(reports, an_exception_never_retrieved_carries_where_it_was_thrown) {
    reports r;
    corio::run(drop_a_failing_task(&r), corio_test::virtual_time());
    const corio::exception_context* c = r.find("Task exception was never retrieved");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->task_name, "loader");
    EXPECT_TRUE(contains(c->message, "load_config")) << c->message;
    EXPECT_EQ(c->async_stack,
              at(parse_line, "parse_config") + " ← " + at(load_line, "load_config"));
}

corio::task<> cancelled_quietly() {
    co_await corio::sleep(1h);
}

corio::task<> drop_a_cancelled_task(reports* r) {
    r->install(corio::get_running_loop());
    auto h = corio::spawn(cancelled_quietly());
    co_await corio::sleep(1ms);
    h.cancel();
    co_await corio_test::error_of(h);
}

TEST(reports, a_cancellation_is_not_reported) {
    reports r;
    corio::run(drop_a_cancelled_task(&r), corio_test::virtual_time());
    EXPECT_TRUE(r.received.empty());
}

int stuck_line = 0;

corio::task<> stuck() {
    stuck_line = __LINE__ + 1;
    co_await corio::sleep(1h);
}

TEST(reports, a_task_pending_when_the_loop_closes_is_reported_with_its_stack) {
    corio::run_options o = corio_test::virtual_time();
    reports r;
    {
        corio::event_loop loop(o);
        r.install(loop);
        auto h = loop.run_until_complete([]() -> corio::task<corio::join_handle<void>> {
            auto h = corio::spawn(stuck(), "stuck");
            co_await corio::sleep(1ms);
            co_return h;
        }());
        loop.close();
    }
    const corio::exception_context* c = r.find("Task was destroyed but it is pending");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->task_name, "stuck");
    EXPECT_EQ(c->async_stack, "waiting for a timer due in 3599.999 s; " + at(stuck_line, "stuck"));
}

int slow_line = 0;

corio::task<> slow_resume() {
    slow_line = __LINE__ + 1;
    co_await corio::sleep(1ms);
    const auto start = corio::clock::now(); // at least one tick of the clock
    while (corio::clock::now() == start) {
    }
}

corio::task<> run_slow_resume(reports* r) {
    r->install(corio::get_running_loop());
    co_await corio::spawn(slow_resume(), "slowpoke");
}

TEST(reports, a_slow_step_names_the_task_and_where_it_resumed) {
    corio::run_options o;
    o.debug = true;
    o.slow_callback_duration = std::chrono::milliseconds(0);
    reports r;
    corio::run(run_slow_resume(&r), o);
    bool found = false;
    for (const auto& c : r.received) {
        if (c.message.rfind("Executing task slowpoke (#2) took ", 0) == 0 &&
            contains(c.message, "; the step resumed at " + at(slow_line, "slow_resume"))) {
            found = true;
        }
    }
    EXPECT_TRUE(found);
}

} // namespace
