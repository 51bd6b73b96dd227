#!/usr/bin/env python3
"""An asyncio client for corio's interop tests (tests/net/test_interop.cpp).

    client.py line HOST PORT     lines out, upper-cased lines back
    client.py binary HOST PORT   frames out, the same frames back

A frame is a 4-byte big-endian length, the payload, and the payload's CRC-32 (zlib.crc32,
4 bytes big-endian). Exit status: 0 if every answer was right, 1 on a wrong answer, 2 on
any other failure (connection error, timeout after 30 s).
"""

import asyncio
import random
import struct
import sys
import zlib

TIME_LIMIT = 30.0


class Mismatch(Exception):
    pass


def random_line(rng: random.Random) -> bytes:
    # Any byte but '\n', weighted towards letters so upper-casing has work to do.
    size = rng.choice([0, 1, 2, rng.randint(3, 100), rng.randint(100, 4000), 60000])
    letters = b"abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789"
    out = bytearray()
    for _ in range(size):
        if rng.random() < 0.9:
            out.append(letters[rng.randrange(len(letters))])
        else:
            b = rng.randrange(256)
            out.append(b if b != 0x0A else 0x0B)
    return bytes(out) + b"\n"


async def send_in_pieces(writer: asyncio.StreamWriter, data: bytes, rng: random.Random) -> None:
    """Write `data` in a few pieces, yielding between them, so the server sees it split."""
    cuts = sorted(rng.sample(range(1, len(data)), min(3, len(data) - 1))) if len(data) > 1 else []
    start = 0
    for cut in cuts + [len(data)]:
        writer.write(data[start:cut])
        await writer.drain()
        await asyncio.sleep(0)
        start = cut


async def line_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    rng = random.Random(20240501)
    # One at a time, some lines split over several writes.
    for i in range(300):
        line = random_line(rng)
        if i % 3 == 0:
            await send_in_pieces(writer, line, rng)
        else:
            writer.write(line)
            await writer.drain()
        reply = await reader.readline()
        if reply != line.upper():
            raise Mismatch(f"line {i}: sent {line[:40]!r}... ({len(line)} bytes), "
                           f"got {reply[:40]!r}... ({len(reply)} bytes)")
    # Pipelined: many lines at once, then all the answers.
    lines = [random_line(rng) for _ in range(500)]
    writer.write(b"".join(lines))
    await writer.drain()
    for i, line in enumerate(lines):
        reply = await reader.readline()
        if reply != line.upper():
            raise Mismatch(f"pipelined line {i}: got {reply[:40]!r}...")
    # Half-close: the server answers everything, sees end of stream and closes.
    writer.write(b"last line\n")
    writer.write_eof()
    if await reader.readline() != b"LAST LINE\n":
        raise Mismatch("no answer to the line before write_eof")
    rest = await reader.read()
    if rest != b"":
        raise Mismatch(f"data after the last answer: {rest[:40]!r}")


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload + struct.pack(">I", zlib.crc32(payload))


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">I", await reader.readexactly(4))
    payload = await reader.readexactly(size)
    (crc,) = struct.unpack(">I", await reader.readexactly(4))
    if crc != zlib.crc32(payload):
        raise Mismatch(f"bad checksum on a {size}-byte frame")
    return payload


async def binary_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    rng = random.Random(77)
    sizes = [0, 1, 4, 1 << 20] + [rng.randint(0, 1 << 20) for _ in range(20)]
    sizes += [rng.randint(0, 300) for _ in range(30)]
    # One at a time.
    for i, size in enumerate(sizes):
        payload = rng.randbytes(size)
        writer.write(frame(payload))
        await writer.drain()
        if await read_frame(reader) != payload:
            raise Mismatch(f"frame {i} ({size} bytes) came back changed")
    # Pipelined, while reading concurrently (the server's answers would fill the buffers).
    payloads = [rng.randbytes(rng.randint(0, 200_000)) for _ in range(20)]

    async def send_all() -> None:
        for p in payloads:
            writer.write(frame(p))
            await writer.drain()

    sender = asyncio.create_task(send_all())
    for i, p in enumerate(payloads):
        if await read_frame(reader) != p:
            raise Mismatch(f"pipelined frame {i} came back changed")
    await sender
    writer.write_eof()
    if await reader.read() != b"":
        raise Mismatch("data after the last frame")


async def main(mode: str, host: str, port: int) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await (line_session if mode == "line" else binary_session)(reader, writer)
    finally:
        writer.close()
        await writer.wait_closed()
    return 0


def run() -> int:
    if len(sys.argv) != 4 or sys.argv[1] not in ("line", "binary"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2], int(sys.argv[3])),
                                            TIME_LIMIT))
    except Mismatch as e:
        print(f"client.py: mismatch: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - any failure is reported the same way
        print(f"client.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
