"""Clean visits: outpatient, pharmacy and inpatient settlements that break no rule.

Every choice respects the knowledge base (price caps, quantities, doctors' departments,
gender/age/indication restrictions, level limits, bundles) and the patient's `Ledger`
(supply still left, limited services per day). Injections start from these and then
break exactly one thing.
"""

from __future__ import annotations

from collections.abc import Collection

from claimguard.synth.catalog import CatalogItem
from claimguard.synth.clock import at
from claimguard.synth.geography import COUNTIES, InstitutionKind, InstitutionSpec
from claimguard.synth.ledger import Ledger
from claimguard.synth.population import Person
from claimguard.synth.settlement import Line, Settlement
from claimguard.synth.world import World

OUTPATIENT_DIAGNOSES: dict[str, tuple[str, ...]] = {
    "A02": ("J06.900", "J20.900", "K29.700", "I10.x00", "E11.900", "M54.500", "L30.900"),
    "A03": ("I10.x00", "E11.900", "K29.700", "J20.900", "J06.900"),
    "A04": ("M54.500", "S82.200", "L30.900"),
    "A05": ("N76.000",),
    "A07": ("J06.900", "J20.900", "K29.700"),
}
INPATIENT_DIAGNOSES: dict[str, tuple[str, ...]] = {
    "A03": ("J18.900", "I63.900"),
    "A04": ("K35.800", "S82.200"),
    "A07": ("J18.900",),
}
PHARMACY_DIAGNOSES = ("I10.x00", "E11.900", "K29.700", "J06.900", "L30.900", "M54.500")
SURGERY = {"K35": ("surgery_k35", "stapler"), "S82": ("surgery_s82", "bone_plate")}
SUPPLY_DAYS = (3, 5, 7, 10, 14, 21, 28, 30)
CHILD_MAX_AGE = 14


class Visits:
    def __init__(self, world: World) -> None:
        self.w = world
        self.rng = world.rng
        self.cat = world.catalog

    # -- where and who -----------------------------------------------------------------

    def institution(
        self,
        person: Person,
        kind: InstitutionKind,
        *,
        min_level: int = 0,
        exclude: Collection[str] = (),
    ) -> InstitutionSpec:
        """Mostly the home county; sometimes a neighbour; now and then anywhere (异地)."""
        rng = self.rng
        county = person.county
        r = rng.random()
        if r > 0.84:
            neighbours = self.w.geo.neighbours(county)
            county = rng.choice(neighbours) if neighbours and r < 0.93 else rng.choice(COUNTIES)
        pool = [
            i
            for i in self.w.geo.regular[county.code][kind]
            if i.level >= min_level and i.code not in exclude
        ]
        if not pool:  # e.g. every hospital of the county excluded: look city-wide
            pool = [
                i
                for c in COUNTIES
                for i in self.w.geo.regular[c.code][kind]
                if i.level >= min_level and i.code not in exclude
            ]
        return rng.choice(pool)

    def outpatient_institution(self, person: Person) -> InstitutionSpec:
        return self.institution(person, "hospital" if self.rng.random() < 0.55 else "clinic")

    def practitioner(
        self, person: Person, inst: InstitutionSpec, day: int, *, inpatient: bool = False
    ) -> tuple[str, str]:
        """A (doctor code, department) pair valid at `inst`, plausible for the patient."""
        if self.age(person, day) <= CHILD_MAX_AGE:
            prefs: tuple[str, ...] = ("A07",) if inpatient else ("A07", "A02")
        elif inpatient:
            prefs = ("A03", "A04")
        elif person.gender == "F":
            prefs = ("A02", "A03", "A04", "A05")
        else:
            prefs = ("A02", "A03", "A04")
        pairs = self.w.geo.practice[inst.code]
        doctor, dept = self.rng.choice([p for p in pairs if p[1] in prefs] or pairs)
        return doctor.code, dept

    def diagnoses(self, person: Person, dept: str, day: int) -> tuple[str, ...]:
        rng = self.rng
        age = self.age(person, day)
        if age <= CHILD_MAX_AGE:
            dept = "A07"  # children's complaints, whichever desk they queue at
        options = OUTPATIENT_DIAGNOSES.get(dept, OUTPATIENT_DIAGNOSES["A02"])
        if dept == "A04" and person.gender == "M" and age >= 45:
            options = (*options, "N40.x00")
        primary = rng.choice(options)
        if age >= 40 and primary in ("I10.x00", "E11.900") and rng.random() < 0.3:
            return (primary, "E11.900" if primary == "I10.x00" else "I10.x00")
        return (primary,)

    def age(self, person: Person, day: int) -> int:
        return person.age_on(self.w.clock.date(day))

    # -- item lines --------------------------------------------------------------------

    def price(self, item: CatalogItem) -> float:
        if self.rng.random() < 0.03:
            return item.max_unit_price  # billing exactly at the cap is allowed
        return max(0.01, round(item.max_unit_price * self.rng.uniform(0.6, 1.0), 2))

    def service(self, item: CatalogItem, minute: int | None, quantity: int = 1) -> Line:
        return Line(item.code, item.kind, quantity, self.price(item), None, minute)

    def drug(
        self,
        item: CatalogItem,
        minute: int | None,
        *,
        days: int | None = None,
        dose: int | None = None,
        max_days: int | None = None,
        self_paid: bool = False,
    ) -> Line:
        rng = self.rng
        limit = min(item.max_days_supply or 30, max_days or 30)
        if days is None:
            if rng.random() < 0.04:  # a dose given on the spot: no days of supply
                q = rng.randint(1, item.max_daily_quantity or 1)
                return Line(item.code, "drug", q, self.price(item), None, minute, self_paid)
            days = rng.choice([d for d in SUPPLY_DAYS if d <= limit] or [limit])
        if dose is None:
            dose = rng.randint(1, item.max_daily_quantity or 1)
        return Line(item.code, "drug", dose * days, self.price(item), days, minute, self_paid)

    def _drug_candidates(
        self, person: Person, diagnoses: tuple[str, ...], day: int, *, inpatient: bool = False
    ) -> list[CatalogItem]:
        cat = self.cat
        found: list[CatalogItem] = []
        for diag in diagnoses:
            found.extend(cat.drugs_for(diag))
            prefix = diag[:3]
            if prefix == "E11":
                found.extend([cat.role("indicated")] * 3)
            elif prefix == "N40" and person.gender == "M":
                found.extend([cat.role("male_drug")] * 3)
            elif prefix == "N76" and person.gender == "F":
                found.extend([cat.role("female_drug")] * 3)
            elif (
                prefix in ("J06", "J20")
                and not inpatient
                and self.age(person, day) <= CHILD_MAX_AGE
            ):
                found.extend([cat.role("pediatric")] * 3)
        return found

    def _pick_drugs(
        self,
        person: Person,
        diagnoses: tuple[str, ...],
        day: int,
        ledger: Ledger,
        n: int,
        avoid: Collection[str],
        *,
        inpatient: bool = False,
    ) -> list[CatalogItem]:
        picked: list[CatalogItem] = []
        candidates = self._drug_candidates(person, diagnoses, day, inpatient=inpatient)
        for _ in range(n * 3):
            if len(picked) >= n or not candidates:
                break
            item = self.rng.choice(candidates)
            if item in picked or item.code in avoid or item.role in avoid:
                continue
            if ledger.drug_ok(item.code, day):
                picked.append(item)
        return picked

    def _limited(
        self, role: str, day: int, ledger: Ledger, quantity: int, avoid: Collection[str]
    ) -> CatalogItem | None:
        item = self.cat.role(role)
        if role in avoid or item.code in avoid or not ledger.service_ok(item, day, quantity):
            return None
        return item

    # -- visits ------------------------------------------------------------------------

    def outpatient(
        self,
        person: Person,
        day: int,
        ledger: Ledger,
        *,
        inst: InstitutionSpec | None = None,
        practitioner: tuple[str, str] | None = None,
        minute: int | None = None,
        diagnoses: tuple[str, ...] | None = None,
        avoid: Collection[str] = (),
        drugs: int | None = None,
        record: bool = True,
    ) -> Settlement:
        rng, cat = self.rng, self.cat
        inst = inst or self.outpatient_institution(person)
        doctor, dept = practitioner or self.practitioner(person, inst, day)
        diagnoses = diagnoses or self.diagnoses(person, dept, day)
        minute = minute if minute is not None else at(day, rng.randint(8, 16), rng.randint(0, 59))
        t: int | None = minute - rng.randint(3, 30)  # items first, then the settlement
        if rng.random() < 0.08:
            t = None  # some HIS systems send no performed_at: the event date counts
        age = self.age(person, day)
        lines = [
            self.service(
                cat.role("expert" if inst.level >= 2 and rng.random() < 0.3 else "consult"), t
            )
        ]
        wanted: list[str] = []
        r = rng.random()
        if r < 0.15:
            wanted.append("bundle")
        elif r < 0.35:
            wanted.extend(["cbc", "crp"] if rng.random() < 0.4 else ["cbc"])
        if rng.random() < 0.25:
            lines.append(self.service(rng.choice(cat.exams), t))
        if inst.level >= 2 and rng.random() < 0.05:
            wanted.append("ct")
        if inst.level >= 3 and rng.random() < 0.01:
            wanted.append("petct")
        if age >= 60 and rng.random() < 0.08:
            wanted.append("geriatric")
        if dept == "A05" and person.gender == "F" and rng.random() < 0.5:
            wanted.append("gyn")
        if person.gender == "M" and diagnoses[0].startswith("N40") and rng.random() < 0.5:
            wanted.append("psa")
        lines.extend(self.service(cat.role(role), t) for role in wanted if role not in avoid)
        r = rng.random()
        if r < 0.08 and (item := self._limited("iv", day, ledger, 1, avoid)):
            lines.append(self.service(item, t))
            lines.append(self.service(cat.role("infusion_set"), t))
        elif r < 0.16:
            q = rng.choice((1, 1, 2))
            if item := self._limited("im", day, ledger, q, avoid):
                lines.append(self.service(item, t, q))
                lines.append(self.service(cat.role("syringe"), t, q))
        n = drugs if drugs is not None else rng.choices((0, 1, 2, 3), (20, 35, 30, 15))[0]
        for item in self._pick_drugs(person, diagnoses, day, ledger, n, avoid):
            lines.append(self.drug(item, t))
        extra = cat.role("noncovered")  # bought on the patient's own money
        if rng.random() < 0.03 and "noncovered" not in avoid and ledger.drug_ok(extra.code, day):
            lines.append(self.drug(extra, t, self_paid=True))
        s = Settlement("outpatient", person, inst, dept, doctor, diagnoses, lines, minute)
        if record:
            ledger.record(s)
        return s

    def pharmacy(
        self,
        person: Person,
        day: int,
        ledger: Ledger,
        *,
        inst: InstitutionSpec | None = None,
        minute: int | None = None,
        diagnoses: tuple[str, ...] | None = None,
        avoid: Collection[str] = (),
        drugs: int | None = None,
        record: bool = True,
    ) -> Settlement:
        rng = self.rng
        inst = inst or self.institution(person, "pharmacy")
        minute = minute if minute is not None else at(day, rng.randint(8, 20), rng.randint(0, 59))
        if diagnoses is None:
            age = self.age(person, day)
            options = PHARMACY_DIAGNOSES if age > CHILD_MAX_AGE else OUTPATIENT_DIAGNOSES["A07"]
            if person.gender == "M" and age >= 45:
                options = (*options, "N40.x00")
            elif person.gender == "F" and age > CHILD_MAX_AGE:
                options = (*options, "N76.000")
            diagnoses = (rng.choice(options),)
        n = drugs if drugs is not None else rng.choices((1, 2, 3), (55, 30, 15))[0]
        items = self._pick_drugs(person, diagnoses, day, ledger, n, avoid)
        if not items:  # every usual drug still in supply: buy something else
            items = self._pick_drugs(person, ("Z00",), day, ledger, 1, avoid)
        t = minute - rng.randint(0, 3)
        lines = [self.drug(item, t) for item in items]
        holder = person.person_id if rng.random() < 0.6 else None
        s = Settlement("pharmacy", person, inst, "", "", diagnoses, lines, minute, holder_id=holder)
        if record:
            ledger.record(s)
        return s

    def inpatient(
        self,
        person: Person,
        admit_day: int,
        los: int,
        ledger: Ledger,
        *,
        inst: InstitutionSpec | None = None,
        treated: Collection[int] | None = None,
        admit_minute: int | None = None,
        avoid: Collection[str] = (),
        record: bool = True,
    ) -> Settlement:
        """A stay of `los` nights; items on the `treated` days (default: every day)."""
        rng, cat = self.rng, self.cat
        inst = inst or self.institution(person, "hospital")
        doctor, dept = self.practitioner(person, inst, admit_day, inpatient=True)
        diagnoses = (rng.choice(INPATIENT_DIAGNOSES.get(dept, INPATIENT_DIAGNOSES["A03"])),)
        admitted = (
            admit_minute
            if admit_minute is not None
            else at(admit_day, rng.randint(8, 10), rng.randint(0, 59))
        )
        discharge_day = admit_day + los
        discharged = at(discharge_day, rng.randint(9, 11), rng.randint(0, 59))
        days = sorted(treated) if treated is not None else range(admit_day, discharge_day)
        lines: list[Line] = []
        for d in days:
            t = max(at(d, 15, rng.randint(0, 40)), admitted + 30)
            for role in ("bed", "nursing"):
                if item := self._limited(role, d, ledger, 1, avoid):
                    lines.append(self.service(item, t))
            if rng.random() < 0.4 and (item := self._limited("iv", d, ledger, 1, avoid)):
                lines.append(self.service(item, t + 5))
                lines.append(self.service(cat.role("infusion_set"), t + 5))
        t0 = admitted + 45
        for role in ("bundle",) if rng.random() < 0.5 else ("cbc", "crp"):
            if role not in avoid:
                lines.append(self.service(cat.role(role), t0))
        lines.append(self.service(rng.choice(cat.exams), t0))
        if inst.level >= 2 and rng.random() < 0.3 and "ct" not in avoid:
            lines.append(self.service(cat.role("ct"), t0))
        if (surgery := SURGERY.get(diagnoses[0][:3])) and surgery[0] not in avoid:
            lines.append(self.service(cat.role(surgery[0]), t0 + 120))
            lines.append(self.service(cat.role(surgery[1]), t0 + 120))
        n = rng.choices((1, 2, 3), (40, 40, 20))[0]
        for item in self._pick_drugs(
            person, diagnoses, admit_day, ledger, n, avoid, inpatient=True
        ):
            lines.append(self.drug(item, admitted + 60, max_days=7))
        s = Settlement(
            "inpatient",
            person,
            inst,
            dept,
            doctor,
            diagnoses,
            lines,
            discharged,
            admitted_at=admitted,
        )
        if record:
            ledger.record(s)
        return s
