"""The statements Cairn runs: the registry a server builds at start-up."""

from __future__ import annotations

from cairn.sql import (
    admin,
    alter_table,
    ddl,
    dml,
    explain,
    frontends,
    keyed_dml,
    nodes,
    processes,
    query,
    recycle_bin,
    session_statements,
    show,
    show_data,
    show_proc,
    snapshots,
    temp_partitions,
    temporary_tables,
    users,
    views,
    volumes,
)
from cairn.sql.registry import StatementRegistry


def standard_statements() -> StatementRegistry:
    """A registry holding every statement kind Cairn runs, each with its handler and privileges."""
    statements = StatementRegistry()
    for module in (admin, alter_table, ddl, dml, explain, frontends, keyed_dml, nodes, processes, query, recycle_bin,
                   session_statements, show, show_data, show_proc, snapshots, temp_partitions, temporary_tables,
                   users, views, volumes):
        module.register(statements)
    return statements
