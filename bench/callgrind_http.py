#!/usr/bin/python3
"""Instructions per HTTP request of a corio HTTP server, counted by callgrind.

    bench/callgrind_http.py [--server build/release/examples/http_hello] [--requests 2000]
                            [--body 0] [--backend epoll|io_uring]

Runs the server under `valgrind --tool=callgrind` twice: once answering `--requests`
keep-alive requests sent one after another on one connection (GET, or POST with a body of
`--body` bytes), once answering none. The difference of the two totals divided by the
request count is the server's user-space instructions per request, start-up and shutdown
excluded. Instruction counts do not depend on the machine's load, unlike times.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile


def read_response(sock, buf):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("server closed the connection")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    length = int(m.group(1)) if m else 0
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("server closed the connection")
        rest += chunk
    return rest[length:]


def run(args, requests):
    out = tempfile.mktemp(prefix="corio-cg-", suffix=".out")
    env = dict(os.environ, CORIO_BACKEND=args.backend)
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, args.server,
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, bufsize=0)
    port = None
    for line in proc.stdout:
        m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        raise SystemExit("the server did not say where it listens")
    body = b"x" * args.body
    if args.body:
        req = (b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
               % len(body)) + body
    else:
        req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: callgrind_http\r\n\r\n"
    if requests:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            buf = b""
            for _ in range(requests):
                sock.sendall(req)
                buf = read_response(sock, buf)
    # The server prints its address before its SIGINT handler is installed: a signal sent
    # in between is lost, so send it again until the server has stopped.
    while True:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            pass
    with open(out) as f:
        text = f.read()
    os.unlink(out)
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    return int(m.group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p.add_argument("--server", default=os.path.join(root, "build/release/examples/http_hello"))
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--body", type=int, default=0)
    p.add_argument("--backend", default="epoll")
    args = p.parse_args()
    base = run(args, 0)
    total = run(args, args.requests)
    print(f"{args.backend} body={args.body}: {(total - base) / args.requests:.1f} "
          f"instructions per request ({args.requests} requests; {total - base} Ir)")


if __name__ == "__main__":
    sys.exit(main())
