"""Distributed execution (issue #14) on TPC-H: the 22 queries (StarRocks' text) on DuckDB over its
native tables (the reference), on DataFusion in one process, and on Cairn's engine cluster (Ray +
DataFusion fragments, `cairn.distributed`) with 1, 2 and 4 worker nodes, all in the same run on
the same Parquet files from tpchgen-cli. Every answer is checked against DuckDB's. Per query on the
engine cluster: its stages and tasks, the bytes the FE gathered (the result's partitions or the final
stage's inputs), the bytes the workers exchanged through Ray's object store, and per worker the
tasks that scanned tables and the bytes its tasks produced (the balance between nodes). The machine's
load average is recorded at the start and the end (it is shared).

`python -m bench.run --only distributed [--tpch-sf 1]`; the data is generated once under
$CAIRN_BENCH_DATA (default /tmp/cairn-bench-tpch), outside the repository."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from bench import tpch
from bench.common import write_result
from cairn.config.cluster_credential import new_credential
from cairn.distributed.query import DistributedQuery
from cairn.distributed.runtime import EngineCluster
from cairn.distributed.session import TableFiles, register_tables, session_config

# The worker nodes started; the 1-, 2- and 4-worker runs use the first 1, 2 and 4.
WORKERS = ("cn0", "cn1", "cn2", "cn3")


def _best(action: Callable[[], pa.Table], repeat: int) -> tuple[pa.Table, float]:
    """A warm-up run, then the best of `repeat` (the machine is shared: the best run is the least
    disturbed one)."""
    result = action()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return result, best


def _engine_rows(name: str, run: Callable[[str], pa.Table], wants: dict[int, pa.Table], repeat: int,
                 stats: Callable[[], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    _, queries = tpch.queries()
    rows = []
    for number, sql in queries.items():
        try:
            got, seconds = _best(lambda: run(sql), repeat)
            same, why = tpch.compare(got, wants[number], sql)
            row: dict[str, Any] = {"q": number, "seconds": round(seconds, 4), "same": same, "note": why,
                                   "result_bytes": got.nbytes}
        except Exception as exc:  # noqa: BLE001 - an engine's error is a result to record
            row = {"q": number, "seconds": None, "same": False, "note": f"{type(exc).__name__}: {str(exc)[:300]}"}
        if stats is not None:
            row.update(stats())
        print(name, row, flush=True)
        rows.append(row)
    return rows


def _summary(rows: list[dict[str, Any]], duck: dict[int, float]) -> dict[str, Any]:
    passed = [r for r in rows if r["same"]]
    total = sum(r["seconds"] for r in passed)
    reference = sum(duck[r["q"]] for r in passed)
    summary: dict[str, Any] = {"same_as_duckdb": len(passed), "of": len(rows), "seconds": round(total, 3),
                               "ratio_to_duckdb": round(total / reference, 2) if reference else None}
    if any("exchanged_bytes" in r for r in passed):
        per_node: dict[str, int] = {}
        for r in passed:
            for node, size in r["output_bytes_per_node"].items():
                per_node[node] = per_node.get(node, 0) + size
        summary.update({key: sum(r[key] for r in passed)
                        for key in ("gathered_bytes", "exchanged_bytes", "stages", "tasks")})
        summary["output_bytes_per_node"] = per_node
    return summary


def run(sf: str = "1", repeat: int = 1) -> dict[str, Any]:
    """Run the benchmark and write bench/results/distributed.json."""
    data = Path(os.environ.get("CAIRN_BENCH_DATA", "/tmp/cairn-bench-tpch")) / f"sf{sf}"
    files = tpch.generate(data, sf)
    view, queries = tpch.queries()
    duck = tpch.duckdb_connection(files)
    wants: dict[int, pa.Table] = {}
    duck_seconds: dict[int, float] = {}
    for number, sql in queries.items():
        wants[number], duck_seconds[number] = _best(lambda: duck.sql(sql).to_arrow_table(), repeat)
    tables = tuple(TableFiles(name=t, files=tuple(str(p) for p in paths)) for t, paths in files.items())

    from datafusion import SessionContext

    single = SessionContext(session_config(2))
    register_tables(single, tables)
    single.sql(view)
    sections: dict[str, list[dict[str, Any]]] = {
        "datafusion_one_process": _engine_rows("datafusion", lambda sql: single.sql(sql).to_arrow_table(), wants, repeat)}

    cluster = EngineCluster(credential=new_credential(), object_store_bytes=1 << 30)
    load_at_start = os.getloadavg()[0]
    try:
        started = time.perf_counter()
        cluster.start_head()
        for name in WORKERS:
            cluster.add_worker(name)
        cluster.connect()
        start_seconds = time.perf_counter() - started
        names = {w.node_id: name for name, w in cluster.workers.items()}
        ids = [cluster.workers[name].node_id for name in WORKERS]
        for count in (1, 2, 4):
            query = DistributedQuery(tables=tables, node_ids=ids[:count], views=(view,))

            def stats(q: DistributedQuery = query) -> dict[str, Any]:
                s = q.last_stats
                if s is None:
                    return {}
                return {"stages": s.stages, "tasks": s.tasks, "gathered_bytes": s.gathered_bytes,
                        "exchanged_bytes": s.exchanged_bytes,
                        "scan_tasks_per_node": {names[n]: c for n, c in sorted(s.scan_tasks_per_node.items())},
                        "output_bytes_per_node": {names[n]: b for n, b in sorted(s.output_bytes_per_node.items())}}

            label = f"ray_{count}_worker" + ("s" if count > 1 else "")
            sections[label] = _engine_rows(label, query.run, wants, repeat, stats)
    finally:
        cluster.stop()

    import datafusion
    import duckdb
    import ray

    figures: dict[str, Any] = {
        "sf": sf, "repeat": repeat, "engine_start_seconds": round(start_seconds, 2),
        "load_average_at_start": round(load_at_start, 1), "load_average_at_end": round(os.getloadavg()[0], 1),
        "versions": {"datafusion": datafusion.__version__, "ray": ray.__version__, "duckdb": duckdb.__version__},
        "duckdb_seconds": {n: round(s, 4) for n, s in duck_seconds.items()},
        "duckdb_total_seconds": round(sum(duck_seconds.values()), 3),
        "summary": {name: _summary(rows, duck_seconds) for name, rows in sections.items()},
        **sections,
    }
    write_result("distributed", figures)
    return figures
