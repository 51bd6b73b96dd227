#pragma once
// A lifetime-counting value (after cppcoro's `counted`): every construction, copy, move and
// destruction is tallied, so a test can prove each object is destroyed exactly once.

namespace corio_test {

struct counted {
    static inline int default_constructions = 0;
    static inline int value_constructions = 0;
    static inline int copy_constructions = 0;
    static inline int move_constructions = 0;
    static inline int destructions = 0;

    /// Zeroes every tally; call at the start of a test.
    static void reset() noexcept {
        default_constructions = value_constructions = copy_constructions = move_constructions =
            destructions = 0;
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
    counted(counted&& other) noexcept : value(other.value) {
        other.value = -1;
        ++move_constructions;
    }
    counted& operator=(const counted&) = default;
    counted& operator=(counted&&) = default;
    ~counted() { ++destructions; }
};

} // namespace corio_test
