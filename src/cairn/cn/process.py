"""Running a compute node process: the Flight data service and its HTTP endpoints, until a stop signal."""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading

from cairn.cn.engine_worker import EngineWorker
from cairn.cn.registration import register_in_background
from cairn.cn.service import ComputeService
from cairn.cn.status_server import NodeStatusServer
from cairn.config.cn_config import CnConfig
from cairn.errors import ConfigError
from cairn.fe.peers import JoinResponse

log = logging.getLogger("cairn")


class ComputeNode:
    """A started compute node (also usable inside one process, e.g. by tests and benchmarks)."""

    def __init__(self, config: CnConfig) -> None:
        self.config = config
        try:
            scheme = "grpc+tls" if config.tls else "grpc"
            self.service = ComputeService(config, f"{scheme}://{config.bind_address}:{config.thrift_port}")
        except OSError as exc:
            raise ConfigError(f"cannot serve on {config.host}:{config.thrift_port} (thrift_port): {exc}") from None
        self._flight = threading.Thread(target=self.service.serve, name="cn-flight", daemon=True)
        self._flight.start()
        try:
            self.status = NodeStatusServer(self.service)
        except OSError as exc:
            self.service.shutdown()
            raise ConfigError(f"cannot serve the heartbeat or web port on {config.host}: {exc}") from None
        log.info("CN serving: heartbeat on %s:%d, data (Arrow Flight) on %s:%d, http on %s:%d",
                 config.host, config.heartbeat_service_port, config.host, config.thrift_port,
                 config.host, config.webserver_port)

    def close(self) -> None:
        self.status.close()
        self.service.shutdown()


# How often the main thread looks for work only it may do (starting the engine's worker).
WAKE_SECONDS = 0.2
# How long a stopping node waits for calls in progress.
STOP_SECONDS = 5.0


def run_compute_node(config: CnConfig, join: str | None = None) -> None:
    """Serve until SIGTERM or SIGINT; with `join` (an FE's host:edit_log_port), register this node
    through it once serving."""
    config.report_keys()
    node = ComputeNode(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker = EngineWorker(config)
    answers: queue.Queue[JoinResponse] = queue.Queue()
    if join:
        register_in_background(config, join, stop, answers.put)
    while not stop.wait(WAKE_SECONDS):
        if node.service.dropped.is_set():
            node.service.dropped.clear()
            node.service.engine_head = None
            worker.stop()
        if not config.cairn_distributed_engine:
            continue
        # Ray's node start-up installs signal handlers, which only the main thread may do.
        heard = node.service.engine_head
        if heard is not None and heard[0] != worker.head_address and not node.service.dropped.is_set():
            # The leader changed (an FE failover): its heartbeat names its own head.
            worker.start(*heard)
        try:
            answer = answers.get_nowait()
        except queue.Empty:
            continue
        if answer.engine_address is None or answer.node_id is None:
            log.warning("cairn_distributed_engine is on, but the leader FE %s runs no engine head "
                        "(cairn_distributed_engine in its fe.conf): no engine worker started", answer.leader_address)
            continue
        worker.start(answer.engine_address, answer.node_id)
    log.info("CN stopping")
    worker.stop()
    # Arrow Flight's shutdown waits for every call in progress: a scan an FE still streams, or a
    # client that stopped reading, would hold the node up for ever. Calls left after the bound are
    # cut off (their FE sees a failed call and retries elsewhere, or fails the statement).
    closer = threading.Thread(target=node.close, name="cn-close", daemon=True)
    closer.start()
    closer.join(STOP_SECONDS)
    if closer.is_alive():
        log.warning("CN stopping: calls still running after %.0f s are cut off", STOP_SECONDS)
        logging.shutdown()
        os._exit(0)
