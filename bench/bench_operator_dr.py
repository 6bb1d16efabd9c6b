"""Disaster recovery through the operator, timed in the Kubernetes simulation (issue 13): the real
`cairn operator` against the in-memory API server, the pod runner playing the StatefulSet
controller and kubelet (tests/k8s/), one FE on moto's S3.

The cluster is deployed, loaded and snapshotted, then lost (its resource, processes and disks);
the resource comes back with `disasterRecovery` generation 1 and `snapshotPath`. The figure is the
wall time from the status first showing `todo` to it showing `done` (fe-0 restored and ready),
polled every 50 ms. The reference, measured in the same run, is the restore alone: a `cairn fe
--cluster_snapshot` process started by hand on the same snapshot, to its first answered query (what
bench_restore calls RTO). Their difference is what the operator and the simulated kubelet add.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymysql
import yaml

from bench.bench_compute import CREDENTIAL, S3_KEYS, _moto
from cairn.cn.local_nodes import free_port, is_listening

REPO = Path(__file__).resolve().parent.parent
NS = "default"
CR_PATH = f"/apis/starrocks.com/v1/namespaces/{NS}/starrocksclusters"
POLL_SECONDS = 0.05


def _simulation() -> tuple[Any, Any]:
    """The emulator and pod runner classes (they live with the tests, which share them)."""
    sys.path.insert(0, str(REPO / "tests"))
    from k8s.emulator import EmulatorThread
    from k8s.pod_runner import PodRunner
    return EmulatorThread, PodRunner


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(POLL_SECONDS)


def _fe_conf(endpoint: str) -> str:
    return (f"run_mode = shared_data\nenable_load_volume_from_conf = true\naws_s3_path = bench/data\n"
            f"aws_s3_endpoint = {endpoint}\naws_s3_region = {S3_KEYS['aws_s3_region']}\n"
            f"aws_s3_access_key = {S3_KEYS['aws_s3_access_key']}\naws_s3_secret_key = {S3_KEYS['aws_s3_secret_key']}\n"
            "sys_log_level = WARNING\n")


def _cluster(dr: dict[str, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "cairn": {"clusterCredentialSecret": {"name": "sr-secrets"}, "catalogKeySecret": {"name": "sr-secrets"}},
        "starRocksFeSpec": {"image": "cairn", "replicas": 1,
                            "configMapInfo": {"configMapName": "sr-fe-cm", "resolveKey": "fe.conf"},
                            "storageVolumes": [{"name": "fe-meta", "storageSize": "1Gi",
                                                "mountPath": "/opt/starrocks/fe/meta"}]}}
    if dr is not None:
        spec["disasterRecovery"] = dr
    return {"apiVersion": "starrocks.com/v1", "kind": "StarRocksCluster", "metadata": {"name": "sr"}, "spec": spec}


def _sql(host: str, port: int, *statements: str) -> list[tuple[Any, ...]]:
    connection = pymysql.connect(host=host, port=port, user="root", autocommit=True, read_timeout=60)
    rows: list[tuple[Any, ...]] = []
    with connection, connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
            rows = list(cursor.fetchall())
    return rows


def _restore_alone(root: Path, endpoint: str, snapshot_path: str, catalog_key: str) -> float:
    """Seconds from starting `cairn fe --cluster_snapshot` on the snapshot to its first answered query."""
    query_port, http_port, edit_log_port = free_port(), free_port(), free_port()
    conf = root / "fe.conf"
    conf.write_text(_fe_conf(endpoint) + f"meta_dir = {root / 'meta'}\nquery_port = {query_port}\n"
                    f"http_port = {http_port}\nedit_log_port = {edit_log_port}\n")
    # Only this FE in the membership: it leads the restored cluster alone, as fe-0 does in the simulation.
    (root / "cluster_snapshot.yaml").write_text(f"cluster_snapshot:\n  cluster_snapshot_path: {snapshot_path}\nfrontends: []\n")
    env = {**os.environ, "CAIRN_CLUSTER_CREDENTIAL": CREDENTIAL, "CAIRN_CATALOG_ENCRYPTION_KEY": catalog_key}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "cairn.cli.main", "fe", "--conf", str(conf), "--cluster_snapshot"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait(lambda: is_listening(query_port), 120, "the restored FE to listen")
        while True:
            try:
                rows = _sql("127.0.0.1", query_port, "SELECT count(*) FROM b.t")
                break
            except pymysql.MySQLError:
                time.sleep(POLL_SECONDS)
        elapsed = time.perf_counter() - started
        assert rows == [(3,)], rows
    finally:
        server.terminate()
        server.wait(timeout=30)
    return elapsed


def run() -> dict[str, Any]:
    """DR wall time todo → done through the operator, and the restore alone, in seconds."""
    emulator_thread, pod_runner = _simulation()
    endpoint, moto = _moto()
    catalog_key = base64.b64encode(os.urandom(32)).decode()
    with tempfile.TemporaryDirectory() as scratch, emulator_thread() as api, \
            pod_runner(api, Path(scratch) / "k8s") as runner:
        root = Path(scratch)

        def post(path: str, body: dict[str, Any]) -> None:
            status, answer = api.request("POST", path, body)
            if status not in (200, 201):
                raise RuntimeError(f"POST {path}: {status} {answer}")

        crd = yaml.safe_load((REPO / "deploy/crd/starrocks.com_starrocksclusters.yaml").read_text(encoding="utf-8"))
        post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        operator = subprocess.Popen([sys.executable, "-m", "cairn.cli.main", "operator", "--api-server", api.url,
                                     "--interval", "1"], stdout=(root / "operator.log").open("w"),
                                    stderr=subprocess.STDOUT, env=env)
        try:
            post(f"/api/v1/namespaces/{NS}/secrets", {"metadata": {"name": "sr-secrets"}, "stringData": {
                "cluster-credential": CREDENTIAL, "catalog-key": catalog_key}})
            post(f"/api/v1/namespaces/{NS}/configmaps",
                 {"metadata": {"name": "sr-fe-cm"}, "data": {"fe.conf": _fe_conf(endpoint)}})
            post(CR_PATH, _cluster(None))

            def status() -> dict[str, Any]:
                return (api.get("starrocks.com/v1/starrocksclusters", NS, "sr") or {}).get("status") or {}

            _wait(lambda: status().get("phase") == "running", 240, "the cluster running")
            fe0 = runner.ip("sr-fe-0")
            _sql(fe0, 9030, "CREATE DATABASE b", "CREATE TABLE b.t (k INT) DISTRIBUTED BY HASH(k)",
                 "INSERT INTO b.t VALUES (1), (2), (3)", "ADMIN CREATE CLUSTER SNAPSHOT bench")
            path = _sql(fe0, 9030, "SELECT STORAGE_PATH FROM INFORMATION_SCHEMA.CLUSTER_SNAPSHOTS")[0][0]
            snapshot_path = path.split("/meta/")[0] + "/meta"  # the newest complete snapshot under it

            code, _ = api.request("DELETE", f"{CR_PATH}/sr")
            assert code == 200
            _wait(lambda: not api.items("v1/pods", NS) and not runner.pods, 120, "every pod gone")
            runner.lose_everything()

            post(CR_PATH, _cluster({"enabled": True, "generation": 1, "snapshotPath": snapshot_path}))
            seen: dict[str, float] = {}
            deadline = time.monotonic() + 240
            while "done" not in seen and time.monotonic() < deadline:
                phase = (status().get("disasterRecoveryStatus") or {}).get("phase")
                if phase and phase not in seen:
                    seen[phase] = time.monotonic()
                time.sleep(POLL_SECONDS)
            if "done" not in seen or "todo" not in seen:
                raise RuntimeError(f"disaster recovery did not go todo → done: {seen}\n{status()}")
            dr = status()["disasterRecoveryStatus"]
            wall = seen["done"] - seen["todo"]
            rows = _sql(runner.ip("sr-fe-0"), 9030, "SELECT count(*) FROM b.t")
            assert rows == [(3,)], rows
        finally:
            operator.terminate()
            operator.wait(timeout=30)
            runner.stop()
        alone = _restore_alone(root, endpoint, snapshot_path, catalog_key)
    moto.terminate()
    moto.wait(timeout=30)
    return {"dr_todo_to_done_seconds": wall, "dr_todo_to_doing_seconds": seen.get("doing", seen["done"]) - seen["todo"],
            "restore_own_seconds": dr.get("restoreDurationSeconds"), "restore_alone_seconds": alone,
            "ratio": wall / alone, "added_seconds": wall - alone}
