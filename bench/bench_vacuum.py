"""Vacuum throughput: objects examined and deleted per second, on a local directory volume and on
moto's S3 server on loopback.

One table takes many small INSERTs and is dropped (its objects die at once, with
`catalog_trash_expire_second = 0`); a second table takes INSERTs too and stays, so every version
but its visible one is garbage as well. With `vacuum_grace_period_seconds = 0` the first run
deletes everything dead; the second finds nothing left to delete, which is the cost of a pass over
a clean volume. Afterwards the objects left must be exactly the live table's visible manifest and
its rowsets, and the live table must still answer with every row it was given.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.bench_compute import _frontend, _moto
from bench.common import write_result
from cairn.server.session import Session
from cairn.vacuum.vacuum import MIN_AGE_SECONDS, VacuumReport

BUCKETS = 8
ROWS_PER_INSERT = 64
QUIET = {"vacuum_grace_period_seconds": "0", "catalog_trash_expire_second": "0",
         # Nothing runs behind the benchmark's back: no scheduled vacuum, no compaction.
         "vacuum_interval_seconds": "3600", "lake_compaction_interval_seconds": "3600"}


def _insert(session: Session, table: str, batches: int) -> None:
    for batch in range(batches):
        session.execute(f"INSERT INTO {table} SELECT {batch * ROWS_PER_INSERT} + x "
                        f"FROM TABLE(generate_series(1, {ROWS_PER_INSERT})) AS g(x)")


def _data_keys(session: Session) -> set[str]:
    """Every data object on the benchmark database's volume, listed directly."""
    fe = session.frontend
    volume = next(d for d in fe.catalog.state.databases.values() if d.name == "v").storage_volume
    return {info.key for info in fe.store_for(volume).list(fe.keys.data_prefix)}


def _expected_live(session: Session) -> set[str]:
    """The live table's visible manifests and every rowset it wrote (no compaction ran, so each
    rowset is still in the visible version), found without asking vacuum's live set."""
    fe = session.frontend
    db = next(d for d in fe.catalog.state.databases.values() if d.name == "v")
    table = db.tables["kept"]
    rowsets = {k for k in _data_keys(session) if k.startswith(fe.keys.table_prefix(db.id, table.id))
               and k.endswith(".parquet")}
    return rowsets | {p.manifest_key for p in table.partitions if p.manifest_key}


def _rates(report: VacuumReport) -> dict:
    return {"examined": report.examined, "deleted": report.deleted, "seconds": round(report.seconds, 3),
            "examined_per_second": round(report.examined / report.seconds),
            "deleted_per_second": round(report.deleted / report.seconds)}


def _measure(session: Session, dropped_inserts: int, kept_inserts: int) -> dict:
    session.execute_script(f"CREATE DATABASE v; USE v;"
                           f"CREATE TABLE gone (a INT) DISTRIBUTED BY HASH(a) BUCKETS {BUCKETS};"
                           f"CREATE TABLE kept (a INT) DISTRIBUTED BY HASH(a) BUCKETS {BUCKETS};")
    _insert(session, "gone", dropped_inserts)
    _insert(session, "kept", kept_inserts)
    session.execute("DROP TABLE gone")
    before = _data_keys(session)
    live = _expected_live(session)
    time.sleep(MIN_AGE_SECONDS + 0.2)  # vacuum leaves objects younger than this alone
    first = session.frontend.vacuum.run()
    second = session.frontend.vacuum.run()
    after = _data_keys(session)
    dead = before - live
    assert first.examined == len(before) and first.deleted == len(dead), (first, len(before), len(dead))
    assert after == live, f"{len(dead & after)} dead objects left, {len(live - after)} live objects deleted"
    assert second.deleted == 0 and second.examined == len(live), second
    rows = kept_inserts * ROWS_PER_INSERT
    assert session.execute("SELECT count(*), sum(a) FROM kept").rows() == [(rows, rows * (rows + 1) // 2)]
    return {"objects": len(before), "dead": len(dead), "live": len(live),
            "deleting_run": _rates(first), "clean_run": _rates(second)}


def run(dropped_inserts: int = 250, kept_inserts: int = 150) -> dict:
    results = []
    endpoint, moto = _moto()
    try:
        for backend in ("local", "s3"):
            with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
                session = _frontend(Path(scratch), endpoint if backend == "s3" else None, **QUIET)
                try:
                    started = time.perf_counter()
                    figures = _measure(session, dropped_inserts, kept_inserts)
                    results.append({"backend": backend, **figures,
                                    "total_seconds": round(time.perf_counter() - started, 1)})
                finally:
                    session.frontend.close()
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    figures = {"dropped_table_inserts": dropped_inserts, "kept_table_inserts": kept_inserts, "buckets": BUCKETS,
               "runs": results}
    write_result("vacuum", figures)
    return figures
