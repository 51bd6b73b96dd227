"""W2 timers: N tasks (1,000,000) each sleep (i*7919) % 1000 ms; wait for all. Reports the
wall time (ideal 1.0 s) and peak RSS per sleeping task. asyncio.sleep in a task each,
gathered.

    /usr/bin/python3 w2_timers.py [--loop=asyncio|uvloop] [--tasks=1000000]
"""
import asyncio
import time

import workload


async def sleeper(i: int) -> None:
    await asyncio.sleep(((i * 7919) % 1000) / 1000)


async def sleep_all(n: int) -> int:
    await asyncio.gather(*(sleeper(i) for i in range(n)))
    return n


def main() -> None:
    args = workload.parse(("tasks", 1_000_000))
    n = args.tasks
    rss_before = workload.peak_rss_bytes()
    start = time.perf_counter()
    done = workload.run(sleep_all(n), args.loop)
    elapsed = time.perf_counter() - start
    rss_after = workload.peak_rss_bytes()
    workload.report(workload="W2", runtime=args.loop, tasks=done, seconds=round(elapsed, 4),
                    peak_rss_bytes=rss_after,
                    bytes_per_task=round((rss_after - rss_before) / n, 1))


if __name__ == "__main__":
    main()
