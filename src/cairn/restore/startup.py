"""Restore at FE start-up (`cairn fe --cluster_snapshot` or RESTORE_CLUSTER_SNAPSHOT=true), with the
state that `GET /api/v2/get_cluster_snapshot_restore_state` reports while it runs."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError
from cairn.journal.incarnation import Incarnation, read_incarnation
from cairn.restore.plan import RestorePlan, plan_restore
from cairn.restore.restorer import restore
from cairn.restore.snapshot_yaml import read_snapshot_yaml

log = logging.getLogger(__name__)

RESTORE_STATE_PATH = "/api/v2/get_cluster_snapshot_restore_state"


class RestoreState:
    """'restoring', 'finished' or 'failed' (with the error), shared with the HTTP servers; once
    finished, what was restored (snapshot, its path, the journal id, the restore's seconds)."""

    def __init__(self) -> None:
        self.state = "restoring"
        self.message = ""
        self.restored: dict[str, object] = {}

    def answer(self) -> bytes:
        body: dict[str, object] = {"status": "OK" if self.state != "failed" else "FAILED", "state": self.state}
        if self.message:
            body["message"] = self.message
        body.update(self.restored)
        return json.dumps(body).encode()


def _restored_by(plan: RestorePlan, generation: str | None) -> Incarnation | None:
    """The newest incarnation, when the DR `generation` already restored it."""
    if not generation or plan.new_incarnation <= 1:
        return None
    try:
        newest = read_incarnation(plan.meta_store, plan.keys, plan.new_incarnation - 1)
    except CairnError:
        return None
    return newest if newest.restore_generation == generation else None


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
                       stop: threading.Event | None = None, generation: str | None = None) -> None:
    """Restore from `yaml_path` before the FE opens, answering the restore-state endpoint meanwhile.
    An empty file means: the image is already in place, nothing to restore. With `generation` (the
    DR generation, RESTORE_CLUSTER_GENERATION), a cluster whose newest incarnation that generation
    already restored is resumed, not restored again (fe-0 restarted before the operator saw it ready).

    On failure the endpoint keeps answering `failed` with the error (what an operator polls) until
    `stop` is set; then the CairnError is raised."""
    server = _state_server(state, config.bind_address, config.http_port)
    try:
        spec = read_snapshot_yaml(yaml_path)
        if spec.cluster_snapshot is not None:
            plan = plan_restore(config, spec)
            done = _restored_by(plan, generation)
            if done is not None:
                log.info("cluster %s was already restored for disaster recovery generation %s (incarnation %d, "
                         "from %s): resuming it", plan.keys.cluster_id, generation, done.number,
                         done.restored_from_snapshot)
            else:
                log.info("restoring cluster %s from snapshot %s (%s)", plan.keys.cluster_id, plan.snapshot,
                         plan.reason)
                started = time.monotonic()
                number = restore(plan, config, spec, generation=generation)
                done = read_incarnation(plan.meta_store, plan.keys, number)
                state.restored["seconds"] = round(time.monotonic() - started, 3)
            asked = spec.cluster_snapshot.cluster_snapshot_path.rstrip("/")
            name = done.restored_from_snapshot or ""
            # A path ending in /meta asked for the newest complete snapshot: report the one restored.
            path = asked if not name or asked.endswith("/" + name) else f"{asked}/image/{name}"
            state.restored.update(snapshot=name, journal_id=done.restored_to_entry or 0, snapshot_path=path,
                                  incarnation=done.number, generation=generation or "")
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
