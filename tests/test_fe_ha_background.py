"""Background work and compute nodes across a leader failover (real processes, S3 on moto): snapshots,
checkpoints, vacuum and compaction run on the leader only; a snapshot the old leader was taking when
it died ends ERROR and the new leader keeps the schedule; compute nodes serve every FE."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cn_process import CnProcess, start_cn
from conftest import (
    s3_client,
    wait_until,
)
from fe_cluster import ClusterFe, FeCluster, s3_values

INTERRUPTED = "Snapshot job has been failed because of FE restart or leader change"


@pytest.fixture
def cluster(tmp_path: Path, moto_endpoint: str) -> Iterator[FeCluster]:
    fes = FeCluster(tmp_path, s3_values(moto_endpoint, cluster_id=str(uuid.uuid4())))
    yield fes
    fes.stop()


def _jobs(cluster: FeCluster, fe: ClusterFe) -> dict[str, tuple[str, str | None]]:
    """information_schema.cluster_snapshot_jobs on `fe`: name -> (state, error message)."""
    rows = cluster.sql(fe, "SELECT SNAPSHOT_NAME, STATE, ERROR_MESSAGE FROM information_schema.cluster_snapshot_jobs")
    return {name: (state, error) for name, state, error in rows}


def _snapshot_objects(cluster: FeCluster, name: str) -> list[str]:
    """The object names in snapshot `name`'s folder on the bucket."""
    bucket, prefix = cluster.values["aws_s3_path"].split("/", 1)
    folder = f"{prefix}/{cluster.values['cluster_id']}/meta/image/{name}/"
    listing = s3_client(cluster.values["aws_s3_endpoint"]).list_objects_v2(Bucket=bucket, Prefix=folder)
    return sorted(o["Key"][len(folder):] for o in listing.get("Contents", []))


def _lines(fe_log: Path, *needles: str) -> list[str]:
    return [line for line in fe_log.read_text().splitlines() if any(n in line for n in needles)]


LEADER_WORK = ("wrote checkpoint image", "cluster snapshot", "vacuum deleted", "compaction merged",
               "compaction of partition")


def test_a_snapshot_cut_off_by_a_failover_ends_error_and_the_new_leader_keeps_the_schedule(
        cluster: FeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = {"automated_cluster_snapshot_interval_seconds": "2", "checkpoint_interval_entries": "3"}
    fe0, fe1 = cluster.new_fe(), cluster.new_fe()
    # fe-0's snapshot uploads are slow (each put into a snapshot folder waits 3 s), so that it dies in one.
    monkeypatch.setenv("CAIRN_STORE_FAULTS",
                       f"latency=3,ops=put,only={cluster.values['cluster_id']}/meta/image/automated_cluster_snapshot")
    cluster.start(fe0, extra=fast)
    monkeypatch.delenv("CAIRN_STORE_FAULTS")
    cluster.sql(fe0, f'ALTER SYSTEM ADD FOLLOWER "{fe1.address}"')
    cluster.start(fe1, helper=fe0, extra=fast)
    cluster.sql(fe1, "CREATE DATABASE d", "CREATE TABLE d.t (k INT, v VARCHAR(10)) DISTRIBUTED BY HASH(k) BUCKETS 2",
                *[f"INSERT INTO d.t VALUES ({i}, 'v{i}')" for i in range(6)],
                "ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON STORAGE VOLUME builtin_storage_volume")
    uploading: list[str] = []

    def one_uploading() -> bool:
        uploading[:] = [name for name, (state, _) in _jobs(cluster, fe1).items() if state == "UPLOADING"]
        return bool(uploading)

    wait_until(one_uploading, what="a snapshot job to be uploading")
    cluster.kill(fe0)  # in the middle of the upload
    (cut,) = uploading
    assert "SNAPSHOT_DONE" not in _snapshot_objects(cluster, cut)
    follower_log = fe1.running.log.read_text()
    assert not _lines(fe1.running.log, *LEADER_WORK), "a follower wrote no image, snapshot, and ran no vacuum"
    assert _lines(fe0.workdir.glob("fe-*.log").__next__(), "wrote checkpoint image"), "the leader did"
    assert follower_log  # fe-1 logged while it followed

    assert cluster.leader(among=[fe1]) is fe1
    wait_until(lambda: _jobs(cluster, fe1)[cut] == ("ERROR", INTERRUPTED), what="the cut-off job to be ERROR")
    assert _snapshot_objects(cluster, cut) == ["SNAPSHOT_DONE"], "its folder holds only the aborted marker"

    def a_later_one_finished() -> bool:
        return any(state == "FINISHED" and name > cut for name, (state, _) in _jobs(cluster, fe1).items())

    wait_until(a_later_one_finished, what="the new leader to finish a later automated snapshot")
    # fe-0 comes back as a follower: it lists what the leader lists, and no incomplete snapshot as finished.
    cluster.start(fe0, extra=fast)
    wait_until(lambda: _jobs(cluster, fe0).get(cut) == ("ERROR", INTERRUPTED), what="fe-0 to replay")
    for fe in (fe0, fe1):
        for (name,) in cluster.sql(fe, "SELECT SNAPSHOT_NAME FROM information_schema.cluster_snapshots"):
            assert name != cut
            # A new automated snapshot replaces the last one every 2 s: one listed a moment ago may
            # be gone since, and its folder with it. One the leader still lists is complete.
            still_listed = {n for (n,) in cluster.sql(fe1, "SELECT SNAPSHOT_NAME FROM "
                                                          "information_schema.cluster_snapshots")}
            assert "SNAPSHOT_DONE" in _snapshot_objects(cluster, name) or name not in still_listed
    assert not _lines(fe0.running.log, *LEADER_WORK), "fe-0, following now, does no leader work"


def test_a_paused_old_leader_never_completes_the_snapshot_the_new_leader_failed(
        cluster: FeCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = {"automated_cluster_snapshot_interval_seconds": "2"}
    fe0, fe1 = cluster.new_fe(), cluster.new_fe()
    monkeypatch.setenv("CAIRN_STORE_FAULTS",
                       f"latency=3,ops=put,only={cluster.values['cluster_id']}/meta/image/automated_cluster_snapshot")
    cluster.start(fe0, extra=fast)
    monkeypatch.delenv("CAIRN_STORE_FAULTS")
    cluster.sql(fe0, f'ALTER SYSTEM ADD FOLLOWER "{fe1.address}"')
    cluster.start(fe1, helper=fe0, extra=fast)
    cluster.sql(fe1, "CREATE DATABASE d", "CREATE TABLE d.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 2",
                "INSERT INTO d.t VALUES (1), (2)",
                "ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON STORAGE VOLUME builtin_storage_volume")
    uploading: list[str] = []

    def one_uploading() -> bool:
        uploading[:] = [name for name, (state, _) in _jobs(cluster, fe1).items() if state == "UPLOADING"]
        return bool(uploading)

    wait_until(one_uploading, what="a snapshot job to be uploading")
    fe0.running.proc.send_signal(signal.SIGSTOP)  # paused in the middle of the upload
    (cut,) = uploading
    assert cluster.leader(among=[fe1]) is fe1
    wait_until(lambda: _jobs(cluster, fe1)[cut] == ("ERROR", INTERRUPTED), what="the new leader to fail the job")
    fe0.running.proc.send_signal(signal.SIGCONT)
    # The old leader wakes, finishes its puts, and finds the folder settled: it never completes it.
    wait_until(lambda: _lines(fe0.running.log, f"Cluster snapshot '{cut}' was settled by a newer leader"),
               what="the old leader to find its snapshot settled")
    assert _snapshot_objects(cluster, cut) == ["SNAPSHOT_DONE"], "only the aborted marker is left"
    wait_until(lambda: cluster.frontends(fe0)[fe0.address]["Role"] == "FOLLOWER", what="the old leader to follow")
    for fe in (fe0, fe1):
        wait_until(lambda fe=fe: _jobs(cluster, fe)[cut] == ("ERROR", INTERRUPTED), what="every FE to list it ERROR")
        listed = [name for (name,) in cluster.sql(fe, "SELECT SNAPSHOT_NAME FROM information_schema.cluster_snapshots")]
        assert cut not in listed


def _cn_counters(nodes: list[CnProcess], name: str) -> int:
    return sum(node.report()["counters"].get(name, 0) for node in nodes)


def test_compute_nodes_serve_followers_and_keep_working_across_a_failover(cluster: FeCluster, tmp_path: Path) -> None:
    heartbeats = {"heartbeat_interval_second": "0.5", "heartbeat_retry_times": "1", "heartbeat_timeout_second": "2"}
    cluster.values.update(heartbeats)
    fe0 = cluster.new_fe()
    cluster.start(fe0)
    fe1 = cluster.add(fe0)
    nodes = [start_cn(tmp_path, name=f"cn{i}") for i in range(2)]
    try:
        cluster.sql(fe1, "ALTER SYSTEM ADD COMPUTE NODE " + ", ".join(f'"{n.address}"' for n in nodes))
        wait_until(lambda: [r[8] for r in cluster.sql(fe1, "SHOW COMPUTE NODES")] == ["true", "true"],
                   what="the follower to see both nodes alive")
        cluster.sql(fe1, "CREATE DATABASE d", "CREATE TABLE d.t (k INT, v INT) DISTRIBUTED BY HASH(k) BUCKETS 4",
                    "INSERT INTO d.t SELECT i, i * 2 FROM TABLE(generate_series(1, 1000)) AS g(i)")
        scans = _cn_counters(nodes, "scans")
        assert cluster.sql(fe1, "SELECT count(*), sum(v) FROM d.t") == [(1000, 1001000)]
        assert _cn_counters(nodes, "scans") > scans, "the follower's query ran on the compute nodes"

        cluster.kill(fe0)
        assert cluster.leader(among=[fe1]) is fe1
        writes = _cn_counters(nodes, "writes")
        connection = cluster.connect(fe1)
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO d.t SELECT i, i * 2 FROM TABLE(generate_series(1001, 1100)) AS g(i)")
            scans = _cn_counters(nodes, "scans")
            cursor.execute("SELECT count(*), sum(v) FROM d.t")
            assert cursor.fetchall() == ((1100, 1211100),)
        connection.close()
        assert _cn_counters(nodes, "writes") > writes, "the new leader's load was written on the nodes"
        assert _cn_counters(nodes, "scans") > scans, "the new leader's query ran on the nodes"
        # The old leader comes back as a follower and queries on the nodes too.
        cluster.start(fe0)
        scans = _cn_counters(nodes, "scans")
        wait_until(lambda: cluster.sql_or_none(fe0, "SELECT count(*) FROM d.t") == [(1100,)],
                   what="the old leader to follow and query")
        assert _cn_counters(nodes, "scans") > scans
    finally:
        for node in nodes:
            node.stop()
