"""The MySQL protocol as packets: EOF rules, prepared statements, affected rows, stacked
statements, timeouts and refusals, against a real `cairn fe` process."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pymysql
import pytest
from fe_process import FeProcess, module_fe, start_local_fe  # noqa: F401 - module_fe is the `fe` fixture
from mysql_wire import (
    BASE_CAPABILITIES,
    COM_QUERY,
    COM_RESET_CONNECTION,
    COM_STMT_EXECUTE,
    COM_STMT_PREPARE,
    DEPRECATE_EOF,
    MULTI_STATEMENTS,
    Closed,
    Packet,
    WireClient,
    lenenc,
    ok_counts,
)
from pymysql.constants import CLIENT

MORE_RESULTS_EXISTS = 0x08
CLOSE_WAIT_SECONDS = 60  # an upper bound for the server to close a connection, never a measurement


def connect(fe: FeProcess, **kwargs: object) -> pymysql.connections.Connection:
    return pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True, **kwargs)


@pytest.fixture(scope="module")
def victim(fe: FeProcess) -> str:
    with connect(fe) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE proto")
        cursor.execute("CREATE TABLE proto.victim (k INT, v VARCHAR(10)) DISTRIBUTED BY HASH(k)")
        cursor.execute("INSERT INTO proto.victim VALUES (1, 'a'), (2, 'b')")
    return "proto.victim"


def read_until_end(client: WireClient, deprecate_eof: bool) -> list[Packet]:
    """Every packet of one text result set: column count, definitions, (EOF), rows, end."""
    packets = [client.read()]
    if packets[0].is_ok or packets[0].is_err:
        return packets
    columns, _ = lenenc(packets[0].payload, 0)
    packets += [client.read() for _ in range(columns)]
    if not deprecate_eof:
        packets.append(client.read())
        assert packets[-1].is_eof
    while True:
        packets.append(client.read())
        last = packets[-1]
        if last.is_err or (last.payload[:1] == b"\xfe" and len(last.payload) < 0xFFFFFF):
            return packets


# --- result sets and OK packets --------------------------------------------------------------


@pytest.mark.parametrize("deprecate_eof", [True, False])
def test_a_result_set_ends_with_zero_affected_rows(fe: FeProcess, victim: str, deprecate_eof: bool) -> None:
    client = WireClient(fe.query_port)
    assert client.login(BASE_CAPABILITIES | (DEPRECATE_EOF if deprecate_eof else 0)).is_ok
    client.send(bytes([COM_QUERY]) + f"SELECT k, v FROM {victim} ORDER BY k".encode())
    packets = read_until_end(client, deprecate_eof)
    rows = packets[1 + 2 + (0 if deprecate_eof else 1):-1]
    assert len(rows) == 2
    end = packets[-1]
    if deprecate_eof:  # an OK with the 0xFE header: MySQL puts 0 in its affected rows
        assert ok_counts(end)[0] == 0
    else:
        assert end.is_eof
    client.close()


def test_insert_reports_the_rows_it_inserted(fe: FeProcess, victim: str) -> None:
    with connect(fe) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE proto.counted (k INT) DISTRIBUTED BY HASH(k)")
        assert cursor.execute("INSERT INTO proto.counted VALUES (1), (2), (3)") == 3
        assert cursor.execute("INSERT INTO proto.counted SELECT k + 10 FROM proto.counted WHERE k < 3") == 2
        assert cursor.execute("INSERT INTO proto.counted SELECT k FROM proto.counted WHERE k > 100") == 0
        assert cursor.execute("CREATE TABLE proto.empty (k INT) DISTRIBUTED BY HASH(k)") == 0


# --- prepared statements ---------------------------------------------------------------------


def prepare(client: WireClient, sql: str, deprecate_eof: bool) -> tuple[int, list[Packet], list[Packet]]:
    """COM_STMT_PREPARE: (statement id, parameter definitions, column definitions)."""
    reply = client.command(COM_STMT_PREPARE, sql.encode())
    assert reply.is_ok, reply.error_message
    statement_id, columns, params = struct.unpack("<IHH", reply.payload[1:9])
    param_defs = [client.read() for _ in range(params)]
    if params and not deprecate_eof:
        assert client.read().is_eof
    column_defs = [client.read() for _ in range(columns)]
    if columns and not deprecate_eof:
        assert client.read().is_eof
    return statement_id, param_defs, column_defs


def column_name(definition: Packet) -> str:
    pos = 0
    for _ in range(4):  # catalog, schema, table, org_table
        size, pos = lenenc(definition.payload, pos)
        pos += size
    size, pos = lenenc(definition.payload, pos)
    return definition.payload[pos:pos + size].decode()


@pytest.mark.parametrize("deprecate_eof", [True, False])
def test_prepare_answers_parameters_and_columns_by_the_agreed_eof_rules(fe: FeProcess, victim: str,
                                                                        deprecate_eof: bool) -> None:
    client = WireClient(fe.query_port)
    assert client.login(BASE_CAPABILITIES | (DEPRECATE_EOF if deprecate_eof else 0)).is_ok
    statement_id, params, columns = prepare(client, f"SELECT k, v, k * ? AS scaled FROM {victim} WHERE k > ?",
                                            deprecate_eof)
    assert len(params) == 2
    assert [column_name(c) for c in columns] == ["k", "v", "scaled"]
    # The next reply is the next command's, not a stray EOF: the exchange stayed in step.
    assert client.command(COM_QUERY, b"SELECT 1").payload[:1] == b"\x01"
    client.close()
    assert statement_id > 0


def execute_body(statement_id: int, values: list[int | str]) -> bytes:
    """COM_STMT_EXECUTE with BIGINT and VARCHAR parameters."""
    body = struct.pack("<IBI", statement_id, 0, 1)
    if values:
        body += bytes((len(values) + 7) // 8) + b"\x01"
        body += b"".join(b"\xfd\x00" if isinstance(v, str) else b"\x08\x00" for v in values)
        for value in values:
            if isinstance(value, str):
                raw = value.encode()
                body += bytes([len(raw)]) + raw
            else:
                body += struct.pack("<q", value)
    return body


def test_execute_binds_values_and_reports_affected_rows(fe: FeProcess, victim: str) -> None:
    client = WireClient(fe.query_port)
    assert client.login(BASE_CAPABILITIES | DEPRECATE_EOF).is_ok
    client.command(COM_QUERY, b"CREATE TABLE proto.bound (k BIGINT) DISTRIBUTED BY HASH(k)")
    statement_id, params, columns = prepare(client, "INSERT INTO proto.bound VALUES (?), (?)", True)
    assert len(params) == 2 and columns == []
    reply = client.command(COM_STMT_EXECUTE, execute_body(statement_id, [7, -8]))
    assert reply.is_ok and ok_counts(reply)[0] == 2
    client.close()
    with connect(fe) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT k FROM proto.bound ORDER BY k")
        assert cursor.fetchall() == ((-8,), (7,))


def test_a_bound_string_is_a_value_never_sql(fe: FeProcess, victim: str) -> None:
    client = WireClient(fe.query_port)
    assert client.login(BASE_CAPABILITIES | DEPRECATE_EOF).is_ok
    statement_id, params, columns = prepare(client, f"SELECT count(*) AS n FROM {victim} WHERE v = ? OR v = ?", True)
    assert len(params) == 2 and [column_name(c) for c in columns] == ["n"]
    for values, expected in [(["a' OR '1'='1", "?"], 0), (["a", "b\\' --"], 1), (["b", "a"], 2)]:
        client.send(bytes([COM_STMT_EXECUTE]) + execute_body(statement_id, values))
        packets = read_until_end(client, True)
        row = packets[2].payload  # binary row: header, NULL bitmap, then the BIGINT
        assert struct.unpack("<q", row[2:10])[0] == expected, values
    client.close()


# --- stacked statements ----------------------------------------------------------------------


def test_stacked_statements_without_the_flag_are_refused_and_run_nothing(fe: FeProcess, victim: str) -> None:
    with connect(fe) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE proto.stacked (k INT) DISTRIBUTED BY HASH(k)")
        with pytest.raises(pymysql.err.ProgrammingError) as refused:
            cursor.execute("SELECT 1; DROP TABLE proto.stacked")
        assert refused.value.args[0] == 1064 and "CLIENT_MULTI_STATEMENTS" in refused.value.args[1]
        with pytest.raises(pymysql.err.ProgrammingError):
            cursor.execute("INSERT INTO proto.stacked VALUES (1); SELECT 1")
        cursor.execute("SELECT count(*) FROM proto.stacked")
        assert cursor.fetchone() == (0,)


def test_multi_statements_return_every_result_and_stop_at_the_first_error(fe: FeProcess, victim: str) -> None:
    with connect(fe, client_flag=CLIENT.MULTI_STATEMENTS) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE proto.multi (k INT) DISTRIBUTED BY HASH(k); "
                       "INSERT INTO proto.multi VALUES (1), (2); SELECT 'a' AS x; SELECT k FROM proto.multi ORDER BY k")
        assert cursor.rowcount == 0
        assert cursor.nextset() and cursor.rowcount == 2
        assert cursor.nextset() and cursor.fetchall() == (("a",),)
        assert cursor.nextset() and cursor.fetchall() == ((1,), (2,))
        assert not cursor.nextset()
        cursor.execute("SELECT 5; SELECT nope FROM proto.multi; INSERT INTO proto.multi VALUES (3)")
        assert cursor.fetchall() == ((5,),)
        with pytest.raises(pymysql.err.OperationalError) as failed:
            cursor.nextset()
        assert failed.value.args[0] == 1054
        cursor.execute("SELECT count(*) FROM proto.multi")
        assert cursor.fetchone() == (2,)


def test_multi_statement_results_carry_more_results_exists(fe: FeProcess) -> None:
    client = WireClient(fe.query_port)
    assert client.login(BASE_CAPABILITIES | DEPRECATE_EOF | MULTI_STATEMENTS).is_ok
    client.send(bytes([COM_QUERY]) + b"SELECT 1; SELECT 2")
    first = read_until_end(client, True)
    second = read_until_end(client, True)
    assert ok_counts(first[-1])[2] & MORE_RESULTS_EXISTS
    assert not ok_counts(second[-1])[2] & MORE_RESULTS_EXISTS
    client.close()


# --- refusals that keep the server serving -----------------------------------------------------


def test_deep_nesting_is_a_syntax_error_and_the_server_keeps_serving(fe: FeProcess) -> None:
    with connect(fe) as connection, connection.cursor() as cursor:
        with pytest.raises(pymysql.err.ProgrammingError) as refused:
            cursor.execute("SELECT " + "(" * 5000 + "1" + ")" * 5000)
        code, message = refused.value.args
        assert code == 1064 and "nested too deeply" in message
        assert "Traceback" not in message and "RecursionError" not in message
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_malformed_packet_gets_error_1835(fe: FeProcess) -> None:
    client = WireClient(fe.query_port)
    assert client.login().is_ok
    reply = client.command(COM_STMT_EXECUTE, b"\x01\x00")  # a statement id cut short
    assert reply.is_err and reply.error_code == 1835
    assert client.command(COM_QUERY, b"SELECT 1").payload[:1] == b"\x01"
    client.close()


# --- timeouts --------------------------------------------------------------------------------


def test_wait_timeout_is_a_session_variable_that_closes_idle_connections(fe: FeProcess) -> None:
    with connect(fe) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW VARIABLES LIKE 'wait_timeout'")
        assert cursor.fetchall() == (("wait_timeout", "28800"),)
        cursor.execute("SELECT @@wait_timeout")
        assert cursor.fetchone() == (28800,)
    client = WireClient(fe.query_port)
    assert client.login().is_ok
    assert client.command(COM_QUERY, b"SET wait_timeout = 1").is_ok
    assert client.wait_closed(CLOSE_WAIT_SECONDS)
    client.close()
    # A connection that keeps talking is not idle.
    with connect(fe) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@wait_timeout")
        assert cursor.fetchone() == (28800,)


@pytest.fixture(scope="module")
def impatient_fe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeProcess]:
    """An FE that closes a connection whose handshake is not done after 3 seconds."""
    process = start_local_fe(tmp_path_factory.mktemp("impatient"), mysql_handshake_timeout_second="3")
    yield process
    process.stop()


@pytest.mark.parametrize("sent", [b"", b"\x20\x00", b"\x40\x00\x00\x01" + b"\x00" * 10],
                         ids=["nothing", "half-a-header", "half-a-packet"])
def test_an_unfinished_handshake_is_closed(impatient_fe: FeProcess, sent: bytes) -> None:
    client = WireClient(impatient_fe.query_port)
    assert client.greeting().payload[:1] == b"\x0a"
    client.sock.sendall(sent)
    assert client.wait_closed(CLOSE_WAIT_SECONDS)
    client.close()
    with connect(impatient_fe) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_garbage_handshake_is_refused(fe: FeProcess) -> None:
    client = WireClient(fe.query_port)
    client.greeting()
    client.send(b"\xff" * 40 + b"no terminating nul", seq=1)  # a user name that never ends
    try:
        reply = client.read()
        assert reply.is_err and reply.error_code == 1835
    except (TimeoutError, Closed) as exc:
        raise AssertionError("the server should answer a malformed handshake") from exc
    client.close()


def test_reset_connection_restores_defaults_and_closes_statements(fe: FeProcess, victim: str) -> None:
    client = WireClient(fe.query_port)
    assert client.login(BASE_CAPABILITIES | DEPRECATE_EOF, database="proto").is_ok
    assert client.command(COM_QUERY, b"SET wait_timeout = 77").is_ok
    statement_id, _, _ = prepare(client, "SELECT ?", True)
    assert client.command(COM_RESET_CONNECTION, b"").is_ok
    client.send(bytes([COM_QUERY]) + b"SELECT @@wait_timeout, DATABASE()")
    packets = read_until_end(client, True)
    assert packets[-2].payload == b"\x0528800\x05proto"  # the default again, in the same database
    reply = client.command(COM_STMT_EXECUTE, execute_body(statement_id, [1]))
    assert reply.is_err and reply.error_code == 1243
    client.close()


def test_connections_cut_off_mid_handshake_leave_no_traceback(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Clients that drop mid-handshake, and a stop while one is mid-handshake and one is idle, are
    ordinary ends of a connection: the log shows no traceback."""
    process = start_local_fe(tmp_path_factory.mktemp("cut-off"))
    for sent in (b"", b"\x20\x00", b"\x40\x00\x00\x01" + b"\x00" * 10):
        client = WireClient(process.query_port)
        client.greeting()
        client.sock.sendall(sent)
        client.close()
    pending = WireClient(process.query_port)
    pending.greeting()
    idle = connect(process)
    process.stop()
    pending.close()
    idle.close()
    log = process.log.read_text()
    assert "Traceback" not in log and "CancelledError" not in log, log
