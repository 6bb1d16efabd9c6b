"""Cluster snapshot duration (snapshots issue).

Data size: the same catalog (one 4-partition, 8-bucket table loaded in one statement) holding about
10 MB, 1 GB and 5 GB; snapshot duration for each, and largest/smallest (goal <= 1.2: no data is
copied). Catalog size: 10, 1,000 and 10,000 partitions holding the same rows; snapshot duration for
each, to show how it grows with the catalog.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import scratch_session, timed, write_result

# Each row carries ~200 bytes of poorly compressible text, so sizes are reached with few rows.
ROW = ("SELECT generate_series AS id, DATE_ADD('2024-01-01', INTERVAL generate_series % 366 DAY) AS day, "
       "concat(md5(CAST(generate_series AS VARCHAR)), md5(CAST(generate_series * 7 AS VARCHAR)), "
       "md5(CAST(generate_series * 13 AS VARCHAR))) AS payload FROM TABLE(generate_series(1, {rows}))")
TABLE = """CREATE TABLE t (id BIGINT, day DATE, payload STRING) DUPLICATE KEY(id)
PARTITION BY RANGE(day) (PARTITION q1 VALUES LESS THAN ('2024-04-01'), PARTITION q2 VALUES LESS THAN ('2024-07-01'),
PARTITION q3 VALUES LESS THAN ('2024-10-01'), PARTITION q4 VALUES LESS THAN ('2025-01-01'))
DISTRIBUTED BY HASH(id) BUCKETS 8"""


def _data_size(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "storage").rglob("*.parquet"))


def by_data_size(sizes_mb: list[int]) -> dict:
    results = []
    for size in sizes_mb:
        with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
            root = Path(scratch)
            session = scratch_session(root, f"CREATE DATABASE b; USE b; {TABLE}")
            rows = max(1000, size * 1_000_000 // 105)  # about 105 bytes of Parquet per row
            session.execute(f"INSERT INTO t {ROW.format(rows=rows)}")
            counter = iter(range(100))
            seconds = timed(lambda: session.execute(f"ADMIN CREATE CLUSTER SNAPSHOT s{next(counter)}"), repeat=9)
            results.append({"target_mb": size, "data_bytes": _data_size(root), "rows": rows,
                            "snapshot_seconds": seconds})
            session.frontend.close()
    return {"runs": results, "ratio_largest_to_smallest": results[-1]["snapshot_seconds"] /
            results[0]["snapshot_seconds"], "goal": "<= 1.2"}


def by_partitions(counts: list[int], rows: int = 1_000_000) -> dict:
    results = []
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
            root = Path(scratch)
            step = max(1, rows // count)
            parts = ", ".join(f"PARTITION p{i} VALUES LESS THAN ('{(i + 1) * step}')" for i in range(count))
            session = scratch_session(root, f"CREATE DATABASE b; USE b; CREATE TABLE t (k INT, v BIGINT) "
                                            f"PARTITION BY RANGE(k) ({parts}) DISTRIBUTED BY HASH(v) BUCKETS 1;")
            session.execute(f"INSERT INTO t SELECT generate_series % {step * count}, generate_series "
                            f"FROM TABLE(generate_series(1, {rows}))")
            counter = iter(range(100))
            seconds = timed(lambda: session.execute(f"ADMIN CREATE CLUSTER SNAPSHOT s{next(counter)}"), repeat=9)
            results.append({"partitions": count, "rows": rows, "snapshot_seconds": seconds})
            session.frontend.close()
    return {"runs": results}


def run(sizes_mb: list[int] | None = None, partitions: list[int] | None = None) -> dict:
    figures = {"by_data_size": by_data_size(sizes_mb or [10, 1000, 5000]),
               "by_partitions": by_partitions(partitions or [10, 1000, 10000])}
    write_result("snapshot", figures)
    return figures
