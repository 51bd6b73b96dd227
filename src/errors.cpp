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

const char* generator_exit::what() const noexcept {
    return "generator_exit";
}
const char* cancelled_error::what() const noexcept {
    return "cancelled";
}

} // namespace corio
