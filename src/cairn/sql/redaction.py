"""Statements as they may be logged or quoted in an error: their secret literals masked.

What is secret is read from the parsed statement (a password of CREATE USER, ALTER USER or SET
PASSWORD; a credential property of CREATE or ALTER STORAGE VOLUME), then masked in the text in
every form it may be written in. A statement that does not parse has every string literal masked,
and one that does not even tokenize is cut at its first quote.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import TokenType

from cairn.errors import CairnError
from cairn.secrets import MASK, mask_values
from cairn.sql import extended
from cairn.sql.parser import DIALECT, Statement, parse_script
from cairn.sql.user_grammar import AlterUserStatement, CreateUserStatement, SetPasswordStatement
from cairn.storage.volume import SECRET_PROPERTIES

_QUOTES = "'\"`"


def statement_secrets(statement: Statement) -> list[str]:
    """The secret values a parsed statement carries (none for most statements)."""
    if isinstance(statement, (CreateUserStatement, AlterUserStatement, SetPasswordStatement)):
        return [statement.password]
    if isinstance(statement, (extended.CreateStorageVolumeStatement, extended.AlterStorageVolumeStatement)):
        return [v for k, v in statement.properties.items() if k in SECRET_PROPERTIES]
    return []


def _string_literals(sql: str) -> list[str] | None:
    """The value of every string literal of `sql`, or None when it does not tokenize."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    except SqlglotError:
        return None
    return [t.text for t in tokens if t.token_type == TokenType.STRING]


def _only_queries(sql: str) -> bool:
    """Whether sqlglot reads `sql` as queries only (which carry no secret)."""
    try:
        statements = sqlglot.parse(sql, read=DIALECT)
    except (SqlglotError, RecursionError):
        return False
    return bool(statements) and all(isinstance(s, exp.Query) for s in statements)


def secrets_in(sql: str) -> list[str]:
    """What must be masked wherever `sql` is quoted: its secrets, or when it does not parse, every
    string literal it holds. Empty when it holds none."""
    try:
        return [s for statement in parse_script(sql) for s in statement_secrets(statement)]
    except (CairnError, SqlglotError, RecursionError):
        if _only_queries(sql):
            return []  # refused after parsing (a group_concat separator that is a number, say): no secret
        literals = _string_literals(sql)
        if literals is None:
            cut = min((sql.find(q) for q in _QUOTES if q in sql), default=-1)
            return [sql[cut + 1:]] if cut >= 0 else []
        return [literal for literal in literals if literal]


def loggable(sql: str) -> str:
    """`sql` with the secrets it carries masked, safe to write to a log."""
    return mask_values(sql, secrets_in(sql))


__all__ = ["MASK", "loggable", "secrets_in", "statement_secrets"]
