"""Schema migrations: `schemas/clickhouse/NNN_name.sql`, applied in order, once each.

The .sql files at the repository top are the single source of truth for the DDL. The
store finds them relative to this package (an editable install or a checkout), or at
`$CLAIMGUARD_SCHEMA_DIR`, or wherever the caller points. Applied versions are recorded
in `claimguard.schema_migrations` with a checksum of their statements, so changing an
applied migration is caught instead of silently diverging from the databases that ran
the old one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from claimguard.store.errors import StoreError

SCHEMA_DIR_ENV = "CLAIMGUARD_SCHEMA_DIR"
_FILE_NAME = re.compile(r"^(\d{3})_([A-Za-z0-9_]+)\.sql$")
log = logging.getLogger("claimguard.store")

# The ledger is created by code, not by a migration, so that it exists before the first one.
_LEDGER_DDL = (
    "CREATE DATABASE IF NOT EXISTS claimguard",
    """CREATE TABLE IF NOT EXISTS claimguard.schema_migrations
    (
        version    UInt32,
        name       String,
        checksum   String,
        applied_at DateTime64(3, 'Asia/Shanghai')
    )
    ENGINE = ReplacingMergeTree
    ORDER BY version""",
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """Of the statements, whitespace-folded: editing comments or layout is harmless."""
        canonical = ";\n".join(" ".join(s.split()) for s in split_statements(self.sql))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def file_name(self) -> str:
        return f"{self.version:03d}_{self.name}.sql"


def default_schema_dir() -> Path:
    if env := os.environ.get(SCHEMA_DIR_ENV):
        return Path(env)
    # src/claimguard/store/migrations.py → repository top
    return Path(__file__).resolve().parents[3] / "schemas" / "clickhouse"


def discover(schema_dir: Path | None = None) -> list[Migration]:
    directory = schema_dir or default_schema_dir()
    if not directory.is_dir():
        raise StoreError(
            f"schema directory {directory} not found; pass schema_dir= or set {SCHEMA_DIR_ENV}"
        )
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise StoreError(f"{path}: migration files are named NNN_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise StoreError(f"{path}: version {version:03d} is used twice")
        migrations[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [migrations[v] for v in sorted(migrations)]


def split_statements(sql: str) -> list[str]:
    """Split on `;` outside quotes and comments (the driver runs one statement per call)."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            continue
        if sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            current.append(" ")
            continue
        if ch in "'\"`":
            j = i + 1
            while j < n and sql[j] != ch:
                j += 2 if sql[j] == "\\" else 1
            current.append(sql[i : j + 1])
            i = j + 1
            continue
        if ch == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def applied(client: Client) -> dict[int, str]:
    """version → checksum of every migration recorded in the ledger."""
    rows = client.query("SELECT version, checksum FROM claimguard.schema_migrations FINAL")
    return {int(version): str(checksum) for version, checksum in rows.result_rows}


def migrate(client: Client, schema_dir: Path | None = None) -> list[int]:
    """Apply the migrations not yet recorded, in order; return their versions."""
    for ddl in _LEDGER_DDL:
        client.command(ddl)
    done = applied(client)
    newly: list[int] = []
    for migration in discover(schema_dir):
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise StoreError(
                    f"{migration.file_name} changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        for statement in split_statements(migration.sql):
            client.command(statement)
        client.insert(
            "claimguard.schema_migrations",
            [[migration.version, migration.name, migration.checksum, dt.datetime.now(dt.UTC)]],
            column_names=["version", "name", "checksum", "applied_at"],
        )
        log.info("applied migration %s", migration.file_name)
        newly.append(migration.version)
    return newly
