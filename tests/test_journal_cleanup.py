"""Journal cleanup: vacuum deletes the log entries and checkpoint images no reader needs, keeps what
the point-in-time window, retained snapshots and a starting FE need, and never weakens fencing."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pymysql
import pytest

from cairn.api import load_config
from cairn.errors import FrontendMembershipError, NotLeaderError
from cairn.journal.cluster import builtin_volume
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from cairn.journal.history import CLOCK_MARGIN_SECONDS
from cairn.journal.image import list_images
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore, open_store
from conftest import free_port
from fe_process import FeProcess, start_fe
from test_restore import _restore, snapshot_yaml

CHECKPOINT_EVERY = 5
# A checkpoint every few entries; vacuum (which cleans the journal) only when a test runs it.
CLEANUP_CONF = {"checkpoint_interval_entries": str(CHECKPOINT_EVERY), "vacuum_grace_period_seconds": "0",
                "vacuum_interval_seconds": "3600"}


def open_fe(values: dict[str, str], **extra: str) -> Frontend:
    return Frontend.open(load_config(None, **{**CLEANUP_CONF, **values, **extra}))


def entry_ids_of(store: ObjectStore, keys: ClusterKeys, incarnation: int = 1) -> list[int]:
    return sorted(i for info in store.list(keys.journal_prefix(incarnation))
                  if (i := ClusterKeys.parse_journal_entry(info.key)) is not None)


def entry_ids(fe: Frontend, incarnation: int) -> list[int]:
    return entry_ids_of(fe.meta_store, fe.keys, incarnation)


def run_sql(port: int, sql: str) -> tuple:
    connection = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    finally:
        connection.close()


def databases_of(fe: Frontend) -> set[str]:
    return {row[0] for row in Session(fe).execute("SHOW DATABASES").rows()}


def image_ids(fe: Frontend, incarnation: int) -> list[int]:
    return [image.position.entry_id for image in list_images(fe.meta_store, fe.keys, incarnation)]


def insert_rows(session: Session, count: int) -> None:
    for i in range(count):
        session.execute(f"INSERT INTO t VALUES ({i})")


def table_with_rows(fe: Frontend, count: int) -> Session:
    """A session on database c, whose table t got `count` single-row commits."""
    session = Session(fe)
    session.execute_script("CREATE DATABASE c; USE c; CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1;")
    insert_rows(session, count)
    return session


def test_cleanup_keeps_only_what_a_starting_fe_reads(fe_conf_values: dict[str, str], tmp_path: Path) -> None:
    fe = open_fe(fe_conf_values)
    session = table_with_rows(fe, 23)
    incarnation = fe.journal.incarnation
    images_before = image_ids(fe, incarnation)
    assert len(images_before) >= 3 and entry_ids(fe, incarnation)[0] == 1

    assert session.execute("ADMIN VACUUM DRY RUN").rows() and entry_ids(fe, incarnation)[0] == 1, \
        "a dry run deletes nothing"
    report = fe.vacuum.run()
    second_newest = images_before[-2]
    assert image_ids(fe, incarnation) == images_before[-2:]
    assert entry_ids(fe, incarnation) == list(range(second_newest + 1, fe.position.entry_id + 1))
    assert report.journal_entries_deleted == second_newest and report.images_deleted == len(images_before) - 2
    fe.close()

    again = open_fe(fe_conf_values, meta_dir=str(tmp_path / "other-meta"))
    session = Session(again, database="c")
    assert session.execute("SELECT count(*) FROM t").rows() == [(23,)]
    session.execute("INSERT INTO t VALUES (100)")
    assert session.execute("SELECT count(*) FROM t").rows() == [(24,)]
    again.close()


def test_cleanup_keeps_the_window_and_snapshots_and_restores_still_work(fe_conf_values: dict[str, str],
                                                                        tmp_path: Path) -> None:
    window = 4
    values = dict(fe_conf_values, cluster_snapshot_pitr_window_seconds=str(window))
    fe = open_fe(values)
    session = table_with_rows(fe, 12)
    old_image = list_images(fe.meta_store, fe.keys, fe.journal.incarnation)[-1]
    while time.time() < old_image.written_at + window + CLOCK_MARGIN_SECONDS + 0.5:
        time.sleep(0.1)  # until that image lies before the window: what precedes it may go
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT inside")
    insert_rows(session, 6)
    target = fe.position.entry_id
    insert_rows(session, 6)
    fe.vacuum.run()
    ids = entry_ids(fe, fe.journal.incarnation)
    snapshot_at = next(j.fe_journal_id for j in fe.catalog.state.snapshot_jobs.values() if j.name == "inside")
    assert 1 < ids[0] <= snapshot_at + 1, "entries before the window went, those the snapshot replays stayed"
    assert ids == list(range(ids[0], fe.position.entry_id + 1))
    cluster = fe.keys.cluster_id
    fe.close()
    config = load_config(None, **dict(values, meta_dir=str(tmp_path / "pitr-meta")))
    text = snapshot_yaml(values, cluster, "inside").replace(
        "  storage_volume_name", f"  restore_to:\n    journal_id: {target}\n  storage_volume_name")
    _restore(config, text, tmp_path)
    restored = Frontend.open(config)
    assert Session(restored, database="c").execute("SELECT count(*) FROM t").rows() == [(18,)]
    restored.close()


def test_a_snapshot_without_window_needs_no_journal(fe_conf_values: dict[str, str], tmp_path: Path) -> None:
    fe = open_fe(fe_conf_values, edit_log_port=str(free_port()))  # not the restoring FE's address
    session = table_with_rows(fe, 4)
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT s")
    insert_rows(session, 20)
    fe.vacuum.run()
    old = fe.journal.incarnation
    assert entry_ids(fe, old)[0] > CHECKPOINT_EVERY
    config = load_config(None, **dict(fe_conf_values, meta_dir=str(tmp_path / "restored")))
    _restore(config, snapshot_yaml(fe_conf_values, fe.keys.cluster_id, "s"), tmp_path)
    restored = open_fe(fe_conf_values, meta_dir=str(tmp_path / "restored"))
    restored_session = Session(restored, database="c")
    assert restored_session.execute("SELECT count(*) FROM t").rows() == [(4,)]
    insert_rows(restored_session, 12)
    restored.vacuum.run()
    assert len(entry_ids(restored, old)) == 1 and image_ids(restored, old) == [], \
        "a superseded log keeps only its fence"
    # The old FE either still finds its incarnation superseded, or has reloaded the new one and found
    # that the restore did not list it: either way nothing it is asked to write is applied.
    with pytest.raises((NotLeaderError, FrontendMembershipError), match="superseded|not a member"):
        session.execute("INSERT INTO t VALUES (-1)")
    assert restored_session.execute("SELECT count(*) FROM t").rows() == [(16,)]
    restored.close()
    fe.close()


def test_a_leader_paused_across_a_cleanup_never_acknowledges(fe_conf_values: dict[str, str], tmp_path: Path) -> None:
    """FE A is paused; FE B takes the log, commits, checkpoints and cleans the ids A thinks are next.
    A wakes and creates its next id again (it was deleted): the commit must not be acknowledged,
    and A must step down."""
    values = {**fe_conf_values, **CLEANUP_CONF}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    started: list[FeProcess] = []
    try:
        a = start_fe(tmp_path / "a", dict(values, meta_dir=str(tmp_path / "a" / "meta")))
        started.append(a)
        run_sql(a.query_port, "CREATE DATABASE before_pause")
        cluster = json.loads((tmp_path / "a" / "meta" / "cluster.json").read_text())["cluster_id"]
        keys = ClusterKeys(cluster)
        store = open_store(builtin_volume(load_config(None, **values)))
        a_next = entry_ids_of(store, keys)[-1] + 1  # the id A will put for its next commit
        os.kill(a.proc.pid, signal.SIGSTOP)
        try:
            b = start_fe(tmp_path / "b", dict(values, meta_dir=str(tmp_path / "b" / "meta")))
            started.append(b)
            for i in range(3 * CHECKPOINT_EVERY):
                run_sql(b.query_port, f"CREATE DATABASE from_b_{i}")
            run_sql(b.query_port, "ADMIN VACUUM")
            assert entry_ids_of(store, keys)[0] > a_next, "the cleanup deleted the id A will put next"
        finally:
            os.kill(a.proc.pid, signal.SIGCONT)
        # A, woken, either commits at the id it re-created (never acknowledged: the outcome is unknown),
        # or has learnt it lost and refuses, or forwards the write to B, which commits it in its epoch.
        outcomes = {name: _outcome(a.query_port, f"CREATE DATABASE {name}") for name in ("from_a", "from_a_again")}
        with urllib.request.urlopen(f"http://127.0.0.1:{b.http_port}/api/health", timeout=10) as answer:
            assert json.load(answer)["status"] == "OK"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{a.http_port}/api/health", timeout=10)
        run_sql(b.query_port, "CREATE DATABASE from_b_after")
        shown = {row[0] for row in run_sql(b.query_port, "SHOW DATABASES")}
        assert {"before_pause", "from_b_0", "from_b_after"} <= shown
        assert {n for n, outcome in outcomes.items() if outcome == "acknowledged"} <= shown
        assert not {n for n, outcome in outcomes.items() if outcome != "acknowledged"} & shown
    finally:
        for process in started:
            process.stop()
    reader = open_fe(values, meta_dir=str(tmp_path / "reader"), edit_log_port=str(free_port()))
    assert databases_of(reader) == shown
    reader.close()


def _outcome(port: int, statement: str) -> str:
    """'acknowledged', or the kind of refusal (a refusal must be one of the deposed leader's)."""
    try:
        run_sql(port, statement)
    except pymysql.MySQLError as exc:
        assert re.search("may or may not have been applied|no longer the leader|not a member of cluster", str(exc)), exc
        return "unknown" if "may or may not" in str(exc) else "refused"
    return "acknowledged"
