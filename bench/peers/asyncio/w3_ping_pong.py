"""W3 ping-pong: two tasks pass an int through two asyncio.Queue(maxsize=1), 1,000,000
round trips. Reports ns per round trip.

    /usr/bin/python3 w3_ping_pong.py [--loop=asyncio|uvloop] [--trips=1000000]
"""
import asyncio
import time

import workload


async def ping(out: asyncio.Queue, back: asyncio.Queue, trips: int) -> int:
    last = -1
    for i in range(trips):
        await out.put(i)
        last = await back.get()
    return last


async def pong(inq: asyncio.Queue, out: asyncio.Queue, trips: int) -> None:
    for _ in range(trips):
        v = await inq.get()
        await out.put(v + 1)


async def ping_pong(trips: int) -> int:
    there: asyncio.Queue = asyncio.Queue(maxsize=1)
    back: asyncio.Queue = asyncio.Queue(maxsize=1)
    a = asyncio.create_task(ping(there, back, trips))
    b = asyncio.create_task(pong(there, back, trips))
    last = await a
    await b
    return last


def main() -> None:
    args = workload.parse(("trips", 1_000_000))
    start = time.perf_counter()
    last = workload.run(ping_pong(args.trips), args.loop)
    elapsed = time.perf_counter() - start
    assert last == args.trips, last
    workload.report(workload="W3", runtime=args.loop, round_trips=args.trips,
                    seconds=round(elapsed, 4),
                    ns_per_round_trip=round(elapsed * 1e9 / args.trips, 1),
                    peak_rss_bytes=workload.peak_rss_bytes())


if __name__ == "__main__":
    main()
