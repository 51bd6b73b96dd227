"""W1 spawn-join: create N tasks (1,000,000), each returns its index; await them all;
print the sum. asyncio.create_task per task, then await each in turn.

    /usr/bin/python3 w1_spawn_join.py [--loop=asyncio|uvloop] [--tasks=1000000]
"""
import asyncio
import time

import workload


async def work(i: int) -> int:
    return i


async def spawn_join(n: int) -> int:
    tasks = [asyncio.create_task(work(i)) for i in range(n)]
    total = 0
    for t in tasks:
        total += await t
    return total


def main() -> None:
    args = workload.parse(("tasks", 1_000_000))
    n = args.tasks
    rss_before = workload.peak_rss_bytes()
    start = time.perf_counter()
    total = workload.run(spawn_join(n), args.loop)
    elapsed = time.perf_counter() - start
    rss_after = workload.peak_rss_bytes()
    assert total == n * (n - 1) // 2, total
    workload.report(workload="W1", runtime=args.loop, tasks=n, sum=total,
                    seconds=round(elapsed, 4), ns_per_task=round(elapsed * 1e9 / n, 1),
                    peak_rss_bytes=rss_after,
                    bytes_per_task=round((rss_after - rss_before) / n, 1))


if __name__ == "__main__":
    main()
