"""The privilege check every statement passes before it runs.

Each statement kind names what it needs: SELECT on every table a query reads, INSERT on a load's
target, CREATE / DROP / ALTER for DDL (TRUNCATE counts as DROP), and ALL on *.* for cluster
administration (storage volumes, ADMIN, users and grants). Session statements need nothing.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from cairn.auth.privileges import require
from cairn.auth.users import ROOT
from cairn.catalog.model import CatalogState
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import virtual_table
from cairn.sql import extended

# Statements anyone may run: they change or show only the session, or show what is filtered anyway.
_FREE = (exp.Set, exp.Transaction, exp.Commit, exp.Rollback, exp.Use, exp.Show)


def _tables_read(ctx: QueryContext, tree: exp.Expression) -> list[tuple[str, str]]:
    ctes = {cte.alias.lower() for cte in tree.find_all(exp.CTE)}
    found = []
    for table in tree.find_all(exp.Table):
        if not table.name or isinstance(table.this, exp.Func) or (not table.db and table.name.lower() in ctes):
            continue
        database = table.db or ctx.database or ""
        if virtual_table(database, table.name) is None:
            found.append((database, table.name))
    return found


def _table_of(ctx: QueryContext, node: exp.Expression) -> tuple[str, str]:
    if isinstance(node, exp.Schema):
        node = node.this
    return (node.db if isinstance(node, exp.Table) and node.db else ctx.database or ""), node.name


def authorize(ctx: QueryContext, state: CatalogState, statement: Any) -> None:
    """Raise PrivilegeError when `ctx.user` may not run `statement` against the catalog `state`."""
    user = ctx.user
    if user == ROOT or isinstance(statement, _FREE):
        return
    if isinstance(statement, exp.Insert):
        database, table = _table_of(ctx, statement.this)
        require(state, user, "INSERT", database, table)
        for database, table in _tables_read(ctx, statement.expression):
            require(state, user, "SELECT", database, table)
    elif isinstance(statement, (exp.Select, exp.SetOperation)):
        for database, table in _tables_read(ctx, statement):
            require(state, user, "SELECT", database, table)
    elif isinstance(statement, exp.Describe):
        require(state, user, "SELECT", *_table_of(ctx, statement.this))
    elif isinstance(statement, exp.Create):
        if (statement.args.get("kind") or "").upper() in {"DATABASE", "SCHEMA"}:
            require(state, user, "CREATE")
        else:
            require(state, user, "CREATE", _table_of(ctx, statement.this)[0])
    elif isinstance(statement, exp.Drop):
        target = statement.this or (statement.args.get("tables") or [None])[0]
        if (statement.args.get("kind") or "").upper() in {"DATABASE", "SCHEMA"}:
            require(state, user, "DROP", target.name if target is not None else "*")
        elif target is not None:
            require(state, user, "DROP", *_table_of(ctx, target))
    elif isinstance(statement, exp.TruncateTable):
        require(state, user, "DROP", *_table_of(ctx, statement.expressions[0]))
    elif isinstance(statement, (extended.AddPartition, extended.DropPartitionStatement)):
        require(state, user, "ALTER", statement.database or ctx.database or "", statement.table)
    elif isinstance(statement, extended.ShowPartitions):
        require(state, user, "SELECT", statement.database or ctx.database or "", statement.table)
    elif _is_own_password(ctx, statement):
        return
    else:
        require(state, user, "ALL")


def _is_own_password(ctx: QueryContext, statement: Any) -> bool:
    from cairn.sql.user_grammar import SetPasswordStatement, ShowGrantsStatement

    if isinstance(statement, SetPasswordStatement):
        return statement.name in (None, ctx.user)
    return isinstance(statement, ShowGrantsStatement) and statement.user in (None, ctx.user)
