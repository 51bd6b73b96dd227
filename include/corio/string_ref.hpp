#pragma once
/// \file
/// `corio::string_ref`: a non-owning string for option structs that must stay trivially
/// destructible.

#include <string>
#include <string_view>

namespace corio {

/// A string an option struct refers to without owning it, so that the struct stays
/// trivially destructible and may be written inside a `co_await` under g++ 12 (which
/// destroys an aggregate temporary there twice): `process_options::cwd`,
/// `http::server_options::server_name`, `http::client_options::user_agent`. Made from a
/// string literal, a `const char*`, a `std::string_view` or a named `std::string` (or
/// `path.c_str()` of a named `std::filesystem::path`), which must live until the call that
/// takes the options (`create_subprocess_exec`, `http::serve`, `http::client`'s
/// constructor): it copies the text. Not from a temporary `std::string`, which would be
/// gone by then in named options (a compile error: name the string first).
class string_ref {
public:
    constexpr string_ref() noexcept = default;
    // Implicit, for `.cwd = dir` in a designated initializer.
    string_ref(const char* text) noexcept // NOLINT(google-explicit-constructor)
        : m_view(text != nullptr ? std::string_view(text) : std::string_view()) {}
    constexpr string_ref(std::string_view text) noexcept // NOLINT(google-explicit-constructor)
        : m_view(text) {}
    string_ref(const std::string& text) noexcept // NOLINT(google-explicit-constructor)
        : m_view(text) {}
    /// A temporary string would dangle: name it first.
    string_ref(std::string&&) = delete;

    [[nodiscard]] constexpr std::string_view view() const noexcept { return m_view; }
    [[nodiscard]] constexpr bool empty() const noexcept { return m_view.empty(); }

private:
    std::string_view m_view;
};

} // namespace corio
