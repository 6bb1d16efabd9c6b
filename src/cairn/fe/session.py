"""Session: one client's connection state (user, current database, variables) and statement entry."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import duckdb

from cairn.errors import CairnError
from cairn.sql import handlers  # noqa: F401  (registers every statement handler)
from cairn.sql.dispatch import execute_statement
from cairn.sql.parser import parse_script
from cairn.sql.result import ResultSet

if TYPE_CHECKING:
    from cairn.fe.frontend import Frontend

log = logging.getLogger(__name__)
_connection_ids = itertools.count(1)


class Session:
    """Runs SQL for one user. Not thread-safe: one session per client connection."""

    def __init__(self, frontend: "Frontend", user: str = "root", database: str | None = None,
                 host: str = "%") -> None:
        self.frontend = frontend
        self.user = user
        self.host = host
        self.database = database
        self.variables: dict[str, Any] = {}
        # User variables (SET @x = ...): name (lower case) -> a one-value Arrow array, value and type.
        self.user_variables: dict[str, Any] = {}
        self.connection_id = next(_connection_ids)
        self.cancelled = threading.Event()
        self._running: duckdb.DuckDBPyConnection | None = None

    @contextmanager
    def running(self, cursor: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
        """Mark `cursor` as this session's running work, so `interrupt` can stop it."""
        self._running = cursor
        try:
            yield cursor
        finally:
            self._running = None

    def interrupt(self) -> None:
        """Stop the running statement, if any (the client went away)."""
        self.cancelled.set()
        cursor = self._running
        if cursor is not None:
            cursor.interrupt()

    @property
    def catalog(self):
        return self.frontend.catalog

    def execute(self, sql: str) -> ResultSet:
        """Run a statement (or a script) and return the last statement's result."""
        results = self.execute_script(sql)
        return results[-1] if results else ResultSet.ok()

    def execute_script(self, sql: str) -> list[ResultSet]:
        """Run every statement of `sql` in order; stop at the first error (raised)."""
        metrics = self.frontend.metrics
        try:
            statements = parse_script(sql)
        except CairnError as exc:
            metrics.errors.labels(type(exc).__name__).inc()
            raise
        results = []
        for statement in statements:
            kind = type(statement).__name__
            metrics.statements.labels(kind).inc()
            metrics.running.inc()
            started = time.perf_counter()
            try:
                results.append(execute_statement(self, statement))
            except CairnError as exc:
                metrics.errors.labels(type(exc).__name__).inc()
                raise
            finally:
                metrics.running.dec()
                metrics.latency.labels(kind).observe(time.perf_counter() - started)
        return results
