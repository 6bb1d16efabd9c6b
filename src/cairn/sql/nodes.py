"""ALTER SYSTEM ADD / DROP COMPUTE NODE and SHOW COMPUTE NODES."""

from __future__ import annotations

import logging

import pyarrow as pa
import pyarrow.flight as flight

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import ComputeNode
from cairn.catalog.node_ops import AddComputeNodes, DropComputeNodes
from cairn.compute.registry import NodeState
from cairn.display import format_time
from cairn.errors import CairnError, ComputeNodeError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.sql.node_grammar import AddComputeNodeStatement, DropComputeNodeStatement, ShowComputeNodes
from cairn.sql.registry import StatementRegistry, cluster_admin
from cairn.sql.result import ResultSet

log = logging.getLogger(__name__)
# How long DROP COMPUTE NODE waits for the node to hear it was dropped.
TELL_SECONDS = 5.0

SHOW_COLUMNS = ["ComputeNodeId", "IP", "HeartbeatPort", "BePort", "HttpPort", "BrpcPort", "LastStartTime",
                "LastHeartbeat", "Alive", "SystemDecommissioned", "ClusterDecommissioned", "ErrMsg", "Version",
                "CpuCores", "NumRunningQueries", "MemUsedPct", "CpuUsedPct", "DataCacheMetrics", "HasStoragePath",
                "StarletPort", "WorkerId", "WarehouseName", "TabletNum", "StatusCode"]


def parse_address(text: str, error: type[CairnError] = ComputeNodeError,
                  port_name: str = "heartbeat_service_port") -> tuple[str, int]:
    """`host:port` → (host, port); `error` naming the text and the port expected otherwise."""
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise error(f"Invalid host:port '{text}': expected \"host:{port_name}\"")
    return host, int(port)


def add_compute_nodes(query: QueryContext, fe: Frontend, statement: AddComputeNodeStatement) -> ResultSet:
    """Register nodes (durably, in the journal) and heartbeat them at once."""
    wanted = [parse_address(a) for a in statement.addresses]

    def build(catalog: Catalog) -> AddComputeNodes:
        known = {n.address for n in catalog.state.compute_nodes}
        ids = catalog.allocate_ids(len(wanted))
        nodes = [ComputeNode(host=h, heartbeat_service_port=p, id=i) for (h, p), i in zip(wanted, ids)]
        for node in nodes:
            if node.address in known or [n.address for n in nodes].count(node.address) > 1:
                raise ComputeNodeError(f"Compute node already exists with same host and port: {node.address}")
        return AddComputeNodes(nodes=nodes)

    fe.commit(build)
    fe.compute_nodes.heartbeat_all()
    return ResultSet.ok()


def drop_compute_nodes(query: QueryContext, fe: Frontend, statement: DropComputeNodeStatement) -> ResultSet:
    addresses = [":".join(map(str, parse_address(a))) for a in statement.addresses]

    def build(catalog: Catalog) -> DropComputeNodes:
        known = {n.address for n in catalog.state.compute_nodes}
        for address in addresses:
            if address not in known:
                raise ComputeNodeError(f"compute node does not exist: {address}")
        return DropComputeNodes(addresses=addresses)

    leaving = [state for state in fe.compute_nodes.states() if state.address in addresses]
    fe.commit(build)
    for state in leaving:
        _tell_dropped(fe, state)
    return ResultSet.ok()


def _tell_dropped(fe: Frontend, state: NodeState) -> None:
    """Tell a dropped node so (it stops its engine worker); a node that is down is not waited for."""
    if state.report is None:  # never heard from since this FE started: there is no address to call
        log.info("compute node %s was dropped; it has not answered a heartbeat, so it was not told", state.address)
        return
    try:
        list(fe.compute_nodes.client(state).do_action(flight.Action("dropped", b"{}"),
                                                      flight.FlightCallOptions(timeout=TELL_SECONDS)))
    except (flight.FlightError, OSError, pa.ArrowException) as exc:
        log.info("compute node %s was dropped but could not be told so: %s", state.address,
                 str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _size(count: int) -> str:
    value, unit = float(count), "B"
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    return f"{value:.0f}B" if unit == "B" else f"{value:.2f}{unit}"


def show_compute_nodes(query: QueryContext, fe: Frontend, statement: ShowComputeNodes) -> ResultSet:
    registry = fe.compute_nodes
    tablets = registry.tablets_assigned()
    rows = []
    for state in registry.states():
        report = state.report
        cache = (f"Status: Normal, DiskUsage: {_size(report.cache_used_bytes)}/{_size(report.cache_capacity_bytes)}"
                 if report else None)
        rows.append((state.node.id, state.node.host, state.node.heartbeat_service_port,
                     report.thrift_port if report else None, report.webserver_port if report else None,
                     report.brpc_port if report else None, format_time(report.start_time if report else None),
                     format_time(state.last_heartbeat), str(state.alive).lower(), "false", "false", state.err_msg,
                     report.version if report else None, report.cpu_cores if report else None,
                     report.running if report else 0, "0.00 %", "0.0 %", cache, "true", 0, state.node.id,
                     "default_warehouse", tablets.get(state.address, 0), "OK" if state.alive else "DISCONNECTED"))
    types = [pa.int64(), pa.string(), pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.string(), pa.string(),
             pa.string(), pa.string(), pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.string(),
             pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.string(), pa.int64(), pa.string()]
    return ResultSet.from_rows(SHOW_COLUMNS, rows, types)


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(AddComputeNodeStatement, add_compute_nodes, needs=cluster_admin, writes=True)
    statements.add(DropComputeNodeStatement, drop_compute_nodes, needs=cluster_admin, writes=True)
    statements.add(ShowComputeNodes, show_compute_nodes, needs=cluster_admin)
