"""Shared pieces of the serve tests (no tests here): interleave HTTP checks with events
published straight to Kafka, in one order, against a real broker, worker and serve."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer

from claimguard.stream.clients import key_for, keys_by_settlement


@dataclass
class Step:
    """One event in the order: `path` None → published to Kafka, else POSTed there."""

    body: bytes
    path: str | None = None


@dataclass
class Answer:
    index: int
    status: int
    body: dict[str, Any]
    seconds: float


async def feed(
    bootstrap: str, topic: str, base_url: str, steps: list[Step], timeout_ms: int = 15_000
) -> list[Answer]:
    """Run `steps` in order: a check is sent only once every earlier event is acknowledged
    by the broker, and the next event only once the check is answered, so each check takes
    its place in the stream exactly."""
    by_settlement = keys_by_settlement([s.body for s in steps if s.path is None])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks="all")
    await producer.start()
    answers: list[Answer] = []
    pending: list[asyncio.Future[Any]] = []
    loop = asyncio.get_running_loop()
    try:
        async with aiohttp.ClientSession() as session:
            for index, step in enumerate(steps):
                if step.path is None:
                    key = key_for(step.body, by_settlement)
                    pending.append(await producer.send(topic, step.body, key=key))
                    continue
                await asyncio.gather(*pending)
                pending = []
                started = loop.time()
                url = f"{base_url}{step.path}?timeout_ms={timeout_ms}"
                async with session.post(url, data=step.body) as response:
                    body = orjson.loads(await response.read())
                    answers.append(Answer(index, response.status, body, loop.time() - started))
            await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return answers


async def post(
    base_url: str, path: str, body: bytes, timeout_ms: int | None = None
) -> tuple[int, dict[str, Any], float]:
    """One POST; (status, JSON body, seconds)."""
    url = base_url + path + (f"?timeout_ms={timeout_ms}" if timeout_ms is not None else "")
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        started = loop.time()
        async with session.post(url, data=body) as response:
            raw = await response.read()
            return response.status, orjson.loads(raw), loop.time() - started


def post_sync(
    base_url: str, path: str, body: bytes, timeout_ms: int | None = None
) -> tuple[int, dict[str, Any], float]:
    return asyncio.run(post(base_url, path, body, timeout_ms))
