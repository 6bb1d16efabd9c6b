"""Fuzzing the MySQL protocol on a raw socket with hypothesis: random and mutated handshake
responses, command packets and framings. The FE never dies (a fresh client still logs in and runs
SELECT 1), never answers with a Python traceback, and nothing durable changes (the journal
position and the rows of a table stay as they were). CAIRN_FUZZ_EXAMPLES sets the example count."""

from __future__ import annotations

import os
import re
import socket
import struct
import urllib.request

import pymysql
import pytest
from fe_process import FeProcess, module_fe  # noqa: F401 - module_fe is the `fe` fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mysql_wire import BASE_CAPABILITIES, DEPRECATE_EOF, MULTI_STATEMENTS, WireClient

EXAMPLES = int(os.environ.get("CAIRN_FUZZ_EXAMPLES", "150"))
REPLY_WAIT_SECONDS = 0.5  # how long to collect an answer before hanging up; a slow answer is skipped, not failed
LEAKS = (b"Traceback", b'File "', b"struct.error")  # what a Python traceback or raw exception shows

COMMANDS = [0x01, 0x02, 0x03, 0x04, 0x05, 0x0A, 0x0E, 0x11, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1C, 0x1F]


def _answer(sock: socket.socket) -> bytes:
    """Whatever the server sends: up to a first packet that is an OK or an error, or until it
    closes or goes quiet (a result set, or a command with no reply)."""
    sock.settimeout(REPLY_WAIT_SECONDS)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
            length = int.from_bytes(received[:3], "little")
            if len(received) >= 4 + length and received[4:5] in (b"\x00", b"\xff"):
                break
    except (TimeoutError, ConnectionError):
        pass
    return received


def _framed(payload: bytes, seq: int) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq]) + payload


def _mutate(data: bytes, draw_positions: list[tuple[int, int]], cut: int | None, extra: bytes) -> bytes:
    mutated = bytearray(data)
    for position, value in draw_positions:
        if mutated:
            mutated[position % len(mutated)] = value
    if cut is not None:
        mutated = mutated[:cut % (len(mutated) + 1)]
    return bytes(mutated) + extra


def journal_id(fe: FeProcess) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{fe.http_port}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    match = re.search(r"^cairn_journal_id (\S+)$", text, re.MULTILINE)
    assert match, "the FE reports cairn_journal_id"
    return float(match.group(1))


def durable_state(fe: FeProcess) -> tuple[object, ...]:
    """The journal position and the kept table's rows; a fresh login running queries proves the FE serves."""
    connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
        cursor.execute("SELECT k, v FROM kept.t ORDER BY k")
        rows = cursor.fetchall()
    connection.close()
    return journal_id(fe), rows


@pytest.fixture(scope="module")
def baseline(fe: FeProcess) -> tuple[object, ...]:
    connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True)
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE kept")
        cursor.execute("CREATE TABLE kept.t (k INT, v VARCHAR(10)) DISTRIBUTED BY HASH(k)")
        cursor.execute("INSERT INTO kept.t VALUES (1, 'a'), (2, 'b')")
    connection.close()
    return durable_state(fe)


def check(fe: FeProcess, baseline: tuple[object, ...], answer: bytes) -> None:
    for leak in LEAKS:
        assert leak not in answer, answer
    assert fe.proc.poll() is None, "the FE died"
    assert durable_state(fe) == baseline


fuzz = settings(max_examples=max(5, EXAMPLES // 15), deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
flips = st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=4)


@fuzz
@given(flips=flips, cut=st.none() | st.integers(0, 200), extra=st.binary(max_size=40),
       capabilities=st.integers(0, 0xFFFFFFFF), random_body=st.none() | st.binary(max_size=120))
def test_mutated_handshake_responses(fe: FeProcess, baseline: tuple[object, ...], flips: list[tuple[int, int]],
                                     cut: int | None, extra: bytes, capabilities: int,
                                     random_body: bytes | None) -> None:
    client = WireClient(fe.query_port)
    client.greeting()
    valid = client.handshake_response(capabilities | BASE_CAPABILITIES, database="kept")
    body = random_body if random_body is not None else _mutate(valid, flips, cut, extra)
    client.sock.sendall(_framed(body, 1))
    answer = _answer(client.sock)
    client.close()
    check(fe, baseline, answer)


@fuzz
@given(command=st.sampled_from(COMMANDS) | st.integers(0, 255), payload=st.binary(max_size=200),
       seq=st.sampled_from([0, 0, 0, 1, 255]), declared=st.none() | st.integers(0, 300),
       capabilities=st.sampled_from([BASE_CAPABILITIES, BASE_CAPABILITIES | DEPRECATE_EOF | MULTI_STATEMENTS]))
def test_random_command_packets(fe: FeProcess, baseline: tuple[object, ...], command: int, payload: bytes, seq: int,
                                declared: int | None, capabilities: int) -> None:
    client = WireClient(fe.query_port)
    assert client.login(capabilities).is_ok
    body = bytes([command]) + payload
    length = len(body) if declared is None else declared  # a header that lies about the payload's size
    client.sock.sendall(length.to_bytes(3, "little") + bytes([seq]) + body)
    answer = _answer(client.sock)
    client.close()
    check(fe, baseline, answer)


@fuzz
@given(params=st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=12)), max_size=4),
       flags=st.integers(0, 255), bound=st.sampled_from([0, 1]), nulls=st.binary(max_size=2))
def test_mutated_statement_executions(fe: FeProcess, baseline: tuple[object, ...],
                                      params: list[tuple[int, bytes]], flags: int, bound: int, nulls: bytes) -> None:
    client = WireClient(fe.query_port)
    assert client.login(BASE_CAPABILITIES | DEPRECATE_EOF).is_ok
    reply = client.command(0x16, b"SELECT k FROM kept.t WHERE k = ? OR v = ?")
    assert reply.is_ok
    statement_id = struct.unpack("<I", reply.payload[1:5])[0]
    for _ in range(3):  # two parameter definitions, one column definition
        client.read()
    body = struct.pack("<IBI", statement_id, flags, 1) + nulls + bytes([bound])
    body += b"".join(bytes([t, 0]) for t, _ in params) + b"".join(v for _, v in params)
    client.send(b"\x17" + body)
    answer = _answer(client.sock)
    client.close()
    check(fe, baseline, answer)
