"""The ClickHouse *cluster* variant of the migrations (`deploy/clickhouse-cluster/`),
generated from `schemas/clickhouse/` by `make schemas` (a test fails when it is stale).

On a cluster every table becomes two:

- `claimguard.<t>_local`: Replicated*MergeTree ON CLUSTER, one replica set per shard;
- `claimguard.<t>`: a Distributed table over them, under the original name, so the
  workers, views and analysts' queries are unchanged.

The sharding key is a hash of the first ORDER BY column, so the rows a
ReplacingMergeTree must fold (same sorting key) live on the same shard and `FINAL` stays
correct per shard: findings and reversals by settlement, dispositions by finding. Small
dimension tables (`DIMENSIONS`: region chains) are replicated whole to every node instead,
so the views join them locally. Views get ON CLUSTER; `INSERT INTO` seeds are kept (they
go through the Distributed table); ALTERs of columns apply to both tables.
"""

from __future__ import annotations

import re
from pathlib import Path

from claimguard.store.migrations import discover, split_statements

CLUSTER = "{cluster}"  # macros every node defines in its config (see deploy/README.md)
DIMENSIONS = frozenset({"region_chains"})
ON = f" ON CLUSTER '{CLUSTER}'"

_CREATE_DB = re.compile(r"^CREATE\s+DATABASE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_CREATE_TABLE = re.compile(r"^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)", re.I)
_ENGINE = re.compile(r"ENGINE\s*=\s*(\w*)MergeTree(\s*\(([^)]*)\))?", re.I)
_ORDER_BY = re.compile(r"ORDER\s+BY\s+(\(?\s*([^,)\s]+))", re.I)
_VIEW = re.compile(
    r"^CREATE\s+(OR\s+REPLACE\s+)?(MATERIALIZED\s+)?VIEW\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\.(\w+)",
    re.I,
)
_JOIN = re.compile(
    r"(?<!GLOBAL )(?<!ARRAY )\b((LEFT|RIGHT|INNER|FULL|CROSS)\s+(OUTER\s+)?)?JOIN\b", re.I
)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+(\w+)\.(\w+)\s+(.*)$", re.I | re.S)
_DROP = re.compile(r"^DROP\s+(TABLE|VIEW)\s+(IF\s+EXISTS\s+)?(\w+)\.(\w+)(.*)$", re.I | re.S)


def _sharded_tables(statements: list[str]) -> set[str]:
    found = set()
    for statement in statements:
        match = _CREATE_TABLE.match(statement)
        if match and _ENGINE.search(statement) and match.group(3) not in DIMENSIONS:
            found.add(match.group(3))
    return found


def _local(statement: str, sharded: set[str], db: str = "claimguard") -> str:
    """Point FROM/JOIN/TO at the local tables (materialized views read what one node
    inserts)."""
    for table in sharded:
        statement = re.sub(rf"\b{db}\.{table}\b(?!_local)", f"{db}.{table}_local", statement)
    return statement


def _table(statement: str, db: str, table: str) -> list[str]:
    engine = _ENGINE.search(statement)
    assert engine is not None
    kind, args = engine.group(1), (engine.group(3) or "").strip()
    shard = "all" if table in DIMENSIONS else "{shard}"
    name = table if table in DIMENSIONS else f"{table}_local"
    path = f"'/clickhouse/tables/{shard}/{db}/{name}', '{{replica}}'"
    replicated = f"ENGINE = Replicated{kind}MergeTree({path}{', ' + args if args else ''})"
    head = _CREATE_TABLE.match(statement)
    assert head is not None
    local = f"CREATE TABLE IF NOT EXISTS {db}.{name}{ON}" + statement[head.end() :].replace(
        engine.group(0), replicated, 1
    )
    if table in DIMENSIONS:
        return [local]
    order = _ORDER_BY.search(statement)
    key = f"cityHash64({order.group(2)})" if order else "rand()"
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {db}.{table}{ON}\n"
        f"AS {db}.{name}\nENGINE = Distributed('{CLUSTER}', {db}, {name}, {key})"
    )
    return [local, distributed]


def cluster_statements(statements: list[str], sharded: set[str]) -> list[str]:
    out: list[str] = []
    for raw in statements:
        statement = raw.strip()
        if match := _CREATE_DB.match(statement):
            out.append(statement[: match.end()] + ON + statement[match.end() :])
        elif (match := _CREATE_TABLE.match(statement)) and _ENGINE.search(statement):
            out.extend(_table(statement, match.group(2), match.group(3)))
        elif match := _VIEW.match(statement):
            body = statement[: match.end()] + ON + statement[match.end() :]
            if match.group(2):  # materialized: fed by the inserts into one node's tables
                out.append(_local(body, sharded))
            else:  # a join's right side is read once and shipped to the shards
                out.append(_JOIN.sub(lambda m: f"GLOBAL {m.group(0)}", body))
        elif match := _ALTER.match(statement):
            db, table, rest = match.groups()
            if table in sharded:
                out.append(f"ALTER TABLE {db}.{table}_local{ON} {rest}")
                if "COLUMN" in rest.upper():  # the Distributed table mirrors the columns
                    out.append(f"ALTER TABLE {db}.{table}{ON} {rest}")
            else:
                out.append(f"ALTER TABLE {db}.{table}{ON} {rest}")
        elif match := _DROP.match(statement):
            kind, exists, db, table, rest = match.groups()
            out.append(f"DROP {kind} {exists or ''}{db}.{table}{ON}{rest}")
            if table in sharded:
                out.append(f"DROP {kind} {exists or ''}{db}.{table}_local{ON}{rest}")
        else:  # INSERT seeds and anything else: through the Distributed tables, unchanged
            out.append(statement)
    return out


HEADER = """-- GENERATED by `make schemas` (claimguard.ops.cluster_schema) from
-- schemas/clickhouse/{file}: do not edit. The ClickHouse cluster variant: Replicated
-- tables per shard (`*_local`) and Distributed tables under the original names.
-- Apply in order with: clickhouse-client --multiquery < {file}
"""


def cluster_migrations(schema_dir: Path | None = None) -> dict[str, str]:
    """file name → SQL of the cluster variant of every migration."""
    migrations = discover(schema_dir)
    sharded: set[str] = set()
    for migration in migrations:
        sharded |= _sharded_tables(split_statements(migration.sql))
    files: dict[str, str] = {}
    for migration in migrations:
        statements = cluster_statements(split_statements(migration.sql), sharded)
        body = ";\n\n".join(s for s in statements if s.strip())
        files[migration.file_name] = HEADER.format(file=migration.file_name) + "\n" + body + ";\n"
    return files
