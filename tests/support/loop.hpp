#pragma once
// Helpers shared by the tests that run an event loop (loop, net and http tests): the
// virtual clock, running a test body, loop time, and looking into exceptions.

#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace corio_test {

/// Options for a loop on the virtual clock (time jumps to the next timer when idle).
inline corio::run_options virtual_time() {
    corio::run_options options;
    options.virtual_clock = true;
    return options;
}

/// Runs `body()` on a fresh loop on the virtual clock.
template <class F>
void run_test(F body) {
    corio::run(body(), virtual_time());
}

/// The running loop's time.
inline corio::clock::time_point now() {
    return corio::get_running_loop().time();
}

/// Loop time since `start`, in milliseconds.
inline std::chrono::milliseconds since(corio::clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now() - start);
}

/// True if `e` holds an exception of type E.
template <class E>
bool holds(const std::exception_ptr& e) {
    if (!e) {
        return false;
    }
    try {
        std::rethrow_exception(e);
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
}

/// The what() of `e` (a std::exception), or "" if it is not one.
inline std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return {};
    }
}

/// The what() of the invalid_state_error `f()` throws, or "(no invalid_state_error)".
template <class F>
std::string invalid_state_message(F&& f) {
    try {
        f();
    } catch (const corio::invalid_state_error& e) {
        return e.what();
    }
    return "(no invalid_state_error)";
}

/// True if `haystack` contains `needle` (for messages).
inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

/// What awaiting `a` threw (nullptr if it returned).
template <class A>
corio::task<std::exception_ptr> error_of(A a) {
    std::exception_ptr error;
    try {
        co_await std::move(a);
    } catch (...) {
        error = std::current_exception();
    }
    co_return error;
}

/// Lets the loop run `n` iterations (each a zero sleep).
inline corio::task<> yield_times(int n) {
    for (int i = 0; i < n; ++i) {
        co_await corio::sleep(std::chrono::seconds(0));
    }
}

/// Lets the loop run until `flag` is set (at most 100 iterations; a test failure if it is
/// not set by then).
inline corio::task<> until(const bool& flag) {
    for (int i = 0; i < 100 && !flag; ++i) {
        co_await corio::sleep(std::chrono::seconds(0));
    }
    EXPECT_TRUE(flag);
}

// --- task bodies for the combinator tests (gather, wait, as_completed) ---------------------

/// What throw_after throws.
struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Sleeps `delay`, appends `v` to `*finished` (if given), returns `v`.
inline corio::task<int> value_after(std::chrono::milliseconds delay, int v,
                                    std::vector<int>* finished = nullptr) {
    co_await corio::sleep(delay);
    if (finished != nullptr) {
        finished->push_back(v);
    }
    co_return v;
}

/// Sleeps `delay`.
inline corio::task<> nothing_after(std::chrono::milliseconds delay) {
    co_await corio::sleep(delay);
}

/// Sleeps `delay`, then throws test_error(what).
inline corio::task<int> throw_after(std::chrono::milliseconds delay, std::string what) {
    co_await corio::sleep(delay);
    throw test_error(what);
}

/// Runs `main` on a loop and closes it without run()'s cancel-and-wait, so the frames of
/// the tasks still waiting are destroyed where they are parked.
inline void run_then_close(corio::task<> main) {
    corio::event_loop loop(virtual_time());
    loop.run_until_complete(std::move(main));
    loop.close();
}

} // namespace corio_test
