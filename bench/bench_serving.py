"""Serving speed (serving issue).

Point queries: `SELECT ... WHERE id = ?` from 32 client threads over the MySQL protocol, against the
same queries from 32 threads in-process; queries per second for both and the ratio.
Stream Load: a CSV of the given size through `PUT /api/db/t/_stream_load`, in MB/s, against
pyarrow's CSV reader + Parquet writer on the same file (ratio of our MB/s to theirs).
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pymysql

from bench.common import timed, write_result
from cairn.api import connect, open_frontend

THREADS = 32
TABLE = ("CREATE TABLE t (id BIGINT, day DATE, kind VARCHAR(16), user_id INT, amount DOUBLE) DUPLICATE KEY(id) "
         "DISTRIBUTED BY HASH(id) BUCKETS 8")
ROWS = 1_000_000


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int) -> None:
    import socket

    for _ in range(600):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(port)


@contextmanager
def _fe_process(root: Path) -> Iterator[tuple[int, int, Path]]:
    """A `cairn fe` process on a local volume under `root`: (query port, http port, fe.conf)."""
    query_port, http_port = _free_port(), _free_port()
    conf = root / "fe.conf"
    conf.write_text(f"meta_dir = {root / 'meta'}\nlocal_storage_path = {root / 'storage'}\n"
                    f"query_port = {query_port}\nhttp_port = {http_port}\nsys_log_level = WARNING\n")
    server = subprocess.Popen([sys.executable, "-m", "cairn.cli.main", "fe", "--conf", str(conf)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(query_port)
        yield query_port, http_port, conf
    finally:
        server.terminate()
        server.wait(timeout=30)


def _qps(run_one, seconds: float) -> float:
    """Queries per second from THREADS threads each calling run_one(thread_state) until time is up."""
    counts = [0] * THREADS
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        state = run_one.setup()
        rng = random.Random(index)
        while time.monotonic() < stop:
            run_one(state, rng.randint(1, ROWS))
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def point_queries(seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
        root = Path(scratch)
        with _fe_process(root) as (query_port, _, conf):
            admin = pymysql.connect(host="127.0.0.1", port=query_port, user="root", autocommit=True)
            with admin.cursor() as cursor:
                cursor.execute("CREATE DATABASE b")
                cursor.execute("USE b")
                cursor.execute(TABLE)
                cursor.execute(f"INSERT INTO t SELECT generate_series, DATE_ADD('2024-01-01', INTERVAL generate_series % 366 DAY), "
                               f"concat('k', generate_series % 16), generate_series % 1000, generate_series * 0.5 "
                               f"FROM TABLE(generate_series(1, {ROWS}))")
            admin.close()

            def over_mysql(state, key: int) -> None:
                with state.cursor() as cursor:
                    cursor.execute("SELECT * FROM t WHERE id = %s", (key,))
                    cursor.fetchall()

            over_mysql.setup = lambda: pymysql.connect(host="127.0.0.1", port=query_port, user="root",
                                                       database="b", autocommit=True)
            mysql_qps = _qps(over_mysql, seconds)
        frontend = open_frontend(conf)

        def in_process(state, key: int) -> None:
            state.execute(f"SELECT * FROM t WHERE id = {key}").rows()

        in_process.setup = lambda: connect(frontend, database="b")
        local_qps = _qps(in_process, seconds)
        frontend.close()
    return {"threads": THREADS, "rows": ROWS, "mysql_qps": mysql_qps, "in_process_qps": local_qps,
            "ratio": mysql_qps / local_qps}


def stream_load(megabytes: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
        root = Path(scratch)
        csv_path = root / "data.csv"
        rows = max(1, megabytes * 1_000_000 // 51)  # about 51 bytes per CSV line
        duckdb.sql(f"COPY (SELECT i AS id, DATE '2024-01-01' + INTERVAL (i % 366) DAY AS day, concat('kind', i % 16) AS kind, "
                   f"i % 100000 AS user_id, i * 0.25 AS amount FROM range({rows}) t(i)) TO '{csv_path}' "
                   "(HEADER false)")
        size = csv_path.stat().st_size
        with _fe_process(root) as (query_port, http_port, _):
            admin = pymysql.connect(host="127.0.0.1", port=query_port, user="root", autocommit=True)
            with admin.cursor() as cursor:
                cursor.execute("CREATE DATABASE b")
                cursor.execute(f"CREATE TABLE b.{TABLE.removeprefix('CREATE TABLE ')}")
            admin.close()

            def upload() -> dict:
                connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=3600)
                with csv_path.open("rb") as body:
                    connection.request("PUT", "/api/b/t/_stream_load", body=body, headers={
                        "Authorization": "Basic " + base64.b64encode(b"root:").decode(),
                        "column_separator": ",", "Content-Length": str(size), "label": "bench"})
                    answer = json.loads(connection.getresponse().read())
                connection.close()
                return answer

            started = time.perf_counter()
            answer = upload()
            cairn_seconds = time.perf_counter() - started
            assert answer["Status"] == "Success" and answer["NumberLoadedRows"] == rows, answer
        baseline = timed(lambda: pq.write_table(pacsv.read_csv(csv_path, read_options=pacsv.ReadOptions(
            column_names=["id", "day", "kind", "user_id", "amount"])), root / "baseline.parquet"))
    megabytes_read = size / 1e6
    return {"csv_bytes": size, "rows": rows, "cairn_seconds": cairn_seconds,
            "cairn_mb_per_second": megabytes_read / cairn_seconds, "pyarrow_seconds": baseline,
            "pyarrow_mb_per_second": megabytes_read / baseline, "ratio": baseline / cairn_seconds}


def run(seconds: float = 10.0, megabytes: int = 1000) -> dict:
    figures = {"point_queries": point_queries(seconds), "stream_load": stream_load(megabytes)}
    write_result("serving", figures)
    return figures
