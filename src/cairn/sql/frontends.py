"""ALTER SYSTEM ADD / DROP FOLLOWER | OBSERVER and SHOW FRONTENDS.

The member list lives in the catalog (one journal entry per change); what SHOW FRONTENDS says of each
member's ports, role and replay position comes from the heartbeats this FE exchanged with it.
"""

from __future__ import annotations

import time

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import FrontendNode
from cairn.catalog.node_ops import AddFrontend, DropFrontend
from cairn.errors import FrontendNodeError
from cairn.fe.frontend import Frontend
from cairn.fe.frontends_table import SHOW_COLUMNS, SHOW_TYPES, frontend_rows
from cairn.query.context import QueryContext
from cairn.sql.frontend_grammar import AddFrontendStatement, DropFrontendStatement, ShowFrontends
from cairn.sql.nodes import parse_address
from cairn.sql.registry import StatementRegistry, cluster_admin
from cairn.sql.result import ResultSet


def _address(text: str) -> tuple[str, int, str]:
    host, port = parse_address(text, FrontendNodeError, "edit_log_port")
    return host, port, f"{host}:{port}"


def _leaders(fe: Frontend, catalog: Catalog) -> set[str]:
    """host:edit_log_port of the FE leading now, as the journal and this FE know it."""
    return {a for a in (catalog.state.leader_address, fe.address if fe.is_leader else "") if a}


def add_frontend(query: QueryContext, fe: Frontend, statement: AddFrontendStatement) -> ResultSet:
    """Make `host:edit_log_port` a member; the FE started there joins with this cluster's journal."""
    host, port, address = _address(statement.address)

    def build(catalog: Catalog) -> AddFrontend:
        known = {n.address for n in catalog.state.frontends} | _leaders(fe, catalog)
        if address in known:
            # StarRocks' message names the host alone (it allows one FE per host); Cairn keys members
            # by host:edit_log_port, so several FEs may share a host.
            raise FrontendNodeError(f"FE with the same host: {address} already exists")
        name = f"{host}_{port}_{int(time.time() * 1000)}"
        return AddFrontend(node=FrontendNode(host=host, edit_log_port=port, type=statement.type, name=name))

    fe.commit(build)
    return ResultSet.ok()


def drop_frontend(query: QueryContext, fe: Frontend, statement: DropFrontendStatement) -> ResultSet:
    """Remove a member; refused for the FE leading now (StarRocks' messages)."""
    _, _, address = _address(statement.address)

    def build(catalog: Catalog) -> DropFrontend:
        if address in _leaders(fe, catalog):
            raise FrontendNodeError("can not drop current master node.")
        node = next((n for n in catalog.state.frontends if n.address == address), None)
        if node is None:
            raise FrontendNodeError(f"frontend does not exist[{address}]")
        if node.type != statement.type:
            raise FrontendNodeError(f"{statement.type.upper()} does not exist[{address}]")
        return DropFrontend(address=address)

    fe.commit(build)
    return ResultSet.ok()


def show_frontends(query: QueryContext, fe: Frontend, statement: ShowFrontends) -> ResultSet:
    """One row per member FE, with StarRocks' columns."""
    rows = [row[:len(SHOW_COLUMNS)] for row in frontend_rows(fe.membership, fe.keys.cluster_id)]
    return ResultSet.from_rows(SHOW_COLUMNS, rows, SHOW_TYPES)


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(AddFrontendStatement, add_frontend, needs=cluster_admin, writes=True)
    statements.add(DropFrontendStatement, drop_frontend, needs=cluster_admin, writes=True)
    statements.add(ShowFrontends, show_frontends, needs=cluster_admin)
