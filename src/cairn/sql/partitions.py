"""Partition bounds: parsing, normalizing and ordering RANGE and LIST partition values."""

from __future__ import annotations

import re
from typing import Any

import duckdb

from cairn.catalog.model import Table
from cairn.catalog.types import cast_value, parse_type
from cairn.errors import AnalysisError

MAXVALUE = "MAXVALUE"


# StarRocks reads a date bound also written without separators: 19920101, 19920101123000.
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2}))?$")


def _dashed_date(value: str) -> str:
    """`value`, a date written as yyyyMMdd[HHmmss], as yyyy-MM-dd[ HH:mm:ss]; any other text as it is."""
    found = _COMPACT_DATE.match(value.strip())
    if found is None:
        return value
    year, month, day, hour, minute, second = found.groups()
    return f"{year}-{month}-{day}" + (f" {hour}:{minute}:{second}" if hour is not None else "")


def normalize_value(value: str, type_text: str) -> str:
    """Cast a bound literal to the column's type and return its canonical text.

    Raises AnalysisError when the literal is not a value of that type.
    """
    column_type = parse_type(type_text)
    if column_type.name in ("DATE", "DATETIME"):
        value = _dashed_date(value)
    try:
        typed = cast_value(value, column_type.duckdb)
    except duckdb.Error:
        raise AnalysisError(f"Invalid partition value '{value}' for type {column_type.text}") from None
    return cast_value(typed, "VARCHAR") if not isinstance(typed, str) else typed


def sort_key(values: list[str] | None, table: Table) -> tuple[Any, ...]:
    """A comparable key for bound values of the table's partition columns (None = MAXVALUE)."""
    if values is None:
        return (1,)
    typed = []
    for value, type_text in zip(values, table.partition_key_types()):
        typed.append(cast_value(value, parse_type(type_text).duckdb))
    return (0, *typed)


def chain_ranges(table: Table, uppers: list[list[str] | None]) -> list[tuple[list[str] | None, list[str] | None]]:
    """Turn successive VALUES LESS THAN bounds into [lower, upper) pairs; bounds must increase."""
    ranges: list[tuple[list[str] | None, list[str] | None]] = []
    lower: list[str] | None = None
    for upper in uppers:
        if lower is not None and sort_key(upper, table) <= sort_key(lower, table):
            shown = "MAXVALUE" if upper is None else ", ".join(upper)
            raise AnalysisError(f"Range partition bounds must increase: ({shown}) is not greater than "
                                f"({', '.join(lower)})")
        if ranges and ranges[-1][1] is None:
            raise AnalysisError("No partition may follow a partition bounded by MAXVALUE")
        ranges.append((lower, upper))
        lower = upper
    return ranges


def next_range_lower(table: Table, upper: list[str] | None) -> list[str] | None:
    """The lower bound a new RANGE partition ending at `upper` gets: the highest existing upper.

    Raises AnalysisError if the new range would overlap an existing one.
    """
    if not table.partitions:
        return None
    last = table.partitions[-1]
    if last.upper is None:
        raise AnalysisError(f"Partition '{last.name}' already covers up to MAXVALUE; "
                            "no range can be added after it")
    if upper is not None and sort_key(upper, table) <= sort_key(last.upper, table):
        raise AnalysisError(f"Range [{', '.join(last.upper)}, {', '.join(upper)}) is intersected with "
                            f"partition '{last.name}'")
    return last.upper
