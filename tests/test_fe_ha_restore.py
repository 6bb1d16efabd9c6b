"""Restoring a cluster of several FEs (real processes, S3 on moto): the yaml's `frontends` become the
restored cluster's members, and the old incarnation's FEs, stopped or still running, rejoin it on
their own; an FE the yaml does not list serves nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from conftest import (
    free_port,
    s3_client,
    wait_until,
    write_conf,
)
from fe_cluster import ClusterFe, FeCluster, s3_values
from fe_process import CAIRN
from seed import SEED_ROWS, run_seed

SEED_SELECT_QUALIFIED = "select * from quickstart.source_wiki_edit"


@pytest.fixture
def cluster(tmp_path: Path, moto_endpoint: str) -> Iterator[FeCluster]:
    fes = FeCluster(tmp_path, s3_values(moto_endpoint))
    yield fes
    fes.stop()


def _seeded_cluster(cluster: FeCluster, followers: int = 2) -> tuple[list[ClusterFe], str]:
    """The seed's FEs (fe-0, then `followers` joined through it), the seed's data, snapshot `seed`,
    and a row written after it; returns the FEs and the cluster id."""
    fe0 = cluster.new_fe()
    cluster.start(fe0)
    others = [cluster.add(fe0) for _ in range(followers)]
    connection = cluster.connect(fe0)
    with connection.cursor() as cursor:
        run_seed(cursor)
        cursor.execute("ADMIN CREATE CLUSTER SNAPSHOT seed")
        cursor.execute("INSERT INTO source_wiki_edit (event_time, user) VALUES ('2015-09-12 13:00:00', 'late')")
    connection.close()
    for fe in others:
        wait_until(lambda fe=fe: cluster.sql_or_none(fe, "SELECT count(*) FROM quickstart.source_wiki_edit") == [(4,)],
                   what="the followers to replay")
    cluster_id = json.loads((fe0.workdir / "meta" / "cluster.json").read_text())["cluster_id"]
    return [fe0, *others], cluster_id


def _restore_yaml(cluster: FeCluster, cluster_id: str, frontends: list[ClusterFe],
                  observers: tuple[ClusterFe, ...] = ()) -> Path:
    """cluster_snapshot.yaml for snapshot `seed`, listing `frontends` as StarRocks' yaml names FEs."""
    listed = "".join(f"  - host: 127.0.0.1\n    edit_log_port: {fe.edit_log_port}\n"
                     f"    type: {'observer' if fe in observers else 'follower'}\n" for fe in frontends)
    path = cluster.root / "cluster_snapshot.yaml"
    path.write_text(f"""cluster_snapshot:
  cluster_snapshot_path: s3://{cluster.values['aws_s3_path']}/{cluster_id}/meta/image/seed
  storage_volume_name: builtin_storage_volume
frontends:{' []' if not frontends else ''}
{listed}""")
    return path


def _serving(cluster: FeCluster, fe: ClusterFe, leader: ClusterFe, members: int) -> bool:
    """`fe` sees `members` live FEs, `leader` leading, and reads the data as it was at the snapshot."""
    try:
        rows = cluster.frontends(fe)
        data = cluster.sql(fe, SEED_SELECT_QUALIFIED)
    except pymysql.MySQLError:
        return False
    return (len(rows) == members and all(r["Alive"] == "true" for r in rows.values())
            and rows[leader.address]["Role"] == "LEADER" and sorted(data) == SEED_ROWS)


def _old_log(cluster: FeCluster, cluster_id: str, incarnation: int) -> list[str]:
    """The keys of incarnation `incarnation`'s journal, in order."""
    bucket, prefix = cluster.values["aws_s3_path"].split("/", 1)
    listing = s3_client(cluster.values["aws_s3_endpoint"]).list_objects_v2(
        Bucket=bucket, Prefix=f"{prefix}/{cluster_id}/meta/journal/{incarnation:06d}/")
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _op_kind(cluster: FeCluster, key: str) -> str:
    bucket = cluster.values["aws_s3_path"].split("/", 1)[0]
    body = s3_client(cluster.values["aws_s3_endpoint"]).get_object(Bucket=bucket, Key=key)["Body"].read()
    return str(json.loads(body)["op"]["kind"])


def test_stale_fes_rejoin_a_cluster_restored_on_fe0(cluster: FeCluster) -> None:
    (fe0, fe1, fe2), cluster_id = _seeded_cluster(cluster)
    for fe in (fe0, fe1, fe2):
        cluster.kill(fe)
    shutil.rmtree(fe0.workdir / "meta")  # fe-0's disk is lost; fe-1's and fe-2's keep the old incarnation
    yaml_path = _restore_yaml(cluster, cluster_id, [fe1, fe2], observers=(fe2,))  # fe-2 was a follower
    cluster.start(fe0, args=["--cluster_snapshot", str(yaml_path)])
    for fe in (fe1, fe2):
        cluster.start(fe, helper=fe0)  # as Kubernetes starts them: same args, --helper included
    for fe in (fe0, fe1, fe2):
        wait_until(lambda fe=fe: _serving(cluster, fe, fe0, 3), what=f"{fe.address} to serve the restored cluster")
    # The yaml's FEs are named as StarRocks names an added FE: <host>_<edit_log_port>_<ms>.
    for fe in (fe0, fe1, fe2):
        rows = cluster.frontends(fe)
        assert all(str(rows[f.address]["Name"]).startswith(f"127.0.0.1_{f.edit_log_port}_") for f in (fe0, fe1, fe2))
        assert {a: r["Role"] for a, r in rows.items()} == {
            fe0.address: "LEADER", fe1.address: "FOLLOWER", fe2.address: "OBSERVER"}
    # Writes through a follower reach the restored cluster's leader.
    cluster.sql(fe2, "INSERT INTO quickstart.source_wiki_edit (event_time, user) VALUES ('2015-09-12 14:00:00', 'new')")
    for fe in (fe0, fe1, fe2):
        wait_until(lambda fe=fe: cluster.sql_or_none(fe, "SELECT count(*) FROM quickstart.source_wiki_edit") == [(4,)],
                   what="every FE to read the new row")
    assert _op_kind(cluster, _old_log(cluster, cluster_id, 1)[-1]) == "superseded"


def test_running_fes_follow_the_restored_incarnation_and_never_commit_to_the_old_one(cluster: FeCluster) -> None:
    (fe0, fe1, fe2), cluster_id = _seeded_cluster(cluster)
    cluster.kill(fe0)
    shutil.rmtree(fe0.workdir / "meta")
    # fe-1 and fe-2 keep running: one of them takes the lead of the old incarnation and commits to it.
    cluster.leader(among=[fe1, fe2])
    cluster.sql(fe1, "INSERT INTO quickstart.source_wiki_edit (event_time, user) VALUES ('2015-09-12 15:00:00', 'old')")
    cluster.start(fe0, args=["--cluster_snapshot", str(_restore_yaml(cluster, cluster_id, [fe1, fe2]))])
    fenced = _old_log(cluster, cluster_id, 1)
    assert _op_kind(cluster, fenced[-1]) == "superseded"
    # Writes through the old incarnation's FEs: refused until they follow the new one, then forwarded to it.
    for fe in (fe1, fe2):
        wait_until(lambda fe=fe: cluster.sql_or_none(
            fe, "INSERT INTO quickstart.source_wiki_edit (event_time, user) VALUES ('2015-09-12 16:00:00', 'new')")
                   is not None, what=f"a write through {fe.address} to succeed")
    for fe in (fe0, fe1, fe2):
        wait_until(lambda fe=fe: cluster.sql_or_none(
            fe, "SELECT user FROM quickstart.source_wiki_edit WHERE user = 'new'") == [("new",), ("new",)],
                   what="every FE to read both new rows")
        frontends = cluster.frontends(fe)
        assert {a: r["Role"] for a, r in frontends.items()} == {
            fe0.address: "LEADER", fe1.address: "FOLLOWER", fe2.address: "FOLLOWER"}
        assert cluster.sql(fe, "SELECT count(*) FROM quickstart.source_wiki_edit WHERE user IN ('late', 'old')") \
            == [(0,)], "rows written after the snapshot are not part of the restored cluster"
    assert _old_log(cluster, cluster_id, 1) == fenced, "nothing is appended to the old incarnation after its fence"


def _health(fe: ClusterFe) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{fe.running.http_port}/api/health", timeout=10) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _start_refused(cluster: FeCluster, fe: ClusterFe, helper: ClusterFe | None) -> str:
    """Start `fe` with its meta_dir (and --helper), expecting it to exit refused; its error output."""
    conf = write_conf(fe.workdir / "fe.conf", {
        **cluster.values, "meta_dir": str(fe.workdir / "meta"), "edit_log_port": str(fe.edit_log_port),
        "query_port": str(free_port()), "http_port": str(free_port()), "rpc_port": str(free_port())})
    helper_args = ["--helper", helper.address] if helper is not None else []
    done = subprocess.run([*CAIRN, "fe", "--conf", str(conf), *helper_args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    return " ".join(done.stderr.split())  # the CLI wraps its error line


def test_an_fe_the_restore_does_not_list_serves_nothing(cluster: FeCluster) -> None:
    (fe0, fe1), cluster_id = _seeded_cluster(cluster, followers=1)
    cluster.kill(fe0)
    shutil.rmtree(fe0.workdir / "meta")
    cluster.start(fe0, args=["--cluster_snapshot", str(_restore_yaml(cluster, cluster_id, []))])
    # fe-1 still runs the old incarnation: it learns it is no member of the new one and stops serving.
    wait_until(lambda: _health(fe1)[0] == 503, what="fe-1 to stop being ready")
    assert "not a member of cluster" in str(_health(fe1)[1])
    for statement in (SEED_SELECT_QUALIFIED, "SHOW FRONTENDS",
                      "INSERT INTO quickstart.source_wiki_edit (event_time, user) VALUES ('2015-09-12 16:00:00', 'x')"):
        with pytest.raises(pymysql.MySQLError, match="not a member of cluster"):
            cluster.sql(fe1, statement)
    with pytest.raises(pymysql.MySQLError, match=f"its FEs: {fe0.address}"):
        cluster.sql(fe1, "SELECT 1")
    said = [line for line in fe1.running.log.read_text().splitlines() if "is not a member of cluster" in line]
    assert len(said) == 1, "the FE says once that it is no member, not on every replay"
    # Restarted with its stale meta and --helper, as Kubernetes would, it is refused: it neither joins
    # nor takes over the restored cluster (whose only member is fe-0).
    cluster.kill(fe1)
    refused = _start_refused(cluster, fe1, fe0)
    assert "not a member of cluster" in refused and fe1.address in refused
    # Without --helper neither: the cluster's only member, fe-0, answers, so fe-1 takes nothing over.
    refused = _start_refused(cluster, fe1, None)
    assert "not a member of cluster" in refused and fe1.address in refused
    assert list(cluster.frontends(fe0)) == [fe0.address]
    assert sorted(cluster.sql(fe0, SEED_SELECT_QUALIFIED)) == SEED_ROWS
    cluster.sql(fe0, "INSERT INTO quickstart.source_wiki_edit (event_time, user) VALUES ('2015-09-12 17:00:00', 'y')")
