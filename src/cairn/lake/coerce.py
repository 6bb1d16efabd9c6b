"""Coercing loaded rows to a table's schema: casts, defaults, NOT NULL, string length, partitions.

Everything is a DuckDB expression over the source relation; the first offending row aborts the
statement with an error naming the column and value. Nothing per row runs in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import errors as sqlglot_errors
from sqlglot import exp

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
from cairn.lake.sqltext import aliased, call, case, cast, number, string, try_cast
from cairn.lake.sqltext import column as sqlcolumn

CURRENT_TIMESTAMP = "CURRENT_TIMESTAMP"


def storage_type(column: Column) -> str:
    """The DuckDB type a column is written to Parquet as. LARGEINT (128-bit) has no Parquet type
    that holds its whole range, so it is stored as its decimal text (inside ARRAY, MAP and STRUCT too)."""
    return parse_type(column.type).storage_duckdb


def _struct_fields(duckdb_type: str) -> list[str] | None:
    """The field names of a DuckDB STRUCT type's text, None for another type."""
    try:
        kind = exp.DataType.build(duckdb_type, dialect="duckdb")
    except (ValueError, sqlglot_errors.ParseError):
        return None
    if kind.this != exp.DataType.Type.STRUCT:
        return None
    return [field.name for field in kind.expressions]


def _fields_by_position(value: exp.Expr, source_type: str | None, target_type: str) -> exp.Expr:
    """`value` (a STRUCT of `source_type`) with its fields renamed to the target STRUCT's, in order:
    StarRocks casts STRUCT to STRUCT by position (test_semi_cast: `struct(idx, idx + 1)` into a
    STRUCT<k1, k2> column), DuckDB by name. Any other value is returned as it is."""
    source_fields = _struct_fields(source_type) if source_type else None
    target_fields = _struct_fields(target_type)
    if source_fields is None or target_fields is None or len(source_fields) != len(target_fields) \
            or [f.lower() for f in source_fields] == [f.lower() for f in target_fields]:
        return value
    renamed = exp.Struct(expressions=[
        exp.PropertyEQ(this=exp.to_identifier(name, quoted=True),
                       expression=call("struct_extract_at", value.copy(), number(position)))
        for position, name in enumerate(target_fields, 1)])
    return case([(exp.Is(this=value.copy(), expression=exp.null()), exp.null())], renamed)


# DuckDB integer types whose values StarRocks reads as dates when a DATE or DATETIME column takes them.
_INTEGER_SOURCES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"})


def _integer_as_date(value: exp.Expr) -> exp.Expr:
    """An integer as StarRocks casts it to a DATE or DATETIME: its digits yyyyMMdd or yyyyMMddHHmmss
    (19920101 is 1992-01-01); NULL when they are no date."""
    digits = cast(value, "VARCHAR")
    return call("coalesce", call("try_strptime", digits.copy(), string("%Y%m%d%H%M%S")),
                call("try_strptime", digits, string("%Y%m%d")))


def _cast(source: str, column: Column, source_type: str | None = None) -> exp.Expr:
    column_type = parse_type(column.type)
    value = _fields_by_position(sqlcolumn(source), source_type, column_type.duckdb)
    if column_type.name in ("DATE", "DATETIME") and (source_type or "").upper() in _INTEGER_SOURCES:
        value = _integer_as_date(value)
    if column_type.storage_duckdb != column_type.duckdb:
        return cast(try_cast(value, column_type.duckdb), column_type.storage_duckdb)
    return try_cast(value, column_type.duckdb)


@dataclass
class CoercionPlan:
    """How the source relation's columns become the table's stored columns."""

    table: Table
    casts: dict[str, exp.Expr]  # table column -> expression over the source relation
    sources: dict[str, str]           # table column -> source column it reads (absent: default)
    source_types: dict[str, str] = field(default_factory=dict)  # source column -> its DuckDB type, where known


def default_expression(column: Column) -> exp.Expr:
    """The column's default value (NULL without one), typed as stored."""
    if column.default is None:
        return cast(exp.null(), storage_type(column))
    if column.default == CURRENT_TIMESTAMP:
        return cast(call("current_localtimestamp"), storage_type(column))
    return cast(cast(string(column.default), parse_type(column.type).duckdb), storage_type(column))


def plan_coercion(table: Table, source_columns: list[str], target_names: list[str] | None,
                  source_types: dict[str, str] | None = None) -> CoercionPlan:
    """Map source columns to table columns (by the INSERT column list, else by position).
    `source_types` (source column -> DuckDB type text) lets a STRUCT be cast by position.

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
        casts[column.name] = _cast(source, column, (source_types or {}).get(source)) if source is not None \
            else default_expression(column)
    return CoercionPlan(table, casts, sources, dict(source_types or {}))


_ERROR_TAG = "cairn-load-error"
_ERROR = re.compile(rf"{_ERROR_TAG}\|(\w+)\|([^|]*)\|(.*)", re.DOTALL)


def _fail(kind: str, column: str, value: exp.Expr) -> exp.Expr:
    """A DuckDB expression that aborts the statement, carrying what was wrong."""
    return call("error", call("concat", string(f"{_ERROR_TAG}|{kind}|{column}|"), value))


def _is_null(value: exp.Expr) -> exp.Expr:
    return exp.Is(this=value.copy(), expression=exp.null())


def _column_guards(plan: CoercionPlan, column: Column) -> list[tuple[exp.Expr, exp.Expr]]:
    """(condition that makes a row bad, expression that aborts with a tagged error) for a column."""
    value = plan.casts[column.name]
    source = plan.sources.get(column.name)
    guards: list[tuple[exp.Expr, exp.Expr]] = []
    if source is not None:
        guards.append((exp.and_(exp.not_(_is_null(sqlcolumn(source))), _is_null(value)),
                       _fail("cast", column.name, cast(sqlcolumn(source), "VARCHAR"))))
    if not column.nullable:
        guards.append((_is_null(value), _fail("null", column.name, string(""))))
    column_type = parse_type(column.type)
    limit = column_type.max_length
    if limit is not None:
        binary = column_type.name == "VARBINARY"
        size = call("octet_length", value.copy()) if binary else call("strlen", value.copy())
        shown = call("left", cast(value.copy(), "VARCHAR") if binary else value.copy(), number(64))
        guards.append((exp.GT(this=size, expression=number(limit)), _fail("length", column.name, shown)))
    return guards


def _partition_guard(plan: CoercionPlan) -> tuple[exp.Expr, exp.Expr] | None:
    if plan.table.partition_type == "UNPARTITIONED":
        return None
    partition = partition_expression(plan.table, plan.casts)
    shown: exp.Expr | None = None
    for name in plan.table.partition_columns:
        part = call("coalesce", cast(plan.casts[name].copy(), "VARCHAR"), string("NULL"))
        shown = part if shown is None else exp.DPipe(this=exp.DPipe(this=shown, expression=string(", ")),
                                                     expression=part)
    assert shown is not None
    return (exp.EQ(this=exp.paren(partition), expression=number(NO_PARTITION)),
            _fail("partition", ", ".join(plan.table.partition_columns), shown))


def checked_select_list(plan: CoercionPlan) -> list[exp.Expr]:
    """The stored columns plus routing columns, each guarded so that the first bad row aborts the
    whole statement with a tagged error (see `load_error`). One vectorized pass, no second scan."""
    values: list[exp.Expr] = []
    for column in plan.table.columns:
        value = case(_column_guards(plan, column), plan.casts[column.name].copy())
        values.append(aliased(value, column.name))
    partition = partition_expression(plan.table, plan.casts)
    guard = _partition_guard(plan)
    if guard is not None:
        partition = case([guard], partition)
    values.append(aliased(partition, PARTITION_COLUMN))
    values.append(aliased(bucket_expression(plan.table, plan.casts), BUCKET_COLUMN))
    return values


def bad_row_condition(plan: CoercionPlan, partitions: bool = True) -> exp.Expr:
    """A condition true for every row that cannot be stored (for loads that filter bad rows); without
    `partitions`, a row that only lacks its partition is not counted bad (it may get one made)."""
    tests = [test for column in plan.table.columns for test, _ in _column_guards(plan, column)]
    guard = _partition_guard(plan) if partitions else None
    if guard is not None:
        tests.append(guard[0])
    if not tests:
        return exp.false()
    return exp.or_(*(call("coalesce", exp.paren(t), exp.false()) for t in tests))


def load_error(exc: Exception, table: Table) -> DataError | None:
    """The DataError a tagged DuckDB error stands for, or None if `exc` is not one of ours."""
    match = _ERROR.search(str(exc))
    if match is None:
        return None
    kind, name, found = match.group(1), match.group(2), match.group(3).split("\n")[0].strip()
    column = table.column(name.split(", ")[0])
    type_text = column.type if column else ""
    if kind == "null":
        return NotNullError(f"Column '{name}' cannot be null")
    if kind == "cast":
        return DataError(f"Invalid value '{found}' for column '{name}' of type {type_text}")
    if kind == "length":
        return DataTooLongError(f"Data too long for column '{name}': '{found}' is longer than {type_text}")
    return NoPartitionForRowError(f"The row is out of partition ranges. Please add a new partition. "
                                  f"Table '{table.name}' has no partition for {name} = {found}")
