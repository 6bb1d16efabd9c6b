"""ADMIN statements about the frontend itself."""

from __future__ import annotations

import pyarrow as pa

from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.sql import extended
from cairn.sql.registry import StatementRegistry, cluster_admin
from cairn.sql.result import ResultSet


def set_frontend_config(query: QueryContext, fe: Frontend, statement: extended.AdminSetFrontendConfig) -> ResultSet:
    """Change an fe.conf key for the running FE (not persisted, as in StarRocks)."""
    fe.config.set_runtime(statement.key, statement.value)
    return ResultSet.ok()


def vacuum(query: QueryContext, fe: Frontend, statement: extended.AdminVacuum) -> ResultSet:
    """Run vacuum now; DRY RUN reports what it would delete and deletes nothing."""
    report = fe.vacuum.run(dry_run=statement.dry_run)
    deletable = report.dead if statement.dry_run else report.deleted
    rows = [("DRY RUN" if statement.dry_run else "VACUUM", report.examined, report.dead, deletable,
             report.deleted_bytes, round(report.seconds, 3))]
    types = [pa.string(), pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.float64()]
    return ResultSet.from_rows(["Mode", "Examined", "Dead", "Deleted", "DeletedBytes", "Seconds"], rows, types)


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(extended.AdminSetFrontendConfig, set_frontend_config, needs=cluster_admin)
    statements.add(extended.AdminVacuum, vacuum, needs=cluster_admin, writes=True)
