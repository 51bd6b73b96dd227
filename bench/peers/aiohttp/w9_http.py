"""W9 every core peer: W6's aiohttp server on uvloop with --work-us µs of CPU work per
request (spin until the thread has used that much CPU time, time.thread_time_ns, then
answer), in --workers processes.

With one worker it is W6's program. With more, the way aiohttp's web.run_app is run on
several cores without a process manager: the parent opens one listening socket per worker,
each with SO_REUSEPORT on the same port (the kernel spreads the connections), forks a
process per socket, each running its own web.run_app on its socket, and then only waits;
SIGTERM or SIGINT to the parent is passed on to the workers, and it exits when they have.

    /usr/bin/python3 w9_http.py --port=PORT --workers=N --work-us=50
"""
import argparse
import os
import signal
import socket
import sys
import time
import traceback

import uvloop
from aiohttp import web

WORK_NS = 0


def burn_cpu(ns: int) -> None:
    """Spin until this thread has used `ns` nanoseconds of CPU time."""
    until = time.thread_time_ns() + ns
    while time.thread_time_ns() < until:
        pass


async def hello(request: web.Request) -> web.Response:
    if WORK_NS > 0:
        burn_cpu(WORK_NS)
    return web.Response(text="Hello, World!")  # text/plain; charset=utf-8


def serve(**where) -> None:
    uvloop.install()
    app = web.Application()
    app.router.add_get("/", hello)
    web.run_app(app, access_log=None, print=None, **where)


def main() -> int:
    global WORK_NS
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--work-us", type=int, default=0)
    args = parser.parse_args()
    WORK_NS = args.work_us * 1000
    if args.workers <= 1:
        serve(host="127.0.0.1", port=args.port)
        return 0
    # every socket listens before any worker starts: no connection can go to one alone
    socks = []
    for _ in range(args.workers):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", args.port))
        s.listen(128)
        socks.append(s)
    children = []

    def pass_on(signo, _frame):
        for pid in children:
            try:
                os.kill(pid, signo)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    for mine in socks:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # web.run_app sets its own
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for s in socks:
                if s is not mine:
                    s.close()
            try:
                serve(sock=mine)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)  # not through the parent's code: only the parent waits
        children.append(pid)
    for s in socks:
        s.close()
    status = 0
    for _ in children:
        _, wstatus = os.wait()
        if os.waitstatus_to_exitcode(wstatus) != 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
