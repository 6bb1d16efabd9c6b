"""The journal on object storage: contiguous ids, gaps refused, checkpoints, fencing and racing leaders."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest

from cairn.api import load_config
from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Database
from cairn.catalog.ops import CreateDatabase
from cairn.config.fe_config import FeConfig
from cairn.errors import CommitOutcomeUnknownError, JournalError, NotLeaderError, ObjectExistsError
from cairn.fe.committer import JournalCommitter
from cairn.fe.frontend import Frontend
from cairn.journal.entry import JournalEntry
from cairn.journal.image import CheckpointImage
from cairn.journal.position import JournalPosition
from cairn.server.session import Session
from cairn.storage.keys import ClusterKeys


def _databases_in_log(entries: list[JournalEntry]) -> list[str]:
    return [e.op["database"]["name"] for e in entries if e.op["kind"] == "create_database"]


def _create_database(name: str) -> Callable[[Catalog], CreateDatabase]:
    return lambda catalog: CreateDatabase(database=Database(id=catalog.allocate_ids(1)[0], name=name,
                                                            storage_volume="builtin_storage_volume"))


def _epoch_start_of(entries: list[JournalEntry], fe: Frontend) -> JournalEntry:
    return next(e for e in entries if e.op["kind"] == "epoch_start" and e.op["leader"] == fe.name)


def test_entries_are_contiguous_and_a_gap_stops_start_up(fe_config: FeConfig) -> None:
    fe = Frontend.open(fe_config)
    session = Session(fe)
    for i in range(5):
        session.execute(f"CREATE DATABASE d{i}")
    entries = fe.journal.read_after(0)
    assert [e.entry_id for e in entries] == list(range(1, fe.position.entry_id + 1))
    assert _databases_in_log(entries) == [f"d{i}" for i in range(5)]
    fe.close()

    fe.meta_store.delete(fe.keys.journal_entry(fe.journal.incarnation, 3))
    with pytest.raises(JournalError, match="gap: entry 3 is missing"):
        Frontend.open(fe_config)


def test_a_checkpoint_image_every_interval(fe_conf_values: dict[str, str]) -> None:
    interval = 10
    fe = Frontend.open(load_config(None, checkpoint_interval_entries=str(interval), **fe_conf_values))
    session = Session(fe)
    for i in range(35):
        session.execute(f"CREATE DATABASE d{i}")
    last = fe.position.entry_id
    images = sorted(p.entry_id for info in fe.meta_store.list(fe.keys.image_prefix)
                    if (p := ClusterKeys.parse_image(info.key)) is not None)
    assert images == list(range(interval, last + 1, interval))
    newest = fe.keys.image(JournalPosition(fe.journal.incarnation, images[-1]))
    image = CheckpointImage.from_bytes(fe.meta_store.get(newest), newest)
    assert set(image.catalog["databases"]) == set(_databases_in_log(fe.journal.read_after(0, until=images[-1])))
    fe.close()


def test_a_newer_leader_fences_the_older_one(fe_config: FeConfig) -> None:
    # Both FEs have one address, so the deposed one never hears its successor: it must not elect
    # itself again (after the leader timeout) while the test runs.
    fe_config = fe_config.model_copy(update={"bdbje_heartbeat_timeout_second": 3600.0})
    old = Frontend.open(fe_config)
    Session(old).execute("CREATE DATABASE before")
    new = Frontend.open(fe_config)
    with pytest.raises(NotLeaderError, match="no longer the leader") as caught:
        Session(old).execute("CREATE DATABASE lost")
    assert new.name in str(caught.value)
    with pytest.raises(NotLeaderError):
        old.commit(_create_database("also_lost"))  # a deposed FE commits nothing (a session would forward)
    Session(new).execute("CREATE DATABASE after")

    entries = new.journal.read_after(0)
    start = _epoch_start_of(entries, new)
    assert {e.epoch for e in entries if e.entry_id > start.entry_id} == {start.op["epoch"]}
    assert _databases_in_log(entries) == ["before", "after"]
    old.close()
    new.close()


def test_a_follower_that_finds_a_newer_leader_when_it_tries_to_lead_gives_way(frontend: Frontend) -> None:
    Session(frontend).execute("CREATE DATABASE before")
    incarnation, silent = frontend.journal.incarnation, frontend.catalog.state.epoch
    first, second = (JournalCommitter(frontend.config, name, frontend.meta_store, frontend.keys)
                     for name in ("first", "second"))
    first.load(incarnation)
    second.load(incarnation)
    # Both followers saw the leader of `silent` go quiet; the first takes over while the second waits.
    assert first.try_lead("127.0.0.1:1", silent)
    assert not second.try_lead("127.0.0.1:2", silent)
    assert second.catalog.state.leader == "first" and not second.is_leader
    assert first.confirm_leadership()
    first.commit(_create_database("after"))
    assert _databases_in_log(first.journal.read_after(0)) == ["before", "after"]
    # A follower that knew of the newer epoch when its leader went silent may take over from it.
    assert second.try_lead("127.0.0.1:2", second.catalog.state.epoch)
    assert not first.confirm_leadership()


def test_commits_racing_a_new_leader_lose_nothing_acknowledged(fe_config: FeConfig) -> None:
    """The old leader keeps committing while a new FE takes the log: after the race only the
    new epoch appends, and the log holds every acknowledged statement once, and nothing else but the
    one statement the old leader was told might or might not have been applied."""
    # Both FEs have one address, so the deposed one never hears its successor: it must not elect
    # itself again (after the leader timeout) while the test runs.
    fe_config = fe_config.model_copy(update={"bdbje_heartbeat_timeout_second": 3600.0})
    old = Frontend.open(fe_config)
    acknowledged: list[str] = []
    unknown: list[str] = []
    lock = threading.Lock()
    old_started = threading.Event()
    holder: dict[str, Frontend] = {}
    errors: list[BaseException] = []
    deposed = threading.Event()

    def old_writer() -> None:
        session = Session(old)
        deadline = time.monotonic() + 60  # bounded: the new leader deposes it long before
        try:
            for i in itertools.count():
                if time.monotonic() > deadline:
                    return
                try:
                    session.execute(f"CREATE DATABASE old_{i}")
                except NotLeaderError:
                    deposed.set()
                    return
                except CommitOutcomeUnknownError:  # appended, then found a newer epoch: not acknowledged
                    unknown.append(f"old_{i}")
                    deposed.set()
                    return
                with lock:
                    acknowledged.append(f"old_{i}")
                if i == 2:
                    old_started.set()
        except BaseException as exc:
            errors.append(exc)
        finally:
            old_started.set()

    def new_writer() -> None:
        try:
            old_started.wait(30)
            new = Frontend.open(fe_config)  # races the old leader's appends for the next id
            holder["new"] = new
            session = Session(new)
            for i in range(10):
                session.execute(f"CREATE DATABASE new_{i}")
                with lock:
                    acknowledged.append(f"new_{i}")
        except BaseException as exc:  # surfaced below: a thread must not swallow a failure
            errors.append(exc)

    threads = [threading.Thread(target=old_writer), threading.Thread(target=new_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    new = holder["new"]
    assert deposed.is_set(), "the old leader kept committing after the new one took the log"
    assert not old.is_leader and new.is_leader

    entries = new.journal.read_after(0)
    start = _epoch_start_of(entries, new)
    assert {e.epoch for e in entries if e.entry_id > start.entry_id} == {start.op["epoch"]}
    logged = _databases_in_log(entries)
    assert len(logged) == len(set(logged)) and set(acknowledged) <= set(logged) <= set(acknowledged) | set(unknown)
    with pytest.raises(NotLeaderError):
        old.commit(_create_database("after_the_race"))

    reader = Frontend.open(fe_config)
    shown = {row[0] for row in Session(reader).execute("SHOW DATABASES").rows()}
    assert set(acknowledged) <= shown and "after_the_race" not in shown
    for fe in (old, new, reader):
        fe.close()


def test_a_retried_put_that_meets_its_own_first_attempt_is_a_commit(fe_config: FeConfig,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A store client that retries a create-if-absent put after a lost answer meets its own first
    attempt and reports the object as existing. That entry is this FE's commit: the client is told
    OK, the FE keeps leading, and the change is there after a restart."""
    fe = Frontend.open(fe_config)
    Session(fe).execute("CREATE DATABASE before")
    store = fe.journal.store
    key = fe.keys.journal_entry(fe.journal.incarnation, fe.position.entry_id + 1)
    put = store.put_if_absent

    def landed_then_exists(at: str, data: bytes | memoryview) -> None:
        put(at, data)
        if at == key:
            raise ObjectExistsError(f"object already exists: {at}")

    monkeypatch.setattr(store, "put_if_absent", landed_then_exists)
    Session(fe).execute("CREATE DATABASE landed")
    monkeypatch.undo()
    assert fe.is_leader and fe.position.entry_id == ClusterKeys.parse_journal_entry(key)
    Session(fe).execute("CREATE DATABASE after")
    fe.close()

    again = Frontend.open(fe_config)
    names = {row[0] for row in Session(again).execute("SHOW DATABASES").rows()}
    assert {"before", "landed", "after"} <= names
    assert _databases_in_log(again.journal.read_after(0)).count("landed") == 1
    again.close()
