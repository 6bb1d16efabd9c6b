"""A stage plan run as Ray tasks on the engine's worker nodes.

Every stage but the root is submitted at once: a task names its inputs by object reference, so Ray
starts it when they exist, moves them to its node (or reads them in place) and keeps the outputs in
the object stores. Partition p of every stage of N partitions or more is pinned to node p mod N with
a soft affinity, so the rows of one hash bucket meet on one node, and a task whose node is gone runs
elsewhere. A stage of fewer partitions than nodes (the scan of a table of one file, a final
aggregate) takes the next nodes in turn, so such stages do not all land on the first node. A lost task
is retried and a lost output rebuilt from its lineage, by Ray. The root stage, when it has one
partition and reads no table (a final merge, aggregate or limit), runs in this process over its
gathered inputs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from cairn.distributed.session import VolumeStore
from cairn.distributed.stages import ExchangeInput, ExchangeMode, Stage, StagePlan
from cairn.distributed.worker import FragmentTask, InputFill, restored, run_fragment
from cairn.errors import DistributedPlanError

# A task lost with its node is run again up to this many times (and its lost outputs rebuilt).
TASK_RETRIES = 3

_remote_fragment = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(run_fragment)


@dataclass(frozen=True)
class MemoryLimits:
    """The memory bounds of one query's tasks (bytes; 0: no bound): `per_task` by the node the task
    is placed on (the query's limit on that node shared by the tasks it runs at once), `local` for a
    root stage run in the FE's process; `query`, `backends` (node id → name) and `query_limit` (the
    session's `query_mem_limit`; 0 when the bound is the node's own) for the error."""

    query: str = ""
    per_task: dict[str, int] = field(default_factory=dict)
    local: int = 0
    backends: dict[str, str] = field(default_factory=dict)
    query_limit: int = 0


@dataclass
class RunStats:
    """What one run did: tasks submitted, per node (by node id), and of them the tasks that scan
    tables; once `StageRunner.run` has the answer, the bytes the caller gathered (the root stage's
    inputs when it runs here, else its outputs), the bytes the stages handed to each other through
    Ray's object store, and the bytes the tasks placed on each node left there (a task placed on a
    node runs there unless the node is gone: the affinity is soft)."""

    stages: int = 0
    tasks: int = 0
    tasks_per_node: Counter[str] = field(default_factory=Counter)
    scan_tasks_per_node: Counter[str] = field(default_factory=Counter)
    gathered_bytes: int = 0
    exchanged_bytes: int = 0
    output_bytes_per_node: Counter[str] = field(default_factory=Counter)


def object_sizes(refs: list[Any]) -> dict[Any, int]:
    """Each object's size in bytes, from Ray's own record (no object is read)."""
    if not refs:
        return {}
    locations = ray.experimental.get_object_locations(refs)
    return {ref: int(info.get("object_size") or 0) for ref, info in locations.items()}


def _input_refs(stage: Stage, exchange: ExchangeInput, partition: int,
                produced: list[list[Any]]) -> tuple[InputFill, list[Any]]:
    """The producer outputs that fill `exchange`'s scan for `partition` of `stage`, and how."""
    n = len(produced)
    mode = exchange.mode
    if mode is ExchangeMode.GATHER:
        return InputFill(exchange.replaced, 1, ((0, n),), exchange.schema), [out[0] for out in produced]
    if mode is ExchangeMode.MERGE:
        fills = tuple((i, 1) for i in range(n))
        return InputFill(exchange.replaced, n, fills, exchange.schema), [out[0] for out in produced]
    buckets = exchange.partitions

    def part(j: int) -> list[Any]:
        if mode is ExchangeMode.HASH:
            return [out[j] for out in produced]
        return [out[0] for i, out in enumerate(produced) if i % buckets == j]

    if stage.partitions == buckets:
        refs = part(partition)
        return InputFill(exchange.replaced, buckets, ((partition, len(refs)),), exchange.schema), refs
    # The stage's partitions are not the exchange's (a UNION above it): which scan partition this
    # one reads is not known here, so every scan partition is filled.
    all_refs: list[Any] = []
    every: list[tuple[int, int]] = []
    for j in range(buckets):
        refs = part(j)
        every.append((j, len(refs)))
        all_refs.extend(refs)
    return InputFill(exchange.replaced, buckets, tuple(every), exchange.schema), all_refs


class StageRunner:
    """Runs stage plans on the worker nodes `node_ids`, reading the volumes `volumes`."""

    def __init__(self, node_ids: list[str], volumes: tuple[VolumeStore, ...] = (),
                 limits: MemoryLimits | None = None) -> None:
        if not node_ids:
            raise DistributedPlanError("no engine worker node to run the query on")
        self.node_ids = node_ids
        self.volumes = volumes
        self.limits = limits or MemoryLimits()
        self.stats = RunStats()
        self._placed: dict[Any, str] = {}
        self._turn = 0

    def _task(self, stage: Stage, partition: int, outputs: dict[int, list[list[Any]]],
              node: str | None = None) -> tuple[FragmentTask, list[Any]]:
        fills: list[InputFill] = []
        refs: list[Any] = []
        for exchange in stage.inputs:
            fill, input_refs = _input_refs(stage, exchange, partition, outputs[exchange.producer])
            fills.append(fill)
            refs.extend(input_refs)
        limits = self.limits
        task = FragmentTask(plan=stage.plan, partition=partition, inputs=tuple(fills), split=stage.split,
                            schema=stage.schema, volumes=self.volumes,
                            memory_limit=limits.per_task.get(node, 0) if node is not None else limits.local,
                            query_limit=limits.query_limit, query=limits.query, backend=limits.backends.get(node, node) if node is not None
                            else "the FE (final stage)")
        return task, refs

    def _place(self, stage: Stage, partition: int) -> str:
        n = len(self.node_ids)
        if stage.partitions >= n:
            return self.node_ids[partition % n]
        node = self.node_ids[self._turn % n]
        self._turn += 1
        return node

    def _submit(self, stage: Stage, outputs: dict[int, list[list[Any]]]) -> list[list[Any]]:
        returns = stage.split.buckets if stage.split is not None else 1
        produced: list[list[Any]] = []
        for p in range(stage.partitions):
            node = self._place(stage, p)
            task, refs = self._task(stage, p, outputs, node)
            strategy = NodeAffinitySchedulingStrategy(node_id=node, soft=True)
            result = _remote_fragment.options(scheduling_strategy=strategy, num_returns=returns).remote(task, *refs)
            produced.append(list(result) if returns > 1 else [result])
            self._placed.update((ref, node) for ref in produced[-1])
            self.stats.tasks += 1
            self.stats.tasks_per_node[node] += 1
            if stage.reads_tables:
                self.stats.scan_tasks_per_node[node] += 1
        return produced

    def submit(self, plan: StagePlan) -> Submitted:
        """Submit every stage of `plan` but a root that runs here; `Submitted.result` finishes it."""
        outputs: dict[int, list[list[Any]]] = {}
        self.stats.stages = len(plan.stages)
        for stage in plan.stages[:-1]:
            outputs[stage.id] = self._submit(stage, outputs)
        root = plan.root
        if root.partitions == 1 and not root.reads_tables:
            task, refs = self._task(root, 0, outputs)
            return Submitted(root, outputs, task, refs)
        return Submitted(root, outputs, None, [out[0] for out in self._submit(root, outputs)])

    def run(self, plan: StagePlan) -> pa.Table:
        """The answer of `plan`: every partition of its root stage, concatenated; `stats` then
        holds the bytes it gathered and exchanged."""
        submitted = self.submit(plan)
        answer = submitted.result()
        self._count_traffic(submitted)
        return answer

    def _count_traffic(self, submitted: Submitted) -> None:
        produced = [ref for outputs in submitted.outputs.values() for out in outputs for ref in out]
        sizes = object_sizes(produced + ([] if submitted.local is not None else submitted.refs))
        gathered = sum(sizes.get(ref, 0) for ref in submitted.refs)
        self.stats.gathered_bytes = gathered
        self.stats.exchanged_bytes = sum(sizes.get(ref, 0) for ref in produced) - (
            gathered if submitted.local is not None else 0)
        for ref, size in sizes.items():
            if ref in self._placed:
                self.stats.output_bytes_per_node[self._placed[ref]] += size


@dataclass
class Submitted:
    """A plan whose stages are submitted: `outputs` holds each stage's output references; the root
    either runs here (`local` is its task over `refs`) or `refs` are its tasks' outputs."""

    root: Stage
    outputs: dict[int, list[list[Any]]]
    local: FragmentTask | None
    refs: list[Any]

    def result(self) -> pa.Table:
        """Wait for the stages and return the answer (the root's partitions, concatenated)."""
        if self.local is not None:
            tables = [run_fragment(self.local, *ray.get(self.refs))]
        else:
            tables = ray.get(self.refs)
        present = [restored(t) for t in tables if t is not None]
        if present:
            return pa.concat_tables(present)
        if self.root.schema is None:
            raise DistributedPlanError("the query returned no rows and its result's schema is not known")
        return self.root.schema.empty_table()
