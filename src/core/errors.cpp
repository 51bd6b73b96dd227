#include "corio/errors.hpp"

namespace corio {

invalid_state_error::invalid_state_error(const std::string& what)
    : std::logic_error("invalid_state_error: " + what) {}
invalid_state_error::invalid_state_error(const char* what)
    : invalid_state_error(std::string(what)) {}
invalid_state_error::~invalid_state_error() = default;

timeout_error::timeout_error() : std::runtime_error("timeout_error: deadline exceeded") {}
timeout_error::timeout_error(const std::string& what)
    : std::runtime_error("timeout_error: " + what) {}
timeout_error::~timeout_error() = default;

incomplete_read_error::incomplete_read_error(std::string partial, std::size_t expected)
    : std::runtime_error("incomplete_read_error: " + std::to_string(partial.size()) +
                         " bytes read on " + std::to_string(expected) + " expected bytes"),
      m_partial(std::move(partial)), m_expected(expected) {}
incomplete_read_error::~incomplete_read_error() = default;

limit_overrun_error::limit_overrun_error(const std::string& what, std::size_t consumed)
    : std::runtime_error("limit_overrun_error: " + what), m_consumed(consumed) {}
limit_overrun_error::~limit_overrun_error() = default;

const char* generator_exit::what() const noexcept {
    return "generator_exit";
}
const char* cancelled_error::what() const noexcept {
    return "cancelled";
}

} // namespace corio

namespace corio {

namespace {
std::string describe(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (const cancelled_error& x) {
        return x.what();
    } catch (const generator_exit& x) {
        return x.what();
    } catch (...) {
        return "unknown exception";
    }
}
} // namespace

exception_group::exception_group(std::vector<std::exception_ptr> exceptions)
    : m_exceptions(std::move(exceptions)) {
    m_what = "exception_group: " + std::to_string(m_exceptions.size()) +
             (m_exceptions.size() == 1 ? " exception" : " exceptions");
    if (!m_exceptions.empty()) {
        m_what += " (first: " + describe(m_exceptions.front()) + ")";
    }
}
exception_group::~exception_group() = default;
const char* exception_group::what() const noexcept {
    return m_what.c_str();
}

} // namespace corio

namespace corio {

queue_empty::queue_empty() : std::runtime_error("queue_empty: the queue is empty") {}
queue_empty::~queue_empty() = default;
queue_full::queue_full() : std::runtime_error("queue_full: the queue is full") {}
queue_full::~queue_full() = default;
queue_shut_down::queue_shut_down()
    : std::runtime_error("queue_shut_down: the queue has been shut down") {}
queue_shut_down::~queue_shut_down() = default;
channel_closed_error::channel_closed_error()
    : std::runtime_error("channel_closed_error: the channel is closed") {}
channel_closed_error::~channel_closed_error() = default;
broken_barrier_error::broken_barrier_error()
    : std::runtime_error("broken_barrier_error: the barrier was aborted or reset") {}
broken_barrier_error::~broken_barrier_error() = default;

} // namespace corio
