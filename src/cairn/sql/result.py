"""ResultSet: what every statement returns, to the Python API and to the MySQL server alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class ResultSet:
    """Rows (as an Arrow table) for statements that return them; otherwise an OK with a count."""

    table: pa.Table | None = None
    affected_rows: int = 0
    message: str = ""
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def ok(cls, affected_rows: int = 0, message: str = "") -> "ResultSet":
        return cls(None, affected_rows, message)

    @classmethod
    def from_rows(cls, columns: list[str], rows: list[tuple[Any, ...]],
                  types: list[pa.DataType] | None = None) -> "ResultSet":
        """Build a result from Python rows; column types default to strings (as SHOW prints)."""
        types = types or [pa.string()] * len(columns)
        arrays = [pa.array([row[i] for row in rows], type=t) for i, t in enumerate(types)]
        return cls(pa.Table.from_arrays(arrays, names=columns))

    @property
    def columns(self) -> list[str]:
        return self.table.column_names if self.table is not None else []

    @property
    def has_rows(self) -> bool:
        return self.table is not None

    def rows(self) -> list[tuple[Any, ...]]:
        """The rows as Python tuples (None for NULL)."""
        if self.table is None:
            return []
        columns = [_python_values(col) for col in self.table.columns]
        return list(zip(*columns)) if columns else []


def _python_values(column: pa.ChunkedArray) -> list[Any]:
    """A column's values as Python objects. A DATE or DATETIME before year 1 (StarRocks' DATE
    range starts at 0000-01-01; Python's dates at year 1) comes as its text instead, as StarRocks
    prints it, for the whole column."""
    values: list[Any]
    try:
        values = column.to_pylist()
    except (OverflowError, ValueError):
        if pa.types.is_date(column.type):
            values = pc.strftime(column, "%Y-%m-%d").to_pylist()
        elif pa.types.is_timestamp(column.type):
            text = pc.strftime(column, "%Y-%m-%d %H:%M:%S")
            values = pc.replace_substring_regex(text, r"\.0+$", "").to_pylist()
        else:
            raise
    return values
