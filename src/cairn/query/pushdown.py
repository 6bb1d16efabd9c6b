"""What a table scan may do for its query on a compute node: read only the columns the query uses,
and drop rows the query's WHERE clause drops anyway.

Both are conservative: when in doubt (a `*`, USING / NATURAL joins, an outer join, a subquery or an
aggregate in a condition) nothing is pushed down. The FE still runs the whole query over what the
scans return, so a pushed-down filter only ever removes rows that the query would remove itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from cairn.catalog.model import Table

# Conditions containing these are never pushed down (they depend on more than one row, or on chance).
_NOT_PUSHABLE = (exp.Subquery, exp.Select, exp.Exists, exp.AggFunc, exp.Window, exp.Rand, exp.Placeholder,
                 exp.Star)


def _names(node: exp.Table) -> set[str]:
    return {node.name.lower(), (node.alias or node.name).lower()}


def _table_columns(table: Table) -> dict[str, str]:
    return {c.name.lower(): c.name for c in table.columns}


def _plain_joins(select: exp.Select) -> bool:
    """True when every join of `select` is an inner or cross join without USING / NATURAL."""
    for join in select.args.get("joins") or []:
        if join.args.get("using") or join.side or (join.kind or "").upper() not in {"", "INNER", "CROSS"}:
            return False
        if (join.args.get("method") or "").upper() == "NATURAL":
            return False
    return True


def scan_columns(node: exp.Table, table: Table) -> list[str] | None:
    """The table's columns the statement containing `node` may read (None: all of them)."""
    root = node.root()
    for star in root.find_all(exp.Star):
        if not isinstance(star.parent, exp.Count):
            return None
    for join in root.find_all(exp.Join):
        if join.args.get("using") or (join.args.get("method") or "").upper() == "NATURAL":
            return None
    names, columns = _names(node), _table_columns(table)
    used: set[str] = set()
    for column in root.find_all(exp.Column):
        qualifier = column.table.lower()
        if (not qualifier or qualifier in names) and column.name.lower() in columns:
            used.add(column.name.lower())
    return [c.name for c in table.columns if c.name.lower() in used]


def _pushed_conjuncts(node: exp.Table, table: Table) -> tuple[list[str], int]:
    """The WHERE conjuncts over `node` that can run on its scan (as DuckDB SQL over unqualified
    column names), and how many conjuncts the WHERE clause has in all."""
    select = node.parent_select
    if select is None or not isinstance(node.parent, (exp.From, exp.Join)) or not _plain_joins(select):
        return [], -1
    where = select.args.get("where")
    if where is None:
        return [], 0
    single = not select.args.get("joins")
    names, columns = _names(node), _table_columns(table)
    conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    pushed = []
    for conjunct in conjuncts:
        if any(True for _ in conjunct.find_all(*_NOT_PUSHABLE)):
            continue
        found = list(conjunct.find_all(exp.Column))
        if not found or not all(
                ((c.table.lower() in names) if c.table else single) and c.name.lower() in columns for c in found):
            continue
        copy = conjunct.copy()
        for column in copy.find_all(exp.Column):
            column.replace(exp.column(exp.to_identifier(columns[column.name.lower()], quoted=True)))
        pushed.append(f"({copy.sql(dialect='duckdb')})")
    return pushed, len(conjuncts)


def scan_filter(node: exp.Table, table: Table) -> str | None:
    """The conjuncts of the WHERE clause over `node` that only read this table's columns, as DuckDB
    SQL over unqualified column names; None when there is none."""
    return " AND ".join(_pushed_conjuncts(node, table)[0]) or None


@dataclass(frozen=True)
class PartialAggregate:
    """A GROUP BY each compute node runs over its own tablets; the FE merges the partial rows."""

    select_sql: str  # group columns, then partial aggregates named __p<i>
    group_sql: str  # the GROUP BY list, '' for one global group


_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "LARGEINT"}


def _plain_column(expression: exp.Expression | None, names: set[str], columns: dict[str, str]) -> str | None:
    if isinstance(expression, exp.Column) and not isinstance(expression.this, exp.Star) \
            and (not expression.table or expression.table.lower() in names) and expression.name.lower() in columns:
        return columns[expression.name.lower()]
    return None


def push_aggregate(node: exp.Table, table: Table) -> PartialAggregate | None:
    """If the query over `node` is one table's GROUP BY of COUNT / SUM / MIN / MAX / AVG over plain
    columns whose whole WHERE clause runs on the scan (`scan_filter`), rewrite it to merge partial
    aggregates and return what each node computes; else change nothing and return None."""
    from cairn.catalog.types import parse_type

    select = node.parent_select
    if select is None or not isinstance(node.parent, exp.From) or select.args.get("joins") \
            or select.args.get("distinct") or select.args.get("qualify"):
        return None
    if any(s is not select for s in select.find_all(exp.Select)) or any(True for _ in select.find_all(exp.Window)):
        return None
    where = select.args.get("where")
    pushed, total = _pushed_conjuncts(node, table)
    if len(pushed) != total:
        return None  # part of the WHERE clause stays on the FE: it needs the raw rows
    names, columns = _names(node), _table_columns(table)
    group = select.args.get("group")
    keys: list[str] = []
    if group is not None:
        if any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets", "all")):
            return None
        for expression in group.expressions:
            name = _plain_column(expression, names, columns)
            if name is None:
                return None
            keys.append(name)
    aggregates = list(select.find_all(exp.AggFunc))
    if not aggregates and not keys:
        return None
    partials: list[str] = []
    finals: list[tuple[exp.AggFunc, exp.Expression]] = []
    for index, aggregate in enumerate(aggregates):
        argument = aggregate.this
        star = isinstance(aggregate, exp.Count) and isinstance(argument, exp.Star)
        column = None if star else _plain_column(argument, names, columns)
        if not star and column is None:
            return None  # DISTINCT, expressions, several arguments: not split here
        source = "*" if star else f'"{column}"'
        p = f"__p{index}"
        if isinstance(aggregate, exp.Count):
            partials.append(f"count({source}) AS {p}")
            final = f"CAST(COALESCE(sum({p}), 0) AS BIGINT)"
        elif isinstance(aggregate, (exp.Sum, exp.Min, exp.Max)):
            function = type(aggregate).__name__.lower()
            partials.append(f"{function}({source}) AS {p}")
            final = f"{function}({p})"
        elif isinstance(aggregate, exp.Avg) and parse_type(table.column(column).type).name in _INTEGER_TYPES:
            partials.append(f"sum({source}) AS {p}s, count({source}) AS {p}c")
            final = f"CAST(sum({p}s) AS DOUBLE) / sum({p}c)"
        else:
            return None
        finals.append((aggregate, exp.maybe_parse(final, dialect="duckdb")))
    # Outside the aggregates, the query may only read the group columns.
    inside = {id(c) for a in [*aggregates, *([where] if where is not None else [])] for c in a.find_all(exp.Column)}
    if any(id(c) not in inside and _plain_column(c, names, columns) not in keys for c in select.find_all(exp.Column)):
        return None
    for aggregate, final in finals:
        if aggregate.parent is select and aggregate.arg_key == "expressions":
            final = exp.alias_(final, aggregate.sql(dialect="starrocks").lower(), quoted=True)
        aggregate.replace(final)
    if where is not None:
        where.pop()
    group_sql = ", ".join(f'"{k}"' for k in keys)
    return PartialAggregate(select_sql=", ".join([*(f'"{k}"' for k in dict.fromkeys(keys)), *partials]),
                            group_sql=group_sql)
