"""Insured persons (参保人): pseudonymous ids, gender, birth date, 参保地 and scheme."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Literal

from claimguard.synth.geography import COUNTIES, County

Gender = Literal["M", "F"]


@dataclass(slots=True)
class Person:
    person_id: str
    gender: Gender
    birth_date: dt.date
    county: County  # 参保地, and where the person mostly seeks care
    scheme: Literal["employee", "resident"]
    deceased_on: dt.date | None = None

    def age_on(self, day: dt.date) -> int:
        """Age in whole years on `day` (contract §3 AGE_MISMATCH)."""
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday


def born_for_age(age: int, on: dt.date, days_since_birthday: int) -> dt.date:
    """A birth date that makes a person exactly `age` on `on`, with the last birthday
    `days_since_birthday` (0–360) days earlier. Feb 29 births are avoided."""
    last_birthday = on - dt.timedelta(days=days_since_birthday)
    if (last_birthday.month, last_birthday.day) == (2, 29):
        last_birthday -= dt.timedelta(days=1)
    return last_birthday.replace(year=last_birthday.year - age)


class People:
    """Makes persons with unique random ids; counties weighted like unequal populations."""

    def __init__(self, rng: random.Random, start: dt.date) -> None:
        self._rng = rng
        self._start = start
        self._ids: set[str] = set()
        self._weights = [rng.uniform(0.5, 2.0) for _ in COUNTIES]
        self.made: list[Person] = []

    def _fresh_id(self) -> str:
        while True:
            pid = "P" + "".join(self._rng.choice("0123456789") for _ in range(10))
            if pid not in self._ids:
                self._ids.add(pid)
                return pid

    def county(self) -> County:
        return self._rng.choices(COUNTIES, self._weights)[0]

    def new(
        self,
        *,
        age: int | None = None,
        gender: Gender | None = None,
        county: County | None = None,
        born: dt.date | None = None,
    ) -> Person:
        rng = self._rng
        if born is None:
            if age is None:
                group = rng.random()
                age = (
                    rng.randint(0, 14)
                    if group < 0.14
                    else rng.randint(15, 59)
                    if group < 0.70
                    else rng.randint(60, 92)
                )
            born = born_for_age(age, self._start, rng.randint(0, 360))
        years = self._start.year - born.year
        scheme: Literal["employee", "resident"] = (
            "employee" if 20 <= years <= 70 and rng.random() < 0.6 else "resident"
        )
        person = Person(
            person_id=self._fresh_id(),
            gender=gender or rng.choice(("M", "F")),
            birth_date=born,
            county=county or self.county(),
            scheme=scheme,
        )
        self.made.append(person)
        return person
