"""Quoting for the DuckDB statements Cairn generates internally (never for user SQL)."""

from __future__ import annotations


def ident(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def string_list(values: list[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"
