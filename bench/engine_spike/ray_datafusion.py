"""Candidate (a): Ray as the cluster runtime, DataFusion executing plan fragments on each worker,
in the way apache/datafusion-ray does it.

The driver (Cairn's FE) plans the query with DataFusion and cuts the physical plan into stages at
its exchange boundaries (hash and round-robin repartitions, coalesce, sort-preserving merge).
Each task carries its stage's plan as DataFusion protobuf bytes and runs one partition of it on a
worker; stage outputs are Arrow tables in Ray's object store, read by the tasks of the next stage
as an in-memory scan spliced into their plan (pbsplice.py). A hash exchange is done by the
producer: it runs the plan's own RepartitionExec over its output and returns one table per
consumer partition, so DataFusion's hashing decides where rows go, the same on every node.
Scans are not moved: partition p of a scan reads its own file group on the worker that runs p.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

# Token authentication must be chosen before Ray is imported: Ray reads its mode once, at import.
# Every process of the cluster started from here inherits it; a client without it is refused.
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
# Ray rewrites 127.0.0.1 in a bootstrap address into the machine's first non-loopback address
# (services.resolve_ip_for_localhost) unless multi-node mode is off; off, with every node given
# node_ip_address=127.0.0.1, every process binds and connects on loopback only.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import ray  # noqa: E402
from datafusion import SessionConfig, SessionContext  # noqa: E402
from datafusion.plan import ExecutionPlan  # noqa: E402
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from pbsplice import replace_subplan

HERE = Path(__file__).resolve().parent
BOUNDARIES = ("RepartitionExec", "CoalescePartitionsExec", "SortPreservingMergeExec")


def kind(node: ExecutionPlan) -> str:
    return node.display().split(":", 1)[0].strip()


def session_config(partitions: int) -> SessionConfig:
    # Dynamic filters, and the work stealing between the partitions of one file scan, are state
    # shared by the operators of one process: a partition run alone in another process would
    # read every partition's rows. A stage boundary cuts them, so they are off and each
    # fragment stands alone.
    return (
        SessionConfig()
        .with_target_partitions(partitions)
        .set("datafusion.optimizer.enable_dynamic_filter_pushdown", "false")
        .set("datafusion.execution.enable_file_stream_work_stealing", "false")
        # A build side collected once and probed by every partition (CollectLeft) emits its
        # unmatched rows (outer, semi and anti joins) when the last probing partition of the
        # process ends; across processes none is last. Joins are therefore hash-partitioned,
        # the way Ballista plans them.
        .set("datafusion.optimizer.hash_join_single_partition_threshold", "0")
        .set("datafusion.optimizer.hash_join_single_partition_threshold_rows", "0")
        # An uncorrelated scalar subquery is otherwise a ScalarSubqueryExec whose expressions
        # cannot be decoded outside it; as a join, it is cut like any other.
        .set("datafusion.optimizer.enable_physical_uncorrelated_scalar_subquery", "false")
    )


_TYPES = {
    "Utf8View": pa.string_view(), "Utf8": pa.string(), "LargeUtf8": pa.large_string(),
    "Int8": pa.int8(), "Int16": pa.int16(), "Int32": pa.int32(), "Int64": pa.int64(),
    "UInt32": pa.uint32(), "UInt64": pa.uint64(), "Float32": pa.float32(), "Float64": pa.float64(),
    "Boolean": pa.bool_(), "Date32": pa.date32(), "Null": pa.null(),
}
_FIELD = re.compile(r"(?P<name>.+?):(?P<type>Decimal128\((?P<p>\d+), (?P<s>\d+)\)|" + "|".join(sorted(_TYPES, key=len, reverse=True)) + r")(?P<null>;N)?(?:, |$)")


def _parse_schema(text: str) -> pa.Schema | None:
    fields = []
    pos = 0
    while pos < len(text):
        m = _FIELD.match(text, pos)
        if m is None:
            return None
        t = pa.decimal128(int(m["p"]), int(m["s"])) if m["p"] else _TYPES[m["type"]]
        fields.append(pa.field(m["name"], t, nullable=bool(m["null"])))
        pos = m.end()
    return pa.schema(fields)


def plan_schemas(ctx: SessionContext, sql: str, plan: ExecutionPlan) -> dict[bytes, pa.Schema]:
    """The output schema of every node of `plan`, keyed by its encoding.

    The Python API has no ExecutionPlan.schema; a partition that produced no batch has no schema
    either, yet an empty exchange still needs one. EXPLAIN with datafusion.explain.show_schema
    prints the same plan (planning is deterministic) with each node's schema, in pre-order."""
    ctx.sql("set datafusion.explain.show_schema = true")
    try:
        rows = ctx.sql("explain " + sql).to_pylist()
    finally:
        ctx.sql("set datafusion.explain.show_schema = false")
    text = next(r["plan"] for r in rows if r["plan_type"] == "physical_plan")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    nodes: list[ExecutionPlan] = []

    def walk(n: ExecutionPlan) -> None:
        nodes.append(n)
        for c in n.children():
            walk(c)

    walk(plan)
    out: dict[bytes, pa.Schema] = {}
    if len(lines) != len(nodes):
        return out
    for node, line in zip(nodes, lines):
        at = line.rfind(", schema=[")
        schema = _parse_schema(line[at + len(", schema=[") : -1]) if at >= 0 else None
        if schema is not None:
            out[node.to_bytes()] = schema
    return out


# One exchange input of a fragment: its encoded sub-plan, its partition count, and which of its
# partitions this task fills with how many of the tables passed after the metadata.
InputMeta = tuple[bytes, int, list[tuple[int, int]], pa.Schema | None]


def _tables_to_parts(partitions: int, fills: list[tuple[int, int]], tables: list[pa.Table | None], schema: pa.Schema | None) -> list[list[pa.RecordBatch]]:
    parts: list[list[pa.RecordBatch]] = [[] for _ in range(partitions)]
    cursor = 0
    for index, count in fills:
        for t in tables[cursor : cursor + count]:
            if t is not None:
                schema = t.schema
                parts[index].extend(t.to_batches())
        cursor += count
    if schema is None:
        raise RuntimeError("an exchange carried no rows, so no schema (see docs: limitation of the spike)")
    if not any(parts):
        parts[fills[0][0]].append(pa.RecordBatch.from_pylist([], schema=schema))
    return parts


def _collect(ctx: SessionContext, plan: ExecutionPlan, partition: int) -> pa.Table | None:
    batches = [b.to_pyarrow() for b in ctx.execute(plan, partition)]
    return pa.Table.from_batches(batches) if batches else None


def _memory_scan(ctx: SessionContext, parts: list[list[pa.RecordBatch]]) -> bytes:
    name = "exchange_" + secrets.token_hex(4)
    ctx.register_record_batches(name, parts)
    plan = ctx.table(name).execution_plan()
    return plan.to_bytes()


@ray.remote(num_cpus=1, max_retries=3)
def fragment(plan: bytes, partition: int, meta: list[InputMeta], split: tuple[bytes, bytes, int] | None, *tables: pa.Table | None) -> Any:
    """Runs on a worker: splice the exchanged inputs into the fragment, run one partition, and,
    for the producer side of a hash exchange, split the output with the plan's RepartitionExec."""
    ctx = SessionContext(session_config(1))
    cursor = 0
    for subplan, partitions, fills, schema in meta:
        n = sum(c for _, c in fills)
        parts = _tables_to_parts(partitions, fills, list(tables[cursor : cursor + n]), schema)
        cursor += n
        plan = replace_subplan(plan, subplan, _memory_scan(ctx, parts))
    out = _collect(ctx, ExecutionPlan.from_bytes(ctx, plan), partition)
    if split is None:
        return out
    repartition, child, n_out = split
    if out is None:
        return tuple([None] * n_out) if n_out > 1 else None
    rp = ExecutionPlan.from_bytes(ctx, replace_subplan(repartition, child, _memory_scan(ctx, [out.to_batches()])))
    result = [_collect(ctx, rp, j) for j in range(n_out)]
    return tuple(result) if n_out > 1 else result[0]


@dataclass
class Stats:
    tasks: int = 0
    tasks_per_worker: dict[int, int] | None = None


class DistributedRunner:
    """Runs a DataFusion physical plan as Ray tasks over `workers` nodes."""

    def __init__(self, workers: list[str], schemas: dict[bytes, pa.Schema] | None = None) -> None:
        self.workers = workers
        self.schemas = schemas or {}
        self.stats = Stats(tasks_per_worker={i: 0 for i in range(len(workers))})

    def _submit(self, index: int, *args: Any, num_returns: int = 1) -> Any:
        w = index % len(self.workers)
        assert self.stats.tasks_per_worker is not None
        self.stats.tasks += 1
        self.stats.tasks_per_worker[w] += 1
        strategy = NodeAffinitySchedulingStrategy(node_id=self.workers[w], soft=True)
        return fragment.options(scheduling_strategy=strategy, num_returns=num_returns).remote(*args)

    def _frontier(self, node: ExecutionPlan) -> list[ExecutionPlan]:
        out: list[ExecutionPlan] = []
        for c in node.children():
            out.extend([c] if kind(c) in BOUNDARIES else self._frontier(c))
        return out

    def _stage(self, root: ExecutionPlan, split: tuple[bytes, bytes, int] | None = None) -> list[list[Any]]:
        """Run `root` (not a boundary) partition by partition, its boundary inputs computed first."""
        inputs = [(b, self.compute(b)) for b in self._frontier(root)]
        n_out = split[2] if split else 1
        outputs: list[Any] = []
        for p in range(root.partition_count):
            meta: list[InputMeta] = []
            refs: list[Any] = []
            for b, parts in inputs:
                fill = p if len(parts) > 1 else 0
                meta.append((b.to_bytes(), len(parts), [(fill, len(parts[fill]))], self.schemas.get(b.to_bytes())))
                refs.extend(parts[fill])
            r = self._submit(p, root.to_bytes(), p, meta, split, *refs, num_returns=n_out)
            outputs.append(r if n_out > 1 else [r])
        if split is None:
            return [[o[0]] for o in outputs]
        return [[outputs[k][j] for k in range(len(outputs))] for j in range(n_out)]

    def compute(self, node: ExecutionPlan) -> list[list[Any]]:
        """Object refs of `node`'s output, one list per output partition."""
        k = kind(node)
        if k not in BOUNDARIES:
            return self._stage(node)
        child = node.children()[0]
        if k == "CoalescePartitionsExec":
            return [[r for refs in self.compute(child) for r in refs]]
        if k == "SortPreservingMergeExec":
            parts = self.compute(child)
            meta: list[InputMeta] = [(child.to_bytes(), len(parts), [(i, len(refs)) for i, refs in enumerate(parts)], self.schemas.get(child.to_bytes()))]
            flat = [r for refs in parts for r in refs]
            return [[self._submit(0, node.to_bytes(), 0, meta, None, *flat)]]
        m = node.partition_count
        if "Hash(" not in node.display():
            out: list[list[Any]] = [[] for _ in range(m)]
            for i, refs in enumerate(self.compute(child)):
                out[i % m].extend(refs)
            return out
        split = (node.to_bytes(), child.to_bytes(), m)
        if kind(child) in BOUNDARIES:
            parts = self.compute(child)
            outputs = []
            for i, refs in enumerate(parts):
                meta = [(child.to_bytes(), len(parts), [(i, len(refs))], self.schemas.get(child.to_bytes()))]
                r = self._submit(i, child.to_bytes(), i, meta, split, *refs, num_returns=m)
                outputs.append(r if m > 1 else [r])
            return [[outputs[i][j] for i in range(len(outputs))] for j in range(m)]
        return self._stage(child, split)

    def run(self, plan: ExecutionPlan) -> pa.Table:
        parts = self.compute(plan)
        tables = [t for t in ray.get([r for refs in parts for r in refs]) if t is not None]
        if not tables:
            return self.schemas[plan.to_bytes()].empty_table()
        return pa.concat_tables(tables)


def start_cluster(workers: int, object_store_bytes: int = 1 << 30) -> tuple[Any, list[str], dict[str, Any]]:
    """A Ray cluster on this machine with every socket on 127.0.0.1 and token authentication on.

    The head runs no tasks (num_cpus=0): it stands for the FE and holds Ray's GCS; each worker
    node (one CPU, its own object store) stands for a CN."""
    from ray.cluster_utils import Cluster

    token = os.environ["RAY_AUTH_TOKEN"]
    os.environ["PYTHONPATH"] = str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", "")
    common_args = {"node_ip_address": "127.0.0.1", "object_store_memory": object_store_bytes}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False, **common_args},
    )
    for i in range(workers):
        cluster.add_node(num_cpus=1, resources={f"cn{i}": 1}, **common_args)
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", logging_level="ERROR", log_to_driver=False)
    cluster.wait_for_nodes()
    ids = []
    for i in range(workers):
        ids.append(next(n["NodeID"] for n in ray.nodes() if n["Alive"] and f"cn{i}" in n["Resources"]))
    return cluster, ids, {"address": cluster.address, "token": token, "host": socket.gethostname()}
