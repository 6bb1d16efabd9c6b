"""The engine cluster: Ray's head beside the FE, one Ray worker node per CN.

Security (issue #14, docs/architecture.md "Distributed execution"): Ray's control plane runs pickled
code for any client that reaches it, so
- token authentication is on (`RAY_AUTH_MODE=token`, set when this package is imported, before Ray
  is), with a token derived from the cluster credential: every FE and CN holding the credential
  derives the same token, a process without it is refused. The token is registered for redaction
  and never logged;
- every process binds to the node's address on the cluster network (`node_ip_address`), 127.0.0.1
  on one machine. Ray rewrites 127.0.0.1 in a bootstrap address into the machine's first
  non-loopback address unless `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, also set at import.

The nodes are `ray._private.node.Node`s, the way Ray's own `ray.cluster_utils.Cluster` starts them:
their processes are children of this one, stopped by `stop()` (and by Ray's reaper when this
process dies), never by name.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
import ray._private.node as ray_node
import ray._private.parameter as ray_parameter
from ray._raylet import AuthenticationTokenLoader  # type: ignore[attr-defined]  # a compiled module its stub omits

from cairn.errors import EngineStartError, NoComputeNodeError
from cairn.secrets import register_secret

log = logging.getLogger(__name__)

_TOKEN_CONTEXT = b"cairn: token of the distributed engine's cluster (Ray)"
# Every worker node Cairn starts carries a resource naming it (the CN it stands for).
_NODE_RESOURCE = "cairn_node:"
# How soon Ray's GCS declares a silent node dead (and its tasks are run elsewhere): a health check
# every second, five missed in a row. Ray's defaults take about half a minute.
_HEALTH_CHECKS = {"health_check_period_ms": 1000, "health_check_timeout_ms": 1000, "health_check_failure_threshold": 5}
# Ray's own start-up waits 30 s for a raylet to register; under load one start in several failed so
# on the reference machine, and the next worked.
START_ATTEMPTS = 3


def engine_token(credential: str) -> str:
    """The engine's authentication token, derived from the cluster credential (so every node of the
    cluster derives it, and it says nothing about the credential); registered for redaction."""
    token = hmac.new(credential.encode(), _TOKEN_CONTEXT, hashlib.sha256).hexdigest()
    register_secret(token)
    return token


def engine_resource(name: str | int) -> str:
    """The Ray resource naming worker node `name` (a CN's id): the FE maps CNs to Ray nodes by it."""
    return f"{_NODE_RESOURCE}{name}"


def _use_token(token: str) -> None:
    # The processes Ray starts from here inherit the environment; this process's own clients read
    # the token through Ray's loader, whose cache is reset so the new token counts.
    os.environ["RAY_AUTH_TOKEN"] = token
    AuthenticationTokenLoader.instance().reset_cache()


@dataclass
class WorkerNode:
    """A Ray worker node this process started (standing for a CN)."""

    name: str
    node_id: str
    node: Any = field(repr=False)


@dataclass
class EngineCluster:
    """A Ray cluster run by Cairn: `start_head` beside the FE, `add_worker` for each CN hosted on
    this machine, `connect` to submit work. A CN whose head runs elsewhere names it in
    `head_address` and only adds its worker. `object_store_bytes` sizes each node's object store."""

    credential: str = field(repr=False)
    bind_address: str = "127.0.0.1"
    head_address: str | None = None
    object_store_bytes: int = 512 * 1024 * 1024
    temp_dir: Path | None = None
    head: Any = field(default=None, repr=False)
    workers: dict[str, WorkerNode] = field(default_factory=dict)
    _own_temp: str | None = field(default=None, repr=False)
    _connected: bool = field(default=False, repr=False)

    def _params(self, **kwargs: Any) -> Any:
        if self.temp_dir is None:
            # Ray's default, /tmp/ray, is shared by every Ray cluster of the machine.
            self._own_temp = tempfile.mkdtemp(prefix="cairn-ray-")
            self.temp_dir = Path(self._own_temp)
        return ray_parameter.RayParams(
            node_ip_address=self.bind_address, object_store_memory=self.object_store_bytes,
            include_dashboard=False, temp_dir=str(self.temp_dir), min_worker_port=0, max_worker_port=0,
            num_gpus=0, **kwargs)

    @property
    def address(self) -> str:
        """The GCS address (host:port) workers and clients join."""
        if self.head is not None:
            return str(self.head.gcs_address)
        if self.head_address is not None:
            return self.head_address
        raise EngineStartError("the engine's head is not running")

    # Nodes start with `shutdown_at_exit=False`: Ray's hooks would install a SIGTERM handler (which
    # only the main thread may do, so a new leader's head, started on the leadership thread, could
    # not start, and which exits the process skipping its owner's orderly stop). The owner stops
    # the nodes (`stop`), and Ray's reaper does when the process ends without it (killed, or exited).
    def start_head(self) -> str:
        """Start Ray's head (its GCS; no CPUs, so no task runs beside the FE); its address."""
        _use_token(engine_token(self.credential))
        params = self._params(num_cpus=0, _system_config=dict(_HEALTH_CHECKS))
        self.head = self._start(lambda: ray_node.Node(params, head=True, shutdown_at_exit=False, spawn_reaper=True),
                                "the engine's head")
        log.info("engine head started at %s", self.address)
        return self.address

    def add_worker(self, name: str, cpus: int = 1) -> WorkerNode:
        """Start a worker node called `name` on this machine and wait until it has joined."""
        _use_token(engine_token(self.credential))
        params = self._params(num_cpus=cpus, resources={f"{_NODE_RESOURCE}{name}": 1.0})
        params.update_if_absent(gcs_address=self.address, include_log_monitor=False, node_manager_port=0)
        params.dashboard_agent_listen_port = None
        node = self._start(lambda: ray_node.Node(params, head=False, shutdown_at_exit=False, spawn_reaper=True),
                           f"engine worker {name}")
        try:
            ray._private.services.wait_for_node(node.gcs_address, node.plasma_store_socket_name, 60)
        except TimeoutError:
            node.kill_all_processes(check_alive=False, allow_graceful=False, wait=True)
            raise EngineStartError(f"engine worker {name} did not join the engine's head at {self.address}") from None
        worker = WorkerNode(name=name, node_id=str(node.node_id), node=node)
        self.workers[name] = worker
        return worker

    def _start(self, start: Any, what: str) -> Any:
        error: Exception | None = None
        for _ in range(START_ATTEMPTS):
            try:
                return start()
            except Exception as exc:  # noqa: BLE001 - Ray's start-up raises many types; retried, then reported
                error = exc
                log.warning("%s did not start (%s); trying again", what, type(exc).__name__)
                time.sleep(0.5)
        raise EngineStartError(f"{what} did not start: {error}")

    def connect(self) -> None:
        """Connect this process to the cluster as its driver (the FE's role)."""
        _use_token(engine_token(self.credential))
        self._connected = True
        ray.init(address=self.address, _node_ip_address=self.bind_address, logging_level=logging.ERROR,
                 log_to_driver=False, configure_logging=False)

    def node_ids(self) -> list[str]:
        """The Ray node ids of the cluster's worker nodes that are alive (whoever started them),
        ordered by their names."""
        named: list[tuple[str, str]] = []
        for n in ray.nodes():  # type: ignore[no-untyped-call]
            names = [r.removeprefix(_NODE_RESOURCE) for r in n.get("Resources", {}) if r.startswith(_NODE_RESOURCE)]
            if n.get("Alive") and names:
                named.append((names[0], str(n["NodeID"])))
        ids = [node_id for _, node_id in sorted(named)]
        if not ids:
            raise NoComputeNodeError("no engine worker node is alive to run the query")
        return ids

    def kill_worker(self, name: str) -> None:
        """Stop worker `name` at once (its raylet, object store and workers), as a crash would."""
        worker = self.workers.pop(name)
        worker.node.kill_all_processes(check_alive=False, allow_graceful=False, wait=True)

    def stop(self) -> None:
        """Disconnect (if `connect` did), stop every node this cluster started, remove its temp dir."""
        if self._connected and ray.is_initialized():
            ray.shutdown()
        self._connected = False
        for name in list(self.workers):
            self.kill_worker(name)
        if self.head is not None:
            self.head.kill_all_processes(check_alive=False, allow_graceful=True, wait=True)
            self.head = None
        if self._own_temp is not None:
            _remove_tree(self._own_temp)
            self._own_temp = None


def _remove_tree(path: str) -> None:
    # A raylet's agents and workers outlive it by a moment and may still be writing their logs
    # there: removed again until it stays gone, for a few seconds at most.
    deadline = time.monotonic() + 5.0
    while True:
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            time.sleep(0.2)
            if not os.path.exists(path):
                return
        if time.monotonic() > deadline:
            log.warning("could not remove the engine's temp dir %s", path)
            return
        time.sleep(0.2)
