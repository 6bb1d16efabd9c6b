"""`DistributedQuery`: SQL over tables given as Parquet files, run on the engine cluster, answered as
an Arrow table. The FE's role: plan with DataFusion, cut the plan into stages, run them on the
worker nodes, gather the root's output."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
from datafusion import SessionContext

from cairn.distributed.plan_schema import plan_schemas
from cairn.distributed.runner import RunStats, StageRunner
from cairn.distributed.session import (
    BROADCAST_BYTES,
    BROADCAST_ROWS,
    THRESHOLD_KEYS,
    TableFiles,
    VolumeStore,
    lower_thresholds,
    register_tables,
    register_volumes,
    session_config,
)
from cairn.distributed.stages import StagePlan, broadcasts_unmatched_rows, cut_stages
from cairn.errors import DistributedPlanError


def _set_thresholds(ctx: SessionContext, bytes_: int, rows: int) -> None:
    for key, value in zip(THRESHOLD_KEYS, (bytes_, rows), strict=True):
        # Setting names are Cairn's constants and the values integers; SET takes no bound parameter.
        ctx.sql(f"set {key} = {int(value)}")


@dataclass
class DistributedQuery:
    """Plans and runs SQL over `tables` on the worker nodes `node_ids` (one partition of every
    exchange per node, times `partitions_per_node`). `views` are `CREATE VIEW` statements run first.
    A join's build side up to `broadcast_bytes` and `broadcast_rows` is broadcast."""

    tables: tuple[TableFiles, ...]
    node_ids: list[str]
    volumes: tuple[VolumeStore, ...] = ()
    views: tuple[str, ...] = ()
    partitions_per_node: int = 1
    broadcast_bytes: int = BROADCAST_BYTES
    broadcast_rows: int = BROADCAST_ROWS
    last_stats: RunStats | None = field(default=None, init=False)
    _ctx: SessionContext | None = field(default=None, init=False, repr=False)

    def context(self) -> SessionContext:
        """The planning session: the tables, volumes and views registered once, reused per query."""
        if self._ctx is None:
            ctx = SessionContext(session_config(len(self.node_ids) * self.partitions_per_node,
                                                self.broadcast_bytes, self.broadcast_rows))
            register_volumes(ctx, self.volumes)
            register_tables(ctx, self.tables)
            for view in self.views:
                ctx.sql(view)
            self._ctx = ctx
        return self._ctx

    def plan(self, sql: str) -> StagePlan:
        """`sql`'s physical plan cut into stages. Small build sides are broadcast; a plan where a
        broadcast join would emit unmatched build rows in every task is planned again with lower
        broadcast thresholds until none does (session.py, `lower_thresholds`)."""
        ctx = self.context()
        physical = ctx.sql(sql).execution_plan()
        if not broadcasts_unmatched_rows(physical):
            return cut_stages(physical, plan_schemas(ctx, sql, physical))
        bytes_, rows = self.broadcast_bytes, self.broadcast_rows
        try:
            while broadcasts_unmatched_rows(physical):
                if bytes_ == 0:
                    raise DistributedPlanError("this query needs a nested-loop outer, semi or anti join, which "
                                               "distributed execution does not run yet")
                bytes_, rows = lower_thresholds(bytes_, rows)
                _set_thresholds(ctx, bytes_, rows)
                physical = ctx.sql(sql).execution_plan()
            return cut_stages(physical, plan_schemas(ctx, sql, physical))
        finally:
            _set_thresholds(ctx, self.broadcast_bytes, self.broadcast_rows)

    def run(self, sql: str) -> pa.Table:
        """The answer of `sql`, computed on the worker nodes."""
        runner = StageRunner(self.node_ids, self.volumes)
        self.last_stats = runner.stats
        return runner.run(self.plan(sql))
