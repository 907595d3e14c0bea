"""The 20 violation codes of contract §3, in the contract's order (the taxonomy owns them)."""

from __future__ import annotations

from claimguard.rules.taxonomy import TAXONOMY

VIOLATIONS: tuple[str, ...] = tuple(TAXONOMY)
