"""Arrow result columns as MySQL protocol columns."""

from __future__ import annotations

from collections.abc import Callable

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


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nested_text(value: object, arrow_type: pa.DataType) -> str:
    """A value inside an ARRAY, MAP or STRUCT as StarRocks prints it: `["a",null]`, `{"k":1}`, `{"f":1}`.

    Strings, dates and datetimes are double-quoted (with `\\` and `"` escaped), NULL is `null`,
    booleans are 1/0, and there are no spaces.
    """
    if value is None:
        return "null"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        return "[" + ",".join(nested_text(v, arrow_type.value_type) for v in value) + "]"  # type: ignore[attr-defined]
    if pa.types.is_map(arrow_type):
        return "{" + ",".join(f"{nested_text(k, arrow_type.key_type)}:{nested_text(v, arrow_type.item_type)}"
                              for k, v in value) + "}"  # type: ignore[attr-defined]
    if pa.types.is_struct(arrow_type):
        fields = [arrow_type.field(i) for i in range(arrow_type.num_fields)]
        return "{" + ",".join(f"{_quoted(f.name)}:{nested_text(value[f.name], f.type)}"  # type: ignore[index]
                              for f in fields) + "}"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)) or pa.types.is_decimal(arrow_type):
        return str(value)
    return _quoted(str(value))


def _nested_encoder(arrow_type: pa.DataType) -> Callable[[ResultColumn, object], bytes]:
    return lambda column, value: nested_text(value, arrow_type).encode()


def mysql_column(name: str, arrow_type: pa.DataType) -> ResultColumn:
    """The protocol column for an Arrow type; anything without a MySQL twin is sent as text."""
    for test, column_type in _SIMPLE:
        if test(arrow_type):
            if column_type is ColumnType.TINY and pa.types.is_boolean(arrow_type):
                return ResultColumn(name, column_type, text_encoder=lambda c, v: b"1" if v else b"0")
            if column_type in (ColumnType.NEWDECIMAL, ColumnType.DATE, ColumnType.DATETIME):
                return ResultColumn(name, column_type, text_encoder=_text)
            return ResultColumn(name, column_type)
    if pa.types.is_nested(arrow_type):
        return ResultColumn(name, ColumnType.VAR_STRING, text_encoder=_nested_encoder(arrow_type))
    return ResultColumn(name, ColumnType.VAR_STRING, text_encoder=_text)
