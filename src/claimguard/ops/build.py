"""`claimguard_build_info`: which version, rule pack and knowledge base a process runs.
No metric is defined at import (serve imports this without the worker's metrics)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from claimguard.ops import names


def version() -> str:
    try:
        return metadata.version("claimguard")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class BuildInfo:
    version: str
    rules_digest: str
    knowledge_digest: str
    knowledge_rows: dict[str, int]
    rules_loaded: int


def tree_digest(root: Path | None, suffixes: Iterable[str]) -> str:
    """A short digest of the files under `root` (relative names and contents): two workers
    with the same digest run the same rule pack or knowledge base."""
    if root is None or not root.exists():
        return "none"
    wanted = tuple(suffixes)
    digest = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        if path.suffix in wanted:
            digest.update(str(path.relative_to(root) if path != root else path.name).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:12]


def build_info(engine: Any, knowledge: Path, rules: Path | None) -> BuildInfo:
    from claimguard.rules.loader import default_rules_dir

    kb = engine.kb
    rows = {
        "items": len(kb.items),
        "institutions": len(kb.institutions),
        "doctors": len(kb.doctors),
        "deceased": len(kb.deceased_on),
        "regions": len(kb.region_parents),
    }
    return BuildInfo(
        version=version(),
        rules_digest=tree_digest(rules or default_rules_dir(), (".yaml", ".yml")),
        knowledge_digest=tree_digest(knowledge, (".csv",)),
        knowledge_rows=rows,
        rules_loaded=len(engine.ruleset.rules),
    )


def build_info_family(info: BuildInfo) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        names.BUILD_INFO,
        "Always 1: the version, rule-pack and knowledge digests this process runs",
        labels=["version", "rules_digest", "knowledge_digest"],
    )
    family.add_metric([info.version, info.rules_digest, info.knowledge_digest], 1)
    return family
