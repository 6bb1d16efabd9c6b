"""Session: one client connection's state (user, current database, variables) and statement entry.

Each statement runs with a QueryContext built from this state; what the statement changes (USE,
SET) is kept here for the next one.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

from cairn.catalog.catalog import Catalog
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.query.context import CancelToken, QueryContext
from cairn.sql.dispatch import execute_statement
from cairn.sql.parser import parse_statement, split_statements
from cairn.sql.registry import StatementRegistry
from cairn.sql.result import ResultSet
from cairn.sql.statements import standard_statements

log = logging.getLogger(__name__)
_connection_ids = itertools.count(1)


class Session:
    """Runs SQL for one user. Not thread-safe: one session per client connection."""

    def __init__(self, frontend: Frontend, user: str = "root", database: str | None = None,
                 host: str = "%", statements: StatementRegistry | None = None) -> None:
        """`statements` is the server's registry; a session of its own builds the standard one."""
        self.frontend = frontend
        self.statements = statements if statements is not None else standard_statements()
        self.user = user
        self.host = host
        self.database = database
        self.variables: dict[str, Any] = {}
        # User variables (SET @x = ...): name (lower case) -> a one-value Arrow array, value and type.
        self.user_variables: dict[str, Any] = {}
        self.connection_id = next(_connection_ids)
        self.cancel = CancelToken()

    @property
    def catalog(self) -> Catalog:
        return self.frontend.catalog

    def interrupt(self) -> None:
        """Stop the running statement, if any (the client went away)."""
        self.cancel.cancel()

    def query_context(self) -> QueryContext:
        """Who runs the next statement, and where: this connection's state."""
        return QueryContext(user=self.user, host=self.host, database=self.database, variables=self.variables,
                            user_variables=self.user_variables, connection_id=self.connection_id,
                            cancel=self.cancel)

    def execute(self, sql: str) -> ResultSet:
        """Run a statement (or a script) and return the last statement's result."""
        results = self.execute_script(sql)
        return results[-1] if results else ResultSet.ok()

    def execute_script(self, sql: str) -> list[ResultSet]:
        """Run every statement of `sql` in order; stop at the first error (raised)."""
        metrics = self.frontend.metrics
        try:
            texts = split_statements(sql)
            statements = [parse_statement(text) for text in texts]
        except CairnError as exc:
            metrics.errors.labels(type(exc).__name__).inc()
            raise
        results = []
        for text, statement in zip(texts, statements):
            kind = type(statement).__name__
            metrics.statements.labels(kind).inc()
            metrics.running.inc()
            started = time.perf_counter()
            query = self.query_context()
            try:
                results.append(execute_statement(query, self.frontend, statement, self.statements, text))
            except CairnError as exc:
                metrics.errors.labels(type(exc).__name__).inc()
                raise
            finally:
                self.database = query.database
                metrics.running.dec()
                metrics.latency.labels(kind).observe(time.perf_counter() - started)
        return results
