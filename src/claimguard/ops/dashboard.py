"""The Grafana dashboard `deploy/grafana/claimguard.json`, generated (`make schemas`) so
its metric names come from `names.py` and a test can evaluate every expression on a real
Prometheus and every SQL panel on a real ClickHouse store.

Two panel sets: the stream (Prometheus datasource `claimguard-prometheus`) and the
jurisdiction view (ClickHouse datasource `claimguard-clickhouse`, the
grafana-clickhouse-datasource plugin) over `claimguard.jurisdiction_totals`: each
jurisdiction's whole subtree per violation and day (contract §5).
"""

from __future__ import annotations

from typing import Any

from claimguard.ops import names as n

PROM = {"type": "prometheus", "uid": "claimguard-prometheus"}
CLICKHOUSE = {"type": "grafana-clickhouse-datasource", "uid": "claimguard-clickhouse"}
RATE = "$__rate_interval"
WORKER = 'job="claimguard-worker", instance=~"$instance"'
SERVE = 'job="claimguard-serve"'

# (title, kind, unit, [(legend, expr)], width)
STREAM_PANELS: list[tuple[str, str, str, list[tuple[str, str]], int]] = [
    (
        "Throughput: input events per second",
        "timeseries",
        "ops",
        [("{{event_type}}", f"sum by (event_type) (rate({n.EVENTS}{{{WORKER}}}[{RATE}]))")],
        12,
    ),
    (
        "Verdict mix: decisions per second",
        "timeseries",
        "ops",
        [("{{verdict}}", f"sum by (verdict) (rate({n.DECISIONS}{{{WORKER}}}[{RATE}]))")],
        12,
    ),
    (
        "Decision latency (broker timestamp → decision acknowledged)",
        "timeseries",
        "s",
        [
            (
                f"p{q}",
                f"histogram_quantile(0.{q}, sum by (le) "
                f"(rate({n.DECISION_LATENCY}_bucket{{{WORKER}}}[{RATE}])))",
            )
            for q in ("5", "9", "99")
        ],
        12,
    ),
    (
        "Consumer lag per partition",
        "timeseries",
        "short",
        [("partition {{partition}}", f"sum by (partition) ({n.CONSUMER_LAG}{{{WORKER}}})")],
        12,
    ),
    (
        "Dead letters, refused events, engine errors per second",
        "timeseries",
        "ops",
        [
            ("dead letters", f"sum(rate({n.DEAD_LETTERS}{{{WORKER}}}[{RATE}]))"),
            ("refused", f"sum(rate({n.REFUSED_EVENTS}{{{WORKER}}}[{RATE}]))"),
            ("engine errors", f"sum(rate({n.ENGINE_ERRORS}{{{WORKER}}}[{RATE}]))"),
            (
                "conflicting redeliveries",
                f"sum(rate({n.CONFLICTING_REDELIVERIES}{{{WORKER}}}[{RATE}]))",
            ),
        ],
        12,
    ),
    (
        "Store health",
        "timeseries",
        "short",
        [
            ("store up {{instance}}", f"{n.STORE_UP}{{{WORKER}}}"),
            ("write failures/s", f"sum(rate({n.STORE_WRITE_FAILURES}{{{WORKER}}}[{RATE}]))"),
            ("rejected findings/s", f"sum(rate({n.STORE_REJECTED}{{{WORKER}}}[{RATE}]))"),
            (
                "write p99 (s)",
                f"histogram_quantile(0.99, sum by (le) "
                f"(rate({n.STORE_WRITE_SECONDS}_bucket{{{WORKER}}}[{RATE}])))",
            ),
            ("seconds since last flush", f"max(time() - {n.LAST_FLUSH}{{{WORKER}}} > 0)"),
        ],
        12,
    ),
    (
        "Top violations (findings in the range)",
        "bargauge",
        "short",
        [
            (
                "{{violation}} {{action}}",
                f"topk(10, sum by (violation, action) "
                f"(increase({n.FINDINGS}{{{WORKER}}}[$__range])))",
            )
        ],
        12,
    ),
    (
        "Hold rate per violation (holds per decision, 30 min)",
        "timeseries",
        "percentunit",
        [("{{violation}}", "claimguard:hold_rate:ratio30m")],
        12,
    ),
    (
        "Unchecked answers (fail open) per second",
        "timeseries",
        "ops",
        [
            ("{{reason}}", f"sum by (reason) (rate({n.UNCHECKED}{{{SERVE}}}[{RATE}]))"),
            ("spooled", f"sum({n.SERVE_SPOOLED}{{{SERVE}}})"),
            ("dropped/s", f"sum(rate({n.SERVE_DROPPED}{{{SERVE}}}[{RATE}]))"),
        ],
        12,
    ),
    (
        "serve: requests per second and p99",
        "timeseries",
        "short",
        [
            (
                "{{path}} {{code}}",
                f"sum by (path, code) (rate({n.HTTP_REQUESTS}{{{SERVE}}}[{RATE}]))",
            ),
            (
                "p99 {{path}} (s)",
                f"histogram_quantile(0.99, sum by (le, path) "
                f"(rate({n.HTTP_REQUEST_SECONDS}_bucket{{{SERVE}}}[{RATE}])))",
            ),
        ],
        12,
    ),
    (
        "Rule errors per rule (in the range)",
        "table",
        "short",
        [
            (
                "{{rule_id}}",
                f"sort_desc(sum by (rule_id) (increase({n.RULE_ERRORS}{{{WORKER}}}[$__range])))",
            )
        ],
        12,
    ),
    (
        "Workers: up, ready, partitions, rule pack",
        "table",
        "short",
        [
            ("up", 'up{job=~"claimguard-worker|claimguard-serve"}'),
            ("ready", f"{n.READY}{{{WORKER}}}"),
            ("partitions", f"{n.ASSIGNED_PARTITIONS}{{{WORKER}}}"),
            ("build", f"{n.BUILD_INFO}"),
            ("rebalances", f"increase({n.REBALANCES}{{{WORKER}}}[$__range])"),
            ("histories in memory", f"{n.HISTORY_CACHE}{{{WORKER}}}"),
            ("knowledge rows", f"sum by (file) ({n.KNOWLEDGE_ROWS}{{{WORKER}}})"),
        ],
        12,
    ),
]

# The jurisdiction view: $region is a 区划 code; every total covers its whole subtree.
JURISDICTION_PANELS: list[tuple[str, str, str]] = [
    (
        "Findings per violation and day (subtree of $region)",
        "timeseries",
        """SELECT toDateTime(day) AS time, violation, sum(findings) AS findings
FROM claimguard.jurisdiction_totals
WHERE region = '$region' AND $__dateFilter(day)
GROUP BY time, violation
ORDER BY time""",
    ),
    (
        "Amount per violation (subtree of $region, CNY)",
        "bargauge",
        """SELECT violation, sum(amount) AS amount
FROM claimguard.jurisdiction_totals
WHERE region = '$region' AND $__dateFilter(day)
GROUP BY violation
ORDER BY amount DESC""",
    ),
    (
        "Holds and alerts per day (subtree of $region)",
        "timeseries",
        """SELECT toDateTime(day) AS time, action, sum(findings) AS findings
FROM claimguard.jurisdiction_totals
WHERE region = '$region' AND $__dateFilter(day)
GROUP BY time, action
ORDER BY time""",
    ),
    (
        "Child jurisdictions of $region (their subtrees)",
        "table",
        """SELECT t.region AS region, t.level AS level, sum(t.findings) AS findings,
    sum(t.amount) AS amount
FROM claimguard.jurisdiction_totals AS t
WHERE t.region IN (
    SELECT region FROM claimguard.region_ancestors
    WHERE ancestor = '$region' AND distance = 1
) AND $__dateFilter(t.day)
GROUP BY region, level
ORDER BY findings DESC
LIMIT 50""",
    ),
]

REGION_VARIABLE_SQL = "SELECT DISTINCT region FROM claimguard.region_chains ORDER BY region"


def _prom_panel(
    pid: int,
    title: str,
    kind: str,
    unit: str,
    targets: list[tuple[str, str]],
    x: int,
    y: int,
    w: int,
) -> dict[str, Any]:
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": PROM,
        "gridPos": {"h": 8, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": PROM,
                "expr": expr,
                "legendFormat": legend,
                "instant": kind in ("table", "bargauge"),
                "range": kind not in ("table", "bargauge"),
            }
            for i, (legend, expr) in enumerate(targets)
        ],
    }


def _sql_panel(pid: int, title: str, kind: str, sql: str, x: int, y: int) -> dict[str, Any]:
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": CLICKHOUSE,
        "gridPos": {"h": 9, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {},
        "targets": [
            {
                "refId": "A",
                "datasource": CLICKHOUSE,
                "editorType": "sql",
                "format": 1 if kind == "table" else 0,
                "queryType": "table" if kind == "table" else "timeseries",
                "rawSql": sql,
            }
        ],
    }


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = [
        {
            "id": 1,
            "type": "row",
            "title": "Stream (Prometheus)",
            "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0},
            "panels": [],
        }
    ]
    pid, x, y = 2, 0, 1
    for title, kind, unit, targets, width in STREAM_PANELS:
        panels.append(_prom_panel(pid, title, kind, unit, targets, x, y, width))
        pid += 1
        x += width
        if x >= 24:
            x, y = 0, y + 8
    y += 8 if x else 0
    panels.append(
        {
            "id": pid,
            "type": "row",
            "title": "Jurisdiction view (ClickHouse): totals of $region's whole subtree",
            "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            "panels": [],
        }
    )
    pid, x, y = pid + 1, 0, y + 1
    for title, kind, sql in JURISDICTION_PANELS:
        panels.append(_sql_panel(pid, title, kind, sql, x, y))
        pid += 1
        x = 12 - x
        y += 9 if x == 0 else 0
    return {
        "uid": "claimguard",
        "title": "claimguard",
        "description": "Streaming monitoring of medical-insurance settlements: stream health "
        "and the jurisdiction view. Generated by claimguard.ops.dashboard (make schemas).",
        "tags": ["claimguard"],
        "timezone": "Asia/Shanghai",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "instance",
                    "label": "worker",
                    "type": "query",
                    "datasource": PROM,
                    "query": f'label_values({n.BUILD_INFO}{{job="claimguard-worker"}}, instance)',
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".*",
                    "current": {"text": "All", "value": "$__all"},
                    "refresh": 2,
                },
                {
                    "name": "region",
                    "label": "jurisdiction (区划)",
                    "type": "query",
                    "datasource": CLICKHOUSE,
                    "query": REGION_VARIABLE_SQL,
                    "current": {"text": "000000", "value": "000000"},
                    "refresh": 1,
                },
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def prometheus_expressions(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) of every Prometheus target."""
    return [
        (panel["title"], target["expr"])
        for panel in board["panels"]
        for target in panel.get("targets", ())
        if target.get("datasource", {}).get("type") == "prometheus"
    ]


def clickhouse_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (panel["title"], target["rawSql"])
        for panel in board["panels"]
        for target in panel.get("targets", ())
        if target.get("datasource", {}).get("type") == CLICKHOUSE["type"]
    ]
