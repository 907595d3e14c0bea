"""Secure connections: the TLS/SASL and ClickHouse credential settings reach the real
aiokafka, Faust and clickhouse-connect objects, and a password (read from a file) never
shows in `ps`, a log line or an error message of the real CLI."""

from __future__ import annotations

import ast
import asyncio
import base64
import contextlib
import os
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from claimguard.ops import connections
from claimguard.ops.connections import (
    ConfigError,
    Connections,
    Secret,
    configure,
    faust_credentials,
    kafka_client_args,
    store_client_args,
)
from claimguard.stream.broker import free_port
from ops_support import REPO

PASSWORD = "Pa55-w0rd-never-shown-7f3c"


@pytest.fixture(autouse=True)
def restore_connections() -> Iterator[None]:
    yield
    connections._current = None


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    root = tmp_path_factory.mktemp("tls")
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def sasl(password_file: Path, mechanism: str = "SCRAM-SHA-512", **more: object) -> Connections:
    return Connections.from_values(
        {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": mechanism,
            "kafka_sasl_username": "claimguard",
            "kafka_sasl_password_file": str(password_file),
            **more,
        },
        env={},
    )


# -- settings reach the client objects -----------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_and_tls_reach_aiokafka_clients(
    password_file: Path, tls_files: tuple[Path, Path], mechanism: str
) -> None:
    cert, key = tls_files
    settings = sasl(
        password_file, mechanism, kafka_ca_file=str(cert), kafka_cert_file=str(cert),
        kafka_key_file=str(key),
    )  # fmt: skip
    configure(settings)
    args = kafka_client_args()

    async def clients() -> list:  # type: ignore[type-arg]
        # constructed only (no connection), inside a loop as aiokafka wants
        producer = AIOKafkaProducer(bootstrap_servers="kafka:9093", **args)
        consumer = AIOKafkaConsumer(bootstrap_servers="kafka:9093", **args)
        admin = AIOKafkaAdminClient(bootstrap_servers="kafka:9093", **args)
        found = [producer.client, consumer._client, admin._client]
        await producer.stop()
        await consumer.stop()
        await admin.close()
        return found

    for client in asyncio.run(clients()):
        assert client._security_protocol == "SASL_SSL"
        assert client._sasl_mechanism == mechanism
        assert client._sasl_plain_username == "claimguard"
        assert client._sasl_plain_password == PASSWORD
        context = client._ssl_context
        assert context is not None and context.get_ca_certs()  # the CA file was loaded


def test_tls_only_and_plaintext() -> None:
    assert kafka_client_args(Connections()) == {}
    plain = Connections.from_values({}, env={})
    assert plain.kafka_security_protocol == "PLAINTEXT" and faust_credentials(plain) is None


def test_faust_app_gets_broker_credentials(
    password_file: Path, tls_files: tuple[Path, Path], sample_dir: Path, tmp_path: Path
) -> None:
    """The worker's real Faust app, built as `claimguard worker` builds it."""
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from claimguard.engine import Engine
    from claimguard.stream.settings import WorkerSettings
    from claimguard.stream.worker import build_app

    configure(sasl(password_file, kafka_ca_file=str(tls_files[0])))
    asyncio.set_event_loop(asyncio.new_event_loop())
    settings = WorkerSettings(
        broker="kafka://kafka:9093", store="chdb://x", knowledge=sample_dir / "knowledge",
        datadir=tmp_path,
    )  # fmt: skip
    app, _ = build_app(settings, Engine.load(sample_dir / "knowledge"), object(), 4)
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials)
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "SCRAM-SHA-512"
    assert auth["sasl_plain_username"] == "claimguard"
    assert auth["sasl_plain_password"] == PASSWORD
    assert auth["ssl_context"].get_ca_certs()


def test_every_kafka_client_in_src_passes_the_settings() -> None:
    """Every aiokafka client claimguard constructs takes **kafka_client_args()."""
    names = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}
    calls = 0
    for path in (REPO / "src" / "claimguard").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in names:
                calls += 1
                spread = [k.value for k in node.keywords if k.arg is None]
                assert any(
                    isinstance(v, ast.Call) and getattr(v.func, "id", "") == "kafka_client_args"
                    for v in spread
                ), f"{path.relative_to(REPO)}:{node.lineno} does not pass kafka_client_args()"
    assert calls >= 8


def test_secret_is_masked_and_settings_refuse_what_cannot_work(
    password_file: Path, tmp_path: Path
) -> None:
    settings = sasl(password_file)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.kafka_sasl_password)
    assert isinstance(settings.kafka_sasl_password, Secret)
    with pytest.raises(ConfigError, match="needs --kafka-sasl-username"):
        Connections.from_values(
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"}, env={}
        )
    with pytest.raises(ConfigError, match="mechanism 'GSSAPI'"):
        sasl(password_file, "GSSAPI")
    with pytest.raises(ConfigError, match="cannot read") as refused:
        sasl(tmp_path / "missing")
    assert str(tmp_path / "missing") in str(refused.value)
    with pytest.raises(ConfigError, match="use --store-password-file") as url:
        store_client_args(f"https://claimguard:{PASSWORD}@ch:8443")
    assert PASSWORD not in str(url.value)
    # environment variables work like flags
    env = {
        "CLAIMGUARD_STORE_USER": "claimguard",
        "CLAIMGUARD_STORE_PASSWORD_FILE": str(password_file),
    }
    args = store_client_args("https://ch:9440", Connections.from_env(env))
    assert args == {"secure": True, "username": "claimguard", "password": PASSWORD}
    assert "secure" not in store_client_args("http://ch:8123", Connections.from_env(env))
    assert store_client_args("chdb:///data/x", Connections.from_env(env)) == {}


# -- the real CLI: credentials sent, never shown -------------------------------------------


class FakeClickHouse(ThreadingHTTPServer):
    """Answers every request 516 (authentication failed) and records the credentials."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.seen: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server.seen.append({k.lower(): v for k, v in self.headers.items()})
                body = b"Code: 516. DB::Exception: claimguard: Authentication failed."
                self.send_response(401)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-ClickHouse-Exception-Code", "516")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        if tls is not None:  # https, with the test CA's certificate
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def credentials(self) -> set[tuple[str, str]]:
        found = set()
        for headers in self.seen:
            if "x-clickhouse-user" in headers:
                found.add((headers["x-clickhouse-user"], headers.get("x-clickhouse-key", "")))
            auth = headers.get("authorization", "")
            if auth.startswith("Basic "):
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                found.add((user, password))
        return found


def run_cli(
    cli: list[str], args: list[str], env: dict[str, str], watch: float = 0.0
) -> tuple[int, str, list[str]]:
    """Run the real CLI; → (exit code, output, every argv seen in /proc while it ran)."""
    proc = subprocess.Popen(
        [*cli, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, **env},
    )  # fmt: skip
    argvs: list[str] = []
    deadline = time.monotonic() + watch
    while proc.poll() is None and (not watch or time.monotonic() < deadline):
        with contextlib.suppress(OSError):  # what `ps` shows: the process's command line
            argvs.append(Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace"))
        time.sleep(0.05)
        if watch and time.monotonic() >= deadline:
            proc.terminate()
    out = proc.communicate(timeout=60)[0].decode(errors="replace")
    return int(proc.returncode), out, argvs


def test_worker_sends_store_credentials_and_never_shows_the_password(
    claimguard_cli: list[str], password_file: Path, sample_dir: Path, tmp_path: Path
) -> None:
    server = FakeClickHouse()
    try:
        code, out, argvs = run_cli(
            claimguard_cli,
            ["worker", "--store", f"http://127.0.0.1:{server.port}", "--store-user", "claimguard",
             "--store-password-file", str(password_file), "--knowledge",
             str(sample_dir / "knowledge"), "--store-wait", "1", "--metrics-port", "0",
             "--log-format", "json"],
            {"CLAIMGUARD_WORKER_DIR": str(tmp_path / "w")},
        )  # fmt: skip
    finally:
        server.shutdown()
    assert ("claimguard", PASSWORD) in server.credentials()  # clickhouse-connect sent them
    assert code in (2, 69), out
    assert "claimguard worker: store" in out  # the error names the store...
    assert PASSWORD not in out  # ...but never the password
    assert argvs and not any(PASSWORD in a for a in argvs)


def test_kafka_password_never_in_output_or_argv(
    claimguard_cli: list[str], password_file: Path, sample_dir: Path, tmp_path: Path
) -> None:
    dead = free_port()  # nothing listens: the clients fail after their SASL settings load
    env = {
        "CLAIMGUARD_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CLAIMGUARD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "CLAIMGUARD_KAFKA_SASL_USERNAME": "claimguard",
        "CLAIMGUARD_KAFKA_SASL_PASSWORD_FILE": str(password_file),
        "CLAIMGUARD_WORKER_DIR": str(tmp_path / "w"),
    }
    code, out, argvs = run_cli(
        claimguard_cli,
        ["worker", "--broker", f"kafka://127.0.0.1:{dead}", "--store",
         f"chdb://{tmp_path / 'store'}", "--knowledge", str(sample_dir / "knowledge"),
         "--metrics-port", "0", "--log-format", "json"],
        env,
    )  # fmt: skip
    assert code == 69, out
    assert f"broker kafka://127.0.0.1:{dead}" in out
    assert PASSWORD not in out and not any(PASSWORD in a for a in argvs)
    # serve keeps running while the broker is away: watch it for a few seconds
    code, out, argvs = run_cli(
        claimguard_cli,
        ["serve", "--broker", f"kafka://127.0.0.1:{dead}", "--listen", f"127.0.0.1:{free_port()}",
         "--log-format", "json"],
        env,
        watch=4.0,
    )  # fmt: skip
    assert argvs and PASSWORD not in out and not any(PASSWORD in a for a in argvs)


def test_unusable_settings_exit_2_naming_the_setting(
    claimguard_cli: list[str], password_file: Path, sample_dir: Path
) -> None:
    code, out, _ = run_cli(
        claimguard_cli,
        ["worker", "--store", f"https://claimguard:{PASSWORD}@ch:8443", "--knowledge",
         str(sample_dir / "knowledge")],
        {},
    )  # fmt: skip
    assert code == 2 and "use --store-password-file" in out and PASSWORD not in out
    code, out, _ = run_cli(
        claimguard_cli,
        ["serve", "--kafka-security-protocol", "SASL_SSL", "--kafka-sasl-mechanism", "PLAIN",
         "--kafka-sasl-username", "u", "--kafka-sasl-password-file", "/nonexistent/pw"],
        {},
    )  # fmt: skip
    assert code == 2 and "kafka-sasl-password-file: cannot read /nonexistent/pw" in out


def test_https_store_verified_by_the_ca_file(
    claimguard_cli: list[str],
    password_file: Path,
    sample_dir: Path,
    tmp_path: Path,
    tls_files: tuple[Path, Path],
) -> None:
    def worker(server: FakeClickHouse, *extra: str) -> tuple[int, str, list[str]]:
        return run_cli(
            claimguard_cli,
            ["worker", "--store", f"https://127.0.0.1:{server.port}", "--store-user",
             "claimguard", "--store-password-file", str(password_file), "--knowledge",
             str(sample_dir / "knowledge"), "--store-wait", "1", "--metrics-port", "0", *extra],
            {"CLAIMGUARD_WORKER_DIR": str(tmp_path / "w")},
        )  # fmt: skip

    trusted = FakeClickHouse(tls=tls_files)
    try:
        code, out, argvs = worker(trusted, "--store-ca-file", str(tls_files[0]))
    finally:
        trusted.shutdown()
    assert ("claimguard", PASSWORD) in trusted.credentials()  # over TLS, certificate verified
    assert code in (2, 69) and PASSWORD not in out and not any(PASSWORD in a for a in argvs)
    unknown = FakeClickHouse(tls=tls_files)
    try:
        code, out, _ = worker(unknown)  # no CA file: the self-signed certificate is refused
    finally:
        unknown.shutdown()
    assert unknown.credentials() == set()  # nothing sent to an unverified server
    assert code in (2, 69) and "certificate verify failed" in out.lower(), out[-2000:]
    assert PASSWORD not in out
