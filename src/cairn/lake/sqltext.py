"""Identifiers and literals in the DuckDB statements Cairn generates internally (never for user SQL),
each built as a sqlglot expression, so quoting and escaping come from the generator, not from us."""

from __future__ import annotations

from sqlglot import exp

DUCKDB = "duckdb"


def ident(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return exp.to_identifier(name, quoted=True).sql(dialect=DUCKDB)


def literal(value: str) -> str:
    """A DuckDB string literal."""
    return exp.Literal.string(value).sql(dialect=DUCKDB)


def string_list(values: list[str]) -> str:
    """A DuckDB list of string literals, e.g. the files `read_parquet` reads."""
    return exp.Array(expressions=[exp.Literal.string(v) for v in values]).sql(dialect=DUCKDB)
