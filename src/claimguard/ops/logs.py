"""`--log-format json`: one JSON object per log line, for log shippers (Loki, ELK, …).

Fields: `ts` (UTC, ISO 8601 with milliseconds), `level`, `logger`, `message`, and, when a
call passes them via `extra=`, `event_id`, `settlement_id` (and any other extra field a
caller gives); `exc` carries a traceback."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from typing import Any

# attributes every LogRecord has: anything else on a record came from `extra=`
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def log_format(given: str | None = None) -> str:
    return (given or os.environ.get("CLAIMGUARD_LOG_FORMAT") or "text").lower()


def setup_logging(fmt: str | None = None, level: int = logging.INFO) -> None:
    """Install one stderr handler on the root logger with the chosen format. Replaces any
    handler installed before (Faust's worker installs its own: see `json_for_faust`)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if log_format(fmt) == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root.addHandler(handler)
    root.setLevel(level)


def faust_logging_config(fmt: str | None, level: str | int) -> dict[str, Any] | None:
    """Faust's Worker replaces the root handlers when it starts: with `--log-format json`
    it gets this dictConfig so its own lines (e.g. "[^Worker]: Ready") are JSON too."""
    if log_format(fmt) != "json":
        return None
    name = {"warn": "WARNING"}.get(str(level).lower(), str(level).upper())
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "claimguard.ops.logs.JsonFormatter"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": name, "handlers": ["default"]},
    }
