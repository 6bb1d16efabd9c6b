"""Cluster snapshots: jobs and both information_schema tables, retention, verification, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cairn.api import load_config
from cairn.errors import CairnError, StorageError, StorageVolumeError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from cairn.snapshot.listing import list_snapshots, newest_complete
from cairn.storage.keys import SNAPSHOT_DONE, SNAPSHOT_MANIFEST
from conftest import S3_SECRET_KEY, wait_until
from seed import SEED_INSERT, SEED_SETUP

CAIRN = [sys.executable, "-m", "cairn.cli.main"]


def snapshot_rows(session: Session) -> list[tuple]:
    return session.execute("SELECT SNAPSHOT_NAME, SNAPSHOT_TYPE, FE_JOURNAL_ID, STORAGE_VOLUME "
                           "FROM information_schema.cluster_snapshots").rows()


def job_states(session: Session) -> list[tuple]:
    return session.execute("SELECT SNAPSHOT_NAME, STATE FROM information_schema.cluster_snapshot_jobs").rows()


def test_manual_snapshot_lifecycle(session: Session, volume_kind: str) -> None:
    session.execute_script(SEED_SETUP + SEED_INSERT)
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT before_upgrade PROPERTIES ('retention' = '7d')")
    ((name, kind, journal_id, volume),) = snapshot_rows(session)
    assert (name, kind, volume) == ("before_upgrade", "MANUAL", "builtin_storage_volume")
    assert journal_id <= session.frontend.position.entry_id
    assert job_states(session) == [("before_upgrade", "FINISHED")]
    fe = session.frontend
    manifest_bytes = fe.meta_store.get(fe.keys.snapshot_object("before_upgrade", SNAPSHOT_MANIFEST))
    manifest = json.loads(manifest_bytes)
    assert manifest["fe_journal_id"] == journal_id and manifest["cluster_id"] == fe.keys.cluster_id
    assert [t["row_count"] for t in manifest["tables"]] == [3]
    parquet = [o for o in manifest["objects"] if o["key"].endswith(".parquet")]
    assert parquet and all(o["size"] > 0 and o["checksum"].startswith("crc32:") for o in parquet)
    assert S3_SECRET_KEY.encode() not in manifest_bytes
    report = session.execute("ADMIN VERIFY CLUSTER SNAPSHOT before_upgrade DEEP").rows()[0]
    assert report[2:5] == ("OK", len(manifest["objects"]), 1)
    # No data was copied: every object the snapshot lists is one the table already had.
    data_keys = {i.key for i in fe.meta_store.list(fe.keys.data_prefix)}
    assert {o["key"] for o in manifest["objects"]} <= data_keys
    with pytest.raises(CairnError, match="already exists"):
        session.execute("ADMIN CREATE CLUSTER SNAPSHOT before_upgrade")
    session.execute("ADMIN DROP CLUSTER SNAPSHOT before_upgrade")
    assert snapshot_rows(session) == []
    assert job_states(session) == [("before_upgrade", "DELETED")]
    assert list_snapshots(fe.meta_store, fe.keys) == []


def test_automated_snapshots_on_off_interval_and_retention(session: Session) -> None:
    session.execute_script(SEED_SETUP + SEED_INSERT)
    with pytest.raises(CairnError, match="not been turned on"):
        session.execute("ADMIN SET AUTOMATED CLUSTER SNAPSHOT OFF")
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT keep_me")
    metrics = session.frontend.metrics.registry
    assert metrics.get_sample_value("cairn_snapshot_automated_enabled") == 0
    session.execute('ADMIN SET FRONTEND CONFIG ("automated_cluster_snapshot_interval_seconds" = "1")')
    session.execute("ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON STORAGE VOLUME builtin_storage_volume")
    # What the RPO alert (deploy/monitoring) compares the snapshot age with.
    assert metrics.get_sample_value("cairn_snapshot_interval_seconds") == 1
    assert metrics.get_sample_value("cairn_snapshot_automated_enabled") == 1
    with pytest.raises(CairnError, match="turn it off first"):
        session.execute("ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON")

    def three_automated_runs() -> bool:
        automated = [r for r in job_states(session) if r[0].startswith("automated_cluster_snapshot_")]
        return len(automated) >= 3 and automated[-1][1] == "FINISHED"

    wait_until(three_automated_runs, what="three automated snapshots")
    # The older snapshot expires in the commit after the newer one finishes, so wait for it.
    wait_until(lambda: len([r for r in snapshot_rows(session) if r[1] == "AUTOMATED"]) == 1,
               what="retention count 1 keeping exactly one automated snapshot")
    assert ("keep_me", "MANUAL") in [(r[0], r[1]) for r in snapshot_rows(session)]
    session.execute("ADMIN SET AUTOMATED CLUSTER SNAPSHOT OFF")
    assert metrics.get_sample_value("cairn_snapshot_automated_enabled") == 0
    assert [(r[0], r[1]) for r in snapshot_rows(session)] == [("keep_me", "MANUAL")]
    complete = [e.name for e in list_snapshots(session.frontend.meta_store, session.frontend.keys) if e.complete]
    assert complete == ["keep_me"]


def test_a_volume_holding_snapshots_cannot_be_dropped(session: Session, tmp_path: Path) -> None:
    session.execute_script(SEED_SETUP + SEED_INSERT)
    session.execute(f"CREATE STORAGE VOLUME snaps TYPE = LOCAL LOCATIONS = ('{tmp_path / 'snaps'}')")
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT elsewhere STORAGE VOLUME snaps")
    assert snapshot_rows(session)[0][3] == "snaps"
    assert session.execute("ADMIN VERIFY CLUSTER SNAPSHOT elsewhere DEEP").rows()[0][2] == "OK"
    with pytest.raises(StorageVolumeError, match="snapshots"):
        session.execute("DROP STORAGE VOLUME snaps")
    session.execute("ADMIN DROP CLUSTER SNAPSHOT elsewhere")
    session.execute("DROP STORAGE VOLUME snaps")


def test_verification_names_missing_and_corrupted_objects(session: Session, tmp_path: Path) -> None:
    session.execute_script(SEED_SETUP + SEED_INSERT)
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT s")
    fe = session.frontend
    manifest = json.loads(fe.meta_store.get(fe.keys.snapshot_object("s", SNAPSHOT_MANIFEST)))
    parquet = [o["key"] for o in manifest["objects"] if o["key"].endswith(".parquet")]
    original = fe.meta_store.get(parquet[0])
    fe.meta_store.delete(parquet[0])
    fe.meta_store.put_if_absent(parquet[0], original[:-1] + bytes([original[-1] ^ 0xFF]))  # same size, one bit off
    fe.meta_store.delete(parquet[1])
    shallow = session.execute("ADMIN VERIFY CLUSTER SNAPSHOT s").rows()[0]
    assert shallow[2] == "FAILED" and parquet[1] in shallow[5] and parquet[0] not in shallow[5]
    deep = session.execute("ADMIN VERIFY CLUSTER SNAPSHOT s DEEP").rows()[0]
    assert parquet[0] in deep[5] and "checksum" in deep[5] and parquet[1] in deep[5]


def test_cli_lists_and_verifies_without_an_fe(fe_conf_values: dict[str, str], tmp_path: Path) -> None:
    fe = Frontend.open(load_config(None, **fe_conf_values))
    session = Session(fe)
    session.execute_script(SEED_SETUP + SEED_INSERT)
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT first")
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT second")
    # A snapshot cut off before its marker: listed as incomplete, never chosen.
    fe.meta_store.put_if_absent(fe.keys.snapshot_object("zz_cut_off", "image"), b"partial")
    fe.close()
    if "aws_s3_path" in fe_conf_values:
        location = f"s3://{fe_conf_values['aws_s3_path']}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID=fe_conf_values["aws_s3_access_key"],
                   AWS_SECRET_ACCESS_KEY=fe_conf_values["aws_s3_secret_key"],
                   AWS_ENDPOINT_URL=fe_conf_values["aws_s3_endpoint"], AWS_REGION="us-east-1")
    else:
        location, env = fe_conf_values["local_storage_path"], dict(os.environ)
    meta = f"{location}/{fe.keys.cluster_id}/meta"
    listed = subprocess.run([*CAIRN, "snapshot", "list", meta], capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split("│")[2].strip(): line for line in listed.stdout.splitlines() if line.count("│") > 3}
    assert "NO (incomplete)" in lines["zz_cut_off"] and "<-" not in lines["zz_cut_off"]
    assert "<-" in lines["second"] and "<-" not in lines["first"]
    verified = subprocess.run([*CAIRN, "snapshot", "verify", meta, "--deep"], capture_output=True, text=True,
                              env=env, timeout=60)
    assert verified.returncode == 0 and "OK second" in verified.stdout, verified.stdout + verified.stderr
    cut = subprocess.run([*CAIRN, "snapshot", "verify", f"{meta}/image/zz_cut_off"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert cut.returncode == 1 and "incomplete" in cut.stderr + cut.stdout
    if "aws_s3_path" in fe_conf_values:  # the same from fe.conf's keys, with no AWS variables set
        conf = tmp_path / "fe.conf"
        conf.write_text("".join(f"{k} = {v}\n" for k, v in fe_conf_values.items()))
        bare = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        from_conf = subprocess.run([*CAIRN, "snapshot", "verify", meta, "--conf", str(conf)], capture_output=True,
                                   text=True, env=bare, timeout=60)
        assert from_conf.returncode == 0 and "OK second" in from_conf.stdout, from_conf.stderr


SNAPSHOT_WORKER = """
import sys, json
from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
fe = Frontend.open(load_config(None, **json.loads(sys.argv[1])))
s = Session(fe)
s.execute("CREATE DATABASE IF NOT EXISTS w")
s.execute("CREATE TABLE IF NOT EXISTS w.t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 4")
print("READY", flush=True)
for i in range(1000):
    s.execute(f"INSERT INTO w.t VALUES ({i}), ({i + 1})")
    s.execute(f"ADMIN CREATE CLUSTER SNAPSHOT crash_{sys.argv[2]}_{i}")
    print("SNAPSHOT", i, flush=True)
"""


def test_kill_minus_nine_during_snapshots(fe_conf_values: dict[str, str]) -> None:
    for round_number, delay in enumerate((0.05, 0.15, 0.3)):
        proc = subprocess.Popen([sys.executable, "-c", SNAPSHOT_WORKER, json.dumps(fe_conf_values), str(round_number)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        # Let a few snapshots finish (more each round), then kill at a moment that falls inside the
        # next insert or snapshot.
        for _ in range(round_number + 1):
            assert proc.stdout.readline().startswith("SNAPSHOT")
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        fe = Frontend.open(load_config(None, **fe_conf_values))
        session = Session(fe)
        states = session.execute("SELECT STATE, ERROR_MESSAGE FROM information_schema.cluster_snapshot_jobs").rows()
        assert all(state in {"FINISHED", "ERROR"} for state, _ in states)
        assert all("because of FE restart or leader change" in message for state, message in states if state == "ERROR")
        entries = list_snapshots(fe.meta_store, fe.keys)
        finished = {r[0] for r in snapshot_rows(session)}
        assert {e.name for e in entries} == finished, "no incomplete folder is left, none is lost"
        assert all(e.complete for e in entries)
        chosen = newest_complete(entries)
        assert chosen is None or chosen.name in finished
        session.execute(f"ADMIN CREATE CLUSTER SNAPSHOT after_{round_number}")
        for name in [r[0] for r in snapshot_rows(session)]:
            assert session.execute(f"ADMIN VERIFY CLUSTER SNAPSHOT {name} DEEP").rows()[0][2] == "OK", name
        assert fe.meta_store.exists(fe.keys.snapshot_object(f"after_{round_number}", SNAPSHOT_DONE))
        fe.close()


def test_manual_retention_runs_out(session: Session) -> None:
    session.execute_script(SEED_SETUP + SEED_INSERT)
    with pytest.raises(CairnError, match="retention"):
        session.execute("ADMIN CREATE CLUSTER SNAPSHOT bad PROPERTIES ('retention' = 'forever')")
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT short PROPERTIES ('retention' = '1s')")
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT long PROPERTIES ('retention' = '7d')")
    # EXPIRED (no longer listed) comes a moment before DELETED (its folder removed): wait for both.
    wait_until(lambda: ("short",) not in [(r[0],) for r in snapshot_rows(session)]
               and ("short", "DELETED") in job_states(session), what="the short snapshot expired and deleted")
    assert [r[0] for r in snapshot_rows(session)] == ["long"]
    assert ("short", "DELETED") in job_states(session)


def test_a_failing_store_fails_the_job_cleanly(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    session.execute_script(SEED_SETUP + SEED_INSERT)
    store = session.frontend.store_for("builtin_storage_volume")
    real_put = store.put_if_absent

    def failing_put(key: str, data: bytes) -> None:
        if key.endswith(SNAPSHOT_MANIFEST):
            raise StorageError(f"object storage failed to write '{key}': injected fault")
        real_put(key, data)

    monkeypatch.setattr(store, "put_if_absent", failing_put)
    with pytest.raises(CairnError, match="injected fault"):
        session.execute("ADMIN CREATE CLUSTER SNAPSHOT unlucky")
    assert job_states(session) == [("unlucky", "ERROR")]
    assert snapshot_rows(session) == []
    assert list_snapshots(store, session.frontend.keys) == [], "the half-written folder is removed"
    monkeypatch.setattr(store, "put_if_absent", real_put)
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT lucky")
    assert session.execute("ADMIN VERIFY CLUSTER SNAPSHOT lucky DEEP").rows()[0][2] == "OK"
    metrics = session.frontend.metrics
    assert metrics.registry.get_sample_value("cairn_snapshot_failures_total") == 1
    age = metrics.registry.get_sample_value("cairn_snapshot_age_seconds")
    assert age is not None and 0 <= age < 60


STATE_KILLER = """
import os, signal, sys, json
from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from cairn.snapshot.job import SnapshotJobs
from cairn.storage.object_store import ObjectStore

values, target = json.loads(sys.argv[1]), sys.argv[2]
fe = Frontend.open(load_config(None, **values))
Session(fe).execute_script("CREATE DATABASE IF NOT EXISTS k; CREATE TABLE IF NOT EXISTS k.t (a INT) "
                           "DISTRIBUTED BY HASH(a) BUCKETS 2; INSERT INTO k.t VALUES (1), (2), (3);")
real_put_job, real_put_object = SnapshotJobs._put, ObjectStore.put_if_absent

def put_job(self, job, **changes):
    job = real_put_job(self, job, **changes)
    if job.state == target:
        os.kill(os.getpid(), signal.SIGKILL)  # the FE dies right after this state is durable
    return job

def put_object(self, key, data):
    if target == "BEFORE_MARKER" and key.endswith("SNAPSHOT_DONE"):
        os.kill(os.getpid(), signal.SIGKILL)  # image and manifest are written, the marker is not
    return real_put_object(self, key, data)

SnapshotJobs._put, ObjectStore.put_if_absent = put_job, put_object
Session(fe).execute("ADMIN CREATE CLUSTER SNAPSHOT victim")
"""


@pytest.mark.parametrize("state", ["INITIALIZING", "SNAPSHOTING", "UPLOADING", "BEFORE_MARKER"])
def test_kill_minus_nine_in_each_job_state(fe_conf_values: dict[str, str], state: str) -> None:
    fe = Frontend.open(load_config(None, **fe_conf_values))
    Session(fe).execute_script(SEED_SETUP + SEED_INSERT + "ADMIN CREATE CLUSTER SNAPSHOT earlier;")
    fe.close()
    done = subprocess.run([sys.executable, "-c", STATE_KILLER, json.dumps(fe_conf_values), state],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    fe = Frontend.open(load_config(None, **fe_conf_values))
    session = Session(fe)
    jobs = dict(session.execute("SELECT SNAPSHOT_NAME, STATE FROM information_schema.cluster_snapshot_jobs").rows())
    assert jobs == {"earlier": "FINISHED", "victim": "ERROR"}
    message = session.execute("SELECT ERROR_MESSAGE FROM information_schema.cluster_snapshot_jobs "
                              "WHERE SNAPSHOT_NAME = 'victim'").rows()[0][0]
    assert message == "Snapshot job has been failed because of FE restart or leader change"
    entries = list_snapshots(fe.meta_store, fe.keys)
    assert [e.name for e in entries] == ["earlier"] and newest_complete(entries).name == "earlier"
    session.execute("ADMIN CREATE CLUSTER SNAPSHOT next_one")
    for name in ("earlier", "next_one"):
        assert session.execute(f"ADMIN VERIFY CLUSTER SNAPSHOT {name} DEEP").rows()[0][2] == "OK"
    fe.close()


def test_a_snapshot_retired_after_the_restored_point_is_not_listed(fe_conf_values: dict[str, str]) -> None:
    # A point-in-time restore brings back a catalog in which a snapshot is FINISHED, though the old
    # incarnation retired it later and removed its objects: the restored cluster must not list it.
    fe = Frontend.open(load_config(None, **fe_conf_values))
    session = Session(fe)
    session.execute_script(SEED_SETUP + "ADMIN CREATE CLUSTER SNAPSHOT kept; ADMIN CREATE CLUSTER SNAPSHOT retired;")
    store = fe.meta_store
    store.delete_many([info.key for info in store.list(fe.keys.snapshot_dir("retired"))])
    fe.close()
    reopened = Frontend.open(load_config(None, **fe_conf_values))
    session = Session(reopened)
    assert [r[0] for r in snapshot_rows(session)] == ["kept"]
    assert ("retired", "DELETED") in job_states(session)
    assert session.execute("ADMIN VERIFY CLUSTER SNAPSHOT kept DEEP").rows()[0][2] == "OK"
    reopened.close()
