"""W6 HTTP hello peer: aiohttp's web server on uvloop, as aiohttp's documentation writes
a server (web.Application, a route, web.run_app), with the access log off.

    /usr/bin/python3 w6_http.py --port=PORT
"""
import argparse

import uvloop
from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, World!")  # text/plain; charset=utf-8


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    uvloop.install()
    app = web.Application()
    app.router.add_get("/", hello)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
