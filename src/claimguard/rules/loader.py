"""Load rule packs from YAML, compile them, and refuse bad ones naming file, line and rule."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from claimguard.library.nhsa import BY_CODE
from claimguard.rules.compiled import (
    APPLIES_NAMES,
    ITEM_NAMES,
    POINTS_NAMES,
    VISIT_NAMES,
    WINDOW_NAMES,
    CompiledRule,
)
from claimguard.rules.digest import file_digest, set_digest
from claimguard.rules.expr import ExprError, ParamsType, compile_expr, compile_template
from claimguard.rules.functions import FUNCTIONS
from claimguard.rules.spec import PackSpec, RuleSpec
from claimguard.rules.taxonomy import ALL_TAXONOMY, LIBRARY_TAXONOMY, allowed_actions
from claimguard.rules.windows import PRE_SETTLEMENT_KINDS, WINDOW_KINDS, retention_days
from claimguard.rules.yamlfile import LineDict, NotUtf8, line_of, load_yaml

LAYERS = ("norms", "policy", "authenticity")


def default_rules_dir() -> Path:
    """The packs shipped in the repository's `rules/`, or $CLAIMGUARD_RULES."""
    env = os.environ.get("CLAIMGUARD_RULES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "rules"


class PackError(ValueError):
    """One or more rule-pack problems, each `file:line: rule ID: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class RuleSet:
    rules: list[CompiledRule] = field(default_factory=list)
    digest: str = ""  # of every pack file loaded (rules/digest.py)

    @property
    def item_rules(self) -> list[CompiledRule]:
        return [r for r in self.rules if r.spec.scope == "item"]

    @property
    def visit_rules(self) -> list[CompiledRule]:
        return [r for r in self.rules if r.spec.scope == "visit"]

    @property
    def window_rules(self) -> list[CompiledRule]:
        return [r for r in self.rules if r.spec.scope == "window"]

    @property
    def points_rules(self) -> list[CompiledRule]:
        return [r for r in self.rules if r.spec.scope == "points"]

    def by_id(self, rule_id: str) -> CompiledRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    @property
    def retention_days(self) -> int:
        """Days of patient history the window rules need (at least 31)."""
        spans = [retention_days(r.window) for r in self.window_rules if r.window]
        from claimguard.library.kinds import INTERVAL_DAYS  # the library imports this module

        spans += [INTERVAL_DAYS[r.spec.interval or "当次"] for r in self.points_rules]
        return max([31, *spans])


def pack_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*.y*ml")
        if p.suffix in (".yaml", ".yml") and not any(part.startswith(".") for part in p.parts)
    )


def _compile_rule(spec: RuleSpec, raw: LineDict, path: Path) -> CompiledRule:
    """Compile one validated rule; raises ValueError('line: message') on the first problem."""

    def expr(field_name: str, names: dict[str, Any]) -> Any:
        source = getattr(spec, field_name)
        if source is None:
            return None
        try:
            return compile_expr(source, names, FUNCTIONS)
        except ExprError as exc:
            raise ValueError(
                f"{raw.key_lines.get(field_name, raw.line)}: {field_name}: {exc}"
            ) from None

    eff = spec.effective
    if eff is not None and eff.from_ and eff.until and eff.from_ > eff.until:
        raise ValueError(
            f"{raw.key_lines.get('effective', raw.line)}: effective: from {eff.from_} is after "
            f"until {eff.until}"
        )
    if spec.overrides == spec.id:
        raise ValueError(f"{raw.key_lines.get('overrides', raw.line)}: overrides: itself")
    taxon = ALL_TAXONOMY[spec.violation]
    if spec.layer != taxon.layer:
        raise ValueError(f"{raw.line}: {spec.violation} belongs to layer {taxon.layer}")
    if spec.subject != taxon.subject:
        raise ValueError(f"{raw.line}: {spec.violation} has subject {taxon.subject}")
    _check_library_fields(spec, raw)
    allowed = allowed_actions(spec.violation, spec.result)
    for stage, action in spec.stages.items():
        if allowed.get(stage) != action:
            line = raw.key_lines.get("stages", raw.line)
            expected = allowed.get(stage, "not checked")
            raise ValueError(
                f"{line}: stages: {spec.violation} at {stage} is {expected}, not {action}"
            )
    names = {
        "item": ITEM_NAMES,
        "visit": VISIT_NAMES,
        "window": WINDOW_NAMES,
        "points": POINTS_NAMES,
    }[spec.scope]
    params = ParamsType(spec.params)  # so `params.x` is checked against the pack's values
    names = {**names, "params": params}
    window = None
    kind_params = None
    if spec.scope == "points":
        kind_params = _points_params(spec, raw)
    elif spec.scope == "window":
        if spec.check not in WINDOW_KINDS:
            kinds = ", ".join(sorted(WINDOW_KINDS))
            raise ValueError(
                f"{raw.key_lines.get('check', raw.line)}: check: {spec.check!r} is not one of "
                f"{kinds}"
            )
        if spec.when or spec.applies_if or spec.involves:
            raise ValueError(f"{raw.line}: a window rule has no when/applies_if/involves")
        if set(spec.stages) != {"settled"} and spec.check not in PRE_SETTLEMENT_KINDS:
            line = raw.key_lines.get("stages", raw.line)
            raise ValueError(f"{line}: stages: {spec.check} runs on settled events only")
        try:
            window = WINDOW_KINDS[spec.check].model_validate(spec.params)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(
                f"{raw.key_lines.get('params', raw.line)}: params.{where}: {err['msg']}"
            ) from None
    else:
        if spec.when is None:
            raise ValueError(f"{raw.line}: an {spec.scope} rule needs `when`")
        if spec.check is not None:
            raise ValueError(f"{raw.key_lines.get('check', raw.line)}: check is for window rules")
        if spec.scope == "visit" and (spec.applies_if or spec.involves):
            raise ValueError(f"{raw.line}: applies_if/involves are for item rules")
    templates = {}
    for lang in ("zh", "en"):
        try:
            templates[lang] = compile_template(getattr(spec.message, lang), names, FUNCTIONS)
        except ExprError as exc:
            message = raw.get("message")
            line = raw.key_lines.get("message", raw.line)
            if isinstance(message, LineDict):
                line = message.key_lines.get(lang, line)
            raise ValueError(f"{line}: message.{lang}: {exc}") from None
    return CompiledRule(
        spec=spec,
        path=path,
        line=raw.line,
        when=expr("when", names),
        applies=expr("applies_if", {**APPLIES_NAMES, "params": params}),
        involves=expr("involves", {**ITEM_NAMES, "params": params}),
        message_zh=templates["zh"],
        message_en=templates["en"],
        window=window,
        kind_params=kind_params,
    )


def _check_library_fields(spec: RuleSpec, raw: LineDict) -> None:
    """NHSA codes must be known; a library code's rule must say its result type and agree
    with the catalog; points-only fields are refused elsewhere."""
    for code in spec.nhsa_codes:
        if code not in BY_CODE:
            line = raw.key_lines.get("nhsa_code", raw.line)
            raise ValueError(f"{line}: nhsa_code: {code} is not in the NHSA rule list")
    library = spec.violation in LIBRARY_TAXONOMY
    if library and spec.result is None:
        raise ValueError(f"{raw.line}: result: a library rule type says 明确违规 or 可疑")
    if spec.result is not None and not library:
        settle = ALL_TAXONOMY[spec.violation].settle_action
        expected = "明确违规" if settle == "hold" else "可疑"
        if spec.result != expected:
            line = raw.key_lines.get("result", raw.line)
            raise ValueError(f"{line}: result: {spec.violation} is {expected} (contract §3)")
    if spec.scope != "points":
        for name in ("interval", "scenarios", "institution_levels", "institution_kinds"):
            if getattr(spec, name):
                line = raw.key_lines.get(name, raw.line)
                raise ValueError(f"{line}: {name} is for points rules (scope: points)")


def _points_params(spec: RuleSpec, raw: LineDict) -> Any:
    from claimguard.library.kinds import KINDS  # the library imports this module

    if spec.check not in KINDS:
        kinds = ", ".join(sorted(KINDS))
        raise ValueError(
            f"{raw.key_lines.get('check', raw.line)}: check: {spec.check!r} is not a rule type "
            f"({kinds})"
        )
    if spec.when or spec.applies_if or spec.involves:
        raise ValueError(f"{raw.line}: a points rule has no when/applies_if/involves")
    if not spec.nhsa_codes:
        raise ValueError(f"{raw.line}: nhsa_code: a points rule reads the points of its code")
    kind = KINDS[spec.check]
    if spec.interval not in (None, "当次") and not kind.periodic:
        line = raw.key_lines.get("interval", raw.line)
        raise ValueError(f"{line}: interval: {spec.check} is decided on one settlement (当次)")
    try:
        return kind.params.model_validate(spec.params)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(
            f"{raw.key_lines.get('params', raw.line)}: params.{where}: {err['msg']}"
        ) from None


def _load_file(path: Path, problems: list[str]) -> list[CompiledRule]:
    try:
        raw = load_yaml(path)
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc.strerror}")
        return []
    except NotUtf8 as exc:
        problems.append(f"{path}:{exc.line}: not UTF-8: {exc}")
        return []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        problems.append(f"{path}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}")
        return []
    if not isinstance(raw, LineDict):
        problems.append(f"{path}:1: a rule pack is a mapping with `pack`, `layer` and `rules`")
        return []
    raw_rules = raw.get("rules") if isinstance(raw.get("rules"), list) else []
    try:
        pack = PackSpec.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            rule_note = ""
            if len(loc) > 1 and loc[0] == "rules" and isinstance(loc[1], int):
                rule = raw_rules[loc[1]] if loc[1] < len(raw_rules) else {}
                rule_id = rule.get("id", f"#{loc[1] + 1}") if isinstance(rule, dict) else "?"
                rule_note = f" rule {rule_id}:"
            where = ".".join(str(p) for p in loc[2:] if not isinstance(p, int)) or ".".join(
                str(p) for p in loc
            )
            problems.append(f"{path}:{line_of(raw, loc)}:{rule_note} {where}: {err['msg']}")
        return []
    if path.parent.name in LAYERS and pack.layer != path.parent.name:
        problems.append(
            f"{path}:{raw.key_lines.get('layer', 1)}: pack layer {pack.layer} "
            f"lies in the {path.parent.name}/ folder"
        )
    compiled = []
    digest = file_digest(path)
    for spec, raw_rule in zip(pack.rules, raw_rules, strict=True):
        if spec.layer != pack.layer:
            problems.append(
                f"{path}:{raw_rule.line}: rule {spec.id}: layer {spec.layer} in a {pack.layer} pack"
            )
            continue
        try:
            compiled.append(replace(_compile_rule(spec, raw_rule, path), pack_digest=digest))
        except ValueError as exc:
            line, _, message = str(exc).partition(": ")
            problems.append(f"{path}:{line}: rule {spec.id}: {message}")
    return compiled


def load_packs(directory: Path | str | None = None) -> RuleSet:
    """Load every pack under `directory` (default: the shipped packs); raise PackError."""
    root = Path(directory) if directory is not None else default_rules_dir()
    if not root.is_dir():
        raise PackError([f"{root}: not a rule-pack directory"])
    files = pack_files(root)
    problems: list[str] = []
    rules: list[CompiledRule] = []
    for path in files:
        rules.extend(_load_file(path, problems))
    if not files:
        problems.append(f"{root}: no rule packs (*.yaml) found")
    _check_ids(rules, problems)
    if problems:
        raise PackError(problems)
    return RuleSet(rules, digest=set_digest(root, files))


def _check_ids(rules: Iterable[CompiledRule], problems: list[str]) -> None:
    first: dict[str, CompiledRule] = {}
    for rule in rules:
        if rule.id in first:
            other = first[rule.id]
            problems.append(
                f"{rule.path}:{rule.line}: rule {rule.id}: duplicate id "
                f"(also {other.path}:{other.line})"
            )
        else:
            first[rule.id] = rule
    for rule in rules:
        target = rule.spec.overrides
        if target is not None and target not in first:
            problems.append(
                f"{rule.path}:{rule.line}: rule {rule.id}: overrides unknown rule {target!r}"
            )
    for rule in first.values():
        chain = [rule.id]
        target = rule.spec.overrides
        while target in first and target not in chain and target != rule.id:
            chain.append(target)
            target = first[target].spec.overrides
        if target == rule.id and len(chain) > 1:  # overriding itself was reported above
            problems.append(
                f"{rule.path}:{rule.line}: rule {rule.id}: overrides form a cycle "
                f"({' → '.join([*chain, rule.id])}): each would switch the other off"
            )
