"""Is the broker there? An ApiVersions request with a deadline, without blocking the loop.

A bare TCP connect is not enough: a paused (SIGSTOP) or overloaded broker still accepts
connections into its backlog but answers nothing."""

from __future__ import annotations

import asyncio
import contextlib
import struct

_CLIENT_ID = b"claimguard-serve"
_CORRELATION = 11


async def kafka_answers(host: str, port: int, timeout: float) -> bool:
    body = struct.pack(">hhih", 18, 0, _CORRELATION, len(_CLIENT_ID)) + _CLIENT_ID
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(struct.pack(">i", len(body)) + body)
            await writer.drain()
            (size,) = struct.unpack(">i", await reader.readexactly(4))
            reply = await reader.readexactly(size)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, struct.error):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.2)
    if len(reply) < 6:
        return False
    got, error = struct.unpack(">ih", reply[:6])
    return got == _CORRELATION and error == 0


async def any_answers(bootstrap: str, timeout: float) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.rpartition(":")
        if await kafka_answers(host or "127.0.0.1", int(port), timeout):
            return True
    return False
