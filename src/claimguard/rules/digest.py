"""Digests that name what a finding came from: one per pack file, one per loaded set.

A finding records its rule's version and its pack file's digest, so a reviewer can tell
which text of a rule raised it after packs were changed, reloaded or rolled back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

DIGEST_CHARS = 16  # 64 bits of sha256: enough to tell pack versions apart, short to read


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_CHARS]


def set_digest(root: Path, files: Iterable[Path], extra: Iterable[Path] = ()) -> str:
    """Of every pack file (relative name and content), plus `extra` directories' files
    (e.g. the knowledge base), so any change to what the engine runs changes it."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    for directory in extra:
        for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
            h.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:DIGEST_CHARS]
