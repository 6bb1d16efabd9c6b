"""Running an FE process: open the cluster, serve MySQL, HTTP and the FE peer service, stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from cairn.config.cluster_tls import plaintext_warning
from cairn.config.fe_config import FeConfig
from cairn.errors import ConfigError
from cairn.fe.frontend import Frontend
from cairn.restore.startup import RestoreState, restore_at_startup
from cairn.secrets import RedactingFilter
from cairn.server.http_server import HttpFrontDoor
from cairn.server.mysql_server import MysqlFrontDoor
from cairn.server.peer_server import PeerService, peer_tls_context
from cairn.sql.statements import standard_statements

log = logging.getLogger("cairn")


def configure_logging(level: str) -> None:
    """Log to stderr, with every registered secret masked."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


async def _serve(frontend: Frontend, config: FeConfig, ready: "asyncio.Future[None] | None",
                 restore_state: RestoreState) -> None:
    statements = standard_statements()
    address = config.bind_address
    mysql = MysqlFrontDoor(frontend, statements, address, config.query_port,
                           handshake_timeout=config.mysql_handshake_timeout_second)
    http = HttpFrontDoor(frontend, address, config.http_port, restore_state)
    peers = PeerService(frontend, statements, address, config.edit_log_port)
    # Said before the ports open, so that whoever sees the FE serving can already read the warning.
    if (warning := plaintext_warning(config.credential, config.cluster_tls_ca_file)) is not None:
        log.warning("%s", warning)
    await mysql.start()
    http.start()
    peers.start()
    log.info("FE serving: MySQL on %s:%d, HTTP on %s:%d, FE peers on %s:%d%s", config.frontend_address,
             config.query_port, config.frontend_address, config.http_port, config.frontend_address,
             config.edit_log_port, " (TLS)" if config.peer_tls else "")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set_result(None)
    await stop.wait()
    log.info("FE stopping")
    peers.close()
    http.close()
    await mysql.close()


def _require_free_ports(config: FeConfig) -> None:
    """Raise ConfigError naming the key of a port this FE cannot listen on (another process holds it)."""
    for key in ("query_port", "http_port", "edit_log_port"):
        port = getattr(config, key)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((config.bind_address, port))
            except OSError as exc:
                raise ConfigError(f"cannot listen on {config.bind_address}:{port} ({key}): "
                                  f"{exc.strerror or exc}") from None


def run_frontend(config: FeConfig, on_ready: Callable[[Frontend], None] | None = None,
                 restore_from: Path | None = None, helper: str | None = None, join: bool = False) -> None:
    """Open the FE described by `config` (first restoring from `restore_from`, a
    cluster_snapshot.yaml; joining through the FE at `helper` on a first start) and serve until a
    stop signal. CairnError at start-up propagates to the
    caller (the CLI prints it as one line)."""
    config.report_keys()
    peer_tls_context(config)  # a TLS misconfiguration fails before anything is restored or opened
    _require_free_ports(config)  # and so does a port in use: an FE that cannot serve must not lead
    state = RestoreState()
    if restore_from is not None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        try:
            restore_at_startup(config, restore_from, state, stop,
                               generation=os.environ.get("RESTORE_CLUSTER_GENERATION") or None)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
    state.state = "finished"
    frontend = Frontend.open(config, helper=helper, lead_at_once=restore_from is not None, join=join)
    try:
        asyncio.run(_run(frontend, config, on_ready, state))
    finally:
        frontend.close()


async def _run(frontend: Frontend, config: FeConfig, on_ready: Callable[[Frontend], None] | None,
               restore_state: RestoreState) -> None:
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    if on_ready is not None:
        ready.add_done_callback(lambda _: on_ready(frontend))
    await _serve(frontend, config, ready, restore_state)
