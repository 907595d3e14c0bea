"""Every file under deploy/ is parsed and cross-checked (Docker does not run here): the
generated files are up to date, every file, port, flag, environment variable, datasource
and metric a file references exists, and the cluster DDL parses in a real ClickHouse."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from claimguard.cli import build_parser
from claimguard.ops import names
from claimguard.ops.arguments import CONNECTION_FLAGS
from claimguard.ops.dashboard import prometheus_expressions
from claimguard.ops.generate import generated_files
from claimguard.store.migrations import discover, split_statements
from ops_support import DEPLOY, REPO

COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def k8s_docs() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in load_all(path)
    ]


def known_env() -> set[str]:
    source = " ".join(p.read_text() for p in (REPO / "src").rglob("*.py"))
    found = set(re.findall(r"CLAIMGUARD_[A-Z_]+[A-Z]", source))
    return found | {f"CLAIMGUARD_{flag.upper()}" for flag in CONNECTION_FLAGS}


def parses_as_cli(args: list[str]) -> None:
    """The real CLI parser accepts these arguments (unknown flags exit 2)."""
    build_parser().parse_args(args)


# -- generated files ---------------------------------------------------------------------


def test_generated_files_are_up_to_date() -> None:
    stale = [
        str(path.relative_to(REPO))
        for path, text in generated_files(REPO).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run `make schemas`"
    cluster = {p.name for p in (DEPLOY / "clickhouse-cluster").glob("*.sql")}
    assert cluster == {m.file_name for m in discover(REPO / "schemas" / "clickhouse")}


def test_prometheusrule_is_alerts_yml() -> None:
    (rule,) = load_all(K8S / "prometheusrule.yaml")
    assert rule["kind"] == "PrometheusRule"
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]


def test_cluster_ddl_parses_and_is_replicated(tmp_path: Path) -> None:
    import subprocess
    import sys

    statements = [
        s
        for path in sorted((DEPLOY / "clickhouse-cluster").glob("*.sql"))
        for s in split_statements(path.read_text())
        if s.strip()
    ]
    # ClickHouse's own parser (chdb's formatQuery), in a child: a process hosts one chdb
    # engine, and other tests of this session may own a store directory
    (tmp_path / "ddl.json").write_text(json.dumps(statements))
    check = (
        "import json, sys, chdb\n"
        "for s in json.load(open(sys.argv[1])):\n"
        "    q = s.replace('\\\\', '\\\\\\\\').replace(\"'\", \"\\\\'\")\n"
        "    chdb.query(f\"SELECT formatQuery('{q}')\")\n"
        "print('parsed', len(json.load(open(sys.argv[1]))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check, str(tmp_path / "ddl.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"parsed {len(statements)}"
    text = "\n".join(statements)
    assert "ReplicatedReplacingMergeTree" in text
    assert "ENGINE = Distributed('{cluster}', claimguard, findings_local" in text
    assert all("ON CLUSTER" in s for s in statements if s.lstrip().upper().startswith("CREATE"))
    # every table of the single-node schema keeps its name on the cluster
    single = "\n".join(m.sql for m in discover(REPO / "schemas" / "clickhouse"))
    for table in re.findall(r"CREATE TABLE IF NOT EXISTS (claimguard\.\w+)", single):
        assert f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER" in text, table


# -- compose -------------------------------------------------------------------------------


def test_compose_services_files_secrets_and_health() -> None:
    doc = compose()
    services = doc["services"]
    assert {
        "kafka",
        "clickhouse",
        "worker",
        "serve",
        "prometheus",
        "alertmanager",
        "grafana",
    } <= set(services)
    for name, service in services.items():
        assert "healthcheck" in service or "<<" in service, f"{name}: no healthcheck"
        assert "healthcheck" in service, name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in doc["volumes"], f"{name}: undeclared volume {source}"
        for secret in service.get("secrets", []):
            assert secret in doc["secrets"], f"{name}: unknown secret {secret}"
    secrets_readme = (DEPLOY / "secrets" / "README.md").read_text()
    for secret in doc["secrets"].values():
        path = secret["file"]
        assert path.startswith("./secrets/")
        assert f"`{Path(path).name}`" in secrets_readme, f"{path} undocumented"
    ignore = (DEPLOY / "secrets" / ".gitignore").read_text().split()
    assert ignore[0] == "*"  # secrets are never committed
    build = services["worker"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_compose_commands_ports_and_env() -> None:
    doc = compose()
    services = doc["services"]
    worker, serve = services["worker"], services["serve"]
    parses_as_cli(worker["command"])
    parses_as_cli(serve["command"])
    metrics_port = build_parser().parse_args(worker["command"]).metrics_port
    assert f"localhost:{metrics_port}/readyz" in " ".join(worker["healthcheck"]["test"])
    listen = build_parser().parse_args(serve["command"]).listen
    serve_port = int(listen.rsplit(":", 1)[1])
    assert f"{serve_port}:{serve_port}" in serve["ports"]
    assert f"localhost:{serve_port}/healthz" in " ".join(serve["healthcheck"]["test"])
    env = known_env()
    for name in ("worker", "serve"):
        for key in services[name]["environment"]:
            assert key in env, f"{name}: unknown setting {key}"
    # the password files the flags name are mounted secrets
    for flag in worker["command"]:
        if flag.startswith("--store-password-file="):
            assert flag.split("=", 1)[1] == "/run/secrets/clickhouse_password"
            assert "clickhouse_password" in worker["secrets"]
    sasl_file = services["worker"]["environment"]["CLAIMGUARD_KAFKA_SASL_PASSWORD_FILE"]
    assert sasl_file == "/run/secrets/kafka_password" and "kafka_password" in worker["secrets"]
    # Prometheus scrapes what the services expose, with the job names the alerts use
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    assert jobs["claimguard-worker"]["dns_sd_configs"][0]["port"] == metrics_port
    assert jobs["claimguard-serve"]["static_configs"][0]["targets"] == [f"serve:{serve_port}"]
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"] if ":" in v}
    for rule_file in prom["rule_files"]:
        assert rule_file in mounted
    alertmanager = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0]
    assert alertmanager.split(":")[1] in services["alertmanager"]["ports"][0]


def test_alertmanager_config() -> None:
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    alerts = {
        r["alert"]
        for g in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    receivers = {r["name"] for r in config["receivers"]}
    assert config["route"]["receiver"] in receivers
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            for name in re.findall(r"Claimguard\w+", matcher):
                assert name in alerts, name
    url_file = config["receivers"][0]["webhook_configs"][0]["url_file"]
    assert url_file == "/run/secrets/alert_webhook_url"
    assert "alert_webhook_url" in compose()["services"]["alertmanager"]["secrets"]


# -- Grafana -------------------------------------------------------------------------------


def test_grafana_provisioning_matches_the_dashboard() -> None:
    board = json.loads((DEPLOY / "grafana" / "claimguard.json").read_text())
    sources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "claimguard.yaml").read_text()
    )["datasources"]
    provided = {(s["type"], s["uid"]) for s in sources}
    used = {
        (p["datasource"]["type"], p["datasource"]["uid"])
        for p in board["panels"]
        if "datasource" in p
    }
    assert used <= provided
    assert {t for t, _ in used} == {"prometheus", "grafana-clickhouse-datasource"}
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "claimguard.yaml").read_text()
    )["providers"][0]
    mounts = compose()["services"]["grafana"]["volumes"]
    assert f"./grafana/claimguard.json:{provider['options']['path']}/claimguard.json:ro" in mounts
    known = set(names.WORKER_METRICS) | set(names.SERVE_METRICS)
    for _, expr in prometheus_expressions(board):
        for metric in re.findall(r"\bclaimguard_[a-z_]+", expr):
            assert re.sub(r"_(bucket|count|sum)$", "", metric) in known, metric
    titles = " ".join(p["title"] for p in board["panels"]).lower()
    for wanted in (
        "throughput",
        "verdict",
        "latency",
        "lag",
        "dead letters",
        "store",
        "top violations",
        "unchecked",
        "rule errors",
        "jurisdiction",
    ):
        assert wanted in titles, wanted


# -- Kubernetes ----------------------------------------------------------------------------


def test_k8s_manifests() -> None:
    docs = k8s_docs()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Deployment", "claimguard-worker") in kinds
    assert ("Deployment", "claimguard-serve") in kinds
    assert ("Service", "claimguard-serve") in kinds
    assert ("PrometheusRule", "claimguard") in kinds
    assert {("PodMonitor", "claimguard-worker"), ("PodMonitor", "claimguard-serve")} <= kinds
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    assert {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"} == set(
        kustomization["resources"]
    )
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    env = known_env()
    assert set(config["data"]) <= env, set(config["data"]) - env
    pods = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for name, deployment in pods.items():
        spec = deployment["spec"]["template"]["spec"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (container,) = spec["containers"]
        parses_as_cli(container["args"])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("livenessProbe", "readinessProbe"):
            target = container[probe].get("httpGet") or container[probe].get("tcpSocket")
            assert target["port"] in ports, f"{name}: {probe} port"
        volumes = {v["name"] for v in spec["volumes"]}
        for mount in container["volumeMounts"]:
            assert mount["name"] in volumes
        args = build_parser().parse_args(container["args"])
        mounted = [m["mountPath"] for m in container["volumeMounts"]]
        for path in (getattr(args, "knowledge", None), args.rules):
            if path is not None:
                assert str(path) in mounted, f"{name}: {path} not mounted"
        for key in ("CLAIMGUARD_KAFKA_SASL_PASSWORD_FILE", "CLAIMGUARD_KAFKA_CA_FILE"):
            assert any(config["data"][key].startswith(m + "/") for m in mounted), (name, key)
        if name == "claimguard-worker":
            assert ports["metrics"] == args.metrics_port
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            for key in ("CLAIMGUARD_STORE_PASSWORD_FILE", "CLAIMGUARD_STORE_CA_FILE"):
                assert any(config["data"][key].startswith(m + "/") for m in mounted), key
            assert args.store.startswith("https://")
        else:
            assert int(args.listen.rsplit(":", 1)[1]) == ports["http"]
    service = next(d for d in docs if d["kind"] == "Service")
    serve_ports = pods["claimguard-serve"]["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert service["spec"]["ports"][0]["targetPort"] in {p["name"] for p in serve_ports}
    for monitor in (d for d in docs if d["kind"] == "PodMonitor"):
        target = pods[monitor["metadata"]["name"]]
        labels = target["spec"]["template"]["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
        # the job label (the pod's name label) is what the alerts select on
        assert labels[monitor["spec"]["jobLabel"]] in ("claimguard-worker", "claimguard-serve")
        port_names = {
            p["name"] for p in target["spec"]["template"]["spec"]["containers"][0]["ports"]
        }
        assert monitor["spec"]["podMetricsEndpoints"][0]["port"] in port_names


# -- the rest ------------------------------------------------------------------------------


def test_dockerfile_copies_what_exists() -> None:
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in shlex.split(line)[1:-1]:
                assert (REPO / source).exists(), source


def test_readme_names_files_that_exist() -> None:
    text = (DEPLOY / "README.md").read_text()
    for path in re.findall(r"`((?:[\w.-]+/)*[\w.-]+\.(?:yaml|yml|json|md|sql|xml)|[\w-]+/)`", text):
        if "NNN" in path or path.startswith("config.d/"):
            continue
        assert (DEPLOY / path).exists() or (REPO / path).exists(), path


CHECKED = {
    # file pattern under deploy/ → the test that checks it
    "Dockerfile": test_dockerfile_copies_what_exists,
    "README.md": test_readme_names_files_that_exist,
    "RUNBOOK.md": "test_ops_alerts.py::test_every_alert_is_documented_and_linked",
    "compose.yaml": test_compose_services_files_secrets_and_health,
    "prometheus/alerts.yml": "test_ops_alerts.py, test_ops_prometheus.py",
    "prometheus/alerts.test.yml": "test_ops_alerts.py::test_promtool_unit_tests_pass",
    "prometheus/prometheus.yml": test_compose_commands_ports_and_env,
    "alertmanager/alertmanager.yml": test_alertmanager_config,
    "grafana/claimguard.json": test_grafana_provisioning_matches_the_dashboard,
    "grafana/provisioning/*/*.yaml": test_grafana_provisioning_matches_the_dashboard,
    "k8s/*.yaml": test_k8s_manifests,
    "clickhouse-cluster/*.sql": test_cluster_ddl_parses_and_is_replicated,
    "clickhouse/config.d/*.xml": "test_every_file_is_checked (XML parses)",
    "kafka/*.sh": "test_every_file_is_checked (sh -n)",
    "secrets/*": test_compose_services_files_secrets_and_health,
    "knowledge/*": "test_every_file_is_checked (mount point of compose)",
}


def test_every_file_is_checked() -> None:
    import subprocess
    import xml.etree.ElementTree as ET

    files = [p for p in DEPLOY.rglob("*") if p.is_file()]
    assert files
    for path in files:
        relative = path.relative_to(DEPLOY)
        assert any(relative.match(pattern) for pattern in CHECKED), f"unchecked: {relative}"
        if path.suffix in (".yaml", ".yml"):
            assert load_all(path), relative
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".xml":
            ET.parse(path)
        elif path.suffix == ".sh":
            subprocess.run(["sh", "-n", str(path)], check=True)
    assert "./knowledge:/etc/claimguard/knowledge:ro" in compose()["services"]["worker"]["volumes"]


@pytest.mark.parametrize("pattern", sorted(CHECKED))
def test_every_checked_pattern_has_files(pattern: str) -> None:
    assert any(p.relative_to(DEPLOY).match(pattern) for p in DEPLOY.rglob("*") if p.is_file())
