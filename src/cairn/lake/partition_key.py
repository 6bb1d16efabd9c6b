"""The key a row's partition is chosen by when a table is partitioned by an expression of its
column (StarRocks' expression range partitions, and the expressions of expression partitioning), as a
DuckDB expression.

Cairn knows the few shapes StarRocks allows there, each computed as StarRocks computes it:
`from_unixtime(c[, format])` (the DATETIME c seconds after the epoch, UTC; with a format, its text),
`substring(c, ...)` (LIST partitions by a piece of the text), `from_unixtime_ms(c)` (c
milliseconds), `str2date(c, fmt)` / `str_to_date(c, fmt)` (the DATE the text holds, NULL when it holds
none), `CAST(substring(c, ...) AS <integer type>)` (NULL when the piece is no number), and, as one of
several LIST keys, `date_trunc(unit, c)` and `mod(c, n)`. CREATE TABLE refuses every other expression
(`sql.expression_partitions`), so what is stored is one of these.
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.dialects.starrocks import StarRocks

from cairn.lake.sqltext import call, cast, data_type, number, string

_READ = "starrocks"
# The functions whose value grows with their argument: a bound on the column bounds the key.
_MONOTONIC = frozenset({"from_unixtime", "from_unixtime_ms"})


@lru_cache(maxsize=256)
def _parsed(sql: str) -> exp.Expr:
    return sqlglot.parse_one(sql, read=_READ)


def function_name(node: exp.Expr) -> str:
    """The StarRocks name of the call `node` (lower case), as written: `from_unixtime`, `str2date`, ..."""
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.UnixToTime):
        return "from_unixtime"
    if isinstance(node, exp.StrToDate):
        return "str_to_date"
    if isinstance(node, exp.Substring):
        return "substring"
    return node.key


def _strptime_format(node: exp.Expr, converted: bool) -> exp.Expr:
    """A StarRocks date format (`%Y-%m-%d %H:%i:%s`) as DuckDB's strptime reads it (`%M` minutes, `%S`
    seconds); sqlglot converts the format of str_to_date as it reads it, that of str2date not."""
    if converted or not isinstance(node, exp.Literal):
        return node
    found = StarRocks().format_time(node)
    return found if found is not None else node


def _translate(node: exp.Expr, value: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Column):
        return value.copy()
    name = function_name(node)
    if name == "from_unixtime":
        seconds = cast(_translate(node.this, value), "BIGINT")
        moment = call("make_timestamp", exp.Mul(this=seconds, expression=number(1_000_000)))
        fmt = node.args.get("format")
        # With a format (which sqlglot reads into strftime's spelling), the text of the moment.
        return moment if fmt is None else call("strftime", moment, fmt.copy())
    if name == "from_unixtime_ms":
        millis = cast(_translate(node.expressions[0], value), "BIGINT")
        return call("make_timestamp", exp.Mul(this=millis, expression=number(1_000)))
    if name in ("str2date", "str_to_date"):
        text, fmt = (node.this, node.args["format"]) if isinstance(node, exp.StrToDate) else node.expressions
        parsed = call("try_strptime", cast(_translate(text, value), "VARCHAR"),
                      _strptime_format(fmt.copy(), converted=isinstance(node, exp.StrToDate)))
        return cast(parsed, "DATE")
    if isinstance(node, exp.Substring):
        pieces = [cast(_translate(node.this, value), "VARCHAR"), node.args["start"].copy()]
        if node.args.get("length") is not None:
            pieces.append(node.args["length"].copy())
        return call("substring", *pieces)
    if isinstance(node, exp.Cast):
        return exp.TryCast(this=_translate(node.this, value), to=data_type(node.to.sql("duckdb")))
    if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        return call("date_trunc", string(node.args["unit"].name.lower()), _translate(node.this, value))
    if isinstance(node, exp.Mod) and isinstance(node.expression, exp.Literal):
        # StarRocks' mod keeps the dividend's sign, as DuckDB's % does.
        return exp.Mod(this=_translate(node.this, value), expression=node.expression.copy())
    raise ValueError(f"not a partition expression Cairn computes: {node.sql(_READ)}")


def key_expression(sql: str, value: exp.Expr) -> exp.Expr:
    """The DuckDB expression computing the partition expression `sql` (StarRocks SQL over the one
    partition column) of a row whose partition column's value is `value`."""
    return _translate(_parsed(sql), value)


def is_monotonic(sql: str) -> bool:
    """Whether the expression grows with its column, so that a range of the column maps to a range of
    keys (pruning uses it); otherwise only the column's exact values can be mapped."""
    return function_name(_parsed(sql)) in _MONOTONIC
