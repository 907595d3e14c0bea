"""Clean background patients: one to three settlements each, spread over the period.

A patient's visits fall on distinct days and never inside their own stays, so the
cross-event codes (same-day institutions, visit frequency, overlapping stays) cannot
fire; a second stay at the same hospital comes only after the 15-day split window.
"""

from __future__ import annotations

from claimguard.synth.ledger import Ledger
from claimguard.synth.settlement import Settlement
from claimguard.synth.visits import Visits
from claimguard.synth.world import World

MAX_STAY = 10
SPLIT_WINDOW_DAYS = 15
PRECHECK_SHARE = 0.2


def background_patient(world: World, visits: Visits, budget: int) -> list[Settlement]:
    """Up to `budget` settlements of one new patient, in time order."""
    rng = world.rng
    person = world.people.new()
    ledger = Ledger()
    k = min(budget, world.days, rng.choices((1, 2, 3), (52, 31, 17))[0])
    days = sorted(rng.sample(range(world.days), k))
    plan: list[Settlement] = []
    discharged: dict[str, int] = {}  # institution → day of the latest discharge there
    for i, day in enumerate(days):
        limit = (days[i + 1] if i + 1 < k else world.days) - 1 - day
        kind = rng.choices(("outpatient", "pharmacy", "inpatient"), (66, 24, 10))[0]
        if kind == "inpatient" and limit >= 2:
            recent = {code for code, out in discharged.items() if day - out <= SPLIT_WINDOW_DAYS}
            inst = visits.institution(person, "hospital", exclude=recent)
            s = visits.inpatient(
                person, day, rng.randint(2, min(MAX_STAY, limit)), ledger, inst=inst
            )
            discharged[inst.code] = s.day
        elif kind == "pharmacy":
            s = visits.pharmacy(person, day, ledger)
        else:
            s = visits.outpatient(person, day, ledger)
        s.precheck = rng.random() < PRECHECK_SHARE
        plan.append(s)
    return plan
