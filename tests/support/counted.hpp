#pragma once
// A lifetime-counting value (after cppcoro's `counted`): every construction, copy, move and
// destruction is tallied, and a destructor run twice on one object is caught, so a test can
// prove each object is destroyed exactly once.

#include <utility>

namespace corio_test {

struct counted {
    /// The value a moved-from object is left with.
    static constexpr int moved_from = -1;

    static inline int default_constructions = 0;
    static inline int value_constructions = 0;
    static inline int copy_constructions = 0;
    static inline int move_constructions = 0;
    static inline int destructions = 0;
    /// Destructor runs on an object already destroyed.
    static inline int double_destructions = 0;

    /// Zeroes every tally; call at the start of a test.
    static void reset() noexcept {
        default_constructions = value_constructions = copy_constructions = move_constructions =
            destructions = double_destructions = 0;
    }
    static int constructions() noexcept {
        return default_constructions + value_constructions + copy_constructions +
               move_constructions;
    }
    /// Objects constructed and not yet destroyed.
    static int alive() noexcept { return constructions() - destructions; }

    int value = 0;

    counted() noexcept { ++default_constructions; }
    explicit counted(int v) noexcept : value(v) { ++value_constructions; }
    counted(const counted& other) noexcept : value(other.value) { ++copy_constructions; }
    counted(counted&& other) noexcept : value(std::exchange(other.value, moved_from)) {
        ++move_constructions;
    }
    counted& operator=(const counted&) = default;
    counted& operator=(counted&& other) noexcept {
        value = std::exchange(other.value, moved_from);
        return *this;
    }
    ~counted() {
        if (m_mark != live_mark) {
            ++double_destructions;
        }
        m_mark = 0;
        ++destructions;
    }

private:
    static constexpr unsigned live_mark = 0xC0FFEEu;
    unsigned m_mark = live_mark;
};

} // namespace corio_test
