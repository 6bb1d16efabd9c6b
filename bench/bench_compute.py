"""Compute-node benchmarks: warm vs cold cache on moto's S3 server, and 1 vs 2 compute nodes.
Compute nodes are real `cairn cn` processes; the FE runs in this process."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from pyarrow import flight

from bench.common import timed, write_result
from bench.s3_server import command as s3_server_command
from cairn.api import connect, open_frontend
from cairn.cn.local_nodes import (
    LocalNode,
    free_port,
    is_listening,
    start_local_nodes,
    stop_local_nodes,
)
from cairn.config.cluster_credential import new_credential
from cairn.server.session import Session

S3_KEYS = {"aws_s3_access_key": "bench-access", "aws_s3_secret_key": "bench-secret-4242", "aws_s3_region": "us-east-1"}
# What the FE and the benchmark's compute nodes share.
CREDENTIAL = new_credential()
QUERY = "SELECT g, count(*), sum(v), max(s) FROM t WHERE v % 7 <> 3 GROUP BY g"


def _moto() -> tuple[str, subprocess.Popen]:
    port = free_port()
    proc = subprocess.Popen(s3_server_command(port),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not is_listening(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_KEYS["aws_s3_access_key"],
                 aws_secret_access_key=S3_KEYS["aws_s3_secret_key"],
                 region_name=S3_KEYS["aws_s3_region"]).create_bucket(Bucket="bench")
    return endpoint, proc


def _frontend(root: Path, endpoint: str | None = None, **overrides: str) -> Session:
    values: dict[str, str] = {"meta_dir": str(root / "meta"), "local_storage_path": str(root / "storage"),
                              "heartbeat_interval_second": "1", "cluster_credential": CREDENTIAL, **overrides}
    if endpoint:
        values.update({"enable_load_volume_from_conf": "true", "aws_s3_path": "bench/data",
                       "aws_s3_endpoint": endpoint, **S3_KEYS})
    return connect(open_frontend(**values))


def _load(session: Session, rows: int) -> None:
    session.execute_script(
        "CREATE DATABASE b; USE b; CREATE TABLE t (k BIGINT, g INT, v BIGINT, s VARCHAR(32)) "
        "DISTRIBUTED BY HASH(k) BUCKETS 8;"
        f"INSERT INTO t SELECT i, i % 100, (i * 7919) % 100003, concat('row-', i % 50000) "
        f"FROM TABLE(generate_series(1, {rows})) AS x(i);")


def _register(session: Session, nodes: list[LocalNode]) -> None:
    session.execute("ALTER SYSTEM ADD COMPUTE NODE " + ", ".join(f'"{n.address}"' for n in nodes))


def _reports(session: Session) -> dict[str, Any]:
    return {s.address: s.report for s in session.frontend.compute_nodes.states()}


def warm_vs_cold(rows: int) -> dict:
    """The same query with every node's cache emptied first, and again with it warm (S3 on moto)."""
    endpoint, moto = _moto()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        nodes = start_local_nodes(1, root / "nodes", CREDENTIAL)
        session = _frontend(root, endpoint)
        try:
            _register(session, nodes)
            _load(session, rows)
            registry = session.frontend.compute_nodes

            def clear() -> None:
                for state in registry.alive():
                    list(registry.client(state).do_action(flight.Action("clear_cache", b"")))

            cold_times, warm_times = [], []
            for _ in range(3):
                clear()
                cold_times.append(timed(lambda: session.execute(QUERY)))
                registry.heartbeat_all()
                before = {a: (r.cache_hits, r.cache_misses) for a, r in _reports(session).items()}
                warm_times.append(timed(lambda: session.execute(QUERY)))
            registry.heartbeat_all()
            after = {a: (r.cache_hits, r.cache_misses) for a, r in _reports(session).items()}
            hits = sum(after[a][0] - before[a][0] for a in after)
            misses = sum(after[a][1] - before[a][1] for a in after)
            cold, warm = sorted(cold_times)[1], sorted(warm_times)[1]
            return {"rows": rows, "cold_seconds": round(cold, 3), "warm_seconds": round(warm, 3),
                    "warm_over_cold": round(warm / cold, 3), "warm_hit_rate": round(hits / max(1, hits + misses), 3)}
        finally:
            session.frontend.close()
            stop_local_nodes(nodes)
            moto.terminate()


def one_vs_two_nodes(rows: int) -> dict:
    """The same query on 1 and on 2 compute nodes (local volume), and how the work was split."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        nodes = start_local_nodes(2, root / "nodes", CREDENTIAL)
        session = _frontend(root)
        try:
            _register(session, nodes[:1])
            _load(session, rows)
            figures: dict[str, Any] = {"rows": rows}
            for count in (1, 2):
                if count == 2:
                    _register(session, nodes[1:])
                session.execute(QUERY)
                session.frontend.compute_nodes.heartbeat_all()
                before = {a: r.counters.get("scans", 0) for a, r in _reports(session).items()}
                figures[f"seconds_{count}_nodes"] = round(timed(lambda: session.execute(QUERY), repeat=5), 3)
                session.frontend.compute_nodes.heartbeat_all()
                after = {a: r.counters.get("scans", 0) for a, r in _reports(session).items()}
                figures[f"fragments_per_node_{count}_nodes"] = [after[a] - before.get(a, 0) for a in sorted(after)]
                figures[f"tablets_per_node_{count}_nodes"] = sorted(session.frontend.compute_nodes
                                                                    .tablets_assigned().values())
            figures["speedup"] = round(figures["seconds_1_nodes"] / figures["seconds_2_nodes"], 3)
            return figures
        finally:
            session.frontend.close()
            stop_local_nodes(nodes)


def run(rows: int = 4_000_000) -> dict:
    figures = {"warm_vs_cold": warm_vs_cold(rows), "one_vs_two_nodes": one_vs_two_nodes(rows)}
    write_result("compute", figures)
    return figures
