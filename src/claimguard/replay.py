"""`claimguard replay`: an ordered event file through the engine, findings out as JSON lines.

Patient histories live in memory (`MemoryHistories`); a reversal that carries no patient
finds its history through the settlement index. The worker runs the same engine with
Faust tables instead.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from claimguard.archive.events import event_row
from claimguard.decode import DecodeError, decode_with_digest
from claimguard.engine import Engine, MemoryHistories, Outcome, PatientHistory
from claimguard.knowledge import KnowledgeError
from claimguard.model import Finding
from claimguard.rules import PackError

EXIT_BAD_INPUT = 2
EXIT_STOPPED = 1  # the run stopped before the end of the events; partial output kept
log = logging.getLogger("claimguard.replay")
# A run keeps every finding and patient history alive, so the heap only grows; with the default
# thresholds (700, 10, 10) the older generations are rescanned over and over for nothing: ~14 %
# of replay time on 100k synthetic events. Young collections stay as frequent as before.
OLDER_GENERATION_THRESHOLDS = (100, 100)


@contextmanager
def fewer_old_collections() -> Iterator[None]:
    """Collect the older GC generations less often for the duration of a run."""
    old = gc.get_threshold()
    gc.set_threshold(
        old[0],
        max(old[1], OLDER_GENERATION_THRESHOLDS[0]),
        max(old[2], OLDER_GENERATION_THRESHOLDS[1]),
    )
    try:
        yield
    finally:
        gc.set_threshold(*old)


@dataclass(frozen=True)
class DeadLetter:
    line: int
    reason: str
    raw: bytes

    def to_json(self) -> bytes:
        text = self.raw.decode("utf-8", errors="replace").rstrip("\n")
        return orjson.dumps({"line": self.line, "error": self.reason, "raw": text}) + b"\n"


@dataclass
class ReplaySession:
    """In-memory state for an ordered run; findings kept by id, reversals applied to them."""

    engine: Engine
    histories: MemoryHistories = field(default_factory=MemoryHistories)
    owners: dict[str, str] = field(default_factory=dict)  # settlement_id → person_id
    findings: dict[str, Finding] = field(default_factory=dict)
    by_settlement: dict[str, list[str]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # rows for the event archive (replay --store): every valid event accepted, line = seq
    archive: list[list[Any]] | None = None

    def _dead(self, line: int, reason: str, raw: bytes) -> None:
        self.dead_letters.append(DeadLetter(line, reason, raw))
        self.counts["dead_letters"] += 1

    def feed(self, raw: bytes, line: int = 0) -> Outcome | None:
        self.counts["lines"] += 1
        self.counts["last_line"] = line
        try:
            event, digest = decode_with_digest(raw)
        except DecodeError as exc:
            self._dead(line, exc.reason, raw)
            return None
        person = self.engine.person_of(event) or self.owners.get(event.settlement_id)
        if person is not None:
            self.owners.setdefault(event.settlement_id, person)
            history = self.histories.get(person)
        else:
            history = PatientHistory()  # a reversal of a settlement never seen
        try:
            outcome = self.engine.process(event, history, digest)
        except Exception as exc:  # a valid event the engine failed on: not "unreadable"
            if not self.counts["engine_errors"]:
                log.exception("engine error on line %d (event %s)", line, event.event_id)
            self.counts["engine_errors"] += 1
            self._dead(line, f"engine error on a valid event (re-run after a fix): {exc!r}", raw)
            return None
        self.counts["events"] += 1
        if self.archive is not None and not outcome.refused:
            self.archive.append(event_row(event, raw, line, _archive_now()))
        if outcome.refused:
            self.counts["refused"] += 1
            self._dead(line, outcome.refused, raw)
            return outcome
        if outcome.duplicate:
            self.counts["duplicates"] += 1
        for finding in outcome.findings:
            if finding.finding_id not in self.findings:
                self.findings[finding.finding_id] = finding
                self.by_settlement.setdefault(finding.settlement_id, []).append(finding.finding_id)
        for sid in outcome.reversed_settlements:
            self.counts["reversals"] += 1
            for fid in self.by_settlement.get(sid, ()):
                if self.findings[fid].action == "flag":
                    self.findings[fid].reversed = True
        return outcome

    def run(self, lines: Iterable[bytes]) -> None:
        with fewer_old_collections():
            for number, raw in enumerate(lines, start=1):
                if raw.strip():
                    self.feed(raw, number)

    def summary(self) -> str:
        actions = Counter(f.action for f in self.findings.values())
        reversed_ = sum(1 for f in self.findings.values() if f.reversed)
        parts = [
            f"events {self.counts['events']}",
            f"dead letters {self.counts['dead_letters']}",
            f"duplicates {self.counts['duplicates']}",
            f"reversals {self.counts['reversals']}",
            f"findings {len(self.findings)}",
            *(f"{a} {actions[a]}" for a in ("alert", "hold", "flag")),
            f"reversed {reversed_}",
        ]
        shadow = sum(1 for f in self.findings.values() if f.shadow)
        if shadow:  # included above; they never decided anything
            parts.append(f"of which shadow {shadow}")
        if self.counts["refused"]:
            parts.append(f"refused {self.counts['refused']}")
        if self.counts["engine_errors"]:
            parts.append(f"engine errors {self.counts['engine_errors']}")
        errors = self.engine.rule_errors
        if errors:
            parts.append(
                "rule errors " + " ".join(f"{rule}={n}" for rule, n in sorted(errors.items()))
            )
        return ", ".join(parts)


def _archive_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def finding_lines(findings: Iterable[Finding]) -> Iterator[bytes]:
    for finding in findings:
        yield orjson.dumps(finding.model_dump(mode="json")) + b"\n"


def run_replay(
    knowledge: Path,
    events: Path,
    out: Path,
    rules: Path | None = None,
    dead_letter: Path | None = None,
    store: str | None = None,
) -> int:
    dead_path = dead_letter or out.with_name(out.name + ".deadletter.jsonl")
    clash = output_clash(events, out, dead_path)
    if clash:
        print(f"claimguard replay: refused: {clash}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        engine = Engine.load(knowledge, rules)
    except (KnowledgeError, PackError) as exc:
        print(f"claimguard replay: refused: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    session = ReplaySession(engine, archive=[] if store else None)
    stopped: BaseException | None = None
    try:
        with events.open("rb") as handle, _terminate_raises():
            session.run(handle)
    except OSError as exc:
        print(f"claimguard replay: cannot read events {events}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BaseException as exc:  # interrupted or out of memory: keep what was decided
        stopped = exc
    suffix = ".partial" if stopped is not None else ""
    try:
        write_atomically(_with_suffix(out, suffix), finding_lines(session.findings.values()))
        write_atomically(
            _with_suffix(dead_path, suffix), (d.to_json() for d in session.dead_letters)
        )
    except OSError as exc:
        print(f"claimguard replay: cannot write: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if stopped is not None:
        line = session.counts["last_line"]
        print(
            f"claimguard replay: stopped at line {line} ({stopped!r}); the findings of lines "
            f"1..{max(line - 1, 0)} are in {_with_suffix(out, suffix)}",
            file=sys.stderr,
        )
        return EXIT_STOPPED
    print(session.summary())
    if store:
        from claimguard.archive.replay_store import store_session

        try:
            print(store_session(session, store))
        except Exception as exc:  # the JSON outputs are written; say why the store is not
            print(f"claimguard replay: store {store}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if session.dead_letters:
        print(f"dead letters written to {dead_path}")
    return 0


class Terminated(BaseException):
    """SIGTERM during a run: stop like Ctrl-C, keeping what was decided (a BaseException,
    so that no per-event handler takes it for a failure of one event)."""


@contextmanager
def _terminate_raises() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise Terminated("SIGTERM")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _with_suffix(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix) if suffix else path


def output_clash(events: Path, out: Path, dead_letter: Path) -> str | None:
    """Why the outputs would overwrite the input or each other, if they would."""
    named = {"--events": events, "--out": out, "--dead-letter": dead_letter}
    seen: dict[Path, str] = {}
    for flag, path in named.items():
        real = Path(os.path.realpath(path))
        if real in seen:
            return f"{flag} {path} is the same file as {seen[real]}"
        if path.exists():  # hard links and bind mounts resolve to different paths
            for other_real, other in seen.items():
                if other_real.exists() and os.path.samefile(real, other_real):
                    return f"{flag} {path} is the same file as {other}"
        seen[real] = f"{flag} {path}"
    return None


def write_atomically(path: Path, lines: Iterable[bytes]) -> None:
    """Write beside `path`, then rename: a reader never sees half a file, and a failed
    write leaves the previous file as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.writelines(lines)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
