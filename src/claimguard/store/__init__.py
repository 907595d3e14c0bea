"""The suspicion store (contract §7): ClickHouse via clickhouse-connect, embedded
(`chdb:///dir`) or a server (`http://host:8123`). DDL lives in schemas/clickhouse/."""

from claimguard.store.batch_writer import BatchWriter, Flushed
from claimguard.store.errors import StoreError, StoreUnavailable
from claimguard.store.finding_store import FindingStore
from claimguard.store.migrations import default_schema_dir
from claimguard.store.queries import JurisdictionRank, JurisdictionTotal, ViolationActionCount
from claimguard.store.retry import Backoff, retrying, retrying_async

__all__ = [
    "Backoff",
    "BatchWriter",
    "FindingStore",
    "Flushed",
    "JurisdictionRank",
    "JurisdictionTotal",
    "StoreError",
    "StoreUnavailable",
    "ViolationActionCount",
    "default_schema_dir",
    "retrying",
    "retrying_async",
]
