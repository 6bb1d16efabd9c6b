"""The FE's side of the distributed engine (`cairn_distributed_engine = true` in fe.conf): the
leader runs Ray's head (its GCS, no CPUs) on the FE's cluster address, token-authenticated with a
token derived from the cluster credential, and hands its address to every CN that joins; queries
the query path gives it (`query/scale_out.py`) run on the workers of the CNs that are alive. A
follower connects to the leader's head as a driver of its own (`follow`), so its queries run on
the same workers.

Ray and DataFusion are imported only when the engine starts, so an FE with the engine off starts
no Ray process and loads neither."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pyarrow as pa
from prometheus_client import Counter
from pydantic import SecretStr

from cairn.compute.registry import ComputeNodeRegistry
from cairn.config.fe_config import FeConfig
from cairn.errors import (
    ComputeNodeFailedError,
    DistributedPlanError,
    DistributedRefusal,
    EngineStartError,
    NoComputeNodeError,
    QueryInterruptedError,
    QueryMemoryExceededError,
)
from cairn.fe.metrics import FrontendMetrics
from cairn.fe.query_queue import QueryQueue
from cairn.query.context import CancelToken
from cairn.query.engine import EngineTable, RunControl
from cairn.storage.volume import StorageVolume, VolumeType

log = logging.getLogger(__name__)

# How often a running query checks for cancellation and for workers left alive.
WAIT_SECONDS = 0.5


def _convertible(actual: pa.DataType, expected: pa.DataType) -> bool:
    """True when a column DataFusion types `actual` holds exactly the values of the embedded path's
    `expected` (a cast that loses nothing, checked for overflow)."""
    if actual == expected:
        return True
    if pa.types.is_integer(actual):
        return bool(pa.types.is_integer(expected) or (pa.types.is_decimal(expected) and expected.scale == 0))
    if pa.types.is_decimal(actual) and pa.types.is_decimal(expected):
        return bool(actual.scale == expected.scale)
    if pa.types.is_string(actual) or pa.types.is_large_string(actual) or pa.types.is_string_view(actual):
        return bool(pa.types.is_string(expected) or pa.types.is_large_string(expected))
    return False


def check_types(actual: pa.Schema, expected: pa.Schema) -> None:
    """Raise DistributedRefusal unless every column converts to the embedded path's type."""
    if len(actual) != len(expected):
        raise DistributedRefusal(f"its answer has {len(actual)} columns where the embedded path has {len(expected)}")
    for a, e in zip(actual, expected):
        if not _convertible(a.type, e.type):
            raise DistributedRefusal(f"column '{e.name}' would be {a.type} where the embedded path gives {e.type}")


def conform(answer: pa.Table, expected: pa.Schema) -> pa.Table:
    """`answer` with the embedded path's column names and types (casts checked for overflow)."""
    columns = [answer.column(i).cast(field.type, safe=True) for i, field in enumerate(expected)]
    return pa.Table.from_arrays(columns, schema=expected)


def _object_url(table: EngineTable, key: str) -> str:
    volume = table.store.volume
    if volume.type is VolumeType.LOCAL:
        path = table.store.local_path(key)
        if path is None:
            raise DistributedRefusal(f"object {key} of a local volume has no local path")
        return str(path)
    parsed = urlparse(volume.location)
    prefix = parsed.path.strip("/")
    return f"s3://{parsed.netloc}/{prefix + '/' if prefix else ''}{key}"


def _volume_store(volume: StorageVolume) -> Any:
    """The object store the workers read `volume` with: its compute credentials in place of its own
    keys (`for_compute_nodes`), travelling inside the tasks over the authenticated channel."""
    from cairn.distributed.session import VolumeStore  # noqa: PLC0415 - loaded with the engine only

    props = volume.for_compute_nodes().properties
    endpoint = props.get("aws.s3.endpoint") or None
    if endpoint and "://" not in endpoint:
        endpoint = "http://" + endpoint
    return VolumeStore(bucket=urlparse(volume.location).netloc, endpoint=endpoint,
                       region=props.get("aws.s3.region") or "us-east-1",
                       access_key_id=props.get("aws.s3.access_key"), secret_access_key=SecretStr(secret) if (secret := props.get("aws.s3.secret_key")) else None,
                       allow_http=bool(endpoint and endpoint.startswith("http://")))


@dataclass(frozen=True)
class EngineWorkerNode:
    """A CN's engine worker as the FE plans for it: its Ray node id, the CN's address, its CPUs and
    the memory Ray reckons it has for tasks (bytes; 0 when Ray does not say)."""

    node_id: str
    address: str
    cpus: int
    memory: int


class EngineHost:
    """The engine's head on the leader FE and the query runner over the CNs' workers (`ScaleOut`)."""

    def __init__(self, config: FeConfig, registry: ComputeNodeRegistry, metrics: FrontendMetrics) -> None:
        self.config = config
        self.registry = registry
        self._cluster: Any = None
        # The head this FE is a driver of without running it (a follower's), if any.
        self._followed: str | None = None
        self._lock = threading.Lock()
        self.gathered_bytes = Counter("cairn_distributed_gathered_bytes",
                                      "Bytes the FE gathered from the distributed engine's workers (query results)",
                                      registry=metrics.registry)
        self.queries = Counter("cairn_distributed_queries", "Queries answered by the distributed engine",
                               registry=metrics.registry)
        self.query_queue = QueryQueue(config, metrics.registry)

    @property
    def address(self) -> str | None:
        """The head's address for CNs to join; None when this FE runs no head."""
        cluster = self._cluster
        return None if cluster is None or self._followed is not None else str(cluster.address)

    def start(self) -> None:
        """Start the head and connect to it (on the FE that leads, with the engine switched on).
        A failure is logged: queries then run on the existing path."""
        credential = self.config.credential
        if not self.config.cairn_distributed_engine or credential is None:
            return
        from cairn.distributed.runtime import EngineCluster  # noqa: PLC0415 - Ray only when the engine is on

        with self._lock:
            if self._cluster is not None and self._followed is None:
                return
            self._stop_locked()  # a follower that now leads leaves the old leader's head
            cluster = EngineCluster(credential, bind_address=self.config.bind_address)
            try:
                cluster.start_head()
                cluster.connect()
            except EngineStartError as exc:
                log.error("the distributed engine's head did not start; queries run without it: %s", exc)
                cluster.stop()
                return
            self._cluster = cluster
        log.info("distributed engine head serving at %s", cluster.address)

    def follow(self, head: str | None) -> None:
        """On a follower: be a driver of the leader's head at `head` (leaving any other head, its
        own included once it no longer leads), so that queries here run on the CNs' workers too."""
        credential = self.config.credential
        if not self.config.cairn_distributed_engine or credential is None or head is None:
            return
        from cairn.distributed.runtime import EngineCluster  # noqa: PLC0415 - Ray only when the engine is on

        with self._lock:
            if self._followed == head:
                return
            self._stop_locked()
            cluster = EngineCluster(credential, bind_address=self.config.bind_address, head_address=head)
            try:
                cluster.connect()
            except Exception as exc:  # noqa: BLE001 - Ray's connection errors have no common type
                log.warning("could not connect to the engine's head at %s; queries run without it: %s", head, exc)
                cluster.stop()
                return
            self._cluster, self._followed = cluster, head
        log.info("connected to the engine's head at %s (the leader's)", head)

    def close(self) -> None:
        """Stop the head (the CNs' workers lose it and stop taking work), or leave the one followed."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        cluster, self._cluster, self._followed = self._cluster, None, None
        if cluster is not None:
            cluster.stop()

    # -- ScaleOut ---------------------------------------------------------------------------

    def _workers(self) -> list[EngineWorkerNode]:
        """The workers of the CNs alive now, in registration order."""
        import ray  # noqa: PLC0415 - loaded with the engine only

        from cairn.distributed.runtime import engine_resource  # noqa: PLC0415

        by_resource: dict[str, dict[str, Any]] = {}
        for node in ray.nodes():  # type: ignore[no-untyped-call]
            if node.get("Alive"):
                for name in node.get("Resources", {}):
                    by_resource[name] = node
        workers = []
        for state in self.registry.alive():
            found = by_resource.get(engine_resource(state.node.id))
            if found is not None:
                resources = found.get("Resources", {})
                workers.append(EngineWorkerNode(str(found["NodeID"]), state.address, int(resources.get("CPU") or 1),
                                                int(resources.get("memory") or 0)))
        return workers

    def node_ids(self) -> list[str]:
        """The Ray node ids of the workers of the CNs alive now, in registration order."""
        return [w.node_id for w in self._workers()]

    def unavailable(self) -> str | None:
        if self._cluster is None:
            return "this FE is connected to no engine head"
        if not self.node_ids():
            return "no CN's engine worker is alive"
        return None

    def run(self, sql: str, tables: list[EngineTable], expected: pa.Schema, control: RunControl) -> pa.Table:
        from cairn.distributed.query import DistributedQuery  # noqa: PLC0415 - loaded with the engine only
        from cairn.distributed.runner import StageRunner  # noqa: PLC0415
        from cairn.distributed.session import TableFiles  # noqa: PLC0415

        workers = self._workers()
        nodes = [w.node_id for w in workers]
        if not nodes:
            raise DistributedRefusal("no CN's engine worker is alive")
        volumes = {t.store.volume.name: t.store.volume for t in tables if t.store.volume.type is VolumeType.S3}
        stores = tuple(_volume_store(v) for v in volumes.values())
        files = tuple(TableFiles(name=t.name, files=tuple(_object_url(t, k) for k in t.keys)) for t in tables)
        query = DistributedQuery(files, nodes, stores)
        try:
            check_types(pa.schema(query.context().sql(sql).schema()), expected)
            plan = query.plan(sql)
        except DistributedRefusal:
            raise
        except (DistributedPlanError, Exception) as exc:  # noqa: BLE001 - DataFusion's planning errors have no common type
            raise DistributedRefusal(f"DataFusion does not plan it: {str(exc).splitlines()[0][:200]}") from None
        with self.query_queue.admitted(control.cancel):
            runner = StageRunner(nodes, stores, _memory_limits(workers, control.query_mem_limit))
            submitted = runner.submit(plan)
            self._wait(submitted, control.cancel)
            self.gathered_bytes.inc(self._sizes(submitted.refs))
            answer = self._gather(submitted)
        self.queries.inc()
        return conform(answer, expected)

    def _every_ref(self, submitted: Any) -> list[Any]:
        return [ref for outputs in submitted.outputs.values() for out in outputs for ref in out] + list(submitted.refs)

    def _stop(self, submitted: Any) -> None:
        import ray  # noqa: PLC0415

        for ref in self._every_ref(submitted):
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - a task already finished or lost cannot be cancelled: nothing to stop
                pass

    def _wait(self, submitted: Any, cancel: CancelToken) -> None:
        """Wait for the tasks the FE gathers from; stop every task of the query on cancellation, or
        when no CN's worker is left to run what remains."""
        import ray  # noqa: PLC0415

        pending = list(submitted.refs)
        while pending:
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=WAIT_SECONDS)
            if not pending:
                return
            if cancel.cancelled:
                self._stop(submitted)
                log.info("distributed query cancelled: its tasks on every node are stopped")
                raise QueryInterruptedError(f"{cancel.message}; its work on every compute node is stopped")
            if not self.node_ids():
                self._stop(submitted)
                raise NoComputeNodeError("Compute node not found: no compute node's engine worker is alive to "
                                         "finish the query")

    def _sizes(self, refs: list[Any]) -> int:
        from cairn.distributed.runner import object_sizes  # noqa: PLC0415 - loaded with the engine only

        return sum(object_sizes(refs).values())

    def _gather(self, submitted: Any) -> pa.Table:
        import ray  # noqa: PLC0415

        try:
            return submitted.result()
        except ray.exceptions.RayTaskError as exc:
            cause = _root_cause(exc)
            if isinstance(cause, QueryMemoryExceededError):
                self._stop(submitted)
                raise QueryMemoryExceededError(cause.message) from None
            first = str(exc).strip().splitlines()
            raise ComputeNodeFailedError(f"The distributed engine failed to run the query: "
                                         f"{first[-1][:300] if first else type(exc).__name__}") from None
        except QueryMemoryExceededError:
            self._stop(submitted)
            raise
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()
            raise ComputeNodeFailedError(f"The distributed engine failed to run the query: "
                                         f"{first[-1][:300] if first else type(exc).__name__}") from None


def _root_cause(exc: BaseException) -> BaseException:
    """The error a task raised, through the chain of tasks that failed for want of its output."""
    import ray  # noqa: PLC0415 - loaded with the engine only

    seen = 0
    while isinstance(exc, ray.exceptions.RayTaskError) and exc.cause is not None and seen < 100:
        exc = exc.cause
        seen += 1
    return exc


def _memory_limits(workers: list[EngineWorkerNode], query_mem_limit: int) -> Any:
    """The memory bounds of one query's tasks: `query_mem_limit` per node, shared by the tasks that
    node runs at once (one per CPU), and whole for a final stage run in the FE. A query with no limit
    of its own (0) is bounded on each node by the memory Ray reckons the node has for tasks (its
    `memory` resource), as StarRocks bounds it by the BE's query pool: it spills or fails, and the
    node stays up."""
    from cairn.distributed.runner import MemoryLimits  # noqa: PLC0415 - loaded with the engine only

    backends = {w.node_id: f"compute node {w.address}" for w in workers}
    per_task = {w.node_id: max(1, (query_mem_limit or w.memory) // w.cpus) for w in workers
                if query_mem_limit > 0 or w.memory > 0}
    return MemoryLimits(query=f"Query{uuid.uuid4()}", per_task=per_task, local=query_mem_limit, backends=backends,
                        query_limit=query_mem_limit)
