"""`cairn fe --helper <fe-0> --join` and `cairn cn --join <fe>`: how Kubernetes pods start. Every FE
gets the same arguments; the FE whose own address is the helper's opens the cluster, the others
have the leader add them as followers through the FE peer service, and compute nodes register
themselves with the cluster credential, with no SQL typed by a person."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.cn.registration import post_with_credential, register_once
from cairn.fe.peers import ComputeNodeJoinRequest, JoinRequest
from cn_process import start_cn
from conftest import CLUSTER_CREDENTIAL, free_port, wait_until, write_conf
from fe_cluster import ClusterFe, FeCluster
from fe_process import CAIRN


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FeCluster]:
    fes = FeCluster(tmp_path, {"local_storage_path": str(tmp_path / "storage"), "bdbje_heartbeat_timeout_second": "3",
                               "cluster_credential": CLUSTER_CREDENTIAL})
    yield fes
    fes.stop()


def _start_as_pod(cluster: FeCluster, fe: ClusterFe, helper: ClusterFe) -> None:
    cluster.start(fe, args=["--helper", helper.address, "--join"])


def _run_refused(cluster: FeCluster, fe: ClusterFe, helper: ClusterFe) -> str:
    """Start `fe` as a pod would and return the error it stops with (it must stop, not serve)."""
    conf = write_conf(fe.workdir / "fe.conf", {
        **cluster.values, "meta_dir": str(fe.workdir / "meta"), "edit_log_port": str(fe.edit_log_port),
        "query_port": str(free_port()), "http_port": str(free_port()), "rpc_port": str(free_port())})
    done = subprocess.run([*CAIRN, "fe", "--conf", str(conf), "--helper", helper.address, "--join"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0, done.stdout[-2000:]
    return " ".join(done.stderr.split())  # the CLI wraps its error line


def _members(cluster: FeCluster, fe: ClusterFe) -> set[str]:
    return set(cluster.frontends(fe))


def test_fes_started_alike_form_one_cluster_and_rejoin_after_a_drop(cluster: FeCluster) -> None:
    fe0, fe1, fe2 = cluster.new_fe(), cluster.new_fe(), cluster.new_fe()
    _start_as_pod(cluster, fe0, fe0)  # fe-0 is its own helper: it opens the cluster
    cluster.sql(fe0, "CREATE DATABASE d", "CREATE TABLE d.t (k INT) DISTRIBUTED BY HASH(k)", "INSERT INTO d.t VALUES (1)")
    _start_as_pod(cluster, fe1, fe0)
    _start_as_pod(cluster, fe2, fe0)
    everyone = {fe0.address, fe1.address, fe2.address}
    wait_until(lambda: _members(cluster, fe0) == everyone, what="fe-1 and fe-2 to be members")
    wait_until(lambda: cluster.sql_or_none(fe2, "SELECT k FROM d.t") == [(1,)], what="fe-2 to serve reads")
    roles = {a: r["Role"] for a, r in cluster.frontends(fe0).items()}
    assert roles == {fe0.address: "LEADER", fe1.address: "FOLLOWER", fe2.address: "FOLLOWER"}

    # A restarted follower (its disk kept) is already a member: nothing is added twice.
    cluster.kill(fe1)
    _start_as_pod(cluster, fe1, fe0)
    wait_until(lambda: cluster.sql_or_none(fe1, "SELECT k FROM d.t") == [(1,)], what="fe-1 to serve reads again")
    assert _members(cluster, fe0) == everyone

    # Dropped by an administrator, then started again with its old disk: it does not add itself back.
    cluster.kill(fe2)
    cluster.sql(fe0, f'ALTER SYSTEM DROP FOLLOWER "{fe2.address}"')
    assert _members(cluster, fe0) == {fe0.address, fe1.address}
    refused = _run_refused(cluster, fe2, fe0)
    assert f"This FE ({fe2.address}) is not a member of cluster" in refused and "--join does not add it back" in refused
    assert _members(cluster, fe0) == {fe0.address, fe1.address}

    # Its meta_dir emptied, it is a fresh FE: it joins again.
    shutil.rmtree(fe2.workdir / "meta")
    _start_as_pod(cluster, fe2, fe0)
    wait_until(lambda: _members(cluster, fe0) == everyone, what="fe-2 to be a member again")
    wait_until(lambda: cluster.sql_or_none(fe2, "SELECT k FROM d.t") == [(1,)], what="fe-2 to serve reads again")


def test_compute_nodes_register_themselves_through_any_fe(cluster: FeCluster, tmp_path: Path) -> None:
    fe0, fe1 = cluster.new_fe(), cluster.new_fe()
    _start_as_pod(cluster, fe0, fe0)
    _start_as_pod(cluster, fe1, fe0)
    wait_until(lambda: _members(cluster, fe0) == {fe0.address, fe1.address}, what="fe-1 to be a member")
    # Through a follower, which forwards the registration to the leader.
    node = start_cn(tmp_path, name="cn0", args=["--join", fe1.address])
    stranger = start_cn(tmp_path, {"cluster_credential": "x" * 40}, name="cn1", args=["--join", fe0.address])
    try:
        def alive() -> dict[str, str]:
            rows = cluster.sql(fe0, "SHOW COMPUTE NODES")
            return {f"{r[1]}:{r[2]}": str(r[8]) for r in rows}

        wait_until(lambda: alive().get(node.address) == "true", what="the compute node to be registered and alive")
        wait_until(lambda: "wrong value for the cluster credential" in stranger.log.read_text(),
                   what="the node with a wrong credential to be refused")
        assert stranger.address not in alive()
        # A restarted node is already registered: nothing is added twice.
        node.stop()
        node = start_cn(tmp_path, name="cn0b", args=["--join", fe0.address],
                        ports=(node.heartbeat_port, int(node.data_location.rsplit(":", 1)[1]), node.webserver_port))
        wait_until(lambda: "already registered" in node.log.read_text(), what="the restarted node to ask again")
        assert list(alive()).count(node.address) == 1
        # Dropped ahead of a scale-in, with the cluster credential (what the operator does), through a follower.
        request = ComputeNodeJoinRequest(host="127.0.0.1", heartbeat_service_port=node.heartbeat_port)
        with pytest.raises(ValueError, match="401"):
            register_once(fe1.address, request, "y" * 40, leave=True)
        assert register_once(fe1.address, request, CLUSTER_CREDENTIAL, leave=True).added
        wait_until(lambda: node.address not in alive(), what="the node dropped")
        assert not register_once(fe0.address, request, CLUSTER_CREDENTIAL, leave=True).added
    finally:
        node.stop()
        stranger.stop()


def test_an_fe_is_dropped_through_any_fe_with_the_credential_never_below_a_quorum(cluster: FeCluster) -> None:
    """What the Kubernetes operator does before an FE scale-in removes a pod: `POST /fe/leave`."""
    fe0, fe1, fe2 = cluster.new_fe(), cluster.new_fe(), cluster.new_fe()
    _start_as_pod(cluster, fe0, fe0)
    _start_as_pod(cluster, fe1, fe0)
    _start_as_pod(cluster, fe2, fe0)
    wait_until(lambda: _members(cluster, fe0) == {fe0.address, fe1.address, fe2.address}, what="three members")
    wait_until(lambda: all(r["Alive"] == "true" for r in cluster.frontends(fe0).values()), what="all alive")

    def leave(through: ClusterFe, fe: ClusterFe, credential: str = CLUSTER_CREDENTIAL) -> bool:
        host, _, port = fe.address.rpartition(":")
        return post_with_credential(through.address, "/fe/leave", JoinRequest(host=host, edit_log_port=int(port)),
                                    credential).added

    with pytest.raises(ValueError, match="HTTP 401"):
        leave(fe1, fe2, "y" * 40)
    with pytest.raises(ValueError, match="HTTP 409.*can not drop current master node"):
        leave(fe1, fe0)  # forwarded by a follower to the leader, which will not drop itself
    # fe-2 is down: dropping fe-1 would leave one of the two followers that stay alive, no quorum.
    cluster.kill(fe2)
    wait_until(lambda: cluster.frontends(fe0)[fe2.address]["Alive"] == "false", what="fe-2 seen down")
    with pytest.raises(ValueError, match="fewer than a quorum"):
        leave(fe1, fe1)
    assert _members(cluster, fe0) == {fe0.address, fe1.address, fe2.address}
    # Dropping the FE that is down leaves a quorum; SHOW FRONTENDS no longer lists it.
    assert leave(fe1, fe2)
    assert _members(cluster, fe0) == {fe0.address, fe1.address}
    assert not leave(fe0, fe2)  # already gone: nothing changes
    assert leave(fe0, fe1)
    assert _members(cluster, fe0) == {fe0.address}
    cluster.sql(fe0, "CREATE DATABASE after_the_drops")  # the leader alone still commits
