"""INSERT OVERWRITE t PARTITION (col = value, ...): the partition of an expression-partitioned table
that holds those values, made first if no load has made it yet (as StarRocks does)."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from cairn.catalog.model import Table
from cairn.catalog.types import parse_type, scalar
from cairn.errors import AnalysisError
from cairn.fe.frontend import Frontend
from cairn.lake.auto_partition import key_expressions
from cairn.lake.routing import NO_PARTITION, partition_expression
from cairn.lake.sqltext import cast, string
from cairn.sql.names import literal_text

_NOT_NAMED = "Getting analyzing error. Detail message: No partition specified in partition lists."


def _values(table: Table, items: list[exp.Expression]) -> dict[str, exp.Expr]:
    """Each partition column's value, typed; AnalysisError unless every one is given once."""
    given: dict[str, exp.Expr] = {}
    for item in items:
        if not isinstance(item, exp.EQ) or not isinstance(item.this, exp.Column):
            raise AnalysisError(_NOT_NAMED)
        column = table.column(item.this.name)
        if column is None or column.name not in table.partition_columns or column.name in given:
            raise AnalysisError(_NOT_NAMED)
        if isinstance(item.expression, exp.Null):
            given[column.name] = cast(exp.null(), parse_type(column.type).duckdb)
        else:
            given[column.name] = cast(string(literal_text(item.expression)), parse_type(column.type).duckdb)
    if set(given) != set(table.partition_columns):
        raise AnalysisError(_NOT_NAMED)
    return given


def _index(table: Table, values: dict[str, exp.Expr]) -> int:
    index: int = scalar(exp.select(partition_expression(table, values)), [])
    return index


def partition_of_values(fe: Frontend, db_name: str | None, table: Table, items: list[exp.Expression]) -> list[int]:
    """The id of the partition holding the values `items` name (`col = value`). Raises AnalysisError
    for a table that is not expression-partitioned, or values that are not its partition columns'."""
    if table.auto_partition is None:
        raise AnalysisError(_NOT_NAMED)
    values = _values(table, items)
    try:
        index = _index(table, values)
        if index != NO_PARTITION:
            return [table.partitions[index].id]
        key = tuple(scalar(exp.select(k), []) for k in key_expressions(table, values))
    except duckdb.Error:
        shown = ", ".join(item.sql("starrocks") for item in items)
        raise AnalysisError(f"Getting analyzing error. Detail message: Invalid partition value in ({shown}).") from None
    with fe.catalog.lock:
        db, _ = fe.catalog.table_by_key(db_name, table.catalog_key)
    made = fe.loads.make_partitions(db, table, [key])
    return [made.partitions[_index(made, values)].id]
