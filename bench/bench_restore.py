"""Recovery time and recovery point (restore issue).

RTO: from starting `cairn fe --cluster_snapshot` to the first query answered, for catalogs of 10,
1,000 and 10,000 partitions (same rows), and for ~10 MB vs ~5 GB of data in the same catalog
(goal: ratio <= 1.2; 10,000 partitions <= 30 s). RPO: rows acknowledged before the FE and its disk
are lost, minus rows present after a point-in-time restore to "now" (goal: 0).
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymysql

from bench.bench_serving import _free_port
from bench.bench_snapshot import ROW, TABLE
from bench.common import scratch_session, write_result
from cairn.api import connect, open_frontend

# A restore slower than its goal is a figure to record, not a reason to end the run.
RESTORE_WAIT_SECONDS = 600.0


def _wait(port: int, server: subprocess.Popen, log: Path) -> None:
    """Until the FE `server` listens on `port`, at most RESTORE_WAIT_SECONDS; RuntimeError with the
    end of its log when it exits first."""
    deadline = time.monotonic() + RESTORE_WAIT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the FE exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"no FE listened on port {port} within {RESTORE_WAIT_SECONDS:.0f} s")


def _conf(root: Path, extra: str = "") -> tuple[Path, int]:
    """fe.conf for an FE under `root` on ports of its own (the defaults may be taken on a shared
    machine); its path and query port."""
    query_port = _free_port()
    conf = root / "fe.conf"
    conf.write_text(f"meta_dir = {root / 'meta'}\nlocal_storage_path = {root / 'storage'}\n"
                    f"query_port = {query_port}\nhttp_port = {_free_port()}\nedit_log_port = {_free_port()}\n"
                    f"rpc_port = {_free_port()}\nsys_log_level = WARNING\n{extra}")
    return conf, query_port


def _start(root: Path, conf: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    log = root / "fe.out"
    with log.open("ab") as out:
        server = subprocess.Popen([sys.executable, "-m", "cairn.cli.main", "fe", "--conf", str(conf), *args],
                                  stdout=out, stderr=subprocess.STDOUT)
    return server, log


def _timed_restore(root: Path, cluster_id: str, snapshot: str) -> float:
    """Seconds from starting a restoring FE process to its first answered query."""
    shutil.rmtree(root / "meta", ignore_errors=True)
    (root / "cluster_snapshot.yaml").write_text(
        f"cluster_snapshot:\n  cluster_snapshot_path: {root / 'storage'}/{cluster_id}/meta/image/{snapshot}\n")
    conf, query_port = _conf(root)
    started = time.perf_counter()
    server, log = _start(root, conf, "--cluster_snapshot")
    try:
        _wait(query_port, server, log)
        connection = pymysql.connect(host="127.0.0.1", port=query_port, user="root", database="b")
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM t")
            cursor.fetchall()
        elapsed = time.perf_counter() - started
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return elapsed


def _prepared(root: Path, statements: list[str]) -> str:
    session = scratch_session(root, "CREATE DATABASE b; USE b;")
    for statement in statements:
        session.execute(statement)
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT rto")
    session.frontend.close()
    return session.frontend.keys.cluster_id


def rto_by_partitions(counts: list[int], rows: int = 1_000_000) -> list[dict]:
    results = []
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
            root = Path(scratch)
            step = max(1, rows // count)
            parts = ", ".join(f"PARTITION p{i} VALUES LESS THAN ('{(i + 1) * step}')" for i in range(count))
            cluster = _prepared(root, [
                f"CREATE TABLE t (k INT, v BIGINT) PARTITION BY RANGE(k) ({parts}) DISTRIBUTED BY HASH(v) BUCKETS 1",
                f"INSERT INTO t SELECT generate_series % {step * count}, generate_series "
                f"FROM TABLE(generate_series(1, {rows}))"])
            results.append({"partitions": count, "rto_seconds": _timed_restore(root, cluster, "rto")})
    return results


def rto_by_data(sizes_mb: list[int]) -> list[dict]:
    results = []
    for size in sizes_mb:
        with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
            root = Path(scratch)
            rows = max(1000, size * 1_000_000 // 105)
            cluster = _prepared(root, [TABLE, f"INSERT INTO t {ROW.format(rows=rows)}"])
            data = sum(p.stat().st_size for p in (root / "storage").rglob("*.parquet"))
            results.append({"target_mb": size, "data_bytes": data, "rto_seconds": _timed_restore(root, cluster, "rto")})
    return results


def rpo(seconds: float = 10.0) -> dict:
    """Load for a while, lose the FE and its disk, restore to now: how many acknowledged rows are gone."""
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
        root = Path(scratch)
        conf, query_port = _conf(root, "automated_cluster_snapshot_interval_seconds = 60\n"
                                       "cluster_snapshot_pitr_window_seconds = 3600\n")
        server, log = _start(root, conf)
        _wait(query_port, server, log)
        connection = pymysql.connect(host="127.0.0.1", port=query_port, user="root", autocommit=True)
        acknowledged = 0
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE b")
            cursor.execute("CREATE TABLE b.t (id BIGINT) DISTRIBUTED BY HASH(id) BUCKETS 2")
            cursor.execute("ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON")
            time.sleep(2)
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                cursor.execute(f"INSERT INTO b.t VALUES ({acknowledged}), ({acknowledged + 1})")
                acknowledged += 2
        cluster = json.loads((root / "meta" / "cluster.json").read_text())["cluster_id"]
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        shutil.rmtree(root / "meta")
        time.sleep(1.1)
        now = time.strftime("%Y-%m-%d %H:%M:%S")
        done = subprocess.run([sys.executable, "-m", "cairn.cli.main", "restore", "--conf", str(conf),
                               "--snapshot", f"{root / 'storage'}/{cluster}/meta", "--to", now],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        frontend = open_frontend(conf)
        present = connect(frontend).execute("SELECT count(*) FROM b.t").rows()[0][0]
        frontend.close()
    return {"load_seconds": seconds, "acknowledged_rows": acknowledged, "rows_after_restore": present,
            "lost_rows": acknowledged - present, "goal_lost_rows": 0}


def run(partitions: list[int] | None = None, sizes_mb: list[int] | None = None) -> dict:
    by_data = rto_by_data(sizes_mb or [10, 5000])
    figures = {
        "rto_by_partitions": rto_by_partitions(partitions or [10, 1000, 10000]),
        "rto_by_data": by_data,
        "rto_data_ratio": by_data[-1]["rto_seconds"] / by_data[0]["rto_seconds"],
        "rto_goals": {"data_ratio": "<= 1.2", "10000_partitions_seconds": "<= 30"},
        "rpo": rpo(),
    }
    write_result("restore", figures)
    return figures
