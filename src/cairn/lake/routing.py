"""Routing rows to partitions and tablets, as DuckDB expressions (vectorized, no Python per row)."""

from __future__ import annotations

from cairn.catalog.model import Table
from cairn.catalog.types import parse_type
from cairn.lake.sqltext import literal

PARTITION_COLUMN = "__cairn_partition"
BUCKET_COLUMN = "__cairn_bucket"
NO_PARTITION = -1


def _typed(value: str, type_text: str) -> str:
    return f"CAST({literal(value)} AS {parse_type(type_text).duckdb})"


def _tuple(columns: list[str]) -> str:
    if len(columns) == 1:
        return columns[0]
    return "(" + ", ".join(columns) + ")"


def partition_expression(table: Table, source: dict[str, str]) -> str:
    """A DuckDB expression giving each row's partition index in `table.partitions`, or -1.

    `source` maps a column name to the expression that computes its (already cast) value.
    RANGE partitions cover [lower, upper); NULL goes to the lowest range, as in StarRocks.
    """
    if table.partition_type == "UNPARTITIONED":
        return "0"
    columns = [source[c] for c in table.partition_columns]
    types = [table.column_named(c).type for c in table.partition_columns]
    key = _tuple(columns)
    branches = []
    for index, partition in enumerate(table.partitions):
        if table.partition_type == "RANGE":
            tests = []
            if partition.lower is not None:
                tests.append(f"{key} >= {_tuple([_typed(v, t) for v, t in zip(partition.lower, types)])}")
            if partition.upper is not None:
                tests.append(f"{key} < {_tuple([_typed(v, t) for v, t in zip(partition.upper, types)])}")
            test = " AND ".join(tests) or "TRUE"
            if partition.lower is None:
                test = f"({test}) OR {columns[0]} IS NULL"
            branches.append(f"WHEN {test} THEN {index}")
        else:
            rows = ", ".join(_tuple([_typed(v, t) for v, t in zip(row, types)]) for row in partition.values or [])
            if rows:
                branches.append(f"WHEN {key} IN ({rows}) THEN {index}")
    if not branches:
        return str(NO_PARTITION)
    return f"CASE {' '.join(branches)} ELSE {NO_PARTITION} END"


def bucket_expression(table: Table, source: dict[str, str]) -> str:
    """A DuckDB expression giving each row's bucket (tablet index within its partition)."""
    if table.buckets == 1:
        return "0"
    if not table.distribution_columns:
        return f"CAST(floor(random() * {table.buckets}) AS INTEGER)"
    columns = ", ".join(source[c] for c in table.distribution_columns)
    return f"CAST(hash({columns}) % {table.buckets} AS INTEGER)"
