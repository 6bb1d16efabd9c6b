"""Session: one client's connection state (user, current database, variables) and statement entry."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

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
        self.connection_id = next(_connection_ids)
        self.cancelled = threading.Event()

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
            started = time.perf_counter()
            try:
                results.append(execute_statement(self, statement))
            except CairnError as exc:
                metrics.errors.labels(type(exc).__name__).inc()
                raise
            finally:
                metrics.latency.labels(kind).observe(time.perf_counter() - started)
        return results
