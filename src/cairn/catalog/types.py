"""Column types: StarRocks type names, their canonical text, and their DuckDB and Arrow forms."""

from __future__ import annotations

import atexit
import re
import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from cairn.errors import AnalysisError

_TYPE = re.compile(r"^\s*([A-Za-z]+)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")

_ALIASES = {"INTEGER": "INT", "BOOL": "BOOLEAN", "TEXT": "STRING", "REAL": "FLOAT",
            "NUMERIC": "DECIMAL", "DECIMALV2": "DECIMAL", "DECIMAL32": "DECIMAL", "DECIMAL64": "DECIMAL",
            "DECIMAL128": "DECIMAL", "TIMESTAMP": "DATETIME", "INT128": "LARGEINT", "HUGEINT": "LARGEINT"}

_DUCKDB = {"TINYINT": "TINYINT", "SMALLINT": "SMALLINT", "INT": "INTEGER", "BIGINT": "BIGINT",
           "LARGEINT": "HUGEINT", "FLOAT": "FLOAT", "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN",
           "CHAR": "VARCHAR", "VARCHAR": "VARCHAR", "STRING": "VARCHAR", "DATE": "DATE",
           "DATETIME": "TIMESTAMP"}

_ARROW = {"TINYINT": pa.int8(), "SMALLINT": pa.int16(), "INT": pa.int32(), "BIGINT": pa.int64(),
          "LARGEINT": pa.string(), "FLOAT": pa.float32(), "DOUBLE": pa.float64(),
          "BOOLEAN": pa.bool_(), "CHAR": pa.string(), "VARCHAR": pa.string(), "STRING": pa.string(),
          "DATE": pa.date32(), "DATETIME": pa.timestamp("us")}

STRING_MAX = 1048576
DEFAULT_VARCHAR = 1


@dataclass(frozen=True)
class ColumnType:
    """A parsed column type. `length` for CHAR/VARCHAR; `precision`/`scale` for DECIMAL."""

    name: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    @property
    def text(self) -> str:
        """Canonical StarRocks spelling, as SHOW CREATE TABLE and DESC print it."""
        if self.name in {"CHAR", "VARCHAR"}:
            return f"{self.name}({self.length})"
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision},{self.scale})"
        return self.name

    @property
    def duckdb(self) -> str:
        """The DuckDB type a value of this column has while a query runs."""
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision},{self.scale})"
        return _DUCKDB[self.name]

    @property
    def arrow(self) -> pa.DataType:
        """The Arrow (and so Parquet) type this column is stored as."""
        if self.name == "DECIMAL":
            return pa.decimal128(self.precision or 10, self.scale or 0)
        return _ARROW[self.name]

    @property
    def is_string(self) -> bool:
        return self.name in {"CHAR", "VARCHAR", "STRING"}

    @property
    def max_length(self) -> int | None:
        """Longest value in bytes for a string column (StarRocks counts bytes), else None."""
        if self.name in {"CHAR", "VARCHAR"}:
            return self.length
        if self.name == "STRING":
            return STRING_MAX
        return None


def parse_type(text: str) -> ColumnType:
    """Parse a StarRocks type name such as `VARCHAR(32)` or `DECIMAL(10, 2)`.

    Raises AnalysisError for an unknown type or out-of-range parameters.
    """
    match = _TYPE.match(text)
    if match is None:
        raise AnalysisError(f"Unsupported type '{text}'")
    name = _ALIASES.get(match.group(1).upper(), match.group(1).upper())
    first = int(match.group(2)) if match.group(2) else None
    second = int(match.group(3)) if match.group(3) else None
    if name in {"CHAR", "VARCHAR"}:
        length = first if first is not None else (DEFAULT_VARCHAR if name == "CHAR" else STRING_MAX)
        limit = 255 if name == "CHAR" else STRING_MAX
        if not 1 <= length <= limit:
            raise AnalysisError(f"{name} length must be between 1 and {limit}, got {length}")
        return ColumnType(name, length=length)
    if name == "DECIMAL":
        precision = first if first is not None else 10
        scale = second if second is not None else 0
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise AnalysisError(f"Invalid DECIMAL({precision},{scale}): precision must be 1..38 "
                                "and scale 0..precision")
        return ColumnType(name, precision=precision, scale=scale)
    if name not in _DUCKDB:
        raise AnalysisError(f"Unsupported type '{text}'")
    if first is not None and name not in {"INT", "BIGINT", "TINYINT", "SMALLINT"}:
        raise AnalysisError(f"Type {name} takes no parameters")
    return ColumnType(name)


_cast_lock = threading.Lock()
_cast_connection: duckdb.DuckDBPyConnection | None = None


def scalar(query: exp.Query, parameters: list[Any]) -> Any:
    """The single value of a small DuckDB query, its `?` placeholders bound to `parameters`.
    Raises duckdb.Error when it fails.

    Uses a private connection (DuckDB's module-level one is shared and keeps unfinished results).
    """
    global _cast_connection
    with _cast_lock:
        if _cast_connection is None:
            _cast_connection = duckdb.connect()
            atexit.register(_cast_connection.close)
        return _cast_connection.execute(query.sql(dialect="duckdb"), parameters).fetchall()[0][0]


def cast_value(value: str, duckdb_type: str) -> Any:
    """`value` cast to a DuckDB type, as a Python value. Raises duckdb.Error if it is not one."""
    return scalar(exp.select(exp.Cast(this=exp.Placeholder(), to=exp.DataType.build(duckdb_type, dialect="duckdb"))),
                  [value])


_FROM_DUCKDB = {"TINYINT": "TINYINT", "SMALLINT": "SMALLINT", "INTEGER": "INT", "BIGINT": "BIGINT",
                "HUGEINT": "LARGEINT", "UTINYINT": "SMALLINT", "USMALLINT": "INT", "UINTEGER": "BIGINT",
                "UBIGINT": "LARGEINT", "FLOAT": "FLOAT", "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN",
                "VARCHAR": f"VARCHAR({STRING_MAX})", "DATE": "DATE", "TIMESTAMP": "DATETIME",
                "TIMESTAMP_S": "DATETIME", "TIMESTAMP_MS": "DATETIME", "TIMESTAMP_NS": "DATETIME",
                "TIMESTAMP WITH TIME ZONE": "DATETIME"}
_DUCKDB_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


def from_duckdb(duckdb_type: str) -> ColumnType | None:
    """The column type StarRocks gives a query result of this DuckDB type (as CREATE TABLE AS SELECT
    and a view's columns infer it): a string is VARCHAR(1048576); None when no column type holds it."""
    text = duckdb_type.upper().strip()
    decimal = _DUCKDB_DECIMAL.match(text)
    if decimal is not None:
        return ColumnType("DECIMAL", precision=int(decimal.group(1)), scale=int(decimal.group(2)))
    name = _FROM_DUCKDB.get(text)
    return None if name is None else parse_type(name)
