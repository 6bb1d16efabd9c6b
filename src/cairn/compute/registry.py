"""ComputeNodeRegistry: the FE's view of its compute nodes — who is registered (the catalog), who is
alive (heartbeats), and which node owns which tablet.

Tablets are assigned by rendezvous hashing over the alive nodes: a tablet stays on the same node as
long as that node lives (so its cache stays warm), only a dead node's tablets move, and a node
that comes back gets exactly its tablets back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow.flight as flight

from cairn.catalog.model import ComputeNode
from cairn.catalog.view import CatalogView
from cairn.compute.flight_auth import SendCredential
from cairn.compute.requests import ENGINE_HEAD_HEADER, ENGINE_NODE_HEADER, NodeReport
from cairn.config.cluster_credential import CREDENTIAL_ENV, CREDENTIAL_HEADER, header_value
from cairn.config.cluster_tls import client_context, read_pem
from cairn.config.fe_config import FeConfig
from cairn.config.hosts import resolve_host, urlopen
from cairn.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class NodeState:
    """What the FE knows of one registered node right now (not durable, as in StarRocks)."""

    node: ComputeNode
    alive: bool = False
    last_heartbeat: float | None = None
    err_msg: str = ""
    failures: int = 0
    report: NodeReport | None = None

    @property
    def address(self) -> str:
        return self.node.address

    def data_location(self, tls: bool) -> str:
        """Where the node's Flight data service listens, its host resolved through `CAIRN_HOSTS`."""
        assert self.report is not None
        return f"{'grpc+tls' if tls else 'grpc'}://{resolve_host(self.node.host)}:{self.report.thrift_port}"


def _score(address: str, item: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{address}/{item}".encode(), digest_size=8).digest(), "big")


def owner(addresses: Sequence[str], item: int) -> str:
    """The node among `addresses` that owns `item` (rendezvous hashing)."""
    return max(addresses, key=lambda address: _score(address, item))


class ComputeNodeRegistry:
    """Heartbeats, liveness and tablet assignment for one FE."""

    def __init__(self, catalog: CatalogView, config: FeConfig) -> None:
        self.catalog = catalog
        self.config = config
        self._states: dict[str, NodeState] = {}
        self._clients: dict[str, tuple[str, flight.FlightClient]] = {}
        self._lock = threading.Lock()
        # The engine head this FE runs while it leads (None otherwise): heartbeats name it.
        self.engine_head: Callable[[], str | None] = lambda: None

    def registered(self) -> list[ComputeNode]:
        """The nodes the catalog lists."""
        with self.catalog.lock:
            return [n.model_copy() for n in self.catalog.state.compute_nodes]

    def states(self) -> list[NodeState]:
        """The state of every registered node, in registration order."""
        nodes = self.registered()
        with self._lock:
            for node in nodes:
                self._states.setdefault(node.address, NodeState(node))
            for gone in set(self._states) - {n.address for n in nodes}:
                del self._states[gone]
            return [self._states[n.address] for n in nodes]

    def alive(self, exclude: Iterable[str] = ()) -> list[NodeState]:
        """Alive nodes, minus `exclude` (nodes that already failed the statement at hand)."""
        skip = set(exclude)
        return [s for s in self.states() if s.alive and s.report is not None and s.address not in skip]

    # -- heartbeats ---------------------------------------------------------------------------

    def heartbeat(self, state: NodeState) -> None:
        """Ask one node how it is; after `heartbeat_retry_times` failures in a row it is dead."""
        config = self.config
        scheme, context = ("https", client_context(config.cluster_tls_ca_file)) if config.cluster_tls_ca_file \
            else ("http", None)
        url = f"{scheme}://{state.node.host}:{state.node.heartbeat_service_port}/heartbeat"
        try:
            headers = {CREDENTIAL_HEADER: header_value(self._credential())}
            head = self.engine_head()
            if head is not None:
                headers |= {ENGINE_HEAD_HEADER: head, ENGINE_NODE_HEADER: str(state.node.id)}
            request = urllib.request.Request(url, headers=headers)
            with urlopen(request, timeout=config.heartbeat_timeout_second, context=context) as answer:
                report = NodeReport.model_validate(json.loads(answer.read()))
        except (OSError, ValueError, urllib.error.URLError, ConfigError) as exc:
            reason = "the node refused this FE's cluster credential" \
                if isinstance(exc, urllib.error.HTTPError) and exc.code == 401 else getattr(exc, "reason", exc)
            with self._lock:
                state.failures += 1
                state.err_msg = f"heartbeat to {state.address} failed: {reason}"
                if state.failures >= config.heartbeat_retry_times or state.report is None:
                    if state.alive:
                        log.warning("compute node %s is down: %s", state.address, state.err_msg)
                    state.alive = False
            return
        with self._lock:
            if not state.alive:
                log.info("compute node %s is alive", state.address)
                self._clients.pop(state.address, None)
            state.alive, state.failures, state.err_msg = True, 0, ""
            state.report, state.last_heartbeat = report, time.time()

    def heartbeat_all(self) -> None:
        states = self.states()
        if states:
            with ThreadPoolExecutor(max_workers=min(16, len(states))) as pool:
                list(pool.map(self.heartbeat, states))

    def mark_failed(self, address: str, message: str) -> None:
        """A node failed a request: treat it as down until a heartbeat says otherwise."""
        with self._lock:
            state = self._states.get(address)
            if state is not None:
                if state.alive:
                    log.warning("compute node %s failed work and is taken out: %s", address, message)
                state.alive, state.err_msg = False, message
            # A fresh channel once it is back: a failed one waits out gRPC's reconnect backoff.
            self._clients.pop(address, None)

    # -- assignment ---------------------------------------------------------------------------

    def assign(self, items: Iterable[int], nodes: Sequence[NodeState]) -> dict[str, list[int]]:
        """Group `items` (tablet ids) by the node among `nodes` that owns each."""
        addresses = [n.address for n in nodes]
        groups: dict[str, list[int]] = {}
        for item in items:
            groups.setdefault(owner(addresses, item), []).append(item)
        return groups

    def tablets_assigned(self) -> dict[str, int]:
        """How many of the catalog's tablets each alive node owns now."""
        nodes = self.alive()
        if not nodes:
            return {}
        with self.catalog.lock:
            tablets = [t for db in self.catalog.state.databases.values() for table in db.tables.values()
                       for p in table.partitions for t in p.tablet_ids]
        return {address: len(items) for address, items in self.assign(tablets, nodes).items()}

    def _credential(self) -> str:
        """The cluster credential every call to a node carries; ConfigError when none is configured."""
        credential = self.config.credential
        if credential is None:
            raise ConfigError("no cluster credential: set cluster_credential or cluster_credential_file in "
                              f"fe.conf (or the environment variable {CREDENTIAL_ENV}) to the compute nodes' value")
        return credential

    def client(self, state: NodeState) -> flight.FlightClient:
        """A Flight client to the node's data service (reconnected when its port changes); every
        call it makes carries the cluster credential."""
        ca_file = self.config.cluster_tls_ca_file
        location = state.data_location(tls=bool(ca_file))
        with self._lock:
            cached = self._clients.get(state.address)
            if cached is None or cached[0] != location:
                roots = read_pem(ca_file, "cluster_tls_ca_file") if ca_file else None
                # The certificate names the node as registered, not the address it resolved to.
                name = state.node.host if ca_file and resolve_host(state.node.host) != state.node.host else None
                cached = (location, flight.FlightClient(location, tls_root_certs=roots, override_hostname=name,
                                                        middleware=[SendCredential(self._credential())]))
                self._clients[state.address] = cached
            return cached[1]
