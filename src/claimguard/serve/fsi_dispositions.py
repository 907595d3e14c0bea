"""3103 事前事中服务反馈 → disposition rows (contract §9), validated whole.

A request with any bad warn is refused (FsiError naming it) and nothing is published."""

from __future__ import annotations

import datetime as dt
from typing import Any

from claimguard.serve.fsi_request import FsiError, as_list

WARN_TYPES = {"1", "2"}  # 1 事前, 2 事中
CONTINUED, CHANGED = "1", "2"


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return str(value).strip()


def dispositions_of(request: Any, received: dt.datetime) -> dict[str, Any]:
    """The message handed to the worker: one per request, so that it lands whole."""
    if not isinstance(request, dict):
        raise FsiError("request: must be an object")
    sent = _text(request.get("infno"))
    if sent and sent != "3103":
        raise FsiError(f"infno: {sent!r} sent to /fsi/3103")
    msgid = _text(request.get("msgid"))
    if not msgid:
        raise FsiError("msgid: required")
    data = request.get("input")
    data = data.get("data") if isinstance(data, dict) else None
    if not isinstance(data, dict):
        raise FsiError("input.data: must be an object")
    warn_type = _text(data.get("warn_type"))
    if warn_type not in WARN_TYPES:
        raise FsiError(f"input.data.warn_type: must be 1 (事前) or 2 (事中), got {warn_type!r}")
    if data.get("warns") in (None, [], {}):
        raise FsiError("input.data.warns: required")
    rows = []
    for i, warn in enumerate(as_list(data.get("warns"), "input.data.warns")):
        where = f"input.data.warns[{i}]"
        if not isinstance(warn, dict):
            raise FsiError(f"{where}: must be an object")
        finding_id = _text(warn.get("warn_rslt_id"))
        if not finding_id:
            raise FsiError(f"{where}.warn_rslt_id: required")
        way = _text(warn.get("dspo_way"))
        if way not in (CONTINUED, CHANGED):
            raise FsiError(f"{where}.dspo_way: must be 1 (continued) or 2 (changed), got {way!r}")
        reason = _text(warn.get("dspo_way_rea"))
        if way == CONTINUED and not reason:
            raise FsiError(f"{where}.dspo_way_rea: required when dspo_way is 1 (continued)")
        rows.append(
            {
                "finding_id": finding_id,
                "warn_type": int(warn_type),
                "dspo_way": int(way),
                "reason": reason,
            }
        )
    return {
        "msgid": msgid,
        "fixmedins_code": _text(request.get("fixmedins_code")),
        "received_at": received.isoformat(),
        "warns": rows,
    }
