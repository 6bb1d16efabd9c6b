"""What one task runs on a node: one partition of one stage.

The task's exchanged inputs arrive as Arrow tables (Ray resolves them from its object store, without
a copy when they are on this node). Each exchange's rows are written as Arrow IPC files, one per
partition of the scan that replaces the exchange, in a directory of the task's own (in shared
memory where there is one); a scan of those files is spliced into the stage's plan in place of the
exchange, the plan is decoded and its partition run, and, when the stage feeds a hash exchange, the
output is split into the consumer's buckets by the plan's own `RepartitionExec`.

The files, not the rows, are what the spliced plan carries: a plan with an in-memory scan carries its
rows inside its encoding, and encoding, splicing and decoding them cost ten times the query's own
work on TPC-H (docs/architecture.md, "Distributed execution").
"""

from __future__ import annotations

import json
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from datafusion import RuntimeEnvBuilder, SessionConfig, SessionContext
from datafusion.plan import ExecutionPlan

from cairn.distributed.session import VolumeStore, register_volumes, session_config
from cairn.distributed.splice import replace_subplan
from cairn.distributed.stages import HashSplit
from cairn.errors import DistributedPlanError
from cairn.query.memory_limit import memory_exceeded


@dataclass(frozen=True)
class InputFill:
    """Which tables passed to the task fill which partitions of the scan replacing `replaced`:
    `fills` is (scan partition, number of tables) in the order the tables are passed."""

    replaced: bytes
    partitions: int
    fills: tuple[tuple[int, int], ...]
    schema: pa.Schema | None


@dataclass(frozen=True)
class FragmentTask:
    """One partition of one stage, as sent to a node. `memory_limit` bounds what DataFusion's
    operators hold for it (bytes; 0: no bound): over it, aggregations and sorts spill to disk and
    anything else fails with QueryMemoryExceededError naming `query` and `backend` (and
    `query_limit`, the session's `query_mem_limit`, or 0 when the bound is the node's own)."""

    plan: bytes
    partition: int
    inputs: tuple[InputFill, ...]
    split: HashSplit | None
    schema: pa.Schema | None
    volumes: tuple[VolumeStore, ...]
    memory_limit: int = 0
    query_limit: int = 0
    query: str = ""
    backend: str = ""


_SHARED_MEMORY = Path("/dev/shm")


def _scratch_root() -> str | None:
    return str(_SHARED_MEMORY) if _SHARED_MEMORY.is_dir() else None


def _file_scan(directory: Path, parts: list[list[pa.RecordBatch]], schema: pa.Schema) -> bytes:
    """The encoding of a scan with one partition per entry of `parts`, reading Arrow IPC files
    written under `directory`."""
    name = "exchange_" + secrets.token_hex(6)
    where = directory / name
    where.mkdir()
    for j, batches in enumerate(parts):
        # One file per partition, named in partition order: the scan's file groups follow it.
        with pa.ipc.new_file(str(where / f"part-{j:06d}.arrow"), schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
    config = SessionConfig().with_target_partitions(len(parts)).with_repartition_file_scans(False)
    ctx = SessionContext(config)
    ctx.register_arrow(name, str(where), schema=schema, file_extension=".arrow")
    plan = ctx.table(name).execution_plan()
    if plan.partition_count != len(parts):
        raise DistributedPlanError(f"an exchange's scan has {plan.partition_count} partitions, not {len(parts)}")
    return plan.to_bytes()


def _scan_partitions(fill: InputFill, tables: list[pa.Table | None]) -> tuple[list[list[pa.RecordBatch]], pa.Schema]:
    parts: list[list[pa.RecordBatch]] = [[] for _ in range(fill.partitions)]
    schema = None
    cursor = 0
    for index, count in fill.fills:
        for table in tables[cursor:cursor + count]:
            if table is not None:
                schema = schema or table.schema
                parts[index].extend(table.to_batches())
        cursor += count
    schema = schema or fill.schema
    if schema is None:
        raise DistributedPlanError("an exchange carried no rows and its schema is not known")
    return parts, schema


# Ray serialises an Arrow table by its columns' names, which fails for two columns of one name (`SELECT *`
# over a join of tables that share a column name): such a table travels with its columns named by their
# positions, their names kept in its schema's metadata under this key (`portable`, `restored`).
_NAMES_KEY = b"cairn.column_names"


def portable(table: pa.Table | None) -> pa.Table | None:
    """`table` as Ray can move it: unchanged unless two of its columns share a name."""
    if table is None or len(set(table.column_names)) == table.num_columns:
        return table
    metadata = {**(table.schema.metadata or {}), _NAMES_KEY: json.dumps(table.column_names).encode()}
    return table.rename_columns([str(i) for i in range(table.num_columns)]).replace_schema_metadata(metadata)


def restored(table: pa.Table | None) -> pa.Table | None:
    """A table `portable` gave, with its columns' own names again."""
    metadata = table.schema.metadata if table is not None else None
    if table is None or not metadata or _NAMES_KEY not in metadata:
        return table
    rest = {k: v for k, v in metadata.items() if k != _NAMES_KEY}
    return table.rename_columns(json.loads(metadata[_NAMES_KEY])).replace_schema_metadata(rest or None)


def _collect(ctx: SessionContext, plan: ExecutionPlan, partition: int, schema: pa.Schema | None) -> pa.Table | None:
    batches = [b.to_pyarrow() for b in ctx.execute(plan, partition)]
    if batches:
        return pa.Table.from_batches(batches)
    return schema.empty_table() if schema is not None else None


def run_fragment(task: FragmentTask, *tables: pa.Table | None) -> pa.Table | None | tuple[pa.Table | None, ...]:
    """Run `task` over the exchanged `tables`; a hash-split stage returns one table per bucket (each
    `portable`, and the inputs `restored`)."""
    with tempfile.TemporaryDirectory(prefix="cairn-exchange-", dir=_scratch_root()) as scratch:
        try:
            out = _run(task, [restored(t) for t in tables], Path(scratch))
            return tuple(portable(t) for t in out) if isinstance(out, tuple) else portable(out)
        except Exception as exc:
            reason = str(exc)
            # DataFusion's error when its memory pool refuses an operator that cannot spill.
            if task.memory_limit > 0 and "Resources exhausted" in reason:
                detail = reason[reason.index("Resources exhausted"):].splitlines()[0]
                raise memory_exceeded(task.query, task.backend, task.query_limit, detail) from None
            raise


def _runtime(memory_limit: int) -> RuntimeEnvBuilder:
    """The task's memory pool: shared fairly by its operators up to `memory_limit`, those that can
    spill writing to the OS's temp directory (on disk, not the shared-memory scratch)."""
    runtime = RuntimeEnvBuilder().with_disk_manager_os()
    return runtime.with_fair_spill_pool(memory_limit) if memory_limit > 0 else runtime


def _run(task: FragmentTask, tables: list[pa.Table | None], scratch: Path) -> pa.Table | None | tuple[pa.Table | None, ...]:
    ctx = SessionContext(session_config(1), _runtime(task.memory_limit))
    register_volumes(ctx, task.volumes)
    plan = task.plan
    cursor = 0
    for fill in task.inputs:
        n = sum(count for _, count in fill.fills)
        parts, schema = _scan_partitions(fill, tables[cursor:cursor + n])
        cursor += n
        plan = replace_subplan(plan, fill.replaced, _file_scan(scratch, parts, schema))
    out = _collect(ctx, ExecutionPlan.from_bytes(ctx, plan), task.partition, task.schema)
    if task.split is None:
        return out
    buckets = task.split.buckets
    if out is None or out.num_rows == 0:
        return tuple([out] * buckets) if buckets > 1 else out
    scan = _file_scan(scratch, [out.to_batches()], out.schema)
    decoded = ExecutionPlan.from_bytes(ctx, replace_subplan(task.split.repartition, task.split.child, scan))
    result = [_collect(ctx, decoded, j, out.schema) for j in range(buckets)]
    return tuple(result) if buckets > 1 else result[0]
