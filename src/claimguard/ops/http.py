"""The worker's ops port: /metrics (prometheus_client's default REGISTRY), /healthz and
/readyz, served from a daemon thread so a scrape never waits for the event loop.

- /healthz: 200 while the event loop ticks (a wedged loop answers 503: restart me).
- /readyz: 200 when input partitions are assigned and the store answered its last call
  (Kubernetes takes the pod out of rotation otherwise; it is not restarted for it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from claimguard.ops.metrics import WorkerMetrics

log = logging.getLogger("claimguard.ops")
STALL_SECONDS = 30.0  # no loop tick for this long: /healthz fails


class OpsServer:
    def __init__(self, metrics: WorkerMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        handler = _handler(self._health, self._ready)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="claimguard-ops-http", daemon=True
        )

    def start(self) -> OpsServer:
        self._thread.start()
        log.info("metrics, /healthz and /readyz on port %d", self.port)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _health(self) -> tuple[bool, dict[str, object]]:
        stalled = time.monotonic() - self.metrics.last_tick
        return stalled < STALL_SECONDS, {"loop_stalled_seconds": round(stalled, 3)}

    def _ready(self) -> tuple[bool, dict[str, object]]:
        m = self.metrics
        return m.ready, {"assigned_partitions": m.assigned, "store_up": m.store_up}


Probe = Callable[[], tuple[bool, dict[str, object]]]


def _handler(health: Probe, ready: Probe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/readyz"):
                ok, detail = (health if path == "/healthz" else ready)()
                body = json.dumps({"ok": ok, **detail}).encode()
                self._answer(200 if ok else 503, body, "application/json")
            else:
                self._answer(404, b"not found\n", "text/plain")

        def _answer(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds would drown the log

    return Handler
