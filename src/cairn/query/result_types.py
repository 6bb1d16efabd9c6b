"""Aggregate result types as StarRocks gives them, where DuckDB's differ.

StarRocks' `sum` of a TINYINT, SMALLINT, INT or BIGINT (or BOOLEAN) is a BIGINT; DuckDB's is a
HUGEINT, which the client would see as DECIMAL(38, 0) (and `sum` of a LARGEINT stays a LARGEINT in
both). Which argument is an integer is read from the bound tables' column types: a sum whose argument
is built only from such columns, integer literals, + - * and integer casts becomes
`CAST(sum(...) AS BIGINT)`; any other sum is left as DuckDB types it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlglot import exp

T = TypeVar("T")

# The StarRocks column types whose sum is a BIGINT.
SUMS_TO_BIGINT = frozenset({"BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT"})
_INTEGER_CASTS = (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT,
                  exp.DataType.Type.BIGINT, exp.DataType.Type.BOOLEAN)

# table alias (lower case) → column name (lower case) → StarRocks type name (no parameters but a
# DECIMAL's, `DECIMAL(p,s)`)
ColumnTypes = dict[str, dict[str, str]]


def add_table(types: ColumnTypes, alias: str, columns: dict[str, str]) -> None:
    """Record the columns of a table the query names `alias`. Two tables under one alias (in
    different subqueries) keep only the columns both type alike."""
    known = types.get(alias.lower())
    if known is None:
        types[alias.lower()] = dict(columns)
    else:
        types[alias.lower()] = {name: kind for name, kind in known.items() if columns.get(name) == kind}


def table_scope(select: exp.Select | None, types: ColumnTypes) -> list[str] | None:
    """The aliases of the tables `select` reads, or None when it reads anything but bound tables
    (a subquery, a CTE, a table function): its columns' types are not known here."""
    source = select.args.get("from_") if select is not None else None
    if select is None or source is None:
        return None
    sources = [source.this, *[join.this for join in select.args.get("joins") or []]]
    aliases = []
    for table in sources:
        if not isinstance(table, exp.Table) or (table.alias or table.name).lower() not in types:
            return None
        aliases.append((table.alias or table.name).lower())
    return aliases


def _column_type(column: exp.Column, scope: list[str], types: ColumnTypes) -> str | None:
    name = column.name.lower()
    if column.table:
        return types[column.table.lower()].get(name) if column.table.lower() in scope else None
    found = [types[alias][name] for alias in scope if name in types[alias]]
    return found[0] if len(found) == 1 else None


def _sums_to_bigint(node: exp.Expr, scope: list[str], types: ColumnTypes) -> bool:
    """Whether `node` is certainly a non-LARGEINT integer (or boolean) value."""
    if isinstance(node, (exp.Paren, exp.Neg)):
        return _sums_to_bigint(node.this, scope, types)
    if isinstance(node, exp.Column):
        return _column_type(node, scope, types) in SUMS_TO_BIGINT
    if isinstance(node, exp.Literal):
        return not node.is_string and node.name.isdigit() and int(node.name) < 2**63
    if isinstance(node, exp.Cast):
        return node.to.this in _INTEGER_CASTS
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        return _sums_to_bigint(node.this, scope, types) and _sums_to_bigint(node.expression, scope, types)
    return False


def integer_sums_as_bigint(tree: exp.Expr, types: ColumnTypes) -> None:
    """Make each `sum` of integers in `tree` a BIGINT, as StarRocks types it (in place)."""
    for node in list(tree.find_all(exp.Sum)):
        argument = node.this.expressions[0] if isinstance(node.this, exp.Distinct) and \
            len(node.this.expressions) == 1 else node.this
        scope = table_scope(node.parent_select, types)
        if scope is None or not _sums_to_bigint(argument, scope, types):
            continue
        # A window or FILTER wraps the aggregate: the cast goes around the whole of it.
        outer: exp.Expr = node
        while isinstance(outer.parent, (exp.Window, exp.Filter)) and outer.arg_key == "this":
            outer = outer.parent
        if isinstance(outer.parent, exp.Cast) and outer.parent.to.is_type(exp.DataType.Type.BIGINT):
            continue
        narrowed: exp.Expr = exp.cast(outer.copy(), exp.DataType.Type.BIGINT)
        if isinstance(outer.parent, exp.Select) and outer.arg_key == "expressions":
            # The column keeps the name it had: the aggregate's text.
            narrowed = exp.alias_(narrowed, outer.sql(dialect="starrocks").lower(), quoted=True)
        outer.replace(narrowed)


def percentiles_of_dates_as_dates(tree: exp.Expr, types: ColumnTypes) -> None:
    """Make each `percentile_cont` of a DATE column a DATE, as StarRocks types it (in place); DuckDB
    interpolates dates as TIMESTAMPs (StarRocks' test_percentile_cont: `percentile_cont(date, 0)`
    answers 2018-01-01)."""
    for node in list(tree.find_all(exp.PercentileCont)):
        scope = table_scope(node.parent_select, types)
        argument = node.this
        if scope is None or not isinstance(argument, exp.Column) or _column_type(argument, scope, types) != "DATE":
            continue
        if isinstance(node.parent, exp.Cast):
            continue
        dated: exp.Expr = exp.cast(node.copy(), exp.DataType.Type.DATE)
        if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
            dated = exp.alias_(dated, node.sql(dialect="starrocks").lower(), quoted=True)
        node.replace(dated)


_STRING_TYPES = frozenset({"CHAR", "VARCHAR"})


def column_sources(column: exp.Column, types: ColumnTypes, of_table: Callable[[str], T | None],
                   of_projection: Callable[[exp.Expr], T | None]) -> list[T | None] | None:
    """What each source of `column` in its SELECT's FROM and JOINs says of it: `of_table` of the
    declared type of a bound table's column, `of_projection` of the one expression a subquery
    selects under its name (None for several). None when a source's columns are not known here
    (a CTE, a table function, VALUES) or the column is in no SELECT."""
    select = column.parent_select
    source = select.args.get("from_") if select is not None else None
    if select is None or source is None:
        return None
    name, qualifier = column.name.lower(), column.table.lower()
    found: list[T | None] = []
    for node in [source.this, *[join.this for join in select.args.get("joins") or []]]:
        alias = node.alias_or_name.lower()
        if qualifier and alias != qualifier:
            continue
        if isinstance(node, exp.Table) and alias in types:
            if name in types[alias]:
                found.append(of_table(types[alias][name]))
        elif isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and not node.this.is_star:
            projections = [p for p in node.this.expressions if p.alias_or_name.lower() == name]
            if projections:
                found.append(of_projection(projections[0].unalias()) if len(projections) == 1 else None)
        else:
            return None
    return found


def declared_type(column: exp.Column, types: ColumnTypes) -> str | None:
    """The declared type of the table column `column` reads, directly or through subqueries that
    select it as it is (test_parallel_merge_lazy_materialize: `SUM(c1) FROM (SELECT c1 ... FROM t0) a`);
    None when it is not one known column."""
    found = column_sources(column, types, lambda type_name: type_name,
                           lambda inner: declared_type(inner, types) if isinstance(inner, exp.Column) else None)
    return found[0] if found is not None and len(found) == 1 else None


def string_sums_as_doubles(tree: exp.Expr, types: ColumnTypes) -> None:
    """`sum` and `avg` of a CHAR or VARCHAR column (read directly or through subqueries) add its
    values as DOUBLEs, a value that is no number being NULL, as StarRocks does (test_count_distinct:
    `sum(distinct v1)` of 'a' and 'b' is NULL); DuckDB has no sum of strings. In place."""
    for node in list(tree.find_all(exp.Sum, exp.Avg)):
        distinct = node.this if isinstance(node.this, exp.Distinct) else None
        arguments = distinct.expressions if distinct is not None else [node.this]
        if len(arguments) != 1 or not isinstance(arguments[0], exp.Column) \
                or declared_type(arguments[0], types) not in _STRING_TYPES:
            continue
        named = node.parent if isinstance(node.parent, exp.Select) and node.arg_key == "expressions" else None
        name = node.sql(dialect="starrocks").lower()
        arguments[0].replace(exp.TryCast(this=arguments[0].copy(), to=exp.DataType.build("DOUBLE")))
        if named is not None:
            node.replace(exp.alias_(node.copy(), name, quoted=True))


def column_type_of(column: exp.Column, types: ColumnTypes) -> str | None:
    """The StarRocks type of a column of a bound table (its name; a DECIMAL's with precision and
    scale), or None where it is not known here (a subquery's, an ambiguous name)."""
    scope = table_scope(column.parent_select, types)
    return None if scope is None else _column_type(column, scope, types)
