"""Cluster restore from a snapshot: the seed's disaster-recovery scenario, fencing, and bad input."""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.request
from pathlib import Path

import pymysql
import pytest

from cairn.api import load_config
from cairn.errors import CairnError, NotLeaderError
from cairn.fe.frontend import Frontend
from cairn.restore.plan import plan_restore
from cairn.restore.restorer import restore
from cairn.restore.snapshot_yaml import read_snapshot_yaml
from cairn.server.session import Session
from conftest import USER_PASSWORD, wait_until
from fe_process import start_fe
from seed import SEED_INSERT, SEED_ROWS, SEED_SELECT, SEED_SETUP, run_seed


def snapshot_yaml(fe_conf_values: dict[str, str], cluster_id: str, snapshot: str | None) -> str:
    """The seed's cluster_snapshot.yaml for this test's volume."""
    if "aws_s3_path" in fe_conf_values:
        location = f"s3://{fe_conf_values['aws_s3_path']}"
        volumes = f"""storage_volumes:
  - name: builtin_storage_volume
    type: S3
    location: {location}
    comment: my s3 volume
    properties:
      - key: aws.s3.region
        value: us-east-1
      - key: aws.s3.endpoint
        value: {fe_conf_values['aws_s3_endpoint']}
      - key: aws.s3.access_key
        value: {fe_conf_values['aws_s3_access_key']}
      - key: aws.s3.secret_key
        value: {fe_conf_values['aws_s3_secret_key']}
"""
    else:
        location = fe_conf_values["local_storage_path"]
        volumes = ""
    path = f"{location}/{cluster_id}/meta" + (f"/image/{snapshot}" if snapshot else "")
    return f"""cluster_snapshot:
  cluster_snapshot_path: {path}
  storage_volume_name: builtin_storage_volume
frontends: []
compute_nodes: []
{volumes}"""


def test_seed_disaster_recovery_scenario(tmp_path: Path, fe_conf_values: dict[str, str]) -> None:
    values = dict(fe_conf_values, automated_cluster_snapshot_interval_seconds="60",
                  JAVA_OPTS='"-Xmx8192m"', LOG_DIR="${STARROCKS_HOME}/log")
    fe = start_fe(tmp_path, values)
    connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True)
    with connection.cursor() as cursor:
        run_seed(cursor)
        cursor.execute(f"CREATE USER analyst IDENTIFIED BY '{USER_PASSWORD}'")
        cursor.execute("GRANT SELECT ON quickstart.* TO analyst")
        cursor.execute("ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON STORAGE VOLUME builtin_storage_volume")

        def snapshot_finished() -> bool:
            cursor.execute("SELECT STATE FROM INFORMATION_SCHEMA.CLUSTER_SNAPSHOT_JOBS")
            return ("FINISHED",) in cursor.fetchall()

        wait_until(snapshot_finished, what="an automated snapshot finished")
        cursor.execute("SELECT SNAPSHOT_NAME FROM INFORMATION_SCHEMA.CLUSTER_SNAPSHOTS")
        (snapshot,) = cursor.fetchone()
    connection.close()
    cluster_id = json.loads((Path(values["meta_dir"]) / "cluster.json").read_text())["cluster_id"]
    fe.stop(signal.SIGKILL)
    shutil.rmtree(values["meta_dir"])  # the FE's disk is lost
    (tmp_path / "cluster_snapshot.yaml").write_text(snapshot_yaml(values, cluster_id, snapshot))
    restored = start_fe(tmp_path, values, extra_args=["--cluster_snapshot"])
    with urllib.request.urlopen(f"http://127.0.0.1:{restored.http_port}/api/v2/get_cluster_snapshot_restore_state",
                                timeout=10) as answer:
        assert json.load(answer)["state"] == "finished"
    connection = pymysql.connect(host="127.0.0.1", port=restored.query_port, user="analyst", password=USER_PASSWORD,
                                 database="quickstart")
    with connection.cursor() as cursor:
        cursor.execute(SEED_SELECT)
        assert sorted(cursor.fetchall()) == SEED_ROWS
    connection.close()
    restored.stop()


def test_in_place_restore_fences_the_old_fe(fe_conf_values: dict[str, str], tmp_path: Path) -> None:
    config = load_config(None, **fe_conf_values)
    old = Frontend.open(config)
    session = Session(old)
    session.execute_script(SEED_SETUP + SEED_INSERT + "ADMIN CREATE CLUSTER SNAPSHOT good;")
    session.execute("INSERT INTO source_wiki_edit (event_time, user) VALUES ('2015-09-12 13:00:00', 'late')")
    (tmp_path / "cs.yaml").write_text(snapshot_yaml(fe_conf_values, old.keys.cluster_id, None))
    spec = read_snapshot_yaml(tmp_path / "cs.yaml")
    fresh = load_config(None, **dict(fe_conf_values, meta_dir=str(tmp_path / "new-meta")))
    plan = plan_restore(fresh, spec)
    assert plan.snapshot == "good" and plan.fenced_incarnation == 1 and plan.new_incarnation == 2
    assert restore(plan, fresh, spec) == 2
    with pytest.raises(NotLeaderError, match="superseded"):
        session.execute("INSERT INTO source_wiki_edit (event_time, user) VALUES ('2015-09-12 14:00:00', 'lost')")
    new = Frontend.open(fresh)
    rows = Session(new, database="quickstart").execute(SEED_SELECT).rows()
    assert sorted(rows) == SEED_ROWS, "the row written after the snapshot is not part of the restored cluster"
    Session(new).execute("INSERT INTO quickstart.source_wiki_edit (event_time, user) VALUES ('2015-09-12 15:00:00', 'x')")
    assert Session(new, database="quickstart").execute("SELECT count(*) FROM source_wiki_edit").rows() == [(4,)]
    assert Session(new).execute("ADMIN VERIFY CLUSTER SNAPSHOT good DEEP").rows()[0][2] == "OK"
    # Restoring twice from the same snapshot works too.
    again = plan_restore(fresh, spec)
    assert restore(again, fresh, spec) == 3
    old.close()
    new.close()


@pytest.mark.parametrize("text, message", [
    ("cluster_snapshot: [unclosed", "not valid YAML"),
    ("cluster_snapshot:\n  cluster_snapshot_pth: x\n", "cluster_snapshot_pth"),
    ("cluster_snapshot:\n  cluster_snapshot_path: {root}/nope/meta\n", "no complete snapshot"),
    ("cluster_snapshot:\n  cluster_snapshot_path: {root}/{cluster}/meta/image/cut\n", "incomplete"),
    ("cluster_snapshot:\n  cluster_snapshot_path: {root}/{cluster}/meta\n  storage_volume_name: other\n"
     "storage_volumes:\n  - name: builtin_storage_volume\n    type: LOCAL\n    location: /tmp\n", "other"),
    ("cluster_snapshot:\n  cluster_snapshot_path: {root}/{cluster}/meta\nfrontends:\n  - host: fe-1\n"
     "  - host: fe-1\n    edit_log_port: 9010\n    type: observer\n", "lists fe-1:9010 more than once"),
    ("cluster_snapshot:\n  cluster_snapshot_path: {root}/{cluster}/meta\n  restore_to:\n    journal_id: 3\n",
     "cluster_snapshot_pitr_window_seconds"),
])
def test_bad_restore_input_changes_nothing(tmp_path: Path, text: str, message: str) -> None:
    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage")}
    fe = Frontend.open(load_config(None, **values))
    Session(fe).execute_script(SEED_SETUP + SEED_INSERT + "ADMIN CREATE CLUSTER SNAPSHOT ok;")
    fe.meta_store.put_if_absent(fe.keys.snapshot_object("cut", "image"), b"partial")
    fe.close()
    before = sorted(i.key for i in fe.meta_store.list(""))
    (tmp_path / "cs.yaml").write_text(text.format(root=values["local_storage_path"], cluster=fe.keys.cluster_id))
    config = load_config(None, **dict(values, meta_dir=str(tmp_path / "other-meta")))
    with pytest.raises(CairnError, match=message):
        restore(plan_restore(config, spec := read_snapshot_yaml(tmp_path / "cs.yaml")), config, spec)
    assert sorted(i.key for i in fe.meta_store.list("")) == before


def _restore(config, text: str, tmp_path: Path) -> int:
    (tmp_path / "cs.yaml").write_text(text)
    spec = read_snapshot_yaml(tmp_path / "cs.yaml")
    return restore(plan_restore(config, spec), config, spec)


def test_point_in_time_recovery_within_the_window(fe_conf_values: dict[str, str], tmp_path: Path) -> None:
    values = dict(fe_conf_values, cluster_snapshot_pitr_window_seconds="3600", vacuum_grace_period_seconds="0")
    fe = Frontend.open(load_config(None, **values))
    session = Session(fe)
    session.execute_script("CREATE DATABASE p; USE p; CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 2;"
                           "INSERT INTO t VALUES (1); ADMIN CREATE CLUSTER SNAPSHOT base;")
    session.execute("INSERT INTO t VALUES (2)")
    after_two = fe.position.entry_id
    time.sleep(1.1)
    moment = time.strftime("%Y-%m-%d %H:%M:%S")
    time.sleep(1.1)
    session.execute("INSERT INTO t VALUES (3)")
    session.execute("TRUNCATE TABLE t")
    time.sleep(1.1)
    session.execute("ADMIN VACUUM")  # the window keeps every version a point inside it needs
    cluster = fe.keys.cluster_id
    fe.close()
    base = snapshot_yaml(values, cluster, "base")
    for target, expected in ((f"journal_id: {after_two}", [(1,), (2,)]), (f'time: "{moment}"', [(1,), (2,)])):
        meta = tmp_path / f"meta-{len(target)}"
        config = load_config(None, **dict(values, meta_dir=str(meta)))
        yaml_text = base.replace("  storage_volume_name", f"  restore_to:\n    {target}\n  storage_volume_name")
        _restore(config, yaml_text, tmp_path)
        restored = Frontend.open(config)
        assert Session(restored, database="p").execute("SELECT a FROM t ORDER BY a").rows() == expected
        restored.close()
    config = load_config(None, **dict(values, meta_dir=str(tmp_path / "far")))
    with pytest.raises(CairnError, match="outside the point-in-time window of 3600"):
        _restore(config, base.replace("  storage_volume_name",
                                      '  restore_to:\n    time: "2001-01-01 00:00:00"\n  storage_volume_name'), tmp_path)


def test_restore_into_a_new_place(moto_endpoint: str, tmp_path: Path) -> None:
    import boto3

    from conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, make_bucket

    source, target = make_bucket(moto_endpoint), make_bucket(moto_endpoint)
    values = {"meta_dir": str(tmp_path / "meta"), "enable_load_volume_from_conf": "true",
              "aws_s3_path": f"{source}/data", "aws_s3_endpoint": moto_endpoint, "aws_s3_region": S3_REGION,
              "aws_s3_access_key": S3_ACCESS_KEY, "aws_s3_secret_key": S3_SECRET_KEY}
    original = Frontend.open(load_config(None, **values))
    Session(original).execute_script(SEED_SETUP + SEED_INSERT + "ADMIN CREATE CLUSTER SNAPSHOT s;")
    cluster = original.keys.cluster_id
    client = boto3.client("s3", endpoint_url=moto_endpoint, aws_access_key_id=S3_ACCESS_KEY,
                          aws_secret_access_key=S3_SECRET_KEY, region_name=S3_REGION)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=source, Prefix=f"data/{cluster}/"):
        for item in page.get("Contents", []):
            client.copy_object(Bucket=target, Key=item["Key"], CopySource={"Bucket": source, "Key": item["Key"]})
    clone = dict(values, meta_dir=str(tmp_path / "clone-meta"), aws_s3_path=f"{target}/data")
    text = snapshot_yaml({**clone, "aws_s3_path": f"{target}/data"}, cluster, None)
    config = load_config(None, **clone)
    _restore(config, text, tmp_path)
    copy = Frontend.open(config)
    copy_session = Session(copy, database="quickstart")
    assert sorted(copy_session.execute(SEED_SELECT).rows()) == SEED_ROWS
    copy_session.execute("INSERT INTO source_wiki_edit (event_time, user) VALUES ('2015-09-12 10:00:00', 'copy')")
    Session(original, database="quickstart").execute(
        "INSERT INTO source_wiki_edit (event_time, user) VALUES ('2015-09-12 11:00:00', 'original')")
    assert copy_session.execute("SELECT user FROM source_wiki_edit WHERE user IN ('copy', 'original')").rows() == [("copy",)]
    assert Session(original, database="quickstart").execute(
        "SELECT user FROM source_wiki_edit WHERE user IN ('copy', 'original')").rows() == [("original",)]
    assert original.is_leader, "the original cluster was not fenced by a restore somewhere else"
    copy_keys = {i.key for i in copy.meta_store.list(copy.keys.data_prefix)}
    assert copy.store_for("builtin_storage_volume").description.startswith(f"s3://{target}")
    assert copy_keys
    original.close()
    copy.close()


PHASE_KILLER = """
import os, signal, sys, json
from cairn.api import load_config
from cairn.restore import restorer
from cairn.restore.plan import plan_restore
from cairn.restore.snapshot_yaml import read_snapshot_yaml
values, yaml_path, phase = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
config = load_config(None, **values)
spec = read_snapshot_yaml(yaml_path)

def progress(current):
    if current == phase:
        os.kill(os.getpid(), signal.SIGKILL)

restorer.restore(plan_restore(config, spec), config, spec, progress)
"""


@pytest.mark.parametrize("phase", ["verify", "load image", "apply yaml", "open incarnation",
                                   "fence old incarnation"])
def test_a_restore_killed_in_any_phase_can_be_run_again(tmp_path: Path, fe_conf_values: dict[str, str],
                                                        phase: str) -> None:
    import subprocess
    import sys

    values = fe_conf_values
    old = Frontend.open(load_config(None, **values))
    old_session = Session(old)
    old_session.execute_script(SEED_SETUP + SEED_INSERT + "ADMIN CREATE CLUSTER SNAPSHOT s;")
    (tmp_path / "cs.yaml").write_text(snapshot_yaml(values, old.keys.cluster_id, "s"))
    fresh = dict(values, meta_dir=str(tmp_path / "fresh"))
    done = subprocess.run([sys.executable, "-c", PHASE_KILLER, json.dumps(fresh), str(tmp_path / "cs.yaml"), phase],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    config = load_config(None, **fresh)
    _restore(config, (tmp_path / "cs.yaml").read_text(), tmp_path)
    with pytest.raises(NotLeaderError):
        old_session.execute("CREATE DATABASE too_late")
    restored = Frontend.open(config)
    assert sorted(Session(restored, database="quickstart").execute(SEED_SELECT).rows()) == SEED_ROWS
    restored.close()
    old.close()


def test_cli_dry_run_changes_nothing_then_restores(tmp_path: Path) -> None:
    import subprocess
    import sys

    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage")}
    fe = Frontend.open(load_config(None, **values))
    Session(fe).execute_script(SEED_SETUP + SEED_INSERT + "ADMIN CREATE CLUSTER SNAPSHOT s;")
    fe.close()
    conf = tmp_path / "fe.conf"
    conf.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    meta = f"{values['local_storage_path']}/{fe.keys.cluster_id}/meta"
    before = sorted(i.key for i in fe.meta_store.list(""))
    dry = subprocess.run([sys.executable, "-m", "cairn.cli.main", "restore", "--conf", str(conf), "--snapshot", meta,
                          "--dry-run"], capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert "newest complete snapshot" in dry.stderr and "incarnation 1" in dry.stderr
    assert sorted(i.key for i in fe.meta_store.list("")) == before
    real = subprocess.run([sys.executable, "-m", "cairn.cli.main", "restore", "--conf", str(conf), "--snapshot", meta],
                          capture_output=True, text=True, timeout=120)
    assert real.returncode == 0 and "as incarnation 2" in real.stderr, real.stderr


def test_a_failed_restore_is_reported_by_restore_state(tmp_path: Path) -> None:
    import urllib.error

    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage")}
    (tmp_path / "cluster_snapshot.yaml").write_text(
        f"cluster_snapshot:\n  cluster_snapshot_path: {tmp_path / 'storage'}/no-such-cluster/meta\n")
    import subprocess
    import sys

    from conftest import free_port, wait_for_port

    http_port = free_port()
    conf = tmp_path / "fe.conf"
    conf.write_text("".join(f"{k} = {v}\n" for k, v in {**values, "http_port": http_port, "query_port": free_port(),
                                                        "edit_log_port": free_port()}.items()))
    proc = subprocess.Popen([sys.executable, "-m", "cairn.cli.main", "fe", "--conf", str(conf), "--cluster_snapshot"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(http_port)
        answer: dict = {}

        def restore_failed() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/v2/get_cluster_snapshot_restore_state",
                                            timeout=5) as response:
                    answer.update(json.load(response))
            except urllib.error.URLError:
                return False
            return answer.get("state") == "failed"

        wait_until(restore_failed, what="the restore state says failed")
        assert "cluster_snapshot_path" in answer["message"] and "no complete snapshot" in answer["message"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "cluster_snapshot_path" in stderr


def test_the_local_object_cache_stays_correct_across_an_in_place_restore(moto_endpoint: str, tmp_path: Path) -> None:
    from conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, make_bucket

    values = {"meta_dir": str(tmp_path / "meta"), "enable_load_volume_from_conf": "true",
              "aws_s3_path": f"{make_bucket(moto_endpoint)}/data", "aws_s3_endpoint": moto_endpoint,
              "aws_s3_region": S3_REGION, "aws_s3_access_key": S3_ACCESS_KEY, "aws_s3_secret_key": S3_SECRET_KEY}
    config = load_config(None, **values)
    fe = Frontend.open(config)
    session = Session(fe)
    session.execute_script(SEED_SETUP + SEED_INSERT + "ADMIN CREATE CLUSTER SNAPSHOT s;")
    session.execute("INSERT INTO source_wiki_edit (event_time, user) VALUES ('2015-09-12 13:00:00', 'after')")
    assert session.execute("SELECT count(*) FROM source_wiki_edit").rows() == [(4,)]  # cached from S3
    cache_files = list((tmp_path / "meta" / "cache").rglob("*.parquet"))
    assert cache_files
    fe.close()
    _restore(config, snapshot_yaml(values, fe.keys.cluster_id, "s"), tmp_path)  # same meta_dir, same cache
    restored = Frontend.open(config)
    again = Session(restored, database="quickstart")
    again.execute("INSERT INTO source_wiki_edit (event_time, user) VALUES ('2015-09-12 14:00:00', 'new')")
    assert sorted(u for (u,) in again.execute("SELECT user FROM source_wiki_edit").rows()) == \
        sorted(["AustinFF", "helloSR", "helloSR", "new"])
    restored.close()


def test_frontends_and_compute_nodes_follow_starrocks_semantics(tmp_path: Path) -> None:
    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage")}
    fe = Frontend.open(load_config(None, **values))
    Session(fe).execute_script(SEED_SETUP + "ADMIN CREATE CLUSTER SNAPSHOT s;")
    fe.close()
    base = snapshot_yaml(values, fe.keys.cluster_id, "s").replace("frontends: []\ncompute_nodes: []\n", "")
    cases = [
        ("frontends:\n  - host: fe-1.example\n    type: observer\ncompute_nodes:\n  - host: cn-0.example\n",
         [("fe-1.example", 9010, "observer")], [("cn-0.example", 9050)]),
        ("frontends: []\ncompute_nodes: []\n", [], []),
        # Listed itself (StarRocks says to leave it out), the restoring FE still leads: it is a follower.
        ("frontends:\n  - host: 127.0.0.1\n    type: observer\n  - host: fe-2.example\n    edit_log_port: 9020\n",
         [("fe-2.example", 9020, "follower")], []),
    ]
    for number, (nodes, frontends, compute_nodes) in enumerate(cases):
        config = load_config(None, **dict(values, meta_dir=str(tmp_path / f"m{number}")))
        _restore(config, base + nodes, tmp_path)
        restored = Frontend.open(config)
        state = restored.catalog.state
        # The restoring FE is a member of the cluster it restored, beside the FEs the yaml lists.
        assert [(f.host, f.edit_log_port, f.type) for f in state.frontends] == \
            frontends + [("127.0.0.1", 9010, "follower")]
        assert [(c.host, c.heartbeat_service_port) for c in state.compute_nodes] == compute_nodes
        if number == 0:
            Session(restored).execute("ADMIN CREATE CLUSTER SNAPSHOT with_nodes")
        restored.close()
    config = load_config(None, **dict(values, meta_dir=str(tmp_path / "absent")))
    _restore(config, base.replace("/image/s\n", "/image/with_nodes\n"), tmp_path)  # absent: keep the snapshot's
    restored = Frontend.open(config)
    assert [c.host for c in restored.catalog.state.compute_nodes] == ["cn-0.example"]
    assert [f.host for f in restored.catalog.state.frontends] == ["fe-1.example", "127.0.0.1"]
    restored.close()
