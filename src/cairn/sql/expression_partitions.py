"""CREATE TABLE's expression partitioning: `PARTITION BY date_trunc(...)`, `time_slice(...)`, `(c1, c2)`.

StarRocks makes these tables' partitions as loads bring rows (`lake.auto_partition`). Cairn supports
one time function of one DATE or DATETIME column (RANGE partitions of one period each) or a list
of columns and expressions of one column each (LIST partitions of one value tuple each; StarRocks
keeps each expression's value in a generated column, Cairn computes it as rows are routed):
`PARTITION BY k1, date_trunc('day', k2)`, `from_unixtime(k2), k1`, `substring(s, 1, 4)`. Any other
expression is refused with a clear error.

`PARTITION BY RANGE(<expression>)` with listed ranges takes the expressions `range_expression` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlglot import exp
from sqlglot.dialects.starrocks import StarRocks
from sqlglot.time import format_time

from cairn.catalog.model import AutoPartition, Column, PartitionExpression
from cairn.catalog.types import parse_type
from cairn.errors import AnalysisError, UnknownColumnError, UnsupportedError
from cairn.lake.auto_partition import DATE_TRUNC_UNITS, DATE_UNITS
from cairn.lake.partition_key import function_name
from cairn.sql.names import literal_text
from cairn.sql.refusals import not_supported

# Types a LIST partition column made by value may have (StarRocks: booleans, integers, dates, strings).
_LIST_TYPES = frozenset({"BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT", "DATE", "DATETIME",
                         "CHAR", "VARCHAR", "STRING"})
_TIME_SLICE_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "quarter", "year"})


@dataclass(frozen=True)
class ExpressionPartitioning:
    """What a PARTITION BY expression makes of a table: its partition type, columns and automatic rule."""

    partition_type: Literal["RANGE", "LIST"]
    columns: list[str]
    auto: AutoPartition
    # Per partition column, the expression of it the table is partitioned by (None: its own value;
    # for date_trunc, the expression it truncates); empty: every column by its own value.
    expressions: list[PartitionExpression | None] = field(default_factory=list)


def _analysis(message: str) -> AnalysisError:
    return AnalysisError(f"Getting analyzing error. Detail message: {message}.")


def _column(columns: list[Column], node: exp.Expression, what: str) -> Column:
    if not isinstance(node, exp.Column):
        raise not_supported(f"Partitioning by the expression '{node.sql('starrocks')}' inside {what}")
    found = next((c for c in columns if c.name.lower() == node.name.lower()), None)
    if found is None:
        raise UnknownColumnError(f"Unknown column '{node.name}' in partition description")
    return found


def _time_column(columns: list[Column], node: exp.Expression, function: str) -> Column:
    column = _column(columns, node, function)
    type_name = parse_type(column.type).name
    if type_name not in ("DATE", "DATETIME"):
        raise _analysis(f"Unsupported partition expression {function} for column {column.name} type "
                        f"{parse_type(column.type).text}")
    return column


def _date_trunc(columns: list[Column], node: exp.TimestampTrunc | exp.DateTrunc) -> ExpressionPartitioning:
    unit = node.args["unit"].name.lower()
    inner: PartitionExpression | None = None
    if isinstance(node.this, exp.Column):
        column = _time_column(columns, node.this, "date_trunc")
        key_type = parse_type(column.type).name
    else:
        # date_trunc over an expression of one column: its value must be a DATE or DATETIME.
        refused = not_supported(f"Partitioning by the expression '{node.this.sql('starrocks')}' inside date_trunc")
        try:
            name, inner = range_expression(columns, node.this)
        except UnsupportedError:
            raise refused from None
        column = next(c for c in columns if c.name == name)
        key_type = parse_type(inner.type).name
        if key_type not in ("DATE", "DATETIME"):
            raise refused
    allowed = DATE_UNITS if key_type == "DATE" else DATE_TRUNC_UNITS
    if unit not in allowed:
        raise _analysis(f"Partition function date_trunc does not support granularity {unit} for a "
                        f"{key_type} column")
    return ExpressionPartitioning("RANGE", [column.name], AutoPartition(function="date_trunc", unit=unit),
                                  [inner] if inner is not None else [])


def _time_slice(columns: list[Column], node: exp.TimeSlice) -> ExpressionPartitioning:
    column = _time_column(columns, node.this, "time_slice")
    if parse_type(column.type).name != "DATETIME":
        # StarRocks partitions by time_slice of a DATETIME column only.
        raise _analysis(f"Unsupported partition expression time_slice for column {column.name} type "
                        f"{parse_type(column.type).text}")
    unit = node.args["unit"].name.lower()
    step = node.expression
    if not isinstance(step, exp.Literal) or step.is_string or not step.name.isdigit() or int(step.name) < 1:
        raise _analysis("time_slice interval is not int literal")
    origin = node.args.get("origin")
    if origin is not None and literal_text(origin) != "0001-01-01":
        raise not_supported("time_slice with an origin in PARTITION BY")
    if node.args.get("kind") is not None and literal_text(node.args["kind"]).upper() not in ("START", "FLOOR"):
        raise _analysis("time_slice in PARTITION BY must round down (FLOOR)")
    if unit not in _TIME_SLICE_UNITS:
        raise _analysis(f"Partition function time_slice does not support granularity {unit}")
    return ExpressionPartitioning("RANGE", [column.name],
                                  AutoPartition(function="time_slice", unit=unit, step=int(step.name)))


def _value_expression(columns: list[Column], node: exp.Expression) -> ExpressionPartitioning:
    """`PARTITION BY from_unixtime(c, format)` or `substring(c, start[, length])`: LIST partitions, one
    per text the expression gives (StarRocks' generated partition column)."""
    if isinstance(node, exp.Substring):
        column, shown = _substring(columns, node, node, "substring")
        expression = PartitionExpression(sql=shown, type=column.type)
    else:
        column = _source_column(columns, node.this, node)
        if parse_type(column.type).name not in _SECONDS_TYPES:
            raise _unsupported_for("from_unixtime", column)
        fmt = node.args["format"]
        if not (isinstance(fmt, exp.Literal) and fmt.is_string):
            raise not_supported(f"Expression partitioning by '{node.sql('starrocks')}'")
        spelled = format_time(fmt.name, StarRocks.INVERSE_TIME_MAPPING, StarRocks.INVERSE_TIME_TRIE) or fmt.name
        spelled = _JAVA_STYLE_FORMATS.get(spelled, spelled)
        expression = PartitionExpression(sql=f"from_unixtime({_quoted(column.name)}, "
                                             f"{exp.Literal.string(spelled).sql('starrocks')})", type="VARCHAR(65533)")
    return ExpressionPartitioning("LIST", [column.name], AutoPartition(function="column"), [expression])


def _is_value_expression(node: exp.Expression) -> bool:
    if isinstance(node, exp.UnixToTime):
        return node.args.get("format") is not None and all(
            value is None for key, value in node.args.items() if key not in ("this", "format"))
    return isinstance(node, exp.Substring) and isinstance(node.this, exp.Column)


def expression_partitioning(columns: list[Column], prop: exp.PartitionedByProperty) -> ExpressionPartitioning:
    """Read `PARTITION BY <expressions>`; AnalysisError / UnsupportedError for what Cairn cannot do."""
    node = prop.this
    items = list(node.expressions) if isinstance(node, (exp.Schema, exp.Tuple)) else [node]
    if len(items) == 1 and _is_value_expression(items[0]):
        return _value_expression(columns, items[0])
    if len(items) == 1 and isinstance(items[0], (exp.TimestampTrunc, exp.DateTrunc)):
        return _date_trunc(columns, items[0])
    if len(items) == 1 and isinstance(items[0], exp.TimeSlice):
        return _time_slice(columns, items[0])
    if len(items) == 1 and isinstance(items[0], exp.Anonymous) and items[0].name.lower() == "str2date":
        # StarRocks takes str2date alone only as a RANGE expression (range_expression).
        raise _analysis("Only support date_trunc and time_slice as partition expression")
    names: list[str] = []
    expressions: list[PartitionExpression | None] = []
    for item in items:
        if isinstance(item, exp.Column):
            column = _column(columns, item, "PARTITION BY")
            if any(n == column.name and e is None for n, e in zip(names, expressions)):
                raise _analysis(f"Duplicated partition column {column.name}")
            type_name = parse_type(column.type).name
            if type_name not in _LIST_TYPES:
                raise _analysis(f"Invalid data type of partition column '{column.name}': "
                                f"'{parse_type(column.type).text.lower()}'")
            names.append(column.name)
            expressions.append(None)
        else:
            name, expression = _list_key(columns, item)
            names.append(name)
            expressions.append(expression)
    return ExpressionPartitioning("LIST", names, AutoPartition(function="column"),
                                  expressions if any(e is not None for e in expressions) else [])


def _list_key(columns: list[Column], node: exp.Expression) -> tuple[str, PartitionExpression]:
    """One expression among the keys of a LIST expression partitioning (StarRocks keeps its value in a
    generated column): its column and the expression. Cairn computes date_trunc of a DATE or DATETIME
    (or of an expression `range_expression` reads), `mod(c, n)` of an integer column, and the
    expressions a table may be partitioned by alone (`from_unixtime`, `substring`, `str2date`, ...)."""
    if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        found = _date_trunc(columns, node)
        unit = found.auto.unit
        if found.expressions and found.expressions[0] is not None:
            inner = found.expressions[0]
            return found.columns[0], PartitionExpression(sql=f"date_trunc('{unit}', {inner.sql})", type=inner.type)
        column = next(c for c in columns if c.name == found.columns[0])
        return column.name, PartitionExpression(sql=f"date_trunc('{unit}', {_quoted(column.name)})",
                                                type=parse_type(column.type).name)
    if _is_value_expression(node):
        found = _value_expression(columns, node)
        assert found.expressions and found.expressions[0] is not None
        return found.columns[0], found.expressions[0]
    if isinstance(node, exp.Mod) and isinstance(node.this, exp.Column):
        column = _source_column(columns, node.this, node)
        divisor = node.expression
        if parse_type(column.type).name not in _INTEGER_TYPES or not (
                isinstance(divisor, exp.Literal) and not divisor.is_string and divisor.name.isdigit()
                and int(divisor.name) > 0):
            raise not_supported(f"Partitioning by the expression '{node.sql('starrocks')}'")
        return column.name, PartitionExpression(sql=f"mod({_quoted(column.name)}, {int(divisor.name)})",
                                                type=parse_type(column.type).text)
    return range_expression(columns, node)


# The formats from_unixtime also takes in Java's spelling (StarRocks' TimestampFunctions); any other text
# without `%` directives is literal text, as in date_format.
_JAVA_STYLE_FORMATS = {"yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%i:%s", "yyyy-MM-dd": "%Y-%m-%d", "yyyyMMdd": "%Y%m%d"}
# Integer types a column holding seconds (from_unixtime) may have; milliseconds need a BIGINT.
_SECONDS_TYPES = frozenset({"TINYINT", "SMALLINT", "INT", "BIGINT"})
_INTEGER_TYPES = frozenset({"TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT"})
# str2date's format must name a whole date for its value to be one (StarRocks: "a strict DATE").
_DATE_FIELDS = (("%Y", "%y"), ("%m", "%c"), ("%d", "%e"))


def _quoted(name: str) -> str:
    return name if name.isidentifier() else f"`{name}`"


def _unsupported_for(function: str, column: Column) -> AnalysisError:
    return _analysis(f"Unsupported partition expression {function} for column {column.name} type "
                     f"{parse_type(column.type).text}")


def _source_column(columns: list[Column], node: exp.Expression, whole: exp.Expression) -> Column:
    if not isinstance(node, exp.Column):
        raise not_supported(f"Partitioning by the expression '{whole.sql('starrocks')}'")
    found = next((c for c in columns if c.name.lower() == node.name.lower()), None)
    if found is None:
        raise UnknownColumnError(f"Unknown column '{node.name}' in partition description")
    return found


def _substring(columns: list[Column], node: exp.Substring, whole: exp.Expression, spelled: str) -> tuple[Column, str]:
    column = _source_column(columns, node.this, whole)
    if not parse_type(column.type).is_string:
        raise _unsupported_for(spelled, column)
    pieces = [node.args["start"]] + ([node.args["length"]] if node.args.get("length") is not None else [])
    if not all(isinstance(p, exp.Literal) and not p.is_string for p in pieces):
        raise not_supported(f"Partitioning by the expression '{whole.sql('starrocks')}'")
    shown = ", ".join([_quoted(column.name)] + [p.name for p in pieces])
    return column, f"{spelled}({shown})"


def _string_argument(columns: list[Column], node: exp.Expression, whole: exp.Expression,
                     function: str) -> tuple[Column, str]:
    """A string column, or `CAST(column AS <string type>)`, as str2date's text: the column and how the
    argument is spelled."""
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Column):
        column = _source_column(columns, node.this, whole)
        target = parse_type(node.to.sql("starrocks"))
        if not target.is_string:
            raise not_supported(f"Partitioning by the expression '{whole.sql('starrocks')}'")
        return column, f"cast({_quoted(column.name)} as {target.text.lower()})"
    column = _source_column(columns, node, whole)
    if not parse_type(column.type).is_string:
        raise _unsupported_for(function, column)
    return column, _quoted(column.name)


def range_expression(columns: list[Column], node: exp.Expression) -> tuple[str, PartitionExpression]:
    """Read the expression of `PARTITION BY RANGE(<expression>)`: its column and what the table keeps
    of it. Cairn computes `from_unixtime(c)`, `from_unixtime_ms(c)`, `str2date(c, fmt)` and
    `CAST(substring(c, ...) AS <integer type>)` (lake.partition_key); anything else is refused."""
    name = function_name(node)
    if name in ("from_unixtime", "from_unixtime_ms"):
        arguments = [node.this] if isinstance(node, exp.UnixToTime) else list(node.expressions)
        if len(arguments) != 1 or (isinstance(node, exp.UnixToTime) and node.args.get("format") is not None):
            raise not_supported(f"Partitioning by the expression '{node.sql('starrocks')}'")
        column = _source_column(columns, arguments[0], node)
        allowed = _SECONDS_TYPES if name == "from_unixtime" else frozenset({"BIGINT"})
        if parse_type(column.type).name not in allowed:
            raise _unsupported_for(name, column)
        return column.name, PartitionExpression(sql=f"{name}({_quoted(column.name)})", type="DATETIME")
    if (isinstance(node, exp.Anonymous) and name == "str2date" and len(node.expressions) == 2) or isinstance(
            node, exp.StrToDate):
        text, fmt = (node.this, node.args["format"]) if isinstance(node, exp.StrToDate) else node.expressions
        # sqlglot reads str_to_date's format into its own spelling; StarRocks' is shown and kept.
        shown_format = exp.Literal.string(
            format_time(fmt.name, StarRocks.INVERSE_TIME_MAPPING, StarRocks.INVERSE_TIME_TRIE) or fmt.name
            if isinstance(node, exp.StrToDate) else fmt.name)
        column, argument = _string_argument(columns, text, node, name)
        if not (isinstance(fmt, exp.Literal) and fmt.is_string) or not all(
                any(field in shown_format.name for field in fields) for fields in _DATE_FIELDS):
            raise _analysis("partition function check fail, only supports the result of the function "
                            "str2date(VARCHAR str, VARCHAR format) as a strict DATE type")
        return column.name, PartitionExpression(sql=f"{name}({argument}, {shown_format.sql('starrocks')})",
                                                   type="DATE")
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Substring):
        target = parse_type(node.to.sql("starrocks"))
        if target.name not in _INTEGER_TYPES:
            raise not_supported(f"Partitioning by the expression '{node.sql('starrocks')}'")
        column, shown = _substring(columns, node.this, node, "substring")
        return column.name, PartitionExpression(sql=f"cast({shown} as {target.text.lower()})", type=target.text)
    raise not_supported(f"Partitioning by the expression '{node.sql('starrocks')}'")
