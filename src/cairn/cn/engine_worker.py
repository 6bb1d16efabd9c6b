"""A compute node's worker of the distributed engine: a Ray worker node, started in this node's
process tree once the leader FE has handed over its engine head's address (the `/cn/join` answer,
then each heartbeat of the leader), bound to the node's own address and named after its CN id, and
stopped with the node. When a new leader names another head (an FE failover), the worker leaves the
old head and joins the new one."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from cairn.config.cn_config import CnConfig
from cairn.errors import EngineStartError

log = logging.getLogger(__name__)


class EngineWorker:
    """The Ray worker node this CN hosts, if any (one at a time, stopped by `stop`)."""

    def __init__(self, config: CnConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._cluster: Any = None
        self.head_address: str | None = None

    def start(self, head_address: str, node_id: int) -> None:
        """Join the engine's head at `head_address` as the worker node of CN `node_id`, leaving the
        head it joined before, if another. Ray is imported here, so a node with the engine off never
        loads it."""
        credential = self.config.credential
        if credential is None:
            return
        from cairn.distributed.runtime import EngineCluster, engine_resource  # noqa: PLC0415 - Ray only when on

        with self._lock:
            if self._cluster is not None and self.head_address == head_address:
                return
            if self._cluster is not None:
                log.info("the engine's head moved from %s to %s: the worker joins the new one",
                         self.head_address, head_address)
                self._cluster.stop()
                self._cluster, self.head_address = None, None
            cluster = EngineCluster(credential, bind_address=self.config.bind_address,
                                    object_store_bytes=self.config.cairn_engine_object_store_size,
                                    head_address=head_address)
            # Ray's node start-up replaces the process's SIGTERM handler with its own (drain, kill its
            # processes, sys.exit), which skips the CN's orderly stop and can leave it hanging:
            # the CN's handler is put back, and the CN's stop stops the worker node.
            handler = signal.getsignal(signal.SIGTERM)
            try:
                # The resource is named by the CN id; add_worker prefixes it with "cairn_node:".
                cluster.add_worker(str(node_id), cpus=self.config.cairn_engine_cpus)
            except EngineStartError as exc:
                log.error("the distributed engine's worker did not start: %s", exc)
                cluster.stop()
                return
            finally:
                if handler is not None and threading.current_thread() is threading.main_thread():
                    signal.signal(signal.SIGTERM, handler)
            self._cluster, self.head_address = cluster, head_address
        log.info("distributed engine worker joined the head at %s as %s (%d CPUs)", head_address,
                 engine_resource(node_id), self.config.cairn_engine_cpus)

    def stop(self) -> None:
        """Stop the worker node's processes (raylet, object store, workers)."""
        with self._lock:
            cluster, self._cluster, self.head_address = self._cluster, None, None
        if cluster is not None:
            cluster.stop()
            log.info("distributed engine worker stopped")
