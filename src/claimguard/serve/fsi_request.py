"""National 3101/3102 requests → contract events (contract §8.1).

One event per patient dto, from its encounter whose `mdtrt_id` equals `curr_mdtrt_id`.
Deployed clients send `patient_dtos` and `fsi_encounter_dtos` as a list or as one object;
both are read. Anything the mapping table needs that is missing or malformed refuses the
whole request with an `FsiError` naming the national field (`err_msg`), before anything is
published. The mapped event is then validated by the contract's own model (the same one
the decoder uses), and its errors are named by the national field they came from.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from claimguard.model import Event

EVENT_TYPE_OF_INFNO = {"3101": "precheck", "3102": "settle"}
DRUG_TYPES = {"101", "102"}
KIND_OF_LIST_TYPE = {"101": "drug", "102": "drug", "201": "service", "301": "consumable"}
RESIDENT_INSUTYPES = {"390", "391", "392"}
GENDER_OF = {"1": "M", "2": "F"}
LEVEL_OF = {"1": 1, "2": 2, "3": 3}


class FsiError(ValueError):
    """An unreadable national request; `str(exc)` is the `err_msg`."""


def as_list(value: Any, where: str) -> list[Any]:
    """A dto given as a list or as one object (both are deployed)."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    raise FsiError(f"{where}: must be an object or a list of objects")


def _text(value: Any) -> str | None:
    """A scalar field as text ("" and null count as absent)."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def _required(dto: dict[str, Any], name: str, where: str) -> str:
    value = _text(dto.get(name))
    if value is None:
        raise FsiError(f"{where}.{name}: required" if where else f"{name}: required")
    return value


def _present(dto: dict[str, Any], name: str, where: str) -> str:
    """A field that must be sent but may be empty."""
    if name not in dto or dto[name] is None:
        raise FsiError(f"{where}.{name}: required")
    return _text(dto[name]) or ""


def beijing_time(value: str, where: str) -> str:
    """`YYYY-MM-DD HH:MM:SS` (Beijing time) → RFC 3339 at +08:00. A date alone is midnight."""
    text = value.strip()
    if len(text) == 10:
        text += " 00:00:00"
    if len(text) != 19 or text[10] not in (" ", "T"):
        raise FsiError(f"{where}: expected 'YYYY-MM-DD HH:MM:SS', got {value!r}")
    return f"{text[:10]}T{text[11:]}+08:00"


def _number(dto: dict[str, Any], name: str, where: str) -> int | float:
    """A numeric field sent as a JSON number or as numeric text (national systems do both);
    the event model is strict, so text is converted here, naming the field if it is not a
    number."""
    value = dto.get(name)
    if isinstance(value, (bool, dict, list)):  # present, but not a number (not "required")
        raise FsiError(f"{where}.{name}: must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        return value
    text = _required(dto, name, where)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise FsiError(f"{where}.{name}: must be a number, got {text!r}") from None


def _optional_time(dto: dict[str, Any], name: str, where: str) -> str | None:
    value = _text(dto.get(name))
    return beijing_time(value, f"{where}.{name}") if value else None


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FsiError(f"{where}: must be an object")
    return value


def _diagnoses(encounter: dict[str, Any], where: str) -> list[str]:
    dtos = encounter.get("fsi_diagnose_dtos")
    main: list[str] = []
    others: list[str] = []
    for i, dto in enumerate(as_list(dtos, f"{where}.fsi_diagnose_dtos") if dtos else []):
        here = f"{where}.fsi_diagnose_dtos[{i}]"
        dto = _dict(dto, here)
        code = _required(dto, "dise_codg", here)
        (main if _text(dto.get("maindise_flag")) == "1" else others).append(code)
    return main + others


def _items(orders: list[Any], where: str) -> tuple[list[dict[str, Any]], str | None]:
    items: list[dict[str, Any]] = []
    doctor: str | None = None
    for i, order in enumerate(orders):
        here = f"{where}.fsi_order_dtos[{i}]"
        order = _dict(order, here)
        list_type = _required(order, "hilist_type", here)
        kind = KIND_OF_LIST_TYPE.get(list_type)
        if kind is None:
            raise FsiError(f"{here}.hilist_type: must be 101, 102, 201 or 301, got {list_type!r}")
        item: dict[str, Any] = {
            "item_id": _required(order, "rx_id", here),
            "code": _required(order, "hilist_code", here),
            "kind": kind,
            "quantity": _number(order, "cnt", here),
            "unit_price": _number(order, "pric", here),
            "amount": _number(order, "sumamt", here),
        }
        if _text(order.get("medc_days")) is not None:
            item["days"] = _number(order, "medc_days", here)
        performed = _optional_time(order, "drord_begn_date", here)
        if performed is not None:
            item["performed_at"] = performed
        items.append(item)
        if doctor is None:
            doctor = _text(order.get("drord_dr_codg"))
    return items, doctor


# event path prefix → the national field it came from, for the model's error messages
def _origins(patient: str, encounter: str, order: str) -> dict[str, str]:
    return {
        "occurred_at": "inf_time",
        "visit.admitted_at": f"{encounter}.adm_date",
        "visit.discharged_at": f"{encounter}.dscg_date",
        "visit.department": f"{encounter}.adm_dept_codg",
        "visit.doctor_code": f"{order}.drord_dr_codg",
        "visit.diagnoses": f"{encounter}.fsi_diagnose_dtos",
        "visit": encounter,
        "institution.code": f"{encounter}.medins_id (or fixmedins_code)",
        "institution.region": f"{encounter}.medins_admdvs (or mdtrtarea_admvs)",
        "institution": encounter,
        "patient.person_id": f"{patient}.patn_id",
        "patient.birth_date": f"{patient}.brdy",
        "patient.insured_region": f"{patient}.poolarea (or insuplc_admdvs)",
        "patient": patient,
        "items": f"{encounter}.fsi_order_dtos",
        "settlement_id": f"{encounter}.mdtrt_id",
        "event_id": "msgid",
    }


_ITEM_ORIGIN = {
    "item_id": "rx_id",
    "code": "hilist_code",
    "kind": "hilist_type",
    "quantity": "cnt",
    "unit_price": "pric",
    "amount": "sumamt",
    "days": "medc_days",
    "performed_at": "drord_begn_date",
}


def _explain(exc: ValidationError, patient: str, encounter: str) -> str:
    origins = _origins(patient, encounter, f"{encounter}.fsi_order_dtos[*]")
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in err["loc"]]
        if len(loc) >= 3 and loc[0] == "items" and loc[1].isdigit():
            field = f"{encounter}.fsi_order_dtos[{loc[1]}].{_ITEM_ORIGIN.get(loc[2], loc[2])}"
        elif loc and loc[0] == "items" and len(loc) == 1:
            field = origins["items"]
        else:
            path = ".".join(loc)
            field = next(
                (v for k, v in origins.items() if path == k or path.startswith(k + ".")),
                path or "request",
            )
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)[:500]


def events_of(request: Any, infno: str) -> list[Event]:
    """The events a 3101/3102 request (posted to /fsi/`infno`) stands for, validated;
    FsiError naming the field if it is unreadable."""
    request = _dict(request, "request")
    event_type = EVENT_TYPE_OF_INFNO[infno]
    sent = _text(request.get("infno"))
    if sent is not None and sent != infno:
        raise FsiError(f"infno: {sent!r} sent to /fsi/{infno}")
    msgid = _required(request, "msgid", "")
    occurred_at = beijing_time(_required(request, "inf_time", ""), "inf_time")
    fixmedins = _text(request.get("fixmedins_code"))
    area = _text(request.get("mdtrtarea_admvs"))
    insured_area = _text(request.get("insuplc_admdvs"))
    data = _dict(_dict(request.get("input"), "input").get("data"), "input.data")
    if data.get("patient_dtos") in (None, [], {}):
        raise FsiError("input.data.patient_dtos: required")
    patients = as_list(data.get("patient_dtos"), "input.data.patient_dtos")
    events: list[Event] = []
    for p, patient in enumerate(patients):
        pw = f"input.data.patient_dtos[{p}]"
        patient = _dict(patient, pw)
        patn_id = _required(patient, "patn_id", pw)
        current = _required(patient, "curr_mdtrt_id", pw)
        encounters = as_list(patient.get("fsi_encounter_dtos"), f"{pw}.fsi_encounter_dtos")
        chosen = None
        for e, encounter in enumerate(encounters):
            encounter = _dict(encounter, f"{pw}.fsi_encounter_dtos[{e}]")
            if _text(encounter.get("mdtrt_id")) == current:
                chosen = (e, encounter)
                break
        if chosen is None:
            raise FsiError(f"{pw}.fsi_encounter_dtos: no encounter with mdtrt_id = curr_mdtrt_id")
        e, encounter = chosen
        ew = f"{pw}.fsi_encounter_dtos[{e}]"
        gend = _required(patient, "gend", pw)
        if gend not in GENDER_OF:
            raise FsiError(f"{pw}.gend: must be 1 or 2, got {gend!r}")
        orders_raw = encounter.get("fsi_order_dtos")
        orders = as_list(orders_raw, f"{ew}.fsi_order_dtos") if orders_raw else []
        items, doctor = _items(orders, ew)
        mdtrt_type = _text(encounter.get("med_mdtrt_type"))
        visit_type = {"2": "inpatient", "3": "pharmacy"}.get(mdtrt_type or "", "outpatient")
        institution = _text(encounter.get("medins_id")) or fixmedins
        if institution is None:
            raise FsiError(f"{ew}.medins_id: required (or fixmedins_code)")
        region = _text(encounter.get("medins_admdvs")) or area
        if region is None:
            raise FsiError(f"{ew}.medins_admdvs: required (or mdtrtarea_admvs)")
        insured = _text(patient.get("poolarea")) or insured_area
        if insured is None:
            raise FsiError(f"{pw}.poolarea: required (or insuplc_admdvs)")
        insutype = _text(encounter.get("insutype")) or _text(patient.get("insutype"))
        visit: dict[str, Any] = {
            "visit_id": current,
            "visit_type": visit_type,
            # pharmacies send these empty, and the contract allows it: only absence refuses
            "department": _present(encounter, "adm_dept_codg", ew),
            "doctor_code": doctor or "",
            "diagnoses": _diagnoses(encounter, ew),
        }
        for field, name in (("admitted_at", "adm_date"), ("discharged_at", "dscg_date")):
            moment = _optional_time(encounter, name, ew)
            if moment is not None:
                visit[field] = moment
        raw = {
            "event_id": f"{msgid}:{patn_id}:{current}",
            "event_type": event_type,
            "occurred_at": occurred_at,
            "settlement_id": current,
            "visit": visit,
            "institution": {
                "code": institution,
                "level": LEVEL_OF.get(_text(encounter.get("medins_lv")) or "", 0),
                "kind": "pharmacy" if mdtrt_type == "3" else "hospital",
                "region": region,
            },
            "patient": {
                "person_id": patn_id,
                "gender": GENDER_OF[gend],
                "birth_date": _required(patient, "brdy", pw),
                "insured_region": insured,
                "scheme": "resident" if insutype in RESIDENT_INSUTYPES else "employee",
            },
            "items": items,
        }
        try:
            events.append(Event.model_validate(raw))
        except ValidationError as exc:
            raise FsiError(_explain(exc, pw, ew)) from None
    ids = [event.event_id for event in events]
    if len(set(ids)) != len(ids):
        raise FsiError("input.data.patient_dtos: the same patient and encounter appear twice")
    return events
