"""Session: one client connection's state (user, current database, variables) and statement entry.

Each statement runs with a QueryContext built from this state; what the statement changes (USE,
SET) is kept here for the next one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from cairn.catalog.catalog import Catalog
from cairn.errors import CairnError
from cairn.fe.connections import ProcessRow
from cairn.fe.frontend import Frontend
from cairn.query.context import CancelToken, QueryContext
from cairn.sql import temporary_tables
from cairn.sql.dispatch import execute_statement
from cairn.sql.parser import DIALECT, parse_statement, split_statements
from cairn.sql.registry import StatementRegistry
from cairn.sql.result import ResultSet
from cairn.sql.statements import standard_statements

log = logging.getLogger(__name__)
# What a statement stopped by KILL fails with (ER_QUERY_INTERRUPTED, as StarRocks and MySQL answer).
_KILLED_QUERY = "Query execution was interrupted: KILL QUERY {id} stopped it"
_KILLED_CONNECTION = "Query execution was interrupted: KILL {id} closed its connection"


class Session:
    """Runs SQL for one user. Not thread-safe: one session per client connection."""

    def __init__(self, frontend: Frontend, user: str = "root", database: str | None = None,
                 host: str = "%", statements: StatementRegistry | None = None, connection_id: int | None = None,
                 client_address: str = "", close_connection: Callable[[], None] | None = None,
                 session_id: str | None = None, session_frontend: str | None = None) -> None:
        """`statements` is the server's registry; a session of its own builds the standard one.
        A MySQL connection's session gets the connection's id, its client's address and how to close
        it (KILL CONNECTION); any other session gets an id of its own. A statement forwarded from
        another FE runs with its original session's id and FE (`session_id`, `session_frontend`), so
        it sees that session's temporary tables."""
        self.frontend = frontend
        self.statements = statements if statements is not None else standard_statements()
        self.user = user
        self.host = host
        self.database = database
        self.variables: dict[str, Any] = {}
        # User variables (SET @x = ...): name (lower case) -> a one-value Arrow array, value and type.
        self.user_variables: dict[str, Any] = {}
        self.connection_id = connection_id if connection_id is not None else frontend.connections.next_id()
        self.client_address = client_address
        self.session_id = session_id or str(uuid.uuid4())
        self.session_frontend = session_frontend or frontend.name
        self._close_connection = close_connection
        self.started = time.time()
        # The running (or last) statement's token; a new one per statement, so KILL QUERY stops
        # one statement and the next runs. Once the session is interrupted, every token is.
        self.cancel = CancelToken()
        self._interrupted: str | None = None
        self._lock = threading.Lock()
        self._running_sql: str | None = None
        self._since = time.monotonic()

    @property
    def catalog(self) -> Catalog:
        return self.frontend.catalog

    def interrupt(self, message: str | None = None) -> None:
        """Stop the running statement, if any, and every later one (the client went away, or the
        connection was killed)."""
        with self._lock:
            self._interrupted = self._interrupted or message or self.cancel.message
            token = self.cancel
        token.cancel(self._interrupted)

    # -- ClientConnection (SHOW PROCESSLIST, KILL) -------------------------------------------

    def kill_query(self) -> None:
        """KILL QUERY: stop the running statement, if any; the connection stays."""
        with self._lock:
            token = self.cancel if self._running_sql is not None else None
        if token is not None:
            token.cancel(_KILLED_QUERY.format(id=self.connection_id))

    def kill_connection(self) -> None:
        """KILL [CONNECTION]: stop the running statement, if any, and close the connection."""
        self.interrupt(_KILLED_CONNECTION.format(id=self.connection_id))
        if self._close_connection is not None:
            self._close_connection()

    def process_row(self) -> ProcessRow:
        """This connection as SHOW PROCESSLIST shows it."""
        with self._lock:
            sql, since, queued = self._running_sql, self._since, self.cancel.queued
        info = sql or ""
        return ProcessRow(
            id=self.connection_id, user=self.user, host=self.client_address, database=self.database or "",
            command="Query" if sql is not None else "Sleep",
            connection_start_time=self.started,
            time=int(time.monotonic() - since), state="OK", info=info, is_pending=queued and sql is not None)

    def query_context(self) -> QueryContext:
        """Who runs the next statement, and where: this connection's state, with a cancel token of
        its own (already cancelled once the session is interrupted)."""
        token = CancelToken()
        with self._lock:
            self.cancel = token
            interrupted = self._interrupted
        if interrupted is not None:
            token.cancel(interrupted)
        return QueryContext(user=self.user, host=self.host, database=self.database, variables=self.variables,
                            user_variables=self.user_variables, connection_id=self.connection_id,
                            cancel=token, session_id=self.session_id, session_frontend=self.session_frontend)

    def drop_temporary_tables(self) -> None:
        """Drop this session's temporary tables: it is ending. Each drop runs as a statement of this
        session (forwarded to the leader from a follower); one that fails is logged and left to the
        leader's sweep of ended sessions' tables."""
        tables = temporary_tables.session_tables(self.catalog, self.session_id)
        if not tables:
            return
        # A session of its own: this one may be interrupted already (its client went away).
        ending = Session(self.frontend, user=self.user, host=self.host, statements=self.statements,
                         connection_id=self.connection_id, session_id=self.session_id,
                         session_frontend=self.session_frontend)
        for db_name, name in tables:
            drop = exp.Drop(tables=[exp.table_(name, db=db_name, quoted=True)], kind="TABLE", temporary=True,
                            exists=True)
            try:
                ending.execute(drop.sql(dialect=DIALECT))
            except CairnError as exc:
                log.warning("dropping temporary table %s.%s of an ended session failed: %s", db_name, name, exc)

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
            self._running(text)
            try:
                results.append(execute_statement(query, self.frontend, statement, self.statements, text))
            except CairnError as exc:
                metrics.errors.labels(type(exc).__name__).inc()
                raise
            finally:
                self._running(None)
                self.database = query.database
                metrics.running.dec()
                metrics.latency.labels(kind).observe(time.perf_counter() - started)
        return results

    def _running(self, sql: str | None) -> None:
        with self._lock:
            self._running_sql = sql
            self._since = time.monotonic()
