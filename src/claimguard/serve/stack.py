"""`claimguard demo --serve HOST:PORT`: after the demo's report, keep the broker running,
start the worker again on the demo's store and a `claimguard serve`, write example
requests beside the data, print curl commands, and wait for Ctrl-C."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

from claimguard.serve.process import ServeProcess
from claimguard.serve.server import parse_listen
from claimguard.stream.clients import event_lines
from claimguard.stream.process import WorkerProcess

WORKER_READY = "Worker]: Ready"  # Faust's "[^BoundedWorker]: Ready" once recovery is done


def example_check(lines: list[bytes]) -> dict[str, Any]:
    """The demo's first settle event, as a new event at an unknown institution: a check
    that the worker holds (SUSPENDED_INSTITUTION: unknown institutions are not contracted)."""
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event_type") == "settle":
            event["event_id"] = "demo-check-1"
            event["settlement_id"] = "demo-settlement-1"
            event["institution"]["code"] = "H99999999999"
            return dict(event)
    raise LookupError("no settle event in the demo data")


def example_national(event: dict[str, Any]) -> dict[str, Any]:
    """The same check in the national 3102 shape (contract §8.1)."""
    visit, patient, inst = event["visit"], event["patient"], event["institution"]

    def national(moment: str | None) -> str:
        return (moment or event["occurred_at"])[:19].replace("T", " ")

    types = {"drug": "101", "service": "201", "consumable": "301"}
    orders = [
        {
            "rx_id": item["item_id"],
            "hilist_code": item["code"],
            "hilist_type": types[item["kind"]],
            "cnt": item["quantity"],
            "pric": item["unit_price"],
            "sumamt": item["amount"],
            "drord_dr_codg": visit["doctor_code"],
            "drord_begn_date": national(item.get("performed_at")),
            **({"medc_days": item["days"]} if item.get("days") else {}),
        }
        for item in event["items"]
    ]
    encounter = {
        "mdtrt_id": "demo-settlement-2",
        "medins_id": inst["code"],
        "medins_admdvs": inst["region"],
        "medins_lv": str(inst["level"]),
        "med_mdtrt_type": {"inpatient": "2", "pharmacy": "3"}.get(visit["visit_type"], "1"),
        "insutype": "390" if patient["scheme"] == "resident" else "310",
        "adm_dept_codg": visit["department"],
        "fsi_diagnose_dtos": [
            {"dise_codg": code, "maindise_flag": "1" if i == 0 else "0"}
            for i, code in enumerate(visit["diagnoses"])
        ],
        "fsi_order_dtos": orders,
    }
    return {
        "infno": "3102",
        "msgid": "demo-msg-1",
        "inf_time": national(event["occurred_at"]),
        "fixmedins_code": inst["code"],
        "mdtrtarea_admvs": inst["region"],
        "insuplc_admdvs": patient["insured_region"],
        "input": {
            "data": {
                "patient_dtos": {
                    "patn_id": patient["person_id"],
                    "gend": "1" if patient["gender"] == "M" else "2",
                    "brdy": patient["birth_date"],
                    "poolarea": patient["insured_region"],
                    "curr_mdtrt_id": "demo-settlement-2",
                    "fsi_encounter_dtos": encounter,
                }
            }
        },
    }


def keep_serving(
    console: Any,
    broker_url: str,
    data: Path,
    listen: str,
    env: dict[str, str],
    console_at: str | None = None,
) -> int:
    host, port = parse_listen(listen)
    log = data / "worker" / "worker.log"
    ready = log.read_text(errors="replace").count(WORKER_READY) if log.exists() else 0
    worker = WorkerProcess(
        broker=broker_url,
        store=f"chdb://{data / 'store'}",
        knowledge=data / "synth" / "knowledge",
        group="claimguard-demo",
        log_path=log,
        env={**env, "CLAIMGUARD_LOG_LEVEL": "info"},  # its "Ready" line says it is up
        console=console_at,  # the analysts' console, hosted by the worker
    )
    serve = ServeProcess(broker=broker_url, host=host, port=port, log_path=data / "serve.log")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        worker.start()
        deadline = time.monotonic() + 180
        while worker.log_text().count(WORKER_READY) <= ready:  # recovered, consuming
            if stop.is_set() or not worker.running or time.monotonic() > deadline:
                console.print(f"[red]the worker did not come up again[/]; see {log}")
                return 1
            time.sleep(0.2)
        serve.start()
        example = data / "check-example.json"
        check = example_check(event_lines(data / "synth" / "events.jsonl"))
        example.write_text(json.dumps(check, indent=1, ensure_ascii=False))
        national = data / "request-3102.json"
        national.write_text(json.dumps(example_national(check), indent=1, ensure_ascii=False))
        console.print(f"\n[bold]serving[/] on {serve.url} (worker pid {worker.pid})")
        console.print(
            f"  curl -s -X POST --data @{example} '{serve.url}/v1/check?timeout_ms=2000'\n"
            f"  curl -s -X POST --data @{national} {serve.url}/fsi/3102\n"
            f"  curl -s {serve.url}/healthz\n  curl -s {serve.url}/metrics\n"
            "Ctrl-C stops the serve, the worker and the broker."
        )
        while not stop.is_set() and worker.running:
            stop.wait(0.5)
        return 0
    finally:
        serve.stop()
        worker.stop()
