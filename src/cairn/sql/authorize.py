"""The one privilege check every statement passes before it runs.

It reads what the statement's registration declares (`Registration.needs`): SELECT on every table a
query reads (as the binder resolves them for execution), INSERT on a load's target, CREATE / DROP /
ALTER for DDL (TRUNCATE counts as DROP), and ALL on *.* for cluster administration (storage
volumes, ADMIN, users and grants, compute nodes). Statements about the connection and SHOW need
nothing (SHOW filters what it shows).
"""

from __future__ import annotations

from collections.abc import Iterable

from cairn.auth.privileges import require
from cairn.auth.users import ROOT
from cairn.catalog.model import CatalogState, temporary_key
from cairn.query.context import QueryContext
from cairn.sql.registry import Requirement


def authorize(ctx: QueryContext, state: CatalogState, requirements: Iterable[Requirement]) -> None:
    """Raise PrivilegeError unless `ctx.user` holds every requirement in the catalog `state`.
    The requirements are worked out for root too, so the binder's refusals reach every user."""
    needed = list(requirements)
    if ctx.user == ROOT:
        return
    for requirement in needed:
        if _own_temporary_table(ctx, state, requirement):
            continue
        require(state, ctx.user, requirement.privilege, requirement.database, requirement.table)


def _own_temporary_table(ctx: QueryContext, state: CatalogState, requirement: Requirement) -> bool:
    """Whether the requirement is on a temporary table of the statement's own session: its session
    holds every privilege on it, as in StarRocks."""
    db = state.databases.get(requirement.database)
    return (db is not None and bool(requirement.table) and bool(ctx.session_id)
            and temporary_key(requirement.table, ctx.session_id) in db.tables)
