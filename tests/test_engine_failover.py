"""The distributed engine across FEs (issue #14): the leader runs the engine's head and a follower
runs its queries on the same CN workers through it; `kill -9` of the leader takes the head with it,
the new leader starts its own, names it in its heartbeats to the CNs, and their engine workers join
it. Queries then run on the CNs again, with no step by a person. Two FEs and one CN on moto's S3,
loopback only."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from cn_process import start_cn
from conftest import wait_until
from fe_cluster import FeCluster, s3_values
from fe_process import FeProcess

QUERY = "SELECT g, count(*), sum(v) FROM engine_fo.t GROUP BY g ORDER BY g"


def distributed_queries(fe: FeProcess) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{fe.http_port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = re.search(r"^cairn_distributed_queries_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def answered_by_engine(cluster: FeCluster, fe: FeProcess, want: list[tuple]) -> bool:
    """Whether the engine answers QUERY on `fe` now, with the embedded path's answer."""
    before = distributed_queries(fe)
    connection = cluster.connect(next(f for f in cluster.fes if f.process is fe))
    try:
        with connection.cursor() as cursor:
            cursor.execute(QUERY)
            assert list(cursor.fetchall()) == want
    finally:
        connection.close()
    return distributed_queries(fe) == before + 1


@pytest.mark.slow
def test_followers_share_the_engine_and_cns_follow_its_head_to_the_new_leader(tmp_path: Path, moto_endpoint: str) -> None:
    cluster = FeCluster(tmp_path, s3_values(moto_endpoint, cairn_distributed_engine="true",
                                            heartbeat_interval_second="1"))
    cn = None
    try:
        first = cluster.new_fe()
        cluster.start(first)
        second = cluster.add(first)
        cn = start_cn(tmp_path, {"cairn_distributed_engine": "true", "cairn_engine_cpus": "1",
                                 "cairn_engine_object_store_size": "128M"}, args=["--join", first.address])
        wait_until(lambda: "distributed engine worker joined" in cn.log.read_text(), timeout=120,
                   what="the CN's engine worker joining the first leader's head")
        cluster.sql(first, "CREATE DATABASE engine_fo",
                    "CREATE TABLE engine_fo.t (k INT, g INT, v BIGINT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 3",
                    "INSERT INTO engine_fo.t SELECT generate_series, generate_series % 4, generate_series * 10 "
                    "FROM TABLE(generate_series(1, 300))")
        want = cluster.sql(first, "SET cairn_distributed_engine = 0", QUERY)
        wait_until(lambda: answered_by_engine(cluster, first.running, want), timeout=60,
                   what="the engine answering on the first leader")
        # A follower runs its queries on the same workers, through the leader's head.
        wait_until(lambda: answered_by_engine(cluster, second.running, want), timeout=120,
                   what="the engine answering on the follower")

        cluster.kill(first)
        assert cluster.leader([second]) is second
        wait_until(lambda: "the engine's head moved" in cn.log.read_text(), timeout=120,
                   what="the CN's worker leaving the dead head for the new leader's")
        wait_until(lambda: answered_by_engine(cluster, second.running, want), timeout=120,
                   what="the engine answering on the new leader")
        assert cn.proc.poll() is None, "the CN kept running through the failover"
    finally:
        if cn is not None:
            cn.stop()
        cluster.stop()
