"""The national request mapper (contract §8.1) and the 3103 validator (§9), property-tested:
valid requests map exactly as the table says, any removed required field is named, and no
input whatever raises anything but FsiError."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from claimguard.serve.fsi_answer import severity_degree
from claimguard.serve.fsi_dispositions import dispositions_of
from claimguard.serve.fsi_request import FsiError, events_of

codes = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=12)
regions = st.from_regex(r"[1-6][0-9]{5}", fullmatch=True)
moments = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1))


def national_time(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@st.composite
def orders(draw: st.DrawFn, index: int) -> dict[str, Any]:
    quantity = draw(st.integers(1, 50))
    price = draw(st.decimals(0, 500, places=2).map(float))
    order: dict[str, Any] = {
        "rx_id": str(index + 1),
        "hilist_code": draw(codes),
        "hilist_type": draw(st.sampled_from(["101", "102", "201", "301"])),
        "cnt": draw(st.one_of(st.just(quantity), st.just(str(quantity)))),
        "pric": price,
        "sumamt": round(quantity * price, 2),
        "drord_dr_codg": draw(st.sampled_from(["", "D320602000123", "D1"])),
    }
    if draw(st.booleans()):
        order["medc_days"] = draw(st.integers(1, 30))
    if draw(st.booleans()):
        order["drord_begn_date"] = national_time(draw(moments))
    return order


@st.composite
def encounters(draw: st.DrawFn, mdtrt_id: str) -> dict[str, Any]:
    n = draw(st.integers(0, 4))
    diagnoses = draw(
        st.lists(st.tuples(codes, st.sampled_from(["0", "1"])), min_size=0, max_size=4)
    )
    encounter: dict[str, Any] = {
        "mdtrt_id": mdtrt_id,
        "med_mdtrt_type": draw(st.sampled_from(["1", "2", "3", "4", ""])),
        "medins_lv": draw(st.sampled_from(["1", "2", "3", "9", ""])),
        "insutype": draw(st.sampled_from(["310", "390", "391", "392", ""])),
        "adm_dept_codg": draw(st.sampled_from(["", "A01", "B02"])),
        "fsi_diagnose_dtos": [{"dise_codg": c, "maindise_flag": f} for c, f in diagnoses],
        "fsi_order_dtos": [draw(orders(i)) for i in range(n)],
    }
    if draw(st.booleans()):
        encounter["medins_id"] = "H" + draw(st.from_regex(r"[0-9]{11}", fullmatch=True))
    if draw(st.booleans()):
        encounter["medins_admdvs"] = draw(regions)
    if encounter["med_mdtrt_type"] == "2":
        encounter["adm_date"] = national_time(draw(moments))
    return encounter


def one_or_list(draw: st.DrawFn, items: list[Any]) -> Any:
    return items[0] if len(items) == 1 and draw(st.booleans()) else items


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    patients = []
    for p in range(draw(st.integers(1, 3))):
        current = f"S{p}{draw(codes)}"
        others = [draw(encounters(f"{current}-old{i}")) for i in range(draw(st.integers(0, 2)))]
        chosen = draw(encounters(current))
        position = draw(st.integers(0, len(others)))
        dtos = [*others[:position], chosen, *others[position:]]
        patient: dict[str, Any] = {
            "patn_id": f"P{p}{draw(codes)}",
            "gend": draw(st.sampled_from(["1", "2"])),
            "brdy": draw(st.dates(dt.date(1920, 1, 1), dt.date(2020, 1, 1))).isoformat(),
            "curr_mdtrt_id": current,
            "fsi_encounter_dtos": one_or_list(draw, dtos),
        }
        if draw(st.booleans()):
            patient["poolarea"] = draw(regions)
        patients.append(patient)
    return {
        "infno": draw(st.sampled_from(["3101", "3102"])),
        "msgid": draw(codes),
        "inf_time": national_time(draw(moments)),
        "fixmedins_code": "P" + draw(st.from_regex(r"[0-9]{11}", fullmatch=True)),
        "mdtrtarea_admvs": draw(regions),
        "insuplc_admdvs": draw(regions),
        "input": {"data": {"patient_dtos": one_or_list(draw, patients)}},
        "unknown_field": {"ignored": True},
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@settings(max_examples=60, deadline=None)
@given(requests())
def test_valid_requests_map_as_the_table_says(request: dict[str, Any]) -> None:
    events = events_of(request, request["infno"])
    patients = as_list(request["input"]["data"]["patient_dtos"])
    assert len(events) == len(patients)
    for event, patient in zip(events, patients, strict=True):
        (enc,) = [
            e
            for e in as_list(patient["fsi_encounter_dtos"])
            if e["mdtrt_id"] == patient["curr_mdtrt_id"]
        ]
        assert event.event_id == f"{request['msgid']}:{patient['patn_id']}:{enc['mdtrt_id']}"
        assert event.event_type == {"3101": "precheck", "3102": "settle"}[request["infno"]]
        assert event.occurred_at.utcoffset() == dt.timedelta(hours=8)
        assert event.occurred_at.strftime("%Y-%m-%d %H:%M:%S") == request["inf_time"]
        assert event.settlement_id == event.visit.visit_id == enc["mdtrt_id"]
        kind = enc["med_mdtrt_type"]
        assert event.visit.visit_type == {"2": "inpatient", "3": "pharmacy"}.get(kind, "outpatient")
        assert event.institution.kind == ("pharmacy" if kind == "3" else "hospital")
        assert event.institution.code == enc.get("medins_id", request["fixmedins_code"])
        assert event.institution.region == enc.get("medins_admdvs", request["mdtrtarea_admvs"])
        assert event.institution.level == {"1": 1, "2": 2, "3": 3}.get(enc["medins_lv"], 0)
        assert event.patient.gender == {"1": "M", "2": "F"}[patient["gend"]]
        assert event.patient.insured_region == patient.get("poolarea", request["insuplc_admdvs"])
        resident = enc["insutype"] in ("390", "391", "392")
        assert event.patient.scheme == ("resident" if resident else "employee")
        diagnoses = enc["fsi_diagnose_dtos"]
        main = [d["dise_codg"] for d in diagnoses if d["maindise_flag"] == "1"]
        rest = [d["dise_codg"] for d in diagnoses if d["maindise_flag"] != "1"]
        assert event.visit.diagnoses == main + rest
        doctors = [o["drord_dr_codg"] for o in enc["fsi_order_dtos"] if o["drord_dr_codg"]]
        assert event.visit.doctor_code == (doctors[0] if doctors else "")
        assert len(event.items) == len(enc["fsi_order_dtos"])
        for item, order in zip(event.items, enc["fsi_order_dtos"], strict=True):
            assert item.item_id == order["rx_id"] and item.code == order["hilist_code"]
            types = {"101": "drug", "102": "drug", "201": "service", "301": "consumable"}
            assert item.kind == types[order["hilist_type"]]
            assert item.quantity == float(order["cnt"]) and item.unit_price == order["pric"]
            assert item.amount == order["sumamt"] and item.days == order.get("medc_days")
            if "drord_begn_date" in order:
                assert item.performed_at.strftime("%Y-%m-%d %H:%M:%S") == order["drord_begn_date"]


REQUIRED_TOP = ["msgid", "inf_time"]
REQUIRED_PATIENT = ["patn_id", "gend", "brdy", "curr_mdtrt_id", "fsi_encounter_dtos"]
REQUIRED_ORDER = ["rx_id", "hilist_code", "hilist_type", "cnt", "pric", "sumamt"]


@settings(max_examples=60, deadline=None)
@given(requests(), st.data())
def test_a_missing_required_field_is_named(request: dict[str, Any], data: st.DataObject) -> None:
    broken = copy.deepcopy(request)
    patients = as_list(broken["input"]["data"]["patient_dtos"])
    where = data.draw(st.sampled_from(["top", "patient", "order"]))
    if where == "top":
        field = data.draw(st.sampled_from(REQUIRED_TOP))
        del broken[field]
    elif where == "patient":
        field = data.draw(st.sampled_from(REQUIRED_PATIENT))
        del data.draw(st.sampled_from(patients))[field]
    else:
        chosen = [
            e
            for p in patients
            for e in as_list(p["fsi_encounter_dtos"])
            if e["mdtrt_id"] == p["curr_mdtrt_id"] and e["fsi_order_dtos"]
        ]
        if not chosen:
            return
        field = data.draw(st.sampled_from(REQUIRED_ORDER))
        del data.draw(st.sampled_from(chosen))["fsi_order_dtos"][0][field]
    with pytest.raises(FsiError) as caught:
        events_of(broken, broken["infno"])
    assert field in str(caught.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values, st.sampled_from(["3101", "3102"]))
def test_any_json_is_mapped_or_refused_with_fsi_error(value: Any, infno: str) -> None:
    try:
        events_of(value, infno)
    except FsiError as exc:
        assert str(exc)


@settings(max_examples=60, deadline=None)
@given(requests(), st.data())
def test_a_field_replaced_by_junk_never_crashes(
    request: dict[str, Any], data: st.DataObject
) -> None:
    infno = request["infno"]
    patients = as_list(request["input"]["data"]["patient_dtos"])
    patient = data.draw(st.sampled_from(patients))
    target = data.draw(st.sampled_from([request, patient, *as_list(patient["fsi_encounter_dtos"])]))
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(json_values)
    try:
        events_of(request, infno)
    except FsiError as exc:
        assert str(exc)


@settings(max_examples=40, deadline=None)
@given(
    requests(),
    st.sampled_from(["cnt", "pric", "sumamt"]),
    st.one_of(st.booleans(), st.just("abc"), st.just([1]), st.just({"v": 1})),
)
def test_a_numeric_field_that_is_no_number_is_named(
    request: dict[str, Any], field: str, junk: Any
) -> None:
    patient = as_list(request["input"]["data"]["patient_dtos"])[0]
    (encounter,) = [
        e
        for e in as_list(patient["fsi_encounter_dtos"])
        if e["mdtrt_id"] == patient["curr_mdtrt_id"]
    ]
    orders = as_list(encounter["fsi_order_dtos"])
    assume(orders)
    orders[0][field] = junk
    with pytest.raises(FsiError, match=rf"fsi_order_dtos\[0\]\.{field}: must be a number"):
        events_of(request, request["infno"])


warns = st.fixed_dictionaries(
    {
        "warn_rslt_id": codes,
        "dspo_way": st.sampled_from(["1", "2", 1, 2]),
        "dspo_way_rea": st.text(min_size=1, max_size=10).filter(str.strip),
    }
)


@settings(max_examples=60, deadline=None)
@given(st.lists(warns, min_size=1, max_size=5), st.sampled_from(["1", "2"]))
def test_dispositions_accepted(given_warns: list[dict[str, Any]], warn_type: str) -> None:
    received = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    request = {"msgid": "m", "input": {"data": {"warn_type": warn_type, "warns": given_warns}}}
    message = dispositions_of(request, received)
    assert [w["finding_id"] for w in message["warns"]] == [w["warn_rslt_id"] for w in given_warns]
    assert all(w["warn_type"] == int(warn_type) for w in message["warns"])


@settings(max_examples=60, deadline=None)
@given(st.lists(warns, min_size=1, max_size=5), st.data())
def test_one_bad_warn_refuses_the_request(
    given_warns: list[dict[str, Any]], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(given_warns) - 1))
    bad = dict(given_warns[index])
    fault = data.draw(st.sampled_from(["no id", "way", "no reason"]))
    if fault == "no id":
        bad["warn_rslt_id"] = ""
        field = "warn_rslt_id"
    elif fault == "way":
        bad["dspo_way"] = data.draw(st.sampled_from(["0", "3", "", None, "continued"]))
        field = "dspo_way"
    else:
        bad["dspo_way"], bad["dspo_way_rea"] = "1", data.draw(st.sampled_from(["", "  ", None]))
        field = "dspo_way_rea"
    given_warns[index] = bad
    request = {"msgid": "m", "input": {"data": {"warn_type": "1", "warns": given_warns}}}
    with pytest.raises(FsiError) as caught:
        dispositions_of(request, dt.datetime.now(dt.UTC))
    assert f"warns[{index}].{field}" in str(caught.value)


def test_severity_degree_follows_the_hold_codes() -> None:
    assert severity_degree("PRICE_OVER_CAP") == "1"
    assert severity_degree("REPEAT_PRESCRIPTION") == "1"
    assert severity_degree("INDICATION_MISMATCH") == "2"
    assert severity_degree("OVER_FREQUENCY") == "2"
