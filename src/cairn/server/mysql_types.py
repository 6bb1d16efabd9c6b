"""Arrow result columns as MySQL protocol columns, and their column-definition packets."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from mysql_mimic import ColumnType, ResultColumn
from mysql_mimic.charset import CharacterSet
from mysql_mimic.packets import make_column_definition_41
from mysql_mimic.types import ColumnDefinition, str_len

from cairn.catalog.types import JSON_FIELD_METADATA, JsonText

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

# Display widths MySQL 8 reports for each type (what JDBC's getColumnDisplaySize/getPrecision read).
_LENGTHS = {
    ColumnType.TINY: 4, ColumnType.SHORT: 6, ColumnType.LONG: 11, ColumnType.LONGLONG: 20,
    ColumnType.FLOAT: 12, ColumnType.DOUBLE: 22, ColumnType.DATE: 10, ColumnType.DATETIME: 19,
}
_NOT_FIXED_DECIMALS = 31  # MySQL's NOT_FIXED_DEC: a float or double without a declared scale
_STRING_LENGTH = 65533 * 4  # bytes of a utf8mb4 VARCHAR(65533), StarRocks' default string width
_NO_FLAGS = ColumnDefinition(0)
Encoder = Callable[[ResultColumn, Any], bytes]


@dataclass
class CairnColumn:
    """A result column with the definition details MySQL sends: width, scale, flags, charset.

    `wire` is the mysql-mimic column that encodes values (its class is compiled: no subclassing).
    """

    wire: ResultColumn
    length: int
    decimals: int = 0
    flags: ColumnDefinition = _NO_FLAGS
    charset: CharacterSet = CharacterSet.utf8mb4

    @property
    def name(self) -> str:
        return str(self.wire.name)

    def definition(self) -> bytes:
        """The ColumnDefinition41 packet for this column."""
        return bytes(make_column_definition_41(server_charset=CharacterSet.utf8mb4, name=self.wire.name,
                                         character_set=self.charset, column_length=self.length,
                                         column_type=self.wire.type, flags=self.flags, decimals=self.decimals))


def _column(name: str, column_type: ColumnType, *, length: int, decimals: int = 0, flags: ColumnDefinition = _NO_FLAGS,
            binary: bool = False, text_encoder: Encoder | None = None,
            binary_encoder: Encoder | None = None) -> CairnColumn:
    # Numbers and dates are declared with the binary character set, as MySQL does; their values
    # are ASCII text either way, so mysql-mimic encodes them as UTF-8.
    charset = CharacterSet.binary if binary else CharacterSet.utf8mb4
    wire = ResultColumn(name, column_type, text_encoder=text_encoder, binary_encoder=binary_encoder)
    return CairnColumn(wire, length, decimals, flags, charset)


def _text(column: ResultColumn, value: object) -> bytes:
    return str(value).encode()


def _float32_text(column: ResultColumn, value: object) -> bytes:
    return float32_text(value).encode() if isinstance(value, float) else _text(column, value)


def _packer(fmt: str) -> Encoder:
    packer = struct.Struct(fmt)
    return lambda column, value: packer.pack(int(value))


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nested_text(value: object, arrow_type: pa.DataType) -> str:
    """A value inside an ARRAY, MAP or STRUCT as StarRocks prints it: `["a",null]`, `{"k":1}`, `{"f":1}`.

    Strings, dates and datetimes are double-quoted (with `\\` and `"` escaped), NULL is `null`,
    booleans are 1/0, and there are no spaces.
    """
    if value is None:
        return "null"
    # Arrow gives a list for ARRAY, a list of (key, value) pairs for MAP and a dict for STRUCT.
    is_list = pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type)
    if is_list and isinstance(value, Iterable):
        return "[" + ",".join(_field_text(v, arrow_type.value_field) for v in value) + "]"
    if pa.types.is_map(arrow_type) and isinstance(value, Iterable):
        return "{" + ",".join(f"{nested_text(k, arrow_type.key_type)}:{_field_text(v, arrow_type.item_field)}"
                              for k, v in value) + "}"
    if pa.types.is_struct(arrow_type) and isinstance(value, Mapping):
        fields = [arrow_type.field(i) for i in range(arrow_type.num_fields)]
        return "{" + ",".join(f"{_quoted(f.name)}:{_field_text(value[f.name], f)}" for f in fields) + "}"
    if isinstance(value, bool):
        return "1" if value else "0"
    if pa.types.is_float32(arrow_type) and isinstance(value, float):
        return float32_text(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)) or pa.types.is_decimal(arrow_type):
        return str(value)
    return _quoted(str(value))


def _field_text(value: object, field: pa.Field) -> str:
    """A value inside a nested one; a JSON value there is single-quoted StarRocks JSON text
    (`['{"a": 1}']`), as StarRocks prints it."""
    if value is not None and field.metadata == JSON_FIELD_METADATA:
        return "'" + json_text(value) + "'"
    return nested_text(value, field.type)


def _json_number(text: str) -> float | int:
    """A JSON number with a fraction or exponent as StarRocks prints it again: a whole one
    without its `.0` (`0.000` prints `0`, test_flat_json_with_type), others as the shortest double."""
    number = float(text)
    return int(number) if number.is_integer() and abs(number) < _WHOLE_DOUBLE_LIMIT else number


# Whole doubles up to here print as integers; beyond, the exponent form is shorter and exact.
_WHOLE_DOUBLE_LIMIT = 1e15


def json_text(value: object) -> str:
    """A JSON value as StarRocks prints it: keys sorted, `", "` and `": "` between items."""
    text = str(value)
    try:
        parsed = json.loads(text, parse_float=_json_number)
    except ValueError:
        return text
    return json.dumps(parsed, sort_keys=True, ensure_ascii=False)


def float32_text(value: float) -> str:
    """A FLOAT as StarRocks prints it: the shortest text that reads back as the same 32-bit float
    (1.1, not the 1.100000023841858 its widening to a Python float gives)."""
    if not math.isfinite(value):
        return str(value)
    single = struct.unpack("<f", struct.pack("<f", value))[0]
    for digits in range(6, 10):
        text = f"{single:.{digits}g}"
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == single:
            return text
    return repr(single)


def _nested_encoders(arrow_type: pa.DataType) -> tuple[Encoder, Encoder]:
    """Text and binary-protocol encoders that print a nested value in StarRocks' notation."""
    return (lambda column, value: nested_text(value, arrow_type).encode(),
            lambda column, value: bytes(str_len(nested_text(value, arrow_type).encode())))


def mysql_column(name: str, arrow_type: pa.DataType) -> CairnColumn:
    """The protocol column for an Arrow type; anything without a MySQL twin is sent as text."""
    number = ColumnDefinition.BINARY_FLAG
    if isinstance(arrow_type, JsonText):
        return _column(name, ColumnType.VAR_STRING, length=_STRING_LENGTH,
                       text_encoder=lambda c, v: json_text(v).encode(),
                       binary_encoder=lambda c, v: bytes(str_len(json_text(v).encode())))
    if pa.types.is_boolean(arrow_type):
        return _column(name, ColumnType.TINY, length=1, flags=number, binary=True,
                           text_encoder=lambda c, v: b"1" if v else b"0", binary_encoder=_packer("<b"))
    if pa.types.is_int8(arrow_type):
        return _column(name, ColumnType.TINY, length=4, flags=number, binary=True,
                           binary_encoder=_packer("<b"))
    if pa.types.is_unsigned_integer(arrow_type):
        return _column(name, ColumnType.LONGLONG, length=20, flags=number | ColumnDefinition.UNSIGNED_FLAG,
                           binary=True, binary_encoder=_packer("<Q"))
    if pa.types.is_decimal(arrow_type):
        # Width counts the digits, the sign and the point, as MySQL does.
        return _column(name, ColumnType.NEWDECIMAL, length=arrow_type.precision + 2,
                           decimals=arrow_type.scale, flags=number, binary=True, text_encoder=_text)
    for test, column_type in _SIMPLE:
        if test(arrow_type):
            temporal = column_type in (ColumnType.DATE, ColumnType.DATETIME)
            decimals = _NOT_FIXED_DECIMALS if column_type in (ColumnType.FLOAT, ColumnType.DOUBLE) else 0
            text_encoder: Encoder | None = _text if temporal else None
            if column_type is ColumnType.FLOAT:
                text_encoder = _float32_text
            return _column(name, column_type, length=_LENGTHS[column_type], decimals=decimals,
                               flags=number, binary=True, text_encoder=text_encoder)
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return _column(name, ColumnType.BLOB, length=_STRING_LENGTH, flags=ColumnDefinition.BINARY_FLAG
                           | ColumnDefinition.BLOB_FLAG, binary=True)
    if pa.types.is_nested(arrow_type):
        text, binary = _nested_encoders(arrow_type)
        return _column(name, ColumnType.VAR_STRING, length=_STRING_LENGTH, text_encoder=text, binary_encoder=binary)
    return _column(name, ColumnType.VAR_STRING, length=_STRING_LENGTH, text_encoder=_text)


@dataclass
class StatementOutcome:
    """One statement's answer, ready for the wire: result columns and rows, or an OK's counts."""

    columns: list[CairnColumn] | None
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    affected_rows: int = 0
    warnings: int = 0
