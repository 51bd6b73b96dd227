#!/usr/bin/env python3
"""A Python ssl peer for corio's TLS interop tests (tests/net/test_tls_interop.cpp).

    tls_peer.py server CERT KEY
        an asyncio server with ssl=: prints its port (127.0.0.1, a free one) as the first
        line of stdout, then the TLS version of the connection it serves, upper-cases every
        line of that one connection until end of stream, closes, and exits 0
    tls_peer.py truncate CERT KEY
        a blocking ssl server: prints its port, then serves two connections one after the
        other, on each sending "partial" and a newline and closing the socket without
        close_notify (SSLSocket.close() sends none); exits 0
    tls_peer.py client PORT CAFILE SERVER_HOSTNAME
        an asyncio client with ssl=create_default_context(cafile=CAFILE): sends 200 lines
        (the last one 60 KiB), checks each comes back upper-cased, prints the peer's
        certificate subject CN, closes, exits 0

Exits 1 on a mismatch, 2 on any other failure (or after 30 s).
"""

import asyncio
import socket
import ssl
import sys

TIME_LIMIT = 30.0


async def serve(cert: str, key: str) -> int:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    done: asyncio.Future = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            print(writer.get_extra_info("ssl_object").version(), flush=True)
            while True:
                line = await reader.readline()
                if not line:
                    break
                writer.write(line.upper())
                await writer.drain()
            writer.close()
            await writer.wait_closed()
            if not done.done():
                done.set_result(0)
        except Exception as e:  # noqa: BLE001
            print(f"tls_peer.py server: {e!r}", file=sys.stderr)
            if not done.done():
                done.set_result(2)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        return await asyncio.wait_for(done, TIME_LIMIT)


async def client(port: int, cafile: str, hostname: str) -> int:
    ctx = ssl.create_default_context(cafile=cafile)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname=hostname
    )
    cert = writer.get_extra_info("peercert")
    subject = dict(x[0] for x in cert["subject"])
    print(subject.get("commonName", ""), flush=True)
    lines = [f"line {i} of the python client\n".encode() for i in range(199)]
    lines.append(b"x" * (60 * 1024) + b"\n")
    for line in lines:
        writer.write(line)
        await writer.drain()
        back = await reader.readline()
        if back != line.upper():
            print(f"tls_peer.py client: sent {line[:40]!r}, got {back[:40]!r}", file=sys.stderr)
            return 1
    writer.close()
    await writer.wait_closed()
    return 0


def truncate(cert: str, key: str) -> int:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIME_LIMIT)
        print(listener.getsockname()[1], flush=True)
        for _ in range(2):
            conn, _ = listener.accept()
            conn.settimeout(TIME_LIMIT)
            tls = ctx.wrap_socket(conn, server_side=True)
            tls.sendall(b"partial\n")
            tls.close()  # no close_notify: that takes unwrap()
    return 0


def main() -> int:
    try:
        if sys.argv[1] == "truncate":
            return truncate(sys.argv[2], sys.argv[3])
        if sys.argv[1] == "server":
            coro = serve(sys.argv[2], sys.argv[3])
        else:
            coro = client(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return asyncio.run(asyncio.wait_for(coro, TIME_LIMIT))
    except Exception as e:  # noqa: BLE001
        print(f"tls_peer.py: {e!r}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
