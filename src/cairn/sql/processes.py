"""SHOW [FULL] PROCESSLIST and KILL [CONNECTION | QUERY] <id>, over this FE's connections
(`Frontend.connections`), as StarRocks runs them.

A user sees and kills their own connections; others' need the OPERATE privilege (GRANT OPERATE ON
SYSTEM; root and ALL on *.* hold it). Neither is forwarded: a connection lives on one FE, so they
act on the FE they run on, a follower's connections included. KILL QUERY stops the statement the
connection runs (its client gets ER_QUERY_INTERRUPTED, 1317; a distributed query's tasks stop on
every node); KILL and KILL CONNECTION also close the connection.
"""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from cairn.auth.privileges import has_privilege
from cairn.display import format_time
from cairn.errors import PrivilegeError, UnknownThreadError
from cairn.fe.connections import ClientConnection
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.sql.refusals import not_supported
from cairn.sql.registry import StatementRegistry, nothing
from cairn.sql.result import ResultSet

# SHOW PROCESSLIST shows this much of a statement's text; SHOW FULL PROCESSLIST all of it.
INFO_CHARS = 100
_COLUMNS = ["Id", "User", "Host", "Db", "Command", "ConnectionStartTime", "Time", "State", "Info", "IsPending"]
_TYPES = [pa.int64(), pa.string(), pa.string(), pa.string(), pa.string(), pa.string(), pa.int64(), pa.string(),
          pa.string(), pa.string()]


def _may_operate(query: QueryContext, fe: Frontend) -> bool:
    return has_privilege(fe.catalog.state, query.user, "OPERATE")


def _operate_denied(query: QueryContext) -> PrivilegeError:
    return PrivilegeError("Access denied; you need (at least one of) the OPERATE privilege(s) on SYSTEM for this "
                          f"operation. User: '{query.user}'@'%'.")


def show_processlist(query: QueryContext, fe: Frontend, statement: exp.Show) -> ResultSet:
    """This FE's connections: every one for a user with OPERATE, otherwise the user's own."""
    every = _may_operate(query, fe)
    full = bool(statement.args.get("full"))
    rows = []
    for connection in fe.connections.all():
        if not every and connection.user != query.user:
            continue
        row = connection.process_row()
        info = row.info if full else row.info[:INFO_CHARS]
        rows.append((row.id, row.user, row.host, row.database, row.command, format_time(row.connection_start_time),
                     row.time, row.state, info, "true" if row.is_pending else "false"))
    return ResultSet.from_rows(_COLUMNS, rows, _TYPES)


def _target(query: QueryContext, fe: Frontend, statement: exp.Kill) -> ClientConnection:
    target = statement.this
    if isinstance(target, exp.Literal) and target.is_string:
        raise not_supported("KILL QUERY by query id (KILL takes a connection id, as SHOW PROCESSLIST lists them)")
    if not (isinstance(target, exp.Literal) and target.is_int):
        raise not_supported(f"KILL {target.sql(dialect='starrocks')}")
    connection_id = int(target.this)
    connection = fe.connections.get(connection_id)
    if connection is None:
        raise UnknownThreadError(f"Unknown thread id: {connection_id}")
    if connection.user != query.user and not _may_operate(query, fe):
        raise _operate_denied(query)
    return connection


def kill(query: QueryContext, fe: Frontend, statement: exp.Kill) -> ResultSet:
    """KILL QUERY <id> stops the connection's running statement; KILL [CONNECTION] <id> also closes it."""
    kind = statement.args.get("kind")
    connection = _target(query, fe, statement)
    if kind is not None and kind.name.upper() == "QUERY":
        connection.kill_query()
    else:
        connection.kill_connection()
    return ResultSet.ok()


def register(statements: StatementRegistry) -> None:
    """Add this module's statements; each checks OPERATE itself, for another user's connection."""
    statements.add(exp.Kill, kill, needs=nothing)
    statements.add_show("PROCESSLIST", show_processlist)
