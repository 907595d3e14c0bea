"""What can go wrong with the store, split by what the caller should do about it."""

from __future__ import annotations

from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

# ClickHouse error codes that mean "try again later", not "your query is wrong".
_TRANSIENT_CODES = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS
        279,  # ALL_CONNECTION_TRIES_FAILED
        319,  # UNKNOWN_STATUS_OF_INSERT
        425,  # SYSTEM_ERROR
        999,  # KEEPER_EXCEPTION
    }
)


# A disk that is full, read-only or not writable is an outage of the store, not a fault of
# the rows being written: the same insert succeeds once the disk is back (measured on chdb:
# an unwritable data directory answers code 1001 "filesystem error ... Operation not
# permitted").
_IO_CODES = frozenset({74, 75, 76, 243, 460, 1001})  # read/write/open file, space, fsync, std
_IO_MARKERS = (
    "filesystem error",
    "Permission denied",
    "Operation not permitted",
    "Read-only file system",
    "No space left",
    "Not enough space",
    "Cannot open file",
    "Cannot write to file",
)


class StoreError(Exception):
    """The store refused or failed an operation; retrying the same call will not help."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now; the same call may succeed later."""


def translate(exc: BaseException, target: str) -> StoreError:
    """Map a driver exception to StoreUnavailable (retry) or StoreError (do not)."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc)
    if "Unable to open the chdb engine" in text:
        if "already initialized with path" in text:
            # chdb hosts one engine directory per process: a programming error, not an outage.
            return StoreError(
                f"{target}: this process already has another chdb directory open; "
                f"close that store first ({text})"
            )
        return StoreUnavailable(
            f"{target}: cannot open the chdb directory; another process may hold it "
            f"(one process at a time may open a chdb directory) ({text})"
        )
    if isinstance(exc, OperationalError | ConnectionError | TimeoutError):
        return StoreUnavailable(f"{target}: store unreachable: {text}")
    code = getattr(exc, "code", None)
    if isinstance(exc, DatabaseError) and code in _TRANSIENT_CODES:
        return StoreUnavailable(f"{target}: store temporarily failing (code {code}): {text}")
    if (code in _IO_CODES or code is None) and any(marker in text for marker in _IO_MARKERS):
        return StoreUnavailable(f"{target}: store cannot write its files: {text}")
    return StoreError(f"{target}: {text}")
