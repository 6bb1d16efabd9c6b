"""ADMIN statements about the frontend itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cairn.sql import extended
from cairn.sql.dispatch import handles
from cairn.sql.result import ResultSet

if TYPE_CHECKING:
    from cairn.fe.session import Session


@handles(extended.AdminSetFrontendConfig)
def set_frontend_config(session: "Session", statement: extended.AdminSetFrontendConfig) -> ResultSet:
    """Change an fe.conf key for the running FE (not persisted, as in StarRocks)."""
    session.frontend.config.set_runtime(statement.key, statement.value)
    return ResultSet.ok()
