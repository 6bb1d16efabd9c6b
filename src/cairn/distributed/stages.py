"""A DataFusion physical plan cut into stages at its exchange boundaries.

Every hash or round-robin `RepartitionExec`, every `CoalescePartitionsExec` and the input of every
`SortPreservingMergeExec` is an exchange: the sub-plan below it is another stage, whose tasks run
on the nodes and leave their output in Ray's object store; the stage above reads that output
through an in-memory scan spliced in place of the sub-plan (`splice.py`). A hash exchange is done by
its producer, which splits its output with the plan's own `RepartitionExec`, so DataFusion's hashing
decides where every row goes, the same on every node.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import pyarrow as pa
from datafusion.plan import ExecutionPlan

_REPARTITION = "RepartitionExec"
_COALESCE = "CoalescePartitionsExec"
_MERGE = "SortPreservingMergeExec"


class ExchangeMode(str, Enum):
    """How a consumer's partitions are filled from its producer's tasks."""

    HASH = "hash"  # consumer partition p reads bucket p of every producer task
    GATHER = "gather"  # the one consumer partition reads every producer task's output
    ROUND_ROBIN = "round_robin"  # consumer partition p reads the outputs of producer tasks i ≡ p
    MERGE = "merge"  # scan partition i is producer task i's (sorted) output, merged by the consumer


@dataclass(frozen=True)
class ExchangeInput:
    """One exchange a stage reads: the encoded sub-plan of the stage's plan that the exchanged rows
    replace, the stage that produces them, and the shape of the scan that replaces it."""

    replaced: bytes
    producer: int
    mode: ExchangeMode
    partitions: int
    schema: pa.Schema | None


@dataclass(frozen=True)
class HashSplit:
    """The producer side of a hash exchange: its `RepartitionExec`, the encoding of that node's input
    (replaced by the producer's output), and the number of buckets."""

    repartition: bytes
    child: bytes
    buckets: int


@dataclass(frozen=True)
class Stage:
    """A fragment of the plan, run as one task per output partition."""

    id: int
    plan: bytes
    partitions: int
    inputs: tuple[ExchangeInput, ...]
    split: HashSplit | None
    schema: pa.Schema | None
    label: str
    reads_tables: bool


@dataclass(frozen=True)
class StagePlan:
    """Stages in an order where every producer comes before its consumers; the last is the root."""

    stages: tuple[Stage, ...]

    @property
    def root(self) -> Stage:
        """The stage whose output is the query's answer."""
        return self.stages[-1]


def kind(node: ExecutionPlan) -> str:
    """The operator's name, such as `HashJoinExec`."""
    return node.display().split(":", 1)[0].strip()


def _is_hash(node: ExecutionPlan) -> bool:
    return "partitioning=Hash(" in node.display()


# Joins whose build (left) side, collected whole in each task, emits its unmatched rows: only one
# process in the cluster may do that, so such a join must not be a broadcast (CollectLeft) join.
_EMITS_BUILD_ROWS = ("Left", "Full", "LeftSemi", "LeftAnti", "LeftMark")


def _join_type(node: ExecutionPlan) -> str:
    text = node.display()
    at = text.find("join_type=")
    return text[at + len("join_type="):].split(",", 1)[0].strip() if at >= 0 else ""


def broadcasts_unmatched_rows(plan: ExecutionPlan) -> bool:
    """Whether `plan` has a broadcast join that would emit its build side's unmatched rows in
    every task (a CollectLeft hash join, or a nested-loop join, of an outer, semi or anti type,
    probed by more than one partition)."""
    k = kind(plan)
    if k in ("HashJoinExec", "NestedLoopJoinExec") and _join_type(plan) in _EMITS_BUILD_ROWS and (
            k == "NestedLoopJoinExec" or "mode=CollectLeft" in plan.display()) and plan.partition_count > 1:
        return True
    return any(broadcasts_unmatched_rows(c) for c in plan.children())


def reads_tables(node: ExecutionPlan) -> bool:
    """Whether `node`'s stage (below it, up to its exchanges) scans a table."""
    k = kind(node)
    if k in (_REPARTITION, _COALESCE):
        return False
    if not node.children():
        return True
    return any(reads_tables(c) for c in node.children())


def _frontier(node: ExecutionPlan) -> list[tuple[ExecutionPlan, ExecutionPlan]]:
    """The exchanges below `node` (itself included) within its stage: (sub-plan replaced, boundary)."""
    k = kind(node)
    if k in (_REPARTITION, _COALESCE):
        return [(node, node)]
    if k == _MERGE:
        return [(node.children()[0], node)]
    out: list[tuple[ExecutionPlan, ExecutionPlan]] = []
    for child in node.children():
        out.extend(_frontier(child))
    return out


class _Builder:
    def __init__(self, schemas: dict[bytes, pa.Schema]) -> None:
        self.schemas = schemas
        self.stages: list[Stage] = []
        self.memo: dict[tuple[bytes, bytes | None], int] = {}

    def stage(self, root: ExecutionPlan, split: HashSplit | None) -> int:
        encoded = root.to_bytes()
        key = (encoded, split.repartition if split else None)
        if key in self.memo:
            return self.memo[key]
        inputs: list[ExchangeInput] = []
        seen: set[bytes] = set()
        for replaced, boundary in _frontier(root):
            replaced_bytes = replaced.to_bytes()
            if replaced_bytes not in seen:
                seen.add(replaced_bytes)
                inputs.append(self.exchange(replaced_bytes, boundary))
        stage = Stage(id=len(self.stages), plan=encoded, partitions=root.partition_count, inputs=tuple(inputs),
                      split=split, schema=self.schemas.get(encoded), label=kind(root),
                      reads_tables=reads_tables(root))
        self.stages.append(stage)
        self.memo[key] = stage.id
        return stage.id

    def exchange(self, replaced: bytes, boundary: ExecutionPlan) -> ExchangeInput:
        child = boundary.children()[0]
        child_schema = self.schemas.get(child.to_bytes())
        k = kind(boundary)
        if k == _MERGE:
            producer = self.stage(child, None)
            return ExchangeInput(replaced, producer, ExchangeMode.MERGE, child.partition_count, child_schema)
        if k == _COALESCE:
            return ExchangeInput(replaced, self.stage(child, None), ExchangeMode.GATHER, 1, child_schema)
        if _is_hash(boundary):
            split = HashSplit(boundary.to_bytes(), child.to_bytes(), boundary.partition_count)
            producer = self.stage(child, split)
            return ExchangeInput(replaced, producer, ExchangeMode.HASH, boundary.partition_count, child_schema)
        producer = self.stage(child, None)
        return ExchangeInput(replaced, producer, ExchangeMode.ROUND_ROBIN, boundary.partition_count, child_schema)


def cut_stages(plan: ExecutionPlan, schemas: dict[bytes, pa.Schema]) -> StagePlan:
    """`plan` as stages (see the module docstring); `schemas` are its nodes' output schemas."""
    builder = _Builder(schemas)
    builder.stage(plan, None)
    return StagePlan(tuple(builder.stages))
