"""Restore at FE start-up (`cairn fe --cluster_snapshot` or RESTORE_CLUSTER_SNAPSHOT=true), with the
state that `GET /api/v2/get_cluster_snapshot_restore_state` reports while it runs."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError
from cairn.restore.plan import plan_restore
from cairn.restore.restorer import restore
from cairn.restore.snapshot_yaml import read_snapshot_yaml

log = logging.getLogger(__name__)

RESTORE_STATE_PATH = "/api/v2/get_cluster_snapshot_restore_state"


class RestoreState:
    """'restoring', 'finished' or 'failed' (with the error), shared with the HTTP servers."""

    def __init__(self) -> None:
        self.state = "restoring"
        self.message = ""

    def answer(self) -> bytes:
        body = {"status": "OK" if self.state != "failed" else "FAILED", "state": self.state}
        if self.message:
            body["message"] = self.message
        return json.dumps(body).encode()


def _state_server(state: RestoreState, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("http %s", format % args)

        def do_GET(self) -> None:  # noqa: N802
            body = state.answer() if self.path == RESTORE_STATE_PATH else b'{"status": "restoring"}'
            self.send_response(200 if self.path == RESTORE_STATE_PATH else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="restore-state", daemon=True).start()
    return server


def restore_at_startup(config: FeConfig, yaml_path: Path, state: RestoreState,
                       stop: threading.Event | None = None) -> None:
    """Restore from `yaml_path` before the FE opens, answering the restore-state endpoint meanwhile.
    An empty file means: the image is already in place, nothing to restore.

    On failure the endpoint keeps answering `failed` with the error (what an operator polls) until
    `stop` is set; then the CairnError is raised."""
    server = _state_server(state, config.bind_address, config.http_port)
    try:
        spec = read_snapshot_yaml(yaml_path)
        if spec.cluster_snapshot is not None:
            plan = plan_restore(config, spec)
            log.info("restoring cluster %s from snapshot %s (%s)", plan.keys.cluster_id, plan.snapshot, plan.reason)
            restore(plan, config, spec)
    except CairnError as exc:
        state.state, state.message = "failed", str(exc)
        log.error("cluster restore failed: %s", exc)
        if stop is not None:
            stop.wait()
        raise
    finally:
        server.shutdown()
        server.server_close()
    state.state = "finished"
