"""Imports every statement-handler module, so that each registers its handlers once."""

from cairn.sql import admin, ddl, dml, query, session_statements, show, volumes  # noqa: F401
