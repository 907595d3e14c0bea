"""A well-formed Finding with overridable fields, for tests, benchmarks and the demo."""

from __future__ import annotations

import datetime as dt
from typing import Any

from claimguard.model.findings import Finding
from claimguard.routing.regions import level_of

BEIJING = dt.timezone(dt.timedelta(hours=8))


def sample_finding(finding_id: str, **fields: Any) -> Finding:
    """A flag on settlement S-<finding_id> assigned to `assigned_region` (default 320602);
    `assigned_level` follows the region unless given."""
    region = fields.pop("assigned_region", "320602")
    values: dict[str, Any] = {
        "finding_id": finding_id,
        "event_id": f"E-{finding_id}",
        "settlement_id": f"S-{finding_id}",
        "event_type": "settled",
        "occurred_at": dt.datetime(2024, 3, 1, 10, 0, tzinfo=BEIJING),
        "rule_id": "norms.gender",
        "rule_version": 1,
        "violation": "GENDER_MISMATCH",
        "layer": "norms",
        "stage": "post",
        "action": "flag",
        "item_ids": ["1"],
        "amount": 100.0,
        "subject": "institution",
        "institution_code": "H32060200001",
        "institution_region": region,
        "person_id": "P0001",
        "insured_region": region,
        "assigned_region": region,
        "assigned_level": level_of(region),
        "notify_regions": [],
        "message": "项目限定性别与患者性别不符",
    }
    values.update(fields)
    return Finding.model_validate(values)
