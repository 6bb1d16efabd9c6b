"""The MySQL protocol front door (mysql-mimic), mapping each connection to a Cairn Session.

Cairn parses every statement itself (StarRocks dialect); mysql-mimic only speaks the protocol.
Statements run in a thread pool, so a long query on one connection never stalls another.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mysql_mimic import MysqlServer, ResultSet as MimicResultSet
from mysql_mimic.auth import IdentityProvider, NativePasswordAuthPlugin, User
from mysql_mimic.errors import MysqlError
from mysql_mimic.session import BaseSession
from mysql_mimic.variables import GlobalVariables, SessionVariables

from cairn.auth.users import auth_string_for
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.fe.session import Session
from cairn.fe.variables import DEFAULTS
from cairn.secrets import redact
from cairn.server.mysql_types import mysql_column

log = logging.getLogger(__name__)


_NEVER_MATCHES = "unknown-user"
CLIENT_CHECK_SECONDS = 0.2


class CairnIdentityProvider(IdentityProvider):
    """Users come from the catalog; passwords are checked with mysql_native_password."""

    def __init__(self, frontend: Frontend) -> None:
        self.frontend = frontend

    def get_plugins(self) -> list[NativePasswordAuthPlugin]:
        return [NativePasswordAuthPlugin()]

    async def get_user(self, username: str) -> User | None:
        auth_string = auth_string_for(self.frontend.catalog, username)
        if auth_string is None:
            # An unknown user fails like a wrong password (1045), so names cannot be probed.
            return User(name=username, auth_string=_NEVER_MATCHES, auth_plugin="mysql_native_password")
        return User(name=username, auth_string=auth_string or None, auth_plugin="mysql_native_password")


class CairnConnectionSession(BaseSession):
    """One MySQL connection: its variables for the protocol, and the Cairn Session it runs SQL in."""

    def __init__(self, frontend: Frontend, pool: ThreadPoolExecutor) -> None:
        self.frontend = frontend
        self.pool = pool
        self.variables = SessionVariables(GlobalVariables())
        self.variables.set("version", DEFAULTS["version"], force=True)
        self.username: str | None = None
        self.database: str | None = None
        self.session: Session | None = None
        self.connection: Any = None

    async def init(self, connection: Any) -> None:
        self.connection = connection
        self.session = Session(self.frontend, user=self.username or "root", database=self.database)
        self.frontend.metrics.sessions.inc()

    async def use(self, database: str) -> None:
        await self.handle_query(f"USE `{database}`", {})

    async def close(self) -> None:
        if self.session is not None:
            self.session.interrupt()
            self.session = None
            self.frontend.metrics.sessions.dec()

    def _run(self, session: Session, sql: str) -> Any:
        result = session.execute(sql)
        self.database = session.database
        if result.table is None:
            return MimicResultSet(rows=[], columns=[])
        table = result.table
        columns = [mysql_column(f.name, f.type) for f in table.schema]
        return MimicResultSet(rows=result.rows(), columns=columns)

    def _client_gone(self) -> bool:
        stream = getattr(self.connection, "stream", None)
        reader = getattr(stream, "reader", None)
        return reader is not None and reader.at_eof()

    async def handle_query(self, sql: str, attrs: dict[str, str]) -> Any:
        session = self.session
        if session is None:
            raise MysqlError("The connection is closing", 1105)  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self.pool, self._run, session, sql)
        try:
            # The protocol is request/response: while a statement runs the client sends nothing,
            # so end of input means it went away; stop the statement instead of finishing it.
            while True:
                done, _ = await asyncio.wait({work}, timeout=CLIENT_CHECK_SECONDS)
                if done:
                    return work.result()
                if self._client_gone():
                    session.interrupt()
        except CairnError as exc:
            raise MysqlError(str(exc), exc.mysql_code) from None  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - a bug must not take the server down
            log.exception("statement failed unexpectedly")
            raise MysqlError(redact(f"Internal error: {type(exc).__name__}: {exc}"), 1105) from None  # type: ignore[arg-type]


class MysqlFrontDoor:
    """Listens on the query port and serves every connection until `close`."""

    def __init__(self, frontend: Frontend, host: str, port: int, workers: int = 64) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="query")
        self.server = MysqlServer(session_factory=lambda: CairnConnectionSession(frontend, self.pool),
                                  identity_provider=CairnIdentityProvider(frontend))
        self.host, self.port = host, port

    async def start(self) -> None:
        await self.server.start_server(host=self.host, port=self.port)

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        self.pool.shutdown(wait=False, cancel_futures=True)
