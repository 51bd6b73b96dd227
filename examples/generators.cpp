// generators.cpp: a tour of corio's generators (and a first look at tasks).
//
// corio::generator<Y, S, R> is Python's Generator[YieldType, SendType, ReturnType]:
//
//   Python                              corio
//   ---------------------------------   -----------------------------------------------
//   def g(): yield v                    corio::generator<V> g() { co_yield v; }
//   for x in g(): ...                   for (V& x : g()) { ... }
//   next(g)                             g.next()            -> std::optional<V>
//   x = yield v;  g.send(s)             auto x = co_yield v; g.send(s)   (x: optional<S>)
//   g.throw(e)                          g.throw_into(std::make_exception_ptr(e))
//   g.close(), GeneratorExit            g.close(), corio::generator_exit
//   return r  (StopIteration.value)     co_return r;  g.result()
//   r = yield from sub                  auto r = co_yield corio::yield_from(sub());
//
// Each section below is one idiom. Build it with the project (examples are built by
// default) or by hand:
//   g++ -std=c++20 -O2 -Iinclude examples/generators.cpp src/core/errors.cpp -o generators

#include <corio/errors.hpp>
#include <corio/generator.hpp>
#include <corio/sync_wait.hpp>
#include <corio/task.hpp>

#include <cstddef>
#include <exception>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

void section(const char* title) {
    std::cout << "\n== " << title << " ==\n";
}

// ---------------------------------------------------------------------------------------
// 1. A plain generator: yields values, consumed by range-for or next().
// ---------------------------------------------------------------------------------------

/// The first `count` Fibonacci numbers. Nothing runs until the first value is asked for,
/// and each value is computed only when the consumer wants it.
corio::generator<long> fibonacci(int count) {
    long a = 0;
    long b = 1;
    for (int i = 0; i < count; ++i) {
        co_yield a;
        a = std::exchange(b, a + b);
    }
}

void plain_generator() {
    section("1. a plain generator");

    std::cout << "range-for:";
    for (long value : fibonacci(10)) {
        std::cout << ' ' << value;
    }
    std::cout << '\n';

    // next() is Python's next(g); it returns an empty optional where Python raises
    // StopIteration.
    corio::generator<long> fib = fibonacci(3);
    while (std::optional<long> value = fib.next()) {
        std::cout << "next() -> " << *value << '\n';
    }
    std::cout << "next() -> (empty: finished), done() = " << std::boolalpha << fib.done() << '\n';
}

// ---------------------------------------------------------------------------------------
// 2. send(): a generator as a consumer (Python's "coroutine" running averager).
// ---------------------------------------------------------------------------------------

/// Receives numbers through send() and yields the running average after each one.
/// generator<double, double>: yields doubles, receives doubles.
corio::generator<double, double> running_average() {
    double total = 0;
    int count = 0;
    double average = 0;
    for (;;) {
        // `co_yield` hands `average` out and suspends. When the consumer resumes us, it
        // evaluates to what was sent: std::optional<double>, empty if the consumer called
        // next() instead of send() (Python's next(g) is g.send(None)).
        std::optional<double> term = co_yield average;
        if (term) {
            total += *term;
            ++count;
            average = total / count;
        }
    }
}

void send_values() {
    section("2. send: a running average");

    corio::generator<double, double> averager = running_average();

    // Like Python, a generator must reach its first co_yield before it can receive a
    // value: sending into a fresh generator is an error.
    try {
        (void)averager.send(1.0);
    } catch (const corio::invalid_state_error& e) {
        std::cout << "send() before next() threw " << e.what() << '\n';
    }

    averager.next(); // "prime" it: run to the first co_yield (which yields 0)
    for (double term : {10.0, 30.0, 5.0}) {
        std::cout << "send(" << term << ") -> average " << *averager.send(term) << '\n';
    }
    // The generator loops forever; dropping it destroys its frame. close() (section 3)
    // is how to let it run cleanup code first.
}

// ---------------------------------------------------------------------------------------
// 3. throw_into() and close(): raising exceptions inside a suspended generator.
// ---------------------------------------------------------------------------------------

/// Prints when destroyed, to show which cleanup runs when.
struct announce_on_exit {
    const char* what;
    ~announce_on_exit() { std::cout << "  [" << what << "]\n"; }
};

/// Counts up from 0. A std::exception thrown in with throw_into() restarts the count;
/// close() runs its cleanup. Anything else propagates to the consumer.
corio::generator<int> resettable_counter() {
    announce_on_exit local{"counter's locals destroyed"};
    int n = 0;
    for (;;) {
        // C++20 forbids co_yield (and co_await) inside a catch handler. So the handler
        // only records what happened; the generator acts on it after leaving the handler.
        std::string reset_reason;
        try {
            co_yield n++; // throw_into() and close() raise their exception here
        } catch (const corio::generator_exit&) {
            // close(): clean up, then let generator_exit propagate (or co_return).
            // generator_exit is not a std::exception, so the handler below cannot
            // swallow it by accident, as with Python's GeneratorExit.
            std::cout << "  counter: caught generator_exit, cleaning up\n";
            throw;
        } catch (const std::exception& e) {
            reset_reason = e.what();
        }
        if (!reset_reason.empty()) {
            std::cout << "  counter: reset (" << reset_reason << ")\n";
            n = 0;
        }
    }
}

void throw_and_close() {
    section("3. throw_into and close");

    corio::generator<int> counter = resettable_counter();
    std::cout << "next() -> " << *counter.next() << '\n';
    std::cout << "next() -> " << *counter.next() << '\n';
    std::cout << "next() -> " << *counter.next() << '\n';

    // The generator catches the exception and yields again: throw_into() returns that
    // value (Python's g.throw(e) returns the next yielded value).
    std::optional<int> after_reset =
        counter.throw_into(std::make_exception_ptr(std::runtime_error("user asked")));
    std::cout << "throw_into(runtime_error) -> " << *after_reset << '\n';
    std::cout << "next() -> " << *counter.next() << '\n';

    // close() raises generator_exit at the co_yield; it returns once the body has
    // finished. (Had the body yielded again instead, close() would throw
    // invalid_state_error.)
    counter.close();
    std::cout << "close() returned, done() = " << std::boolalpha << counter.done() << '\n';

    // An exception the body does not catch comes back out of throw_into().
    corio::generator<int> fragile = resettable_counter();
    fragile.next();
    try {
        fragile.throw_into(std::make_exception_ptr(42));
    } catch (int code) {
        std::cout << "throw_into(42) propagated back out: " << code << '\n';
    }

    // Destroying a suspended generator without close() runs its locals' destructors,
    // but not its catch (const generator_exit&) handlers.
    std::cout << "destroying a suspended counter without close():\n";
    {
        corio::generator<int> dropped = resettable_counter();
        dropped.next();
    }
}

// ---------------------------------------------------------------------------------------
// 4. yield_from with a return value.
// ---------------------------------------------------------------------------------------

/// Yields the non-comment lines of a config section and returns how many there were.
/// generator<Y, S, R>: R = std::size_t is what `co_return` gives back.
corio::generator<std::string, void, std::size_t> settings(std::string section_name,
                                                          std::vector<std::string> lines) {
    std::size_t count = 0;
    for (std::string& line : lines) {
        if (line.empty() || line.front() == '#') {
            continue;
        }
        co_yield section_name + "." + line; // a temporary: handed out as is, no copy
        ++count;
    }
    co_return count;
}

/// Delegates to one sub-generator per section; each `co_yield corio::yield_from(...)`
/// passes the sub-generator's values straight to our consumer and then evaluates to its
/// co_return value (Python's `n = yield from settings(...)`).
corio::generator<std::string> config() {
    std::vector<std::string> server{"# where to listen", "host = 0.0.0.0", "port = 8080"};
    std::vector<std::string> log{"level = info", "", "file = -"};
    std::size_t total = 0;
    total += co_yield corio::yield_from(settings("server", std::move(server)));
    total += co_yield corio::yield_from(settings("log", std::move(log)));
    co_yield "(" + std::to_string(total) + " settings)";
}

struct group_summary {
    int count = 0;
    double average = 0;
};

/// Like running_average(), but a group ends when the consumer calls next() instead of
/// send() (Python: `term = yield; if term is None: break`), and then the generator
/// returns a summary of the group.
corio::generator<double, double, group_summary> group_average() {
    group_summary summary;
    double total = 0;
    for (;;) {
        std::optional<double> term = co_yield summary.average;
        if (!term) {
            break;
        }
        total += *term;
        ++summary.count;
        summary.average = total / summary.count;
    }
    co_return summary;
}

/// Fluent Python's "grouper": delegates to group_average(), so values sent to the
/// grouper go to it, and stores the summary it returns.
corio::generator<double, double> grouper(std::map<std::string, group_summary>& results,
                                         std::string key) {
    results[key] = co_yield corio::yield_from(group_average());
}

void delegation_with_result() {
    section("4. yield_from with a return value");

    for (const std::string& line : config()) {
        std::cout << line << '\n';
    }

    std::map<std::string, group_summary> results;
    const std::map<std::string, std::vector<double>> data{
        {"girls (kg)", {40.9, 38.5, 44.3, 42.2, 45.2}},
        {"boys (kg)", {39.0, 40.8, 43.2, 40.8, 43.1, 38.6}},
    };
    for (const auto& [key, values] : data) {
        corio::generator<double, double> group = grouper(results, key);
        group.next(); // prime: runs grouper, which starts group_average
        for (double value : values) {
            group.send(value); // reaches group_average's co_yield through yield_from
        }
        group.next(); // ends the group: group_average returns, grouper stores and ends
    }
    for (const auto& [key, summary] : results) {
        std::cout << summary.count << " " << key << " averaging " << summary.average << '\n';
    }
}

// ---------------------------------------------------------------------------------------
// 5. A recursive walk with yield_from.
// ---------------------------------------------------------------------------------------

struct directory {
    std::string name;
    std::vector<std::string> files;
    std::vector<directory> subdirectories;
};

/// Yields every path under `dir`, depth first. Each level delegates to a generator for
/// each subdirectory; corio resumes the innermost generator directly, so a value found
/// 1,000 levels down costs what a value at the top costs.
corio::generator<std::string> walk(const directory& dir, std::string prefix = "") {
    const std::string path = prefix + dir.name + "/";
    co_yield std::string(path);
    std::vector<std::string> files;
    for (const std::string& file : dir.files) {
        files.push_back(path + file);
    }
    co_yield corio::yield_from(files); // yield_from also takes any input range
    for (const directory& sub : dir.subdirectories) {
        co_yield corio::yield_from(walk(sub, path));
    }
}

void recursive_walk() {
    section("5. a recursive walk with yield_from");

    const directory project{
        "corio",
        {"CMakeLists.txt", "README.md"},
        {
            {"include", {}, {{"corio", {"generator.hpp", "task.hpp"}, {}}}},
            {"examples", {"generators.cpp"}, {}},
        },
    };
    for (const std::string& path : walk(project)) {
        std::cout << path << '\n';
    }
}

// ---------------------------------------------------------------------------------------
// 6. Tasks: coroutines that co_await each other, driven by corio::sync_wait.
// ---------------------------------------------------------------------------------------

/// A task is Python's `async def`: lazy, and awaited with co_await.
corio::task<int> parse_port(std::string text) {
    std::size_t used = 0;
    const int port = std::stoi(text, &used); // throws std::invalid_argument on "http"
    if (used != text.size() || port <= 0 || port > 65535) {
        throw std::out_of_range("not a port: " + text);
    }
    co_return port;
}

corio::task<std::string> make_address(std::string host, std::string port) {
    const int number = co_await parse_port(std::move(port)); // runs parse_port to completion
    co_return host + ":" + std::to_string(number);
}

/// Awaits a chain of tasks and consumes a generator on the way.
corio::task<long> checked_sum() {
    std::cout << "address: " << co_await make_address("localhost", "8080") << '\n';

    // An exception thrown in an awaited task comes out of the co_await.
    try {
        co_await make_address("localhost", "99999");
    } catch (const std::out_of_range& e) {
        std::cout << "make_address failed: " << e.what() << '\n';
    }

    long sum = 0;
    for (long value : fibonacci(10)) {
        sum += value;
    }
    co_return sum;
}

void task_chain() {
    section("6. a task chain, driven by sync_wait");

    corio::task<long> main_task = checked_sum();
    std::cout << "task created; nothing has run yet\n";
    // sync_wait runs a task (or any awaitable) to completion on this thread, without an
    // event loop, and gives its result. Programs with I/O and timers use corio::run().
    const long sum = corio::sync_wait(std::move(main_task));
    std::cout << "sum of the first 10 Fibonacci numbers: " << sum << '\n';
}

} // namespace

int main() {
    plain_generator();
    send_values();
    throw_and_close();
    delegation_with_result();
    recursive_walk();
    task_chain();
    return 0;
}
