"""Builders for the DuckDB statements Cairn generates internally (never for user SQL): every
identifier, literal and call is a sqlglot expression, so quoting and escaping come from the
generator, never from string formatting. `sql` renders a tree for DuckDB."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

DUCKDB = "duckdb"


def sql(tree: exp.Expr) -> str:
    """The DuckDB text of an expression tree."""
    return tree.sql(dialect=DUCKDB)


def identifier(name: str) -> exp.Identifier:
    """A quoted identifier."""
    return exp.to_identifier(name, quoted=True)


def column(name: str) -> exp.Column:
    """A reference to a column, quoted."""
    return exp.column(identifier(name))


def table(name: str) -> exp.Table:
    """A reference to a table or view, quoted."""
    return exp.Table(this=identifier(name))


def string(value: str) -> exp.Literal:
    """A string literal."""
    return exp.Literal.string(value)


def number(value: int) -> exp.Expr:
    """An integer literal (a negated one below zero)."""
    return exp.Literal.number(value)


def data_type(duckdb_type: str) -> exp.DataType:
    """A DuckDB type (the spelling `ColumnType.duckdb` gives) as a sqlglot type."""
    return exp.DataType.build(duckdb_type, dialect=DUCKDB)


def cast(value: exp.Expr, duckdb_type: str) -> exp.Cast:
    """`CAST(value AS duckdb_type)`."""
    return exp.Cast(this=value, to=data_type(duckdb_type))


def try_cast(value: exp.Expr, duckdb_type: str) -> exp.TryCast:
    """`TRY_CAST(value AS duckdb_type)`: NULL where the value does not convert."""
    return exp.TryCast(this=value, to=data_type(duckdb_type))


def call(function: str, *arguments: exp.Expr) -> exp.Anonymous:
    """A call of the DuckDB function named `function`, spelled exactly as given."""
    return exp.Anonymous(this=function, expressions=list(arguments))


def string_list(values: Sequence[str]) -> exp.Array:
    """A list of string literals, e.g. the files `read_parquet` reads."""
    return exp.Array(expressions=[string(v) for v in values])


def read_parquet(files: Sequence[object]) -> exp.Anonymous:
    """`read_parquet([...])` over `files` (paths), in order."""
    return call("read_parquet", string_list([str(f) for f in files]))


def aliased(value: exp.Expr, name: str) -> exp.Expr:
    """`value AS "name"`."""
    return exp.alias_(value, identifier(name))


def case(branches: Sequence[tuple[exp.Expr, exp.Expr]], default: exp.Expr) -> exp.Expr:
    """`CASE WHEN test THEN value ... ELSE default END`, or `default` when there are no branches."""
    if not branches:
        return default
    return exp.Case(ifs=[exp.If(this=test, true=value) for test, value in branches], default=default)


def create_temp_view(name: str, query: exp.Expr) -> exp.Create:
    """`CREATE TEMP VIEW "name" AS query`."""
    return exp.Create(this=table(name), kind="VIEW", expression=query,
                      properties=exp.Properties(expressions=[exp.TemporaryProperty()]))


def copy_to(query: exp.Query, path: str, options: Sequence[tuple[str, exp.Expr | None]]) -> exp.Copy:
    """`COPY (query) TO 'path' (OPTION value, ...)`; an option with no value is a bare flag."""
    params = [exp.CopyParameter(this=exp.var(name), expression=value) for name, value in options]
    return exp.Copy(this=query.subquery(), kind=False, files=[string(path)], params=params)
