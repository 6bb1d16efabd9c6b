"""Journal size under steady commits: with checkpoints and cleanup on, the journal stays bounded.

Single-row INSERTs commit back to back for N seconds, on a local directory volume and on moto's S3
server on loopback. A checkpoint image is written every CHECKPOINT_EVERY entries and vacuum (which
cleans the journal) runs every VACUUM_SECONDS. A sampler counts the journal's objects (log entries
and checkpoint images) about once a second. The figure is the ratio of the objects at the end to the
objects when the first checkpoint was written: it stays near 1 however long the run, where without
cleanup it grows with the number of commits. Afterwards a fresh FE reads every row back.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from bench.bench_compute import _frontend, _moto
from bench.common import write_result
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from cairn.journal.image import list_images

CHECKPOINT_EVERY = 100
VACUUM_SECONDS = 2.0
SAMPLE_SECONDS = 1.0
STEADY = {"checkpoint_interval_entries": str(CHECKPOINT_EVERY), "vacuum_interval_seconds": str(VACUUM_SECONDS),
          # Nothing else runs behind the benchmark's back.
          "lake_compaction_interval_seconds": "3600"}


def journal_objects(frontend: Frontend) -> tuple[int, int]:
    """(log entries, checkpoint images) of the FE's incarnation, as the store lists them."""
    entries = sum(1 for _ in frontend.meta_store.list(frontend.keys.journal_prefix(frontend.journal.incarnation)))
    return entries, len(list_images(frontend.meta_store, frontend.keys, frontend.journal.incarnation))


def _measure(root: Path, endpoint: str | None, seconds: float) -> dict:
    session = _frontend(root, endpoint, **STEADY)
    frontend = session.frontend
    session.execute_script("CREATE DATABASE j; USE j; CREATE TABLE t (a BIGINT) DISTRIBUTED BY HASH(a) BUCKETS 1;")
    samples: list[dict] = []
    done = threading.Event()
    started = time.perf_counter()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            entries, images = journal_objects(frontend)
            samples.append({"second": round(time.perf_counter() - started, 1), "entries": entries, "images": images,
                            "journal_id": frontend.position.entry_id})

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    commits = 0
    while time.perf_counter() - started < seconds:
        session.execute(f"INSERT INTO t VALUES ({commits})")
        commits += 1
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    frontend.vacuum.run()
    end_entries, end_images = journal_objects(frontend)
    frontend.close()
    reader = _frontend(root / "reader", endpoint, **{**STEADY, "local_storage_path": str(root / "storage")})
    rows = reader.execute("SELECT count(*), count(DISTINCT a) FROM j.t").rows()[0]
    reader.frontend.close()
    if rows != (commits, commits):
        raise AssertionError(f"a fresh FE reads {rows} rows, expected {commits} distinct")
    after_first = [s for s in samples if s["images"] > 0]
    first = after_first[0]["entries"] + after_first[0]["images"] if after_first else None
    peak = max((s["entries"] + s["images"] for s in samples), default=0)
    end = end_entries + end_images
    return {"commits": commits, "commits_per_second": round(commits / elapsed, 1),
            "journal_objects_at_first_checkpoint": first, "journal_objects_peak": peak,
            "journal_objects_at_end": end, "end_to_first_checkpoint_ratio": round(end / first, 2) if first else None,
            "commits_per_journal_object_at_end": round(commits / end, 1), "samples": samples}


def run(seconds: float = 60.0) -> dict:
    results = []
    endpoint, moto = _moto()
    try:
        for backend in ("local", "s3"):
            with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
                figures = _measure(Path(scratch), endpoint if backend == "s3" else None, seconds)
                results.append({"backend": backend, **figures})
    finally:
        moto.terminate()
        moto.wait(timeout=10)
    figures = {"seconds": seconds, "checkpoint_interval_entries": CHECKPOINT_EVERY,
               "vacuum_interval_seconds": VACUUM_SECONDS, "runs": results}
    write_result("journal", figures)
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
