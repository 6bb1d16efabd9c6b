"""The journal on object storage: contiguity, checkpoints, start-up, cluster choice, fencing."""

import logging
import threading

import pytest

from cairn.api import load_config
from cairn.catalog.model import Database
from cairn.catalog.ops import CreateDatabase
from cairn.config.fe_config import FeConfig
from cairn.errors import ClusterChoiceError, JournalError, NotLeaderError
from cairn.fe.frontend import Frontend
from cairn.fe.session import Session
from cairn.journal.log import Journal


def _create_db(fe: Frontend, name: str) -> None:
    fe.commit(lambda c: CreateDatabase(database=Database(id=c.allocate_ids(1)[0], name=name,
                                                          storage_volume="builtin_storage_volume")))


def test_entries_are_contiguous_and_a_gap_is_detected(frontend: Frontend) -> None:
    for i in range(5):
        _create_db(frontend, f"d{i}")
    journal = frontend.journal
    entries = journal.read_after(0)
    assert [e.entry_id for e in entries] == list(range(1, frontend.position.entry_id + 1))
    frontend.meta_store.delete(frontend.keys.journal_entry(journal.incarnation, 3))
    with pytest.raises(JournalError, match="gap"):
        Journal(frontend.meta_store, frontend.keys, journal.incarnation).read_after(0)


def test_checkpoints_bound_replay(fe_conf_values: dict[str, str]) -> None:
    config = load_config(None, checkpoint_interval_entries="10", **fe_conf_values)
    first = Frontend.open(config)
    for i in range(35):
        _create_db(first, f"d{i}")
    first.close()
    second = Frontend.open(config)
    replayed = second.position.entry_id - second._last_image_position.entry_id
    assert replayed < 10
    assert len(second.catalog.state.databases) == 35
    second.close()


def test_empty_meta_dir_resumes_the_only_cluster(fe_conf_values: dict[str, str], tmp_path, caplog) -> None:
    first = Frontend.open(load_config(None, **fe_conf_values))
    _create_db(first, "kept")
    first.close()
    fresh = dict(fe_conf_values, meta_dir=str(tmp_path / "empty-meta"))
    with caplog.at_level(logging.INFO):
        second = Frontend.open(load_config(None, **fresh))
    assert second.keys.cluster_id == first.keys.cluster_id
    assert "kept" in second.catalog.state.databases
    assert f"resuming cluster {first.keys.cluster_id}" in caplog.text
    second.close()


def test_several_clusters_need_cluster_id(fe_conf_values: dict[str, str], tmp_path) -> None:
    a = Frontend.open(load_config(None, **fe_conf_values))
    b = Frontend.open(load_config(None, **dict(fe_conf_values, meta_dir=str(tmp_path / "other"),
                                                cluster_id="second-cluster")))
    fresh = dict(fe_conf_values, meta_dir=str(tmp_path / "third"))
    with pytest.raises(ClusterChoiceError) as caught:
        Frontend.open(load_config(None, **fresh))
    assert a.keys.cluster_id in str(caught.value) and "second-cluster" in str(caught.value)
    assert "cluster_id" in str(caught.value)
    chosen = Frontend.open(load_config(None, **dict(fresh, cluster_id=a.keys.cluster_id)))
    assert chosen.keys.cluster_id == a.keys.cluster_id
    for fe in (a, b, chosen):
        fe.close()


def test_a_newer_leader_fences_the_older_one(fe_config: FeConfig) -> None:
    old = Frontend.open(fe_config)
    _create_db(old, "before")
    new = Frontend.open(fe_config)
    with pytest.raises(NotLeaderError, match="no longer the leader"):
        _create_db(old, "lost")
    with pytest.raises(NotLeaderError):
        Session(old).execute("CREATE DATABASE also_lost")
    _create_db(new, "after")
    entries = new.journal.read_after(0)
    new_epoch_start = next(e.entry_id for e in entries if e.op["kind"] == "epoch_start" and e.op["leader"] == new.name)
    assert all(e.epoch == new.catalog.state.epoch for e in entries if e.entry_id > new_epoch_start)
    names = {e.op["database"]["name"] for e in entries if e.op["kind"] == "create_database"}
    assert names == {"before", "after"}
    old.close()
    new.close()


def test_two_leaders_racing_lose_no_acknowledged_commit(fe_config: FeConfig) -> None:
    a = Frontend.open(fe_config)
    b = Frontend.open(fe_config)
    a.is_leader = True  # both believe they lead: only the log may decide
    acknowledged: list[str] = []
    lock = threading.Lock()

    def writer(fe: Frontend, prefix: str) -> None:
        for i in range(15):
            try:
                _create_db(fe, f"{prefix}{i}")
            except NotLeaderError:
                return
            with lock:
                acknowledged.append(f"{prefix}{i}")

    threads = [threading.Thread(target=writer, args=(fe, p)) for fe, p in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    reader = Frontend.open(fe_config)
    assert set(acknowledged) <= set(reader.catalog.state.databases)
    assert not (a.is_leader and b.is_leader)
    for fe in (a, b, reader):
        fe.close()
