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
from cairn.fe.session import Session
from cairn.restore.plan import plan_restore
from cairn.restore.restorer import restore
from cairn.restore.snapshot_yaml import read_snapshot_yaml
from fe_process import start_fe
from seed import SEED_INSERT, SEED_ROWS, SEED_SELECT, SEED_SETUP


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
        for statement in (SEED_SETUP + SEED_INSERT).split(";"):
            if statement.strip():
                cursor.execute(statement)
        cursor.execute("CREATE USER analyst IDENTIFIED BY 'pw'")
        cursor.execute("GRANT SELECT ON quickstart.* TO analyst")
        cursor.execute("ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON STORAGE VOLUME builtin_storage_volume")
        for _ in range(300):
            cursor.execute("SELECT STATE FROM INFORMATION_SCHEMA.CLUSTER_SNAPSHOT_JOBS")
            if ("FINISHED",) in cursor.fetchall():
                break
            time.sleep(0.1)
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
    connection = pymysql.connect(host="127.0.0.1", port=restored.query_port, user="analyst", password="pw",
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
