"""The distributed engine on a real cluster (issue #14): `cairn fe` with `cairn_distributed_engine =
true` runs Ray's head, two `cairn cn --join` processes host its workers, on moto's S3, loopback only.

One cluster serves the module (Ray's start-up takes seconds); the last tests kill its CNs. Every answer is compared with the
existing path's in the same cluster (`SET cairn_distributed_engine = 0` in the session); the metric
`cairn_distributed_queries_total` tells that the engine answered, and a query outside what is
verified runs on the existing path with its reason in the FE's log.
"""

from __future__ import annotations

import base64
import http.client
import io
import math
import re
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pymysql
import pytest
from bench import tpch
from cn_process import CnProcess, start_cn
from conftest import cluster_conf_values, wait_until
from fe_process import FeProcess, start_fe
from sql_client import RunningStatement

SF = "0.01"
VIEW, QUERIES = tpch.queries()


@dataclass
class Cluster:
    fe: FeProcess
    cns: list[CnProcess]

    def connect(self, distributed: bool = True) -> Any:
        connection = pymysql.connect(host="127.0.0.1", port=self.fe.query_port, user="root", autocommit=True,
                                     connect_timeout=10, read_timeout=120, database="tpch")
        if not distributed:
            with connection.cursor() as cursor:
                cursor.execute("SET cairn_distributed_engine = 0")
        return connection

    def rows(self, sql: str, distributed: bool = True) -> list[tuple]:
        return self.answer(sql, distributed)[0]

    def answer(self, sql: str, distributed: bool = True) -> tuple[list[tuple], list[int]]:
        """The rows of `sql` and the MySQL type code of each column."""
        connection = self.connect(distributed)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall()), [d[1] for d in cursor.description or ()]
        finally:
            connection.close()

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.fe.http_port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        found = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_integer(t):
        return "BIGINT" if t.bit_width == 64 else "INT"
    return "VARCHAR(255)"


def _load(fe: FeProcess, name: str, files: list[Path]) -> None:
    data = pa.concat_tables([pq.read_table(f) for f in files])
    data = data.cast(pa.schema([f.with_type(pa.string()) if pa.types.is_string_view(f.type) else f
                                for f in data.schema]))
    columns = ", ".join(f"{f.name} {_sql_type(f.type)}" for f in data.schema)
    key = data.schema[0].name
    rows_of(fe, f"CREATE TABLE tpch.{name} ({columns}) DUPLICATE KEY({key}) DISTRIBUTED BY HASH({key}) BUCKETS 4")
    body = io.BytesIO()
    pacsv.write_csv(data, body, pacsv.WriteOptions(include_header=False, delimiter="|", quoting_style="none"))
    connection = http.client.HTTPConnection("127.0.0.1", fe.http_port, timeout=120)
    token = base64.b64encode(b"root:").decode()
    connection.request("PUT", f"/api/tpch/{name}/_stream_load", body=body.getvalue(), headers={
        "Authorization": f"Basic {token}", "Expect": "100-continue", "column_separator": "|", "label": f"l_{name}"})
    answer = connection.getresponse().read().decode()
    connection.close()
    assert '"Success"' in answer, answer


def rows_of(fe: FeProcess, sql: str) -> list[tuple]:
    connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True,
                                 connect_timeout=10, read_timeout=120)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("dcluster")
    data = tpch.generate(tmp_path_factory.mktemp("tpch"), SF)
    values = dict(cluster_conf_values(root / "fe", "s3", request))
    (root / "fe").mkdir()
    # Admission control: one query on the engine at a time, one more may wait, for 10 seconds.
    fe = start_fe(root / "fe", {**values, "cairn_distributed_engine": "true", "heartbeat_interval_second": "1",
                                "enable_query_queue_select": "true", "query_queue_concurrency_limit": "1",
                                "query_queue_max_queued_queries": "1", "query_queue_pending_timeout_second": "10"})
    cns: list[CnProcess] = []
    try:
        for i in range(2):
            cns.append(start_cn(root, {"cairn_distributed_engine": "true", "cairn_engine_cpus": "1",
                                       "cairn_engine_object_store_size": "128M"},
                                name=f"cn{i}", args=["--join", fe.peer_address]))
        for cn in cns:
            wait_until(lambda cn=cn: "distributed engine worker joined" in cn.log.read_text(), timeout=120,
                       what=f"{cn.address}'s engine worker joining the head")
        wait_until(lambda: [r[8] for r in rows_of(fe, "SHOW COMPUTE NODES")] == ["true", "true"], timeout=60,
                   what="both CNs alive")
        rows_of(fe, "CREATE DATABASE tpch")
        for name, files in data.items():
            _load(fe, name, files)
        connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True,
                                     database="tpch")
        with connection.cursor() as cursor:
            cursor.execute(VIEW)  # revenue0, which Q15 reads
        connection.close()
        yield Cluster(fe, cns)
    finally:
        for cn in cns:
            cn.stop()
        fe.stop()


def _same(got: list[tuple], want: list[tuple], ordered: bool) -> bool:
    if len(got) != len(want):
        return False
    if not ordered:
        got, want = sorted(got, key=repr), sorted(want, key=repr)
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            if isinstance(a, float) and isinstance(b, float):
                if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif a != b:
                return False
    return True


def _compare(cluster: Cluster, sql: str) -> bool:
    """Assert the answer equals the existing path's; True when the distributed engine gave it (a
    query it declines runs on the existing path, and the FE's log says why)."""
    before = cluster.metric("cairn_distributed_queries_total")
    refusals = cluster.fe.log.read_text().count("not on the distributed engine:")
    got, types = cluster.answer(sql)
    distributed = cluster.metric("cairn_distributed_queries_total") == before + 1
    if not distributed:
        assert cluster.fe.log.read_text().count("not on the distributed engine:") > refusals, \
            f"neither answered by the engine nor declined with a reason:\n{sql}"
    want, want_types = cluster.answer(sql, distributed=False)
    assert types == want_types, f"{sql}\ncolumn types {types}, the existing path's {want_types}"
    assert _same(got, want, tpch.is_ordered(sql)), f"{sql}\ngot  {got[:5]}\nwant {want[:5]}"
    return distributed


def test_engine_nodes_listen_on_loopback_only(cluster: Cluster) -> None:
    processes = [psutil.Process(p.proc.pid) for p in (cluster.fe, *cluster.cns)]
    listening = []
    for process in processes:
        for child in [process, *process.children(recursive=True)]:
            try:
                listening += [c.laddr for c in child.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    assert listening
    assert all(a.ip in ("127.0.0.1", "::ffff:127.0.0.1") for a in listening), listening
    # The CNs' Ray processes (raylet, object store, workers) are in the CN's own process tree.
    for cn in cluster.cns:
        names = " ".join(c.name() for c in psutil.Process(cn.proc.pid).children(recursive=True))
        assert "raylet" in names, names


@pytest.mark.parametrize("number", sorted(QUERIES))
def test_tpch_query_runs_on_the_engine_with_the_existing_paths_answer(cluster: Cluster, number: int) -> None:
    assert _compare(cluster, QUERIES[number]), f"Q{number} was not answered by the engine"


CAIRN_CASES = [
    "SELECT n_regionkey, count(*), min(n_name), max(n_nationkey) FROM nation GROUP BY n_regionkey",
    "SELECT o_orderpriority, count(*) AS c FROM orders WHERE o_orderdate >= DATE '1995-01-01' "
    "AND o_totalprice BETWEEN 1000 AND 200000 GROUP BY o_orderpriority HAVING count(*) > 10 ORDER BY c DESC",
    "SELECT c_name, c_acctbal FROM customer WHERE c_mktsegment IN ('BUILDING', 'MACHINERY') "
    "AND c_name LIKE 'Customer#0000001%' ORDER BY c_acctbal DESC, c_name LIMIT 7",
    "SELECT n.n_name, r.r_name FROM nation n LEFT JOIN region r ON n.n_regionkey = r.r_regionkey AND r.r_regionkey > 1 "
    "ORDER BY n.n_name",
    "SELECT sum(l_quantity * l_extendedprice), avg(l_linenumber), count(DISTINCT l_suppkey) FROM lineitem "
    "WHERE l_shipdate < DATE '1994-01-01' - INTERVAL '30' DAY",
    "SELECT CASE WHEN p_size > 25 THEN 'big' ELSE 'small' END AS s, count(*) FROM part GROUP BY 1 ORDER BY 1",
    # `/` is a DOUBLE, NULL for a divisor of 0; substr counts from 1.
    "SELECT n_name, n_nationkey / 2, n_regionkey / 0, substr(n_name, 2, 3), substr(n_name, 3) FROM nation "
    "ORDER BY n_nationkey",
    # avg of a DECIMAL is StarRocks' DECIMAL(38, s + 6), rounded; year() and EXTRACT are integers.
    "SELECT year(o_orderdate) AS y, extract(month FROM o_orderdate) AS m, avg(o_totalprice), "
    "sum(o_totalprice) / count(*), avg(o_custkey) FROM orders GROUP BY y, m",
    "SELECT n_name FROM nation n LEFT SEMI JOIN supplier s ON n.n_nationkey = s.s_nationkey AND s.s_acctbal > 9000",
    "SELECT n_name FROM nation n LEFT ANTI JOIN supplier s ON n.n_nationkey = s.s_nationkey AND s.s_acctbal > 9000",
    # Two columns of one name (each side's n_name, ...) cross the workers and reach the client.
    "SELECT * FROM nation a JOIN nation b ON a.n_nationkey = b.n_regionkey",
]


@pytest.mark.parametrize("sql", CAIRN_CASES)
def test_cairn_query_answer_equals_the_existing_path(cluster: Cluster, sql: str) -> None:
    assert _compare(cluster, sql)


NULL_CASES = [
    "SELECT k, v FROM nulls ORDER BY v, k",
    "SELECT k, v FROM nulls ORDER BY v DESC, k",
    "SELECT g, count(v), count(*), sum(v), min(v), avg(v) FROM nulls GROUP BY g ORDER BY g",
    "SELECT k FROM nulls WHERE v IS NULL OR v NOT IN (2, 3) ORDER BY k",
    # A NULL among a NOT IN subquery's values leaves no row; an empty subquery leaves every row.
    "SELECT k FROM nulls WHERE k NOT IN (SELECT v FROM nulls WHERE g = 1)",
    "SELECT k FROM nulls WHERE k NOT IN (SELECT v FROM nulls WHERE g = 2 AND v IS NOT NULL)",
    "SELECT k FROM nulls WHERE k NOT IN (SELECT v FROM nulls WHERE g > 5)",
    "SELECT k FROM nulls WHERE g IN (SELECT v FROM nulls)",
    "SELECT k FROM nulls a WHERE EXISTS (SELECT 1 FROM nulls b WHERE b.v = a.k)",
    "SELECT k, v FROM nulls WHERE v > (SELECT avg(v) FROM nulls)",
]


def _nulls(cluster: Cluster) -> None:
    """The table `nulls` (created once): NULLs among keys, groups and values, numbers in a VARCHAR."""
    if not rows_of(cluster.fe, "SHOW TABLES FROM tpch LIKE 'nulls'"):
        rows_of(cluster.fe, "CREATE TABLE tpch.nulls (k INT, g INT, v BIGINT, s VARCHAR(10)) DUPLICATE KEY(k) "
                            "DISTRIBUTED BY HASH(k) BUCKETS 3")
        rows_of(cluster.fe, "INSERT INTO tpch.nulls VALUES (1, 1, NULL, '1'), (2, 1, 2, '2'), (3, 2, NULL, NULL), "
                            "(4, 2, 3, '03'), (5, NULL, 5, '5'), (6, NULL, NULL, '6'), (7, 1, 1, '7')")


@pytest.mark.parametrize("sql", NULL_CASES)
def test_nulls_answer_as_on_the_existing_path(cluster: Cluster, sql: str) -> None:
    _nulls(cluster)
    assert _compare(cluster, sql)


# Queries the engine declines, and the reason it logs.
DECLINED = [
    # StarRocks counts a negative start from the end of the string; DataFusion does not.
    ("SELECT substr(n_name, -3, 2), n_nationkey FROM nation ORDER BY n_nationkey", "substr with a start"),
    # DataFusion would cast the strings to numbers and fail on one that is none.
    ("SELECT k FROM nulls WHERE s = 3 ORDER BY k", "a comparison of a number with a string"),
    # DataFusion joins a scalar subquery of several rows with each; StarRocks fails the statement.
    ("SELECT k FROM nulls WHERE v = (SELECT v FROM nulls WHERE k = 4)", "a scalar subquery other than"),
    ("SELECT k FROM nulls a WHERE k NOT IN (SELECT v FROM nulls b WHERE b.g = a.g) ORDER BY k",
     "NOT IN (subquery) other than"),
]


@pytest.mark.parametrize(("sql", "reason"), DECLINED)
def test_a_query_outside_what_is_verified_runs_on_the_existing_path_and_says_why(cluster: Cluster, sql: str,
                                                                                  reason: str) -> None:
    _nulls(cluster)
    refusals = cluster.fe.log.read_text().count(reason)
    before = cluster.metric("cairn_distributed_queries_total")
    got, types = cluster.answer(sql)
    assert cluster.metric("cairn_distributed_queries_total") == before
    assert (got, types) == cluster.answer(sql, distributed=False)
    assert got
    wait_until(lambda: cluster.fe.log.read_text().count(reason) > refusals, what="the reason logged")


def test_explain_says_which_engine_runs_the_query_and_what_the_nodes_scan(cluster: Cluster) -> None:
    sql = "SELECT n_regionkey, count(*) FROM nation WHERE n_nationkey < 5 GROUP BY n_regionkey"
    on_engine = [row[0] for row in cluster.rows(f"EXPLAIN {sql}")]
    assert "  1:DISTRIBUTED ENGINE" in on_engine
    assert "     runs on: the distributed engine's workers on the compute nodes" in on_engine
    # With the engine off, DuckDB on the FE merges what the compute nodes' scans return: the filter
    # and a partial aggregate run on the nodes.
    existing = [row[0] for row in cluster.rows(f"EXPLAIN {sql}", distributed=False)]
    assert "  |  not on the distributed engine: cairn_distributed_engine is off in this session" in existing
    assert "     PREDICATES: `n_nationkey` < 5" in existing
    assert "     pushed down aggregation: count(*) group by n_regionkey" in existing
    assert "     runs on: the compute nodes (each reads the tablets it owns)" in existing
    # Nations 0..4 lie in regions 0, 1 and 4.
    analyzed = [row[0] for row in cluster.rows(f"EXPLAIN ANALYZE {sql}")]
    assert "  |  rows: 3" in analyzed
    assert any(line.startswith("  |  time (run on the distributed engine): ") for line in analyzed)


def test_a_primary_key_table_runs_on_the_existing_path(cluster: Cluster) -> None:
    rows_of(cluster.fe, "CREATE TABLE tpch.pk (k INT, v INT) PRIMARY KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    rows_of(cluster.fe, "INSERT INTO tpch.pk VALUES (1, 10), (2, 20)")
    rows_of(cluster.fe, "INSERT INTO tpch.pk VALUES (1, 11)")
    before = cluster.metric("cairn_distributed_queries_total")
    assert cluster.rows("SELECT k, v FROM pk ORDER BY k") == [(1, 11), (2, 20)]
    assert cluster.metric("cairn_distributed_queries_total") == before
    assert "PRIMARY KEY table" in cluster.fe.log.read_text()


def test_bytes_gathered_by_the_fe_are_about_the_result_size(cluster: Cluster) -> None:
    before = cluster.metric("cairn_distributed_gathered_bytes_total")
    rows = cluster.rows("SELECT l_returnflag, count(*), sum(l_quantity) FROM lineitem GROUP BY l_returnflag")
    gathered = cluster.metric("cairn_distributed_gathered_bytes_total") - before
    assert len(rows) == 3
    # lineitem at SF 0.01 is 60 175 rows (several MB); the FE gathered partial aggregates: a few
    # rows per node, plus Arrow's framing.
    assert 0 < gathered < 20_000, gathered


def _raylets(cn: CnProcess) -> int:
    return sum(1 for c in psutil.Process(cn.proc.pid).children(recursive=True) if "raylet" in c.name())


def test_a_dropped_cn_stops_its_engine_worker(cluster: Cluster, tmp_path: Path) -> None:
    cn = start_cn(tmp_path, {"cairn_distributed_engine": "true", "cairn_engine_object_store_size": "128M"},
                  name="cn-dropped", args=["--join", cluster.fe.peer_address])
    try:
        wait_until(lambda: "distributed engine worker joined" in cn.log.read_text(), timeout=120,
                   what="the engine worker joining")
        assert _raylets(cn) == 1
        rows_of(cluster.fe, f'ALTER SYSTEM DROP COMPUTE NODE "{cn.address}"')
        wait_until(lambda: "distributed engine worker stopped" in cn.log.read_text(), timeout=60,
                   what="the dropped CN's worker stopped")
        assert _raylets(cn) == 0
    finally:
        cn.stop()


def test_a_cn_stopped_with_sigterm_stops_its_engine_worker_and_exits(cluster: Cluster, tmp_path: Path) -> None:
    cn = start_cn(tmp_path, {"cairn_distributed_engine": "true", "cairn_engine_object_store_size": "128M"},
                  name="cn-stopped", args=["--join", cluster.fe.peer_address])
    try:
        wait_until(lambda: "distributed engine worker joined" in cn.log.read_text(), timeout=120,
                   what="the engine worker joining")
        children = psutil.Process(cn.proc.pid).children(recursive=True)
        assert any("raylet" in c.name() for c in children)
        # Ray's node start-up installs a SIGTERM handler of its own; the CN's orderly stop still runs.
        cn.stop()
        assert cn.proc.returncode == 0
        assert "distributed engine worker stopped" in cn.log.read_text()
        wait_until(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children),
                   timeout=30, what="the worker node's processes gone")
    finally:
        if cn.proc.poll() is None:
            cn.kill()
        rows_of(cluster.fe, f'ALTER SYSTEM DROP COMPUTE NODE "{cn.address}"')


def _running_fragments(cluster: Cluster) -> int:
    count = 0
    for cn in cluster.cns:
        for child in psutil.Process(cn.proc.pid).children(recursive=True):
            try:
                count += "run_fragment" in " ".join(child.cmdline())
            except psutil.NoSuchProcess:
                continue
    return count


def test_a_client_going_away_stops_the_query_on_every_node(cluster: Cluster) -> None:
    # About 500 million joined rows: long enough to be running when the client goes.
    sql = "SELECT count(*) FROM lineitem a JOIN lineitem b ON a.l_linenumber = b.l_linenumber"
    before = cluster.metric("cairn_distributed_queries_total")
    connection = cluster.connect()
    cursor = connection.cursor()
    def run() -> None:
        try:
            cursor.execute(sql)
        except (pymysql.MySQLError, OSError, AttributeError):
            pass  # the connection is closed under it

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: _running_fragments(cluster) > 0, timeout=60, what="the query's tasks running")
    connection._sock.shutdown(socket.SHUT_RDWR)  # the client goes away mid-query
    wait_until(lambda: "distributed query cancelled" in cluster.fe.log.read_text(), timeout=60,
               what="the query cancelled")
    wait_until(lambda: _running_fragments(cluster) == 0, timeout=60, what="every node's tasks stopped")
    # Stopped, not answered.
    assert cluster.metric("cairn_distributed_queries_total") == before


# About 4 * 10^12 joined rows: runs on the engine until it is stopped.
ENDLESS = ("SELECT count(*) FROM lineitem a JOIN lineitem b ON a.l_linenumber = b.l_linenumber "
           "JOIN lineitem c ON b.l_linenumber = c.l_linenumber")


def _process(cluster: Cluster, connection_id: int) -> tuple | None:
    return next((r for r in rows_of(cluster.fe, "SHOW FULL PROCESSLIST") if int(r[0]) == connection_id), None)


def test_kill_query_stops_the_query_on_every_node_and_the_queue_admits_one_at_a_time(cluster: Cluster) -> None:
    cancelled = cluster.fe.log.read_text().count("distributed query cancelled")
    answered = cluster.metric("cairn_distributed_queries_total")
    endless = RunningStatement(cluster.connect(), ENDLESS)
    wait_until(lambda: _running_fragments(cluster) > 0, timeout=60, what="the query's tasks running")
    # The engine runs one query at a time: the next waits, shown as pending ...
    waiting = RunningStatement(cluster.connect(), QUERIES[6])
    wait_until(lambda: (_process(cluster, waiting.id) or ("",) * 10)[9] == "true", timeout=30,
               what="the second query pending in the queue")
    # ... the queue holds one: a third is refused at once ...
    with pytest.raises(pymysql.MySQLError) as full:
        cluster.rows(QUERIES[6])
    assert full.value.args[0] == 1064 and "exceeds capacity [1]" in full.value.args[1], full.value.args
    # ... and the waiting one gives up after query_queue_pending_timeout_second.
    timeouts = cluster.metric("cairn_query_queue_timeout_total")
    error = waiting.finished()
    assert isinstance(error, pymysql.MySQLError) and "pending timeout [10]" in error.args[1], error
    assert cluster.metric("cairn_query_queue_timeout_total") == timeouts + 1
    waiting.connection.close()
    # KILL QUERY takes a waiting query out of the queue.
    waiting = RunningStatement(cluster.connect(), QUERIES[6])
    wait_until(lambda: (_process(cluster, waiting.id) or ("",) * 10)[9] == "true", timeout=30,
               what="another query pending in the queue")
    rows_of(cluster.fe, f"KILL QUERY {waiting.id}")
    assert getattr(waiting.finished(), "args", (None,))[0] == 1317
    assert cluster.metric("cairn_query_queue_pending") == 0
    waiting.connection.close()
    # KILL QUERY stops the running one on every node; its client hears why; its connection stays.
    rows_of(cluster.fe, f"KILL QUERY {endless.id}")
    error = endless.finished()
    assert isinstance(error, pymysql.MySQLError) and error.args[0] == 1317, error
    wait_until(lambda: cluster.fe.log.read_text().count("distributed query cancelled") > cancelled, timeout=60,
               what="the query cancelled")
    wait_until(lambda: _running_fragments(cluster) == 0, timeout=60, what="every node's tasks stopped")
    assert cluster.metric("cairn_distributed_queries_total") == answered
    with endless.connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchall() == ((1,),)
    endless.connection.close()
    # The slot is free again.
    assert _compare(cluster, QUERIES[6])


# A join whose build side no worker can hold in a small pool, and an aggregation that can spill.
BIG_JOIN = "SELECT count(*) FROM lineitem a JOIN lineitem b ON a.l_orderkey = b.l_orderkey"
BIG_AGGREGATE = ("SELECT l_orderkey, l_partkey, count(*), sum(l_quantity), max(l_comment) FROM lineitem "
                 "GROUP BY l_orderkey, l_partkey")


def test_a_memory_limited_node_spills_or_fails_clearly_and_stays_up(cluster: Cluster) -> None:
    want = cluster.rows(BIG_AGGREGATE, distributed=False)
    connection = cluster.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET query_mem_limit = 262144")
            before = cluster.metric("cairn_distributed_queries_total")
            with pytest.raises(pymysql.MySQLError) as exceeded:
                cursor.execute(BIG_JOIN)
            code, message = exceeded.value.args
            assert code == 1064 and re.search(r"Memory of Query\S+ exceed limit", message), message
            assert "compute node" in message and "query_mem_limit" in message, message
            # The aggregation spills to disk where its pool runs out, and answers.
            cursor.execute("SET query_mem_limit = 2097152")
            cursor.execute(BIG_AGGREGATE)
            assert _same(list(cursor.fetchall()), want, False)
            assert cluster.metric("cairn_distributed_queries_total") == before + 1
    finally:
        connection.close()
    # Every node's worker is still there and answers on the engine.
    assert all(cn.proc.poll() is None for cn in cluster.cns)
    assert _compare(cluster, QUERIES[6])


def test_a_cn_killed_mid_query_still_gives_the_answer(cluster: Cluster) -> None:
    sql = QUERIES[5]
    want = cluster.rows(sql, distributed=False)
    answer: dict[str, Any] = {}

    def run() -> None:
        try:
            answer["rows"] = cluster.rows(sql)
        except pymysql.MySQLError as exc:
            answer["error"] = exc

    before = cluster.metric("cairn_distributed_queries_total")
    thread = threading.Thread(target=run)
    thread.start()
    victim = cluster.cns[1]
    wait_until(lambda: any("ray::" in c.name() or "run_fragment" in " ".join(c.cmdline())
                           for c in psutil.Process(victim.proc.pid).children(recursive=True)
                           if c.is_running()) or not thread.is_alive(), timeout=60, what="the query's tasks")
    victim.kill()
    thread.join(timeout=180)
    assert not thread.is_alive()
    if "error" in answer:
        # The engine may also give up on the lost node: then the error says so, never a partial answer.
        assert "compute node" in str(answer["error"]).lower(), answer["error"]
    else:
        assert _same(answer["rows"], want, tpch.is_ordered(sql))
        assert cluster.metric("cairn_distributed_queries_total") == before + 1
    # The CN left keeps answering on the engine.
    assert _compare(cluster, QUERIES[3])
    # With no CN left, a clear error, not an answer.
    cluster.cns[0].kill()
    with pytest.raises(pymysql.MySQLError, match="(?i)compute node"):
        cluster.rows(QUERIES[3])

