"""The operations flags shared by `claimguard worker` and `claimguard serve`: metrics port,
log format, Kafka TLS/SASL and ClickHouse credentials. Every flag has a `CLAIMGUARD_*`
variable (flags win); secrets are files, never values."""

from __future__ import annotations

import argparse
import os

from claimguard.ops.connections import MECHANISMS, PROTOCOLS, Connections, configure

DEFAULT_METRICS_PORT = 9464
CONNECTION_FLAGS = (
    "kafka_security_protocol",
    "kafka_ca_file",
    "kafka_cert_file",
    "kafka_key_file",
    "kafka_sasl_mechanism",
    "kafka_sasl_username",
    "kafka_sasl_password_file",
    "store_user",
    "store_password_file",
    "store_ca_file",
)


def add_ops_arguments(parser: argparse.ArgumentParser, metrics: bool = True) -> None:
    group = parser.add_argument_group("operations (each flag also as CLAIMGUARD_<FLAG>)")
    if metrics:
        group.add_argument(
            "--metrics-port",
            type=int,
            default=int(os.environ.get("CLAIMGUARD_METRICS_PORT") or DEFAULT_METRICS_PORT),
            metavar="PORT",
            help=f"/metrics, /healthz, /readyz (default {DEFAULT_METRICS_PORT}; 0 = off)",
        )
    group.add_argument(
        "--log-format", choices=("text", "json"), default=None, help="json: one object a line"
    )
    group.add_argument("--kafka-security-protocol", choices=PROTOCOLS, default=None)
    group.add_argument("--kafka-ca-file", default=None, help="CA bundle (PEM) for Kafka TLS")
    group.add_argument("--kafka-cert-file", default=None, help="client certificate (mTLS)")
    group.add_argument("--kafka-key-file", default=None, help="client key (mTLS)")
    group.add_argument("--kafka-sasl-mechanism", choices=MECHANISMS, default=None)
    group.add_argument("--kafka-sasl-username", default=None)
    group.add_argument(
        "--kafka-sasl-password-file", default=None, help="file holding the SASL password"
    )
    group.add_argument("--store-user", default=None, help="ClickHouse user (https:// stores)")
    group.add_argument(
        "--store-password-file", default=None, help="file holding the ClickHouse password"
    )
    group.add_argument("--store-ca-file", default=None, help="CA bundle for ClickHouse https")


def apply_ops_arguments(args: argparse.Namespace) -> Connections:
    """Read the connection settings (and secret files) and make them the process's."""
    connections = Connections.from_values({k: getattr(args, k, None) for k in CONNECTION_FLAGS})
    configure(connections)
    return connections
