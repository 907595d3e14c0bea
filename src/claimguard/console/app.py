"""Routes of the console. Every page runs its store calls in a thread (they take the
store lock, which the worker's flushes also take) and through CaseService, which scopes
them to the signed-in user's subtree and writes the audit trail."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from claimguard.cases.access import User, token_hash
from claimguard.cases.lifecycle import STATUSES, CaseRefused, parse_amount
from claimguard.cases.service import CaseNotVisible, CaseService, plain
from claimguard.console.i18n import translator
from claimguard.routing.regions import level_of
from claimguard.store import StoreUnavailable

HERE = Path(__file__).parent
COOKIE = "cg_token"
LANG_COOKIE = "cg_lang"
PAGE_SIZE = 25
AUTH_TTL = 30.0  # seconds a token check is reused: a revoke takes effect within this
SERVICE: web.AppKey[CaseService] = web.AppKey("service", CaseService)
ENV: web.AppKey[jinja2.Environment] = web.AppKey("env", jinja2.Environment)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _money(value: Any) -> str:
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return ""


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def make_app(service: CaseService) -> web.Application:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["money"] = _money
    env.filters["when"] = _when
    app = web.Application(middlewares=[_auth])
    app[SERVICE] = service
    app[ENV] = env
    app["auth_cache"] = {}
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/lang/{lang}", set_lang)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", lambda r: _redirect("/overview"))
    app.router.add_get("/overview", overview)
    app.router.add_get("/cases", queue)
    app.router.add_get("/cases.csv", queue_csv)
    app.router.add_get("/cases/{case_id}", case_page)
    app.router.add_post("/cases/{case_id}/status", case_set)
    app.router.add_get("/notifications", notifications_page)
    app.router.add_get("/report", report_page)
    app.router.add_get("/report.csv", report_csv)
    app.router.add_get("/rules", rules_page)
    app.router.add_get("/audit", audit_page)
    app.router.add_static("/static", HERE / "static")
    return app


def _redirect(location: str) -> web.Response:
    raise web.HTTPSeeOther(location)


async def _call(request: web.Request, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kw)


async def _user_of(request: web.Request) -> User | None:
    token = request.cookies.get(COOKIE, "")
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[len("Bearer ") :]
    if not token:
        return None
    cache: dict[str, tuple[float, User | None]] = request.app["auth_cache"]
    key = token_hash(token)
    hit = cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    user = await _call(request, request.app[SERVICE].authenticate, token)
    cache[key] = (time.monotonic() + AUTH_TTL, user)
    return user


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await _authorised(request, handler)
    except StoreUnavailable:  # e.g. the worker's store is down: say so, keep serving
        return render(request, "error.html", status=503, message_key="unavailable")


async def _authorised(request: web.Request, handler: Handler) -> web.StreamResponse:
    open_paths = ("/login", "/static/", "/lang/", "/healthz")
    if not request.path.startswith(open_paths):
        user = await _user_of(request)
        if user is None:
            raise web.HTTPSeeOther("/login?" + urlencode({"next": request.path_qs}))
        request["user"] = user
        if request.method == "POST":  # forms only from our own pages (with SameSite=Strict)
            origin = request.headers.get("Origin")
            if origin and origin.split("://", 1)[-1] != request.host:
                raise web.HTTPForbidden(text="cross-site request refused")
    return await handler(request)


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    lang = request.cookies.get(LANG_COOKIE, "zh")
    titles = request.app[SERVICE].violation_titles if lang != "en" else {}
    html = (
        request.app[ENV]
        .get_template(template)
        .render(
            vname=lambda code: titles.get(code, code),
            t=translator(lang),
            lang=lang,
            user=request.get("user"),
            path=request.path_qs,
            level_of=level_of,
            **context,
        )
    )
    return web.Response(text=html, content_type="text/html", status=status)


def forbidden(request: web.Request) -> web.Response:
    return render(request, "error.html", status=403, message_key="forbidden")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def login_form(request: web.Request) -> web.Response:
    return render(request, "login.html", error=False, next=request.query.get("next", "/"))


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    token = str(form.get("token", "")).strip()
    target = str(form.get("next", "/"))
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    user = await _call(request, request.app[SERVICE].authenticate, token) if token else None
    if user is None:
        return render(request, "login.html", status=401, error=True, next=target)
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=request.secure, path="/"
    )
    await _call(request, request.app[SERVICE].audit, user, "sign-in")
    raise response


async def logout(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


async def set_lang(request: web.Request) -> web.Response:
    lang = "en" if request.match_info["lang"] == "en" else "zh"
    target = request.query.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    response = web.HTTPSeeOther(target)
    response.set_cookie(LANG_COOKIE, lang, samesite="Lax", path="/", max_age=365 * 86400)
    raise response


def _date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


async def overview(request: web.Request) -> web.Response:
    user: User = request["user"]
    region = request.query.get("region", user.region)
    day_from, day_to = _date(request.query.get("from")), _date(request.query.get("to"))
    try:
        data = await _call(request, request.app[SERVICE].overview, user, region, day_from, day_to)
    except (CaseNotVisible, ValueError):
        return forbidden(request)
    peak = max((int(d["cases"]) for d in data["trend"]), default=0) or 1
    return render(request, "overview.html", data=data, peak=peak)


def _queue_args(request: web.Request) -> dict[str, Any]:
    q = request.query
    status = q.get("status") or None
    return {
        "status": status if status in STATUSES else None,
        "violation": q.get("violation") or None,
        "region": q.get("region") or None,
        "day_from": _date(q.get("from")),
        "day_to": _date(q.get("to")),
        "overdue": q.get("overdue") == "1",
        "sort": q.get("sort", "opened_at"),
        "descending": q.get("dir", "desc") != "asc",
    }


async def queue(request: web.Request) -> web.Response:
    user: User = request["user"]
    args = _queue_args(request)
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    svc = request.app[SERVICE]
    if args["region"] and not await _call(request, svc.in_subtree, user.region, args["region"]):
        return forbidden(request)
    rows, total = await _call(
        request, svc.list_cases, user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **args
    )
    await _call(request, svc.audit, user, "list", "", {"page": page, "rows": len(rows)})
    query = {k: v for k, v in request.query.items() if k != "page"}
    return render(
        request,
        "queue.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        args=args,
        statuses=STATUSES,
        query=query,
        qs=lambda **extra: urlencode({**query, **extra}),
    )


async def queue_csv(request: web.Request) -> web.Response:
    user: User = request["user"]
    args = _queue_args(request)
    svc = request.app[SERVICE]
    if args["region"] and not await _call(request, svc.in_subtree, user.region, args["region"]):
        return forbidden(request)
    rows, _ = await _call(request, svc.list_cases, user, **args)
    await _call(request, svc.audit, user, "export", "", {"rows": len(rows)})
    out = io.StringIO()
    columns = list(rows[0]) if rows else ["case_id"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: plain(v) for k, v in row.items()})
    name = f"cases-{user.region}-{dt.date.today().isoformat()}.csv"
    return web.Response(
        body="\ufeff" + out.getvalue(),  # BOM: Excel opens UTF-8 Chinese correctly
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def case_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    user: User = request["user"]
    try:
        case = await _call(request, request.app[SERVICE].show, user, request.match_info["case_id"])
    except CaseNotVisible:
        return forbidden(request)
    return render(request, "case.html", status=status, case=case, error=error)


async def case_set(request: web.Request) -> web.Response:
    user: User = request["user"]
    case_id = request.match_info["case_id"]
    form = await request.post()
    try:
        amount: Decimal | None = parse_amount(str(form.get("amount", "")) or None)
        to_region = str(form.get("to_region", "")).strip() or None
        result = await _call(
            request,
            request.app[SERVICE].set_status,
            user,
            case_id,
            str(form.get("to", "")),
            amount,
            str(form.get("reason", "")),
            to_region,
        )
    except CaseNotVisible:
        return forbidden(request)
    except (CaseRefused, ValueError) as exc:
        return await case_page(request, error=str(exc), status=409)
    if "history" not in result:  # escalated out of the caller's subtree
        raise web.HTTPSeeOther("/cases")
    raise web.HTTPSeeOther(f"/cases/{case_id}")


async def notifications_page(request: web.Request) -> web.Response:
    from claimguard.cases.queries import notifications

    user: User = request["user"]
    svc = request.app[SERVICE]
    day_from, day_to = _date(request.query.get("from")), _date(request.query.get("to"))
    rows = await _call(request, notifications, svc, user, day_from, day_to, 500)
    await _call(request, svc.audit, user, "notifications", "", {"rows": len(rows)})
    return render(request, "notifications.html", rows=rows)


async def _report_rows(request: web.Request) -> list[dict[str, Any]] | None:
    """The upward report of the caller's subtree: supervisors and admins only."""
    from claimguard.cases.queries import report

    user: User = request["user"]
    if not user.supervises:
        return None
    svc = request.app[SERVICE]
    day_from, day_to = _date(request.query.get("from")), _date(request.query.get("to"))
    rows = await _call(request, report, svc, user, day_from, day_to, 0)
    await _call(request, svc.audit, user, "report", "", {"rows": len(rows)})
    return rows


async def report_page(request: web.Request) -> web.Response:
    rows = await _report_rows(request)
    if rows is None:
        return forbidden(request)
    return render(request, "report.html", rows=rows, qs=urlencode(dict(request.query)))


async def report_csv(request: web.Request) -> web.Response:
    rows = await _report_rows(request)
    if rows is None:
        return forbidden(request)
    out = io.StringIO()
    columns = ["month", "violation", "status", "cases", "amount", "recovered", "overdue"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: plain(v) for k, v in row.items()})
    user: User = request["user"]
    return web.Response(
        body="\ufeff" + out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-{user.region}.csv"'},
    )


async def rules_page(request: web.Request) -> web.Response:
    user: User = request["user"]
    q = request.query
    try:
        min_cases = int(q.get("min", "20"))
        ready, review = float(q.get("ready", "0.9")), float(q.get("review", "0.3"))
    except ValueError:
        min_cases, ready, review = 20, 0.9, 0.3
    rows = await _call(
        request, request.app[SERVICE].rule_stats, user, False, min_cases, ready, review
    )
    return render(request, "rules.html", rows=rows, min_cases=min_cases, ready=ready, review=review)


async def audit_page(request: web.Request) -> web.Response:
    user: User = request["user"]
    rows = await _call(request, request.app[SERVICE].audit_log, user, None, 200)
    return render(request, "audit.html", rows=rows)
