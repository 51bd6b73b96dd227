"""W4 generator: sum a generator yielding 0..N-1 (10,000,000), then the same values
through DEPTH (1,000) levels of `yield from`. Reports ns per value. Python generators
belong to the language, not to the event loop: this program is the same for asyncio and
uvloop.

CPython resumes every level of a `yield from` chain for each value, so the delegated sum
costs about DEPTH times the plain one; the suite gives it fewer values (--deep-values).

    /usr/bin/python3 w4_generator.py [--values=10000000] [--deep-values=N] [--depth=1000]
"""
import sys
import time

import workload


def count(n: int):
    for i in range(n):
        yield i


def delegate(inner):
    yield from inner


def timed_sum(gen) -> tuple[int, float]:
    start = time.perf_counter()
    total = 0
    for v in gen:
        total += v
    return total, time.perf_counter() - start


def main() -> None:
    args = workload.parse(("values", 10_000_000), ("deep-values", 10_000_000),
                          ("depth", 1_000))
    n, deep_n, depth = args.values, args.deep_values, args.depth
    # each level of a running chain is one C-level recursion in the interpreter
    sys.setrecursionlimit(max(sys.getrecursionlimit(), depth * 4 + 1_000))
    plain_sum, plain_s = timed_sum(count(n))
    gen = count(deep_n)
    for _ in range(depth):
        gen = delegate(gen)
    deep_sum, deep_s = timed_sum(gen)
    assert plain_sum == n * (n - 1) // 2 and deep_sum == deep_n * (deep_n - 1) // 2
    workload.report(workload="W4", runtime="python", values=n, seconds=round(plain_s, 4),
                    ns_per_value=round(plain_s * 1e9 / n, 2), depth=depth,
                    deep_values=deep_n, deep_seconds=round(deep_s, 4),
                    deep_ns_per_value=round(deep_s * 1e9 / deep_n, 2),
                    peak_rss_bytes=workload.peak_rss_bytes())


if __name__ == "__main__":
    main()
