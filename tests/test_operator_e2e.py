"""End to end: the real `cairn operator` process against the Kubernetes emulator, with the pod
runner playing the StatefulSet controller and the kubelet (tests/k8s/). The seed's whole flow:
deploy 3 FEs and 1 CN on S3, load the seed's data, take a snapshot, lose everything, apply the DR
spec (generation 1): todo → doing → done, the other FEs and the CN come up, the data is back. Then
disaster recovery into the existing cluster by raising the generation, with none of the seed's
manual steps: no PVC deleted, no CN cache cleaned, no fe-1/fe-2 metadata cleaned, no snapshot
folder chosen (the path ends in /meta: the newest complete snapshot), this time from
`snapshotPath` with the volume's keys (cluster_snapshot.yaml in a Secret, no ConfigMap holds them).
Then the compute nodes and the FEs scale out and in, each leaving node dropped before its pod goes.
fe.conf and cn.conf set no meta_dir or storage_root_path: the operator puts them on the volumes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import yaml

from cairn.operator.status import REASON_DONE, REASON_IN_PROGRESS, REASON_TODO
from conftest import CLUSTER_CREDENTIAL, S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, free_port, make_bucket, wait_until
from k8s.emulator import EmulatorThread
from k8s.pod_runner import PodRunner
from seed import SEED_ROWS, run_seed

NS = "default"
CR_PATH = f"/apis/starrocks.com/v1/namespaces/{NS}/starrocksclusters"
REPO = Path(__file__).resolve().parent.parent
MERGE = "application/merge-patch+json"
# About a minute on a quiet 2-core machine, several on a loaded one (every reconcile and every pod
# round goes through the in-memory API). Part of the suite; CAIRN_K8S_E2E=0 leaves it out of a local run.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200),
              pytest.mark.skipif(os.environ.get("CAIRN_K8S_E2E", "1") == "0", reason="CAIRN_K8S_E2E=0")]


@pytest.fixture
def k8s(tmp_path: Path) -> Iterator[tuple[EmulatorThread, PodRunner, Path]]:
    with EmulatorThread() as api, PodRunner(api, tmp_path / "k8s") as runner:
        with open(REPO / "deploy/crd/starrocks.com_starrocksclusters.yaml", encoding="utf-8") as file:
            crd = yaml.safe_load(file)
        _post(api, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        log = tmp_path / "operator.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        operator = subprocess.Popen(
            [sys.executable, "-m", "cairn.cli.main", "operator", "--api-server", api.url, "--interval", "1",
             "--metrics-host", "127.0.0.1", "--metrics-port", str(free_port()),
             "--ignored-fields", str(REPO / "deploy/crd/ignored-fields.txt")],
            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
        try:
            yield api, runner, log
        finally:
            operator.terminate()
            try:
                operator.wait(timeout=30)
            except subprocess.TimeoutExpired:
                operator.kill()
                operator.wait()
            runner.stop()


def _post(api: EmulatorThread, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = api.request("POST", path, body)
    assert status in (200, 201), answer
    return answer


def _cluster_objects(api: EmulatorThread, bucket: str, endpoint: str) -> None:
    """The seed overlay's Secret and ConfigMaps, on moto S3."""
    _post(api, f"/api/v1/namespaces/{NS}/secrets", {"metadata": {"name": "sr-secrets"}, "stringData": {
        "cluster-credential": CLUSTER_CREDENTIAL,
        "catalog-key": base64.b64encode(os.urandom(32)).decode()}})
    # No meta_dir nor storage_root_path: the operator puts them on the fe-meta and cn-cache volumes.
    fe_conf = (f"run_mode = shared_data\ncloud_native_storage_type = S3\n"
               f"enable_load_volume_from_conf = true\naws_s3_path = {bucket}/data\naws_s3_region = {S3_REGION}\n"
               f"aws_s3_endpoint = {endpoint}\naws_s3_access_key = {S3_ACCESS_KEY}\n"
               f"aws_s3_secret_key = {S3_SECRET_KEY}\nbdbje_heartbeat_timeout_second = 3\n"
               "heartbeat_interval_second = 0.5\n")
    _post(api, f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "sr-fe-cm"}, "data": {"fe.conf": fe_conf}})
    _post(api, f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "sr-cn-cm"}, "data": {
        "cn.conf": "sys_log_level = INFO\n"}})


def _cluster(dr: dict[str, Any] | None = None) -> dict[str, Any]:
    fe: dict[str, Any] = {
        "image": "cairn:dev", "replicas": 3, "configMapInfo": {"configMapName": "sr-fe-cm", "resolveKey": "fe.conf"},
        "storageVolumes": [{"name": "fe-meta", "storageSize": "1Gi", "mountPath": "/opt/starrocks/fe/meta"}]}
    spec: dict[str, Any] = {
        "cairn": {"clusterCredentialSecret": {"name": "sr-secrets", "key": "cluster-credential"},
                  "catalogKeySecret": {"name": "sr-secrets", "key": "catalog-key"}},
        "starRocksFeSpec": fe,
        "starRocksCnSpec": {"image": "cairn:dev", "replicas": 1,
                            "configMapInfo": {"configMapName": "sr-cn-cm", "resolveKey": "cn.conf"},
                            "storageVolumes": [{"name": "cn-cache", "storageSize": "1Gi",
                                                "mountPath": "/opt/starrocks/cn/storage"}]}}
    if dr is not None:
        spec["disasterRecovery"] = dr
        fe["configMaps"] = [{"name": "cluster-snapshot", "mountPath": "/opt/starrocks/fe/conf/cluster_snapshot.yaml",
                             "subPath": "cluster_snapshot.yaml"}]
    return {"apiVersion": "starrocks.com/v1", "kind": "StarRocksCluster", "metadata": {"name": "sr"}, "spec": spec}


def _status(api: EmulatorThread) -> dict[str, Any]:
    return (api.get("starrocks.com/v1/starrocksclusters", NS, "sr") or {}).get("status") or {}


def _running(api: EmulatorThread, fes: int = 3, cns: int = 1) -> bool:
    status = _status(api)
    fe, cn = status.get("starRocksFeStatus") or {}, status.get("starRocksCnStatus") or {}
    return status.get("phase") == "running" and len(fe.get("runningInstances") or []) == fes \
        and len(cn.get("runningInstances") or []) == cns


def _sql(host: str, *statements: str) -> list[tuple]:
    connection = pymysql.connect(host=host, port=9030, user="root", autocommit=True, read_timeout=60)
    rows: list[tuple] = []
    with connection, connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
            rows = list(cursor.fetchall())
    return rows


def _sql_or_none(host: str, statement: str) -> list[tuple] | None:
    try:
        return _sql(host, statement)
    except pymysql.MySQLError:
        return None


def _dr_events(api: EmulatorThread) -> list[str]:
    events = [e for e in api.items("v1/events", NS) if e.get("reason", "").startswith("DisasterRecovery")]
    events.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [e["message"] for e in events]


def _dr_phases(api: EmulatorThread, generation: int) -> list[tuple[str, str]]:
    """Each (phase, reason) `disasterRecoveryStatus` went through for `generation`, in the order the
    API server stored them (every version of the resource, not what a poll happened to catch)."""
    phases: list[tuple[str, str]] = []
    for version in api.history("starrocks.com/v1/starrocksclusters", NS, "sr"):
        dr = (version.get("status") or {}).get("disasterRecoveryStatus") or {}
        if dr.get("observedGeneration") == generation and (not phases or phases[-1] != (dr["phase"], dr.get("reason", ""))):
            phases.append((dr["phase"], dr.get("reason", "")))
    return phases


def _leftovers(api: EmulatorThread) -> list[dict[str, Any]]:
    return [*api.items("apps/v1/statefulsets", NS), *api.items("v1/pods", NS),
            *api.items("starrocks.com/v1/starrocksclusters", NS)]


def _diagnostics(api: EmulatorThread, runner: PodRunner, log: Path) -> str:
    objects = [(o["kind"], o["metadata"]["name"], o["metadata"].get("deletionTimestamp")) for o in _leftovers(api)]
    pods = "\n".join(f"--- {p}\n{runner.log(p)[-3000:]}" for p in sorted(runner.pods))
    return f"objects: {objects}\nstatus: {_status(api)}\noperator:\n{log.read_text()[-6000:]}\n{pods}"


def test_seed_flow_with_the_operator(k8s: tuple[EmulatorThread, PodRunner, Path], moto_endpoint: str) -> None:
    api, runner, log = k8s

    def wait(condition: Any, timeout: float, what: str) -> None:
        try:
            wait_until(condition, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_diagnostics(api, runner, log)}") from None

    bucket = make_bucket(moto_endpoint)
    _cluster_objects(api, bucket, moto_endpoint)

    # Deploy: 3 FEs (fe-1 and fe-2 join through fe-0) and a CN that registers itself.
    _post(api, CR_PATH, _cluster())
    wait(lambda: _running(api), 240, "the cluster running")
    fe0 = runner.ip("sr-fe-0")
    frontends = {r[1] for r in _sql(fe0, "SHOW FRONTENDS")}
    assert frontends == {"sr-fe-0.sr-fe-search", "sr-fe-1.sr-fe-search", "sr-fe-2.sr-fe-search"}
    # meta_dir and the CN's cache are on their PersistentVolumeClaims (fe.conf and cn.conf set neither).
    for claim in ("fe-meta-sr-fe-0", "fe-meta-sr-fe-1", "fe-meta-sr-fe-2", "cn-cache-sr-cn-0"):
        assert (runner.root / "pvc" / claim).is_dir() and any((runner.root / "pvc" / claim).iterdir()), claim
    wait(lambda: [(r[1], r[8]) for r in _sql(fe0, "SHOW COMPUTE NODES")] == [("sr-cn-0.sr-cn-search", "true")],
               60, "the CN registered and alive")

    # The seed's data, and a snapshot of it.
    connection = pymysql.connect(host=fe0, port=9030, user="root", autocommit=True)
    with connection, connection.cursor() as cursor:
        run_seed(cursor)
        cursor.execute("ADMIN CREATE CLUSTER SNAPSHOT seed_snapshot")
        cursor.execute("SELECT FE_JOURNAL_ID FROM INFORMATION_SCHEMA.CLUSTER_SNAPSHOTS")
        (journal_id,) = cursor.fetchone()
    cluster_id = (_sql(fe0, "SELECT STORAGE_PATH FROM INFORMATION_SCHEMA.CLUSTER_SNAPSHOTS")[0][0]
                  .split("/meta/")[0].rsplit("/", 1)[1])

    # Lose everything: the cluster's objects, every process, every disk. The data stays on S3.
    status, _ = api.request("DELETE", f"{CR_PATH}/sr")
    assert status == 200
    wait(lambda: not api.items("v1/pods", NS) and not runner.pods, 120, "every pod gone")
    runner.lose_everything()

    # Apply the DR overlay: the seed's cluster_snapshot.yaml ConfigMap and disasterRecovery generation 1.
    snapshot_yaml = (f"cluster_snapshot:\n  cluster_snapshot_path: s3://{bucket}/data/{cluster_id}/meta\n"
                     "  storage_volume_name: builtin_storage_volume\n")
    _post(api, f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "cluster-snapshot"},
                                                       "data": {"cluster_snapshot.yaml": snapshot_yaml}})
    _post(api, CR_PATH, _cluster({"enabled": True, "generation": 1}))
    wait(lambda: (_status(api).get("disasterRecoveryStatus") or {}).get("phase") == "done", 240,
               "disaster recovery done", )
    assert _dr_phases(api, 1) == [("todo", REASON_TODO), ("doing", REASON_IN_PROGRESS), ("done", REASON_DONE)]
    assert _dr_events(api)[:3] == [
        f"disaster recovery generation 1: todo: {REASON_TODO}",
        "disaster recovery generation 1: doing: disaster recovery is in progress",
        "disaster recovery generation 1: done: disaster recovery is done"
        f" (snapshot seed_snapshot, journal id {journal_id}, restored in "
        f"{_status(api)['disasterRecoveryStatus']['restoreDurationSeconds']:.1f} s)"]
    dr = _status(api)["disasterRecoveryStatus"]
    assert dr["observedGeneration"] == 1 and dr["snapshotName"] == "seed_snapshot" and dr["journalId"] == journal_id
    assert dr["startTimestamp"] <= dr["endTimestamp"]
    print(f"\nDR generation 1: todo -> done in {dr['endTimestamp'] - dr['startTimestamp']} s (whole seconds), "
          f"the restore itself {dr['restoreDurationSeconds']:.2f} s")
    # Then the other FEs and the CN come up, and the data is back, read through a follower.
    wait(lambda: _running(api), 240, "the recovered cluster running")
    fe1 = runner.ip("sr-fe-1")
    wait(lambda: sorted(_sql_or_none(fe1, "SELECT * FROM quickstart.source_wiki_edit") or []) == SEED_ROWS, 60,
               "the seed's rows through fe-1")

    # DR into the existing cluster: rows written after the snapshot, then generation 2. PVCs, CN
    # cache and fe-1/fe-2 metadata are left as they are. This time from snapshotPath, with the
    # volume's keys: the operator writes cluster_snapshot.yaml into a Secret, never a ConfigMap.
    wait(lambda: _sql_or_none(fe0, "INSERT INTO quickstart.source_wiki_edit VALUES "
                              "('2015-09-12 09:00:00','#fr.wikipedia','late',0,0,0,0,0,1,1,0)") is not None,
         60, "a row written after the snapshot")
    changed = time.monotonic()
    volume = {"name": "builtin_storage_volume", "type": "S3", "location": f"s3://{bucket}/data", "properties": [
        {"key": "aws.s3.region", "value": S3_REGION}, {"key": "aws.s3.endpoint", "value": moto_endpoint},
        {"key": "aws.s3.access_key", "value": S3_ACCESS_KEY}, {"key": "aws.s3.secret_key", "value": S3_SECRET_KEY}]}
    status, answer = api.request("PATCH", f"{CR_PATH}/sr", {"spec": {
        "disasterRecovery": {"generation": 2, "snapshotPath": f"s3://{bucket}/data/{cluster_id}/meta",
                             "storageVolumes": [volume]},
        "starRocksFeSpec": {"configMaps": None}}}, MERGE)
    assert status == 200, answer
    wait(lambda: ((api.get("apps/v1/statefulsets", NS, "sr-fe") or {}).get("spec", {}).get("template", {})
                  .get("metadata", {}).get("labels", {}).get("cairn.io/disaster-recovery-generation")) == "2",
         120, "the restore-mode StatefulSet of generation 2 applied")
    print(f"spec change -> applied StatefulSet: {time.monotonic() - changed:.1f} s")
    wait(lambda: (_status(api).get("disasterRecoveryStatus") or {}).get("observedGeneration") == 2
               and _status(api)["disasterRecoveryStatus"]["phase"] == "done", 240,
               "disaster recovery generation 2 done")
    wait(lambda: _running(api), 240, "the cluster running again")
    for pod in ("sr-fe-0", "sr-fe-1", "sr-fe-2"):
        ip = runner.ip(pod)
        wait(lambda: sorted(_sql_or_none(ip, "SELECT * FROM quickstart.source_wiki_edit") or []) == SEED_ROWS, 60,
                   f"the snapshot's rows, and only them, through {pod}")
    assert {r[1] for r in _sql(fe0, "SHOW FRONTENDS")} == frontends
    assert [e for e in _dr_events(api) if "generation 2" in e][-1].startswith(
        "disaster recovery generation 2: done: disaster recovery is done")
    assert _dr_phases(api, 2) == [("todo", REASON_TODO), ("doing", REASON_IN_PROGRESS), ("done", REASON_DONE)]
    written = api.get("v1/secrets", NS, "sr-cluster-snapshot")
    assert written is not None and S3_SECRET_KEY in base64.b64decode(written["data"]["cluster_snapshot.yaml"]).decode()
    assert api.get("v1/configmaps", NS, "sr-cluster-snapshot") is None
    # Only the user's own fe.conf ConfigMap holds keys (as the seed's does); nothing the operator made.
    others = [m for m in api.items("v1/configmaps", NS) if m["metadata"]["name"] != "sr-fe-cm"]
    assert others and not any(key in json.dumps(m) for m in others for key in (S3_ACCESS_KEY, S3_SECRET_KEY))

    # Scale the compute nodes out and in: a new node registers itself; a leaving one is dropped
    # before its pod goes, and queries keep working.
    def compute_nodes() -> dict[str, str]:
        return {r[1]: str(r[8]) for r in _sql_or_none(fe0, "SHOW COMPUTE NODES") or []}

    api.request("PATCH", f"{CR_PATH}/sr", {"spec": {"starRocksCnSpec": {"replicas": 2}}}, MERGE)
    wait(lambda: compute_nodes() == {"sr-cn-0.sr-cn-search": "true", "sr-cn-1.sr-cn-search": "true"}, 120,
         "two compute nodes registered and alive")
    api.request("PATCH", f"{CR_PATH}/sr", {"spec": {"starRocksCnSpec": {"replicas": 1}}}, MERGE)
    wait(lambda: compute_nodes() == {"sr-cn-0.sr-cn-search": "true"} and "sr-cn-1" not in runner.pods, 120,
         "sr-cn-1 dropped and its pod gone")
    assert sorted(_sql(fe0, "SELECT * FROM quickstart.source_wiki_edit")) == SEED_ROWS

    # Scale the FEs in: sr-fe-2 is dropped from the membership before its pod goes.
    api.request("PATCH", f"{CR_PATH}/sr", {"spec": {"starRocksFeSpec": {"replicas": 2}}}, MERGE)
    wait(lambda: {r[1] for r in _sql_or_none(fe0, "SHOW FRONTENDS") or []} == frontends - {"sr-fe-2.sr-fe-search"}
         and "sr-fe-2" not in runner.pods, 120, "sr-fe-2 dropped and its pod gone")
    wait(lambda: _running(api, fes=2), 120, "the cluster running on two FEs")
    # Its claim goes with it (its meta names a cluster it left).
    wait(lambda: not (runner.root / "pvc" / "fe-meta-sr-fe-2").exists(), 30, "sr-fe-2's claim deleted")
    _sql(fe0, "INSERT INTO quickstart.source_wiki_edit VALUES "
              "('2015-09-12 10:00:00','#fr.wikipedia','two',0,0,0,0,0,1,1,0)")
    fe1 = runner.ip("sr-fe-1")
    wait(lambda: len(_sql_or_none(fe1, "SELECT * FROM quickstart.source_wiki_edit") or []) == len(SEED_ROWS) + 1,
         60, "a row written on two FEs read through fe-1")
    # Out again: sr-fe-2 starts on a new disk and joins as a follower.
    api.request("PATCH", f"{CR_PATH}/sr", {"spec": {"starRocksFeSpec": {"replicas": 3}}}, MERGE)
    wait(lambda: {r[1] for r in _sql_or_none(fe0, "SHOW FRONTENDS") or []} == frontends and _running(api), 180,
         "sr-fe-2 a member again and the cluster running on three FEs")
    fe2 = runner.ip("sr-fe-2")
    wait(lambda: len(_sql_or_none(fe2, "SELECT * FROM quickstart.source_wiki_edit") or []) == len(SEED_ROWS) + 1,
         60, "every row read through the new sr-fe-2")
    assert runner.errors == []
