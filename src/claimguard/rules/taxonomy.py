"""Contract §3: the 20 violation codes. The one place that decides a code's layer, subject,
stages and the action each stage takes."""

from __future__ import annotations

from typing import Literal, NamedTuple, get_args

from claimguard.library.nhsa import CLEAR, LIBRARY_CODES

ViolationCode = Literal[
    "GENDER_MISMATCH",
    "AGE_MISMATCH",
    "INDICATION_MISMATCH",
    "EXCESSIVE_QUANTITY",
    "OUT_OF_SCOPE_PRACTICE",
    "NON_COVERED_ITEM",
    "PRICE_OVER_CAP",
    "DUPLICATE_CHARGE",
    "BUNDLED_CHARGE",
    "LEVEL_RESTRICTED",
    "SUSPENDED_INSTITUTION",
    "OVER_FREQUENCY",
    "DECEASED_PATIENT",
    "IDENTITY_MISMATCH",
    "MULTI_INSTITUTION_SAME_DAY",
    "FREQUENT_VISITS",
    "REPEAT_PRESCRIPTION",
    "SPLIT_HOSPITALIZATION",
    "OVERLAPPING_STAY",
    "BED_HOLDING",
]


class Violation(NamedTuple):
    layer: Literal["norms", "policy", "authenticity"]
    subject: Literal["institution", "insured"]
    settle_action: Literal["hold", "alert"] | None  # None: checked only on settled events


ALL_STAGES = ("precheck", "settle", "settled")
SETTLED_ONLY = ("settled",)

TAXONOMY: dict[str, Violation] = {
    "GENDER_MISMATCH": Violation("norms", "institution", "hold"),
    "AGE_MISMATCH": Violation("norms", "institution", "hold"),
    "INDICATION_MISMATCH": Violation("norms", "institution", "alert"),
    "EXCESSIVE_QUANTITY": Violation("norms", "institution", "alert"),
    "OUT_OF_SCOPE_PRACTICE": Violation("norms", "institution", "alert"),
    "NON_COVERED_ITEM": Violation("policy", "institution", "hold"),
    "PRICE_OVER_CAP": Violation("policy", "institution", "hold"),
    "DUPLICATE_CHARGE": Violation("policy", "institution", "alert"),
    "BUNDLED_CHARGE": Violation("policy", "institution", "alert"),
    "LEVEL_RESTRICTED": Violation("policy", "institution", "alert"),
    "SUSPENDED_INSTITUTION": Violation("policy", "institution", "hold"),
    "OVER_FREQUENCY": Violation("policy", "institution", None),
    "DECEASED_PATIENT": Violation("authenticity", "institution", "hold"),
    "IDENTITY_MISMATCH": Violation("authenticity", "insured", "hold"),
    "MULTI_INSTITUTION_SAME_DAY": Violation("authenticity", "insured", None),
    "FREQUENT_VISITS": Violation("authenticity", "insured", None),
    "REPEAT_PRESCRIPTION": Violation("authenticity", "insured", "hold"),
    "SPLIT_HOSPITALIZATION": Violation("authenticity", "institution", None),
    "OVERLAPPING_STAY": Violation("authenticity", "institution", None),
    "BED_HOLDING": Violation("authenticity", "institution", None),
}


# The library's rule types (NHSA GZ rules and 2025 types, see claimguard.library.nhsa): new
# codes beside the contract's 20, which keep their meaning. A 明确违规 type may hold at settle,
# a 可疑 one alerts; the two cross-event ones are decided on settled events only.
_SETTLED_ONLY_LIBRARY = {"FREQUENT_DISPENSING", "FREQUENT_ADMISSIONS"}
LIBRARY_TAXONOMY: dict[str, Violation] = {
    code: Violation(
        rule.layer,
        rule.subject,
        None if code in _SETTLED_ONLY_LIBRARY else ("hold" if rule.result == CLEAR else "alert"),
    )
    for code, rule in LIBRARY_CODES.items()
}
ALL_TAXONOMY: dict[str, Violation] = {**TAXONOMY, **LIBRARY_TAXONOMY}
AnyViolation = Literal[(*get_args(ViolationCode), *LIBRARY_TAXONOMY)]  # type: ignore[valid-type]


def allowed_actions(code: str, result: str | None = None) -> dict[str, str]:
    """event type → the action a hit of `code` takes there (contract §3). A library code's
    settle action follows the rule's declared result type (明确违规 holds, 可疑 alerts)."""
    settle = ALL_TAXONOMY[code].settle_action
    if code in LIBRARY_TAXONOMY and settle is not None and result is not None:
        settle = "hold" if result == CLEAR else "alert"
    if settle is None:
        return {"settled": "flag"}
    return {"precheck": "alert", "settle": settle, "settled": "flag"}
