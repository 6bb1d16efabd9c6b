"""Column types: StarRocks type names, their canonical text, and their DuckDB and Arrow forms.

Scalar types, DECIMAL in StarRocks' spellings (DECIMAL32/64/128, DECIMALV2), JSON, VARBINARY and
the nested ARRAY<T>, MAP<K,V> and STRUCT<name T, ...>. A column's type is kept in the catalog as its
canonical text (`ColumnType.text`), which `parse_type` reads back.
"""

from __future__ import annotations

import atexit
import re
import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from cairn.errors import AnalysisError, UnsupportedError

_ALIASES = {"INTEGER": "INT", "BOOL": "BOOLEAN", "TEXT": "STRING", "REAL": "FLOAT",
            "NUMERIC": "DECIMAL", "DECIMALV2": "DECIMAL", "DECIMAL32": "DECIMAL", "DECIMAL64": "DECIMAL",
            "DECIMAL128": "DECIMAL", "TIMESTAMP": "DATETIME", "INT128": "LARGEINT", "HUGEINT": "LARGEINT",
            "BINARY": "VARBINARY"}

# Largest precision of each DECIMAL spelling (StarRocks: DECIMAL32 1..9, DECIMAL64 1..18,
# DECIMAL128 and DECIMAL 1..38, DECIMALV2 1..27 with scale at most 9).
_DECIMAL_PRECISION = {"DECIMAL": 38, "NUMERIC": 38, "DECIMAL32": 9, "DECIMAL64": 18, "DECIMAL128": 38,
                      "DECIMALV2": 27}

# (precision, scale) of a DECIMAL spelling written without them.
_DECIMAL_DEFAULT = {"DECIMAL32": (9, 0), "DECIMAL64": (18, 0), "DECIMALV2": (27, 9)}

_DUCKDB = {"TINYINT": "TINYINT", "SMALLINT": "SMALLINT", "INT": "INTEGER", "BIGINT": "BIGINT",
           "LARGEINT": "HUGEINT", "FLOAT": "FLOAT", "DOUBLE": "DOUBLE", "BOOLEAN": "BOOLEAN",
           "CHAR": "VARCHAR", "VARCHAR": "VARCHAR", "STRING": "VARCHAR", "DATE": "DATE",
           "DATETIME": "TIMESTAMP", "JSON": "JSON", "VARBINARY": "BLOB"}

_ARROW = {"TINYINT": pa.int8(), "SMALLINT": pa.int16(), "INT": pa.int32(), "BIGINT": pa.int64(),
          "LARGEINT": pa.string(), "FLOAT": pa.float32(), "DOUBLE": pa.float64(),
          "BOOLEAN": pa.bool_(), "CHAR": pa.string(), "VARCHAR": pa.string(), "STRING": pa.string(),
          "DATE": pa.date32(), "DATETIME": pa.timestamp("us"), "JSON": pa.string(), "VARBINARY": pa.binary()}

# The display widths StarRocks prints for integers inside a nested type (`array<int(11)>`).
_WIDTHS = {"TINYINT": 4, "SMALLINT": 6, "INT": 11, "BIGINT": 20, "LARGEINT": 40}
_INTEGERS = frozenset(_WIDTHS)
NESTED = frozenset({"ARRAY", "MAP", "STRUCT"})

STRING_MAX = 1048576
VARBINARY_MAX = 1048576
DEFAULT_VARCHAR = 1
NESTED_VARCHAR = 65533  # a VARCHAR without a length inside ARRAY/MAP/STRUCT, as in StarRocks


@dataclass(frozen=True)
class ColumnType:
    """A parsed column type. `length` for CHAR/VARCHAR/VARBINARY; `precision`/`scale` for DECIMAL;
    `items` the element (ARRAY), key and value (MAP) or field types (STRUCT, named by `fields`)."""

    name: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    items: tuple[ColumnType, ...] = ()
    fields: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """Canonical StarRocks spelling, as SHOW CREATE TABLE and DESC print it."""
        if self.name in {"CHAR", "VARCHAR"}:
            return f"{self.name}({self.length})"
        if self.name == "VARBINARY" and self.length is not None:
            return f"VARBINARY({self.length})"
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision},{self.scale})"
        if self.name == "ARRAY":
            return f"ARRAY<{self.items[0].item_text}>"
        if self.name == "MAP":
            return f"MAP<{self.items[0].item_text},{self.items[1].item_text}>"
        if self.name == "STRUCT":
            return "STRUCT<" + ", ".join(f"{_field_text(f)} {t.item_text}" for f, t in zip(self.fields, self.items)) + ">"
        return self.name

    @property
    def item_text(self) -> str:
        """The spelling inside a nested type: integers with their display width (`INT(11)`)."""
        if self.name in _WIDTHS:
            return f"{self.name}({_WIDTHS[self.name]})"
        return self.text

    @property
    def ddl_text(self) -> str:
        """The spelling SHOW CREATE TABLE prints (StarRocks' `Column.toSql`): lower case, integers with
        their display width (`int(11)`), `decimal(10, 2)`, STRUCT field names as written."""
        if self.name in _WIDTHS:
            return f"{self.name.lower()}({_WIDTHS[self.name]})"
        if self.name == "DECIMAL":
            return f"decimal({self.precision}, {self.scale})"
        if self.name == "ARRAY":
            return f"array<{self.items[0].ddl_text}>"
        if self.name == "MAP":
            return f"map<{self.items[0].ddl_text},{self.items[1].ddl_text}>"
        if self.name == "STRUCT":
            return "struct<" + ", ".join(f"{_field_text(f)} {t.ddl_text}" for f, t in zip(self.fields, self.items)) + ">"
        return self.text.lower()

    @property
    def duckdb(self) -> str:
        """The DuckDB type a value of this column has while a query runs."""
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision},{self.scale})"
        if self.name == "ARRAY":
            return f"{self.items[0].duckdb}[]"
        if self.name == "MAP":
            return f"MAP({self.items[0].duckdb}, {self.items[1].duckdb})"
        if self.name == "STRUCT":
            return "STRUCT(" + ", ".join(f"{_duckdb_name(f)} {t.duckdb}" for f, t in zip(self.fields, self.items)) + ")"
        return _DUCKDB[self.name]

    @property
    def storage_duckdb(self) -> str:
        """The DuckDB type this column is written to Parquet as: its query type, except that LARGEINT
        (128-bit, which no Parquet type holds whole) is kept as its decimal text, nested or not."""
        if self.name == "LARGEINT":
            return "VARCHAR"
        if self.name == "ARRAY":
            return f"{self.items[0].storage_duckdb}[]"
        if self.name == "MAP":
            return f"MAP({self.items[0].storage_duckdb}, {self.items[1].storage_duckdb})"
        if self.name == "STRUCT":
            return "STRUCT(" + ", ".join(f"{_duckdb_name(f)} {t.storage_duckdb}"
                                         for f, t in zip(self.fields, self.items)) + ")"
        return self.duckdb

    @property
    def arrow(self) -> pa.DataType:
        """The Arrow (and so Parquet) type this column is stored as."""
        if self.name == "DECIMAL":
            return pa.decimal128(self.precision or 10, self.scale or 0)
        if self.name == "ARRAY":
            return pa.list_(self.items[0].arrow)
        if self.name == "MAP":
            return pa.map_(self.items[0].arrow, self.items[1].arrow)
        if self.name == "STRUCT":
            return pa.struct([pa.field(f, t.arrow) for f, t in zip(self.fields, self.items)])
        return _ARROW[self.name]

    @property
    def is_integer(self) -> bool:
        """TINYINT, SMALLINT, INT, BIGINT or LARGEINT."""
        return self.name in _INTEGERS

    @property
    def is_string(self) -> bool:
        return self.name in {"CHAR", "VARCHAR", "STRING"}

    @property
    def is_nested(self) -> bool:
        """ARRAY, MAP or STRUCT."""
        return self.name in NESTED

    def contains(self, names: frozenset[str]) -> bool:
        """Whether this type, or any type nested in it, is one of `names`."""
        return self.name in names or any(t.contains(names) for t in self.items)

    @property
    def max_length(self) -> int | None:
        """Longest value in bytes for a string column (StarRocks counts bytes), else None."""
        if self.name in {"CHAR", "VARCHAR"}:
            return self.length
        if self.name == "STRING":
            return STRING_MAX
        if self.name == "VARBINARY":
            return self.length or VARBINARY_MAX
        return None


class JsonText(pa.ExtensionType):  # type: ignore[misc]  # pyarrow ships no types
    """A JSON result column: text in Arrow, marked so that the MySQL protocol prints each value as
    StarRocks does (keys sorted, `", "` and `": "` between items)."""

    def __init__(self) -> None:
        super().__init__(pa.string(), "cairn.json")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> JsonText:
        return cls()


JSON_TEXT = JsonText()


# Field metadata that marks a JSON value inside an ARRAY, MAP or STRUCT result (Arrow carries it as text).
JSON_FIELD_METADATA = {b"cairn.type": b"json"}


def mark_json(table: pa.Table, duckdb_types: list[str]) -> pa.Table:
    """`table` with each top-level column DuckDB typed JSON given the `JsonText` type, and each JSON
    inside a nested column's type marked with `JSON_FIELD_METADATA` (the data is not copied)."""
    for index, duckdb_type in enumerate(duckdb_types):
        if "JSON" not in duckdb_type.upper() or index >= table.num_columns:
            continue
        name = table.field(index).name
        if duckdb_type.upper() == "JSON":
            chunks = [pa.ExtensionArray.from_storage(JSON_TEXT, chunk.cast(pa.string()))
                      for chunk in table.column(index).chunks]
            table = table.set_column(index, pa.field(name, JSON_TEXT), pa.chunked_array(chunks, type=JSON_TEXT))
            continue
        try:
            marked = _marked(table.field(index).type, exp.DataType.build(duckdb_type, dialect="duckdb"))
        except (ValueError, KeyError, TypeError, AttributeError):
            marked = None
        if marked is not None:
            column = pa.chunked_array([chunk.view(marked) for chunk in table.column(index).chunks], type=marked)
            table = table.set_column(index, pa.field(name, marked), column)
    return table


def _marked_field(field: pa.Field, kind: exp.DataType) -> pa.Field | None:
    if kind.this == exp.DataType.Type.JSON and pa.types.is_string(field.type):
        return field.with_metadata(JSON_FIELD_METADATA)
    marked = _marked(field.type, kind)
    return None if marked is None else field.with_type(marked)


def _marked(arrow_type: pa.DataType, kind: exp.DataType) -> pa.DataType | None:
    """`arrow_type` with the JSON values inside it marked, or None when it holds none."""
    items = [e for e in kind.expressions if isinstance(e, (exp.DataType, exp.ColumnDef))]
    if pa.types.is_list(arrow_type) and len(items) == 1 and isinstance(items[0], exp.DataType):
        field = _marked_field(arrow_type.value_field, items[0])
        return None if field is None else pa.list_(field)
    if pa.types.is_map(arrow_type) and len(items) == 2 and isinstance(items[1], exp.DataType):
        field = _marked_field(arrow_type.item_field, items[1])
        return None if field is None else pa.map_(arrow_type.key_field, field)
    if pa.types.is_struct(arrow_type) and len(items) == arrow_type.num_fields:
        fields = [arrow_type.field(i) for i in range(arrow_type.num_fields)]
        marked = [_marked_field(f, d.args["kind"]) if isinstance(d, exp.ColumnDef) and
                  isinstance(d.args.get("kind"), exp.DataType) else None for f, d in zip(fields, items)]
        if all(m is None for m in marked):
            return None
        return pa.struct([m if m is not None else f for f, m in zip(fields, marked)])
    return None


def _field_text(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else "`" + name.replace("`", "``") + "`"


def _duckdb_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_TOKEN = re.compile(r"\s*(?:(`(?:[^`]|``)*`)|([A-Za-z_][A-Za-z0-9_]*)|(\d+)|([<>(),:]))")


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise AnalysisError(f"Unsupported type '{text}'")
        tokens.append(match.group(match.lastindex or 0))
        pos = match.end()
    return tokens


class _TypeReader:
    """Recursive descent over a type's tokens: `name[(n[,m])]`, `ARRAY<T>`, `MAP<K,V>`,
    `STRUCT<name T, ...>`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def take(self, wanted: str | None = None) -> str:
        token = self.peek()
        if token == "" or (wanted is not None and token != wanted):
            raise AnalysisError(f"Unsupported type '{self.text}'")
        self.pos += 1
        return token

    def read(self, nested: bool) -> ColumnType:
        word = self.take()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", word):
            raise AnalysisError(f"Unsupported type '{self.text}'")
        spelled = word.upper()
        if spelled in NESTED:
            return self._nested(spelled)
        numbers: list[int] = []
        if self.peek() == "(":
            self.take()
            numbers.append(self._number())
            if self.peek() == ",":
                self.take()
                numbers.append(self._number())
            self.take(")")
        return _scalar(spelled, numbers, nested, self.text)

    def _number(self) -> int:
        token = self.take()
        if not token.isdigit():
            raise AnalysisError(f"Unsupported type '{self.text}'")
        return int(token)

    def _nested(self, name: str) -> ColumnType:
        self.take("<")
        if name == "ARRAY":
            items: tuple[ColumnType, ...] = (self.read(True),)
            fields: tuple[str, ...] = ()
        elif name == "MAP":
            key = self.read(True)
            self.take(",")
            items, fields = (key, self.read(True)), ()
            if key.is_nested or key.name == "JSON":
                raise AnalysisError(f"Invalid map.key's type: {key.text.lower()}, which should be base types")
        else:
            names, types = [], []
            while True:
                field = self.take()
                if field.startswith("`"):
                    field = field[1:-1].replace("``", "`")
                if self.peek() == ":":
                    self.take()
                names.append(field)
                types.append(self.read(True))
                if self.peek() != ",":
                    break
                self.take(",")
            if len({n.lower() for n in names}) != len(names):
                raise AnalysisError(f"Duplicate field name in '{self.text}'")
            items, fields = tuple(types), tuple(names)
        self.take(">")
        return ColumnType(name, items=items, fields=fields)


def _scalar(spelled: str, numbers: list[int], nested: bool, text: str) -> ColumnType:
    name = _ALIASES.get(spelled, spelled)
    first = numbers[0] if numbers else None
    second = numbers[1] if len(numbers) > 1 else None
    if name in {"CHAR", "VARCHAR"}:
        default = DEFAULT_VARCHAR if name == "CHAR" else (NESTED_VARCHAR if nested else STRING_MAX)
        length = first if first is not None else default
        limit = 255 if name == "CHAR" else STRING_MAX
        if not 1 <= length <= limit or second is not None:
            raise AnalysisError(f"{name} length must be between 1 and {limit}, got {length}")
        return ColumnType(name, length=length)
    if name == "DECIMAL":
        return _decimal(spelled, first, second)
    if name == "VARBINARY":
        if second is not None or (first is not None and not 1 <= first <= VARBINARY_MAX):
            raise AnalysisError(f"VARBINARY length must be between 1 and {VARBINARY_MAX}, got {first}")
        return ColumnType(name, length=first)
    if name == "TIME":  # StarRocks has TIME values but no TIME column type
        raise AnalysisError("Getting analyzing error. Detail message: Type TIME is not supported as a column type.")
    if name not in _DUCKDB:
        raise AnalysisError(f"Unsupported type '{text}'")
    if numbers and (name not in _INTEGERS or second is not None):
        raise AnalysisError(f"Type {name} takes no parameters")
    return ColumnType(name)


def _decimal(spelled: str, first: int | None, second: int | None) -> ColumnType:
    limit = _DECIMAL_PRECISION.get(spelled, 38)
    precision = first if first is not None else _DECIMAL_DEFAULT.get(spelled, (10, 0))[0]
    scale = second if second is not None else (_DECIMAL_DEFAULT.get(spelled, (10, 0))[1] if first is None else 0)
    if precision > 38 and spelled in {"DECIMAL", "NUMERIC"} and precision <= 76:
        raise UnsupportedError(f"Getting analyzing error. Detail message: DECIMAL({precision},{scale}): a precision "
                               "above 38 (DECIMAL256) is not supported yet.")
    if not 1 <= precision <= limit or not 0 <= scale <= precision or (spelled == "DECIMALV2" and scale > 9):
        shown = spelled if spelled != "NUMERIC" else "DECIMAL"
        raise AnalysisError(f"Getting analyzing error. Detail message: {shown}({precision},{scale}): precision "
                            f"must be 1..{limit} and scale 0..precision"
                            + (" (at most 9)" if spelled == "DECIMALV2" else "") + ".")
    return ColumnType("DECIMAL", precision=precision, scale=scale)


def parse_type(text: str) -> ColumnType:
    """Parse a StarRocks type name such as `VARCHAR(32)`, `DECIMAL(10, 2)`, `ARRAY<INT>`,
    `MAP<INT,VARCHAR(10)>` or `STRUCT<a INT, b JSON>`.

    Raises AnalysisError for an unknown type or out-of-range parameters.
    """
    reader = _TypeReader(text)
    column_type = reader.read(False)
    if reader.peek() != "":
        raise AnalysisError(f"Unsupported type '{text}'")
    return column_type


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
    if name is not None:
        return parse_type(name)
    if text == "JSON":
        return ColumnType("JSON")
    if text == "BLOB":
        return ColumnType("VARBINARY")
    try:
        kind = exp.DataType.build(duckdb_type, dialect="duckdb")
        return parse_type(_starrocks_text(kind)) if kind.this in _NESTED_SQLGLOT else None
    except (AnalysisError, ValueError, KeyError, TypeError, AttributeError):
        return None


_NESTED_SQLGLOT = {exp.DataType.Type.ARRAY, exp.DataType.Type.LIST, exp.DataType.Type.MAP, exp.DataType.Type.STRUCT}


def _starrocks_text(kind: exp.DataType) -> str:
    """A DuckDB result type (parsed by sqlglot) in StarRocks' spelling, for `parse_type`."""
    items = [e for e in kind.expressions]
    if kind.this in (exp.DataType.Type.ARRAY, exp.DataType.Type.LIST):
        return f"ARRAY<{_starrocks_text(items[0])}>"
    if kind.this == exp.DataType.Type.MAP:
        return f"MAP<{_starrocks_text(items[0])},{_starrocks_text(items[1])}>"
    if kind.this == exp.DataType.Type.STRUCT:
        parts = []
        for item in items:
            if not isinstance(item, exp.ColumnDef) or not isinstance(item.args.get("kind"), exp.DataType):
                raise AnalysisError("Unsupported type")
            parts.append(f"{_field_text(item.name)} {_starrocks_text(item.args['kind'])}")
        return "STRUCT<" + ", ".join(parts) + ">"
    return kind.sql(dialect="starrocks")
