"""HTTP on http_port: `/api/health` for readiness probes and `/metrics` for Prometheus."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from cairn.fe.frontend import Frontend

log = logging.getLogger(__name__)


def _registry(frontend: Frontend) -> CollectorRegistry:
    registry = CollectorRegistry()
    journal = Gauge("cairn_journal_id", "Journal id of the catalog this FE serves", registry=registry)
    journal.set_function(lambda: frontend.position.entry_id)
    leader = Gauge("cairn_fe_is_leader", "1 while this FE leads its cluster", registry=registry)
    leader.set_function(lambda: 1 if frontend.is_leader else 0)
    databases = Gauge("cairn_catalog_databases", "Databases in the catalog", registry=registry)
    databases.set_function(lambda: len(frontend.catalog.state.databases))
    tables = Gauge("cairn_catalog_tables", "Tables in the catalog", registry=registry)
    tables.set_function(lambda: sum(len(d.tables) for d in frontend.catalog.state.databases.values()))
    return registry


class HttpFrontDoor:
    """A threaded HTTP server; one thread per request, stopped by `close`."""

    def __init__(self, frontend: Frontend, host: str, port: int) -> None:
        registry = _registry(frontend)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("http %s", format % args)

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                if self.path == "/api/health":
                    ok = frontend.is_leader
                    body = {"status": "OK" if ok else "FAILED",
                            "msg": "" if ok else frontend.not_leader_reason}
                    self._send(200 if ok else 503, json.dumps(body).encode(), "application/json")
                elif self.path == "/metrics":
                    self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, json.dumps({"status": "FAILED", "msg": "Not Found"}).encode(),
                               "application/json")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
