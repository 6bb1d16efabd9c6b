"""Server-side prepared statements: their `?` placeholders and binding values to them.

Values are bound as SQL literals that sqlglot renders (quoted and escaped by construction), at
the positions where the StarRocks tokenizer found `?` tokens — a `?` inside a string, a quoted
name or a comment is never a placeholder.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from cairn.errors import CairnError, SqlSyntaxError
from cairn.server.mysql_types import CairnColumn
from cairn.sql.parser import DIALECT


class UnknownStatementError(CairnError):
    """A command names a prepared statement this connection does not have (ER_UNKNOWN_STMT_HANDLER)."""

    mysql_code, sqlstate = 1243, "HY000"


@dataclass
class PreparedStatement:
    """One COM_STMT_PREPARE: its text, placeholders and the columns a SELECT returns."""

    statement_id: int
    sql: str
    placeholders: list[Token]
    columns: list[CairnColumn]
    param_types: list[tuple[int, bool]] | None = None
    long_data: dict[int, bytearray] = field(default_factory=dict)
    cursor: AsyncIterator[bytes] | None = None

    @property
    def param_count(self) -> int:
        return len(self.placeholders)


def placeholders(sql: str) -> list[Token]:
    """The `?` tokens of `sql`, in order."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    except TokenError as exc:
        raise SqlSyntaxError(f"Getting syntax error. Detail message: {exc}") from None
    return [token for token in tokens if token.token_type == TokenType.PLACEHOLDER]


def literal(value: Any) -> exp.Expr:
    """The SQL literal for one bound value."""
    if isinstance(value, float) and not math.isfinite(value):
        return exp.cast(exp.Literal.string(str(value)), exp.DataType.Type.DOUBLE)
    if isinstance(value, decimal.Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, (datetime.date, datetime.datetime)):
        # As text, which StarRocks converts to the column's type where it is compared or stored.
        return exp.Literal.string(value.isoformat(sep=" ") if isinstance(value, datetime.datetime)
                                  else value.isoformat())
    return exp.convert(value)


def bind(statement: PreparedStatement, values: list[Any]) -> str:
    """The statement's SQL with each placeholder replaced by the literal of its value."""
    if len(values) != statement.param_count:
        raise SqlSyntaxError(f"Getting syntax error. Detail message: the statement has {statement.param_count} "
                             f"parameters but {len(values)} values were sent.")
    parts, start = [], 0
    for token, value in zip(statement.placeholders, values):
        parts.append(statement.sql[start:token.start])
        parts.append(literal(value).sql(dialect=DIALECT))
        start = token.end + 1
    parts.append(statement.sql[start:])
    return "".join(parts)
