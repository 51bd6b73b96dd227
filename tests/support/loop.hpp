#pragma once
// Helpers shared by the loop-layer tests.

#include <corio/corio.hpp>

#include <chrono>
#include <exception>
#include <utility>

namespace corio_test {

/// Options for a loop on the virtual clock (time jumps to the next timer when idle).
inline corio::run_options virtual_time() {
    corio::run_options options;
    options.virtual_clock = true;
    return options;
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

/// Runs `main` on a loop and closes it without run()'s cancel-and-wait, so the frames of
/// the tasks still waiting are destroyed where they are parked.
inline void run_then_close(corio::task<> main) {
    corio::event_loop loop(virtual_time());
    loop.run_until_complete(std::move(main));
    loop.close();
}

} // namespace corio_test
