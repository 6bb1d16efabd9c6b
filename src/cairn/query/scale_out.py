"""Running a SELECT on the distributed engine (`QueryEngine.scale_out`), or saying why not.

The rule: a query runs on the distributed engine only when
- the FE runs the engine and at least one CN's worker is alive (`ScaleOut.unavailable`);
- it reads only Cairn DUPLICATE KEY tables, each with data and no delete rowsets (no system
  tables, no table functions; a keyed table's rowsets are merged by key when read, not done there);
- every construct in it is one whose StarRocks semantics on DataFusion has been checked against the
  embedded path (`VERIFIED` and `_construct_refusal`, below): SELECT / FROM / WHERE / GROUP BY /
  HAVING / ORDER BY / LIMIT, inner / cross / LEFT OUTER / LEFT SEMI / LEFT ANTI joins, subqueries in
  FROM, EXISTS, IN and NOT IN (subquery) as WHERE conditions, scalar subqueries of aggregates,
  comparisons, AND / OR / NOT, IN lists, BETWEEN, IS NULL, LIKE, CASE, + - * /, COUNT / SUM / MIN /
  MAX / AVG, substr from a positive start, EXTRACT / year() / month() / day(), date literals and
  intervals;
- it is rewritten where DataFusion's semantics differ (`for_datafusion`: `/`, avg, NOT IN);
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
from cairn.query import decimal_averages
from cairn.query.calls import depth
from cairn.query.context import QueryContext
from cairn.query.data_access import TableScan
from cairn.query.decimal_division import decimal_division_on_datafusion
from cairn.query.engine import EngineTable, QueryEngine, RunControl
from cairn.query.result_types import ColumnTypes, declared_type, table_scope
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
    exp.Subquery, exp.Exists, exp.Div, exp.Substring, exp.Extract, exp.Year, exp.Month, exp.Day,
    exp.TsOrDsToDate,
)

# The joins verified: inner, cross (a comma), LEFT OUTER, and LEFT SEMI / LEFT ANTI (rendered for
# DataFusion as [NOT] EXISTS, whose rows are the semi / anti join's).
_JOINS = {("", ""), ("", "INNER"), ("", "CROSS"), ("LEFT", ""), ("LEFT", "OUTER"), ("LEFT", "SEMI"),
          ("LEFT", "ANTI")}

# The date parts EXTRACT may take there: DataFusion's and StarRocks' agree on these for a DATE or a
# DATETIME (DataFusion's SECOND, for one, has the fraction).
_DATE_PARTS = {"YEAR", "MONTH", "DAY"}


def _is_whole_literal(node: exp.Expr | None, least: int) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and node.name.isdigit() and int(node.name) >= least


def _one_row(query: exp.Expr) -> bool:
    """Whether `query` gives one row whatever it reads: a SELECT of aggregates with no GROUP BY."""
    return isinstance(query, exp.Select) and not query.args.get("group") and all(
        e.find(exp.AggFunc) is not None for e in query.expressions)


def _construct_refusal(node: exp.Expr) -> str | None:
    """Why the construct `node` (in VERIFIED) is not verified on the engine in this form, or None."""
    if isinstance(node, exp.Subquery) and not isinstance(node.parent, (exp.From, exp.Join, exp.In)) \
            and not _one_row(node.this):
        # StarRocks fails a scalar subquery of several rows; DataFusion joins with every row.
        return "a scalar subquery other than one of aggregates without GROUP BY is not verified on it yet"
    if isinstance(node, exp.Join) and (node.args.get("method") or (node.side, node.kind) not in _JOINS):
        return f"a {' '.join(p for p in (node.side, node.kind) if p)} join is not verified on it yet"
    if isinstance(node, exp.DataType) and not isinstance(node.parent, exp.Cast):
        return "a type outside a cast is not verified on it yet"
    if isinstance(node, exp.Cast) and not (node.to.is_type(exp.DataType.Type.DATE)
                                           and isinstance(node.this, exp.Literal)):
        return f"a cast ({node.sql(dialect='starrocks')[:60]}) is not verified on it yet"
    if isinstance(node, exp.Substring) and not (_is_whole_literal(node.args.get("start"), 1) and (
            node.args.get("length") is None or _is_whole_literal(node.args.get("length"), 0))):
        # StarRocks counts a negative start from the end and answers '' for 0; DataFusion does neither.
        return "substr with a start other than a positive number, or a length other than a number, is not " \
               "verified on it yet"
    if isinstance(node, exp.Extract) and node.name.upper() not in _DATE_PARTS:
        return f"EXTRACT({node.name}) is not verified on it yet"
    return None


def refusal(tree: exp.Expr) -> str | None:
    """Why `tree` (prepared for the engine) must not run there, or None."""
    for node in tree.walk():
        if not isinstance(node, VERIFIED):
            return f"{type(node).__name__} ({node.sql(dialect='starrocks')[:60]}) is not verified on it yet"
        reason = _construct_refusal(node)
        if reason is not None:
            return reason
    return None


_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In)


def _kind_of(node: exp.Expr, types: ColumnTypes) -> str | None:
    """'string', 'number' or 'date' for a table column of such a type or a number literal; None
    where it is not known here."""
    if isinstance(node, exp.Literal) and not node.is_string:
        return "number"
    if not isinstance(node, exp.Column):
        return None
    declared = (declared_type(node, types) or "").split("(")[0]
    if declared in ("CHAR", "VARCHAR", "STRING"):
        return "string"
    if declared in ("DATE", "DATETIME"):
        return "date"
    if declared in ("TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT", "FLOAT", "DOUBLE", "DECIMAL"):
        return "number"
    return None


def type_refusal(tree: exp.Expr, types: ColumnTypes) -> str | None:
    """Why `tree`, whose bound tables' column types are `types`, must not run on the engine for the
    types of what it compares or adds up, or None. DataFusion casts a string compared with a number
    or a date to that type, and fails the query on a value that is none (StarRocks compares it, or
    answers NULL); it has no `sum` or `avg` of strings (StarRocks adds their values as DOUBLEs)."""
    for node in tree.find_all(*_COMPARISONS, exp.Sum, exp.Avg):
        if isinstance(node, (exp.Sum, exp.Avg)):
            argument = node.this.expressions[0] if isinstance(node.this, exp.Distinct) else node.this
            if _kind_of(argument, types) == "string":
                return f"{node.key} of a string ({node.sql(dialect='starrocks')[:60]}) is not verified on it yet"
            continue
        operands = [node.this, *(node.expressions if isinstance(node, exp.In) else []),
                    *(node.args[k] for k in ("expression", "low", "high") if node.args.get(k) is not None)]
        kinds = {k for k in (_kind_of(o, types) for o in operands) if k is not None}
        if len(kinds) > 1:
            return f"a comparison of a {' with a '.join(sorted(kinds))} ({node.sql(dialect='starrocks')[:60]}) " \
                   "is not verified on it yet"
    return None


def _in_filter(node: exp.Expr, through: tuple[type[exp.Expr], ...]) -> bool:
    """Whether `node` is a condition of a WHERE reached only through `through` (AND, OR, parentheses):
    there a NULL keeps no row, as FALSE does."""
    while isinstance(node.parent, through):
        node = node.parent
    return isinstance(node.parent, exp.Where)


def _uncorrelated(select: exp.Expr, types: ColumnTypes) -> bool:
    """Whether `select` is a SELECT of one column over bound tables only, every column it names one
    of theirs (so it reads nothing of the query around it)."""
    if not isinstance(select, exp.Select) or len(select.expressions) != 1 \
            or select.find(exp.Subquery, exp.Exists) is not None:
        return False
    scope = table_scope(select, types)
    if scope is None:
        return False
    return all((column.table.lower() in scope) if column.table
               else any(column.name.lower() in types[alias] for alias in scope)
               for column in select.find_all(exp.Column))


# The column of a NOT IN subquery's values as `_not_in_as_anti_join` names it: no column of the
# query around it has this name, so an unqualified column of `value` still means the outer one.
_NOT_IN_VALUE = "__cairn_nin_v"


def _not_in_as_anti_join(value: exp.Expr, select: exp.Select) -> exp.Expr:
    """`value NOT IN (select)` as a WHERE condition, without DataFusion's null-aware anti join (a
    build side collected whole in every task, which cannot run distributed): the rows no value of
    `select` equals (an anti join on `value`), kept when `select` has no NULL and, for a NULL
    `value`, when it has no row at all, as SQL's NOT IN keeps them."""
    def values(alias: str) -> exp.Expr:
        return exp.alias_(exp.Subquery(this=select.copy()), alias, table=[_NOT_IN_VALUE])

    equal = exp.EQ(this=exp.column(_NOT_IN_VALUE, table="__cairn_nin"), expression=value.copy())
    anti = exp.Not(this=exp.Exists(this=exp.select("1").from_(values("__cairn_nin")).where(equal)))
    # 0: no row; 1: rows, none NULL; 2: a NULL among them.
    state = exp.select(exp.Case(ifs=[
        exp.If(this=exp.EQ(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(0)),
               true=exp.Literal.number(0)),
        exp.If(this=exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Count(this=exp.column(_NOT_IN_VALUE))),
               true=exp.Literal.number(2))], default=exp.Literal.number(1))).from_(values("__cairn_nin_s"))
    bound = exp.Case(ifs=[exp.If(this=exp.Is(this=value.copy(), expression=exp.Null()), true=exp.Literal.number(1))],
                     default=exp.Literal.number(2))
    return exp.Paren(this=exp.And(this=anti, expression=exp.LT(this=exp.Subquery(this=state), expression=bound)))


def _subquery_predicates(tree: exp.Expr, types: ColumnTypes) -> None:
    """IN (subquery) only as a WHERE condition under AND / OR (a semi join there, where its NULL
    keeps no row as FALSE does); NOT IN (uncorrelated subquery) only under AND, as
    `_not_in_as_anti_join`. Raises DistributedRefusal for any other."""
    for node in list(tree.find_all(exp.In)):
        select = node.args.get("query")
        if select is None:
            continue
        if not isinstance(node.parent, exp.Not):
            if not _in_filter(node, (exp.And, exp.Or, exp.Paren)):
                raise DistributedRefusal("IN (subquery) other than a WHERE condition under AND / OR is not verified on it yet")
            continue
        negation = node.parent
        if not (_in_filter(negation, (exp.And, exp.Paren)) and _uncorrelated(select.this, types)):
            raise DistributedRefusal("NOT IN (subquery) other than an uncorrelated one under AND in WHERE is not "
                                     "verified on it yet")
        negation.replace(_not_in_as_anti_join(node.this, select.this))


def for_datafusion(tree: exp.Expr, column_types: ColumnTypes) -> exp.Expr:
    """`tree` (verified: `refusal` is None; its tables' column types `column_types`) rewritten where
    DataFusion's semantics differ from StarRocks' as the embedded path gives them. `/` is StarRocks'
    DOUBLE division, a NULL where the divisor is 0 (DataFusion divides integers as integers, DECIMALs
    as DECIMALs, and fails on 0), unless the embedded path makes it StarRocks' DECIMAL division
    (`decimal_division`); `avg` of a DECIMAL is StarRocks' DECIMAL, any other a DOUBLE.
    Raises DistributedRefusal where it cannot be rewritten so."""
    _subquery_predicates(tree, column_types)
    # Before the averages, whose rewrite divides DECIMALs as DECIMALs on purpose.
    # Innermost first: a quotient divided again is the DECIMAL or DOUBLE it has become.
    for div in sorted(tree.find_all(exp.Div), key=depth, reverse=True):
        as_decimal = decimal_division_on_datafusion(div, column_types)
        if as_decimal is not None:
            div.replace(as_decimal)
            continue
        div.replace(exp.Div(
            this=exp.cast(div.this.copy(), exp.DataType.Type.DOUBLE),
            expression=exp.func("nullif", exp.cast(div.expression.copy(), exp.DataType.Type.DOUBLE),
                                exp.Literal.number(0)),
            typed=True))
    decimal_averages.for_datafusion(tree, column_types)
    if isinstance(tree, exp.Select):
        # The answer's columns are named after the embedded path's (`conform`); DataFusion refuses
        # two unnamed columns of the same text (`year(t)` and `extract(year from t)`).
        tree.set("expressions", [e if isinstance(e, (exp.Alias, exp.Column, exp.Star)) else exp.alias_(e, f"_c{i}")
                                 for i, e in enumerate(tree.expressions)])
    return tree


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
    prepared, reference, scans, column_types = prepare_for_engine(ctx, engine, tree, con, pinned)
    if not scans:
        return None
    reason = refusal(prepared) or type_refusal(prepared, column_types)
    if reason is not None:
        raise DistributedRefusal(reason)
    prepared = for_datafusion(prepared, column_types)
    tables: list[EngineTable] = []
    for view, scan in scans.items():
        keys = engine.access.pin(_rowset_keys(scan))
        pinned.extend(keys)
        if not keys:
            raise DistributedRefusal(f"table {scan.table.name} has no data to scan (after pruning)")
        tables.append(EngineTable(view, scan.store, tuple(keys)))
    expected = con.sql(reference.sql(dialect="duckdb")).limit(0).to_arrow_table().schema
    return prepared.sql(dialect="postgres"), tables, expected
