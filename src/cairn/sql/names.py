"""Resolving the names a statement uses: `db.table`, `table` in the current database, literals."""

from __future__ import annotations

from sqlglot import exp

from cairn.catalog.model import is_temporary_key
from cairn.errors import AnalysisError
from cairn.query.context import QueryContext


def table_name(ctx: QueryContext, table: exp.Expression) -> tuple[str | None, str]:
    """(database, table) for a table reference; the database defaults to the statement's. A name
    holding a NUL character is refused: no table may take the form of a temporary table's key."""
    if isinstance(table, exp.Table):
        found = (table.db or ctx.database), table.name
    elif isinstance(table, (exp.Identifier, exp.Column)):
        found = ctx.database, table.name
    else:
        raise AnalysisError(f"Expected a table name, got '{table.sql()}'")
    check_table_name(found[1])
    return found


def check_table_name(name: str) -> None:
    """Refuse a table name no table may have (StarRocks' message)."""
    if is_temporary_key(name):
        raise AnalysisError("Getting analyzing error. Detail message: Incorrect table name.")


def literal_text(node: exp.Expression | None) -> str:
    """The text of a string or number literal (or a bare identifier)."""
    if node is None:
        return ""
    if isinstance(node, (exp.Literal, exp.Identifier, exp.Var)):
        return str(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return f"-{node.this.this}"
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    raise AnalysisError(f"Expected a literal, got '{node.sql()}'")


def properties_of(node: exp.Expression | None) -> dict[str, str]:
    """The `PROPERTIES ("k" = "v", ...)` of a statement as a dict (generic properties only)."""
    if node is None:
        return {}
    found = {}
    for prop in node.find_all(exp.Property):
        if type(prop) is exp.Property:
            key = prop.this
            found[literal_text(key) if isinstance(key, exp.Expression) else str(key)] = literal_text(prop.args.get("value"))
    return found
