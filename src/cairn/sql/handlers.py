"""Imports every statement-handler module, so that each registers its handlers once."""

from cairn.query import information_schema  # noqa: F401
from cairn.sql import admin, ddl, dml, nodes, query, session_statements, show, snapshots, users, volumes  # noqa: F401
