"""Journal entries and images are authenticated: a forged object is never applied, and never stops the cluster."""

from __future__ import annotations

import json
import tarfile
import time
import zlib
from pathlib import Path

import pytest

from cairn import keyring
from cairn.api import load_config
from cairn.config.fe_config import FeConfig
from cairn.errors import CommitOutcomeUnknownError, JournalError, PrivilegeError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from cairn.journal.entry import JournalEntry
from cairn.journal.image import CheckpointImage
from cairn.journal.incarnation import Incarnation
from cairn.journal.position import JournalPosition
from cairn.storage.fault_injection import FaultInjector, FaultKind, FaultPlan, FaultRule, Op

LEGACY_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "legacy_v1.tar.gz"


def _forged_grant(fe: Frontend, entry_id: int, form: str) -> bytes:
    """A well-formed grant_privileges entry for `mallory`, as anyone with write access to the bucket
    (a compute node, say) could write it: valid JSON, valid plain checksum, no catalog key."""
    body = {"incarnation": fe.journal.incarnation, "entry_id": entry_id, "epoch": fe.catalog.state.epoch,
            "timestamp": time.time(), "format_version": 1,
            "op": {"kind": "grant_privileges", "name": "mallory",
                   "grant": {"privileges": ["ALL"], "database": "*", "table": "*"}}}
    if form == "made-up mac":
        body.update(format_version=2, key_id=keyring.current().current.key_id, mac="ab" * 32)
    elif form == "not json":
        return b"\x00garbage{"
    elif form == "replayed grant":  # a genuine, authenticated entry copied to a new id
        grant = next(e for e in fe.journal.read_after(0) if e.op["kind"] == "grant_privileges")
        return fe.meta_store.get(fe.keys.journal_entry(fe.journal.incarnation, grant.entry_id))
    elif form == "copied mac":  # a real entry's key id and MAC, pasted onto other content
        genuine = JournalEntry.model_validate(json.loads(fe.meta_store.get(
            fe.keys.journal_entry(fe.journal.incarnation, fe.position.entry_id))))
        body.update(format_version=2, key_id=genuine.key_id, mac=genuine.mac)
    return json.dumps(body).encode()


def _mallory_is_denied(fe: Frontend) -> None:
    with pytest.raises(PrivilegeError):
        Session(fe, user="mallory").execute("SELECT * FROM shop.t")


@pytest.mark.parametrize("form", ["legacy", "made-up mac", "copied mac", "not json", "replayed grant"])
def test_a_forged_grant_at_the_next_id_is_never_applied(fe_config: FeConfig, form: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    fe = Frontend.open(fe_config)
    session = Session(fe)
    session.execute_script("CREATE DATABASE shop; CREATE TABLE shop.t (x INT) DISTRIBUTED BY HASH(x); "
                           "CREATE USER mallory IDENTIFIED BY 'pw'; GRANT SELECT ON shop.* TO mallory; "
                           "REVOKE SELECT ON shop.* FROM mallory;")
    forged_id = fe.position.entry_id + 1
    fe.meta_store.put_if_absent(fe.keys.journal_entry(fe.journal.incarnation, forged_id),
                                _forged_grant(fe, forged_id, form))
    # The leader's next commit finds the slot taken, sees it is void, and appends after it.
    session.execute("INSERT INTO shop.t VALUES (1)")
    assert fe.is_leader and fe.position.entry_id == forged_id + 1
    _mallory_is_denied(fe)
    assert fe.journal.rejected == 1
    assert f"journal entry {fe.keys.journal_entry(fe.journal.incarnation, forged_id)} does not authenticate" \
        in caplog.text
    metrics = fe.metrics.registry.get_sample_value("cairn_journal_rejected_entries")
    assert metrics == 1
    fe.close()

    again = Frontend.open(fe_config)  # replay at start-up passes over it too
    _mallory_is_denied(again)
    assert again.journal.rejected == 1
    assert Session(again).execute("SELECT * FROM shop.t").rows() == [(1,)]
    Session(again).execute("INSERT INTO shop.t VALUES (2)")
    again.close()


def test_a_forged_entry_written_while_no_fe_runs_is_passed_over_at_start_up(fe_config: FeConfig) -> None:
    fe = Frontend.open(fe_config)
    Session(fe).execute_script("CREATE DATABASE shop; CREATE TABLE shop.t (x INT) DISTRIBUTED BY HASH(x); "
                               "CREATE USER mallory IDENTIFIED BY 'pw';")
    fe.checkpoint()
    fe.close()
    forged_id = fe.position.entry_id + 1
    fe.meta_store.put_if_absent(fe.keys.journal_entry(fe.journal.incarnation, forged_id),
                                _forged_grant(fe, forged_id, "legacy"))
    again = Frontend.open(fe_config)
    assert again.is_leader and again.position.entry_id > forged_id
    _mallory_is_denied(again)
    Session(again).execute("INSERT INTO shop.t VALUES (1)")
    again.close()


def test_a_forged_image_is_passed_over_for_the_newest_authentic_one(fe_config: FeConfig) -> None:
    fe = Frontend.open(fe_config)
    Session(fe).execute_script("CREATE DATABASE shop; CREATE USER mallory IDENTIFIED BY 'pw';")
    real = fe.checkpoint()
    fe.close()
    image = CheckpointImage.from_bytes(fe.meta_store.get(fe.keys.image(real)), "image")
    catalog = image.catalog
    catalog["users"]["mallory"]["grants"] = [{"privileges": ["ALL"], "database": "*", "table": "*"}]
    forged = image.model_copy(update={"entry_id": real.entry_id + 50, "catalog": catalog, "mac": "00" * 32})
    position = JournalPosition(real.incarnation, real.entry_id + 50)
    fe.meta_store.put_if_absent(fe.keys.image(position), zlib.compress(forged.model_dump_json().encode()))
    again = Frontend.open(fe_config)
    assert again.is_leader and again.position.entry_id == real.entry_id + 1
    with pytest.raises(PrivilegeError):
        Session(again, user="mallory").execute("CREATE DATABASE nope")
    again.close()


def test_a_forged_entry_far_past_the_end_does_not_stop_start_up(fe_config: FeConfig) -> None:
    fe = Frontend.open(fe_config)
    Session(fe).execute_script("CREATE DATABASE shop; CREATE TABLE shop.t (x INT) DISTRIBUTED BY HASH(x); "
                               "CREATE USER mallory IDENTIFIED BY 'pw';")
    far = fe.position.entry_id + 50
    fe.meta_store.put_if_absent(fe.keys.journal_entry(fe.journal.incarnation, far), _forged_grant(fe, far, "legacy"))
    Session(fe).execute("INSERT INTO shop.t VALUES (1)")
    fe.close()
    again = Frontend.open(fe_config)
    assert again.is_leader and again.journal.rejected == 1
    _mallory_is_denied(again)
    Session(again).execute("INSERT INTO shop.t VALUES (2)")
    assert Session(again).execute("SELECT count(*) FROM shop.t").rows() == [(2,)]
    again.close()
    # A real gap (an authenticated entry past it) still stops start-up.
    fe.meta_store.delete(fe.keys.journal_entry(fe.journal.incarnation, again.position.entry_id - 1))
    with pytest.raises(JournalError, match="gap"):
        Frontend.open(fe_config)


def test_a_forged_incarnation_record_does_not_replace_the_cluster(fe_config: FeConfig) -> None:
    fe = Frontend.open(fe_config)
    Session(fe).execute_script("CREATE DATABASE shop; CREATE TABLE shop.t (x INT) DISTRIBUTED BY HASH(x); "
                               "INSERT INTO shop.t VALUES (1);")
    real = fe.checkpoint()
    fe.close()
    forged = Incarnation(number=real.incarnation + 1, cluster_id=fe.keys.cluster_id, created_at=time.time(),
                         first_entry_id=1)
    fe.meta_store.put_if_absent(fe.keys.incarnation(forged.number), forged.model_dump_json().encode())
    empty = CheckpointImage.from_bytes(fe.meta_store.get(fe.keys.image(real)), "image")
    empty = empty.model_copy(update={"incarnation": forged.number, "entry_id": 0, "mac": "00" * 32,
                                     "catalog": {"cluster_id": fe.keys.cluster_id}})
    fe.meta_store.put_if_absent(fe.keys.image(JournalPosition(forged.number, 0)),
                                zlib.compress(empty.model_dump_json().encode()))
    again = Frontend.open(fe_config)
    assert again.journal.incarnation == real.incarnation
    assert Session(again).execute("SELECT * FROM shop.t").rows() == [(1,)]
    again.close()


def test_a_legacy_log_accepts_unauthenticated_entries_only_before_its_first_authenticated_one(
        tmp_path: Path) -> None:
    with tarfile.open(LEGACY_FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    values = {"local_storage_path": str(tmp_path / "storage"), "meta_dir": str(tmp_path / "meta"),
              "automated_cluster_snapshot_interval_seconds": "1000000000"}
    fe = Frontend.open(load_config(None, **values))  # replays the legacy entries, then authenticates its own
    legacy_users = set(fe.catalog.state.users)
    assert {"analyst", "loader", "auditor"} <= legacy_users and fe.journal.rejected == 0
    forged_id = fe.position.entry_id + 1
    body = {"incarnation": fe.journal.incarnation, "entry_id": forged_id, "epoch": fe.catalog.state.epoch,
            "timestamp": time.time(), "format_version": 1,
            "op": {"kind": "grant_privileges", "name": "analyst",
                   "grant": {"privileges": ["ALL"], "database": "*", "table": "*"}}}
    fe.meta_store.put_if_absent(fe.keys.journal_entry(fe.journal.incarnation, forged_id), json.dumps(body).encode())
    Session(fe).execute("CREATE DATABASE after_upgrade")
    with pytest.raises(PrivilegeError):
        Session(fe, user="analyst").execute("SELECT * FROM ops.events")
    fe.close()
    again = Frontend.open(load_config(None, **values))
    assert again.journal.rejected == 1 and "after_upgrade" in again.catalog.state.databases
    with pytest.raises(PrivilegeError):
        Session(again, user="analyst").execute("SELECT * FROM ops.events")
    again.close()


@pytest.mark.parametrize("writer", ["forged, with this FE's nonce", "another FE"])
def test_an_uncertain_append_is_settled_only_by_this_fes_own_authentic_entry(
        fe_config: FeConfig, writer: str, caplog: pytest.LogCaptureFixture) -> None:
    """A commit whose put was not confirmed (and whose settling read failed) is settled later from the
    log: an object forged at its id is never taken for this FE's entry nor applied (the FE puts its
    own after it), and another FE's authentic entry there means this FE lost the id: it steps down
    and its commit is not applied."""
    fe = Frontend.open(fe_config)
    Session(fe).execute_script("CREATE DATABASE shop; CREATE TABLE shop.t (x INT) DISTRIBUTED BY HASH(x); "
                               "CREATE USER mallory IDENTIFIED BY 'pw';")
    pending_id = fe.position.entry_id + 1
    key = fe.keys.journal_entry(fe.journal.incarnation, pending_id)
    fe.meta_store.faults = FaultInjector(FaultPlan(timeout_seconds=0.05, rules=[
        FaultRule(kind=FaultKind.ERROR, probability=1.0, ops=[op], key_prefix=key, max_hits=1)
        for op in (Op.PUT, Op.GET)]))
    with pytest.raises(CommitOutcomeUnknownError):
        Session(fe).execute("CREATE DATABASE maybe")
    pending = fe.committer._unsettled  # what only this FE knows: its entry's nonce
    assert pending is not None and pending.entry.entry_id == pending_id
    if writer == "another FE":
        shop = next(e for e in fe.journal.read_after(0) if e.op["kind"] == "create_database")
        op = {**shop.op, "database": {**shop.op["database"], "name": "rival", "id": 10_000}}
        other = JournalEntry(incarnation=fe.journal.incarnation, entry_id=pending_id, epoch=fe.catalog.state.epoch,
                             timestamp=time.time(), op=op, nonce="another FE's nonce")
        fe.meta_store.put_if_absent(key, other.to_bytes())
    else:
        body = json.loads(_forged_grant(fe, pending_id, "made-up mac"))
        fe.meta_store.put_if_absent(key, json.dumps({**body, "nonce": pending.entry.nonce}).encode())

    fe.committer.settle_unknown_outcome()  # what the checkpoint tick does
    names = {row[0] for row in Session(fe).execute("SHOW DATABASES").rows()}
    if writer == "another FE":
        assert not fe.is_leader and f"took journal entry {pending_id}" in caplog.text
        assert "maybe" not in names and "rival" in names
    else:
        assert fe.is_leader and fe.position.entry_id == pending_id + 1  # its own entry, after the forged one
        assert "maybe" in names
        _mallory_is_denied(fe)
        assert fe.journal.rejected >= 1
    fe.close()

    again = Frontend.open(fe_config)
    names = {row[0] for row in Session(again).execute("SHOW DATABASES").rows()}
    assert ("maybe" in names) == (writer != "another FE")
    _mallory_is_denied(again)
    again.close()
