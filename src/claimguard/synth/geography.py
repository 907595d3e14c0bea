"""Regions, institutions (定点医药机构) and doctors (医保医师) of the synthetic world."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

InstitutionKind = Literal["hospital", "clinic", "pharmacy"]
AgreementStatus = Literal["active", "suspended", "terminated"]


@dataclass(frozen=True, slots=True)
class County:
    code: str
    name: str
    parent: str  # the city, or the province for a 省直辖县级 (CC = 90) county
    parent_name: str
    province: str
    province_name: str


# Municipality districts (110105, 500101) and 省直辖县级 cities (429004, 469005) included
# on purpose: their parents are not derived the ordinary way.
COUNTIES: tuple[County, ...] = (
    County("320602", "崇川区", "320600", "南通市", "320000", "江苏省"),
    County("320612", "通州区", "320600", "南通市", "320000", "江苏省"),
    County("320681", "启东市", "320600", "南通市", "320000", "江苏省"),
    County("320106", "鼓楼区", "320100", "南京市", "320000", "江苏省"),
    County("440703", "蓬江区", "440700", "江门市", "440000", "广东省"),
    County("440785", "恩平市", "440700", "江门市", "440000", "广东省"),
    County("440305", "南山区", "440300", "深圳市", "440000", "广东省"),
    County("110105", "朝阳区", "110100", "北京市市辖区", "110000", "北京市"),
    County("429004", "仙桃市", "420000", "湖北省", "420000", "湖北省"),
    County("420106", "武昌区", "420100", "武汉市", "420000", "湖北省"),
    County("330106", "西湖区", "330100", "杭州市", "330000", "浙江省"),
    County("510104", "锦江区", "510100", "成都市", "510000", "四川省"),
    County("469005", "文昌市", "460000", "海南省", "460000", "海南省"),
    County("500101", "万州区", "500100", "重庆市市辖区", "500000", "重庆市"),
)

DEPARTMENTS = {"A02": "全科医疗科", "A03": "内科", "A04": "外科", "A05": "妇产科", "A07": "儿科"}
HOSPITAL_DEPARTMENTS = ("A02", "A03", "A04", "A05", "A07")
CLINIC_DEPARTMENTS = ("A02", "A03")

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶"
    "程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
)
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红文斌海燕春晓辉鹏飞宇浩然"
_PHARMACY_BRANDS = ("老百姓", "益丰", "大参林", "国大", "一心堂", "海王星辰")


def person_name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.randint(1, 2)))


@dataclass(slots=True)
class InstitutionSpec:
    code: str
    name: str
    kind: InstitutionKind
    level: int
    region: str
    departments: tuple[str, ...]
    status: AgreementStatus = "active"
    suspended_from: int | None = None  # simulated day
    suspended_to: int | None = None

    def open_on(self, day: int) -> bool:
        """Whether the agreement is in force on `day` (contract §2)."""
        if self.status == "suspended":
            lo = self.suspended_from if self.suspended_from is not None else -(10**9)
            hi = self.suspended_to if self.suspended_to is not None else 10**9
            return not lo <= day <= hi
        if self.status == "terminated":
            return self.suspended_from is not None and day < self.suspended_from
        return True


@dataclass(frozen=True, slots=True)
class DoctorSpec:
    code: str
    name: str
    institution_code: str
    departments: tuple[str, ...]
    status: Literal["active", "suspended"] = "active"


class Geography:
    """Everything with an address; indexes the (doctor, department) pairs valid for practice."""

    def __init__(self, rng: random.Random, days: int, scale: int) -> None:
        self._rng = rng
        self._used: set[str] = set()
        self.counties = COUNTIES
        self.institutions: list[InstitutionSpec] = []
        self.doctors: list[DoctorSpec] = []
        # Regular institutions are always open; background patients use only these.
        self.regular: dict[str, dict[InstitutionKind, list[InstitutionSpec]]] = {}
        self.practice: dict[str, list[tuple[DoctorSpec, str]]] = {}
        self.suspended_doctors: list[DoctorSpec] = []
        # (doctor, department the doctor holds but the institution is not licensed for)
        self.unlicensed: list[tuple[DoctorSpec, str]] = []
        self.by_code: dict[str, InstitutionSpec] = {}
        for county in COUNTIES:
            self.regular[county.code] = {"hospital": [], "clinic": [], "pharmacy": []}
            self._populate(county, scale)
        self.suspended = [
            self._special(rng.choice(COUNTIES), "hospital", 2, "suspended", days),
            self._special(rng.choice(COUNTIES), "hospital", 3, "suspended", days),
            self._special(rng.choice(COUNTIES), "pharmacy", 0, "suspended", days),
        ]
        self.terminated = [self._special(rng.choice(COUNTIES), "clinic", 1, "terminated", days)]

    # -- construction ------------------------------------------------------------------

    def _code(self, prefix: str, region: str, digits: int) -> str:
        while True:
            code = prefix + region + "".join(self._rng.choice("0123456789") for _ in range(digits))
            if code not in self._used:
                self._used.add(code)
                return code

    def _add_institution(
        self, county: County, kind: InstitutionKind, level: int, name: str
    ) -> InstitutionSpec:
        prefix = "P" if kind == "pharmacy" else "H"
        departments: tuple[str, ...] = ()
        if kind == "hospital":
            departments = HOSPITAL_DEPARTMENTS if level < 3 else HOSPITAL_DEPARTMENTS[1:]
        elif kind == "clinic":
            departments = CLINIC_DEPARTMENTS
        inst = InstitutionSpec(
            self._code(prefix, county.code, 5), name, kind, level, county.code, departments
        )
        self.institutions.append(inst)
        self.by_code[inst.code] = inst
        self._staff(inst)
        return inst

    def _doctor(
        self, inst: InstitutionSpec, departments: tuple[str, ...], status: str = "active"
    ) -> DoctorSpec:
        doctor = DoctorSpec(
            self._code("D", inst.region, 6),
            person_name(self._rng),
            inst.code,
            departments,
            "suspended" if status == "suspended" else "active",
        )
        self.doctors.append(doctor)
        return doctor

    def _staff(self, inst: InstitutionSpec) -> None:
        pairs: list[tuple[DoctorSpec, str]] = []
        rng = self._rng
        for dept in inst.departments:
            for _ in range(2 if inst.kind == "hospital" else 1):
                others = [d for d in inst.departments if d != dept]
                depts = (dept,) if not others or rng.random() < 0.6 else (dept, rng.choice(others))
                doctor = self._doctor(inst, depts)
                pairs.extend((doctor, d) for d in doctor.departments)
        self.practice[inst.code] = pairs
        if inst.kind == "hospital" and rng.random() < 0.5:
            self.suspended_doctors.append(
                self._doctor(inst, (rng.choice(inst.departments),), "suspended")
            )
        if inst.kind == "clinic" and rng.random() < 0.5:
            # A paediatrician registered at a clinic not licensed for paediatrics: only
            # ever seen in 全科 by the background.
            doctor = self._doctor(inst, ("A02", "A07"))
            self.practice[inst.code].append((doctor, "A02"))
            self.unlicensed.append((doctor, "A07"))

    def _populate(self, county: County, scale: int) -> None:
        rng = self._rng
        kinds = self.regular[county.code]
        n = county.name
        kinds["hospital"].append(self._add_institution(county, "hospital", 3, f"{n}人民医院"))
        for i in range(scale):
            kinds["hospital"].append(
                self._add_institution(county, "hospital", 3, f"{n}第{i + 2}人民医院")
            )
        for i in range(1 + scale):
            label = "中医医院" if i == 0 else f"第{i}中心医院"
            kinds["hospital"].append(self._add_institution(county, "hospital", 2, n + label))
        for i in range(2 * scale + 1):
            kinds["clinic"].append(
                self._add_institution(county, "clinic", 1, f"{n}第{i + 1}社区卫生服务中心")
            )
        for i in range(2 * scale + 1):
            brand = rng.choice(_PHARMACY_BRANDS)
            kinds["pharmacy"].append(
                self._add_institution(county, "pharmacy", 0, f"{brand}大药房({n}{i + 1}店)")
            )

    def _special(
        self,
        county: County,
        kind: InstitutionKind,
        level: int,
        status: AgreementStatus,
        days: int,
    ) -> InstitutionSpec:
        label = {"hospital": "康复医院", "clinic": "诊所", "pharmacy": "大药房"}[kind]
        inst = self._add_institution(county, kind, level, f"{county.name}仁和{label}")
        inst.status = status
        if status == "suspended":
            inst.suspended_from = self._rng.randint(days // 5, days // 2)
            inst.suspended_to = inst.suspended_from + self._rng.randint(6, 13)
        else:
            inst.suspended_from = self._rng.randint(days // 2, 3 * days // 4)
        return inst

    # -- look-ups ----------------------------------------------------------------------

    def county(self, code: str) -> County:
        return next(c for c in COUNTIES if c.code == code)

    def neighbours(self, county: County) -> list[County]:
        """Other counties of the same city (or province, for 省直辖县级)."""
        return [c for c in COUNTIES if c.parent == county.parent and c.code != county.code]

    def unknown_code(self, kind: InstitutionKind, region: str) -> str:
        """A well-formed institution code that is not in institutions.csv."""
        return self._code("P" if kind == "pharmacy" else "H", region, 5)

    def unknown_doctor(self, region: str) -> str:
        return self._code("D", region, 6)
