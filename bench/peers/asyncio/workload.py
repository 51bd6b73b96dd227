"""What the Python workload programs share: the event loop choice (asyncio's own or
uvloop's), peak RSS, and the JSON line they print (the same fields as corio's
bench/workload.hpp programs)."""
import argparse
import asyncio
import json
import resource
import sys


def parse(*ints: tuple[str, int]) -> argparse.Namespace:
    """`--loop=asyncio|uvloop` plus one `--name=N` option per (name, default)."""
    p = argparse.ArgumentParser()
    p.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    for name, default in ints:
        p.add_argument(f"--{name}", type=int, default=default)
    return p.parse_args()


def run(main, loop: str):
    """asyncio.run(main) on the chosen loop; uvloop's users install its policy so."""
    if loop == "uvloop":
        import uvloop

        uvloop.install()
    return asyncio.run(main)


def peak_rss_bytes() -> int:
    """VmHWM of /proc/self/status: the peak RSS of this program (getrusage's ru_maxrss
    carries the parent's across fork and exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def report(**fields) -> None:
    print(json.dumps(fields, separators=(",", ":")))
    sys.stdout.flush()
