"""Controlling running queries on the embedded engine, over the MySQL protocol of a real `cairn fe`:
SHOW PROCESSLIST, KILL QUERY / KILL CONNECTION (StarRocks' semantics and privileges), and the
per-query memory limit (`query_mem_limit`). The distributed engine's side is in
test_distributed_cluster.py."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
from conftest import wait_until
from fe_cluster import FeCluster
from fe_process import FeProcess, module_fe, run_sql
from sql_client import RunningStatement

__all__ = ["module_fe"]

# About 10^12 joined rows: runs until it is stopped.
ENDLESS = ("SELECT count(*) FROM qc.small a, qc.small b, qc.small c, qc.small d "
           "WHERE a.x + b.x + c.x + d.x > -1")


def connect(fe: FeProcess, user: str = "root", password: str = "") -> Any:
    return pymysql.connect(host="127.0.0.1", port=fe.query_port, user=user, password=password, autocommit=True,
                           connect_timeout=10, read_timeout=120)


def rows(connection: Any, sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


@pytest.fixture(scope="module", autouse=True)
def tables(fe: FeProcess) -> Iterator[None]:
    values = ", ".join(f"({i})" for i in range(1000))
    run_sql(fe, "CREATE DATABASE qc",
            "CREATE TABLE qc.small (x INT) DUPLICATE KEY(x) DISTRIBUTED BY HASH(x) BUCKETS 1",
            f"INSERT INTO qc.small VALUES {values}",
            "CREATE TABLE qc.big (k BIGINT, v BIGINT, s VARCHAR(64)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2",
            "INSERT INTO qc.big SELECT a.x * 1000 + b.x, a.x, concat('value-', a.x * 1000 + b.x) "
            "FROM qc.small a, qc.small b")
    yield


def processlist(fe: FeProcess, connection: Any | None = None) -> dict[int, tuple]:
    found = rows(connection, "SHOW FULL PROCESSLIST") if connection is not None else run_sql(fe, "SHOW FULL PROCESSLIST")
    return {int(r[0]): r for r in found}


def running(fe: FeProcess, connection_id: int) -> bool:
    row = processlist(fe).get(connection_id)
    return row is not None and row[4] == "Query"


def test_one_id_names_a_connection_everywhere(fe: FeProcess) -> None:
    connection = connect(fe)
    try:
        (own,), = rows(connection, "SELECT CONNECTION_ID()")
        assert own == connection.thread_id()
        with connection.cursor() as cursor:
            cursor.execute("SHOW PROCESSLIST")
            columns = [d[0] for d in cursor.description]
            listed = {int(r[0]): r for r in cursor.fetchall()}
        assert columns == ["Id", "User", "Host", "Db", "Command", "ConnectionStartTime", "Time", "State", "Info",
                           "IsPending"]
        row = listed[own]
        assert row[1] == "root" and row[4] == "Query" and row[8] == "SHOW PROCESSLIST" and row[9] == "false"
    finally:
        connection.close()


def test_kill_query_stops_the_statement_and_keeps_the_connection(fe: FeProcess) -> None:
    victim = RunningStatement(connect(fe), ENDLESS)
    wait_until(lambda: running(fe, victim.id), timeout=30, what="the query running")
    assert ENDLESS in processlist(fe)[victim.id][8]
    run_sql(fe, f"KILL QUERY {victim.id}")
    error = victim.finished()
    assert isinstance(error, pymysql.MySQLError) and error.args[0] == 1317, error
    assert "interrupted" in str(error)
    # The connection stays, and its next statement runs.
    assert rows(victim.connection, "SELECT 1") == [(1,)]
    assert processlist(fe)[victim.id][4] == "Sleep"
    victim.connection.close()


def test_kill_query_stops_an_insert_select_and_loads_nothing(fe: FeProcess) -> None:
    run_sql(fe, "CREATE TABLE qc.killed_insert (n BIGINT) DUPLICATE KEY(n) DISTRIBUTED BY HASH(n) BUCKETS 1")
    victim = RunningStatement(connect(fe), f"INSERT INTO qc.killed_insert {ENDLESS}")
    wait_until(lambda: running(fe, victim.id), timeout=30, what="the INSERT running")
    run_sql(fe, f"KILL QUERY {victim.id}")
    error = victim.finished()
    assert isinstance(error, pymysql.MySQLError) and error.args[0] == 1317, error
    assert rows(victim.connection, "SELECT count(*) FROM qc.killed_insert") == [(0,)]
    victim.connection.close()


def test_kill_connection_stops_the_statement_and_closes_the_connection(fe: FeProcess) -> None:
    victim = RunningStatement(connect(fe), ENDLESS)
    wait_until(lambda: running(fe, victim.id), timeout=30, what="the query running")
    run_sql(fe, f"KILL {victim.id}")
    error = victim.finished()
    assert isinstance(error, pymysql.MySQLError), error
    wait_until(lambda: victim.id not in processlist(fe), timeout=30, what="the connection gone")
    with pytest.raises((pymysql.MySQLError, OSError)):
        rows(victim.connection, "SELECT 1")
    # An idle connection is closed too.
    idle = connect(fe)
    run_sql(fe, f"KILL CONNECTION {idle.thread_id()}")
    wait_until(lambda: idle.thread_id() not in processlist(fe), timeout=30, what="the idle connection gone")
    with pytest.raises((pymysql.MySQLError, OSError)):
        rows(idle, "SELECT 1")


def test_killing_another_users_query_needs_operate(fe: FeProcess) -> None:
    run_sql(fe, "CREATE USER alice IDENTIFIED BY 'a'", "CREATE USER bob IDENTIFIED BY 'b'",
            "GRANT SELECT ON qc.* TO alice", "GRANT SELECT ON qc.* TO bob")
    alice = connect(fe, "alice", "a")
    victim = RunningStatement(connect(fe), ENDLESS)
    try:
        wait_until(lambda: running(fe, victim.id), timeout=30, what="root's query running")
        # alice sees only her own connections, and may not kill root's query.
        assert set(processlist(fe, alice)) == {alice.thread_id()}
        with pytest.raises(pymysql.MySQLError) as denied:
            rows(alice, f"KILL QUERY {victim.id}")
        assert denied.value.args[0] == 1142 and "OPERATE" in denied.value.args[1]
        assert running(fe, victim.id)
        with pytest.raises(pymysql.MySQLError) as unknown:
            rows(alice, "KILL 987654")
        assert unknown.value.args == (1094, "Unknown thread id: 987654")
        # A user kills their own queries without any privilege.
        own = RunningStatement(connect(fe, "alice", "a"), ENDLESS)
        wait_until(lambda: running(fe, own.id), timeout=30, what="alice's query running")
        rows(alice, f"KILL QUERY {own.id}")
        assert getattr(own.finished(), "args", (None,))[0] == 1317
        own.connection.close()
        # With OPERATE, alice sees every connection and kills root's query.
        run_sql(fe, "GRANT OPERATE ON SYSTEM TO alice")
        assert "GRANT OPERATE ON SYSTEM TO 'alice'@'%'" in [r[-1] for r in run_sql(fe, "SHOW GRANTS FOR alice")]
        assert victim.id in processlist(fe, alice)
        rows(alice, f"KILL QUERY {victim.id}")
        assert getattr(victim.finished(), "args", (None,))[0] == 1317
        with pytest.raises(pymysql.MySQLError, match="SYSTEM"):
            run_sql(fe, "GRANT OPERATE ON qc.* TO bob")
    finally:
        victim.connection.close()
        alice.close()


AGGREGATE = "SELECT k % 200000 AS g, count(*), max(s), sum(v) FROM qc.big GROUP BY g ORDER BY g LIMIT 3"
JOIN = "SELECT count(*), max(a.s) FROM qc.big a JOIN qc.big b ON a.k = b.k"


def test_query_mem_limit_spills_or_fails_clearly_and_the_fe_stays_up(fe: FeProcess) -> None:
    connection = connect(fe)
    try:
        want_aggregate, want_join = rows(connection, AGGREGATE), rows(connection, JOIN)
        rows(connection, "SET query_mem_limit = 67108864")
        assert rows(connection, "SELECT @@query_mem_limit") == [(67108864,)]
        # 64 MiB: DuckDB spills the aggregation and the join to disk and answers the same.
        assert rows(connection, AGGREGATE) == want_aggregate
        assert rows(connection, JOIN) == want_join
        # Far too little to run them at all: StarRocks' error, and the FE serves on.
        rows(connection, "SET query_mem_limit = 1048576")
        with pytest.raises(pymysql.MySQLError) as exceeded:
            rows(connection, JOIN)
        code, message = exceeded.value.args
        assert code == 1064 and "exceed limit" in message and "query_mem_limit" in message, message
        with pytest.raises(pymysql.MySQLError, match="query_mem_limit must be a number of bytes"):
            rows(connection, "SET query_mem_limit = 'lots'")
            rows(connection, "SELECT count(*) FROM qc.small")
        rows(connection, "SET query_mem_limit = 0")
        assert rows(connection, JOIN) == want_join
    finally:
        connection.close()


def leader_running_statements(fe: FeProcess) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{fe.http_port}/metrics", timeout=10) as answer:
        metrics = answer.read().decode()
    return float(re.search(r"^cairn_running_statements (\S+)$", metrics, re.M).group(1))


def test_kill_on_a_follower_stops_its_own_and_its_forwarded_statements(tmp_path: Path) -> None:
    cluster = FeCluster(tmp_path, {"local_storage_path": str(tmp_path / "storage"),
                                   "bdbje_heartbeat_timeout_second": "3"})
    try:
        leader = cluster.new_fe()
        cluster.start(leader)
        follower = cluster.add(leader)
        values = ", ".join(f"({i})" for i in range(1000))
        cluster.sql(leader, "CREATE DATABASE qc",
                    "CREATE TABLE qc.small (x INT) DUPLICATE KEY(x) DISTRIBUTED BY HASH(x) BUCKETS 1",
                    f"INSERT INTO qc.small VALUES {values}")
        wait_until(lambda: cluster.sql_or_none(follower, "SELECT count(*) FROM qc.small") == [(1000,)],
                   what="the follower to replay")
        victim = RunningStatement(connect(follower.running), ENDLESS)
        wait_until(lambda: running(follower.running, victim.id), timeout=30, what="the query running on the follower")
        # KILL is not forwarded: the follower stops its own connection's query.
        cluster.sql(follower, f"KILL QUERY {victim.id}")
        assert getattr(victim.finished(), "args", (None,))[0] == 1317
        assert rows(victim.connection, "SELECT count(*) FROM qc.small") == [(1000,)]
        victim.connection.close()
        # A write the follower forwarded runs on the leader: KILL on the follower stops it there.
        cluster.sql(leader, "CREATE TABLE qc.counted (n BIGINT) DUPLICATE KEY(n) DISTRIBUTED BY HASH(n) BUCKETS 1")
        writer = RunningStatement(connect(follower.running), f"INSERT INTO qc.counted {ENDLESS}")
        wait_until(lambda: leader_running_statements(leader.running) >= 1, timeout=30,
                   what="the forwarded INSERT running on the leader")
        cluster.sql(follower, f"KILL QUERY {writer.id}")
        error = writer.finished()
        assert getattr(error, "args", (None,))[0] == 1317, error
        assert f"KILL QUERY {writer.id}" in str(error), "the client hears of its own connection's KILL"
        wait_until(lambda: leader_running_statements(leader.running) == 0, timeout=30,
                   what="the leader to stop the forwarded INSERT")
        assert rows(writer.connection, "SELECT count(*) FROM qc.counted") == [(0,)]
        writer.connection.close()
    finally:
        cluster.stop()
