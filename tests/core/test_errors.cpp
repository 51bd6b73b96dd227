#include "corio/errors.hpp"

#include <gtest/gtest.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace {

static_assert(std::is_base_of_v<std::logic_error, corio::invalid_state_error>);
static_assert(std::is_base_of_v<std::runtime_error, corio::timeout_error>);
static_assert(!std::is_base_of_v<std::exception, corio::generator_exit>,
              "generator_exit must not be caught by catch (const std::exception&)");
static_assert(!std::is_base_of_v<std::exception, corio::cancelled_error>,
              "cancelled_error must not be caught by catch (const std::exception&)");

// Throws `error` through a generic handler and reports whether that handler caught it.
template <typename Error>
bool caught_as_std_exception(Error error) {
    try {
        try {
            throw error;
        } catch (const std::exception&) {
            return true;
        }
    } catch (const Error&) {
        return false;
    }
}

TEST(invalid_state_error, what_names_the_error_then_the_message) {
    const corio::invalid_state_error error("task awaited twice");
    const std::string what = error.what();
    EXPECT_EQ(what.rfind("invalid_state_error: ", 0), 0U) << what;
    EXPECT_NE(what.find("task awaited twice"), std::string::npos) << what;
}

TEST(invalid_state_error, accepts_a_std_string) {
    const corio::invalid_state_error error(std::string("generator not started"));
    EXPECT_EQ(std::string(error.what()), "invalid_state_error: generator not started");
}

TEST(timeout_error, is_caught_as_runtime_error) {
    EXPECT_THROW(throw corio::timeout_error(), std::runtime_error);
    EXPECT_THROW(throw corio::timeout_error("read"), std::runtime_error);
}

TEST(generator_exit, passes_through_a_std_exception_handler) {
    EXPECT_FALSE(caught_as_std_exception(corio::generator_exit{}));
    EXPECT_STREQ(corio::generator_exit{}.what(), "generator_exit");
}

TEST(cancelled_error, passes_through_a_std_exception_handler) {
    EXPECT_FALSE(caught_as_std_exception(corio::cancelled_error{}));
    EXPECT_STREQ(corio::cancelled_error{}.what(), "cancelled");
}

} // namespace
