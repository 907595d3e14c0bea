"""Clean settlements that sit exactly on a boundary of contract §3, where an engine that
reads a rule a little wrong produces a false finding: age exactly `age_max`, a price
within the 0.005 tolerance, readmission after 16 days, exactly 7 days of supply left,
exactly half a stay treated, a reversal that undoes a third institution, a redelivered
event that must not count twice, and more. None of these may produce any finding.
"""

from __future__ import annotations

from collections.abc import Callable

from claimguard.synth.clock import MINUTES_PER_DAY, at
from claimguard.synth.ledger import Ledger
from claimguard.synth.population import Person, born_for_age
from claimguard.synth.settlement import Settlement
from claimguard.synth.visits import CHILD_MAX_AGE, Visits
from claimguard.synth.world import World


class EdgeCases:
    def __init__(self, world: World, visits: Visits) -> None:
        self.w = world
        self.v = visits
        self.rng = world.rng
        self.cat = world.catalog
        self.cases: dict[str, Callable[[], list[Settlement]]] = {
            "age_exactly_max": self.age_exactly_max,
            "age_exactly_min": self.age_exactly_min,
            "price_within_tolerance": self.price_within_tolerance,
            "readmission_after_16_days": self.readmission_after_16_days,
            "supply_exactly_7_days_left": self.supply_exactly_7_days_left,
            "half_of_stay_treated": self.half_of_stay_treated,
            "short_sparse_stay": self.short_sparse_stay,
            "reversal_undoes_third_institution": self.reversal_undoes_third_institution,
            "reversal_undoes_repeat": self.reversal_undoes_repeat,
            "seven_visits_in_30_days": self.seven_visits_in_30_days,
            "eighth_visit_30_days_after_first": self.eighth_visit_30_days_after_first,
            "two_institutions_same_day": self.two_institutions_same_day,
            "three_visits_two_institutions": self.three_visits_two_institutions,
            "visit_at_discharge_time": self.visit_at_discharge_time,
            "visit_same_hospital_during_stay": self.visit_same_hospital_during_stay,
            "readmission_other_hospital": self.readmission_other_hospital,
            "visit_on_death_day": self.visit_on_death_day,
            "suspension_edges": self.suspension_edges,
            "limited_service_at_limit_redelivered": self.limited_service_at_limit,
        }

    def _day(self, span: int = 0) -> int:
        return self.rng.randrange(0, max(1, self.w.days - span))

    def _adult(self) -> Person:
        return self.w.people.new(age=self.rng.randint(20, 75))

    def age_exactly_max(self) -> list[Settlement]:
        day = self._day()
        born = born_for_age(CHILD_MAX_AGE, self.w.clock.date(day), 364)  # 15 tomorrow
        person = self.w.people.new(born=born)
        s = self.v.outpatient(person, day, Ledger(), diagnoses=("J06.900",), avoid={"pediatric"})
        s.lines.append(self.v.drug(self.cat.role("pediatric"), s.lines[0].performed_at, days=5))
        return [s]

    def age_exactly_min(self) -> list[Settlement]:
        day = self._day()
        person = self.w.people.new(born=born_for_age(60, self.w.clock.date(day), 0))
        s = self.v.outpatient(person, day, Ledger(), avoid={"geriatric"})
        s.lines.append(self.v.service(self.cat.role("geriatric"), s.lines[0].performed_at))
        return [s]

    def price_within_tolerance(self) -> list[Settlement]:
        s = self.v.outpatient(self.w.people.new(), self._day(), Ledger(), drugs=2)
        for line, extra in zip(s.lines, (0.004, 0.0, 0.004), strict=False):
            line.unit_price = round(self.cat.by_code[line.code].max_unit_price + extra, 3)
        return [s]

    def readmission_after_16_days(self) -> list[Settlement]:
        return self._two_stays(16, same_hospital=True)

    def readmission_other_hospital(self) -> list[Settlement]:
        return self._two_stays(self.rng.randint(0, 15), same_hospital=False)

    def _two_stays(self, gap: int, *, same_hospital: bool) -> list[Settlement]:
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        first_los, second_los = rng.randint(2, 6), rng.randint(2, 6)
        day = self._day(first_los + gap + second_los + 1)
        first = v.inpatient(person, day, first_los, ledger)
        hospital = (
            first.institution
            if same_hospital
            else v.institution(person, "hospital", exclude={first.institution.code})
        )
        admit_minute = first.at + rng.randint(60, 240) if gap == 0 else None
        second = v.inpatient(
            person, first.day + gap, second_los, ledger, inst=hospital, admit_minute=admit_minute
        )
        return [first, second]

    def supply_exactly_7_days_left(self) -> list[Settlement]:
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        item = rng.choice([d for d in self.cat.drugs if (d.max_days_supply or 0) >= 14])
        supply = rng.choice([d for d in (14, 21, 28, 30) if d <= (item.max_days_supply or 30)])
        day = self._day(supply)
        first = v.pharmacy(person, day, ledger, avoid={item.code}, record=False)
        first.lines.append(v.drug(item, first.lines[0].performed_at, days=supply))
        ledger.record(first)
        second = v.pharmacy(person, day + supply - 7, ledger, avoid={item.code})
        second.lines.append(v.drug(item, second.lines[0].performed_at, days=supply))
        return [first, second]

    def half_of_stay_treated(self) -> list[Settlement]:
        rng = self.rng
        los = rng.choice((4, 6, 8, 10))
        day = self._day(los + 1)
        treated = {day, *rng.sample(range(day + 1, day + los), los // 2 - 1)}
        return [self.v.inpatient(self._adult(), day, los, Ledger(), treated=treated)]

    def short_sparse_stay(self) -> list[Settlement]:
        day = self._day(4)
        return [self.v.inpatient(self._adult(), day, 3, Ledger(), treated={day})]

    def _same_day(self, hours: list[int], places: list[int]) -> list[Settlement]:
        """Outpatient visits of one patient on one day; `places` indexes distinct clinics."""
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        day = self._day()
        insts = []
        for _ in range(max(places) + 1):
            insts.append(
                v.institution(
                    person, rng.choice(("hospital", "clinic")), exclude={i.code for i in insts}
                )
            )
        return [
            v.outpatient(
                person,
                day,
                ledger,
                inst=insts[p],
                minute=at(day, hour, rng.randint(0, 50)),
                avoid={"iv", "im"},
            )
            for hour, p in zip(hours, places, strict=True)
        ]

    def reversal_undoes_third_institution(self) -> list[Settlement]:
        first, second, third = self._same_day([8, 11, 15], [0, 1, 2])
        second.reversal_at = second.at + self.rng.randint(30, 150)  # before the third visit
        second.reversal_full = self.rng.random() < 0.5
        return [first, second, third]

    def two_institutions_same_day(self) -> list[Settlement]:
        return self._same_day([9, 15], [0, 1])

    def three_visits_two_institutions(self) -> list[Settlement]:
        return self._same_day([8, 12, 16], [0, 1, 0])

    def reversal_undoes_repeat(self) -> list[Settlement]:
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        item = rng.choice([d for d in self.cat.drugs if (d.max_days_supply or 0) >= 28])
        day = self._day(6)
        first = v.pharmacy(person, day, ledger, avoid={item.code}, record=False)
        first.lines.append(v.drug(item, first.lines[0].performed_at, days=28))
        first.reversal_at = first.at + rng.randint(60, 600)
        first.reversal_full = rng.random() < 0.5
        ledger.record(first)
        later = day + rng.randint(2, 5)
        ledger.supply_until.pop(item.code)  # the reversal took that supply back
        second = v.pharmacy(person, later, ledger, avoid={item.code})
        second.lines.append(v.drug(item, second.lines[0].performed_at, days=28))
        return [first, second]

    def _visits_on(self, days: list[int], minute_of_day: int | None = None) -> list[Settlement]:
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        places = [v.outpatient_institution(person) for _ in range(rng.randint(1, 3))]
        return [
            v.outpatient(
                person,
                d,
                ledger,
                inst=rng.choice(places),
                minute=None if minute_of_day is None else d * MINUTES_PER_DAY + minute_of_day,
            )
            for d in days
        ]

    def seven_visits_in_30_days(self) -> list[Settlement]:
        start = self._day(29)
        return self._visits_on(sorted(self.rng.sample(range(start, start + 28), 7)))

    def eighth_visit_30_days_after_first(self) -> list[Settlement]:
        # The window is (t − 30 days, t]: a visit exactly 30 days earlier is outside it.
        start = self._day(31)
        middle = self.rng.sample(range(start + 1, start + 30), 6)
        return self._visits_on(
            [start, *sorted(middle), start + 30], minute_of_day=self.rng.randint(9 * 60, 11 * 60)
        )

    def visit_at_discharge_time(self) -> list[Settlement]:
        # The stay is [admitted_at, discharged_at): a visit at discharged_at is outside it.
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        day = self._day(8)
        stay = v.inpatient(person, day, rng.randint(2, 6), ledger)
        inst = v.institution(person, "clinic", exclude={stay.institution.code})
        visit = v.outpatient(
            person, stay.day, ledger, inst=inst, minute=stay.at, avoid=stay.codes()
        )
        return [stay, visit]

    def visit_same_hospital_during_stay(self) -> list[Settlement]:
        # OVERLAPPING_STAY needs another institution.
        rng, v = self.rng, self.v
        person = self._adult()
        ledger = Ledger()
        los = rng.randint(3, 7)
        day = self._day(los + 1)
        stay = v.inpatient(person, day, los, ledger)
        visit_day = day + rng.randint(1, los - 1)
        visit = v.outpatient(
            person,
            visit_day,
            ledger,
            inst=stay.institution,
            minute=at(visit_day, rng.randint(9, 16)),
            avoid=stay.codes(),
        )
        return [stay, visit]

    def visit_on_death_day(self) -> list[Settlement]:
        person = self._adult()
        day = self._day()
        person.deceased_on = self.w.clock.date(day)
        return [self.v.outpatient(person, day, Ledger())]

    def suspension_edges(self) -> list[Settlement]:
        made: list[Settlement] = []
        geo = self.w.geo
        for inst in [*geo.suspended, *geo.terminated]:
            edges = [(inst.suspended_from or 0) - 1]
            if inst.status == "suspended":
                edges.append((inst.suspended_to or 0) + 1)
            for day in edges:
                if not 0 <= day < self.w.days:
                    continue
                person = self.w.people.new(county=geo.county(inst.region))
                if inst.kind == "pharmacy":
                    made.append(self.v.pharmacy(person, day, Ledger(), inst=inst))
                else:
                    made.append(self.v.outpatient(person, day, Ledger(), inst=inst))
        return made

    def limited_service_at_limit(self) -> list[Settlement]:
        # Two visits, one intramuscular injection each: 2 = max_per_day, not over it. The
        # second settled event is delivered twice; counting it twice would make 3.
        first, second = self._same_day([8, 14], [0, 1])
        im, syringe = self.cat.role("im"), self.cat.role("syringe")
        for s in (first, second):
            s.lines.append(self.v.service(im, s.lines[0].performed_at))
            s.lines.append(self.v.service(syringe, s.lines[0].performed_at))
        second.redeliver = "settled"
        return [first, second]
