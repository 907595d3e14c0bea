"""What one patient has already been given, so new visits stay clean across events.

Only the cross-event codes need memory: REPEAT_PRESCRIPTION (days of supply still left)
and OVER_FREQUENCY (quantity of a limited service per day). Visits are planned in time
order, so every recorded dispense is dated on or before the one being checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from claimguard.synth.catalog import CatalogItem
from claimguard.synth.settlement import Settlement

SUPPLY_LEFT_ALLOWED = 7  # contract §3: more than 7 days left is a repeat


@dataclass(slots=True)
class Ledger:
    supply_until: dict[str, int] = field(default_factory=dict)  # drug code → day + days
    service_qty: dict[tuple[int, str], float] = field(default_factory=dict)

    def drug_ok(self, code: str, day: int) -> bool:
        return self.supply_until.get(code, -(10**6)) - day <= SUPPLY_LEFT_ALLOWED

    def service_ok(self, item: CatalogItem, day: int, quantity: float) -> bool:
        if item.max_per_day is None:
            return True
        return self.service_qty.get((day, item.code), 0) + quantity <= item.max_per_day

    def record(self, settlement: Settlement) -> None:
        for line in settlement.lines:
            day = settlement.line_day(line)
            if line.kind == "drug":
                until = day + (line.days or 1)
                if until > self.supply_until.get(line.code, -(10**6)):
                    self.supply_until[line.code] = until
            elif line.kind == "service":
                key = (day, line.code)
                self.service_qty[key] = self.service_qty.get(key, 0) + line.quantity
