"""Case statuses and the transitions allowed between them (issue 10)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

ASSIGNED, VERIFYING, CONFIRMED, DISMISSED = "assigned", "verifying", "confirmed", "dismissed"
ESCALATED, TRANSFERRED, VOID = "escalated", "transferred", "void"
STATUSES = (ASSIGNED, VERIFYING, CONFIRMED, DISMISSED, ESCALATED, TRANSFERRED, VOID)
OPEN = (ASSIGNED, VERIFYING, ESCALATED, TRANSFERRED)
CLOSED = (CONFIRMED, DISMISSED, VOID)

# A verdict needs a verification first; a closed case stays closed (void is derived from a
# reversal and never set by hand).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    ASSIGNED: (VERIFYING, ESCALATED, TRANSFERRED),
    VERIFYING: (CONFIRMED, DISMISSED, ESCALATED, TRANSFERRED),
    ESCALATED: (VERIFYING, ESCALATED, TRANSFERRED),
    TRANSFERRED: (VERIFYING, ESCALATED, TRANSFERRED),
}
# 转办 moves work between jurisdictions: a supervisor's decision, not an analyst's.
SUPERVISOR_ONLY = (TRANSFERRED,)
ROLES = ("analyst", "supervisor", "admin")

LABELS_ZH = {
    ASSIGNED: "已交办",
    VERIFYING: "核查中",
    CONFIRMED: "属实",
    DISMISSED: "不属实",
    ESCALATED: "上交",
    TRANSFERRED: "转办",
    VOID: "作废",
}


class CaseRefused(Exception):
    """The change is not allowed (or the case is not the caller's); nothing was written."""


def allowed(status: str, role: str) -> tuple[str, ...]:
    """The statuses a user with `role` may move a case in `status` to."""
    nexts = TRANSITIONS.get(status, ())
    if role == "analyst":
        nexts = tuple(s for s in nexts if s not in SUPERVISOR_ONLY)
    return nexts


def parse_amount(text: str | None) -> Decimal | None:
    if text is None or str(text).strip() == "":
        return None
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise CaseRefused(f"amount {text!r} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise CaseRefused(f"amount {text!r} must be a non-negative number")
    return value.quantize(Decimal("0.0001"))


def check(
    status: str,
    to: str,
    role: str,
    amount: Decimal | None,
    reason: str,
    to_region: str | None,
) -> None:
    """Raise CaseRefused unless `status` → `to` is allowed with these details."""
    if to not in STATUSES:
        raise CaseRefused(f"unknown status {to!r}; one of {', '.join(STATUSES)}")
    if to not in TRANSITIONS.get(status, ()):
        raise CaseRefused(f"a case that is {status} cannot become {to}")
    if to not in allowed(status, role):
        raise CaseRefused(f"only a supervisor or admin may set {to}")
    if to == CONFIRMED and amount is None:
        raise CaseRefused("confirmed needs the amount recovered (--amount, 追回金额)")
    if to != CONFIRMED and amount is not None:
        raise CaseRefused("an amount is recorded only with confirmed")
    if to == DISMISSED and not reason.strip():
        raise CaseRefused("dismissed needs a reason (--reason)")
    if to == TRANSFERRED and not to_region:
        raise CaseRefused("transferred needs the target region (--to REGION)")
    if to != TRANSFERRED and to_region:
        raise CaseRefused("a target region is given only with transferred")
