"""Recovery from a storage stall or an unconfirmed journal put: the FE learns the outcome from the
log, tells the client "unknown" (never "failed") when the commit may have landed, and keeps leading."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from bench.s3_server import command as s3_server_command
from cairn.api import load_config
from cairn.errors import CommitOutcomeUnknownError, StorageUnavailableError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from cairn.journal.epochs import claim_next_epoch
from cairn.storage.fault_injection import ENV_VAR, FaultInjector, FaultKind, FaultPlan, FaultRule, Op
from conftest import free_port, make_bucket, wait_for_port
from fe_process import start_fe


def journal_faults(fe: Frontend, *rules: tuple[FaultKind, Op]) -> FaultInjector:
    """Inject each (kind, operation) once, on the next journal entry's key only."""
    key = fe.keys.journal_entry(fe.journal.incarnation, fe.position.entry_id + 1)
    plan = FaultPlan(timeout_seconds=0.05, rules=[FaultRule(kind=kind, probability=1.0, ops=[op], key_prefix=key,
                                                            max_hits=1) for kind, op in rules])
    return FaultInjector(plan)


def databases(fe: Frontend) -> set[str]:
    return {row[0] for row in Session(fe).execute("SHOW DATABASES").rows()}


@pytest.mark.parametrize("fault", [FaultKind.LOST_ACK, FaultKind.TIMEOUT, FaultKind.ERROR, FaultKind.PERMANENT])
def test_an_unconfirmed_put_is_settled_by_reading_the_log(fe_config, fault: FaultKind) -> None:
    fe = Frontend.open(fe_config)
    fe.meta_store.faults = journal_faults(fe, (fault, Op.PUT))
    Session(fe).execute("CREATE DATABASE landed")  # acknowledged: the log shows the entry is this FE's
    assert fe.meta_store.faults.injected[fault] == 1
    Session(fe).execute("CREATE DATABASE next")
    assert fe.is_leader and {"landed", "next"} <= databases(fe)
    fe.close()
    reader = Frontend.open(fe_config)
    assert {"landed", "next"} <= databases(reader)
    reader.close()


def test_an_outcome_it_cannot_learn_is_unknown_then_settled(fe_conf_values: dict[str, str]) -> None:
    fe_config = load_config(None, checkpoint_interval_entries="1", **fe_conf_values)  # settling checkpoints too
    fe = Frontend.open(fe_config)
    # The put lands but says it failed, and the read that should settle it fails too.
    fe.meta_store.faults = journal_faults(fe, (FaultKind.LOST_ACK, Op.PUT), (FaultKind.ERROR, Op.GET))
    with pytest.raises(CommitOutcomeUnknownError, match="may or may not have been applied"):
        Session(fe).execute("CREATE DATABASE maybe")
    assert fe.is_leader
    Session(fe).execute("CREATE DATABASE after")  # settles 'maybe' first: it landed, and it is this FE's
    assert fe.is_leader and {"maybe", "after"} <= databases(fe)
    fe.close()
    reader = Frontend.open(fe_config)
    assert {"maybe", "after"} <= databases(reader)
    reader.close()


def test_a_read_after_an_unknown_outcome_never_shows_the_change_missing(fe_conf_values: dict[str, str]) -> None:
    """A client told "unknown" checks with a read: that read must not show the change absent when
    it has landed (it would be retried and done twice). While the store cannot tell, reads fail."""
    fe = Frontend.open(load_config(None, **fe_conf_values))
    key = fe.keys.journal_entry(fe.journal.incarnation, fe.position.entry_id + 1)
    fe.meta_store.faults = FaultInjector(FaultPlan(timeout_seconds=0.05, rules=[
        FaultRule(kind=FaultKind.LOST_ACK, probability=1.0, ops=[Op.PUT], key_prefix=key, max_hits=1),
        FaultRule(kind=FaultKind.ERROR, probability=1.0, ops=[Op.GET], key_prefix=key, max_hits=2)]))
    with pytest.raises(CommitOutcomeUnknownError, match="may or may not have been applied"):
        Session(fe).execute("CREATE DATABASE maybe")
    with pytest.raises(StorageUnavailableError, match="is not known yet"):
        databases(fe)  # the store still cannot say whether 'maybe' landed
    assert "maybe" in databases(fe), "the first read that succeeds shows the landed change"
    assert fe.is_leader
    fe.close()


@pytest.fixture
def own_s3() -> Iterator[tuple[str, subprocess.Popen]]:
    """A moto S3 server of this test's own, so that it can be paused without stalling other tests."""
    port = free_port()
    proc = subprocess.Popen(s3_server_command(port),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=10)


def health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as failed:
        return failed.code, json.load(failed)


def test_a_storage_stall_leaves_the_fe_leading(tmp_path: Path, own_s3: tuple[str, subprocess.Popen]) -> None:
    from conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY

    endpoint, s3 = own_s3
    values = {"meta_dir": str(tmp_path / "meta"), "run_mode": "shared_data", "cloud_native_storage_type": "S3",
              "enable_load_volume_from_conf": "true", "aws_s3_path": f"{make_bucket(endpoint)}/data",
              "aws_s3_endpoint": endpoint, "aws_s3_region": S3_REGION, "aws_s3_access_key": S3_ACCESS_KEY,
              "aws_s3_secret_key": S3_SECRET_KEY, "object_storage_request_timeout_ms": "500"}
    fe = start_fe(tmp_path, values)
    try:
        connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE stall")
            cursor.execute("USE stall")
            os.kill(s3.pid, signal.SIGSTOP)
            try:
                with pytest.raises(pymysql.MySQLError, match="may or may not have been applied"):
                    cursor.execute("CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1")
            finally:
                os.kill(s3.pid, signal.SIGCONT)
            cursor.execute("CREATE TABLE u (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1")
            cursor.execute("INSERT INTO u VALUES (1)")
            cursor.execute("SHOW TABLES")
            assert sorted(row[0] for row in cursor.fetchall()) == ["t", "u"], "the unknown outcome was settled"
            cursor.execute("SELECT count(*) FROM u")
            assert cursor.fetchall() == ((1,),)
        connection.close()
        status, answer = health(fe.http_port)
        assert (status, answer["status"], answer["msg"], answer["is_leader"]) == (200, "OK", "", True)
    finally:
        fe.stop()


def test_epochs_claimed_by_fes_that_died_depose_no_one(fe_config) -> None:
    """FEs that died between claiming an epoch and appending their epoch start leave records behind:
    the next leader claims above them, and its log has no gap."""
    fe = Frontend.open(fe_config)
    Session(fe).execute("CREATE DATABASE before")
    fe.close()
    for ahead in (1, 40):
        claim_next_epoch(fe.meta_store, fe.keys, fe.journal.incarnation, fe.catalog.state.epoch + ahead, "died")
    again = Frontend.open(fe_config)
    Session(again).execute("CREATE DATABASE after")
    assert again.is_leader and {"before", "after"} <= databases(again)
    assert [e.entry_id for e in again.journal.read_after(0)] == list(range(1, again.position.entry_id + 1))
    again.close()


def test_an_epoch_claim_whose_put_is_unconfirmed_still_leads(fe_conf_values: dict[str, str], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fe = Frontend.open(load_config(None, **fe_conf_values))
    fe.close()
    plan = FaultPlan(rules=[FaultRule(kind=FaultKind.LOST_ACK, probability=1.0, ops=[Op.PUT],
                                      key_prefix=fe.keys.epochs_prefix)])
    monkeypatch.setenv(ENV_VAR, plan.model_dump_json())  # every epoch claim lands but reports failure
    process = start_fe(tmp_path, fe_conf_values)
    try:
        connection = pymysql.connect(host="127.0.0.1", port=process.query_port, user="root", autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE after")
            cursor.execute("SHOW DATABASES")
            assert ("after",) in cursor.fetchall()
        connection.close()
        assert health(process.http_port)[0] == 200
    finally:
        process.stop()
