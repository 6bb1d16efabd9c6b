"""Vacuum: deletes exactly what no reader, retained snapshot or recycle bin needs — and nothing else."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.lake.manifest import MANIFESTS
from cairn.server.session import Session
from cairn.vacuum.vacuum import MIN_AGE_SECONDS
from conftest import wait_until
from test_restore import _restore, snapshot_yaml


@pytest.fixture
def eager(fe_conf_values: dict[str, str]):
    """An FE whose vacuum may delete at once (no grace period, no recycle-bin time)."""
    fe = Frontend.open(load_config(None, vacuum_grace_period_seconds="0", catalog_trash_expire_second="0",
                                   vacuum_interval_seconds="3600", **fe_conf_values))
    session = Session(fe)
    session.execute_script("CREATE DATABASE v; USE v; CREATE TABLE t (a INT, day DATE) PARTITION BY RANGE(day) "
                           "(PARTITION p1 VALUES LESS THAN ('2024-01-01'), PARTITION p2 VALUES LESS THAN "
                           "('2025-01-01')) DISTRIBUTED BY HASH(a) BUCKETS 2;")
    yield session
    fe.close()


def data_keys(session: Session) -> set[str]:
    fe = session.frontend
    return {i.key for i in fe.meta_store.list(fe.keys.data_prefix)}


def visible_keys(session: Session) -> set[str]:
    fe = session.frontend
    keys: set[str] = set()
    for db in fe.catalog.state.databases.values():
        for table in db.tables.values():
            manifests = [p.manifest_key for p in table.partitions if p.manifest_key]
            keys.update(manifests)  # type: ignore[arg-type]
            for manifest in MANIFESTS.get_many(fe.store_for(db.storage_volume), manifests):  # type: ignore[arg-type]
                keys.update(r.key for r in manifest.rowsets())
    return keys


def vacuum(session: Session, dry_run: bool = False) -> tuple:
    time.sleep(MIN_AGE_SECONDS)  # objects younger than the margin are never candidates
    return session.execute(f"ADMIN VACUUM{' DRY RUN' if dry_run else ''}").rows()[0]


def test_replaced_versions_go_visible_ones_stay(eager: Session) -> None:
    for i in range(3):
        eager.execute(f"INSERT INTO t VALUES ({i}, '2023-05-01'), ({i + 10}, '2024-05-01')")
    before = data_keys(eager)
    assert vacuum(eager, dry_run=True)[2] > 0 and data_keys(eager) == before, "a dry run deletes nothing"
    vacuum(eager)
    assert data_keys(eager) == visible_keys(eager)
    assert eager.execute("SELECT count(*), sum(a) FROM t").rows() == [(6, 3 + 33)]


def test_grace_period_protects_young_objects(fe_conf_values: dict[str, str]) -> None:
    fe = Frontend.open(load_config(None, **fe_conf_values))  # default grace: 600 s
    session = Session(fe)
    session.execute_script("CREATE DATABASE g; CREATE TABLE g.t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1;"
                           "INSERT INTO g.t VALUES (1); INSERT INTO g.t VALUES (2); TRUNCATE TABLE g.t;")
    before = data_keys(session)
    assert vacuum(session)[3] == 0 and data_keys(session) == before
    fe.close()


def test_snapshots_pin_what_they_need_until_they_go(eager: Session) -> None:
    eager.execute("INSERT INTO t VALUES (1, '2023-05-01'), (2, '2024-05-01')")
    eager.execute("CREATE TABLE doomed (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1")
    eager.execute("INSERT INTO doomed VALUES (7)")
    eager.execute("ADMIN CREATE CLUSTER SNAPSHOT pin")
    eager.execute("TRUNCATE TABLE t PARTITION (p1)")
    eager.execute("ALTER TABLE t DROP PARTITION p2")
    eager.execute("DROP TABLE doomed")
    vacuum(eager)
    assert eager.execute("ADMIN VERIFY CLUSTER SNAPSHOT pin DEEP").rows()[0][2] == "OK"
    assert data_keys(eager) > visible_keys(eager)
    eager.execute("ADMIN DROP CLUSTER SNAPSHOT pin")
    vacuum(eager)
    assert data_keys(eager) == visible_keys(eager) == set(), "no leak: nothing the cluster needs is left over"


def test_recycle_bin_time_protects_dropped_tables(fe_conf_values: dict[str, str]) -> None:
    fe = Frontend.open(load_config(None, vacuum_grace_period_seconds="0", **fe_conf_values))  # trash: 1 day
    session = Session(fe)
    session.execute_script("CREATE DATABASE r; CREATE TABLE r.t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1;"
                           "INSERT INTO r.t VALUES (1); DROP TABLE r.t;")
    before = data_keys(session)
    assert before and vacuum(session)[3] == 0 and data_keys(session) == before
    fe.close()


def test_a_running_query_keeps_its_version(eager: Session) -> None:
    eager.execute("INSERT INTO t SELECT generate_series, '2023-05-01' FROM TABLE(generate_series(1, 300))")
    results: list = []

    def slow_query() -> None:
        results.append(Session(eager.frontend, database="v").execute(
            "SELECT count(*) FROM t, TABLE(generate_series(1, 30000000)) g WHERE t.a % 7 = g.generate_series % 7"
        ).rows())

    reader = threading.Thread(target=slow_query)
    reader.start()
    wait_until(eager.frontend.data_access.pinned, what="the running query pinned its objects")
    pinned = eager.frontend.data_access.pinned()
    eager.execute("TRUNCATE TABLE t")
    vacuum(eager)
    assert reader.is_alive(), "the query must still be running while vacuum runs"
    assert pinned <= data_keys(eager), "nothing a running query reads is deleted"
    reader.join(timeout=120)
    assert results and results[0][0][0] > 0, "the query finished on the version it started with"
    vacuum(eager)
    assert data_keys(eager) == visible_keys(eager) == set()


def test_loads_drops_snapshots_and_vacuum_together(eager: Session) -> None:
    frontend = eager.frontend
    stop = time.monotonic() + 6
    errors: list[BaseException] = []

    def guarded(work) -> None:
        try:
            while time.monotonic() < stop:
                work()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    counter = iter(range(1_000_000))

    def load() -> None:
        i = next(counter)
        Session(frontend, database="v").execute(f"INSERT INTO t VALUES ({i}, '2023-0{1 + i % 9}-01'), ({i}, '2024-02-02')")

    def churn() -> None:
        i = next(counter)
        s = Session(frontend, database="v")
        s.execute(f"CREATE TABLE x{i} (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1")
        s.execute(f"INSERT INTO x{i} VALUES ({i})")
        s.execute(f"DROP TABLE x{i}")

    def snapshot() -> None:
        Session(frontend).execute(f"ADMIN CREATE CLUSTER SNAPSHOT busy_{next(counter)}")
        time.sleep(0.3)

    def clean() -> None:
        frontend.vacuum.run()
        time.sleep(0.1)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in (load, load, churn, snapshot, clean)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    names = [r[0] for r in eager.execute("SELECT SNAPSHOT_NAME FROM information_schema.cluster_snapshots").rows()]
    assert names
    for name in names:
        assert eager.execute(f"ADMIN VERIFY CLUSTER SNAPSHOT {name} DEEP").rows()[0][2] == "OK", name
    for name in names:
        eager.execute(f"ADMIN DROP CLUSTER SNAPSHOT {name}")

    def only_visible_objects_left() -> bool:
        vacuum(eager)
        return data_keys(eager) == visible_keys(eager)

    # Background compaction may still merge the loads' rowsets: what it replaces or has in flight is
    # left by a run that comes too early, never by the run after it. A leak would never settle.
    wait_until(only_visible_objects_left, what="after the snapshots go, their pinned objects go too")


def moment_after_commits_so_far() -> str:
    """A whole-second local time after every commit so far; commits from now on come after it."""
    boundary = int(time.time()) + 1
    while time.time() <= boundary:  # restore_to names a second: the clock must pass it
        time.sleep(0.05)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(boundary))


def restore_to(values: dict[str, str], meta_dir: Path, cluster: str, snapshot: str, moment: str) -> Frontend:
    """A point-in-time restore from `snapshot` to `moment` into a new incarnation, opened as an FE."""
    config = load_config(None, **dict(values, meta_dir=str(meta_dir)))
    text = snapshot_yaml(values, cluster, snapshot).replace(
        "  storage_volume_name", f'  restore_to:\n    time: "{moment}"\n  storage_volume_name')
    _restore(config, text, meta_dir.parent)
    return Frontend.open(config)


def test_vacuum_after_restores_keeps_the_point_in_time_window(fe_conf_values: dict[str, str], tmp_path: Path) -> None:
    values = dict(fe_conf_values, cluster_snapshot_pitr_window_seconds="3600", vacuum_grace_period_seconds="0",
                  catalog_trash_expire_second="0", vacuum_interval_seconds="3600")
    first = Frontend.open(load_config(None, **values))
    session = Session(first)
    session.execute_script("CREATE DATABASE w; USE w; CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1;"
                           "INSERT INTO t VALUES (1); ADMIN CREATE CLUSTER SNAPSHOT base;")
    session.execute("INSERT INTO t VALUES (2)")
    in_first = moment_after_commits_so_far()
    session.execute("INSERT INTO t VALUES (3)")
    cluster = first.keys.cluster_id
    first.close()

    second = restore_to(values, tmp_path / "meta-2", cluster, "base", in_first)
    assert second.journal.incarnation == 2
    session = Session(second, database="w")
    assert session.execute("SELECT a FROM t ORDER BY a").rows() == [(1,), (2,)]
    session.execute("INSERT INTO t VALUES (10)")
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT after")
    session.execute("INSERT INTO t VALUES (20)")
    in_second = moment_after_commits_so_far()
    session.execute("INSERT INTO t VALUES (30)")
    session.execute("TRUNCATE TABLE t")
    table = second.catalog.state.databases["w"].tables["t"]
    partition = table.partitions[0]
    orphan = second.keys.data_file(second.catalog.state.databases["w"].id, table.id, partition.id,
                                   partition.tablet_ids[0])
    second.meta_store.put_if_absent(orphan, b"a load that crashed before its commit")
    before = data_keys(session)
    report = vacuum(session)
    assert report[3] == 1 and data_keys(session) == before - {orphan}, "only the dead object goes"
    second.close()

    third = restore_to(values, tmp_path / "meta-3", cluster, "after", in_second)
    session = Session(third, database="w")
    assert session.execute("SELECT a FROM t ORDER BY a").rows() == [(1,), (2,), (10,), (20,)]
    before = data_keys(session)
    assert vacuum(session)[3] == 0 and data_keys(session) == before, "every incarnation's window stays"
    third.close()

    fourth = restore_to(values, tmp_path / "meta-4", cluster, "base", in_first)
    assert Session(fourth, database="w").execute("SELECT a FROM t ORDER BY a").rows() == [(1,), (2,)]
    fourth.close()



def vacuum_after_manifest_put(session: Session, monkeypatch: pytest.MonkeyPatch) -> list:
    """Make the next partition manifest put wait until it is past vacuum's age margin (a stalled thread,
    a slow store), then run vacuum before the writer goes on. Returns the reports of those runs."""
    fe = session.frontend
    store = fe.store_for(fe.catalog.state.databases["v"].storage_volume)
    put = store.put_if_absent
    reports: list = []

    def put_then_vacuum(key: str, data: bytes | memoryview) -> None:
        put(key, data)
        if "/manifest." in key and not reports:
            written = time.time()
            wait_until(lambda: time.time() - written > MIN_AGE_SECONDS, what="the manifest is past the age margin")
            reports.append(fe.vacuum.run())

    monkeypatch.setattr(store, "put_if_absent", put_then_vacuum)
    return reports


def test_a_loads_manifest_is_kept_while_it_commits(eager: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    eager.execute("INSERT INTO t VALUES (1, '2023-05-01')")
    reports = vacuum_after_manifest_put(eager, monkeypatch)
    eager.execute("INSERT INTO t VALUES (2, '2023-06-01')")
    monkeypatch.undo()
    assert reports, "vacuum ran between the manifest's put and the commit"
    assert visible_keys(eager) <= data_keys(eager), "every object of the visible version is still stored"
    assert eager.execute("SELECT count(*), sum(a) FROM t").rows() == [(2, 3)]
    eager.execute("ADMIN CREATE CLUSTER SNAPSHOT after_load")
    assert eager.execute("ADMIN VERIFY CLUSTER SNAPSHOT after_load DEEP").rows()[0][2] == "OK"


def test_a_compactions_manifest_is_kept_while_it_commits(eager: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    fe = eager.frontend
    for i in range(fe.config.lake_compaction_score_selector_min_score):
        eager.execute(f"INSERT INTO t VALUES (1, '2023-05-0{1 + i % 9}')")  # one tablet: one bucket
    reports = vacuum_after_manifest_put(eager, monkeypatch)
    assert fe.compaction.run_once().tablets_compacted > 0
    monkeypatch.undo()
    assert reports, "vacuum ran between the manifest's put and the commit"
    assert visible_keys(eager) <= data_keys(eager), "every object of the visible version is still stored"
    eager.execute("ADMIN CREATE CLUSTER SNAPSHOT after_compaction")
    assert eager.execute("ADMIN VERIFY CLUSTER SNAPSHOT after_compaction DEEP").rows()[0][2] == "OK"
