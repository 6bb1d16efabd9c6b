"""Load and query speed (engine-core issue).

Load: INSERT INTO t SELECT of N generated rows into a 4-partition, 8-bucket table on a local
volume, against pyarrow writing the same rows as one Parquet file to the same volume (goal: ratio
of our rows/s to theirs >= 0.7). Query: scan + filter + group-by through Cairn, against DuckDB
reading the same Parquet files directly (goal: our time / theirs <= 1.3).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from bench.common import timed, write_result
from cairn.api import connect, open_frontend

TABLE = """CREATE TABLE events (id BIGINT, day DATE, kind VARCHAR(16), user_id INT, amount DOUBLE)
DUPLICATE KEY(id) PARTITION BY RANGE(day) (
  PARTITION q1 VALUES LESS THAN ('2024-04-01'), PARTITION q2 VALUES LESS THAN ('2024-07-01'),
  PARTITION q3 VALUES LESS THAN ('2024-10-01'), PARTITION q4 VALUES LESS THAN ('2025-01-01'))
DISTRIBUTED BY HASH(id) BUCKETS 8"""

GENERATED = """SELECT generate_series AS id,
  DATE_ADD('2024-01-01', INTERVAL generate_series % 366 DAY) AS day,
  concat('kind', generate_series % 16) AS kind, generate_series % 100000 AS user_id,
  generate_series * 0.25 AS amount
FROM TABLE(generate_series(1, {rows}))"""

DUCKDB_GENERATED = """SELECT generate_series AS id,
  CAST(DATE '2024-01-01' + INTERVAL (generate_series % 366) DAY AS DATE) AS day,
  concat('kind', generate_series % 16) AS kind, CAST(generate_series % 100000 AS INTEGER) AS user_id,
  generate_series * 0.25 AS amount
FROM generate_series(1, {rows})"""

QUERY = "SELECT kind, count(*) AS n, sum(amount) AS total FROM {table} WHERE user_id < 50000 GROUP BY kind ORDER BY kind"


def run(rows: int = 10_000_000) -> dict:
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
        root = Path(scratch)
        frontend = open_frontend(meta_dir=str(root / "meta"), local_storage_path=str(root / "storage"))
        session = connect(frontend)
        session.execute_script(f"CREATE DATABASE bench; USE bench; {TABLE}")
        load_seconds = timed(lambda: session.execute(f"INSERT INTO events {GENERATED.format(rows=rows)}"))
        assert session.execute("SELECT count(*) FROM events").rows() == [(rows,)]

        source = duckdb.sql(DUCKDB_GENERATED.format(rows=rows)).to_arrow_table()
        baseline_path = root / "storage" / "baseline.parquet"
        pyarrow_seconds = timed(lambda: pq.write_table(source, baseline_path))

        files = sorted(str(p) for p in (root / "storage").rglob("*.parquet") if p != baseline_path)
        ours = QUERY.format(table="events")
        direct = QUERY.format(table=f"read_parquet({files!r})".replace('"', "'"))
        assert session.execute(ours).rows() == duckdb.sql(direct).fetchall()
        cairn_query = timed(lambda: session.execute(ours), repeat=5)
        duckdb_query = timed(lambda: duckdb.sql(direct).fetchall(), repeat=5)
        frontend.close()
    figures = {
        "rows": rows,
        "load": {"cairn_seconds": load_seconds, "cairn_rows_per_second": rows / load_seconds,
                 "pyarrow_seconds": pyarrow_seconds, "pyarrow_rows_per_second": rows / pyarrow_seconds,
                 "ratio": pyarrow_seconds / load_seconds, "goal": ">= 0.7"},
        "query": {"cairn_seconds": cairn_query, "duckdb_direct_seconds": duckdb_query,
                  "ratio": cairn_query / duckdb_query, "goal": "<= 1.3"},
    }
    write_result("load_query", figures)
    return figures
