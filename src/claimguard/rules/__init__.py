"""Rule packs: the YAML format, the safe expression language, lint and pack tests."""

from claimguard.rules.compiled import CompiledRule
from claimguard.rules.loader import PackError, RuleSet, default_rules_dir, load_packs
from claimguard.rules.taxonomy import TAXONOMY, allowed_actions

__all__ = [
    "TAXONOMY",
    "CompiledRule",
    "PackError",
    "RuleSet",
    "allowed_actions",
    "default_rules_dir",
    "load_packs",
]
