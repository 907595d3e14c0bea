"""The HTTP service (contract §8): aiohttp routes over the broker bridge.

Every request path is async end to end: validate → publish → await the worker's decision
(or the deadline) → answer. Nothing here evaluates an event or keeps a patient's state.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from claimguard.decode import DecodeError, decode
from claimguard.model import Event
from claimguard.serve.bridge import Bridge
from claimguard.serve.fsi_answer import Answered, RuleTexts, answer, refusal
from claimguard.serve.fsi_dispositions import dispositions_of
from claimguard.serve.fsi_request import FsiError, events_of
from claimguard.serve.metrics import ServeMetrics

DEFAULT_TIMEOUT_MS = 1_000
MAX_TIMEOUT_MS = 60_000
MAX_BODY = 4 * 1024 * 1024
JSON = "application/json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(ValueError):
    pass


def timeout_of(request: web.Request) -> float:
    raw = request.query.get("timeout_ms")
    if raw is None:
        return DEFAULT_TIMEOUT_MS / 1000
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"timeout_ms: not an integer: {raw[:40]!r}") from None
    if not 1 <= value <= MAX_TIMEOUT_MS:
        raise BadRequest(f"timeout_ms: must be between 1 and {MAX_TIMEOUT_MS}, got {value}")
    return value / 1000


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=JSON)


def _checked(decision: bytes) -> bytes:
    """The decision as the worker published it, marked checked."""
    return decision[:-1] + b',"unchecked":false}' if decision.endswith(b"}") else decision


def _unchecked(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "settlement_id": event.settlement_id,
        "event_type": event.event_type,
        "verdict": "pass",
        "findings": [],
        "decided_at": dt.datetime.now(dt.UTC).isoformat(),
        "unchecked": True,
    }


class Service:
    def __init__(self, bridge: Bridge, metrics: ServeMetrics, texts: RuleTexts) -> None:
        self.bridge = bridge
        self.metrics = metrics
        self.texts = texts

    # -- the one path of every check -----------------------------------------------------

    async def decide(self, events: list[tuple[Event, bytes]], timeout: float) -> list[bytes | None]:
        """Each event's decision, or None when there was none within `timeout` seconds.

        A decision already seen (by this instance, from any publisher) is answered from
        the cache and an event already in flight is awaited: neither is published again."""
        deadline = time.monotonic() + timeout
        bridge = self.bridge
        answers: list[bytes | None] = [None] * len(events)
        pending: dict[int, asyncio.Future[bytes]] = {}
        for index, (event, value) in enumerate(events):
            known = bridge.decision(event.event_id)
            if known is not None:
                answers[index] = known
                continue
            future = bridge.waiting(event.event_id)
            if future is None:
                key = event.patient.person_id.encode() if event.patient else None
                future = await bridge.submit(event.event_id, key, value)
            pending[index] = future
        if pending and not bridge.ready:
            self.metrics.unchecked.labels("broker_down").inc(len(pending))
            return answers  # fail open at once; the spool publishes them later
        if pending:
            remaining = max(0.0, deadline - time.monotonic())
            await asyncio.wait([asyncio.shield(f) for f in pending.values()], timeout=remaining)
            for index, future in pending.items():
                if future.done() and not future.cancelled():
                    answers[index] = future.result()
                else:
                    self.metrics.unchecked.labels("deadline").inc()
        return answers

    async def _body(self, request: web.Request) -> bytes:
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise BadRequest(f"body larger than {MAX_BODY} bytes") from None

    # -- POST /v1/check ------------------------------------------------------------------

    async def check(self, request: web.Request) -> web.Response:
        try:
            timeout = timeout_of(request)
            raw = await self._body(request)
            if not raw.strip():
                raise BadRequest("empty body: expected one precheck or settle event (JSON)")
            try:
                event = decode(raw)
            except DecodeError as exc:
                raise BadRequest(exc.reason) from None
            if event.event_type not in ("precheck", "settle"):
                raise BadRequest(
                    f"event_type: {event.event_type} events are published to the events "
                    "topic, not checked; /v1/check takes precheck or settle"
                )
        except BadRequest as exc:
            return _json({"error": str(exc)}, status=400)
        (decision,) = await self.decide([(event, raw)], timeout)
        if decision is None:
            return _json(_unchecked(event))
        return web.Response(body=_checked(decision), content_type=JSON)

    # -- POST /fsi/3101, /fsi/3102 -------------------------------------------------------

    async def fsi_check(self, request: web.Request, infno: str) -> web.Response:
        received = dt.datetime.now(dt.UTC)
        msgid = ""
        try:
            timeout = timeout_of(request)
            body = self._parse(await self._body(request))
            msgid = str(body.get("msgid") or "") if isinstance(body, dict) else ""
            events = events_of(body, infno)
        except (BadRequest, FsiError) as exc:
            return _json(refusal(msgid, received, str(exc)))
        values = [(e, e.model_dump_json(exclude_none=True).encode()) for e in events]
        decisions = await self.decide(values, timeout)
        answered = []
        for event, decision in zip(events, decisions, strict=True):
            answered.append(
                Answered(
                    event_id=event.event_id,
                    patn_id=event.patient.person_id if event.patient else "",
                    mdtrt_id=event.settlement_id,
                    amounts={i.item_id: i.amount for i in event.items or []},
                    decision=orjson.loads(decision) if decision is not None else None,
                )
            )
        return _json(answer(msgid, received, answered, self.texts))

    @staticmethod
    def _parse(raw: bytes) -> Any:
        if not raw.strip():
            raise BadRequest("request: empty body")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"request: not valid JSON: {exc}"[:300]) from None

    # -- POST /fsi/3103 ------------------------------------------------------------------

    async def fsi_dispositions(self, request: web.Request) -> web.Response:
        received = dt.datetime.now(dt.UTC)
        msgid = ""
        try:
            body = self._parse(await self._body(request))
            msgid = str(body.get("msgid") or "") if isinstance(body, dict) else ""
            message = dispositions_of(body, received)
        except (BadRequest, FsiError) as exc:
            return _json(refusal(msgid, received, str(exc)))
        try:
            await self.bridge.publish_and_wait(
                self.bridge.settings.topics.dispositions, msgid.encode(), orjson.dumps(message)
            )
        except Exception as exc:
            return _json(
                refusal(msgid, received, f"not recorded, send again: broker unavailable ({exc!r})")
            )
        result = answer(msgid, received, [], self.texts)
        result["output"] = {"accepted": len(message["warns"])}
        return _json(result)

    # -- health and metrics --------------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        bridge = self.bridge
        body = {"broker": "up" if bridge.broker_up else "down", "connected": bridge.connected}
        return _json(body, status=200 if bridge.ready else 503)

    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.exposition(), headers={"Content-Type": "text/plain; version=0.0.4"}
        )


def build_app(service: Service) -> web.Application:
    metrics = service.metrics

    @web.middleware
    async def measured(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        route = request.match_info.route.resource
        path = route.canonical if route is not None else "other"
        try:
            response = await handler(request)
            code = response.status
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            metrics.seconds.labels(path).observe(time.perf_counter() - started)
            metrics.requests.labels(path, str(locals().get("code", 500))).inc()
        return response

    app = web.Application(middlewares=[measured], client_max_size=MAX_BODY)
    app.router.add_post("/v1/check", service.check)
    app.router.add_post("/fsi/3101", lambda r: service.fsi_check(r, "3101"))
    app.router.add_post("/fsi/3102", lambda r: service.fsi_check(r, "3102"))
    app.router.add_post("/fsi/3103", service.fsi_dispositions)
    app.router.add_get("/healthz", service.healthz)
    app.router.add_get("/metrics", service.metrics_page)
    return app
