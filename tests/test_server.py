"""The FE as a server: the real mysql client, PyMySQL and SQLAlchemy, HTTP health, start-up errors."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
import sqlalchemy as sa

from conftest import free_port, wait_for_port, wait_until
from fe_process import CAIRN, FeProcess, start_fe
from seed import SEED_INSERT, SEED_SELECT, SEED_SETUP, run_seed

SEED_TABLE_OUTPUT = """\
+---------------------+---------------+----------+--------------+----------+--------+----------+----------------+-------+-------+---------+
| event_time          | channel       | user     | is_anonymous | is_minor | is_new | is_robot | is_unpatrolled | delta | added | deleted |
+---------------------+---------------+----------+--------------+----------+--------+----------+----------------+-------+-------+---------+
| 2015-09-12 00:00:00 | #ca.wikipedia | helloSR  |            0 |        1 |      0 |        1 |              0 |     3 |    23 |       0 |
| 2015-09-12 00:00:00 | #en.wikipedia | AustinFF |            0 |        0 |      0 |        0 |              0 |    21 |     5 |       0 |
| 2015-09-12 08:00:00 | #ca.wikipedia | helloSR  |            0 |        1 |      0 |        1 |              0 |     3 |    23 |       0 |
+---------------------+---------------+----------+--------------+----------+--------+----------+----------------+-------+-------+---------+
"""


@pytest.fixture
def fe_process(tmp_path: Path, fe_conf_values: dict[str, str]) -> Iterator[FeProcess]:
    fe = start_fe(tmp_path, fe_conf_values)
    yield fe
    fe.stop()


def mysql_cli(port: int, sql: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mysql", "-h127.0.0.1", f"-P{port}", "-uroot", *args], input=sql, text=True,
                          capture_output=True, timeout=60)


@pytest.mark.skipif(shutil.which("mysql") is None, reason="the mysql client is installed by scripts/install")
def test_seed_session_through_the_mysql_client(fe_process: FeProcess) -> None:
    ordered = SEED_SELECT.replace(";", " ORDER BY event_time, channel;")
    done = mysql_cli(fe_process.query_port, SEED_SETUP + SEED_INSERT + "\n" + ordered, "--table")
    assert done.returncode == 0, done.stderr
    assert done.stdout == SEED_TABLE_OUTPUT
    failed = mysql_cli(fe_process.query_port, "SELECT * FROM quickstart.nope;")
    assert failed.returncode == 1 and "ERROR 1146" in failed.stderr and "nope" in failed.stderr


def test_pymysql_round_trip_and_errors(fe_process: FeProcess) -> None:
    connection = pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="root", password="")
    with connection.cursor() as cursor:
        run_seed(cursor)
        cursor.execute("SELECT user, sum(added) FROM source_wiki_edit GROUP BY user ORDER BY user")
        assert [(u, int(a)) for u, a in cursor.fetchall()] == [("AustinFF", 5), ("helloSR", 46)]
        cursor.execute("SELECT @@version, DATABASE()")
        version, database = cursor.fetchone()
        assert version.startswith("8.0.33") and database == "quickstart"
        for sql, code in [("SELEC 1", 1064), ("USE nowhere", 1049), ("SELECT * FROM nope", 1146),
                          ("SELECT nope FROM source_wiki_edit", 1054)]:
            with pytest.raises(pymysql.MySQLError) as caught:
                cursor.execute(sql)
            assert caught.value.args[0] == code, sql
        cursor.execute("SELECT count(*) FROM source_wiki_edit")
        assert cursor.fetchone() == (3,)
    connection.close()
    with pytest.raises(pymysql.err.OperationalError) as denied:
        pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="nobody", password="x")
    assert denied.value.args[0] == 1045


def test_sqlalchemy_core_round_trip(fe_process: FeProcess) -> None:
    engine = sa.create_engine(f"mysql+pymysql://root@127.0.0.1:{fe_process.query_port}/")
    with engine.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE shop"))
        connection.execute(sa.text("CREATE TABLE shop.items (id INT, name VARCHAR(20)) DISTRIBUTED BY HASH(id)"))
        connection.execute(sa.text("INSERT INTO shop.items VALUES (1, 'pen'), (2, 'ink')"))
        items = sa.table("items", sa.column("id"), sa.column("name"), schema="shop")
        rows = connection.execute(sa.select(items.c.name).where(items.c.id == 2)).fetchall()
        assert [tuple(r) for r in rows] == [("ink",)]
    engine.dispose()


def test_health_and_metrics(fe_process: FeProcess) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{fe_process.http_port}/api/health", timeout=10) as answer:
        assert json.load(answer)["status"] == "OK"
    with urllib.request.urlopen(f"http://127.0.0.1:{fe_process.http_port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    assert "cairn_journal_id" in text and "cairn_fe_is_leader 1.0" in text


def test_kill_minus_nine_then_restart_serves_the_same_data(tmp_path: Path, fe_conf_values: dict[str, str]) -> None:
    first = start_fe(tmp_path, fe_conf_values)
    connection = pymysql.connect(host="127.0.0.1", port=first.query_port, user="root", autocommit=True)
    with connection.cursor() as cursor:
        run_seed(cursor)
    connection.close()
    first.stop(signal.SIGKILL)
    second = start_fe(tmp_path, fe_conf_values)
    connection = pymysql.connect(host="127.0.0.1", port=second.query_port, user="root", database="quickstart")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM source_wiki_edit")
        assert cursor.fetchone() == (3,)
    connection.close()
    second.stop()


def test_fe_refuses_to_guess_between_clusters(tmp_path: Path, fe_conf_values: dict[str, str]) -> None:
    for cluster in ("one", "two"):
        fe = start_fe(tmp_path, dict(fe_conf_values, cluster_id=cluster, meta_dir=str(tmp_path / cluster)))
        fe.stop()
    conf = tmp_path / "fe.conf"
    conf.write_text("".join(f"{k} = {v}\n" for k, v in dict(fe_conf_values, meta_dir=str(tmp_path / "new")).items()))
    done = subprocess.run([*CAIRN, "fe", "--conf", str(conf)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "one" in done.stderr and "two" in done.stderr and "cluster_id" in done.stderr


def test_cli_help_on_every_command() -> None:
    for command in ([], ["fe"], ["up"], ["version"]):
        done = subprocess.run([*CAIRN, *command, "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "Usage" in done.stdout, command


def _metric(fe: FeProcess, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{fe.http_port}/metrics", timeout=10) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise AssertionError(f"metric {name} not found")


def test_sqlalchemy_reflection(fe_process: FeProcess) -> None:
    engine = sa.create_engine(f"mysql+pymysql://root@127.0.0.1:{fe_process.query_port}/")
    with engine.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE shop"))
        connection.execute(sa.text("CREATE TABLE shop.items (id INT NOT NULL, name VARCHAR(20), price DECIMAL(10,2)) "
                                   "DUPLICATE KEY(id) DISTRIBUTED BY HASH(id)"))
    inspector = sa.inspect(engine)
    assert "shop" in inspector.get_schema_names()
    assert inspector.get_table_names(schema="shop") == ["items"]
    with pytest.warns(sa.exc.SAWarning):  # SQLAlchemy's MySQL dialect does not know StarRocks' clauses
        columns = inspector.get_columns("items", schema="shop")
    # SHOW CREATE TABLE spells the column `decimal(10, 2)` as StarRocks does; the MySQL dialect's parser
    # takes no space in a type's arguments, so it reflects a DECIMAL of no stated precision, as it
    # does against StarRocks.
    assert [(c["name"], str(c["type"]), c["nullable"]) for c in columns] == [
        ("id", "INTEGER", False), ("name", "VARCHAR(20)", True), ("price", "DECIMAL", True)]
    engine.dispose()


def test_wrong_password_and_malformed_packets(fe_process: FeProcess) -> None:
    root = pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="root", autocommit=True)
    with root.cursor() as cursor:
        cursor.execute("CREATE USER alice IDENTIFIED BY 'right'")
    with pytest.raises(pymysql.err.OperationalError) as caught:
        pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="alice", password="wrong")
    assert caught.value.args[0] == 1045 and "Access denied" in caught.value.args[1]
    alice = pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="alice", password="right")
    alice.close()
    for garbage in (b"\xff\xff\xff\x00garbage", b"\x05\x00\x00\x00\x03SEL", b"GET / HTTP/1.1\r\n\r\n", b""):
        with socket.create_connection(("127.0.0.1", fe_process.query_port), timeout=10) as sock:
            sock.recv(1024)  # the server's handshake
            sock.sendall(garbage)
    with root.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    root.close()


def test_a_long_query_does_not_stall_other_sessions(fe_process: FeProcess) -> None:
    slow_done = threading.Event()
    events: list[str] = []

    def slow() -> None:
        connection = pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="root")
        with connection.cursor() as cursor:
            cursor.execute("SELECT sum(a.generate_series * b.generate_series % 7) FROM "
                           "TABLE(generate_series(1, 20000)) a, TABLE(generate_series(1, 20000)) b")
        events.append("slow")
        slow_done.set()
        connection.close()

    thread = threading.Thread(target=slow)
    thread.start()
    wait_until(lambda: slow_done.is_set() or _metric(fe_process, "cairn_running_statements") >= 1,
               what="the long query started")
    quick = pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="root")
    with quick.cursor() as cursor:
        for _ in range(5):
            cursor.execute("SELECT 1")
    if not slow_done.is_set():
        events.append("quick")
    quick.close()
    thread.join(timeout=120)
    assert events == ["quick", "slow"]


def test_concurrent_sessions_mixing_loads_and_queries(fe_process: FeProcess) -> None:
    root = pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="root", autocommit=True)
    with root.cursor() as cursor:
        cursor.execute("CREATE DATABASE c")
        cursor.execute("CREATE TABLE c.t (worker INT, n INT) DISTRIBUTED BY HASH(n) BUCKETS 2")
    errors: list[BaseException] = []
    inserted = [0] * 32
    deadline = time.monotonic() + 8

    def work(worker: int) -> None:
        try:
            connection = pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="root",
                                         database="c", autocommit=True)
            with connection.cursor() as cursor:
                round_number = 0
                while time.monotonic() < deadline and round_number < 50:
                    if worker % 2 == 0:
                        cursor.execute(f"INSERT INTO t VALUES ({worker}, {round_number}), ({worker}, -1)")
                        inserted[worker] += 2
                    else:
                        cursor.execute("SELECT count(*) FROM t")
                        assert cursor.fetchone()[0] >= 0
                    round_number += 1
            connection.close()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with root.cursor() as cursor:
        cursor.execute("SELECT worker, count(*) FROM c.t GROUP BY worker ORDER BY worker")
        assert {w: n for w, n in cursor.fetchall()} == {w: n for w, n in enumerate(inserted) if n}
    root.close()
    wait_until(lambda: _metric(fe_process, "cairn_connections") == 0, what="every connection closed")


def test_cairn_up_serves_stops_on_ctrl_c_and_resumes(tmp_path: Path) -> None:
    port, http_port = free_port(), free_port()
    command = [*CAIRN, "up", "--port", str(port), "--http-port", str(http_port), "--edit-log-port", str(free_port()),
               "--data-dir", str(tmp_path / "d")]
    for round_number in range(2):
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        wait_for_port(port, timeout=60)
        connection = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
        with connection.cursor() as cursor:
            if round_number == 0:
                cursor.execute("CREATE DATABASE kept")
            cursor.execute("SHOW DATABASES")
            assert ("kept",) in cursor.fetchall()
        connection.close()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert f"mysql -h127.0.0.1 -P{port} -uroot" in stderr


def test_a_dropped_client_stops_its_query(fe_process: FeProcess) -> None:
    connection = pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="root")

    def long_query() -> None:
        with contextlib.suppress(pymysql.MySQLError), connection.cursor() as cursor:
            cursor.execute("SELECT sum(a.generate_series * b.generate_series % 7) FROM "
                           "TABLE(generate_series(1, 200000)) a, TABLE(generate_series(1, 200000)) b")

    client = threading.Thread(target=long_query, daemon=True)
    client.start()
    wait_until(lambda: _metric(fe_process, "cairn_running_statements") == 1, what="the query is running")
    connection._sock.shutdown(socket.SHUT_RDWR)  # the client goes away mid-query
    # That query would run for many minutes; it must stop once the FE sees the socket closed.
    wait_until(lambda: _metric(fe_process, "cairn_running_statements") == 0
               and _metric(fe_process, "cairn_connections") == 0, timeout=120, what="the query stopped")


def test_cairn_up_with_compute_nodes_runs_work_on_them_and_stops_them(tmp_path: Path) -> None:
    port, http_port = free_port(), free_port()
    for nodes_expected in (2, 0):
        command = [*CAIRN, "up", "--cn", str(nodes_expected), "--port", str(port), "--http-port", str(http_port),
                   "--edit-log-port", str(free_port()),
                   "--data-dir", str(tmp_path / "d")]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        wait_for_port(port, timeout=90)
        with pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SHOW COMPUTE NODES")
                nodes = cursor.fetchall()
                assert [row[8] for row in nodes] == ["true"] * nodes_expected
                if nodes_expected:
                    cursor.execute("CREATE DATABASE w")
                    cursor.execute("CREATE TABLE w.t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 4")
                    cursor.execute("INSERT INTO w.t SELECT * FROM TABLE(generate_series(1, 1000))")
                cursor.execute("SELECT count(*), sum(a) FROM w.t")
                assert cursor.fetchall() == ((1000, 500500),)
        heartbeat_ports = [row[2] for row in nodes]
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert f"compute nodes: {nodes_expected or 'embedded'}" in stderr
        for heartbeat_port in heartbeat_ports:  # the nodes stopped with the FE
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", heartbeat_port)) != 0
