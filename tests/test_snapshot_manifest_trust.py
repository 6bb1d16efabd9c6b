"""Vacuum and the settling of interrupted snapshot jobs read a snapshot's manifest only through the
verifying reader: a forged, altered, foreign or copied manifest never decides what vacuum deletes,
nor makes an interrupted job FINISHED. (Legacy snapshots: tests/test_legacy_bucket.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from cairn.api import load_config
from cairn.catalog.model import SnapshotJob
from cairn.catalog.snapshot_ops import PutSnapshotJob
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from cairn.snapshot.listing import ABORTED_MARKER
from cairn.storage.keys import SNAPSHOT_DONE, SNAPSHOT_IMAGE, SNAPSHOT_MANIFEST
from cairn.vacuum.vacuum import MIN_AGE_SECONDS


def _altered(fe: Frontend, data: bytes) -> bytes:
    """The signed manifest listing no objects, its MAC kept: what a writer without the key can do."""
    return json.dumps({**json.loads(data), "objects": []}).encode()


def _legacy(fe: Frontend, data: bytes) -> bytes:
    """The manifest rewritten in the unsigned format of older Cairns, listing no objects."""
    body = {**json.loads(data), "format_version": 1, "objects": []}
    del body["key_id"], body["mac"]
    return json.dumps(body).encode()


def _unknown_key(fe: Frontend, data: bytes) -> bytes:
    return json.dumps({**json.loads(data), "key_id": "0123456789abcdef"}).encode()


def _other_snapshots(fe: Frontend, data: bytes) -> bytes:
    """Another snapshot's genuine, signed manifest (taken once the data was gone) copied in."""
    return fe.meta_store.get(fe.keys.snapshot_object("later", SNAPSHOT_MANIFEST))


FORGERIES: dict[str, Callable[[Frontend, bytes], bytes]] = {
    "altered": _altered, "legacy": _legacy, "unknown key": _unknown_key, "another snapshot's": _other_snapshots}


@pytest.fixture
def eager(fe_conf_values: dict[str, str]) -> Iterator[Session]:
    """An FE whose vacuum deletes at once, with snapshot 'pin' holding data no visible version holds,
    and snapshot 'later' taken after that data was dropped."""
    fe = Frontend.open(load_config(None, vacuum_grace_period_seconds="0", catalog_trash_expire_second="0",
                                   vacuum_interval_seconds="3600", **fe_conf_values))
    session = Session(fe)
    session.execute_script("CREATE DATABASE v; USE v; CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1; "
                           "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); ADMIN CREATE CLUSTER SNAPSHOT pin; "
                           "TRUNCATE TABLE t; INSERT INTO t VALUES (3); ADMIN CREATE CLUSTER SNAPSHOT later;")
    yield session
    fe.close()


def _replace(fe: Frontend, key: str, data: bytes) -> None:
    fe.meta_store.delete(key)
    fe.meta_store.put_if_absent(key, data)


def _vacuum(session: Session) -> None:
    time.sleep(MIN_AGE_SECONDS)  # objects younger than the margin are never candidates
    session.execute("ADMIN VACUUM")


def _data_keys(fe: Frontend) -> set[str]:
    return {i.key for i in fe.meta_store.list(fe.keys.data_prefix)}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_vacuum_never_deletes_what_a_snapshot_needs_because_of_a_forged_manifest(
        eager: Session, forgery: str, caplog: pytest.LogCaptureFixture) -> None:
    fe = eager.frontend
    manifest_key = fe.keys.snapshot_object("pin", SNAPSHOT_MANIFEST)
    genuine = fe.meta_store.get(manifest_key)
    needed = {o["key"] for o in json.loads(genuine)["objects"]}
    assert needed - {o["key"] for o in json.loads(_other_snapshots(fe, b""))["objects"]}, "pin alone holds some"
    _replace(fe, manifest_key, FORGERIES[forgery](fe, genuine))

    _vacuum(eager)  # the snapshot's own image says what it needs
    assert needed <= _data_keys(fe)
    assert "vacuum does not trust the manifest of cluster snapshot pin" in caplog.text
    _replace(fe, manifest_key, genuine)
    assert eager.execute("ADMIN VERIFY CLUSTER SNAPSHOT pin DEEP").rows()[0][2] == "OK"
    assert eager.execute("SELECT a FROM t").rows() == [(3,)]


def test_vacuum_deletes_nothing_while_a_snapshots_needs_are_unknown(eager: Session) -> None:
    fe = eager.frontend
    manifest_key = fe.keys.snapshot_object("pin", SNAPSHOT_MANIFEST)
    image_key = fe.keys.snapshot_object("pin", SNAPSHOT_IMAGE)
    _replace(fe, manifest_key, _altered(fe, fe.meta_store.get(manifest_key)))
    _replace(fe, image_key, b"\x00not an image")
    eager.execute("TRUNCATE TABLE t")  # garbage a run would delete
    before = _data_keys(fe)
    with pytest.raises(CairnError, match="Vacuum deleted nothing: what cluster snapshot 'pin' needs is not known"):
        _vacuum(eager)
    assert _data_keys(fe) == before
    # Dropping the lost snapshot ends the refusal: no garbage is kept for ever.
    eager.execute("ADMIN DROP CLUSTER SNAPSHOT pin")
    _vacuum(eager)
    assert _data_keys(fe) < before
    assert eager.execute("ADMIN VERIFY CLUSTER SNAPSHOT later DEEP").rows()[0][2] == "OK"


@pytest.mark.parametrize("forgery", ["altered", "another snapshot's"])
def test_an_interrupted_job_is_not_finished_by_a_forged_manifest(eager: Session, forgery: str) -> None:
    fe = eager.frontend
    store, keys = fe.meta_store, fe.keys
    # A predecessor's job cut off while uploading; its folder was then "completed" by someone else.
    job = SnapshotJob(job_id=fe.catalog.allocate_ids(1)[0], name="cut", type="MANUAL",
                      storage_volume="builtin_storage_volume", storage_path="elsewhere", state="UPLOADING",
                      created_at=time.time(), fe_journal_id=fe.position.entry_id)
    fe.committer.commit(lambda _catalog: PutSnapshotJob(job=job))
    genuine = store.get(keys.snapshot_object("pin", SNAPSHOT_MANIFEST))
    store.put_if_absent(keys.snapshot_object("cut", SNAPSHOT_MANIFEST), FORGERIES[forgery](fe, genuine))
    store.put_if_absent(keys.snapshot_object("cut", SNAPSHOT_DONE), b"")

    fe.snapshots.settle_cut_off()  # the snapshot tick settles a previous leader's jobs
    rows = eager.execute("SELECT STATE, ERROR_MESSAGE FROM information_schema.cluster_snapshot_jobs "
                         "WHERE SNAPSHOT_NAME = 'cut'").rows()
    assert rows[0][0] == "ERROR" and "its manifest is not trusted" in rows[0][1], rows
    assert store.get(keys.snapshot_object("cut", SNAPSHOT_DONE)) == ABORTED_MARKER
    assert not store.exists(keys.snapshot_object("cut", SNAPSHOT_MANIFEST))
    names = [r[0] for r in eager.execute("SELECT SNAPSHOT_NAME FROM information_schema.cluster_snapshots").rows()]
    assert "cut" not in names
