#pragma once
/// \file
/// The exception types corio throws, named after their asyncio counterparts.

#include <cstddef>
#include <stdexcept>
#include <string>

namespace corio {

/// Misuse of a corio object in its current state: awaiting a task twice, sending a value
/// into a generator that has not started, asking for a result that does not exist yet.
/// (Python: `asyncio.InvalidStateError`, and the `TypeError`/`ValueError`/`RuntimeError`
/// that generators raise for the same mistakes.)
class invalid_state_error : public std::logic_error {
public:
    explicit invalid_state_error(const std::string& what);
    explicit invalid_state_error(const char* what);
    ~invalid_state_error() override;
};

/// An operation did not finish before its deadline (`wait_for`, `fail_after`).
/// (Python: `TimeoutError`.)
class timeout_error : public std::runtime_error {
public:
    timeout_error();
    explicit timeout_error(const std::string& what);
    ~timeout_error() override;
};

/// Raised inside a generator at its suspended `co_yield` by `generator::close()`.
///
/// Like Python's `GeneratorExit`, it does not derive from `std::exception`, so a
/// `catch (const std::exception&)` in the generator body does not swallow it by accident.
/// Catch it by name to run cleanup, then let it propagate or `co_return`.
class generator_exit {
public:
    /// "generator_exit".
    [[nodiscard]] const char* what() const noexcept;
};

/// Delivered at the suspension point of a task that was cancelled.
///
/// Like asyncio's `CancelledError` (a `BaseException` since Python 3.8), it does not
/// derive from `std::exception`, so generic error handling does not swallow a cancellation.
/// A task may catch it to clean up, and should then rethrow it.
class cancelled_error {
public:
    /// "cancelled".
    [[nodiscard]] const char* what() const noexcept;
};

/// `stream::read_exactly` reached end of stream first (asyncio.IncompleteReadError).
/// `partial()` holds the bytes that did arrive; nothing read is lost.
class incomplete_read_error : public std::runtime_error {
public:
    incomplete_read_error(std::string partial, std::size_t expected);
    ~incomplete_read_error() override;
    /// The bytes read before end of stream.
    [[nodiscard]] const std::string& partial() const noexcept { return m_partial; }
    /// How many bytes were asked for.
    [[nodiscard]] std::size_t expected() const noexcept { return m_expected; }

private:
    std::string m_partial;
    std::size_t m_expected;
};

/// `stream::read_until`/`read_line` found no separator within the stream's buffer limit
/// (asyncio.LimitOverrunError). The data stays in the stream's buffer: `consumed()` bytes
/// can be read with `read`/`read_exactly`.
class limit_overrun_error : public std::runtime_error {
public:
    limit_overrun_error(const std::string& what, std::size_t consumed);
    ~limit_overrun_error() override;
    /// How many bytes the buffer holds without the separator.
    [[nodiscard]] std::size_t consumed() const noexcept { return m_consumed; }

private:
    std::size_t m_consumed;
};

} // namespace corio

#include <exception>
#include <vector>

namespace corio {

/// Several exceptions raised together: the failures of a task group's children
/// (Python's `ExceptionGroup`). `what()` names how many and the first one.
class exception_group : public std::exception {
public:
    explicit exception_group(std::vector<std::exception_ptr> exceptions);
    ~exception_group() override;
    [[nodiscard]] const char* what() const noexcept override;
    /// The exceptions, in the order they happened.
    [[nodiscard]] const std::vector<std::exception_ptr>& exceptions() const noexcept {
        return m_exceptions;
    }

private:
    std::vector<std::exception_ptr> m_exceptions;
    std::string m_what;
};

} // namespace corio

namespace corio {

/// `get_nowait()` on an empty queue (asyncio.QueueEmpty).
class queue_empty : public std::runtime_error {
public:
    queue_empty();
    ~queue_empty() override;
};

/// `put_nowait()` on a full queue (asyncio.QueueFull).
class queue_full : public std::runtime_error {
public:
    queue_full();
    ~queue_full() override;
};

/// `put()` after `shutdown()`, or `get()` once a shut-down queue is empty
/// (asyncio.QueueShutDown, Python 3.13).
class queue_shut_down : public std::runtime_error {
public:
    queue_shut_down();
    ~queue_shut_down() override;
};

/// A send on a closed channel<T> (trio's ClosedResourceError).
class channel_closed_error : public std::runtime_error {
public:
    channel_closed_error();
    ~channel_closed_error() override;
};

/// A barrier was aborted or reset while a coroutine waited at it (asyncio.BrokenBarrierError).
class broken_barrier_error : public std::runtime_error {
public:
    broken_barrier_error();
    ~broken_barrier_error() override;
};

} // namespace corio
