# ruff: noqa: E501
"""One-off author's aid: writes the library packs rules/<layer>/library-*.yaml from the table
below (rule types, parameters, boundary test cases). The YAML it writes is what the engine
reads and what rule authors edit; rerun only to rebuild the packs wholesale."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from claimguard.library.nhsa import BY_CODE, CLEAR

ROOT = Path(__file__).resolve().parents[1] / "rules"
T0 = "2026-03-02T09:00:00+08:00"


def gz(serial: str) -> str:
    return f"GZ10000{serial}000"


def pt(code: str, codes: str, **kw: Any) -> dict[str, Any]:
    row = {"point_id": kw.pop("pid", "K1"), "rule": code, "codes": codes}
    row.update({k: (str(v) if not isinstance(v, str) else v) for k, v in kw.items()})
    return row


def ev(sid: str, items: list[dict] | None = None, **kw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"event_type": kw.pop("event_type", "settle"), "settlement_id": sid}
    e.update(kw)
    if items is not None:
        e["items"] = items
    return e


def it(code: str, **kw: Any) -> dict[str, Any]:
    return {"code": code, **kw}


def case(name: str, points: list[dict], events: list[dict], hits: list[str],
         action: str, items: dict[str, list[str]] | None = None) -> dict[str, Any]:
    expected = []
    for sid in hits:
        h: dict[str, Any] = {"settlement": sid, "action": action}
        if items and sid in items:
            h["items"] = items[sid]
        expected.append(h)
    return {"name": name, "knowledge": {"points": points}, "events": events, "hits": expected}


INPATIENT = {"visit_type": "inpatient", "admitted_at": "2026-03-01T09:00:00+08:00",
             "discharged_at": "2026-03-02T08:00:00+08:00"}

# Message templates per kind: (zh, en); {N} is replaced by the rule's name.
ITEM_MSG = ("{N}：{item.code}（知识点 {point.point_id}：{point.basis}），实际 {detail}",
            "{E}: {item.code} (knowledge point {point.point_id}: {point.basis}); found {detail}")
CODE_MSG = ("{N}：{detail}（知识点 {point.point_id}，编码 {point.codes}：{point.basis}）",
            "{E}: {detail} (knowledge point {point.point_id}, codes {point.codes}: {point.basis})")
VISIT_MSG = ("{N}：{detail}（结算 {event.settlement_id}）",
             "{E}: {detail} (settlement {event.settlement_id})")


def tests_for(check: str, code: str, params: dict, act: str, cc: str = "TX") -> list[dict]:
    """Boundary cases for one rule type: inside, exactly at, just past each threshold."""
    P = lambda **kw: [pt(code, cc, **kw)]  # noqa: E731
    if check == "insurance_type":
        value = params["_value"]
        other = "maternity" if value == "work_injury" else "work_injury"
        return [case(f"{value} passes; basic (absent) and {other} are hit", P(value=value), [
            ev("A", [it(cc)], visit={"insurance_type": value}),
            ev("B", [it(cc)]),
            ev("C", [it(cc)], visit={"insurance_type": other}),
        ], ["B", "C"], act, {"B": ["1"]})]
    if check == "not_payable":
        return [case("paid by the fund is hit, self-paid passes", P(), [
            ev("A", [it(cc, self_paid=True)]), ev("B", [it(cc), it("TBASE")])], ["B"], act,
            {"B": ["1"]})]
    if check == "single_herb":
        return [case("a herb alone in its decoction is hit; with another it passes",
                     [pt(code, f"{cc}|TY")], [
            ev("A", [it(cc, group="G1"), it("TY", group="G1")]),
            ev("B", [it(cc, group="G1"), it("TY", group="G2"), it("TZ", group="G2")]),
        ], ["B"], act, {"B": ["1"]})]
    if check == "second_line":
        return [case("first-line drug settled earlier this month passes; none is hit",
                     P(related="TFIRST"), [
            ev("A", [it("TFIRST")], event_type="settled", patient={"person_id": "P2"},
               occurred_at="2026-03-01T09:00:00+08:00"),
            ev("B", [it(cc)], patient={"person_id": "P2"}),
            ev("C", [it(cc)], patient={"person_id": "P3"}),
            ev("D", [it(cc), it("TFIRST")], patient={"person_id": "P4"}),
        ], ["C"], act)]
    if check == "age":
        unit, mode = params.get("unit", "years"), params.get("mode", "outside")
        lo, hi = params["_min"], params["_max"]
        if unit == "days":  # newborn: 0..28 days
            births = [("2026-02-02", False), ("2026-02-01", True), ("2026-02-20", False)]
            name = "28 days passes, 29 days is hit, 10 days passes"
        elif mode == "outside" and lo is None:  # child-only: 0..hi years
            births = [(f"{2026 - hi - 1}-03-03", False), (f"{2026 - hi - 1}-03-02", True),
                      ("2020-01-01", False)]
            name = f"exactly {hi} passes, {hi + 1} is hit, 6 passes"
        elif mode == "outside":  # lo..hi years
            births = [(f"{2026 - lo}-03-02", False), (f"{2026 - lo}-03-03", True),
                      (f"{2026 - hi - 1}-03-02", True), (f"{2026 - hi - 1}-03-03", False)]
            name = f"exactly {lo} and {hi} pass, a day under {lo} and {hi + 1} are hit"
        elif lo is None:  # forbidden up to hi years
            births = [(f"{2026 - hi - 1}-03-03", True), (f"{2026 - hi - 1}-03-02", False),
                      ("2021-01-01", True)]
            name = f"exactly {hi} is hit, {hi + 1} passes, 5 is hit"
        else:  # from lo years on
            births = [(f"{2026 - lo}-03-03", False), (f"{2026 - lo}-03-02", True),
                      ("1946-01-01", True)]
            name = f"{lo - 1} passes, exactly {lo} is hit, 80 is hit"
        kw = {}
        if lo is not None:
            kw["min"] = lo
        if hi is not None:
            kw["max"] = hi
        events = [ev(chr(65 + n), [it(cc)], patient={"birth_date": b})
                  for n, (b, _) in enumerate(births)]
        return [case(name, P(**kw), events, [chr(65 + n) for n, (_, h) in enumerate(births) if h],
                     act)]
    if check == "indication":
        return [case("a fitting diagnosis passes; none is hit", P(related="E11|E13"), [
            ev("A", [it(cc)], visit={"diagnoses": ["J06.900", "E11.900"]}),
            ev("B", [it(cc)], visit={"diagnoses": ["J06.900"]})], ["B"], act)]
    if check == "contraindication":
        return [case("a contraindicated diagnosis is hit; none passes", P(related="K25|K26"), [
            ev("A", [it(cc)], visit={"diagnoses": ["J06.900", "K25.000"]}),
            ev("B", [it(cc)], visit={"diagnoses": ["J06.900"]})], ["A"], act)]
    if check == "supply":
        return [case("30 days passes, 31 is hit, 10 passes", P(max=30), [
            ev("A", [it(cc, days=30)]), ev("B", [it(cc, days=31)]), ev("C", [it(cc, days=10)])],
            ["B"], act)]
    if check in ("course", "frequency", "period_amount"):
        # 自然月 totals over the patient's settled settlements: at the limit passes, past it
        # is hit, and a settlement in the next month starts again.
        if check == "course":
            lim, f = 30, lambda v: it(cc, days=v)
            vals = (20, 10, 1, 20)
        elif check == "frequency":
            lim, f = 4, lambda v: it(cc, kind="service", quantity=v, days=None)
            vals = (3, 1, 1, 4)
        else:
            lim, f = 100, lambda v: it(cc, kind="service", quantity=1, unit_price=v, days=None)
            vals = (60, 40, 0.01, 100)
        interval = params["_interval"]
        if interval == "当次":
            return [case(f"{lim} in one settlement passes, more is hit", P(max=lim), [
                ev("A", [f(vals[0]), f(vals[1])]), ev("B", [f(vals[0]), f(vals[1]), f(vals[2])])],
                ["B"], act)]
        days = {"自然日": ("2026-03-02T10:00", "2026-03-02T11:00", "2026-03-03T09:00"),
                "自然月": ("2026-03-05T09:00", "2026-03-06T09:00", "2026-04-01T09:00")}[interval]
        first = T0
        if check == "course":  # supplies end before the next starts: no repeat dispensing
            first, days = "2026-03-01T09:00:00+08:00", (
                "2026-03-21T09:00", "2026-03-31T09:00", "2026-04-01T09:00")
        return [case(f"{interval}: a total of {lim} passes, past it is hit, the next period "
                     "starts again", P(max=lim), [
            ev("A", [f(vals[0])], event_type="settled", occurred_at=first),
            ev("B", [f(vals[1])], event_type="settled", occurred_at=days[0] + ":00+08:00"),
            ev("C", [f(vals[2])], event_type="settled", occurred_at=days[1] + ":00+08:00"),
            ev("D", [f(vals[3])], event_type="settled", occurred_at=days[2] + ":00+08:00"),
        ], ["C"], "flag")]
    if check == "chronic_scope":
        return [case("a registered 门慢 disease passes; none or another is hit", P(related="I10"), [
            ev("A", [it(cc)], patient={"chronic_diseases": ["I10.x00"]}),
            ev("B", [it(cc)]), ev("C", [it(cc)], patient={"chronic_diseases": ["E11.900"]})],
            ["B", "C"], act)]
    if check == "level":
        return [case("level 3 (at min) passes, level 2 is hit", P(min=3), [
            ev("A", [it(cc)], institution={"level": 3}), ev("B", [it(cc)], institution={"level": 2})],
            ["B"], act)]
    if check == "price":
        return [case("50.005 (within the 0.005 tolerance) passes, 50.01 is hit", P(max=50), [
            ev("A", [it(cc, unit_price=50.005)]), ev("B", [it(cc, unit_price=50.01)]),
            ev("C", [it(cc, unit_price=40)])], ["B"], act)]
    if check == "secondary_discount":
        pts = [pt(code, "TOP1", max=1000), pt(code, "TOP2", max=800, pid="K2")]
        op = lambda c, p: it(c, kind="service", unit_price=p, days=None)  # noqa: E731
        return [case("the second operation at 50% passes, a cent more is hit, alone at full "
                     "price passes", pts, [
            ev("A", [op("TOP1", 1000), op("TOP2", 400)]),
            ev("B", [op("TOP1", 1000), op("TOP2", 400.01)]),
            ev("C", [op("TOP2", 800)])], ["B"], act, {"B": ["2", "1"]})]
    if check == "department":
        return [case("ordered by an allowed department passes; another is hit", P(related="A01"), [
            ev("A", [it(cc, department="A0101")]), ev("B", [it(cc, department="B02")]),
            ev("C", [it(cc)])], ["B"], act)]
    if check == "visit_type":
        return [case("inpatient passes, outpatient is hit", P(value="住院"), [
            ev("A", [it(cc)], visit=INPATIENT), ev("B", [it(cc)])], ["B"], act)]
    if check == "pair":
        return [case("both codes in one settlement are hit; one alone passes", P(related="TY"), [
            ev("A", [it(cc), it("TY")]), ev("B", [it(cc)])], ["A"], act, {"A": ["1", "2"]})]
    if check == "components":
        cs = "TC1|TC2|TC3"
        return [case("two of three components pass, all three are hit", [pt(code, cs, min=3)], [
            ev("A", [it("TC1"), it("TC2")]), ev("B", [it("TC1"), it("TC2"), it("TC3")])],
            ["B"], act, {"B": ["1", "2", "3"]})]
    if check == "requires":
        return [case("with the required service it passes; without it is hit",
                     P(related="TSVCX"), [
            ev("A", [it(cc), it("TSVCX", kind="service")]), ev("B", [it(cc)])], ["B"], act)]
    if check == "same_class":
        pts = [pt(code, cc, value="NSAID"), pt(code, "TY", value="NSAID", pid="K2"),
               pt(code, "TZ", value="PPI", pid="K3")]
        return [case("two drugs of one class are hit; different classes pass", pts, [
            ev("A", [it(cc), it("TY")]), ev("B", [it(cc), it("TZ")])], ["A"], act,
            {"A": ["1", "2"]})]
    if check == "gender":
        return [case("the patient's gender passes, the other is hit", P(value="F"), [
            ev("A", [it(cc)], patient={"gender": "F"}), ev("B", [it(cc)], patient={"gender": "M"})],
            ["B"], act)]
    if check == "pregnancy":
        return [case("pregnant and lactating are hit, unknown passes",
                     P(value="pregnant|lactating"), [
            ev("A", [it(cc)], patient={"gender": "F", "pregnancy": "pregnant"}),
            ev("B", [it(cc)], patient={"gender": "F"}),
            ev("C", [it(cc)], patient={"gender": "F", "pregnancy": "lactating"})], ["A", "C"], act)]
    if check == "daily_dose":
        return [case("3 a day (at max) passes, 3.03 a day is hit", P(max=3), [
            ev("A", [it(cc, quantity=9, days=3)]), ev("B", [it(cc, quantity=9.1, days=3)]),
            ev("C", [it(cc, quantity=3, days=3)])], ["B"], act)]
    if check == "quantity":
        return [case("10 (at max) passes, 10.5 is hit", P(max=10), [
            ev("A", [it(cc, quantity=10)]), ev("B", [it(cc, quantity=10.5)])], ["B"], act)]
    if check == "antibiotic_grade":
        return [case("authority 3 (at min) passes, 2 is hit, unknown passes", P(min=3), [
            ev("A", [it(cc)], visit={"antibiotic_authority": 3}),
            ev("B", [it(cc)], visit={"antibiotic_authority": 2}), ev("C", [it(cc)])], ["B"], act)]
    if check == "perioperative":
        return [case("1 day around an operation passes, 2 days is hit, no operation passes",
                     P(max=1), [
            ev("A", [it(cc, days=1)], visit={"operations": ["47.0901"]}),
            ev("B", [it(cc, days=2)], visit={"operations": ["47.0901"]}),
            ev("C", [it(cc, days=5)])], ["B"], act)]
    if check == "channel":
        return [case("through an internet hospital is hit; on site passes", P(), [
            ev("A", [it(cc)], visit={"channel": "internet"}),
            ev("B", [it(cc)], visit={"channel": "onsite"})], ["A"], act)]
    if check == "diagnosis_gender":
        return [case("a male-only diagnosis for a woman is hit", P(code_type="diagnosis", value="M"), [
            ev("A", [it("TBASE")], visit={"diagnoses": ["TX.100"]}),
            ev("B", [it("TBASE")], visit={"diagnoses": ["TX.100"]}, patient={"gender": "F"})],
            ["B"], act)]
    if check == "diagnosis_age":
        return [case("exactly 60 passes, 61 is hit", P(code_type="diagnosis", min=12, max=60), [
            ev("A", [it("TBASE")], visit={"diagnoses": ["TX.000"]},
               patient={"birth_date": "1965-03-03"}),
            ev("B", [it("TBASE")], visit={"diagnoses": ["TX.000"]},
               patient={"birth_date": "1965-03-02"})], ["B"], act)]
    if check == "diagnosis_without_item":
        return [case("a diagnosis with a related item passes; without one it is hit",
                     P(code_type="diagnosis", related="TINS"), [
            ev("A", [it("TINS")], visit={"diagnoses": ["TX.900"]}),
            ev("B", [it("TBASE")], visit={"diagnoses": ["TX.900"]})], ["B"], act)]
    if check == "low_admission":
        stay = lambda d: {**INPATIENT, "diagnoses": ["TX.900"],  # noqa: E731
                          "discharged_at": f"2026-03-0{1 + d}T08:00:00+08:00"}
        return [case("a stay of 2 days (at max) is hit, 3 days passes",
                     P(code_type="diagnosis", max=2), [
            ev("A", [it("TBASE")], event_type="settled", visit=stay(2),
               occurred_at="2026-03-03T09:00:00+08:00"),
            ev("B", [it("TBASE")], event_type="settled", visit=stay(3),
               occurred_at="2026-03-04T09:00:00+08:00", patient={"person_id": "P2"})],
            ["A"], "flag")]
    if check == "operation_gender":
        return [case("a female-only operation for a man is hit", P(code_type="operation", value="F"), [
            ev("A", [it("TBASE")], visit={"operations": [cc]}, patient={"gender": "F"}),
            ev("B", [it("TBASE")], visit={"operations": [cc]})], ["B"], act)]
    if check == "operation_diagnosis":
        return [case("an operation with a fitting diagnosis passes; without it is hit",
                     P(code_type="operation", related="K35"), [
            ev("A", [it("TBASE")], visit={"operations": [cc], "diagnoses": ["K35.800"]}),
            ev("B", [it("TBASE")], visit={"operations": [cc]})], ["B"], act)]
    if check == "operation_unknown":
        return [case("a listed operation code passes; an unlisted one is hit",
                     P(code_type="operation"), [
            ev("A", [it("TBASE")], visit={"operations": [cc]}),
            ev("B", [it("TBASE")], visit={"operations": [cc, "99.9999"]})], ["B"], act)]
    if check == "listing":
        return [case("a complete list passes; no diagnosis is hit", [], [
            ev("A"), ev("B", visit={"diagnoses": []})], ["B"], act)]
    if check == "amount_mismatch":
        return [case("amount within 0.005 of quantity × price passes, 0.01 off is hit", [], [
            ev("A", [it("TBASE", amount=10.005)]), ev("B", [it("TBASE", amount=10.01)])],
            ["B"], act)]
    if check == "late_upload":
        return [case("uploaded 24 h after the charge passes, 24 h 1 min is hit", [], [
            ev("A", [it("TBASE", uploaded_at="2026-03-03T09:00:00+08:00")]),
            ev("B", [it("TBASE", uploaded_at="2026-03-03T09:01:00+08:00")])], ["B"], act)]
    if check == "charge_outside_stay":
        return [case("charged on the discharge day passes, the day after is hit", [], [
            ev("A", [it("TBASE", performed_at="2026-03-02T07:00:00+08:00")], visit=INPATIENT),
            ev("B", [it("TBASE", performed_at="2026-03-03T07:00:00+08:00")], visit=INPATIENT)],
            ["B"], act)]
    if check == "drug_variety":
        n = params["max_drugs"]
        return [case(f"{n} drugs (at max) pass, {n + 1} are hit", [], [
            ev("A", [it(f"TD{k}") for k in range(n)]),
            ev("B", [it(f"TD{k}") for k in range(n + 1)])], ["B"], act)]
    if check == "herb_prescription":
        n = params["max_herbs"]
        return [case(f"a decoction of {n} herbs (at max) passes, {n + 1} is hit", [], [
            ev("A", [it(f"TH{k}", group="G1") for k in range(n)]),
            ev("B", [it(f"TH{k}", group="G1") for k in range(n + 1)])], ["B"], act)]
    raise SystemExit(f"no tests for {check}")


# (file, id suffix, nhsa code(s), check, params, interval, scenarios, code for tests, extra)
R = [
    ("policy/library-drugs", "drug-work-injury-only", gz("101001"), "insurance_type", {"_value": "work_injury"}),
    ("policy/library-drugs", "drug-maternity-only", gz("101002"), "insurance_type", {"_value": "maternity"}),
    ("policy/library-drugs", "herb-not-payable", gz("101003"), "not_payable", {}),
    ("policy/library-drugs", "herb-single-not-payable", gz("101004"), "single_herb", {}),
    ("policy/library-drugs", "drug-second-line", gz("101005"), "second_line", {"_interval": "自然月"}),
    ("policy/library-drugs", "drug-newborn-only", gz("101006"), "age", {"unit": "days", "_min": None, "_max": 28}),
    ("policy/library-drugs", "drug-child-only", gz("101007"), "age", {"_min": None, "_max": 14}),
    ("policy/library-drugs", "drug-indication-limit", gz("101008"), "indication", {}),
    ("policy/library-drugs", "drug-supply-limit", [gz("101009"), "T2025-10"], "supply", {"measure": "days"}),
    ("policy/library-drugs", "drug-course-limit", gz("101010"), "course", {"measure": "days", "_interval": "自然月"}),
    ("policy/library-drugs", "drug-disease-scope", gz("101011"), "chronic_scope", {}),
    ("policy/library-drugs", "drug-level-limit", gz("101012"), "level", {}),
    ("policy/library-drugs", "drug-visit-type-limit", "T2025-01", "visit_type", {}),
    ("policy/library-drugs", "internet-drug-scope", "T2025-05", "channel", {}),
    ("policy/library-services", "service-price-over-limit", gz("102001"), "price", {"tolerance": 0.005}),
    ("policy/library-services", "operation-discount-missed", gz("102002"), "secondary_discount", {"ratio": 0.5}),
    ("policy/library-services", "service-work-injury-only", gz("102003"), "insurance_type", {"_value": "work_injury"}),
    ("policy/library-services", "service-maternity-only", gz("102004"), "insurance_type", {"_value": "maternity"}),
    ("policy/library-services", "service-newborn-only", gz("102005"), "age", {"unit": "days", "_min": None, "_max": 28}),
    ("policy/library-services", "service-child-only", gz("102006"), "age", {"_min": None, "_max": 14}),
    ("policy/library-services", "service-indication-limit", gz("102007"), "indication", {}),
    ("policy/library-services", "service-department-limit", gz("102008"), "department", {}),
    ("policy/library-services", "service-visit-type-limit", gz("102009"), "visit_type", {}),
    ("policy/library-services", "service-course-limit", gz("102010"), "course", {"measure": "days", "_interval": "自然月"}),
    ("policy/library-services", "service-level-limit", gz("102011"), "level", {}),
    ("policy/library-services", "service-repeated-charge", gz("102012"), "pair", {}),
    ("policy/library-services", "service-split-charge", gz("102013"), "components", {}),
    ("policy/library-services", "service-frequency-limit", gz("102014"), "frequency", {"_interval": "自然日"}),
    ("policy/library-services", "service-total-limit", gz("102015"), "period_amount", {"_interval": "自然月"}),
    ("policy/library-services", "service-age-limit", "T2025-02", "age", {"_min": 18, "_max": 60}),
    ("policy/library-services", "service-consumable-repeated", "T2025-03", "pair", {}),
    ("policy/library-services", "service-period-frequency", "T2025-04", "frequency", {"_interval": "自然月"}),
    ("policy/library-consumables", "consumable-newborn-only", gz("103001"), "age", {"unit": "days", "_min": None, "_max": 28}),
    ("policy/library-consumables", "consumable-child-only", gz("103002"), "age", {"_min": None, "_max": 14}),
    ("policy/library-consumables", "consumable-total-limit", gz("103003"), "period_amount", {"_interval": "自然月"}),
    ("policy/library-data", "settlement-list-anomaly", gz("201001"), "listing", {}),
    ("policy/library-data", "settlement-detail-anomaly", gz("201002"), "amount_mismatch", {"tolerance": 0.005}),
    ("policy/library-data", "diagnosis-without-item", gz("201003"), "diagnosis_without_item", {}),
    ("policy/library-data", "operation-code-anomaly", gz("201004"), "operation_unknown", {}),
    ("policy/library-data", "operation-gender-mismatch", gz("201005"), "operation_gender", {}),
    ("policy/library-data", "operation-diagnosis-mismatch", gz("201006"), "operation_diagnosis", {}),
    ("policy/library-data", "late-upload", gz("201007"), "late_upload", {"max_hours": 24}),
    ("policy/library-data", "charge-outside-stay", gz("201008"), "charge_outside_stay", {}),
    ("norms/library-drugs", "perioperative-antibiotic", gz("202002"), "perioperative", {}),
    ("norms/library-drugs", "antibiotic-grade", gz("202003"), "antibiotic_grade", {}),
    ("norms/library-drugs", "drug-variety-over", gz("202004"), "drug_variety", {"max_drugs": 5, "_scen": ["门诊"]}),
    ("norms/library-drugs", "drug-without-service", gz("301001"), "requires", {}),
    ("norms/library-drugs", "drug-child-specific", gz("301002"), "age", {"_min": None, "_max": 14}),
    ("norms/library-drugs", "drug-child-forbidden", gz("301003"), "age", {"mode": "inside", "_min": None, "_max": 11}),
    ("norms/library-drugs", "drug-gender-specific", gz("301004"), "gender", {}),
    ("norms/library-drugs", "drug-over-dosage", gz("301005"), "daily_dose", {"tolerance": 0.005}),
    ("norms/library-drugs", "drug-duplicate-class", gz("301006"), "same_class", {}),
    ("norms/library-drugs", "drug-off-label", gz("301007"), "indication", {}),
    ("norms/library-drugs", "drug-contraindication", gz("301008"), "contraindication", {}),
    ("norms/library-drugs", "elderly-drug-safety", gz("301009"), "age", {"mode": "inside", "_min": 65, "_max": None}),
    ("norms/library-drugs", "pregnancy-drug-safety", gz("301010"), "pregnancy", {}),
    ("norms/library-drugs", "drug-interaction", gz("301011"), "pair", {}),
    ("norms/library-drugs", "herb-incompatibility", gz("301012"), "pair", {}),
    ("norms/library-drugs", "herb-large-prescription", "T2025-06", "herb_prescription", {"max_herbs": 20}),
    ("norms/library-drugs", "herb-over-quantity", "T2025-07", "quantity", {}),
    ("norms/library-services", "test-without-indication", gz("302001"), "indication", {}),
    ("norms/library-services", "treatment-without-indication", gz("302002"), "indication", {}),
    ("norms/library-services", "service-child-specific", gz("302003"), "age", {"_min": None, "_max": 14}),
    ("norms/library-services", "service-gender-specific", gz("302004"), "gender", {}),
    ("norms/library-services", "service-contraindication", gz("302005"), "contraindication", {}),
    ("norms/library-services", "service-off-label", gz("302006"), "indication", {}),
    ("norms/library-services", "diagnosis-gender-mismatch", gz("204006"), "diagnosis_gender", {}),
    ("norms/library-services", "diagnosis-age-mismatch", gz("204007"), "diagnosis_age", {}),
    ("norms/library-consumables", "consumable-without-service", gz("303001"), "requires", {}),
    ("norms/library-consumables", "consumable-department-mismatch", gz("303002"), "department", {}),
    ("norms/library-consumables", "consumable-quantity-over", gz("303003"), "frequency", {"_interval": "当次"}),
    ("norms/library-consumables", "consumable-gender-mismatch", "T2025-08", "gender", {}),
    ("norms/library-consumables", "consumable-disease-limit", "T2025-09", "indication", {}),
    ("authenticity/library-behaviour", "low-standard-admission", gz("204005"), "low_admission", {"_scen": ["住院"]}),
]

PACKS = {
    "policy/library-drugs": "药品政策限定 (GZ10000101…) and the 2025 drug types.",
    "policy/library-services": "医疗服务项目政策限定 (GZ10000102…) and the 2025 service types.",
    "policy/library-consumables": "医用耗材政策限定 (GZ10000103…).",
    "policy/library-data": "信息数据监管 (GZ10000201…): the settlement's own data.",
    "norms/library-drugs": "药品合理使用 (GZ10000301…), 药品监管 (GZ10000202…), 中药饮片 2025 types.",
    "norms/library-services": "医疗服务项目合理使用 (GZ10000302…), diagnosis against the patient (GZ10000204006/7).",
    "norms/library-consumables": "医用耗材合理使用 (GZ10000303…) and the 2025 consumable types.",
    "authenticity/library-behaviour": "行为主体监管 (GZ10000204…) decided on one settlement.",
}
CODE_TYPE = {"diagnosis_gender": "TX", "diagnosis_age": "TX", "diagnosis_without_item": "TX",
             "low_admission": "TX", "operation_gender": "68.4100",
             "operation_diagnosis": "47.0901", "operation_unknown": "47.0901"}


class _Dumper(yaml.SafeDumper):
    """Lists indented under their key, as the hand-written packs have them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def main() -> None:
    from claimguard.library.kinds import KINDS

    by_file: dict[str, list[dict]] = {}
    for file, suffix, codes, check, params in R:
        first = codes[0] if isinstance(codes, list) else codes
        info = BY_CODE[first]
        layer = file.split("/")[0]
        assert info.layer == layer, (suffix, info.layer, layer)
        kind = KINDS[check]
        act = "hold" if info.result == CLEAR else "alert"
        stages = {"precheck": "alert", "settle": act, "settled": "flag"}
        real = {k: v for k, v in params.items() if not k.startswith("_")}
        name = info.name
        en = suffix.replace("-", " ")
        template = {"item": ITEM_MSG, "visit": VISIT_MSG}.get(kind.on, CODE_MSG)
        rule: dict[str, Any] = {
            "id": f"{layer}.{suffix}",
            "version": 1,
            "title": name,
            "nhsa_code": codes,
            "violation": info.violation,
            "result": info.result,
            "layer": layer,
            "subject": info.subject,
            "scope": "points",
            "check": check,
        }
        if real:
            rule["params"] = real
        if params.get("_interval"):
            rule["interval"] = params["_interval"]
        if params.get("_scen"):
            rule["scenarios"] = params["_scen"]
        rule["stages"] = stages
        rule["severity"] = "high" if info.result == CLEAR else "medium"
        rule["message"] = {"zh": template[0].replace("{N}", name),
                           "en": template[1].replace("{E}", en)}
        rule["basis"] = (f"国家医保局 智能审核和监控规则库 1.0 {first} {name}；"
                         "知识点的依据见 point.basis")
        cc = CODE_TYPE.get(check, "TX")
        tests = tests_for(check, first, params, act, cc)
        if params.get("_scen") == ["门诊"]:
            pass
        rule["tests"] = tests
        by_file.setdefault(file, []).append(rule)
    for file, rules in by_file.items():
        layer, stem = file.split("/")
        pack = {"pack": f"{layer}.{stem}", "layer": layer,
                "description": PACKS[file] + " Generated once by tools/gen_library_packs.py; "
                "edit freely.", "rules": rules}
        text = yaml.dump(pack, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                         width=200, default_flow_style=None)
        (ROOT / f"{file}.yaml").write_text(text, encoding="utf-8")
        print(f"{file}.yaml: {len(rules)} rules")


if __name__ == "__main__":
    main()
