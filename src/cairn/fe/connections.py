"""The client connections of this FE, by the id MySQL's handshake gives them: what SHOW PROCESSLIST
lists and what KILL finds.

Ids count from 1 per FE, as StarRocks' do; a connection lives on one FE, so KILL and SHOW
PROCESSLIST reach the connections of the FE they run on (a follower's included), never forwarded.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ProcessRow:
    """One connection as SHOW PROCESSLIST shows it (StarRocks' columns)."""

    id: int
    user: str
    host: str
    database: str
    command: str
    connection_start_time: float
    time: int
    state: str
    info: str
    is_pending: bool


class ClientConnection(Protocol):
    """A connection as this FE controls it (the server's session implements it)."""

    @property
    def user(self) -> str:
        """The user the connection authenticated as."""

    def process_row(self) -> ProcessRow:
        """The connection now, as SHOW PROCESSLIST shows it."""

    def kill_query(self) -> None:
        """Stop the statement running now, if any; the connection stays."""

    def kill_connection(self) -> None:
        """Stop the statement running now, if any, and close the connection."""


class Connections:
    """The live client connections of this FE, by id (thread-safe)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._by_id: dict[int, ClientConnection] = {}

    def next_id(self) -> int:
        """A connection id not handed out before on this FE."""
        with self._lock:
            return next(self._ids)

    def add(self, connection_id: int, connection: ClientConnection) -> None:
        """List `connection` under `connection_id` until `remove`."""
        with self._lock:
            self._by_id[connection_id] = connection

    def remove(self, connection_id: int) -> None:
        """Forget the connection (it closed)."""
        with self._lock:
            self._by_id.pop(connection_id, None)

    def get(self, connection_id: int) -> ClientConnection | None:
        """The live connection with this id, if any."""
        with self._lock:
            return self._by_id.get(connection_id)

    def all(self) -> list[ClientConnection]:
        """Every live connection, in id order."""
        with self._lock:
            return [self._by_id[i] for i in sorted(self._by_id)]
