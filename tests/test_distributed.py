"""Distributed execution on the engine cluster (issue #14): Ray as the runtime, DataFusion running the
plan's fragments on two worker nodes on this machine.

One cluster serves the module (Ray's start-up takes seconds). TPC-H at scale factor 0.01, with
lineitem and orders as two files each: every query's answer on two workers equals DuckDB's; a worker
killed mid-query does not change the answer; the cluster listens on 127.0.0.1 only and refuses a
client without its token; a node started apart, from the same credential, joins and runs tasks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from bench import tpch

from cairn.config.cluster_credential import new_credential
from cairn.distributed.query import DistributedQuery
from cairn.distributed.runner import StageRunner
from cairn.distributed.runtime import EngineCluster, engine_token
from cairn.distributed.session import TableFiles
from cairn.secrets import redact

SF = "0.01"
VIEW, QUERIES = tpch.queries()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    return tpch.generate(tmp_path_factory.mktemp("tpch"), SF, split=("lineitem", "orders"))


@pytest.fixture(scope="module")
def duck(data: dict[str, list[Path]]) -> Any:
    return tpch.duckdb_connection(data)


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineCluster]:
    cluster = EngineCluster(credential=new_credential(), object_store_bytes=128 * 1024 * 1024)
    try:
        cluster.start_head()
        cluster.add_worker("cn0")
        cluster.add_worker("cn1")
        cluster.connect()
        yield cluster
    finally:
        cluster.stop()


def _query(engine: EngineCluster, data: dict[str, list[Path]]) -> DistributedQuery:
    tables = tuple(TableFiles(name=t, files=tuple(str(p) for p in paths)) for t, paths in data.items())
    return DistributedQuery(tables=tables, node_ids=engine.node_ids(), views=(VIEW,))


@pytest.mark.parametrize("number", sorted(QUERIES))
def test_tpch_answer_on_two_workers_equals_duckdb(engine: EngineCluster, data: dict[str, list[Path]], duck: Any,
                                                  number: int) -> None:
    query = _query(engine, data)
    sql = QUERIES[number]
    got = query.run(sql)
    same, why = tpch.compare(got, duck.sql(sql).to_arrow_table(), sql)
    assert same, f"Q{number}: {why}"
    assert query.last_stats is not None and query.last_stats.tasks >= 2
    # Both workers ran part of it.
    assert len(query.last_stats.tasks_per_node) == 2


@pytest.mark.parametrize("number", [2, 21])
def test_an_outer_semi_or_anti_join_is_not_broadcast_but_smaller_build_sides_still_are(
        engine: EngineCluster, data: dict[str, list[Path]], duck: Any, number: int) -> None:
    # Q2 and Q21 have semi and anti joins whose build sides fall under the broadcast threshold: those
    # must be hash-partitioned (each task would emit its own unmatched rows), while the joins with
    # smaller build sides (nation, region, supplier) stay broadcast, so the plan has fewer stages than
    # with every join partitioned, and the same answer.
    query = _query(engine, data)
    every_join_partitioned = DistributedQuery(tables=query.tables, node_ids=query.node_ids, views=query.views,
                                              broadcast_bytes=0, broadcast_rows=0)
    sql = QUERIES[number]
    assert len(query.plan(sql).stages) < len(every_join_partitioned.plan(sql).stages)
    want = duck.sql(sql).to_arrow_table()
    for q in (query, every_join_partitioned):
        same, why = tpch.compare(q.run(sql), want, sql)
        assert same, f"Q{number}: {why}"


def test_a_run_counts_the_bytes_gathered_exchanged_and_scanned_per_node(engine: EngineCluster,
                                                                          data: dict[str, list[Path]]) -> None:
    query = _query(engine, data)
    got = query.run("select l_returnflag, count(*) as n, sum(l_quantity) as q from lineitem group by l_returnflag")
    stats = query.last_stats
    assert got.num_rows == 3 and stats is not None
    # The caller gathers partial aggregates (a few rows per node); the workers exchange them too,
    # and each node scans its share of lineitem's two files.
    assert 0 < stats.gathered_bytes < 20_000
    assert stats.exchanged_bytes >= 0
    assert sorted(stats.scan_tasks_per_node.values()) == [1, 1]
    assert set(stats.output_bytes_per_node) == set(engine.node_ids())
    # A hash join exchanges both sides' keys between the workers (lineitem's 60 175 keys of 8 bytes
    # at least), and the caller gathers only the partial counts.
    partitioned = DistributedQuery(tables=query.tables, node_ids=query.node_ids, broadcast_bytes=0, broadcast_rows=0)
    got = partitioned.run("select count(*) as n from orders join lineitem on o_orderkey = l_orderkey")
    stats = partitioned.last_stats
    assert got.column("n").to_pylist() == [60175] and stats is not None
    assert stats.exchanged_bytes >= 60175 * 8 and stats.gathered_bytes < 20_000


def test_stages_of_one_partition_take_the_nodes_in_turn(engine: EngineCluster, data: dict[str, list[Path]],
                                                       duck: Any) -> None:
    # Q2 scans five tables of one file each (one partition per scan stage): they, and its final
    # stage, go to the nodes in turn rather than all to the first, and the answer is the same.
    query = _query(engine, data)
    sql = QUERIES[2]
    same, why = tpch.compare(query.run(sql), duck.sql(sql).to_arrow_table(), sql)
    assert same, why
    stats = query.last_stats
    assert stats is not None and len(stats.tasks_per_node) == 2
    low, high = sorted(stats.tasks_per_node.values())
    assert high - low <= 1, stats.tasks_per_node


def test_engine_listens_on_loopback_only(engine: EngineCluster) -> None:
    listening = []
    for process in psutil.Process().children(recursive=True):
        try:
            listening += [c.laddr for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    assert listening, "the engine's processes listen on nothing"
    # Ray's gRPC servers bind IPv6 sockets to the IPv4-mapped form of 127.0.0.1.
    assert {addr.ip.removeprefix("::ffff:") for addr in listening} == {"127.0.0.1"}, listening


def _join_as_client(address: str, env: dict[str, str]) -> subprocess.Popen[str]:
    code = ("import ray; ray.init(address=%r, _node_ip_address='127.0.0.1', log_to_driver=False); "
            "print('CONNECTED', flush=True)") % address
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    # A refused client retries once a second, 20 times by default; two attempts say as much.
    quick = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_gcs_server_port_wait_time_s": "2"}
    return subprocess.Popen([sys.executable, "-c", code], env=base | quick | env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_engine_refuses_a_client_without_its_token(engine: EngineCluster) -> None:
    # A wrong token, and none at all; both tried at once.
    clients = [_join_as_client(engine.address, {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 64}),
               _join_as_client(engine.address, {"RAY_AUTH_MODE": "disabled"})]
    for client in clients:
        stdout, stderr = client.communicate(timeout=120)
        assert "CONNECTED" not in stdout
        assert client.returncode != 0
        assert "InvalidAuthToken" in stderr, stderr[-2000:]


def test_engine_token_comes_from_the_credential_and_is_redacted() -> None:
    credential = new_credential()
    token = engine_token(credential)
    assert token == engine_token(credential) != engine_token(new_credential())
    assert credential not in token
    assert token not in redact(f"token {token}")


def test_worker_killed_mid_query_answer_still_right(engine: EngineCluster, data: dict[str, list[Path]],
                                                    duck: Any) -> None:
    import ray

    query = _query(engine, data)
    sql = QUERIES[18]  # scans, a hash aggregate, two joins: every exchange kind but a merge
    runner = StageRunner(query.node_ids)
    submitted = runner.submit(query.plan(sql))
    # Mid-query: the first stages' outputs exist (some in the victim's object store), the rest not yet.
    first = [ref for out in submitted.outputs[0] for ref in out]
    ray.wait(first, num_returns=len(first), timeout=60)
    engine.kill_worker("cn1")
    try:
        got = submitted.result()
        same, why = tpch.compare(got, duck.sql(sql).to_arrow_table(), sql)
        assert same, why
    finally:
        engine.add_worker("cn1")


def test_a_node_holding_the_credential_joins_and_takes_part(engine: EngineCluster, data: dict[str, list[Path]],
                                                           duck: Any) -> None:
    # A CN's side: its own EngineCluster, the same credential, the head's address; the token is
    # derived independently from the credential. (Last in the module: the engine would take a few
    # seconds to see cn2 gone.)
    cn = EngineCluster(credential=engine.credential, head_address=engine.address, object_store_bytes=128 * 1024 * 1024)
    worker = cn.add_worker("cn2")
    try:
        query = _query(engine, data)
        assert worker.node_id in query.node_ids and len(query.node_ids) == 3
        sql = QUERIES[3]
        same, why = tpch.compare(query.run(sql), duck.sql(sql).to_arrow_table(), sql)
        assert same, why
        assert query.last_stats is not None and worker.node_id in query.last_stats.tasks_per_node
    finally:
        cn.stop()


def test_a_query_without_a_memory_limit_is_bounded_by_each_workers_memory(engine: EngineCluster) -> None:
    import ray

    from cairn.fe.engine_host import EngineWorkerNode, _memory_limits

    # This module's two workers (a node another test stopped may still be listed alive for a while).
    own = {w.node_id for w in engine.workers.values()}
    nodes = [n for n in ray.nodes() if n["Alive"] and n["NodeID"] in own]
    workers = [EngineWorkerNode(str(n["NodeID"]), f"cn{i}", int(n["Resources"]["CPU"]),
                                int(n["Resources"].get("memory", 0))) for i, n in enumerate(nodes)]
    # Ray reckons each worker's memory for tasks: a query with query_mem_limit = 0 gets it, split
    # between the tasks a node runs at once, so it spills or fails there instead of exhausting the node.
    assert len(workers) == 2 and all(w.memory > 0 for w in workers)
    unbounded = _memory_limits(workers, 0)
    assert unbounded.per_task == {w.node_id: w.memory // w.cpus for w in workers} and unbounded.query_limit == 0
    bounded = _memory_limits(workers, 1 << 20)
    assert bounded.per_task == {w.node_id: (1 << 20) // w.cpus for w in workers} and bounded.local == 1 << 20
