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
        subquery = exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True),
                                                                columns=columns))
        node.replace(subquery)
        if not given:
            push_filters(catalog, view, subquery)


# The conditions worth pushing into a view: what partition and tablet pruning understand.
_PUSHABLE = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between)
# What such a condition may be made of besides the view's columns: constants only.
_CONSTANT_PARTS = (exp.Literal, exp.Cast, exp.DataType, exp.Neg, exp.Paren, exp.Tuple, exp.Boolean, exp.Identifier,
                   exp.Var, exp.DataTypeParam)


def _passthrough(catalog: CatalogView, view: View, body: exp.Select) -> dict[str, exp.Column]:
    """View column name (lower case) → the table column the view's query passes through unchanged."""
    source = body.args.get("from_") or body.args.get("from")
    table = source.this if isinstance(source, exp.From) else None
    if not isinstance(table, exp.Table) or isinstance(table.this, exp.Func):
        return {}
    outputs: list[exp.Expr] = []
    for item in body.expressions:
        if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
            with catalog.lock:
                db = catalog.state.databases.get(table.db)
                found = None if db is None else db.tables.get(table.name)
                names = [] if found is None else [c.name for c in found.columns]
            if not names:
                return {}
            outputs.extend(exp.column(name, quoted=True) for name in names)
        else:
            outputs.append(item)
    if len(outputs) != len(view.columns):
        return {}  # the table changed since the view was made: nothing is pushed
    mapping = {}
    for column, output in zip(view.columns, outputs):
        inner = output.this if isinstance(output, exp.Alias) else output
        if isinstance(inner, exp.Column) and not isinstance(inner.this, exp.Star):
            mapping[column.name.lower()] = inner
    return mapping


def push_filters(catalog: CatalogView, view: View, subquery: exp.Subquery) -> None:
    """Copy the outer WHERE's simple conditions on a view's pass-through columns into the view's
    query, so that partition and tablet pruning see them (the outer WHERE keeps them too).

    Only where it cannot change the answer: the view's query reads one table without grouping,
    DISTINCT, windows, aggregates or LIMIT, the view is the outer query's only source, and the
    condition compares a column with constants.
    """
    body, outer = subquery.this, subquery.parent_select
    if not isinstance(body, exp.Select) or not isinstance(subquery.parent, exp.From) or outer is None:
        return
    if outer.args.get("joins") or outer.args.get("where") is None:
        return
    if any(body.args.get(k) for k in ("joins", "group", "having", "distinct", "limit", "offset", "qualify")) \
            or body.find(exp.Window, exp.AggFunc, exp.Subquery, exp.Unnest, exp.Lateral) is not None:
        return
    mapping = _passthrough(catalog, view, body)
    alias = subquery.alias_or_name.lower()
    for condition in outer.args["where"].this.flatten() if isinstance(outer.args["where"].this, exp.And) \
            else [outer.args["where"].this]:
        if not isinstance(condition, _PUSHABLE):
            continue
        columns = list(condition.find_all(exp.Column))
        parts = [n for n in condition.walk() if n is not condition and not isinstance(n, exp.Column)
                 and not (isinstance(n, exp.Identifier) and isinstance(n.parent, exp.Column))]
        if not columns or any(not isinstance(p, _CONSTANT_PARTS) for p in parts):
            continue
        if any(c.name.lower() not in mapping or (c.table and c.table.lower() != alias) for c in columns):
            continue
        pushed = condition.copy()
        for column in list(pushed.find_all(exp.Column)):
            column.replace(mapping[column.name.lower()].copy())
        body.where(pushed, copy=False)
