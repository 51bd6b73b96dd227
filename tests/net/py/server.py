#!/usr/bin/env python3
"""An asyncio server for corio's interop tests (tests/net/test_interop.cpp).

    server.py line     upper-cases every line it receives
    server.py binary   sends every frame back (4-byte big-endian length, payload, CRC-32)

Listens on 127.0.0.1 with a free port, prints the port as the first line of stdout,
serves one connection to its end, then exits: 0 if everything it received was well-formed,
1 if a frame's checksum was wrong, 2 on any other failure (or after 30 s).
"""

import asyncio
import struct
import sys
import zlib

TIME_LIMIT = 30.0


async def serve_lines(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    while True:
        line = await reader.readline()
        if not line:
            return 0
        writer.write(line.upper())
        await writer.drain()


async def serve_frames(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    while True:
        header = await reader.read(4)
        if not header:
            return 0
        if len(header) < 4:
            header += await reader.readexactly(4 - len(header))
        (size,) = struct.unpack(">I", header)
        payload = await reader.readexactly(size)
        (crc,) = struct.unpack(">I", await reader.readexactly(4))
        if crc != zlib.crc32(payload):
            print(f"server.py: bad checksum on a {size}-byte frame", file=sys.stderr)
            return 1
        writer.write(header + payload + struct.pack(">I", zlib.crc32(payload)))
        await writer.drain()


async def main(mode: str) -> int:
    done: asyncio.Future = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status = await (serve_lines if mode == "line" else serve_frames)(reader, writer)
        except Exception as e:  # noqa: BLE001
            print(f"server.py: {type(e).__name__}: {e}", file=sys.stderr)
            status = 2
        writer.close()
        if not done.done():
            done.set_result(status)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        return await done


def run() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in ("line", "binary"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return asyncio.run(asyncio.wait_for(main(sys.argv[1]), TIME_LIMIT))
    except Exception as e:  # noqa: BLE001
        print(f"server.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
