"""Running a SELECT on the distributed engine (`QueryEngine.scale_out`), or saying why not.

The rule: a query runs on the distributed engine only when
- the FE runs the engine and at least one CN's worker is alive (`ScaleOut.unavailable`);
- it reads only Cairn DUPLICATE KEY tables, each with data and no delete rowsets (no system
  tables, no table functions; a keyed table's rowsets are merged by key when read, not done there);
- every construct in it is one whose StarRocks semantics on DataFusion has been checked against the
  embedded path (`VERIFIED`, below): plain SELECT / FROM / JOIN / WHERE / GROUP BY / HAVING /
  ORDER BY / LIMIT, comparisons, AND / OR / NOT, IN lists, BETWEEN, IS NULL, LIKE, CASE, + - *,
  COUNT / SUM / MIN / MAX / AVG, date literals and intervals;
- DataFusion plans it, and its answer's columns have the types the embedded path gives, or types
  cast to them without loss (integers to wider integers or DECIMAL(p, 0), decimals to the same scale)
  (`ScaleOut.run`, which refuses before running anything).
Anything else runs on the existing path (the FE's DuckDB, scans on the CNs), and the reason is
logged at INFO ("not on the distributed engine: ..."): never a silently different answer. A failure
while the engine runs the query (no CN worker left, for one) is the statement's error.
"""

from __future__ import annotations

import logging

import duckdb
import pyarrow as pa
from sqlglot import exp

from cairn.errors import CairnError, DistributedRefusal
from cairn.lake.manifest import MANIFESTS
from cairn.query.context import QueryContext
from cairn.query.data_access import TableScan
from cairn.query.engine import EngineTable, QueryEngine, RunControl
from cairn.query.select import prepare_for_engine
from cairn.query.variables import get_variable, query_mem_limit

log = logging.getLogger(__name__)

# The sqlglot nodes a query sent to the distributed engine may contain (see the module docstring).
VERIFIED: tuple[type[exp.Expr], ...] = (
    exp.Select, exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered, exp.Limit,
    exp.Column, exp.Identifier, exp.Star, exp.Table, exp.TableAlias, exp.Alias, exp.Literal, exp.Boolean,
    exp.Null, exp.Paren, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not,
    exp.Is, exp.In, exp.Between, exp.Like, exp.Case, exp.If, exp.Add, exp.Sub, exp.Mul, exp.Neg,
    exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg, exp.Distinct, exp.Interval, exp.Var, exp.DataType, exp.Cast,
)


def refusal(tree: exp.Expr) -> str | None:
    """Why `tree` (prepared for the engine) must not run there, or None."""
    for node in tree.walk():
        if not isinstance(node, VERIFIED):
            return f"{type(node).__name__} ({node.sql(dialect='starrocks')[:60]}) is not verified on it yet"
        if isinstance(node, exp.Join) and (node.args.get("kind") or node.args.get("method")
                                           or node.side not in ("", "LEFT")):
            return f"a {node.side or node.kind} join is not verified on it yet"
        if isinstance(node, exp.DataType) and not isinstance(node.parent, exp.Cast):
            return "a type outside a date literal is not verified on it yet"
        if isinstance(node, exp.In) and node.args.get("query") is not None:
            return "IN (subquery) is not verified on it yet"
    for cast in tree.find_all(exp.Cast):
        if not (cast.to.is_type(exp.DataType.Type.DATE) and isinstance(cast.this, exp.Literal)):
            return f"a cast ({cast.sql(dialect='starrocks')[:60]}) is not verified on it yet"
    return None


def _rowset_keys(scan: TableScan) -> list[str]:
    """The objects holding the scanned rows. Raises DistributedRefusal for rows that need merging
    (a keyed table's rowsets, a delete rowset): the engine reads rowsets as they are."""
    if scan.table.keys_type != "DUPLICATE":
        raise DistributedRefusal(f"table {scan.table.name} is a {scan.table.keys_type} KEY table, whose rowsets "
                                 "are merged by key when read (not done on it yet)")
    read = [p for p in scan.partitions if p.manifest_key]
    manifests = MANIFESTS.get_many(scan.store, [key for p in read if (key := p.manifest_key)])
    rowsets = [rowset for partition, manifest in zip(read, manifests)
               for tablet, tablet_rowsets in manifest.tablets.items()
               if partition.tablet_ids is None or tablet in partition.tablet_ids
               for rowset in tablet_rowsets]
    if any(r.deletes for r in rowsets):
        raise DistributedRefusal(f"table {scan.table.name} has delete rowsets (not merged on it yet)")
    if any(r.schema_version != scan.table.schema_version for r in rowsets):
        raise DistributedRefusal(f"table {scan.table.name} has rowsets of an older schema version (not mapped "
                                 "on it yet)")
    return [r.key for r in rowsets]


def _session_allows(ctx: QueryContext) -> bool:
    value = get_variable(ctx.variables, "cairn_distributed_engine")
    return str(value).strip().lower() not in ("0", "false", "off")


def _query_mem_limit(ctx: QueryContext) -> int:
    return query_mem_limit(ctx.variables)


def _unavailable(ctx: QueryContext, engine: QueryEngine) -> str | None:
    """Why no query of this session can run on the distributed engine now, or None."""
    if engine.scale_out is None:
        return "this FE runs no distributed engine"
    if not _session_allows(ctx):
        return "cairn_distributed_engine is off in this session"
    return engine.scale_out.unavailable()


def distributed_refusal(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr) -> str | None:
    """Why `run_scaled_out` would not send the SELECT `tree` to the distributed engine, or None when
    it would (DataFusion may still refuse it while planning it; it then runs on the existing path).
    What EXPLAIN says; nothing runs."""
    unavailable = _unavailable(ctx, engine)
    if unavailable is not None:
        return unavailable
    con = engine.duckdb.cursor()
    pinned: list[str] = []
    try:
        if _prepare(ctx, engine, tree, con, pinned) is None:
            return "it reads no table"
        return None
    except DistributedRefusal as exc:
        return str(exc)
    except (CairnError, duckdb.Error):
        return "it cannot be prepared for it"
    finally:
        engine.access.release(pinned)
        con.close()


def run_scaled_out(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr) -> pa.Table | None:
    """The answer of the SELECT `tree` computed on the distributed engine, or None when it runs on
    the existing path (the reason logged; see the module docstring)."""
    scale_out = engine.scale_out
    if scale_out is None or _unavailable(ctx, engine) is not None:
        return None
    con = engine.duckdb.cursor()
    pinned: list[str] = []
    try:
        try:
            prepared = _prepare(ctx, engine, tree, con, pinned)
        except DistributedRefusal as exc:
            log.info("not on the distributed engine: %s", exc)
            return None
        except (CairnError, duckdb.Error):
            # The existing path raises the same error, as the user should see it.
            return None
        if prepared is None:
            return None
        sql_text, tables, expected = prepared
        try:
            return scale_out.run(sql_text, tables, expected, RunControl(ctx.cancel, _query_mem_limit(ctx)))
        except DistributedRefusal as exc:
            log.info("not on the distributed engine: %s", exc)
            return None
    finally:
        engine.access.release(pinned)
        con.close()


def _prepare(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr, con: duckdb.DuckDBPyConnection,
             pinned: list[str]) -> tuple[str, list[EngineTable], pa.Schema] | None:
    """The query as the engine runs it, its tables and the answer's schema; None for a query that
    reads no table (`SELECT @@version_comment`: nothing to distribute, and nothing to log)."""
    prepared, reference, scans = prepare_for_engine(ctx, engine, tree, con, pinned)
    if not scans:
        return None
    reason = refusal(prepared)
    if reason is not None:
        raise DistributedRefusal(reason)
    tables: list[EngineTable] = []
    for view, scan in scans.items():
        keys = engine.access.pin(_rowset_keys(scan))
        pinned.extend(keys)
        if not keys:
            raise DistributedRefusal(f"table {scan.table.name} has no data to scan (after pruning)")
        tables.append(EngineTable(view, scan.store, tuple(keys)))
    expected = con.sql(reference.sql(dialect="duckdb")).limit(0).to_arrow_table().schema
    return prepared.sql(dialect="postgres"), tables, expected
