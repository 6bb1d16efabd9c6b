"""QueryContext: who runs a statement, where, with which variables, and how to stop it.

The server's Session (one per connection) builds one per statement; everything below the server
(statement handlers, the authorizer, the query engine) sees only this, never the connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb

from cairn.errors import QueryInterruptedError

# What a statement stopped by its client going away tells (a KILL says who killed it instead).
CLIENT_GONE = "The query was cancelled: its client went away"


class CancelToken:
    """One statement's control: `cancel` stops it (its client went away, or KILL named it) and
    interrupts the DuckDB cursor running for it; `queued` says it waits in the query queue (SHOW
    PROCESSLIST's IsPending)."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._running: duckdb.DuckDBPyConnection | None = None
        self.message = CLIENT_GONE
        self.queued = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @contextmanager
    def running(self, cursor: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
        """Mark `cursor` as the running work, so `cancel` can interrupt it. Raises
        QueryInterruptedError when the statement was cancelled before its work started (binding its
        tables, waiting for a scan), which no interrupt would reach, or when its work failed once cancelled."""
        self._running = cursor
        if self.cancelled:
            self._running = None
            raise QueryInterruptedError(self.message)
        try:
            yield cursor
        except duckdb.Error:
            # Whatever DuckDB says of the interrupted work ("Interrupted!", from any statement that
            # runs under this): the statement was cancelled.
            if self.cancelled:
                raise QueryInterruptedError(self.message) from None
            raise
        finally:
            self._running = None

    def cancel(self, message: str = CLIENT_GONE) -> None:
        """Stop the running statement, if any, and every later check of `cancelled`; the statement
        fails with QueryInterruptedError(`message`)."""
        if not self._cancelled.is_set():
            self.message = message
        self._cancelled.set()
        cursor = self._running
        if cursor is not None:
            cursor.interrupt()


@dataclass
class QueryContext:
    """One statement's asker. `database` may be changed by the statement (USE, DROP DATABASE);
    `variables` and `user_variables` (SET @x: name → a one-value Arrow array) are the connection's
    own dicts, so SET lasts beyond the statement."""

    user: str = "root"
    host: str = "%"
    database: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    user_variables: dict[str, Any] = field(default_factory=dict)
    connection_id: int = 0
    cancel: CancelToken = field(default_factory=CancelToken)
    # The session (StarRocks' `session_id()`) and the FE it is connected to (`Frontend.name`): whose
    # temporary tables the statement sees. A statement forwarded to the leader keeps its session's.
    session_id: str = ""
    session_frontend: str = ""

    @property
    def account(self) -> str:
        """'user'@'host', as USER() and CURRENT_USER() show it."""
        return f"'{self.user}'@'{self.host}'"
