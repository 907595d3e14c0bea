"""`claimguard worker` as a managed subprocess: the demo, the tests and the benchmark start
the real command, not an in-process imitation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# Group timeouts short enough that a restarted or added worker joins in seconds (FACTS:
# with the defaults a restarted worker waits ~30 s for its old member to time out).
FAST_GROUP_ENV = {
    "CLAIMGUARD_SESSION_TIMEOUT": "6",
    "CLAIMGUARD_HEARTBEAT_INTERVAL": "0.5",
    "CLAIMGUARD_REBALANCE_TIMEOUT": "10",
    "CLAIMGUARD_COMMIT_INTERVAL": "0.2",
}


def claimguard_command() -> list[str]:
    exe = Path(sys.executable).with_name("claimguard")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "claimguard.cli"]


@dataclass
class WorkerProcess:
    broker: str
    store: str
    knowledge: Path
    rules: Path | None = None
    group: str = "claimguard"
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    # /metrics, /healthz, /readyz; 0 = off (several workers share a test machine)
    metrics_port: int = 0
    extra_args: list[str] = field(default_factory=list)
    console: str | None = None  # HOST:PORT: the worker also hosts the analysts' console
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    def command(self) -> list[str]:
        cmd = [
            *claimguard_command(),
            "worker",
            "--broker",
            self.broker,
            "--store",
            self.store,
            "--knowledge",
            str(self.knowledge),
            "--group",
            self.group,
        ]
        if self.rules is not None:
            cmd += ["--rules", str(self.rules)]
        if self.console is not None:
            cmd += ["--console", self.console]
        return [*cmd, "--metrics-port", str(self.metrics_port), *self.extra_args]

    def start(self) -> WorkerProcess:
        env = {**os.environ, **self.env}
        out: IO[bytes] | int = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - lives with the process
            out = self._log
        self._proc = subprocess.Popen(
            self.command(),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no flush, no commit, no goodbye to the group."""
        self.stop(graceful=False)

    def stop(self, graceful: bool = True, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait (the worker flushes and commits), or SIGKILL at once."""
        proc, self._proc = self._proc, None
        code: int | None = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
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
