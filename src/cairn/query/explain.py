"""EXPLAIN: the plan a SELECT runs with, in StarRocks' layout (`PLAN FRAGMENT 0`, `OUTPUT EXPRS:`,
numbered nodes, `n:OlapScanNode` with `TABLE:`, `PREDICATES:`, `partitions=k/n`, `rollup:`,
`tabletRatio=k/n`, `tabletList=`).

The facts come from the code that runs the query, not from a second planner: the scans are the
ones `select.prepare_tree` plans (the same partition and tablet pruning, and the same pushdown to
compute nodes), and the engine is the one `scale_out.distributed_refusal` would choose. Cairn has
no cost model, so nothing here prints a cardinality or a cost it does not know. ANALYZE runs the
query and adds the time of each step and DuckDB's own profile (rows and time per operator).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal

import duckdb
from sqlglot import exp

from cairn.errors import QueryInterruptedError
from cairn.query.context import QueryContext
from cairn.query.data_access import TableScan
from cairn.query.engine import QueryEngine
from cairn.query.scale_out import distributed_refusal, run_scaled_out
from cairn.query.select import _user_error, prepare_tree
from cairn.query.variables import query_mem_limit

Level = Literal["NORMAL", "LOGICAL", "VERBOSE", "COSTS", "ANALYZE"]
_DISTRIBUTED = "distributed"
_NODES = "compute nodes"
_EMBEDDED = "embedded"


@dataclass(frozen=True)
class _Planned:
    """What planning the query found: its answer's columns (name, DuckDB type) and its scans."""

    outputs: list[tuple[str, str]]
    scans: list[TableScan]


@dataclass(frozen=True)
class _Analyzed:
    """What running the query measured (ANALYZE)."""

    steps: list[tuple[str, float]]
    rows: int | None
    profile: list[str]


def _plan(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr) -> _Planned:
    """Plan the query as running it would, binding every table with no rows (nothing is read)."""
    con = engine.duckdb.cursor()
    pinned: list[str] = []
    views: dict[str, str] = {}
    scans: list[TableScan] = []
    try:
        try:
            prepared, views = prepare_tree(ctx, engine, tree, con, pinned, scans, read_rows=False)
            relation = con.sql(prepared.sql(dialect="duckdb"))
            return _Planned(list(zip(relation.columns, map(str, relation.types))), scans)
        except duckdb.Error as exc:
            raise _user_error(exc, views) from None
    finally:
        engine.access.release(pinned)
        con.close()


def _analyze_here(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr) -> _Analyzed:
    """Run the query on the FE's DuckDB (its scans embedded or on compute nodes) and profile it."""
    con = engine.duckdb.cursor(memory_limit=query_mem_limit(ctx.variables))
    pinned: list[str] = []
    views: dict[str, str] = {}
    try:
        try:
            started = time.perf_counter()
            prepared, views = prepare_tree(ctx, engine, tree, con, pinned)
            bound = time.perf_counter()
            relation = con.sql(prepared.sql(dialect="duckdb"))
            with ctx.cancel.running(con):
                profile = str(relation.explain(type="analyze"))
            done = time.perf_counter()
        except duckdb.Error as exc:
            if ctx.cancel.cancelled:
                raise QueryInterruptedError(ctx.cancel.message) from None
            raise _user_error(exc, views) from None
    finally:
        engine.access.release(pinned)
        con.close()
    steps = [("prune, pin and bind the scans", bound - started), ("run on DuckDB, profiled", done - bound)]
    return _Analyzed(steps, None, profile_operators(profile))


_ROWS_AND_TIME = re.compile(r"^([\d,]+) rows?\s+(\S+)$")


def profile_operators(profile: str) -> list[str]:
    """DuckDB's EXPLAIN ANALYZE drawing (boxes, children below or beside their parent) as one line per
    operator, top down and left to right: `Name: details (rows=N, time=T)`. File names are left out."""
    grid = profile.splitlines()
    operators = []
    for row, line in enumerate(grid):
        for start in (m.start() for m in re.finditer("╭─ ", line)):
            end = line.find("╮", start)
            title = line[start + 3:end].strip("─┚┖┒┎ ")
            details: list[str] = []
            rows_and_time = ""
            skipping = False
            for below in grid[row + 1:]:
                cell = below[start:end + 1]
                if not cell or cell.startswith("╰"):
                    break
                text = " ".join(cell.strip("│ ").split())
                counted = _ROWS_AND_TIME.match(text)
                if counted:
                    rows_and_time = f"rows={counted.group(1).replace(',', '')}, time={counted.group(2)}"
                elif text.startswith("Filename(s):"):
                    skipping = True
                elif text and (not skipping or ": " in text):
                    skipping = False
                    details.append(text)
            shown = f"{title}: {' '.join(details)}" if details else title
            operators.append(f"{shown} ({rows_and_time})" if rows_and_time else shown)
    return operators


def _analyze_distributed(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr) -> _Analyzed | None:
    """Run the query on the distributed engine; None when it refused it while planning it."""
    started = time.perf_counter()
    answer = run_scaled_out(ctx, engine, tree)
    if answer is None:
        return None
    return _Analyzed([("run on the distributed engine", time.perf_counter() - started)], answer.num_rows, [])


def _milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f}ms"


def _scan_lines(scan: TableScan, engine_kind: str, level: Level) -> list[str]:
    """An `OlapScanNode`'s properties: the table, what runs on the scan, and what pruning kept."""
    table = scan.table
    lines = [f"TABLE: {table.name}"]
    if engine_kind == _NODES and scan.filters:
        lines.append("PREDICATES: " + " AND ".join(f.expression().sql(dialect="starrocks") for f in scan.filters))
    kept_tablets = sum(len(p.tablet_ids) if p.tablet_ids is not None else len(_partition(scan, p.partition_id))
                       for p in scan.partitions)
    total_tablets = sum(len(_partition(scan, p.partition_id)) for p in scan.partitions)
    lines += [f"partitions={len(scan.partitions)}/{len(table.partitions)}", f"rollup: {table.name}",
              f"tabletRatio={kept_tablets}/{total_tablets}"]
    tablet_ids = [t for p in scan.partitions
                  for t in (sorted(p.tablet_ids) if p.tablet_ids is not None else _partition(scan, p.partition_id))]
    lines.append("tabletList=" + ",".join(map(str, tablet_ids)))
    if engine_kind == _NODES and scan.aggregate is not None:
        items = ", ".join(f"{i.function}({i.column or '*'})" for i in scan.aggregate.items)
        group = f" group by {', '.join(scan.aggregate.group_by)}" if scan.aggregate.group_by else ""
        lines.append(f"pushed down aggregation: {items}{group}")
    where = {_DISTRIBUTED: "the distributed engine's workers on the compute nodes",
             _NODES: "the compute nodes (each reads the tablets it owns)", _EMBEDDED: "this FE (embedded)"}
    lines.append(f"runs on: {where[engine_kind]}")
    if level in ("VERBOSE", "COSTS"):
        columns = scan.columns if scan.columns is not None and engine_kind == _NODES else None
        lines.append("columns read: " + ", ".join(columns if columns is not None else [c.name for c in table.columns]))
        names = {p.id: p.name for p in table.partitions}
        lines.append("partitions read: " + ", ".join(f"{names[p.partition_id]} (version {p.version})"
                                                     for p in scan.partitions))
    return lines


def _partition(scan: TableScan, partition_id: int) -> list[int]:
    """The tablet ids of one of the table's partitions."""
    return next(p.tablet_ids for p in scan.table.partitions if p.id == partition_id)


def _engine_lines(engine_kind: str, refusal: str | None, planned: _Planned, level: Level,
                  analyzed: _Analyzed | None) -> list[str]:
    described = {_DISTRIBUTED: "the distributed engine (Ray + DataFusion on the compute nodes' workers) runs the "
                               "whole query",
                 _NODES: "DuckDB on this FE joins, aggregates and sorts what the compute nodes' scans return",
                 _EMBEDDED: "DuckDB on this FE (embedded) runs the whole query"}
    lines = [f"engine: {described[engine_kind]}"]
    if engine_kind != _DISTRIBUTED and refusal is not None:
        lines.append(f"not on the distributed engine: {refusal}")
    if level in ("VERBOSE", "COSTS"):
        lines.append("output: " + ", ".join(f"{name} {kind}" for name, kind in planned.outputs))
    if analyzed is not None:
        lines += [f"time ({step}): {_milliseconds(seconds)}" for step, seconds in analyzed.steps]
        if analyzed.rows is not None:
            lines.append(f"rows: {analyzed.rows}")
        if analyzed.profile:
            lines.append("DuckDB profile, rows and time per operator:")
            lines += ["  " + line for line in analyzed.profile]
    return lines


def _render(planned: _Planned, engine_kind: str, refusal: str | None, level: Level,
            analyzed: _Analyzed | None) -> list[str]:
    """StarRocks' layout: a fragment, its output and sink, then the nodes from the root down (a
    parent's properties behind `|`, every child but the last behind `|----`)."""
    scans = planned.scans
    lines = ["PLAN FRAGMENT 0", " OUTPUT EXPRS:" + " | ".join(name for name, _ in planned.outputs),
             "  PARTITION: UNPARTITIONED", "", "  RESULT SINK", ""]
    root = "DISTRIBUTED ENGINE" if engine_kind == _DISTRIBUTED else "QUERY"
    lines.append(f"  {len(scans)}:{root}")
    body = _engine_lines(engine_kind, refusal, planned, level, analyzed)
    lines += [f"  |  {line}" for line in body]
    if not scans:
        return lines
    lines.append("  |  ")
    for number, scan in enumerate(scans):
        last = number == len(scans) - 1
        properties = _scan_lines(scan, engine_kind, level)
        if last:
            lines.append(f"  {number}:OlapScanNode")
            lines += [f"     {line}" for line in properties]
        else:
            lines.append(f"  |----{number}:OlapScanNode")
            lines += [f"  |       {line}" for line in properties]
            lines.append("  |    ")
    return lines


def explain(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr, level: Level) -> list[str]:
    """The lines of EXPLAIN [LOGICAL | VERBOSE | COSTS | ANALYZE] for the SELECT (or set operation)
    `tree`. ANALYZE runs the query; the others read no data."""
    refusal = distributed_refusal(ctx, engine, tree)
    planned = _plan(ctx, engine, tree)
    engine_kind = _DISTRIBUTED if refusal is None else _NODES if engine.access.splits_work() else _EMBEDDED
    analyzed = None
    if level == "ANALYZE":
        analyzed = _analyze_distributed(ctx, engine, tree) if refusal is None else None
        if analyzed is None:
            if engine_kind == _DISTRIBUTED:
                engine_kind = _NODES if engine.access.splits_work() else _EMBEDDED
                refusal = "DataFusion refused it while planning it"
            analyzed = _analyze_here(ctx, engine, tree)
    # An FE without the distributed engine never considers it: nothing to say about it.
    return _render(planned, engine_kind, refusal if engine.scale_out is not None else None, level, analyzed)
