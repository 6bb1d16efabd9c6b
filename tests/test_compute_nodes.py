"""Compute nodes as real processes on loopback: an FE with three `cairn cn` processes.

Data work (scans, load writes) runs on the nodes; results must equal the FE's own embedded engine,
a node killed with SIGKILL mid-query or mid-load must never produce a wrong or partial answer, and
a corrupted cache file must be detected and fetched again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pymysql
import pytest

from cn_process import CnProcess, restart_cn, start_cn
from conftest import wait_until
from fe_process import FeProcess, start_fe
from test_stream_load import put

FAST_HEARTBEATS = {"heartbeat_interval_second": "0.5", "heartbeat_retry_times": "1", "heartbeat_timeout_second": "2"}


@dataclass
class Cluster:
    fe: FeProcess
    nodes: list[CnProcess]
    workdir: Path

    def connect(self) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.fe.query_port, user="root", autocommit=True,
                               read_timeout=120)

    def run(self, sql: str) -> list[tuple]:
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())


# Compute nodes in production share an S3 volume; the node protocol, failover and background work
# below do not depend on the volume's kind, so they run on S3 only (the embedded default's local
# volume is covered by the queries' comparison and the rest of the suite).
S3_ONLY = pytest.mark.parametrize("volume_kind", ["s3"], indirect=True)


def _start_cluster(workdir: Path, fe_values: dict[str, str], cn_values: dict[str, str] | None = None,
                   count: int = 3) -> Cluster:
    fe = start_fe(workdir, {**fe_values, **FAST_HEARTBEATS})
    nodes = [start_cn(workdir, cn_values, f"cn{i}") for i in range(count)]
    cluster = Cluster(fe, nodes, workdir)
    cluster.run("ALTER SYSTEM ADD COMPUTE NODE " + ", ".join(f'"{n.address}"' for n in nodes))
    return cluster


def _stop(cluster: Cluster) -> None:
    for node in cluster.nodes:
        node.stop()
    cluster.fe.stop()


@pytest.fixture
def cluster(tmp_path: Path, fe_conf_values: dict[str, str]) -> Iterator[Cluster]:
    started = _start_cluster(tmp_path, fe_conf_values)
    yield started
    _stop(started)


def _alive(cluster: Cluster) -> dict[str, str]:
    rows = cluster.run("SHOW COMPUTE NODES")
    return {f"{r[1]}:{r[2]}": r[8] for r in rows}


SETUP = [
    "CREATE DATABASE d",
    "CREATE TABLE d.sales (id BIGINT, region VARCHAR(16), day DATE, amount DECIMAL(12, 2), qty INT, "
    "big LARGEINT, note STRING) DUPLICATE KEY(id) PARTITION BY RANGE(day) ("
    "PARTITION p1 VALUES LESS THAN ('2024-02-01'), PARTITION p2 VALUES LESS THAN ('2024-03-01'), "
    "PARTITION p3 VALUES LESS THAN ('2024-04-01')) DISTRIBUTED BY HASH(id) BUCKETS 4",
    "CREATE TABLE d.regions (name VARCHAR(16), manager VARCHAR(32)) DISTRIBUTED BY HASH(name) BUCKETS 2",
    "INSERT INTO d.sales SELECT i, CASE WHEN i % 4 = 0 THEN 'north' WHEN i % 4 = 1 THEN 'south' "
    "WHEN i % 4 = 2 THEN NULL ELSE 'east' END, DATE '2024-01-01' + INTERVAL (i % 90) DAY, "
    "CAST(i % 1000 AS DECIMAL(12,2)) / 7, CASE WHEN i % 11 = 0 THEN NULL ELSE i % 50 END, "
    "170141183460469231731687303715884105727 - i, 'n' || i FROM TABLE(generate_series(1, 20000)) AS g(i)",
    "INSERT INTO d.sales VALUES (20001, 'west', '2024-03-31', 1.50, 3, -5, NULL)",
    "INSERT INTO d.regions VALUES ('north', 'ann'), ('south', 'bo'), ('east', NULL), ('nowhere', 'cy')",
]

CORPUS = [
    "SELECT count(*) FROM d.sales",
    "SELECT count(*), sum(amount), min(day), max(big) FROM d.sales WHERE qty > 10",
    "SELECT region, count(*), sum(qty), avg(amount) FROM d.sales GROUP BY region ORDER BY region",
    "SELECT id, big, note FROM d.sales WHERE id IN (1, 777, 20001) ORDER BY id",
    "SELECT * FROM d.sales WHERE day = '2024-02-15' ORDER BY id LIMIT 5",
    "SELECT s.region, r.manager, count(*) FROM d.sales s JOIN d.regions r ON s.region = r.name "
    "GROUP BY s.region, r.manager ORDER BY 1",
    "SELECT r.name, count(s.id) FROM d.regions r LEFT JOIN d.sales s ON s.region = r.name AND s.qty = 7 "
    "GROUP BY r.name ORDER BY r.name",
    "SELECT r.name FROM d.regions r LEFT JOIN d.sales s ON s.region = r.name WHERE s.id IS NULL ORDER BY 1",
    "SELECT id, qty, rank() OVER (PARTITION BY region ORDER BY qty DESC, id) AS rk FROM d.sales "
    "WHERE id < 60 ORDER BY id",
    "SELECT count(*) FROM d.sales WHERE qty IS NULL",
    "SELECT count(*) FROM d.sales WHERE region IS NULL OR amount > 100",
    "SELECT region FROM d.sales WHERE id = (SELECT max(id) FROM d.sales WHERE region = 'north')",
    "SELECT count(*) FROM d.sales WHERE region IN (SELECT name FROM d.regions WHERE manager IS NOT NULL)",
    "SELECT month(day) AS m, sum(qty) FROM d.sales GROUP BY m ORDER BY m",
    "WITH top AS (SELECT region, sum(amount) AS total FROM d.sales GROUP BY region) "
    "SELECT * FROM top WHERE total > 0 ORDER BY region",
    "SELECT count(DISTINCT region), count(DISTINCT qty) FROM d.sales",
    "SELECT region, count(*), count(qty), sum(qty), avg(qty), min(day), max(big), sum(amount) FROM d.sales "
    "WHERE day >= '2024-02-01' AND qty < 40 GROUP BY region HAVING count(*) > 1 ORDER BY region",
    "SELECT count(*), sum(qty), avg(id) FROM d.sales WHERE id < 0",
    "SELECT qty, count(*) AS n FROM d.sales GROUP BY qty ORDER BY n DESC, qty LIMIT 3",
    "SELECT big + 1, CAST(big AS VARCHAR) FROM d.sales WHERE id = 20001",
]


def test_queries_on_compute_nodes_match_the_embedded_engine(cluster: Cluster) -> None:
    for statement in SETUP:
        cluster.run(statement)
    # A Stream Load is written on a node too: its checked, routed batches go to the node that writes.
    status, answer = put(cluster.fe, "/api/d/regions/_stream_load", b"west,dee\nsouth-east,\\N\nfar,x\n",
                         column_separator=",")
    assert status == 200 and answer["NumberLoadedRows"] == 3, answer
    on_nodes = [cluster.run(q) for q in CORPUS]
    reports = [n.report() for n in cluster.nodes]
    assert sum(r["counters"].get("writes", 0) for r in reports) >= 4  # the loads were written on nodes
    scanned = [r["counters"].get("scans", 0) for r in reports]
    assert sum(1 for s in scanned if s > 0) >= 2, scanned  # the scans were spread over the nodes
    assert on_nodes[0] == [(20001,)]
    sent = sum(r["counters"].get("rows_scanned", 0) for r in reports)
    cluster.run("SELECT region, count(*), sum(qty), avg(qty), max(day) FROM d.sales WHERE id > 5 GROUP BY region")
    sent = sum(n.report()["counters"].get("rows_scanned", 0) for n in cluster.nodes) - sent
    assert 0 < sent <= 5 * 3  # partial aggregates came back (groups per node), not 20,001 rows
    scanned = [n.report()["counters"].get("scans", 0) for n in cluster.nodes]
    cluster.run("ALTER SYSTEM DROP COMPUTE NODE " + ", ".join(f'"{n.address}"' for n in cluster.nodes))
    assert cluster.run("SHOW COMPUTE NODES") == []
    embedded = [cluster.run(q) for q in CORPUS]
    for query, remote, local in zip(CORPUS, on_nodes, embedded):
        assert remote == local, query
    after = [n.report()["counters"].get("scans", 0) for n in cluster.nodes]
    assert after == scanned  # with no node registered, nothing was sent to them


@S3_ONLY
def test_show_compute_nodes_reports_liveness_tablets_and_a_node_that_rejoins(cluster: Cluster) -> None:
    cluster.run(SETUP[0])
    cluster.run(SETUP[1])
    rows = cluster.run("SHOW COMPUTE NODES")
    assert [r[8] for r in rows] == ["true"] * 3
    assert sum(r[22] for r in rows) == 12  # every tablet of the table is assigned to exactly one node
    assert all(r[17].startswith("Status: Normal, DiskUsage:") for r in rows)
    before = {f"{r[1]}:{r[2]}": r[22] for r in rows}
    victim = cluster.nodes[1]
    victim.kill()
    wait_until(lambda: _alive(cluster)[victim.address] == "false")
    rows = {f"{r[1]}:{r[2]}": r for r in cluster.run("SHOW COMPUTE NODES")}
    assert "heartbeat" in rows[victim.address][11] and victim.address in rows[victim.address][11]
    assert sum(r[22] for r in rows.values()) == 12 and rows[victim.address][22] == 0
    cluster.nodes[1] = restart_cn(victim, cluster.workdir, "cn1")
    wait_until(lambda: _alive(cluster)[victim.address] == "true")
    again = {f"{r[1]}:{r[2]}": r[22] for r in cluster.run("SHOW COMPUTE NODES")}
    assert again == before  # the node got exactly its tablets back


@S3_ONLY
def test_node_statements_reject_bad_input(cluster: Cluster) -> None:
    with cluster.connect() as connection, connection.cursor() as cursor:
        for statement, text in [('ALTER SYSTEM ADD COMPUTE NODE "nohost"', "Invalid host:port"),
                                (f'ALTER SYSTEM ADD COMPUTE NODE "{cluster.nodes[0].address}"', "already exists"),
                                ('ALTER SYSTEM DROP COMPUTE NODE "127.0.0.1:1"', "does not exist"),
                                ("ALTER SYSTEM ADD COMPUTE NODE", "expected a quoted string")]:
            with pytest.raises(pymysql.MySQLError) as failure:
                cursor.execute(statement)
            assert text in str(failure.value), statement
        cursor.execute("SHOW COMPUTE NODES")
        assert len(cursor.fetchall()) == 3


def _kill_the_busy_node(cluster: Cluster, sql: str) -> tuple[dict[str, object], CnProcess]:
    """Run `sql` in a thread, kill -9 the node working on it while it works, and wait for the answer."""
    result: dict[str, object] = {}

    def statement() -> None:
        try:
            result["rows"] = cluster.run(sql)
        except pymysql.MySQLError as exc:
            result["error"] = exc

    worker = threading.Thread(target=statement)
    worker.start()
    working: list[CnProcess] = []
    wait_until(lambda: working.extend(n for n in cluster.nodes if n.report()["running"] > 0) or working,
               what="a node received the work")
    busy = working[0]
    busy.kill()
    worker.join(timeout=120)
    return result, busy


@S3_ONLY
def test_a_query_survives_a_node_killed_in_the_middle(tmp_path: Path, fe_conf_values: dict[str, str]) -> None:
    cluster = _start_cluster(tmp_path, fe_conf_values, {"debug_scan_delay_seconds": "1.5"})
    try:
        for statement in SETUP[:4]:
            cluster.run(statement)
        result, busy = _kill_the_busy_node(cluster, "SELECT count(*), sum(id) FROM d.sales")
        assert "error" not in result, result
        assert result["rows"] == [(20000, 20000 * 20001 // 2)]
        assert _alive(cluster)[busy.address] == "false"
    finally:
        _stop(cluster)


@S3_ONLY
def test_a_load_survives_a_node_killed_in_the_middle(tmp_path: Path, fe_conf_values: dict[str, str]) -> None:
    cluster = _start_cluster(tmp_path, fe_conf_values, {"debug_write_delay_seconds": "1.5"})
    try:
        for statement in SETUP[:2]:
            cluster.run(statement)
        result, busy = _kill_the_busy_node(cluster, "INSERT INTO d.sales (id, region, day, qty) SELECT i, 'x', "
                                                    "'2024-01-05', 1 FROM TABLE(generate_series(1, 5000)) AS g(i)")
        assert "error" not in result, result
        assert cluster.run("SELECT count(*), count(DISTINCT id) FROM d.sales") == [(5000, 5000)]
        written = [n.report()["counters"].get("rows_written", 0) for n in cluster.nodes if n is not busy]
        assert sum(written) == 5000  # the dead node's tablets written again, once, by the survivors
    finally:
        _stop(cluster)


@S3_ONLY
def test_a_load_is_written_by_every_node_owning_its_tablets(cluster: Cluster) -> None:
    cluster.run("CREATE DATABASE spread")
    cluster.run("CREATE TABLE spread.t (id BIGINT, v VARCHAR(16)) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 12")
    wait_until(lambda: set(_alive(cluster).values()) == {"true"}, what="every node alive")
    before = [n.report()["counters"].get("rows_written", 0) for n in cluster.nodes]
    body = "".join(f"{i},v{i}\n" for i in range(30000)).encode()
    status, answer = put(cluster.fe, "/api/spread/t/_stream_load", body, column_separator=",")
    assert status == 200 and answer["Status"] == "Success", answer
    cluster.run("INSERT INTO spread.t SELECT i, 'w' FROM TABLE(generate_series(30000, 39999)) AS g(i)")
    written = [n.report()["counters"].get("rows_written", 0) - b for n, b in zip(cluster.nodes, before)]
    assert sum(written) == 40000
    assert all(w > 0 for w in written), f"each node writes the rows of the tablets it owns: {written}"
    assert cluster.run("SELECT count(*), count(DISTINCT id) FROM spread.t") == [(40000, 40000)]


@S3_ONLY
def test_with_every_node_down_statements_fail_clearly_and_the_fe_keeps_serving(cluster: Cluster) -> None:
    for statement in SETUP[:2]:
        cluster.run(statement)
    cluster.run("INSERT INTO d.sales (id, day) VALUES (1, '2024-01-02')")
    for node in cluster.nodes:
        node.kill()
    with cluster.connect() as connection, connection.cursor() as cursor:
        for statement in ["SELECT count(*) FROM d.sales", "INSERT INTO d.sales (id, day) VALUES (2, '2024-01-02')"]:
            with pytest.raises(pymysql.MySQLError) as failure:
                cursor.execute(statement)
            assert "Compute node" in str(failure.value), statement
        cursor.execute("SHOW DATABASES")
        assert ("d",) in cursor.fetchall()
    cluster.nodes[0] = restart_cn(cluster.nodes[0], cluster.workdir, "cn0")
    wait_until(lambda: _alive(cluster)[cluster.nodes[0].address] == "true")
    assert cluster.run("SELECT count(*) FROM d.sales") == [(1,)]


@S3_ONLY
def test_a_corrupted_cache_file_is_detected_and_fetched_again(cluster: Cluster) -> None:
    for statement in SETUP[:4]:
        cluster.run(statement)
    query = "SELECT count(*), sum(qty), max(note) FROM d.sales"
    expected = cluster.run(query)
    cached = [p for n in cluster.nodes for p in (n.root / "storage" / "cache").rglob("*.parquet")]
    assert cached, "the nodes cached nothing"
    for path in cached:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    assert cluster.run(query) == expected
    assert sum(n.report()["counters"]["cache_corrupt_refetches"] for n in cluster.nodes) == len(cached)
    assert cluster.run(query) == expected


@S3_ONLY
def test_compaction_and_vacuum_under_steady_load_fail_nothing_and_leak_nothing(
        tmp_path: Path, fe_conf_values: dict[str, str]) -> None:
    background = {"lake_compaction_score_selector_min_score": "3", "lake_compaction_interval_seconds": "0.3",
                  "vacuum_grace_period_seconds": "0", "vacuum_interval_seconds": "0.5",
                  "catalog_trash_expire_second": "0"}
    cluster = _start_cluster(tmp_path, {**fe_conf_values, **background})
    try:
        cluster.run("CREATE DATABASE d")
        cluster.run("CREATE TABLE d.t (a INT, day DATE) PARTITION BY RANGE(day) (PARTITION p1 VALUES LESS THAN "
                    "('2024-01-01'), PARTITION p2 VALUES LESS THAN ('2025-01-01')) DISTRIBUTED BY HASH(a) BUCKETS 2")
        failures: list[object] = []
        done = threading.Event()
        queries = 0

        def load() -> None:
            try:
                with cluster.connect() as connection, connection.cursor() as cursor:
                    for i in range(40):
                        cursor.execute(f"INSERT INTO d.t VALUES ({2 * i}, '2023-03-01'), ({2 * i + 1}, '2023-03-01'),"
                                       f" ({2 * i}, '2024-03-01'), ({2 * i + 1}, '2024-03-01')")
            except pymysql.MySQLError as exc:
                failures.append(exc)
            finally:
                done.set()

        def query() -> None:
            nonlocal queries
            with cluster.connect() as connection, connection.cursor() as cursor:
                for _ in range(2000):
                    if done.is_set():
                        return
                    try:
                        cursor.execute("SELECT count(*), count(DISTINCT a), sum(a) FROM d.t")
                        count, distinct, total = cursor.fetchone()
                    except pymysql.MySQLError as exc:
                        failures.append(exc)
                        continue
                    queries += 1
                    # Whole loads only: values 0..n-1 in both partitions.
                    if count != 2 * distinct or count % 4 or (count and total != distinct * (distinct - 1)):
                        failures.append(("wrong answer", count, distinct, total))

        workers = [threading.Thread(target=load), threading.Thread(target=query), threading.Thread(target=query)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=300)
        assert not failures, failures[:3]
        assert queries > 0
        assert cluster.run("SELECT count(*), count(DISTINCT a) FROM d.t") == [(160, 80)]
        wait_until(lambda: all(r[2] > 0 for r in cluster.run("SHOW PARTITIONS FROM d.t")))
        assert sum(n.report()["counters"].get("compactions", 0) for n in cluster.nodes) > 0
    finally:
        _stop(cluster)
    # With the cluster stopped, an FE in this process counts what is left on the volume.
    from cairn.api import load_config
    from cairn.fe.frontend import Frontend
    from cairn.server.session import Session
    from test_vacuum import data_keys, vacuum, visible_keys

    frontend = Frontend.open(load_config(None, **{**fe_conf_values, **background,
                                                  "lake_compaction_interval_seconds": "3600",
                                                  "vacuum_interval_seconds": "3600"}))
    try:
        session = Session(frontend)
        vacuum(session)
        vacuum(session)
        assert data_keys(session) == visible_keys(session)  # no leaked object
        session.execute("ALTER SYSTEM DROP COMPUTE NODE " + ", ".join(f'"{n.address}"' for n in cluster.nodes))
        assert session.execute("SELECT count(*) FROM d.t").rows() == [(160,)]
    finally:
        frontend.close()


def test_without_the_embedded_engine_an_fe_with_no_node_says_so(tmp_path: Path, fe_conf_values: dict[str, str]) -> None:
    fe = start_fe(tmp_path, {**fe_conf_values, "embedded_compute_node": "false"})
    try:
        with pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True) as connection:
            with connection.cursor() as cursor:
                cursor.execute("CREATE DATABASE d")
                cursor.execute("CREATE TABLE d.t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1")
                with pytest.raises(pymysql.MySQLError, match="No compute node is registered"):
                    cursor.execute("INSERT INTO d.t VALUES (1)")
                cursor.execute("SELECT 1")
                assert cursor.fetchall() == ((1,),)
    finally:
        fe.stop()


def test_keyed_tables_merge_on_compute_nodes(cluster: Cluster) -> None:
    """A keyed table's rows merge in each node's scan (lake/keyed.py): pushed filters and partial
    aggregates apply to each key's merged row, never to an older version of it."""
    for statement in ("CREATE DATABASE k",
                      "CREATE TABLE k.p (id BIGINT, v INT) PRIMARY KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 4",
                      "CREATE TABLE k.a (id BIGINT, s BIGINT SUM, r INT REPLACE) AGGREGATE KEY(id) "
                      "DISTRIBUTED BY HASH(id) BUCKETS 4",
                      "INSERT INTO k.p SELECT i, 1 FROM TABLE(generate_series(1, 1000)) AS g(i)",
                      "INSERT INTO k.p SELECT i, 2 FROM TABLE(generate_series(1, 1000, 2)) AS g(i)",
                      "DELETE FROM k.p WHERE id > 900",
                      "UPDATE k.p SET v = 3 WHERE id <= 10",
                      "INSERT INTO k.a SELECT i % 10, 1, i FROM TABLE(generate_series(1, 100)) AS g(i)",
                      "INSERT INTO k.a SELECT i % 10, 1, -i FROM TABLE(generate_series(1, 10)) AS g(i)"):
        cluster.run(statement)
    expected = [[(3, 10), (2, 445), (1, 445)], [(0,)], [(900,)], [(10, Decimal(110), -10)]]
    queries = ["SELECT v, count(*) FROM k.p GROUP BY v ORDER BY v DESC, 2", "SELECT count(*) FROM k.p WHERE v = 1 AND id > 900",
               "SELECT count(DISTINCT id) FROM k.p", "SELECT count(*), sum(s), min(r) FROM k.a"]
    assert [cluster.run(q) for q in queries] == expected
    assert sum(n.report()["counters"].get("scans", 0) for n in cluster.nodes) > 0
    cluster.run("ALTER SYSTEM DROP COMPUTE NODE " + ", ".join(f'"{n.address}"' for n in cluster.nodes))
    assert [cluster.run(q) for q in queries] == expected
