"""FE high availability with real processes: FEs join with --helper, followers serve reads and
forward writes, and a follower takes over when the leader is killed."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from conftest import free_port, wait_until
from fe_cluster import FeCluster
from fe_process import CAIRN


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FeCluster]:
    fes = FeCluster(tmp_path, {"local_storage_path": str(tmp_path / "storage"), "bdbje_heartbeat_timeout_second": "3"})
    yield fes
    fes.stop()


def test_followers_join_serve_reads_forward_writes_and_take_over(cluster: FeCluster) -> None:
    first = cluster.new_fe()
    cluster.start(first)
    follower = cluster.add(first)
    observer = cluster.add(follower, "OBSERVER")  # added through a follower: forwarded to the leader
    for fe in (first, follower, observer):
        wait_until(lambda fe=fe: all(r["Alive"] == "true" for r in cluster.frontends(fe).values())
                   and len(cluster.frontends(fe)) == 3, what="every FE to see three live members")
    roles = {a: r["Role"] for a, r in cluster.frontends(observer).items()}
    assert roles == {first.address: "LEADER", follower.address: "FOLLOWER", observer.address: "OBSERVER"}

    # A write on a follower is forwarded; the same session reads it at once.
    connection = cluster.connect(follower)
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE ha")
        cursor.execute("CREATE TABLE ha.t (k INT, v VARCHAR(10)) DISTRIBUTED BY HASH(k) BUCKETS 2")
        cursor.execute("INSERT INTO ha.t VALUES (1, 'one'), (2, 'two')")
        assert cursor.rowcount == 2
        cursor.execute("SELECT count(*) FROM ha.t")
        assert cursor.fetchall() == ((2,),)
    connection.close()
    wait_until(lambda: cluster.sql_or_none(observer, "SELECT count(*) FROM ha.t") == [(2,)],
               what="the observer to replay")

    cluster.kill(first)
    # Sent while no FE leads, a write waits for a leader: here the follower it was sent to takes the
    # lead meanwhile, and runs it itself.
    cluster.sql(follower, "INSERT INTO ha.t VALUES (3, 'three')")
    leader = cluster.leader(among=[follower, observer])
    assert leader is follower, "an observer never leads"
    cluster.sql(observer, "INSERT INTO ha.t VALUES (4, 'four')")  # forwarded to the new leader
    assert cluster.sql(observer, "SELECT count(*) FROM ha.t") == [(4,)]

    # The old leader comes back with its meta_dir: it follows the new one.
    cluster.start(first)
    wait_until(lambda: cluster.frontends(first).get(first.address, {}).get("Role") == "FOLLOWER",
               what="the old leader to follow")
    assert cluster.sql(first, "SELECT k FROM ha.t ORDER BY k") == [(1,), (2,), (3,), (4,)]


def _start_refused(cluster: FeCluster, helper: str, tmp_path: Path) -> str:
    fe = cluster.new_fe()
    conf = fe.workdir / "fe.conf"
    conf.write_text("".join(f"{k} = {v}\n" for k, v in {
        **cluster.values, "meta_dir": str(fe.workdir / "meta"), "edit_log_port": str(fe.edit_log_port),
        "query_port": str(free_port()), "http_port": str(free_port()), "rpc_port": str(free_port())}.items()))
    done = subprocess.run([*CAIRN, "fe", "--conf", str(conf), "--helper", helper], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert not (fe.workdir / "meta" / "cluster.json").exists(), "a refused FE writes nothing"
    return " ".join(done.stderr.split())  # the CLI wraps its error line


def test_an_fe_nobody_added_or_with_a_bad_helper_is_refused(cluster: FeCluster, tmp_path: Path) -> None:
    first = cluster.new_fe()
    cluster.start(first)
    refused = _start_refused(cluster, first.address, tmp_path)
    assert "has not been added to cluster" in refused and "ALTER SYSTEM ADD FOLLOWER" in refused
    nothing = _start_refused(cluster, f"127.0.0.1:{free_port()}", tmp_path)
    assert "Cannot join through --helper" in nothing
    other = FeCluster(tmp_path / "other", {"local_storage_path": str(tmp_path / "other-storage")})
    try:
        stranger = other.new_fe()
        other.start(stranger)
        foreign = _start_refused(cluster, stranger.address, tmp_path)
        assert "Cannot join through --helper" in foreign
    finally:
        other.stop()
    with pytest.raises(pymysql.MySQLError, match="already exists"):
        cluster.sql(first, f'ALTER SYSTEM ADD FOLLOWER "{first.address}"')
    with pytest.raises(pymysql.MySQLError, match="can not drop current master node"):
        cluster.sql(first, f'ALTER SYSTEM DROP FOLLOWER "{first.address}"')


def test_a_second_fe_under_a_running_fes_name_is_refused(cluster: FeCluster, tmp_path: Path) -> None:
    first = cluster.new_fe()
    cluster.start(first)
    twin = cluster.new_fe()
    twin.edit_log_port = first.edit_log_port  # the same host:edit_log_port: the same member, by name
    conf = twin.workdir / "fe.conf"
    conf.write_text("".join(f"{k} = {v}\n" for k, v in {
        **cluster.values, "meta_dir": str(twin.workdir / "meta"), "edit_log_port": str(first.edit_log_port),
        "query_port": str(free_port()), "http_port": str(free_port()), "rpc_port": str(free_port())}.items()))
    done = subprocess.run([*CAIRN, "fe", "--conf", str(conf), "--helper", first.address], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
    # On one machine the port says it first; across machines the running FE's heartbeat answer does.
    said = " ".join(done.stderr.split())
    assert "already runs as" in said or "(edit_log_port): Address already in use" in said, said
    assert cluster.sql(first, "SELECT 1") == [(1,)]  # the running FE is untouched


def test_an_observer_never_leads_and_a_dropped_follower_stops_serving(cluster: FeCluster) -> None:
    first = cluster.new_fe()
    cluster.start(first)
    follower = cluster.add(first)
    observer = cluster.add(first, "OBSERVER")
    wait_until(lambda: len(cluster.frontends(observer)) == 3
               and all(r["Alive"] == "true" for r in cluster.frontends(observer).values()),
               what="the observer to see three live members")

    cluster.sql(first, f'ALTER SYSTEM DROP FOLLOWER "{follower.address}"')
    wait_until(lambda: cluster.sql_or_none(follower, "SELECT 1") is None, what="the dropped follower to stop serving")
    with pytest.raises(pymysql.MySQLError, match="not a member"):
        cluster.sql(follower, "SELECT 1")
    cluster.kill(follower)

    cluster.kill(first)
    # Its only peer gone, the observer waits for a leader until the forwarding deadline, and never takes the lead.
    with pytest.raises(pymysql.MySQLError, match="could not forward the statement to a leader"):
        cluster.sql(observer, "CREATE DATABASE never")
    assert cluster.frontends(observer)[observer.address]["Role"] == "OBSERVER"
    assert cluster.sql(observer, "SHOW DATABASES LIKE 'never'") == []
