"""The local Tansu broker as a managed subprocess, topic creation, and `claimguard broker`."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import pytest

from claimguard.stream.broker import BrokerError, LocalBroker, free_port, kafka_answers
from claimguard.stream.clients import publish, read_topic
from claimguard.stream.process import claimguard_command
from claimguard.stream.topics import TopicNames, ensure_topics_sync, partition_count

pytestmark = pytest.mark.integration


def test_nothing_answers_on_a_free_port() -> None:
    assert not kafka_answers("127.0.0.1", free_port(), timeout=0.3)


def test_start_create_topics_produce_consume_stop(tmp_path: Path) -> None:
    broker = LocalBroker(log_dir=tmp_path).start()
    try:
        assert broker.running and kafka_answers(broker.host, broker.port)
        assert broker.url == f"kafka://127.0.0.1:{broker.port}"
        assert ensure_topics_sync(broker.bootstrap, ["t.a", "t.b"], partitions=3) == ["t.a", "t.b"]
        assert ensure_topics_sync(broker.bootstrap, ["t.a", "t.c"], partitions=3) == ["t.c"]
        assert asyncio.run(partition_count(broker.bootstrap, "t.a")) == 3
        lines = [b'{"n": %d}' % i for i in range(20)]
        assert asyncio.run(publish(broker.bootstrap, "t.a", lines)) == 20
        records = asyncio.run(read_topic(broker.bootstrap, "t.a"))
        assert sorted(r.value for r in records) == sorted(lines)
    finally:
        broker.stop()
    assert not broker.running
    assert not kafka_answers(broker.host, broker.port, timeout=0.3)
    assert (tmp_path / "tansu.log").exists()


def test_paused_broker_keeps_its_data(tmp_path: Path) -> None:
    with LocalBroker() as broker:
        ensure_topics_sync(broker.bootstrap, ["kept"], partitions=1)
        asyncio.run(publish(broker.bootstrap, "kept", [b"one", b"two"]))
        broker.pause()
        try:
            assert not kafka_answers(broker.host, broker.port, timeout=0.5)
        finally:
            broker.resume()
        broker.wait_ready(5)
        assert [r.value for r in asyncio.run(read_topic(broker.bootstrap, "kept"))] == [
            b"one",
            b"two",
        ]


def test_a_taken_port_is_refused() -> None:
    with LocalBroker() as first, pytest.raises(BrokerError, match="already answers"):
        LocalBroker(port=first.port).start()


def test_claimguard_broker_command(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*claimguard_command(), "broker", "--port", str(port), "--data", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline().decode()
        assert f"broker ready at kafka://127.0.0.1:{port}" in banner, banner
        for topic in TopicNames().all():
            assert asyncio.run(partition_count(f"127.0.0.1:{port}", topic)) > 0
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(20)
    assert code == 0
    deadline = time.monotonic() + 5
    while kafka_answers("127.0.0.1", port, timeout=0.2) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not kafka_answers("127.0.0.1", port, timeout=0.2)
