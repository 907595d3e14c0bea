"""One scenario per violation code: clean visits of a fresh patient, then one thing broken.

Each scenario returns every settlement it made and the ones that must be flagged with
its code. A scenario touches only its own code: a fresh patient keeps the cross-event
codes quiet, and each base visit is built clean with the breaking item kept out of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from dataclasses import dataclass

from claimguard.synth.clock import MINUTES_PER_DAY, at
from claimguard.synth.geography import County, InstitutionSpec
from claimguard.synth.ledger import Ledger
from claimguard.synth.population import Gender, Person, born_for_age
from claimguard.synth.settlement import Line, Settlement
from claimguard.synth.visits import CHILD_MAX_AGE, Visits
from claimguard.synth.world import World

PRECHECK_SHARE = 0.3
FREQUENT_VISITS = 8
FREQUENT_SPAN_DAYS = 28  # inside the 30-day window with room to spare


@dataclass(slots=True)
class Injection:
    settlements: list[Settlement]
    flagged: list[Settlement]
    variant: str


class Injector:
    def __init__(self, world: World, visits: Visits) -> None:
        self.w = world
        self.v = visits
        self.rng = world.rng
        self.cat = world.catalog
        self.geo = world.geo
        self.by_code: dict[str, Callable[[], Injection]] = {
            "GENDER_MISMATCH": self.gender,
            "AGE_MISMATCH": self.age,
            "INDICATION_MISMATCH": self.indication,
            "EXCESSIVE_QUANTITY": self.excessive_quantity,
            "OUT_OF_SCOPE_PRACTICE": self.out_of_scope,
            "NON_COVERED_ITEM": self.non_covered,
            "PRICE_OVER_CAP": self.price_over_cap,
            "DUPLICATE_CHARGE": self.duplicate,
            "BUNDLED_CHARGE": self.bundled,
            "LEVEL_RESTRICTED": self.level_restricted,
            "SUSPENDED_INSTITUTION": self.suspended_institution,
            "OVER_FREQUENCY": self.over_frequency,
            "DECEASED_PATIENT": self.deceased,
            "IDENTITY_MISMATCH": self.identity,
            "MULTI_INSTITUTION_SAME_DAY": self.multi_institution,
            "FREQUENT_VISITS": self.frequent_visits,
            "REPEAT_PRESCRIPTION": self.repeat_prescription,
            "SPLIT_HOSPITALIZATION": self.split_hospitalization,
            "OVERLAPPING_STAY": self.overlapping_stay,
            "BED_HOLDING": self.bed_holding,
        }

    def inject(self, code: str) -> Injection:
        injection = self.by_code[code]()
        for s in injection.settlements:
            s.precheck = self.rng.random() < PRECHECK_SHARE
        return injection

    # -- helpers -----------------------------------------------------------------------

    def _day(self, span: int = 0) -> int:
        """A day leaving `span` more days inside the period."""
        return self.rng.randrange(0, max(1, self.w.days - span))

    def _adult(self, *, gender: Gender | None = None, county: County | None = None) -> Person:
        return self.w.people.new(age=self.rng.randint(20, 75), gender=gender, county=county)

    def _person_for(self, department: str) -> Person:
        people, rng = self.w.people, self.rng
        if department == "A07":
            return people.new(age=rng.randint(2, 12))
        if department == "A05":
            return people.new(age=rng.randint(20, 55), gender="F")
        return self._adult()

    def _time(self, s: Settlement) -> int | None:
        return s.lines[0].performed_at if s.lines else s.at

    def _visit(
        self,
        person: Person,
        day: int,
        ledger: Ledger,
        *,
        diagnoses: tuple[str, ...] | None = None,
        avoid: Collection[str] = (),
        record: bool = True,
    ) -> Settlement:
        """An outpatient or a pharmacy visit, at random."""
        if self.rng.random() < 0.7:
            return self.v.outpatient(
                person, day, ledger, diagnoses=diagnoses, avoid=avoid, record=record
            )
        return self.v.pharmacy(person, day, ledger, diagnoses=diagnoses, avoid=avoid, record=record)

    def _single(self, s: Settlement, variant: str) -> Injection:
        return Injection([s], [s], variant)

    # -- norms -------------------------------------------------------------------------

    def gender(self) -> Injection:
        male = self.rng.random() < 0.5
        role = "gyn" if male else "psa"
        person = self._adult(gender="M" if male else "F")
        s = self.v.outpatient(person, self._day(), Ledger(), avoid={role})
        s.lines.append(self.v.service(self.cat.role(role), self._time(s)))
        return self._single(s, f"{role} for {person.gender}")

    def age(self) -> Injection:
        rng, people, clock = self.rng, self.w.people, self.w.clock
        day = self._day()
        variant = rng.choice(("adult_pediatric", "age_max_plus_one", "below_age_min"))
        if variant == "adult_pediatric":
            person = self._adult()
        elif variant == "age_max_plus_one":
            person = people.new(
                born=born_for_age(CHILD_MAX_AGE + 1, clock.date(day), rng.randint(0, 60))
            )
        else:
            age = rng.choice((59, rng.randint(35, 58)))
            person = people.new(born=born_for_age(age, clock.date(day), rng.randint(200, 364)))
        role = "geriatric" if variant == "below_age_min" else "pediatric"
        s = self.v.outpatient(
            person,
            day,
            Ledger(),
            avoid={role},
            diagnoses=("J06.900",) if role == "pediatric" else None,
        )
        item = self.cat.role(role)
        line = (
            self.v.service(item, self._time(s))
            if item.kind == "service"
            else self.v.drug(item, self._time(s), days=rng.choice((3, 5, 7)))
        )
        s.lines.append(line)
        return self._single(s, variant)

    def indication(self) -> Injection:
        person = self._adult()
        diagnosis = self.rng.choice(("J06.900", "K29.700", "M54.500", "I10.x00"))
        s = self._visit(person, self._day(), Ledger(), diagnoses=(diagnosis,), avoid={"indicated"})
        s.lines.append(self.v.drug(self.cat.role("indicated"), self._time(s), days=14))
        return self._single(s, f"{s.visit_type} {diagnosis}")

    def excessive_quantity(self) -> Injection:
        rng = self.rng
        s = self._visit(self._adult(), self._day(), Ledger())
        item = rng.choice([d for d in self.cat.drugs if d.code not in s.codes()])
        max_daily = item.max_daily_quantity or 1
        max_days = item.max_days_supply or 30
        variant = rng.choice(("days_over_max", "daily_over_max", "no_days_over_daily"))
        if variant == "days_over_max":
            days: int | None = max_days + rng.randint(1, 30)
            quantity = rng.randint(1, max_daily) * days
        elif variant == "daily_over_max":
            days = rng.choice([d for d in (3, 5, 7, 14, 30) if d <= max_days] or [max_days])
            quantity = (max_daily + rng.randint(1, 2)) * days
        else:
            days = None
            quantity = max_daily + rng.randint(1, 3)
        s.lines.append(Line(item.code, "drug", quantity, self.v.price(item), days, self._time(s)))
        return self._single(s, variant)

    def out_of_scope(self) -> Injection:
        rng, geo = self.rng, self.geo
        variant = rng.choice(
            (
                "suspended_doctor",
                "unknown_doctor",
                "department_not_doctors",
                "department_not_licensed",
            )
        )
        usable = [
            d for d in geo.suspended_doctors if geo.by_code[d.institution_code].status == "active"
        ]
        unlicensed = [
            (d, dept)
            for d, dept in geo.unlicensed
            if geo.by_code[d.institution_code].status == "active"
        ]
        if variant == "suspended_doctor" and usable:
            doctor = rng.choice(usable)
            inst = geo.by_code[doctor.institution_code]
            dept = rng.choice(doctor.departments)
            code = doctor.code
        elif variant == "department_not_licensed" and unlicensed:
            doctor, dept = rng.choice(unlicensed)
            inst = geo.by_code[doctor.institution_code]
            code = doctor.code
        elif variant == "department_not_doctors":
            inst = rng.choice(geo.regular[self.w.people.county().code]["hospital"])
            doctor, _ = rng.choice(geo.practice[inst.code])
            dept = rng.choice([d for d in inst.departments if d not in doctor.departments])
            code = doctor.code
        else:
            variant = "unknown_doctor"
            inst = rng.choice(geo.regular[self.w.people.county().code]["clinic"])
            _, dept = rng.choice(geo.practice[inst.code])
            code = geo.unknown_doctor(inst.region)
        person = self._person_for(dept)
        s = self.v.outpatient(person, self._day(), Ledger(), inst=inst, practitioner=(code, dept))
        return self._single(s, variant)

    # -- policy ------------------------------------------------------------------------

    def non_covered(self) -> Injection:
        rng = self.rng
        s = self._visit(self._adult(), self._day(), Ledger(), avoid={"noncovered"})
        t = self._time(s)
        variant = rng.choice(("listed_not_covered", "unknown_drug", "unknown_service"))
        if variant == "listed_not_covered":
            s.lines.append(self.v.drug(self.cat.role("noncovered"), t, days=30))
        elif variant == "unknown_drug" or s.visit_type == "pharmacy":
            variant = "unknown_drug"
            code = self.cat.unknown_code(rng, "drug")
            s.lines.append(Line(code, "drug", 14, round(rng.uniform(1, 30), 2), 7, t))
        else:
            code = self.cat.unknown_code(rng, "service")
            s.lines.append(Line(code, "service", 1, round(rng.uniform(20, 300), 2), None, t))
        return self._single(s, variant)

    def price_over_cap(self) -> Injection:
        rng = self.rng
        s = self._visit(self._adult(), self._day(), Ledger())
        line = rng.choice([ln for ln in s.lines if not ln.self_paid])
        cap = self.cat.by_code[line.code].max_unit_price
        if rng.random() < 0.3:
            variant, line.unit_price = "just_over_tolerance", round(cap + 0.01, 2)
        else:
            variant, line.unit_price = "well_over_cap", round(cap * rng.uniform(1.15, 1.8), 2)
        return self._single(s, f"{variant} {line.kind}")

    def duplicate(self) -> Injection:
        rng, cat = self.rng, self.cat
        if rng.random() < 0.25:
            s = self.v.inpatient(self._adult(), self._day(8), rng.randint(2, 6), Ledger())
            variant = "inpatient_same_time"
        else:
            s = self.v.outpatient(self._adult(), self._day(), Ledger())
            variant = "same_time"
        candidates = [
            ln for ln in s.lines if ln.kind != "drug" and cat.by_code[ln.code].max_per_day is None
        ]
        line = rng.choice(candidates)
        copy = dataclasses.replace(line)
        if variant == "same_time" and rng.random() < 0.4:
            variant = "both_without_time"
            line.performed_at = copy.performed_at = None
        s.lines.insert(s.lines.index(line) + 1, copy)
        return self._single(s, f"{variant} {line.kind}")

    def bundled(self) -> Injection:
        rng, cat = self.rng, self.cat
        avoid = {"bundle", "cbc"}
        if rng.random() < 0.25:
            s = self.v.inpatient(
                self._adult(), self._day(8), rng.randint(2, 6), Ledger(), avoid=avoid
            )
            t = s.lines[0].performed_at
        else:
            s = self.v.outpatient(self._adult(), self._day(), Ledger(), avoid=avoid)
            t = self._time(s)
        s.lines.append(self.v.service(cat.role("bundle"), t))
        s.lines.append(self.v.service(cat.role("cbc"), t))
        return self._single(s, s.visit_type)

    def level_restricted(self) -> Injection:
        rng, geo = self.rng, self.geo
        county = self.w.people.county()
        if rng.random() < 0.5:
            role = "ct"
            inst = rng.choice(geo.regular[county.code]["clinic"])
        else:
            role = "petct"
            pool = [i for i in geo.regular[county.code]["hospital"] if i.level < 3]
            inst = rng.choice(pool + geo.regular[county.code]["clinic"])
        person = self._adult(county=county)
        s = self.v.outpatient(person, self._day(), Ledger(), inst=inst, avoid={"ct", "petct"})
        s.lines.append(self.v.service(self.cat.role(role), self._time(s)))
        return self._single(s, f"{role} at level {inst.level}")

    def suspended_institution(self) -> Injection:
        rng, geo, w = self.rng, self.geo, self.w
        variant = rng.choice(("suspended", "terminated", "unknown"))
        if variant == "suspended":
            inst = rng.choice(geo.suspended)
            lo, hi = inst.suspended_from or 0, min(inst.suspended_to or 0, w.days - 1)
            day = rng.choice((lo, hi, rng.randint(lo, hi)))
        elif variant == "terminated":
            inst = rng.choice(geo.terminated)
            day = rng.randint(inst.suspended_from or 0, w.days - 1)
        else:
            county = w.people.county()
            inst = InstitutionSpec(
                geo.unknown_code("pharmacy", county.code), "", "pharmacy", 0, county.code, ()
            )
            day = self._day()
        person = self._adult(county=geo.county(inst.region))
        if inst.kind == "pharmacy":
            s = self.v.pharmacy(person, day, Ledger(), inst=inst)
        else:
            s = self.v.outpatient(person, day, Ledger(), inst=inst)
        return self._single(s, f"{variant} {inst.kind}")

    def over_frequency(self) -> Injection:
        rng, cat, v = self.rng, self.cat, self.v
        person = self._adult()
        ledger = Ledger()
        avoid = {"iv", "im"}
        variant = rng.choice(
            ("one_settlement", "iv_two_institutions", "im_second_visit", "inpatient_iv_twice")
        )
        if variant == "inpatient_iv_twice":
            day = self._day(8)
            s = v.inpatient(person, day, rng.randint(2, 6), ledger, avoid={"iv"})
            t = max(ln.performed_at or 0 for ln in s.lines if ln.performed_at is not None)
            when = t if t // MINUTES_PER_DAY < s.day else s.admitted_at or 0
            s.lines.append(v.service(cat.role("iv"), when + 1))
            s.lines.append(v.service(cat.role("iv"), when + 240))
            return self._single(s, variant)
        day = self._day()
        first = v.outpatient(
            person, day, ledger, minute=at(day, 8, rng.randint(0, 59)), avoid=avoid
        )
        if variant == "one_settlement":
            first.lines.append(v.service(cat.role("iv"), self._time(first), 2))
            return self._single(first, variant)
        role, q1 = ("iv", 1) if variant == "iv_two_institutions" else ("im", 2)
        first.lines.append(v.service(cat.role(role), self._time(first), q1))
        inst = (
            v.institution(person, "clinic", exclude={first.institution.code})
            if role == "iv" or rng.random() < 0.5
            else first.institution
        )
        second = v.outpatient(
            person, day, ledger, inst=inst, minute=at(day, 14, rng.randint(0, 59)), avoid=avoid
        )
        second.lines.append(v.service(cat.role(role), self._time(second), 1))
        return Injection([first, second], [second], variant)

    # -- authenticity ------------------------------------------------------------------

    def deceased(self) -> Injection:
        rng, w = self.rng, self.w
        day = self._day()
        person = self._adult()
        died = day - rng.choice((1, rng.randint(2, 30)))
        person.deceased_on = w.clock.date(died)
        ledger = Ledger()
        made: list[Settlement] = []
        if died >= 0 and rng.random() < 0.4:  # a genuine visit shortly before death
            made.append(self._visit(person, max(0, died - rng.randint(0, 5)), ledger))
        s = self._visit(person, day, ledger)
        made.append(s)
        return Injection(made, [s], f"{day - died} days after death")

    def identity(self) -> Injection:
        person = self._adult()
        holder = self.w.people.new(county=person.county)
        s = self.v.pharmacy(person, self._day(), Ledger())
        s.holder_id = holder.person_id
        return self._single(s, "holder is someone else")

    def multi_institution(self) -> Injection:
        rng, v = self.rng, self.v
        variant = rng.choice(("three", "four_with_return", "four"))
        person = self._adult()
        ledger = Ledger()
        day = self._day()
        n = 3 if variant == "three" else 4
        hours = sorted(rng.sample(range(8, 20), n))
        places: list[InstitutionSpec] = []
        for _ in range(n):
            kind = rng.choice(("hospital", "clinic", "pharmacy"))
            places.append(v.institution(person, kind, exclude={p.code for p in places}))
        if variant == "four_with_return":
            places[2] = places[0]
        made: list[Settlement] = []
        for inst, hour in zip(places, hours, strict=True):
            minute = at(day, hour, rng.randint(0, 50))
            if inst.kind == "pharmacy":
                made.append(v.pharmacy(person, day, ledger, inst=inst, minute=minute))
            else:
                made.append(v.outpatient(person, day, ledger, inst=inst, minute=minute))
        flagged = made[3:] if variant == "four_with_return" else made[2:]
        return Injection(made, flagged, variant)

    def frequent_visits(self) -> Injection:
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        start = self._day(FREQUENT_SPAN_DAYS + 1)
        n = FREQUENT_VISITS + (1 if rng.random() < 0.2 else 0)
        extra_pharmacy = rng.choice((0, 0, 1, 2))
        days = sorted(rng.sample(range(start, start + FREQUENT_SPAN_DAYS), n + extra_pharmacy))
        pharmacy_days = set(rng.sample(days[:-1], extra_pharmacy))
        places = [v.outpatient_institution(person) for _ in range(rng.randint(1, 3))]
        made: list[Settlement] = []
        outpatient: list[Settlement] = []
        for day in days:
            if day in pharmacy_days:
                made.append(v.pharmacy(person, day, ledger))
                continue
            s = v.outpatient(person, day, ledger, inst=rng.choice(places))
            made.append(s)
            outpatient.append(s)
        variant = f"{n} outpatient" + (f" + {extra_pharmacy} pharmacy" if extra_pharmacy else "")
        return Injection(made, outpatient[FREQUENT_VISITS - 1 :], variant)

    def repeat_prescription(self) -> Injection:
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        item = rng.choice([d for d in self.cat.drugs if (d.max_days_supply or 0) >= 14])
        max_days = item.max_days_supply or 30
        supply = rng.choice([d for d in (14, 21, 28, 30) if d <= max_days])
        gap = rng.randint(1, supply - 8)  # leaves at least 8 days: more than 7
        day = self._day(gap + 1)
        first = self._visit(person, day, ledger, avoid={item.code}, record=False)
        first.lines.append(self.v.drug(item, self._time(first), days=supply))
        ledger.record(first)
        same_place = rng.random() < 0.5 and first.visit_type == "pharmacy"
        if same_place:
            second = v.pharmacy(
                person, day + gap, ledger, inst=first.institution, avoid={item.code}
            )
        else:
            second = self._visit(person, day + gap, ledger, avoid={item.code})
        second.lines.append(self.v.drug(item, self._time(second), days=supply))
        left = supply - gap
        return Injection([first, second], [second], f"{left} days of supply left")

    def split_hospitalization(self) -> Injection:
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        first_los, gap, second_los = (
            rng.randint(2, 7),
            rng.choice((0, 15, rng.randint(1, 14))),
            rng.randint(2, 7),
        )
        day = self._day(first_los + gap + second_los + 1)
        hospital = v.institution(person, "hospital")
        first = v.inpatient(person, day, first_los, ledger, inst=hospital)
        admit = first.day + gap
        admit_minute = first.at + rng.randint(60, 240) if gap == 0 else None
        second = v.inpatient(
            person, admit, second_los, ledger, inst=hospital, admit_minute=admit_minute
        )
        return Injection([first, second], [second], f"readmitted after {gap} days")

    def overlapping_stay(self) -> Injection:
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        los = rng.randint(3, 8)
        day = self._day(los + 1)
        stay = v.inpatient(person, day, los, ledger)
        admitted = stay.admitted_at or 0
        variant = rng.choice(("mid_stay", "admission_day", "discharge_morning"))
        if variant == "mid_stay":
            minute = at(day + rng.randint(1, los - 1), rng.randint(9, 16), rng.randint(0, 59))
        elif variant == "admission_day":
            minute = admitted + rng.randint(120, 300)
        else:
            minute = stay.at - rng.randint(30, 90)
        avoid = stay.codes()
        visit_day = minute // MINUTES_PER_DAY
        if rng.random() < 0.6:
            inst = v.institution(
                person, rng.choice(("hospital", "clinic")), exclude={stay.institution.code}
            )
            visit = v.outpatient(person, visit_day, ledger, inst=inst, minute=minute, avoid=avoid)
        else:
            visit = v.pharmacy(person, visit_day, ledger, minute=minute, avoid=avoid)
        return Injection([stay, visit], [visit], f"{visit.visit_type} {variant}")

    def bed_holding(self) -> Injection:
        rng, v = self.rng, self.v
        los = rng.randint(4, 12)
        treated_count = rng.randint(1, (los - 1) // 2)  # fewer than half of the days
        day = self._day(los + 1)
        treated = {day, *rng.sample(range(day + 1, day + los), treated_count - 1)}
        s = v.inpatient(self._adult(), day, los, Ledger(), treated=treated)
        return self._single(s, f"{treated_count} of {los} days treated")
