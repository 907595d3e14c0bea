"""`claimguard serve` as a managed subprocess (tests, benchmark, demo): the real command."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from claimguard.stream.broker import free_port
from claimguard.stream.process import claimguard_command


@dataclass
class ServeProcess:
    broker: str
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        listen = f"{self.host}:{self.port}"
        return [*claimguard_command(), "serve", "--broker", self.broker, "--listen", listen]

    def start(self, wait: float = 30.0) -> ServeProcess:
        """Start and return once it answers /healthz (any status: the broker may be away)."""
        out: IO[bytes] | int = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives with the process
            out = self._log
        self._proc = subprocess.Popen(
            self.command(),
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + wait
        while self.health() is None:
            if self._proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self._proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"serve did not answer on {self.url} within {wait:.0f} s")
            time.sleep(0.1)
        return self

    def health(self) -> int | None:
        """/healthz status code, or None when nothing answers."""
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self, timeout: float = 20.0) -> int | None:
        proc, self._proc = self._proc, None
        code: int | None = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            code = proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")
