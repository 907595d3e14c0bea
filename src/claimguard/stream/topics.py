"""Topic names (contract §7 defaults, each overridable) and their creation through the admin API."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from claimguard.ops.connections import kafka_client_args

DEFAULT_PARTITIONS = 4


@dataclass(frozen=True)
class TopicNames:
    """The three topics of contract §7, plus serve's two (replies to repeated checks,
    3103 dispositions for the worker); `CLAIMGUARD_TOPIC_{EVENTS,DECISIONS,DEADLETTER,
    REPLIES,DISPOSITIONS}` override the names."""

    events: str = "claims.events"
    decisions: str = "claims.decisions"
    deadletter: str = "claims.deadletter"
    replies: str = "claims.replies"
    dispositions: str = "claims.dispositions"

    @classmethod
    def from_env(cls) -> TopicNames:
        env = os.environ.get
        defaults = cls()
        return cls(
            events=env("CLAIMGUARD_TOPIC_EVENTS", defaults.events),
            decisions=env("CLAIMGUARD_TOPIC_DECISIONS", defaults.decisions),
            deadletter=env("CLAIMGUARD_TOPIC_DEADLETTER", defaults.deadletter),
            replies=env("CLAIMGUARD_TOPIC_REPLIES", defaults.replies),
            dispositions=env("CLAIMGUARD_TOPIC_DISPOSITIONS", defaults.dispositions),
        )

    def all(self) -> list[str]:
        return [self.events, self.decisions, self.deadletter, self.replies, self.dispositions]


def default_partitions() -> int:
    return int(os.environ.get("CLAIMGUARD_PARTITIONS", DEFAULT_PARTITIONS))


async def ensure_topics(
    bootstrap: str, topics: list[str], partitions: int | None = None, timeout: float = 30.0
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created.

    Existing topics are left as they are (their partition count is not changed).
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    partitions = partitions or default_partitions()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(timeout * 1000),
        **kafka_client_args(),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
            )
            # Error 36 (TOPIC_ALREADY_EXISTS) means a concurrent creator won the race: fine.
            errors = [
                (name, code, message)
                for name, code, message, *_ in response.topic_errors
                if code not in (0, 36)
            ]
            if errors:
                raise RuntimeError(f"creating topics failed: {errors}")
        return missing
    finally:
        await admin.close()


async def partition_count(bootstrap: str, topic: str, timeout: float = 30.0) -> int:
    """How many partitions `topic` has (0 when it does not exist; note that brokers with
    automatic topic creation, Tansu included, create it on this metadata request)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(timeout * 1000),
        **kafka_client_args(),
    )
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for entry in described:
        if entry.get("topic") == topic and not entry.get("error_code"):
            return len(entry.get("partitions") or [])
    return 0


def ensure_topics_sync(
    bootstrap: str, topics: list[str], partitions: int | None = None
) -> list[str]:
    """`ensure_topics` for callers without an event loop (CLI, tests, demo)."""
    return asyncio.run(ensure_topics(bootstrap, topics, partitions))
