"""Arrow result columns as MySQL protocol columns."""

from __future__ import annotations

import pyarrow as pa
from mysql_mimic import ColumnType, ResultColumn

_SIMPLE = [
    (pa.types.is_boolean, ColumnType.TINY),
    (pa.types.is_int8, ColumnType.TINY),
    (pa.types.is_int16, ColumnType.SHORT),
    (pa.types.is_int32, ColumnType.LONG),
    (pa.types.is_int64, ColumnType.LONGLONG),
    (pa.types.is_unsigned_integer, ColumnType.LONGLONG),
    (pa.types.is_float32, ColumnType.FLOAT),
    (pa.types.is_float64, ColumnType.DOUBLE),
    (pa.types.is_decimal, ColumnType.NEWDECIMAL),
    (pa.types.is_date, ColumnType.DATE),
    (pa.types.is_timestamp, ColumnType.DATETIME),
]


def _text(column: ResultColumn, value: object) -> bytes:
    return str(value).encode()


def mysql_column(name: str, arrow_type: pa.DataType) -> ResultColumn:
    """The protocol column for an Arrow type; anything without a MySQL twin is sent as text."""
    for test, column_type in _SIMPLE:
        if test(arrow_type):
            if column_type is ColumnType.TINY and pa.types.is_boolean(arrow_type):
                return ResultColumn(name, column_type, text_encoder=lambda c, v: b"1" if v else b"0")
            if column_type in (ColumnType.NEWDECIMAL, ColumnType.DATE, ColumnType.DATETIME):
                return ResultColumn(name, column_type, text_encoder=_text)
            return ResultColumn(name, column_type)
    return ResultColumn(name, ColumnType.VAR_STRING, text_encoder=_text)
