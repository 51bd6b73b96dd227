// Micro-benchmarks for corio::generator and corio::task (BENCH.md workload W4 and the
// await paths every other workload stands on).
//
// Every generator benchmark does the same work: produce 0..N-1 and sum it. Figures are
// reported per value (the `per_value` counter, in seconds, and items_per_second), so runs
// with different N compare directly. `limit_*` is the floor: a minimal hand-written C++20
// generator (the promise stores a pointer to the yielded value, plus an iterator; nothing
// else), compiled in the same file with the same flags. corio aims to stay within 1.2x of
// it, and to pay no more than 2x for delegating through 1,000 levels of `yield_from`.
//
// Run with repetitions, interleaved so that noise from other work on the machine falls on
// every benchmark alike, and read the medians (compare ratios within one run), e.g.
//   bench_generator --benchmark_repetitions=7 --benchmark_enable_random_interleaving=true
//                   --benchmark_min_time=0.2 --benchmark_display_aggregates_only=true

#include <corio/generator.hpp>
#include <corio/sync_wait.hpp>
#include <corio/task.hpp>

#include <benchmark/benchmark.h>

#include <coroutine>
#include <cstdint>
#include <exception>
#include <iterator>
#include <utility>

namespace {

/// The smallest generator C++20 allows: what the hardware and the compiler can do.
namespace limit {

template <class T>
class generator {
public:
    struct promise_type {
        const T* value = nullptr;

        generator get_return_object() noexcept {
            return generator(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        std::suspend_always final_suspend() const noexcept { return {}; }
        std::suspend_always yield_value(const T& v) noexcept {
            value = &v;
            return {};
        }
        void return_void() const noexcept {}
        [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
    };

    class iterator {
    public:
        using value_type = T;
        using difference_type = std::ptrdiff_t;

        explicit iterator(std::coroutine_handle<promise_type> h) noexcept : m_handle(h) {}
        const T& operator*() const noexcept { return *m_handle.promise().value; }
        iterator& operator++() {
            m_handle.resume();
            return *this;
        }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
            return it.m_handle.done();
        }

    private:
        std::coroutine_handle<promise_type> m_handle;
    };

    generator(generator&& other) noexcept : m_handle(std::exchange(other.m_handle, nullptr)) {}
    generator& operator=(generator&&) = delete;
    ~generator() {
        if (m_handle) {
            m_handle.destroy();
        }
    }

    iterator begin() {
        m_handle.resume();
        return iterator(m_handle);
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    explicit generator(std::coroutine_handle<promise_type> h) noexcept : m_handle(h) {}
    std::coroutine_handle<promise_type> m_handle;
};

} // namespace limit

constexpr std::int64_t values_per_run = 10'000'000; // W4: sum of 0..10,000,000

/// Report the time per item as the counter `name`, in seconds (printed as e.g. `1.2n`
/// for 1.2 ns), and the item rate as items_per_second.
void report_per_item(benchmark::State& state, std::int64_t items_per_iteration,
                     const char* name = "per_value") {
    state.SetItemsProcessed(state.iterations() * items_per_iteration);
    state.counters[name] = benchmark::Counter(static_cast<double>(items_per_iteration),
                                              benchmark::Counter::kIsIterationInvariantRate |
                                                  benchmark::Counter::kInvert);
}

limit::generator<long> limit_count(long n) {
    for (long i = 0; i < n; ++i) {
        co_yield i;
    }
}

corio::generator<long> corio_count(long n) {
    for (long i = 0; i < n; ++i) {
        co_yield i;
    }
}

// ---- (c) the limit ------------------------------------------------------------------------

void limit_range_for(benchmark::State& state) {
    const long n = state.range(0);
    for (auto _ : state) {
        long sum = 0;
        for (long v : limit_count(n)) {
            sum += v;
        }
        benchmark::DoNotOptimize(sum);
    }
    report_per_item(state, n);
}
BENCHMARK(limit_range_for)->Arg(values_per_run)->Unit(benchmark::kMillisecond);

// clang sees through limit_count() above: it allocates the frame on the stack (HALO),
// inlines the body and folds the loop, so `limit_range_for` measures no generator at all
// under clang. Calling the factory through an opaque pointer keeps the frame on the heap
// and every resume an indirect call, as for any generator that is returned or passed
// around: the floor for one suspend/resume round trip. corio is measured both ways too.
limit::generator<long> (*volatile opaque_limit_count)(long) = limit_count;
corio::generator<long> (*volatile opaque_corio_count)(long) = corio_count;

void limit_range_for_opaque(benchmark::State& state) {
    const long n = state.range(0);
    for (auto _ : state) {
        long sum = 0;
        for (long v : opaque_limit_count(n)) {
            sum += v;
        }
        benchmark::DoNotOptimize(sum);
    }
    report_per_item(state, n);
}
BENCHMARK(limit_range_for_opaque)->Arg(values_per_run)->Unit(benchmark::kMillisecond);

// ---- (a) corio, range-for -----------------------------------------------------------------

void generator_range_for(benchmark::State& state) {
    const long n = state.range(0);
    for (auto _ : state) {
        long sum = 0;
        for (long v : corio_count(n)) {
            sum += v;
        }
        benchmark::DoNotOptimize(sum);
    }
    report_per_item(state, n);
}
BENCHMARK(generator_range_for)->Arg(values_per_run)->Unit(benchmark::kMillisecond);

void generator_range_for_opaque(benchmark::State& state) {
    const long n = state.range(0);
    for (auto _ : state) {
        long sum = 0;
        for (long v : opaque_corio_count(n)) {
            sum += v;
        }
        benchmark::DoNotOptimize(sum);
    }
    report_per_item(state, n);
}
BENCHMARK(generator_range_for_opaque)->Arg(values_per_run)->Unit(benchmark::kMillisecond);

// ---- (b) corio, next() --------------------------------------------------------------------

void generator_next(benchmark::State& state) {
    const long n = state.range(0);
    for (auto _ : state) {
        long sum = 0;
        auto g = corio_count(n);
        while (auto v = g.next()) {
            sum += *v;
        }
        benchmark::DoNotOptimize(sum);
    }
    report_per_item(state, n);
}
BENCHMARK(generator_next)->Arg(values_per_run)->Unit(benchmark::kMillisecond);

// ---- (d) yield_from at depth 1 and 1,000 --------------------------------------------------

/// One level of the chain: delegates everything to `inner`.
corio::generator<long> delegate(corio::generator<long> inner) {
    co_yield corio::yield_from(std::move(inner));
}

/// `depth` generators, each delegating to the next; the innermost yields 0..n-1. Built
/// bottom-up so every frame exists before the first value is asked for.
corio::generator<long> delegation_chain(long depth, long n) {
    corio::generator<long> g = corio_count(n);
    for (long level = 0; level < depth; ++level) {
        g = delegate(std::move(g));
    }
    return g;
}

void generator_yield_from(benchmark::State& state) {
    const long depth = state.range(0);
    const long n = state.range(1);
    for (auto _ : state) {
        // Building the chain (depth allocations) is setup, not per-value work.
        state.PauseTiming();
        corio::generator<long> g = delegation_chain(depth, n);
        state.ResumeTiming();

        long sum = 0;
        for (long v : g) {
            sum += v;
        }
        benchmark::DoNotOptimize(sum);

        state.PauseTiming();
        g = {};
        state.ResumeTiming();
    }
    report_per_item(state, n);
    state.counters["depth"] = static_cast<double>(depth);
}
BENCHMARK(generator_yield_from)
    ->Args({1, values_per_run})
    ->Args({1'000, values_per_run})
    ->ArgNames({"depth", "values"})
    ->Unit(benchmark::kMillisecond);

// ---- (e) task: an await chain N deep, and N sequential awaits ------------------------------

corio::task<int> await_chain(int depth) {
    if (depth == 0) {
        co_return 0;
    }
    co_return 1 + co_await await_chain(depth - 1);
}

void task_await_chain(benchmark::State& state) {
    const int depth = static_cast<int>(state.range(0));
    for (auto _ : state) {
        int levels = corio::sync_wait(await_chain(depth));
        benchmark::DoNotOptimize(levels);
    }
    report_per_item(state, depth, "per_await");
}
BENCHMARK(task_await_chain)->Arg(1'000)->Arg(100'000)->ArgName("depth");

corio::task<int> trivial(int i) {
    co_return i;
}

corio::task<long> await_in_loop(int n) {
    long sum = 0;
    for (int i = 0; i < n; ++i) {
        sum += co_await trivial(i);
    }
    co_return sum;
}

void task_await_sequential(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    for (auto _ : state) {
        long sum = corio::sync_wait(await_in_loop(n));
        benchmark::DoNotOptimize(sum);
    }
    report_per_item(state, n, "per_await");
}
BENCHMARK(task_await_sequential)->Arg(1'000)->Arg(100'000)->ArgName("tasks");

} // namespace

BENCHMARK_MAIN();
