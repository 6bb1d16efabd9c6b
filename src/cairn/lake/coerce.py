"""Coercing loaded rows to a table's schema: casts, defaults, NOT NULL, string length, partitions.

Everything is a DuckDB expression over the source relation, checked in one aggregate pass that
names the first offending column and value; nothing per row runs in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from cairn.catalog.model import Column, Table
from cairn.catalog.types import parse_type
from cairn.errors import (
    ColumnCountError,
    DataError,
    DataTooLongError,
    NoPartitionForRowError,
    NotNullError,
    UnknownColumnError,
)
from cairn.lake.routing import BUCKET_COLUMN, NO_PARTITION, PARTITION_COLUMN, bucket_expression, partition_expression
from cairn.lake.sqltext import ident, literal

CURRENT_TIMESTAMP = "CURRENT_TIMESTAMP"


def storage_type(column: Column) -> str:
    """The DuckDB type a column is written to Parquet as. LARGEINT (128-bit) has no Parquet type
    that holds its whole range, so it is stored as its decimal text."""
    column_type = parse_type(column.type)
    return "VARCHAR" if column_type.name == "LARGEINT" else column_type.duckdb


def _cast(source: str, column: Column) -> str:
    column_type = parse_type(column.type)
    if column_type.name == "LARGEINT":
        return f"CAST(TRY_CAST({ident(source)} AS HUGEINT) AS VARCHAR)"
    return f"TRY_CAST({ident(source)} AS {column_type.duckdb})"


@dataclass
class CoercionPlan:
    """The SELECT list that turns the source relation into the table's stored rows."""

    table: Table
    casts: dict[str, str]          # table column -> expression over the source relation
    sources: dict[str, str]        # table column -> source column it reads (absent: default)

    def select_list(self) -> str:
        """Stored columns plus the partition and bucket columns used to route them."""
        values = [f"{self.casts[c.name]} AS {ident(c.name)}" for c in self.table.columns]
        values.append(f"{partition_expression(self.table, self.casts)} AS {PARTITION_COLUMN}")
        values.append(f"{bucket_expression(self.table, self.casts)} AS {BUCKET_COLUMN}")
        return ", ".join(values)


def _default_expression(column: Column) -> str:
    if column.default is None:
        return f"CAST(NULL AS {storage_type(column)})"
    if column.default == CURRENT_TIMESTAMP:
        return f"CAST(current_localtimestamp() AS {storage_type(column)})"
    return f"CAST(CAST({literal(column.default)} AS {parse_type(column.type).duckdb}) AS {storage_type(column)})"


def plan_coercion(table: Table, source_columns: list[str], target_names: list[str] | None) -> CoercionPlan:
    """Map source columns to table columns (by the INSERT column list, else by position).

    Raises ColumnCountError / UnknownColumnError when the shapes do not match.
    """
    if target_names is None:
        if len(source_columns) != len(table.columns):
            raise ColumnCountError(f"Column count doesn't match value count: table '{table.name}' has "
                                   f"{len(table.columns)} columns, the statement gives {len(source_columns)}")
        targets = [c.name for c in table.columns]
    else:
        if len(source_columns) != len(target_names):
            raise ColumnCountError(f"Column count doesn't match value count: {len(target_names)} columns "
                                   f"named, {len(source_columns)} values given")
        targets = []
        for name in target_names:
            column = table.column(name)
            if column is None:
                raise UnknownColumnError(f"Unknown column '{name}' in '{table.name}'")
            targets.append(column.name)
    sources = dict(zip(targets, source_columns))
    casts = {}
    for column in table.columns:
        source = sources.get(column.name)
        casts[column.name] = _cast(source, column) if source is not None else _default_expression(column)
    return CoercionPlan(table, casts, sources)


def validate(con: duckdb.DuckDBPyConnection, plan: CoercionPlan, relation: str) -> int:
    """Check every row once; return the row count or raise the first DataError found."""
    checks: list[tuple[str, str, str]] = []  # (kind, column, sql)
    select = [f"count(*)"]
    for column in plan.table.columns:
        value = plan.casts[column.name]
        source = plan.sources.get(column.name)
        if source is not None:
            bad = f"{ident(source)} IS NOT NULL AND {value} IS NULL"
            checks.append(("cast", column.name, f"min(CAST({ident(source)} AS VARCHAR)) FILTER (WHERE {bad})"))
        if not column.nullable:
            checks.append(("null", column.name, f"count(*) FILTER (WHERE {value} IS NULL)"))
        limit = parse_type(column.type).max_length
        if limit is not None:
            checks.append(("length", column.name, f"min({value}) FILTER (WHERE strlen({value}) > {limit})"))
    partition = partition_expression(plan.table, plan.casts)
    if plan.table.partition_type != "UNPARTITIONED":
        shown = " || ', ' || ".join(f"coalesce(CAST({plan.casts[c]} AS VARCHAR), 'NULL')"
                                   for c in plan.table.partition_columns)
        checks.append(("partition", ", ".join(plan.table.partition_columns),
                       f"min({shown}) FILTER (WHERE {partition} = {NO_PARTITION})"))
    select += [sql for _, _, sql in checks]
    row = con.execute(f"SELECT {', '.join(select)} FROM {relation}").fetchone()
    for (kind, name, _), found in zip(checks, row[1:]):
        if kind == "null" and found:
            raise NotNullError(f"Column '{name}' cannot be null")
        if kind == "cast" and found is not None:
            column = plan.table.column(name)
            raise DataError(f"Invalid value '{found}' for column '{name}' of type {column.type}")  # type: ignore[union-attr]
        if kind == "length" and found is not None:
            column = plan.table.column(name)
            raise DataTooLongError(f"Data too long for column '{name}': '{found[:64]}' is longer than "
                                   f"{column.type}")  # type: ignore[union-attr]
        if kind == "partition" and found is not None:
            raise NoPartitionForRowError(
                f"The row is out of partition ranges. Please add a new partition. "
                f"Table '{plan.table.name}' has no partition for {name} = {found}")
    return int(row[0])
