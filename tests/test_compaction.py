"""Compaction: many small rowsets become one per tablet, with the same rows, while loads, queries,
snapshots and vacuum go on — and the replaced objects are deleted once nothing needs them."""

from __future__ import annotations

import threading

import pytest

from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.lake.manifest import MANIFESTS
from cairn.server.session import Session
from test_vacuum import data_keys, vacuum, visible_keys

QUERIES = ["SELECT count(*), sum(a), count(DISTINCT a) FROM t",
           "SELECT day, count(*), max(a) FROM t GROUP BY day ORDER BY day",
           "SELECT a FROM t WHERE a % 7 = 3 ORDER BY a"]


@pytest.fixture
def compacting(fe_conf_values: dict[str, str]):
    """An FE that compacts tablets of 4 rowsets, vacuums at once, and runs neither by itself."""
    fe = Frontend.open(load_config(None, lake_compaction_score_selector_min_score="4",
                                   lake_compaction_interval_seconds="3600", vacuum_grace_period_seconds="0",
                                   catalog_trash_expire_second="0", vacuum_interval_seconds="3600",
                                   **fe_conf_values))
    session = Session(fe)
    session.execute_script("CREATE DATABASE c; USE c; CREATE TABLE t (a INT, day DATE) PARTITION BY RANGE(day) "
                           "(PARTITION p1 VALUES LESS THAN ('2024-01-01'), PARTITION p2 VALUES LESS THAN "
                           "('2025-01-01')) DISTRIBUTED BY HASH(a) BUCKETS 2;")
    yield session
    fe.close()


def rowsets_per_tablet(session: Session) -> dict[int, int]:
    fe = session.frontend
    _, table = fe.catalog.table("c", "t")
    manifests = MANIFESTS.get_many(fe.meta_store, [p.manifest_key for p in table.partitions if p.manifest_key])
    return {tablet: len(rowsets) for m in manifests for tablet, rowsets in m.tablets.items()}


def load_rounds(session: Session, start: int, rounds: int) -> None:
    for i in range(start, start + rounds):
        session.execute(f"INSERT INTO t VALUES ({2 * i}, '2023-05-01'), ({2 * i + 1}, '2023-05-01'), "
                        f"({2 * i}, '2024-05-01'), ({2 * i + 1}, '2024-05-01')")


def test_small_rowsets_merge_into_one_per_tablet_with_the_same_rows(compacting: Session) -> None:
    load_rounds(compacting, 0, 6)
    counts = rowsets_per_tablet(compacting)
    due = {tablet: n for tablet, n in counts.items() if n >= 4}
    assert due, counts
    before = [compacting.execute(q).rows() for q in QUERIES]
    versions = {r[1]: r[3] for r in compacting.execute("SHOW PARTITIONS FROM t").rows()}
    report = compacting.frontend.compaction.run_once()
    assert (report.tablets_compacted, report.rowsets_merged) == (len(due), sum(due.values()))
    after = rowsets_per_tablet(compacting)
    assert after == {tablet: 1 if tablet in due else n for tablet, n in counts.items()}
    assert [compacting.execute(q).rows() for q in QUERIES] == before
    shown = {r[1]: (r[2], r[3]) for r in compacting.execute("SHOW PARTITIONS FROM t").rows()}
    assert shown == {name: (v + 1, v + 1) for name, v in versions.items()}  # CompactVersion, VisibleVersion
    assert report.partitions_examined == 2
    assert compacting.frontend.compaction.run_once().tablets_compacted == 0  # nothing left to merge
    vacuum(compacting)
    vacuum(compacting)
    assert data_keys(compacting) == visible_keys(compacting)  # the replaced rowsets are gone, no more
    assert [compacting.execute(q).rows() for q in QUERIES] == before


def test_compaction_survives_a_restart(compacting: Session, fe_conf_values: dict[str, str]) -> None:
    load_rounds(compacting, 0, 5)
    before = [compacting.execute(q).rows() for q in QUERIES]
    compacting.frontend.compaction.run_once()
    compacting.frontend.close()
    reopened = Frontend.open(load_config(None, **fe_conf_values))
    try:
        session = Session(reopened)
        session.execute("USE c")
        assert max(rowsets_per_tablet(session).values()) < 4
        assert [session.execute(q).rows() for q in QUERIES] == before
    finally:
        reopened.close()


def test_loads_and_queries_racing_compaction_lose_nothing_and_see_whole_versions(compacting: Session) -> None:
    load_rounds(compacting, 0, 4)
    frontend = compacting.frontend
    seen: list[int] = []
    failures: list[BaseException] = []
    loading = threading.Event()

    def loads() -> None:
        try:
            load_rounds(Session(frontend, database="c"), 100, 30)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            loading.set()

    def queries() -> None:
        session = Session(frontend, database="c")
        for _ in range(400):
            if loading.is_set():
                break
            try:
                count, distinct = session.execute("SELECT count(*), count(DISTINCT a) FROM t").rows()[0]
            except BaseException as exc:  # noqa: BLE001
                failures.append(exc)
                return
            seen.append(count)
            if count != 2 * distinct:  # every load adds each value to both partitions at once
                failures.append(AssertionError(f"torn version: {count} rows, {distinct} values"))

    workers = [threading.Thread(target=loads), threading.Thread(target=queries)]
    for worker in workers:
        worker.start()
    rounds = 0
    while not loading.is_set() and rounds < 200:
        frontend.compaction.run_once()
        rounds += 1
    for worker in workers:
        worker.join(timeout=120)
    frontend.compaction.run_once()
    assert not failures, failures[:3]
    assert frontend.compaction.total.tablets_compacted > 0
    assert all(count % 4 == 0 for count in seen)  # whole loads only
    assert compacting.execute("SELECT count(*), count(DISTINCT a) FROM t").rows() == [(136, 68)]
    assert max(rowsets_per_tablet(compacting).values()) < 4


def test_a_snapshot_keeps_the_rowsets_compaction_replaced(compacting: Session) -> None:
    load_rounds(compacting, 0, 5)
    compacting.execute("ADMIN CREATE CLUSTER SNAPSHOT before_compaction")
    pinned = visible_keys(compacting)  # what the snapshot lists
    compacting.frontend.compaction.run_once()
    vacuum(compacting)
    vacuum(compacting)
    assert pinned <= data_keys(compacting)  # everything the snapshot lists is still there
    assert compacting.execute("ADMIN VERIFY CLUSTER SNAPSHOT before_compaction DEEP").rows()[0][2] == "OK"
    compacting.execute("ADMIN DROP CLUSTER SNAPSHOT before_compaction")
    vacuum(compacting)
    vacuum(compacting)
    assert data_keys(compacting) == visible_keys(compacting)
