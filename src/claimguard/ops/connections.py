"""Secure connections: Kafka over TLS and/or SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512),
ClickHouse over https with a user and password.

Set by flags or `CLAIMGUARD_*` variables (flags win). Passwords are only ever read from
files (`--kafka-sasl-password-file`, `--store-password-file`; Kubernetes and compose
mount secrets as files): never a command-line value, so never in `ps`; and they are held
in `Secret`, whose str/repr is masked, so never in a log line or an error message.

The process configures this once (`configure`); every Kafka client passes
`kafka_client_args()` through, the Faust app takes `faust_credentials()`, the store
`store_client_args()`.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class ConfigError(ValueError):
    """A connection setting that cannot work; the message never holds a secret."""


class Secret:
    """A password: masked whenever printed, revealed only to the client that needs it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def read_secret(path: str | Path | None, what: str) -> Secret | None:
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    value = text.rstrip("\r\n")  # secret files usually end with a newline
    if not value:
        raise ConfigError(f"{what}: {path} is empty")
    return Secret(value)


@dataclass(frozen=True)
class Connections:
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_ca_file: str | None = None
    kafka_cert_file: str | None = None
    kafka_key_file: str | None = None
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: Secret | None = None
    store_user: str | None = None
    store_password: Secret | None = None
    store_ca_file: str | None = None

    def __post_init__(self) -> None:
        protocol = self.kafka_security_protocol
        if protocol not in PROTOCOLS:
            raise ConfigError(
                f"kafka security protocol {protocol!r}: one of {', '.join(PROTOCOLS)}"
            )
        sasl = protocol.startswith("SASL_")
        if sasl:
            if self.kafka_sasl_mechanism not in MECHANISMS:
                raise ConfigError(
                    f"kafka SASL mechanism {self.kafka_sasl_mechanism!r}: "
                    f"one of {', '.join(MECHANISMS)}"
                )
            if not self.kafka_sasl_username or self.kafka_sasl_password is None:
                raise ConfigError(
                    f"{protocol} needs --kafka-sasl-username and --kafka-sasl-password-file"
                )
        elif self.kafka_sasl_mechanism or self.kafka_sasl_password is not None:
            raise ConfigError(
                f"SASL settings given but --kafka-security-protocol is {protocol}: "
                "use SASL_SSL (or SASL_PLAINTEXT)"
            )
        for name in ("kafka_ca_file", "kafka_cert_file", "kafka_key_file", "store_ca_file"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ConfigError(f"{name.replace('_', '-')}: no such file {path}")

    @property
    def kafka_tls(self) -> bool:
        return self.kafka_security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.kafka_tls:
            return None
        context = ssl.create_default_context(cafile=self.kafka_ca_file)
        if self.kafka_cert_file:
            context.load_cert_chain(self.kafka_cert_file, self.kafka_key_file)
        return context

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Connections:
        return cls.from_values({}, env)

    @classmethod
    def from_values(cls, given: dict[str, Any], env: dict[str, str] | None = None) -> Connections:
        """`given`: flag values (None when absent), falling back to CLAIMGUARD_<NAME>."""
        env = dict(os.environ if env is None else env)

        def value(name: str) -> Any:
            flag = given.get(name)
            return flag if flag not in (None, "") else env.get(f"CLAIMGUARD_{name.upper()}") or None

        protocol = value("kafka_security_protocol") or "PLAINTEXT"
        return cls(
            kafka_security_protocol=str(protocol).upper(),
            kafka_ca_file=value("kafka_ca_file"),
            kafka_cert_file=value("kafka_cert_file"),
            kafka_key_file=value("kafka_key_file"),
            kafka_sasl_mechanism=(value("kafka_sasl_mechanism") or "").upper() or None,
            kafka_sasl_username=value("kafka_sasl_username"),
            kafka_sasl_password=read_secret(
                value("kafka_sasl_password_file"), "kafka-sasl-password-file"
            ),
            store_user=value("store_user"),
            store_password=read_secret(value("store_password_file"), "store-password-file"),
            store_ca_file=value("store_ca_file"),
        )


_current: Connections | None = None


def configure(connections: Connections) -> None:
    global _current
    _current = connections


def current() -> Connections:
    """What `configure` set, else the environment (library use, tests, subprocesses)."""
    return _current if _current is not None else Connections.from_env()


def kafka_client_args(connections: Connections | None = None) -> dict[str, Any]:
    """Keyword arguments for every aiokafka client (producer, consumer, admin)."""
    c = connections or current()
    if c.kafka_security_protocol == "PLAINTEXT":
        return {}
    args: dict[str, Any] = {"security_protocol": c.kafka_security_protocol}
    context = c.ssl_context()
    if context is not None:
        args["ssl_context"] = context
    if c.kafka_security_protocol.startswith("SASL_"):
        assert c.kafka_sasl_password is not None
        args.update(
            sasl_mechanism=c.kafka_sasl_mechanism,
            sasl_plain_username=c.kafka_sasl_username,
            sasl_plain_password=c.kafka_sasl_password.reveal(),
        )
    return args


def faust_credentials(connections: Connections | None = None) -> Any:
    """Faust's `broker_credentials` (None for plaintext)."""
    import faust

    c = connections or current()
    if c.kafka_security_protocol == "PLAINTEXT":
        return None
    if c.kafka_security_protocol == "SSL":
        return faust.SSLCredentials(c.ssl_context())
    assert c.kafka_sasl_password is not None
    return faust.SASLCredentials(
        username=c.kafka_sasl_username,
        password=c.kafka_sasl_password.reveal(),
        ssl_context=c.ssl_context(),
        mechanism=c.kafka_sasl_mechanism,
    )


def store_client_args(target: str, connections: Connections | None = None) -> dict[str, Any]:
    """Keyword arguments for clickhouse_connect.get_client on a server target."""
    c = connections or current()
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https", "clickhouse+http", "clickhouse+https"):
        return {}
    if parts.password:
        raise ConfigError(
            f"--store {parts.scheme}://{parts.hostname}:…: a password in the URL would show "
            "in ps and logs; use --store-password-file"
        )
    args: dict[str, Any] = {}
    if parts.scheme.endswith("https"):
        # clickhouse-connect 1.12 takes TLS from the DSN's port (443/8443) only: an https
        # target on another port would silently go out as plain http, password included
        args["secure"] = True
    if c.store_user:
        args["username"] = c.store_user
    if c.store_password is not None:
        args["password"] = c.store_password.reveal()
    if c.store_ca_file:
        args["ca_cert"] = c.store_ca_file
    return args
