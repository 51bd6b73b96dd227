"""W5 TCP echo peer: uvloop with an asyncio Protocol (data_received -> transport.write),
uvloop's fastest idiom.

    /usr/bin/python3 uvloop_echo.py --port=PORT
"""
import argparse
import asyncio

import uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port)  # uvloop sets TCP_NODELAY
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    uvloop.install()
    asyncio.run(main(parser.parse_args().port))
