"""The item catalog (医保目录): drugs, services and consumables, each with a `role`.

Roles name what the generator uses an item for ("bed", "pediatric", "bundle" ...); the
restrictions on a role are fixed so that background and injections can rely on them,
while codes and price caps are drawn from the seed.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Literal

ItemKind = Literal["drug", "service", "consumable"]


@dataclass(frozen=True, slots=True)
class CatalogItem:
    code: str
    kind: ItemKind
    name: str
    role: str
    max_unit_price: float
    covered: bool = True
    gender: Literal["M", "F"] | None = None
    age_min: int | None = None
    age_max: int | None = None
    indications: tuple[str, ...] = ()
    max_daily_quantity: int | None = None
    max_days_supply: int | None = None
    max_per_day: int | None = None
    min_institution_level: int | None = None
    excludes: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()  # diagnosis prefixes the drug is usually given for (realism only)


@dataclass(frozen=True, slots=True)
class _Limits:
    """The restrictions of a role (contract §2 columns); empty means none."""

    covered: bool = True
    gender: Literal["M", "F"] | None = None
    age_min: int | None = None
    age_max: int | None = None
    indications: tuple[str, ...] = ()
    max_per_day: int | None = None
    min_institution_level: int | None = None


_NONE = _Limits()


@dataclass(frozen=True, slots=True)
class _DrugDef:
    role: str
    name: str
    atc: str
    price: float
    max_daily: int
    max_days: int
    uses: tuple[str, ...]
    limits: _Limits = _NONE


# Drugs. Prices are per dose unit (片/粒/袋); max_daily in units, max_days in days of supply.
_DRUGS: tuple[_DrugDef, ...] = (
    _DrugDef("drug", "阿莫西林胶囊", "J01CA", 0.85, 4, 14, ("J06", "J20", "J18")),
    _DrugDef("drug", "头孢克肟分散片", "J01DD", 3.60, 2, 14, ("J20", "J18")),
    _DrugDef("drug", "左氧氟沙星片", "J01MA", 4.20, 1, 14, ("J20", "J18")),
    _DrugDef("drug", "布洛芬缓释胶囊", "M01AE", 1.20, 2, 7, ("J06", "M54", "S82")),
    _DrugDef("drug", "氯雷他定片", "R06AX", 1.80, 1, 14, ("J06", "L30")),
    _DrugDef("drug", "复方甘草片", "R05FA", 0.12, 9, 7, ("J06", "J20")),
    _DrugDef("drug", "奥美拉唑肠溶胶囊", "A02BC", 1.10, 2, 30, ("K29", "K35")),
    _DrugDef("drug", "蒙脱石散", "A07BC", 1.50, 3, 7, ("K29",)),
    _DrugDef("drug", "苯磺酸氨氯地平片", "C08CA", 1.50, 1, 30, ("I10", "I63")),
    _DrugDef("drug", "缬沙坦胶囊", "C09CA", 2.50, 1, 30, ("I10",)),
    _DrugDef("drug", "阿托伐他汀钙片", "C10AA", 3.00, 1, 30, ("I10", "I63", "E11")),
    _DrugDef("drug", "硝苯地平控释片", "C08CA", 3.30, 1, 30, ("I10",)),
    _DrugDef("drug", "塞来昔布胶囊", "M01AH", 4.50, 2, 14, ("M54", "S82")),
    _DrugDef("drug", "阿司匹林肠溶片", "B01AC", 0.20, 1, 30, ("I63", "I10")),
    _DrugDef("drug", "糠酸莫米松乳膏", "D07AC", 22.00, 1, 14, ("L30",)),
    _DrugDef(
        "indicated",
        "盐酸二甲双胍缓释片",
        "A10BA",
        0.60,
        3,
        30,
        ("E11",),
        _Limits(indications=("E11", "E13")),
    ),
    _DrugDef(
        "male_drug",
        "盐酸坦索罗辛缓释胶囊",
        "G04CA",
        3.20,
        1,
        30,
        ("N40",),
        _Limits(gender="M", indications=("N40",)),
    ),
    _DrugDef(
        "female_drug",
        "硝呋太尔制霉素阴道软胶囊",
        "G01AX",
        6.00,
        1,
        10,
        ("N76",),
        _Limits(gender="F", indications=("N76", "N77")),
    ),
    _DrugDef(
        "pediatric",
        "小儿氨酚黄那敏颗粒",
        "N02BE",
        1.00,
        3,
        7,
        ("J06",),
        _Limits(age_min=0, age_max=14),
    ),
    _DrugDef("noncovered", "辅酶Q10软胶囊", "C01EB", 4.00, 3, 30, (), _Limits(covered=False)),
)

# Services and consumables: (role, kind, name, price, restrictions).
_OTHERS: tuple[tuple[str, ItemKind, str, float, _Limits], ...] = (
    ("consult", "service", "普通门诊诊查费", 10.0, _NONE),
    ("expert", "service", "副主任医师门诊诊查费", 25.0, _NONE),
    ("cbc", "service", "血细胞分析", 20.0, _NONE),
    ("crp", "service", "C反应蛋白测定", 30.0, _NONE),
    ("bundle", "service", "血细胞分析+C反应蛋白联合检测", 42.0, _NONE),  # excludes cbc
    ("exam", "service", "肝功能检测", 60.0, _NONE),
    ("exam", "service", "空腹血糖测定", 8.0, _NONE),
    ("exam", "service", "糖化血红蛋白测定", 55.0, _NONE),
    ("exam", "service", "常规心电图检查", 25.0, _NONE),
    ("exam", "service", "数字化X线摄影(DR)", 80.0, _NONE),
    ("exam", "service", "彩色多普勒超声检查", 180.0, _NONE),
    ("ct", "service", "X线计算机体层(CT)平扫", 260.0, _Limits(min_institution_level=2)),
    ("petct", "service", "PET/CT显像", 6800.0, _Limits(min_institution_level=3)),
    ("iv", "service", "静脉输液", 12.0, _Limits(max_per_day=1)),
    ("im", "service", "肌肉注射", 5.0, _Limits(max_per_day=2)),
    ("bed", "service", "床位费(普通病房)", 50.0, _Limits(max_per_day=1)),
    ("nursing", "service", "一级护理", 30.0, _Limits(max_per_day=1)),
    ("geriatric", "service", "老年综合评估", 120.0, _Limits(age_min=60)),
    ("gyn", "service", "妇科检查", 20.0, _Limits(gender="F")),
    ("psa", "service", "前列腺特异性抗原测定", 60.0, _Limits(gender="M")),
    ("surgery_k35", "service", "阑尾切除术", 1600.0, _NONE),
    ("surgery_s82", "service", "骨折切开复位内固定术", 3200.0, _NONE),
    ("infusion_set", "consumable", "一次性使用输液器", 6.0, _NONE),
    ("syringe", "consumable", "一次性使用无菌注射器", 1.5, _NONE),
    ("stapler", "consumable", "一次性使用腔镜吻合器", 2200.0, _NONE),
    ("bone_plate", "consumable", "接骨板", 3500.0, _NONE),
)


class Catalog:
    """All items, plus look-ups by role and by usual diagnosis."""

    def __init__(self, items: list[CatalogItem]) -> None:
        self.items = items
        self.by_code = {item.code: item for item in items}
        self._by_role: dict[str, list[CatalogItem]] = {}
        for item in items:
            self._by_role.setdefault(item.role, []).append(item)
        self.drugs = self._by_role["drug"]
        self.exams = self._by_role["exam"]

    def role(self, role: str) -> CatalogItem:
        return self._by_role[role][0]

    def all_of(self, role: str) -> list[CatalogItem]:
        return self._by_role[role]

    def drugs_for(self, diagnosis: str) -> list[CatalogItem]:
        prefix = diagnosis[:3]
        matching = [d for d in self.drugs if prefix in d.uses]
        return matching or self.drugs

    def unknown_code(self, rng: random.Random, kind: ItemKind) -> str:
        """A well-formed code that is not in the catalog."""
        while True:
            code = _code(rng, kind, "Z99ZZ")
            if code not in self.by_code:
                return code


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _code(rng: random.Random, kind: ItemKind, atc: str) -> str:
    # Shapes of the national codes: drugs X+ATC+…(23), services 15 digits, consumables C+26.
    if kind == "drug":
        return f"X{atc}A{_digits(rng, 3)}{rng.choice('ABE')}{_digits(rng, 12)}"
    if kind == "service":
        return "00" + _digits(rng, 13)
    return "C" + _digits(rng, 26)


def build_catalog(rng: random.Random) -> Catalog:
    items: list[CatalogItem] = []
    used: set[str] = set()

    def fresh(kind: ItemKind, atc: str = "") -> str:
        while True:
            code = _code(rng, kind, atc)
            if code not in used:
                used.add(code)
                return code

    def cap(price: float) -> float:
        return round(price * rng.uniform(0.85, 1.2), 2)

    for d in _DRUGS:
        items.append(
            CatalogItem(
                code=fresh("drug", d.atc),
                kind="drug",
                name=d.name,
                role=d.role,
                max_unit_price=cap(d.price),
                max_daily_quantity=d.max_daily,
                max_days_supply=d.max_days,
                uses=d.uses,
                **asdict(d.limits),
            )
        )
    codes_by_role: dict[str, str] = {}
    for role, kind, name, price, limits in _OTHERS:
        code = fresh(kind)
        codes_by_role.setdefault(role, code)
        excludes = (codes_by_role["cbc"],) if role == "bundle" else ()
        items.append(
            CatalogItem(
                code=code,
                kind=kind,
                name=name,
                role=role,
                max_unit_price=cap(price),
                excludes=excludes,
                **asdict(limits),
            )
        )
    return Catalog(items)
