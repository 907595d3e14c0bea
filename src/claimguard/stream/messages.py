"""What the worker publishes: decisions (contract §7) and dead letters, as Kafka records."""

from __future__ import annotations

from typing import NamedTuple

from claimguard.model import Decision

ERROR_HEADER = "error"
SOURCE_HEADER = "source"  # topic/partition/offset of the unreadable message
MAX_HEADER_REASON = 1_000
# Set by `claimguard serve` on the checks it publishes: a repeated event_id is answered on
# the replies topic with the decision already given (the decisions topic stays one per event).
REPLY_HEADER = "claimguard-reply"


class Record(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] | None = None
    partition: int | None = None  # None: by key (murmur2, as Kafka's default partitioner)


def decision_record(topic: str, decision: Decision) -> Record:
    """Key = settlement_id; value = the Decision as JSON (verdict, findings, decided_at)."""
    return Record(topic, decision.settlement_id.encode(), decision.model_dump_json().encode())


def dead_letter_record(
    topic: str, key: bytes | None, raw: bytes, reason: str, source: str
) -> Record:
    """The raw bytes as received, the reason in the `error` header."""
    headers = [
        (ERROR_HEADER, reason[:MAX_HEADER_REASON].encode("utf-8", errors="replace")),
        (SOURCE_HEADER, source.encode()),
    ]
    return Record(topic, key, raw, headers)
