"""Logical views at query time: every reference to a view becomes the view's stored query.

A view is expanded before anything else touches the statement's tree, so its query gets the same
StarRocks semantics, session values and binding as the statement around it, and the binder refuses
a table function inside a view as it does anywhere (invariant 7).

Privileges follow StarRocks: the statement's own check asks SELECT on the view (it names the view
as it names a table); a view's query is then read with the view's rights, except for a SECURITY
INVOKER view, whose every table and view the caller must hold SELECT on too.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from cairn.auth.privileges import require
from cairn.catalog.model import View
from cairn.catalog.view import CatalogView
from cairn.errors import AnalysisError
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables

DIALECT = "starrocks"
# Views over views nest at most this deep; a deeper chain is a view that reads itself.
MAX_DEPTH = 32


def find_view(catalog: CatalogView, database: str | None, name: str) -> View | None:
    """The view `database`.`name`, or None when there is no such view (a table, or nothing)."""
    if not database:
        return None
    with catalog.lock:
        db = catalog.state.databases.get(database)
        view = None if db is None else db.views.get(name)
        return None if view is None else view.model_copy(deep=True)


def parse_query(text: str) -> exp.Query:
    """A view's stored query as a tree. Raises AnalysisError when the text is not a query."""
    try:
        tree = sqlglot.parse_one(text, read=DIALECT)
    except ParseError:
        raise AnalysisError("Getting analyzing error. Detail message: the view's query cannot be parsed.") from None
    if isinstance(tree, exp.Subquery):
        tree = tree.unnest()
    if not isinstance(tree, exp.Query):
        raise AnalysisError("A view is defined by a query")
    return tree


def _own_tables(tree: exp.Expr) -> list[exp.Table]:
    """The table references of `tree` that name a table or view (not a CTE or a table function)."""
    ctes = {cte.alias.lower() for cte in tree.find_all(exp.CTE)}
    return [node for node in tree.find_all(exp.Table)
            if node.name and not isinstance(node.this, exp.Func) and (node.db or node.name.lower() not in ctes)]


def qualify(tree: exp.Expr, database: str) -> exp.Expr:
    """`tree` with every unqualified table reference placed in `database` (a view's query reads the
    tables of the view's database, whatever the caller's current database is)."""
    for node in _own_tables(tree):
        if not node.db:
            node.set("db", exp.to_identifier(database))
    return tree


def _check_invoker(ctx: QueryContext, catalog: CatalogView, virtual: VirtualTables, body: exp.Expr) -> None:
    for node in _own_tables(body):
        if virtual.find(node.db, node.name) is None:
            require(catalog.state, ctx.user, "SELECT", node.db, node.name)


def expand_views(ctx: QueryContext, catalog: CatalogView, virtual: VirtualTables, tree: exp.Expr,
                 depth: int = 0) -> None:
    """Replace, in place, every view `tree` reads by its query as a subquery under the view's name.

    Raises PrivilegeError when the caller lacks SELECT on what a SECURITY INVOKER view reads, and
    AnalysisError for a view that (through others) reads itself.
    """
    for node in _own_tables(tree):
        database = node.db or ctx.database
        if virtual.find(database, node.name) is not None:
            continue
        view = find_view(catalog, database, node.name)
        if view is None or database is None:
            continue
        if depth >= MAX_DEPTH:
            raise AnalysisError(f"Getting analyzing error. Detail message: view '{view.name}' reads itself.")
        body = qualify(parse_query(view.definition), database)
        if view.security == "INVOKER":
            _check_invoker(ctx, catalog, virtual, body)
        expand_views(ctx, catalog, virtual, body, depth + 1)
        alias = node.alias or node.name
        given = node.args["alias"].columns if isinstance(node.args.get("alias"), exp.TableAlias) else []
        columns = given or ([exp.to_identifier(c.name, quoted=True) for c in view.columns]
                            if view.explicit_columns else [])
        for column in tree.find_all(exp.Column):
            if column.args.get("db") is not None and column.args["db"].name.lower() == database.lower() \
                    and column.table.lower() == node.name.lower():
                column.set("db", None)
                column.set("table", exp.to_identifier(alias, quoted=True))
        node.replace(exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True),
                                                                   columns=columns)))
