"""Binding: which tables a statement reads. The one function both the privilege check and the
execution use, so that what is checked is what runs.

A table-valued function call in user SQL is refused here, for every user, unless Cairn defines it:
the engine's own readers (`read_text`, `read_parquet`, `read_csv`, `glob`, ...) would reach the
FE's files, other tables' objects and URLs behind every privilege (DESIGN invariant 7).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from cairn.errors import TableFunctionError
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables

# StarRocks' table functions that Cairn runs: TABLE(generate_series(a, b[, step])) and unnest(array).
CAIRN_TABLE_FUNCTIONS = frozenset({"generate_series", "unnest"})


@dataclass(frozen=True)
class TableRead:
    """One table reference of a statement: `database` is the qualifier or the current database."""

    node: exp.Table
    database: str | None
    name: str
    virtual: bool


def _function_name(function: exp.Expr) -> str:
    if isinstance(function, exp.Anonymous):
        return function.name.lower()
    if isinstance(function, exp.Func):
        return function.sql_name().lower()
    return function.sql().lower()


def check_table_functions(tree: exp.Expr) -> None:
    """Raise TableFunctionError for a table function in `tree` that Cairn does not define."""
    calls = [node.this for node in tree.find_all(exp.Table) if isinstance(node.this, exp.Func)]
    calls += [node.this for node in tree.find_all(exp.TableFromRows)]
    for call in calls:
        name = _function_name(call)
        if name not in CAIRN_TABLE_FUNCTIONS:
            raise TableFunctionError(f"Getting analyzing error. Detail message: Unknown table function '{name}'.")


def is_dual(node: exp.Table) -> bool:
    """True for StarRocks' (and MySQL's) DUAL, the keyword that names no table: `SELECT 1 FROM dual`."""
    identifier = node.this
    return (isinstance(identifier, exp.Identifier) and not identifier.quoted and not node.db
            and identifier.name.lower() == "dual" and not node.args.get("joins"))


def remove_dual(tree: exp.Expr) -> None:
    """Drop every `FROM dual` of `tree`: a SELECT from DUAL reads no table."""
    for select in list(tree.find_all(exp.Select)):
        source = select.args.get("from_")
        if isinstance(source, exp.From) and isinstance(source.this, exp.Table) and is_dual(source.this) \
                and not select.args.get("joins"):
            select.set("from_", None)


def tables_read(ctx: QueryContext, tree: exp.Expr, virtual_tables: VirtualTables) -> list[TableRead]:
    """Every catalog and virtual table `tree` reads, in tree order (names of its CTEs excluded).

    Raises TableFunctionError first when `tree` calls a table function Cairn does not define.
    """
    check_table_functions(tree)
    ctes = {cte.alias.lower() for cte in tree.find_all(exp.CTE)}
    found = []
    for node in tree.find_all(exp.Table):
        if not node.name or isinstance(node.this, exp.Func):
            continue
        if (not node.db and node.name.lower() in ctes) or is_dual(node):
            continue
        database = node.db or ctx.database
        found.append(TableRead(node, database, node.name, virtual_tables.find(database, node.name) is not None))
    return found
