"""How a PRIMARY KEY table's merge-on-read is expressed: three ways of reading the latest row per key
over the same Parquet rowsets, against a plain scan of the same files (a DUPLICATE KEY table).

`ROWS` rows go into `ROWSETS` rowsets: the first holds every key, each later one upserts
`UPSERT_SHARE` of them. Each way answers `count(*), sum(v)` over the merged rows, and all must agree.
- `window`: the one Cairn uses (lake/keyed.py): row_number() over each key by (file position, row
  number), keep the first.
- `arg_max`: GROUP BY key with arg_max of every value column by the same order.
- `arrow`: in Python, with Arrow compute: sort by (key, order) and keep each key's last row.

Then, through Cairn: the same query on a DUPLICATE KEY table and on a PRIMARY KEY table holding
`TABLE_ROWS` keys with `ROWSETS - 1` upsert rounds unmerged, and on the PRIMARY KEY table again
after compaction (one rowset per tablet, which reads without a merge); then point UPDATEs and
DELETEs by key (each one statement and one commit) per second.
Run: `.venv/bin/python -m bench.bench_keyed_merge`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

from bench.common import write_result
from cairn.catalog.model import Column, Table
from cairn.lake.keyed import merged_rows
from cairn.lake.sqltext import read_parquet, sql

ROWS = 1_000_000
ROWSETS = 4
UPSERT_SHARE = 0.2
REPEAT = 3
TABLE_ROWS = 1_000_000
POINT_STATEMENTS = 20


def _write(directory: Path) -> list[Path]:
    files = []
    for index in range(ROWSETS):
        con = duckdb.connect()
        count = ROWS if index == 0 else int(ROWS * UPSERT_SHARE)
        step = 1 if index == 0 else int(1 / UPSERT_SHARE)
        table = con.sql(f"SELECT (range * {step} + {index}) % {ROWS} AS k, range + {index} AS v, "
                        f"'x' || range AS w FROM range({count})").to_arrow_table()
        path = directory / f"r{index}.parquet"
        pq.write_table(table, path)
        files.append(path)
    return files


def _best(run: object) -> tuple[float, object]:
    best, answer = float("inf"), None
    for _ in range(REPEAT):
        started = time.perf_counter()
        answer = run()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best, answer


def main() -> None:
    table = Table(id=1, name="t", keys_type="PRIMARY", key_columns=["k"],
                  columns=[Column(name="k", type="BIGINT", nullable=False, is_key=True),
                           Column(name="v", type="BIGINT"), Column(name="w", type="VARCHAR(64)")])
    with tempfile.TemporaryDirectory() as scratch:
        files = _write(Path(scratch))
        con = duckdb.connect()
        total = "SELECT count(*), sum(v) FROM "
        plain = sql(exp.select("*").from_(read_parquet(files)))
        window = sql(merged_rows(table, files, [False] * len(files)))
        order = "list_position([" + ", ".join(f"'{f}'" for f in files) + "], filename) * 1099511627776 + file_row_number"
        arg_max = ("SELECT k, arg_max(v, o) AS v, arg_max(w, o) AS w FROM (SELECT *, " + order +
                   " AS o FROM read_parquet([" + ", ".join(f"'{f}'" for f in files) +
                   "], filename=true, file_row_number=true)) GROUP BY k")

        def arrow() -> tuple[int, int]:
            parts = [pq.read_table(f).append_column("o", pa.array([i] * pq.read_metadata(f).num_rows, pa.int32()))
                     for i, f in enumerate(files)]
            rows = pa.concat_tables(parts)
            rows = rows.append_column("n", pa.array(range(rows.num_rows), pa.int64()))
            ordered = rows.sort_by([("k", "ascending"), ("o", "descending"), ("n", "descending")])
            keys = ordered.column("k")
            first = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1))
            keep = pa.concat_arrays([pa.array([True]), first.combine_chunks()])
            latest = ordered.filter(keep)
            return latest.num_rows, pc.sum(latest.column("v")).as_py()

        figures: dict[str, object] = {"rows": ROWS, "rowsets": ROWSETS, "upsert_share": UPSERT_SHARE}
        plain_s, plain_answer = _best(lambda: con.sql(total + f"({plain})").fetchall()[0])
        window_s, window_answer = _best(lambda: con.sql(total + f"({window})").fetchall()[0])
        arg_max_s, arg_max_answer = _best(lambda: con.sql(total + f"({arg_max})").fetchall()[0])
        arrow_s, arrow_answer = _best(arrow)
        assert window_answer == arg_max_answer and tuple(arrow_answer) == tuple(window_answer), \
            (window_answer, arg_max_answer, arrow_answer)
        figures.update(plain_scan_s=round(plain_s, 3), plain_rows=plain_answer[0],
                       window_s=round(window_s, 3), arg_max_s=round(arg_max_s, 3), arrow_s=round(arrow_s, 3),
                       merged_rows=window_answer[0])
        figures.update(_through_cairn(Path(scratch)))
        print(figures)
        write_result("keyed_merge", figures)


def _through_cairn(root: Path) -> dict[str, object]:
    from cairn.api import connect, open_frontend

    fe = open_frontend(local_storage_path=root / "storage", meta_dir=root / "meta",
                       lake_compaction_score_selector_min_score=2, lake_compaction_interval_seconds=3600)
    try:
        session = connect(fe)
        session.execute_script(
            "CREATE DATABASE b; USE b;"
            "CREATE TABLE dup (k BIGINT NOT NULL, v BIGINT, w VARCHAR(64)) DUPLICATE KEY(k) "
            "DISTRIBUTED BY HASH(k) BUCKETS 4;"
            "CREATE TABLE pk (k BIGINT NOT NULL, v BIGINT, w VARCHAR(64)) PRIMARY KEY(k) "
            "DISTRIBUTED BY HASH(k) BUCKETS 4;")
        rows = f"SELECT x, x, concat('x', x) FROM TABLE(generate_series(0, {TABLE_ROWS - 1})) AS g(x)"
        session.execute(f"INSERT INTO dup {rows}")
        session.execute(f"INSERT INTO pk {rows}")
        step = int(1 / UPSERT_SHARE)
        for index in range(1, ROWSETS):
            session.execute(f"INSERT INTO pk SELECT x, x + {index}, concat('y', x) FROM TABLE(generate_series("
                            f"{index}, {TABLE_ROWS - 1}, {step})) AS g(x)")
        query = "SELECT count(*), sum(v) FROM {}"
        dup_s, _ = _best(lambda: session.execute(query.format("dup")).rows())
        unmerged_s, before = _best(lambda: session.execute(query.format("pk")).rows())
        fe.compaction.run_once()
        compacted_s, after = _best(lambda: session.execute(query.format("pk")).rows())
        assert before == after, (before, after)
        started = time.perf_counter()
        for key in range(POINT_STATEMENTS):
            session.execute(f"UPDATE pk SET v = v + 1 WHERE k = {key * 7919}")
        updates_s = time.perf_counter() - started
        started = time.perf_counter()
        for key in range(POINT_STATEMENTS):
            session.execute(f"DELETE FROM pk WHERE k = {key * 7919 + 1}")
        deletes_s = time.perf_counter() - started
        assert session.execute("SELECT count(*) FROM pk").rows() == [(TABLE_ROWS - POINT_STATEMENTS,)]
        return {"point_updates_per_s": round(POINT_STATEMENTS / updates_s, 1),
                "point_deletes_per_s": round(POINT_STATEMENTS / deletes_s, 1),"table_rows": TABLE_ROWS, "duplicate_key_query_s": round(dup_s, 3),
                "primary_key_unmerged_query_s": round(unmerged_s, 3),
                "primary_key_compacted_query_s": round(compacted_s, 3)}
    finally:
        fe.close()


if __name__ == "__main__":
    main()
