"""Routing rows to partitions and tablets, as DuckDB expressions (vectorized, no Python per row)."""

from __future__ import annotations

from sqlglot import exp

from cairn.catalog.model import Table
from cairn.catalog.types import parse_type
from cairn.lake.partition_key import key_expression
from cairn.lake.sqltext import call, case, cast, number, string

PARTITION_COLUMN = "__cairn_partition"
BUCKET_COLUMN = "__cairn_bucket"
NO_PARTITION = -1
# The lowest value StarRocks gives a NULL of an automatically partitioned table's range column.
NULL_RANGE_VALUE = "0000-01-01"


def _typed(value: str, type_text: str) -> exp.Expr:
    return cast(string(value), parse_type(type_text).duckdb)


def _tuple(values: list[exp.Expr]) -> exp.Expr:
    if len(values) == 1:
        return values[0]
    return exp.Tuple(expressions=values)


# An expression-partitioned RANGE table with more partitions than this routes by binary search.
_SEARCH_ABOVE = 8


def _range_search(table: Table, column: exp.Expr, type_text: str) -> exp.Expr:
    """Each row's partition index by binary search over the ranges, sorted by their lower bounds: about
    log2(n) comparisons a row instead of n. Only for an expression-partitioned table, whose bounds are
    DATE or DATETIME texts (so they sort as text) on one grid (so they never overlap)."""
    ordered = sorted(((p.lower[0] if p.lower else "", p.upper[0] if p.upper else None, index)
                      for index, p in enumerate(table.partitions)), key=lambda item: item[0])

    def search(items: list[tuple[str, str | None, int]]) -> exp.Expr:
        if len(items) <= _SEARCH_ABOVE // 2:
            branches = []
            for lower, upper, index in items:
                tests: list[exp.Expr] = [exp.GTE(this=column.copy(), expression=_typed(lower, type_text))]
                if upper is not None:
                    tests.append(exp.LT(this=column.copy(), expression=_typed(upper, type_text)))
                branches.append((exp.and_(*tests), number(index)))
            return case(branches, number(NO_PARTITION))
        middle = len(items) // 2
        below = exp.LT(this=column.copy(), expression=_typed(items[middle][0], type_text))
        return exp.Case(ifs=[exp.If(this=below, true=search(items[:middle]))], default=search(items[middle:]))

    return search(ordered)


def partition_keys(table: Table, source: dict[str, exp.Expr]) -> list[exp.Expr]:
    """The values a row's partition is chosen by, one per partition column: the column's value, or the
    value of the expression the table is partitioned by (as its type). `source` as in
    `partition_expression`."""
    keys: list[exp.Expr] = []
    for name, expression in zip(table.partition_columns, table.partition_key_expressions()):
        value = source[name]
        keys.append(value if expression is None else
                    cast(key_expression(expression.sql, value), parse_type(expression.type).duckdb))
    return keys


def partition_expression(table: Table, source: dict[str, exp.Expr]) -> exp.Expr:
    """A DuckDB expression giving each row's partition index in `table.partitions`, or -1.

    `source` maps a column name to the expression that computes its (already cast) value.
    RANGE partitions cover [lower, upper); NULL goes to the lowest range, as in StarRocks (with
    expression partitioning, to the range holding 0000-01-01). A table partitioned by an expression
    of its columns (`RANGE(from_unixtime(ts))`, `PARTITION BY k1, date_trunc('day', k2)`) is routed by the
    expressions' values.
    """
    if table.partition_type == "UNPARTITIONED":
        return number(0)
    columns = partition_keys(table, source)
    types = table.partition_key_types()
    if table.partition_type == "RANGE" and table.auto_partition is not None:
        columns = [call("coalesce", columns[0].copy(), _typed(NULL_RANGE_VALUE, types[0]))]
        if len(table.partitions) > _SEARCH_ABOVE:
            # Loads make many such partitions; a linear CASE would test each row against all of them.
            return _range_search(table, columns[0], types[0])
    branches: list[tuple[exp.Expr, exp.Expr]] = []
    for index, partition in enumerate(table.partitions):
        if table.partition_type == "RANGE":
            tests: list[exp.Expr] = []
            if partition.lower is not None:
                tests.append(exp.GTE(this=_tuple([c.copy() for c in columns]),
                                     expression=_tuple([_typed(v, t) for v, t in zip(partition.lower, types)])))
            if partition.upper is not None:
                tests.append(exp.LT(this=_tuple([c.copy() for c in columns]),
                                    expression=_tuple([_typed(v, t) for v, t in zip(partition.upper, types)])))
            test = exp.and_(*tests) if tests else exp.true()
            if partition.lower is None:
                test = exp.or_(exp.paren(test), exp.Is(this=columns[0].copy(), expression=exp.null()))
            branches.append((test, number(index)))
        else:
            rows: list[exp.Expr] = []
            matches: list[exp.Expr] = []
            for row in partition.values or []:
                values = [exp.null() if v is None else _typed(v, t) for v, t in zip(row, types)]
                if None in row:
                    # A NULL value matches a NULL, which IN never does.
                    matches.append(exp.and_(*(exp.NullSafeEQ(this=c.copy(), expression=v)
                                            for c, v in zip(columns, values))))
                else:
                    rows.append(_tuple(values))
            if rows:
                matches.insert(0, exp.In(this=_tuple([c.copy() for c in columns]), expressions=rows))
            if matches:
                branches.append((exp.or_(*matches), number(index)))
    return case(branches, number(NO_PARTITION))


def bucket_expression(table: Table, source: dict[str, exp.Expr]) -> exp.Expr:
    """A DuckDB expression giving each row's bucket (tablet index within its partition)."""
    if table.buckets == 1:
        return number(0)
    if not table.distribution_columns:
        return cast(call("floor", exp.Mul(this=call("random"), expression=number(table.buckets))), "INTEGER")
    hashed = call("hash", *[source[c].copy() for c in table.distribution_columns])
    return cast(exp.Mod(this=hashed, expression=number(table.buckets)), "INTEGER")
