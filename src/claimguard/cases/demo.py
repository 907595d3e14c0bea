"""The demo's analysts: users for a national admin, a city supervisor and its busiest
counties' analysts, and some worked cases (verdicts, an escalation) so that the console's
totals, queue and rule precision have something to show."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from claimguard.cases.access import Pseudonymizer, User, default_key_file
from claimguard.cases.lifecycle import CaseRefused
from claimguard.cases.service import CaseService
from claimguard.store import FindingStore

COUNTIES = 3
WORKED_PER_COUNTY = 12


@dataclass(frozen=True)
class DemoUser:
    name: str
    role: str
    region: str
    token: str


def seed_cases(target: str) -> list[DemoUser]:
    """Create the demo users (fresh tokens each run) and work some cases; returns them."""
    with FindingStore.connect(target) as store:
        store.migrate()
        svc = CaseService(store, Pseudonymizer.from_file(default_key_file(target)))
        busiest = svc.rows(
            "SELECT concat(substring(assigned_region, 1, 4), '00') AS city, "
            "uniqExact(assigned_region) AS counties, count() AS n "
            "FROM claimguard.cases_current WHERE level = 'county' "
            "GROUP BY city ORDER BY counties >= 2 DESC, n DESC LIMIT 1"
        )
        if not busiest:
            return []
        city = str(busiest[0]["city"])
        counties = [
            str(r["assigned_region"])
            for r in svc.rows(
                "SELECT assigned_region, count() AS n FROM claimguard.cases_current "
                "WHERE assigned_region LIKE {p:String} AND level = 'county' "
                "GROUP BY assigned_region ORDER BY n DESC, assigned_region LIMIT {k:UInt32}",
                {"p": city[:4] + "%", "k": COUNTIES},
            )
        ]
        users = [
            DemoUser("admin", "admin", "000000", svc.add_user("admin", "admin", "000000")),
            DemoUser(
                f"sup-{city}", "supervisor", city, svc.add_user(f"sup-{city}", "supervisor", city)
            ),
        ]
        for county in counties:
            name = f"ana-{county}"
            users.append(DemoUser(name, "analyst", county, svc.add_user(name, "analyst", county)))
            _work(svc, User(name, "analyst", county))
        return users


def _work(svc: CaseService, user: User) -> None:
    """Verify some cases; about two in three are confirmed (the amount at risk recovered),
    the rest dismissed; one is escalated to the city. Chosen by a hash: the same each run."""
    rows, _ = svc.list_cases(
        user, status="assigned", sort="case_id", descending=False, limit=WORKED_PER_COUNTY + 1
    )
    for n, case in enumerate(rows):
        cid = str(case["case_id"])
        try:
            if n == WORKED_PER_COUNTY:
                svc.set_status(user, cid, "escalated", reason="三级医院，请市局核查")
                continue
            svc.set_status(user, cid, "verifying")
            if n % 4 == 3:
                continue  # still being verified
            if int(hashlib.sha256(cid.encode()).hexdigest(), 16) % 3:
                amount = Decimal(str(case["amount"])).quantize(Decimal("0.01"))
                svc.set_status(user, cid, "confirmed", amount=amount)
            else:
                svc.set_status(user, cid, "dismissed", reason="核查后资料齐全，费用合理")
        except CaseRefused:
            continue


def write_tokens(users: list[DemoUser], path: Path) -> None:
    path.write_text(
        "".join(f"{u.role}\t{u.region}\t{u.name}\t{u.token}\n" for u in users), encoding="utf-8"
    )
    path.chmod(0o600)
