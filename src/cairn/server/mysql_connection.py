"""One MySQL connection as MySQL 8 and StarRocks answer it, on top of mysql-mimic's `Connection`.

mysql-mimic frames packets and runs authentication; this class replaces what it gets wrong for
real drivers (JDBC, node's mysql2, libmysqlclient, PyMySQL):

- the OK that ends a result set under CLIENT_DEPRECATE_EOF carries 0 affected rows;
- an OK after DML carries the affected rows;
- COM_STMT_PREPARE answers with the parameter count and a SELECT's columns, and sends EOF
  packets only when CLIENT_DEPRECATE_EOF was not agreed;
- bound parameters are SQL literals, never pasted text;
- several statements in one COM_QUERY run only with CLIENT_MULTI_STATEMENTS, each returning its
  own result (SERVER_MORE_RESULTS_EXISTS); otherwise the query is refused with 1064;
- an idle connection is closed after `wait_timeout`, a handshake after the handshake timeout;
- a malformed packet gets error 1835, an internal failure error 1105 naming only its type.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import pyarrow as pa
from mysql_mimic import ResultColumn, packets, types
from mysql_mimic.connection import Connection
from mysql_mimic.constants import KillKind
from mysql_mimic.errors import ErrorCode, MysqlError
from mysql_mimic.stream import ConnectionClosed
from mysql_mimic.types import Capabilities, ServerStatus
from sqlglot.tokenizer_core import Token

from cairn.errors import CairnError, SqlSyntaxError
from cairn.secrets import redact
from cairn.server.mysql_packets import (
    MalformedPacket,
    parse_change_user,
    parse_execute,
    parse_execute_header,
    parse_field_list,
    parse_handshake_response,
)
from cairn.server.mysql_prepared import PreparedStatement, UnknownStatementError, bind
from cairn.server.mysql_types import CairnColumn, StatementOutcome, mysql_column

log = logging.getLogger(__name__)

CAIRN_CAPABILITIES = (
    Capabilities.CLIENT_PROTOCOL_41 | Capabilities.CLIENT_DEPRECATE_EOF | Capabilities.CLIENT_CONNECT_WITH_DB
    | Capabilities.CLIENT_CONNECT_ATTRS | Capabilities.CLIENT_PLUGIN_AUTH
    | Capabilities.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | Capabilities.CLIENT_SECURE_CONNECTION
    | Capabilities.CLIENT_LONG_PASSWORD | Capabilities.CLIENT_LONG_FLAG | Capabilities.CLIENT_TRANSACTIONS
    | Capabilities.CLIENT_MULTI_STATEMENTS | Capabilities.CLIENT_MULTI_RESULTS
    | Capabilities.CLIENT_PS_MULTI_RESULTS | Capabilities.CLIENT_ODBC | Capabilities.CLIENT_INTERACTIVE
    | Capabilities.CLIENT_IGNORE_SPACE
)

_TOO_DEEP = ("Getting syntax error. Detail message: the statement is nested too deeply "
             "(too many parentheses, subqueries or operators).")
_CLIENT_INACTIVE = 4031  # ER_CLIENT_INTERACTION_TIMEOUT


def error_reply(exc: BaseException) -> tuple[int, str, str]:
    """(error code, SQLSTATE, message) the client is told for `exc`; never a traceback."""
    if isinstance(exc, CairnError):
        return exc.mysql_code, exc.sqlstate, str(exc)
    if isinstance(exc, MysqlError):
        return int(exc.code), "HY000", redact(str(exc.msg))
    if isinstance(exc, RecursionError):
        return SqlSyntaxError.mysql_code, SqlSyntaxError.sqlstate, _TOO_DEEP
    log.error("statement failed unexpectedly", exc_info=exc)
    return 1105, "HY000", f"Internal error: {type(exc).__name__}. The FE log has the details."


def _error_packet(code: int, sqlstate: str, message: str) -> bytes:
    return b"".join([b"\xff", code.to_bytes(2, "little"), b"#", sqlstate.encode()[:5].ljust(5, b"0"),
                     message.encode("utf-8", "replace")])


class StatementSession(Protocol):
    """What a connection needs from its session (`CairnConnectionSession` in mysql_server)."""

    username: str | None
    database: str | None
    variables: Any

    async def init(self, connection: Any) -> None: ...
    async def close(self) -> None: ...
    async def split(self, sql: str) -> list[str]: ...
    async def run(self, sql: str) -> StatementOutcome: ...
    async def describe(self, sql: str) -> tuple[list[Token], list[CairnColumn]]: ...
    async def table_columns(self, table: str) -> list[CairnColumn]: ...
    async def use(self, database: str) -> None: ...
    async def reset(self) -> None: ...
    def idle_timeout(self) -> float: ...


class CairnConnection(Connection):  # type: ignore[misc]  # mysql_mimic ships no types
    """A connection whose statements run in a `StatementSession`."""

    session: StatementSession
    handshake_timeout: float = 10.0
    _kill: KillKind | None  # set by mysql_mimic's Connection when KILL names this connection or its query

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status_flags = ServerStatus.SERVER_STATUS_AUTOCOMMIT
        self.statements: dict[int, PreparedStatement] = {}
        self.statement_ids = itertools.count(1)  # MySQL never hands out statement id 0
        self._busy = False  # a command is being answered
        self._closing = False  # KILL CONNECTION named this connection

    def close_soon(self) -> None:
        """KILL CONNECTION (on the event loop): close once the running command has answered (its
        statement, stopped, answers with its error), or now when the connection is idle."""
        self._closing = True
        if not self._busy:
            self.kill(KillKind.CONNECTION)

    # --- life cycle ---------------------------------------------------------------------------

    async def _start(self) -> None:
        try:
            await asyncio.wait_for(self.connection_phase(), timeout=self.handshake_timeout)
            await self.session.init(self)
        except (ConnectionClosed, asyncio.IncompleteReadError, ConnectionError):
            return
        except TimeoutError:
            log.info("closing connection %s: no complete handshake within %ss", self.connection_id,
                     self.handshake_timeout)
            return
        except Exception as exc:  # noqa: BLE001 - any failure closes this connection only
            await self.send_error(exc)
            return
        try:
            await self.command_phase()
        except asyncio.CancelledError:
            if self._kill != KillKind.CONNECTION:
                raise
            await self.stream.write(self.error(msg="Session was killed", code=ErrorCode.SESSION_WAS_KILLED))
        finally:
            await self.session.close()

    async def connection_phase(self) -> None:
        plugin = self.identity_provider.get_default_plugin()
        auth_data, auth_state = await plugin.start()
        assert isinstance(auth_data, bytes)
        self.handshake_auth_data, self.handshake_auth_plugin = auth_data, plugin.name
        await self.stream.write(packets.make_handshake_v10(
            capabilities=self.server_capabilities, server_charset=self.server_charset,
            server_version=str(self.session.variables.get("version")), connection_id=self.connection_id,
            auth_data=auth_data, status_flags=self.status_flags, auth_plugin_name=plugin.name))
        response = parse_handshake_response(self.server_capabilities, await self.stream.read())
        if response.username is None:
            raise MalformedPacket("this server does not offer TLS")
        self.capabilities = response.capabilities
        self.max_packet_size = response.max_packet_size
        self.session.variables.set("character_set_client", response.charset.name)
        self.session.database = response.database
        self.client_plugin_name = response.client_plugin
        self.client_connect_attrs = response.connect_attrs
        self.session.variables.set("external_user", response.username, force=True)
        await self.authenticate(auth_state=auth_state, server_plugin=plugin, username=response.username,
                                client_plugin_name=response.client_plugin, auth_response=response.auth_response,
                                connect_attrs=response.connect_attrs)
        self.stream.reset_seq()
        if self.session.username is None:
            raise ConnectionClosed()  # authentication failed; the client has its error

    async def command_phase(self) -> None:
        while True:
            try:
                data = await asyncio.wait_for(self.stream.read(), timeout=self.session.idle_timeout())
            except TimeoutError:
                log.info("closing connection %s: idle for wait_timeout", self.connection_id)
                self.stream.reset_seq()
                await self.stream.write(_error_packet(
                    _CLIENT_INACTIVE, "HY000",
                    "The client was disconnected by the server because of inactivity."))
                return
            except (ConnectionClosed, asyncio.IncompleteReadError, ConnectionError):
                return
            except (MysqlError, CairnError) as exc:  # out of sequence or too large: the stream cannot be trusted
                await self.send_error(exc)
                return
            if not data:
                await self.send_error(MalformedPacket("empty command"))
                self.stream.reset_seq()
                continue
            if data[0] == types.Commands.COM_QUIT:
                return
            self._busy = True
            try:
                await self.dispatch(data[0], data[1:])
            except asyncio.CancelledError:
                if self._kill != KillKind.QUERY:
                    raise
                if self._task is not None:
                    self._task.uncancel()
                self._kill = None
                await self.stream.write(self.error(msg="Query was killed", code=ErrorCode.SESSION_WAS_KILLED))
            except (ConnectionClosed, ConnectionError):
                return
            except Exception as exc:  # noqa: BLE001 - the client gets an error, the server keeps serving
                await self.send_error(exc)
            finally:
                self._busy = False
                self.stream.reset_seq()
            if self._closing:
                return

    async def dispatch(self, command: int, rest: bytes) -> None:
        handlers: dict[int, Callable[[bytes], Awaitable[None]]] = {
            types.Commands.COM_QUERY: self.handle_query,
            types.Commands.COM_STMT_PREPARE: self.handle_stmt_prepare,
            types.Commands.COM_STMT_SEND_LONG_DATA: self.handle_stmt_send_long_data,
            types.Commands.COM_STMT_EXECUTE: self.handle_stmt_execute,
            types.Commands.COM_STMT_FETCH: self.handle_stmt_fetch,
            types.Commands.COM_STMT_RESET: self.handle_stmt_reset,
            types.Commands.COM_STMT_CLOSE: self.handle_stmt_close,
            types.Commands.COM_PING: self.handle_ping,
            types.Commands.COM_CHANGE_USER: self.handle_change_user,
            types.Commands.COM_RESET_CONNECTION: self.handle_reset_connection,
            types.Commands.COM_DEBUG: self.handle_debug,
            types.Commands.COM_INIT_DB: self.handle_init_db,
            types.Commands.COM_FIELD_LIST: self.handle_field_list,
        }
        handler = handlers.get(command)
        if handler is None:
            raise MysqlError(f"Unsupported command: {command:#x}", ErrorCode.UNKNOWN_COM_ERROR)
        await handler(rest)

    async def send_error(self, exc: BaseException) -> None:
        code, sqlstate, message = error_reply(exc)
        try:
            await self.stream.write(_error_packet(code, sqlstate, message))
        except (ConnectionError, RuntimeError):
            pass

    # --- text protocol ------------------------------------------------------------------------

    async def handle_query(self, data: bytes) -> None:
        sql = self._text(data)
        texts = await self.session.split(sql)
        if len(texts) > 1 and Capabilities.CLIENT_MULTI_STATEMENTS not in self.capabilities:
            raise SqlSyntaxError("Getting syntax error. Detail message: a query holds several statements but the "
                                 "client did not enable CLIENT_MULTI_STATEMENTS; nothing was run.")
        if not texts:
            await self.stream.write(self.ok())
            return
        for i, text in enumerate(texts):
            more = ServerStatus.SERVER_MORE_RESULTS_EXISTS if i < len(texts) - 1 else 0
            outcome = await self.session.run(text)
            await self.write_outcome(outcome, flags=more, binary=False)

    async def handle_init_db(self, data: bytes) -> None:
        await self.session.use(self._text(data))
        await self.stream.write(self.ok())

    async def handle_field_list(self, data: bytes) -> None:
        table, _wildcard = parse_field_list(self.client_charset, data)
        for column in await self.session.table_columns(table):
            await self.stream.write(column.definition() + b"\x00", drain=False)
        await self.stream.write(self.ok_or_eof())

    async def handle_change_user(self, data: bytes) -> None:
        request = parse_change_user(self.capabilities, self.client_charset, data)
        self.session.database = request.database
        self.session.username = None
        await self.authenticate(username=request.username, auth_response=request.auth_response,
                                client_plugin_name=request.client_plugin, connect_attrs=request.connect_attrs)
        if self.session.username is None:
            raise ConnectionClosed()  # MySQL closes the connection when COM_CHANGE_USER fails
        await self.session.reset()

    async def handle_reset_connection(self, data: bytes) -> None:
        """COM_RESET_CONNECTION: prepared statements closed, session variables back to their defaults."""
        self.statements.clear()
        await self.session.reset()
        await self.stream.write(self.ok())

    def _text(self, data: bytes) -> str:
        try:
            return str(self.client_charset.decode(data))
        except (UnicodeDecodeError, LookupError):
            raise MalformedPacket("text not in the connection's character set") from None

    async def write_outcome(self, outcome: StatementOutcome, flags: int, binary: bool,
                            cursor_for: PreparedStatement | None = None) -> None:
        """Write one statement's answer: an OK with its counts, or a result set.

        With `cursor_for`, the rows are kept on that statement for COM_STMT_FETCH instead of sent.
        """
        if outcome.columns is None:
            await self.stream.write(self.ok(affected_rows=outcome.affected_rows, flags=flags,
                                            warnings=outcome.warnings))
            return
        columns = outcome.columns
        wire = [column.wire for column in columns]
        self.stream.write_many([packets.make_column_count(self.capabilities, len(columns)),
                                *(column.definition() for column in columns)])
        if cursor_for is not None:
            cursor_for.cursor = self._binary_rows(outcome.rows, wire)
            await self.stream.write(self.ok_or_eof(flags=ServerStatus.SERVER_STATUS_CURSOR_EXISTS))
            return
        if not self.deprecate_eof():
            self.stream.write_many([self.eof()])
        if binary:
            async for row in self._binary_rows(outcome.rows, wire):
                await self.stream.write(row, drain=False)
        else:
            batch = 10_000
            for start in range(0, len(outcome.rows), batch):
                self.stream.write_text_rows(outcome.rows[start:start + batch], wire)
                await asyncio.sleep(0)
        # MySQL sends 0 affected rows here; drivers read the field as an update count.
        await self.stream.write(self.ok_or_eof(flags=flags, warnings=outcome.warnings), drain=False)
        await self.stream.drain()

    async def _binary_rows(self, rows: list[tuple[Any, ...]], columns: list[ResultColumn]) -> AsyncIterator[bytes]:
        for i, row in enumerate(rows):
            yield packets.make_binary_resultrow(row, columns)
            if i % 1000 == 999:
                await asyncio.sleep(0)

    # --- prepared statements ------------------------------------------------------------------

    async def handle_stmt_prepare(self, data: bytes) -> None:
        sql = self._text(data)
        found, columns = await self.session.describe(sql)
        statement_id = next(self.statement_ids)
        statement = PreparedStatement(statement_id, sql, found, columns)
        self.statements[statement_id] = statement
        prepare_ok = b"".join([b"\x00", statement_id.to_bytes(4, "little"), len(columns).to_bytes(2, "little"),
                               statement.param_count.to_bytes(2, "little"), b"\x00", b"\x00\x00"])
        replies = [prepare_ok]
        if statement.param_count:
            replies += [mysql_column("?", pa.string()).definition() for _ in range(statement.param_count)]
            if not self.deprecate_eof():
                replies.append(self.eof())
        if columns:
            replies += [column.definition() for column in columns]
            if not self.deprecate_eof():
                replies.append(self.eof())
        self.stream.write_many(replies)
        await self.stream.drain()

    def _statement(self, statement_id: int) -> PreparedStatement:
        statement = self.statements.get(statement_id)
        if statement is None:
            raise UnknownStatementError(f"Unknown prepared statement handler ({statement_id}) given to "
                                        "mysqld_stmt_execute")
        return statement

    async def handle_stmt_send_long_data(self, data: bytes) -> None:
        statement = self._statement(parse_execute_header(data))
        if len(data) < 6:
            raise MalformedPacket("COM_STMT_SEND_LONG_DATA without a parameter number")
        param = int.from_bytes(data[4:6], "little")
        statement.long_data.setdefault(param, bytearray()).extend(data[6:])  # no reply, by protocol

    async def handle_stmt_execute(self, data: bytes) -> None:
        statement = self._statement(parse_execute_header(data))
        request = parse_execute(data, self.client_charset, statement.param_count, statement.param_types,
                                statement.long_data)
        statement.param_types = request.types
        statement.long_data = {}
        statement.cursor = None
        outcome = await self.session.run(bind(statement, request.values))
        await self.write_outcome(outcome, flags=0, binary=True,
                                 cursor_for=statement if request.use_cursor else None)

    async def handle_stmt_fetch(self, data: bytes) -> None:
        statement = self._statement(parse_execute_header(data))
        if len(data) < 8:
            raise MalformedPacket("COM_STMT_FETCH without a row count")
        wanted = int.from_bytes(data[4:8], "little")
        if statement.cursor is None:
            raise UnknownStatementError(f"The prepared statement ({statement.statement_id}) has no open cursor")
        sent = 0
        while sent < wanted:
            try:
                row = await statement.cursor.__anext__()
            except StopAsyncIteration:
                statement.cursor = None
                break
            await self.stream.write(row, drain=False)
            sent += 1
        status = ServerStatus.SERVER_STATUS_LAST_ROW_SENT if statement.cursor is None \
            else ServerStatus.SERVER_STATUS_CURSOR_EXISTS
        await self.stream.write(self.ok_or_eof(flags=status))

    async def handle_stmt_reset(self, data: bytes) -> None:
        statement = self._statement(parse_execute_header(data))
        statement.long_data, statement.cursor = {}, None
        await self.stream.write(self.ok())

    async def handle_stmt_close(self, data: bytes) -> None:
        self.statements.pop(parse_execute_header(data), None)  # no reply, by protocol
