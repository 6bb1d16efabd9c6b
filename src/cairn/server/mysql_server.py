"""The MySQL protocol front door (mysql-mimic), mapping each connection to a Cairn Session.

Cairn parses every statement itself (StarRocks dialect); mysql-mimic only frames packets and runs
authentication, and `CairnConnection` answers each command as MySQL 8 does. Statements run in a
thread pool, so a long query on one connection never stalls another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from mysql_mimic import MysqlServer
from mysql_mimic.auth import IdentityProvider, NativePasswordAuthPlugin, User
from mysql_mimic.control import LocalControl, TooManyConnections
from mysql_mimic.errors import ErrorCode
from mysql_mimic.session import BaseSession
from mysql_mimic.stream import MysqlStream
from mysql_mimic.variables import GlobalVariables, SessionVariables
from sqlglot import exp
from sqlglot.tokenizer_core import Token

from cairn.auth.users import auth_string_for
from cairn.errors import CairnError, SqlSyntaxError
from cairn.fe.frontend import Frontend
from cairn.query.variables import DEFAULTS, get_variable
from cairn.secrets import mask_values
from cairn.server.mysql_connection import CAIRN_CAPABILITIES, CairnConnection
from cairn.server.mysql_prepared import placeholders
from cairn.server.mysql_stream import StrictStream
from cairn.server.mysql_types import CairnColumn, StatementOutcome, mysql_column
from cairn.server.session import Session
from cairn.sql.parser import DIALECT, parse_statement, split_statements
from cairn.sql.redaction import loggable, secrets_in
from cairn.sql.registry import StatementRegistry
from cairn.sql.result import ResultSet

log = logging.getLogger(__name__)


_NEVER_MATCHES = "unknown-user"
CLIENT_CHECK_SECONDS = 0.2
_T = TypeVar("_T")


class CairnIdentityProvider(IdentityProvider):  # type: ignore[misc]  # mysql_mimic ships no types
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


class CairnConnectionSession(BaseSession):  # type: ignore[misc]  # mysql_mimic ships no types
    """One MySQL connection: its variables for the protocol, and the Cairn Session it runs SQL in."""

    def __init__(self, frontend: Frontend, statements: StatementRegistry, pool: ThreadPoolExecutor) -> None:
        self.frontend = frontend
        self.statements = statements
        self.pool = pool
        self.variables = SessionVariables(GlobalVariables())
        self.variables.set("version", DEFAULTS["version"], force=True)
        self.username: str | None = None
        self.database: str | None = None
        self.session: Session | None = None
        self.connection: Any = None

    async def init(self, connection: Any) -> None:
        self.connection = connection
        loop = asyncio.get_running_loop()

        def close_connection() -> None:
            loop.call_soon_threadsafe(connection.close_soon)

        self.session = Session(self.frontend, user=self.username or "root", database=self.database,
                               statements=self.statements, connection_id=connection.connection_id,
                               client_address=_client_address(connection),
                               close_connection=close_connection)
        self.frontend.connections.add(connection.connection_id, self.session)
        self.frontend.metrics.sessions.inc()

    async def reset(self) -> None:
        """A fresh Cairn session (default variables) for the authenticated user, in the current database.

        After COM_CHANGE_USER the user and database are the new ones; after COM_RESET_CONNECTION
        they stay.
        """
        await self.close()
        await self.init(self.connection)

    async def use(self, database: str) -> None:
        await self.run(exp.Use(this=exp.Table(this=exp.to_identifier(database, quoted=True))).sql(dialect=DIALECT))

    async def close(self) -> None:
        if self.session is not None:
            session = self.session
            session.interrupt()
            self.frontend.connections.remove(session.connection_id)
            self.session = None
            self.frontend.metrics.sessions.dec()
            # StarRocks drops a session's temporary tables when it ends. An FE that is stopping runs
            # no more work: its sessions' tables are left to the leader's sweep of ended sessions.
            try:
                dropping = asyncio.get_running_loop().run_in_executor(self.pool, session.drop_temporary_tables)
            except RuntimeError:  # the pool is shut down
                log.info("connection %d closed while the FE stops: its temporary tables are left to the "
                         "leader's sweep", session.connection_id)
                return
            await dropping

    def idle_timeout(self) -> float:
        """Seconds an idle connection stays open: the session's `wait_timeout` (StarRocks' variable)."""
        try:
            seconds = float(get_variable(self.session.variables if self.session is not None else {}, "wait_timeout"))
        except (TypeError, ValueError):
            seconds = 0.0
        return seconds if seconds > 0 else float(DEFAULTS["wait_timeout"])

    def _session(self) -> Session:
        if self.session is None:
            raise ConnectionResetError("the connection is closing")
        return self.session

    def _client_gone(self) -> bool:
        stream = getattr(self.connection, "stream", None)
        reader = getattr(stream, "reader", None)
        return reader is not None and reader.at_eof()

    async def _in_pool(self, session: Session, work: Callable[[], _T]) -> _T:
        future = asyncio.get_running_loop().run_in_executor(self.pool, work)
        # The protocol is request/response: while a statement runs the client sends nothing,
        # so end of input means it went away; stop the statement instead of finishing it.
        while True:
            done, _ = await asyncio.wait({future}, timeout=CLIENT_CHECK_SECONDS)
            if done:
                return future.result()
            if self._client_gone():
                session.interrupt()

    async def split(self, sql: str) -> list[str]:
        """The statements of a COM_QUERY (tokenized in the pool: a query may be megabytes long)."""
        return await self._in_pool(self._session(), lambda: split_statements(sql))

    async def run(self, sql: str) -> StatementOutcome:
        """Run one statement; raises CairnError (or any failure) for the connection to report."""
        session = self._session()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("statement: %s", loggable(sql))

        def work() -> StatementOutcome:
            result = session.execute(sql)
            self.database = session.database
            return outcome_of(result)

        try:
            return await self._in_pool(session, work)
        except CairnError as exc:  # an error may quote the statement: never its secrets
            exc.message = mask_values(exc.message, secrets_in(sql))
            raise

    async def describe(self, sql: str) -> tuple[list[Token], list[CairnColumn]]:
        """For COM_STMT_PREPARE: the placeholders of one statement, and the columns a query returns.

        Raises SqlSyntaxError when `sql` does not parse or holds more than one statement.
        """
        session = self._session()

        def work() -> tuple[list[Token], list[CairnColumn]]:
            if len(split_statements(sql)) != 1:
                raise SqlSyntaxError("Getting syntax error. Detail message: a prepared statement holds exactly "
                                     "one statement.")
            found = placeholders(sql)
            statement = parse_statement(sql)
            if not isinstance(statement, exp.Query):
                return found, []
            probe = statement.copy().transform(
                lambda node: exp.Null() if isinstance(node, exp.Placeholder) else node)
            assert isinstance(probe, exp.Query)  # a query stays a query when its placeholders become NULL
            try:
                result = session.execute(exp.select("*").from_(probe.subquery("prepared")).limit(0)
                                         .sql(dialect=DIALECT))
            except Exception:  # noqa: BLE001 - COM_STMT_EXECUTE reports the real error with real values
                return found, []
            return found, outcome_of(result).columns or []

        return await self._in_pool(session, work)

    async def table_columns(self, table: str) -> list[CairnColumn]:
        """COM_FIELD_LIST: the columns of a table of the current database."""
        query = exp.select("*").from_(exp.Table(this=exp.to_identifier(table, quoted=True))).limit(0)
        return (await self.run(query.sql(dialect=DIALECT))).columns or []


def _client_address(connection: Any) -> str:
    """The client's host:port, as SHOW PROCESSLIST's Host shows it ('' when not known)."""
    writer = getattr(getattr(connection, "stream", None), "writer", None)
    peer = writer.get_extra_info("peername") if writer is not None else None
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else ""


def outcome_of(result: ResultSet) -> StatementOutcome:
    """A statement's result as protocol columns and rows, or as an OK's counts."""
    if result.table is None or result.table.num_columns == 0:  # a result set needs at least one column
        return StatementOutcome(None, affected_rows=result.affected_rows, warnings=len(result.warnings))
    columns = [mysql_column(f.name, f.type) for f in result.table.schema]
    return StatementOutcome(columns, result.rows(), warnings=len(result.warnings))


class FrontendControl(LocalControl):  # type: ignore[misc]  # mysql_mimic ships no types
    """mysql-mimic's connection table, with ids counted from 1 by the FE (`Frontend.connections`),
    as StarRocks numbers them: the id the handshake gives, CONNECTION_ID(), SHOW PROCESSLIST's Id
    and what KILL takes are the same number."""

    def __init__(self, frontend: Frontend) -> None:
        super().__init__()
        self.frontend = frontend

    def _new_connection_id(self) -> int:
        return self.frontend.connections.next_id()


class CairnMysqlServer(MysqlServer):  # type: ignore[misc]  # mysql_mimic ships no types
    """mysql-mimic's server, with every connection a `CairnConnection`."""

    def __init__(self, *args: Any, handshake_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, capabilities=CAIRN_CAPABILITIES, **kwargs)
        self.handshake_timeout = handshake_timeout

    async def _client_connected_cb(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stream = StrictStream(MysqlStream(reader, writer))
        connection = CairnConnection(stream=stream, session=self.session_factory(), control=self.control,
                                     server_capabilities=self.capabilities,
                                     identity_provider=self.identity_provider, ssl=self.ssl)
        connection.handshake_timeout = self.handshake_timeout
        try:
            connection.connection_id = await self.control.add(connection)
        except TooManyConnections:
            await stream.write(connection.error(msg="Too many connections", code=ErrorCode.CON_COUNT_ERROR))
            writer.close()
            return
        try:
            await connection.start()
        except asyncio.CancelledError:
            # The server stops (or the connection was killed) mid-handshake or between commands: a
            # normal end of this connection, whose task nobody awaits, so it ends here.
            log.debug("connection %s closed: the server is stopping", connection.connection_id)
        except Exception:
            log.exception("connection %s failed", connection.connection_id)
        finally:
            writer.close()
            await self.control.remove(connection.connection_id)


class MysqlFrontDoor:
    """Listens on the query port and serves every connection until `close`."""

    def __init__(self, frontend: Frontend, statements: StatementRegistry, host: str, port: int, workers: int = 64,
                 handshake_timeout: float = 10.0) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="query")
        self.server = CairnMysqlServer(
            session_factory=lambda: CairnConnectionSession(frontend, statements, self.pool),
            identity_provider=CairnIdentityProvider(frontend), handshake_timeout=handshake_timeout,
            control=FrontendControl(frontend))
        self.host, self.port = host, port

    async def start(self) -> None:
        await self.server.start_server(host=self.host, port=self.port)

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        self.pool.shutdown(wait=False, cancel_futures=True)
