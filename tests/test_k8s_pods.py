"""The pod runner (tests/k8s/pod_runner.py) on the emulator: StatefulSets become Pods and Pods
become real processes, each on its own loopback address with the standard ports.

First with a tiny HTTP container (ordering, scaling, rolling updates, env, mounted files, restarts),
then Cairn itself: an FE StatefulSet and a CN StatefulSet written by hand, with their conf from a
ConfigMap, the cluster credential from a Secret and their names from the runner's hosts map.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from conftest import CLUSTER_CREDENTIAL, wait_until
from k8s.emulator import EmulatorThread
from k8s.pod_runner import PodRunner, rewrite_paths

NS = "default"
STS = f"/apis/apps/v1/namespaces/{NS}/statefulsets"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[EmulatorThread, PodRunner]]:
    with EmulatorThread() as api, PodRunner(api, tmp_path / "k8s") as runner:
        yield api, runner
        assert runner.errors == []


def _post(api: EmulatorThread, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = api.request("POST", path, body)
    assert status == 200, answer
    return answer


def _sts_status(api: EmulatorThread, name: str) -> dict[str, Any]:
    sts = api.get("apps/v1/statefulsets", NS, name)
    return (sts or {}).get("status") or {}


def _pod(api: EmulatorThread, name: str) -> dict[str, Any] | None:
    return api.get("v1/pods", NS, name)


def _pod_names(api: EmulatorThread, app: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in api.items("v1/pods", NS)
                  if p["metadata"].get("labels", {}).get("app") == app)


# -- a tiny container: serves /ready on its pod IP, prints what it sees --------------------------------

PROBE_SERVER = """
import http.server, json, os, sys
from pathlib import Path
conf = Path(sys.argv[1])
print(json.dumps({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith("T_")},
                  "conf": conf.read_text(), "data": sorted(p.name for p in Path(sys.argv[2]).iterdir())}),
      flush=True)
(Path(sys.argv[2]) / os.environ["T_POD"]).write_text("was here")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ready" else 404); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer((os.environ["T_IP"], 8080), H).serve_forever()
"""


def _tiny_sts(name: str, replicas: int, version: str = "1", policy: str = "OrderedReady") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": {
        "replicas": replicas, "serviceName": f"{name}-search", "podManagementPolicy": policy,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}, "annotations": {"version": version}}, "spec": {
            "containers": [{
                "name": "main", "image": "tiny", "command": [sys.executable, "-c", PROBE_SERVER],
                "args": ["/etc/tiny/tiny.conf", "/data"], "ports": [{"name": "http", "containerPort": 8080}],
                "env": [{"name": "T_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "T_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {"name": "T_SECRET", "valueFrom": {"secretKeyRef": {"name": "tiny", "key": "token"}}},
                        {"name": "T_FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "tiny", "key": "level"}}},
                        {"name": "T_DIR", "value": "/data/$(T_POD)"}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1},
                "volumeMounts": [{"name": "conf", "mountPath": "/etc/tiny/tiny.conf", "subPath": "tiny.conf"},
                                 {"name": "data", "mountPath": "/data"},
                                 {"name": "scratch", "mountPath": "/tmp/scratch"}]}],
            "volumes": [{"name": "conf", "configMap": {"name": "tiny", "items": [
                {"key": "tiny.conf", "path": "tiny.conf"}]}}, {"name": "scratch", "emptyDir": {}}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}}


def _tiny_objects(api: EmulatorThread) -> None:
    _post(api, f"/api/v1/namespaces/{NS}/secrets", {"metadata": {"name": "tiny"}, "stringData": {"token": "s3cr3t"}})
    _post(api, f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "tiny"}, "data": {
        "level": "debug", "tiny.conf": "data_dir = /data/sub\nscratch = /tmp/scratch\nother = /datalake\n"}})


def _printed(runner: PodRunner, pod: str) -> dict[str, Any]:
    wait_until(lambda: runner.log(pod).strip(), 30, f"{pod} to start")
    return json.loads(runner.log(pod).splitlines()[0])


def test_statefulset_pods_start_in_order_with_env_and_mounts(cluster: tuple[EmulatorThread, PodRunner]) -> None:
    api, runner = cluster
    _tiny_objects(api)
    _post(api, STS, _tiny_sts("tiny", 2))
    wait_until(lambda: _sts_status(api, "tiny").get("readyReplicas") == 2, 60, "two ready pods")
    first, second = _pod(api, "tiny-0"), _pod(api, "tiny-1")
    assert first and second
    # Ordered: tiny-1 was created only after tiny-0 was Ready.
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    ready_at = next(c["lastTransitionTime"] for c in first["status"]["conditions"] if c["type"] == "Ready")
    assert second["metadata"]["creationTimestamp"] >= ready_at
    assert first["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "tiny-0"
    sts = api.get("apps/v1/statefulsets", NS, "tiny")
    assert sts and first["metadata"]["ownerReferences"][0]["uid"] == sts["metadata"]["uid"]
    ips = {runner.ip("tiny-0"), runner.ip("tiny-1")}
    assert len(ips) == 2 and all(ip.startswith("127.0.0.") for ip in ips)
    assert first["status"]["podIP"] == runner.ip("tiny-0")

    seen = _printed(runner, "tiny-0")
    fs = runner.root / "pods" / "tiny-0" / "fs"
    assert seen["env"] == {"T_POD": "tiny-0", "T_IP": runner.ip("tiny-0"), "T_SECRET": "s3cr3t",
                           "T_FROM_CM": "debug", "T_DIR": f"{fs}/data/tiny-0"}
    assert seen["argv"] == [f"{fs}/etc/tiny/tiny.conf", f"{fs}/data"]
    # Mount paths inside a mounted file are rewritten; a longer name that only starts alike is not.
    assert seen["conf"] == f"data_dir = {fs}/data/sub\nscratch = {fs}/tmp/scratch\nother = /datalake\n"
    # Names: each pod's own through CAIRN_HOSTS; the shared map holds nothing without Services.
    assert runner.hosts() == {}
    services = f"/api/v1/namespaces/{NS}/services"
    _post(api, services, {"metadata": {"name": "tiny-search"}, "spec": {
        "clusterIP": "None", "selector": {"app": "tiny"}, "ports": [{"port": 8080}]}})
    _post(api, services, {"metadata": {"name": "tiny"}, "spec": {"selector": {"app": "tiny"},
                                                                 "ports": [{"port": 8080}]}})
    wait_until(lambda: len(runner.hosts()) == 16, 30, "the Services' names published")
    hosts = runner.hosts()
    assert hosts["tiny-0.tiny-search"] == hosts["tiny-0.tiny-search.default.svc.cluster.local"] == runner.ip("tiny-0")
    assert hosts["tiny-1.tiny-search.default"] == runner.ip("tiny-1")
    assert hosts["tiny"] == hosts["tiny.default.svc.cluster.local"] == hosts["tiny-search"] == runner.ip("tiny-0")


def test_persistent_volumes_survive_restarts_until_the_disks_are_lost(
        cluster: tuple[EmulatorThread, PodRunner]) -> None:
    api, runner = cluster
    _tiny_objects(api)
    _post(api, STS, _tiny_sts("tiny", 1))
    wait_until(lambda: _sts_status(api, "tiny").get("readyReplicas") == 1, 60, "a ready pod")
    assert _printed(runner, "tiny-0")["data"] == []

    runner.kill("tiny-0")  # kill -9: the kubelet restarts the container, the volume stays
    wait_until(lambda: (_pod(api, "tiny-0") or {}).get("status", {}).get("containerStatuses", [{}])[0]
               .get("restartCount") == 1 and len(runner.log("tiny-0").splitlines()) == 2, 60,
               "the container restarted")
    assert json.loads(runner.log("tiny-0").splitlines()[1])["data"] == ["tiny-0"]

    runner.delete_pod("tiny-0")  # a new pod of the same name: the claim is kept
    wait_until(lambda: len(runner.log("tiny-0").splitlines()) >= 1 and (_pod(api, "tiny-0") or {}).get(
        "metadata", {}).get("uid") == runner.pods["tiny-0"].uid and _sts_status(api, "tiny").get(
        "readyReplicas") == 1, 60, "the pod made again")
    assert _printed(runner, "tiny-0")["data"] == ["tiny-0"]

    runner.lose_everything()
    wait_until(lambda: _sts_status(api, "tiny").get("readyReplicas") == 1 and runner.log("tiny-0").strip(), 60,
               "the pod back on an empty disk")
    assert _printed(runner, "tiny-0")["data"] == []


def test_scaling_and_rolling_updates(cluster: tuple[EmulatorThread, PodRunner]) -> None:
    api, runner = cluster
    _tiny_objects(api)
    _post(api, STS, _tiny_sts("tiny", 3, policy="Parallel"))
    wait_until(lambda: _sts_status(api, "tiny").get("readyReplicas") == 3, 60, "three ready pods")
    first = _sts_status(api, "tiny")["updateRevision"]
    since = str(api.emulator.resource_version)

    api.request("PATCH", f"{STS}/tiny", {"spec": {"template": {"metadata": {"annotations": {"version": "2"}}}}},
                "application/merge-patch+json")
    def rolled() -> bool:
        status = _sts_status(api, "tiny")
        return status.get("updateRevision") not in (None, first) and status.get("updatedReplicas") == 3 \
            and status.get("readyReplicas") == 3

    wait_until(rolled, 90, "every pod updated")
    status = _sts_status(api, "tiny")
    assert status["updateRevision"] != first and status["currentRevision"] == status["updateRevision"]
    # One at a time, highest ordinal first.
    _, text = api.request("GET", f"/api/v1/namespaces/{NS}/pods", params={
        "watch": "true", "resourceVersion": since, "timeoutSeconds": "1"})
    events = [json.loads(line) for line in text.splitlines()]
    changes = [(e["type"], e["object"]["metadata"]["name"]) for e in events if e["type"] != "MODIFIED"]
    assert changes == [("DELETED", "tiny-2"), ("ADDED", "tiny-2"), ("DELETED", "tiny-1"), ("ADDED", "tiny-1"),
                       ("DELETED", "tiny-0"), ("ADDED", "tiny-0")]
    assert {p["metadata"]["annotations"]["version"] for p in api.items("v1/pods", NS)} == {"2"}

    api.request("PATCH", f"{STS}/tiny", {"spec": {"replicas": 1}}, "application/merge-patch+json")
    wait_until(lambda: _pod_names(api, "tiny") == ["tiny-0"] and _sts_status(api, "tiny").get("replicas") == 1
               and set(runner.pods) == {"tiny-0"}, 60, "scaled in to tiny-0, the other processes stopped")


def test_crash_loops_and_missing_secrets(cluster: tuple[EmulatorThread, PodRunner]) -> None:
    api, runner = cluster
    pods = f"/api/v1/namespaces/{NS}/pods"
    _post(api, pods, {"metadata": {"name": "crasher"}, "spec": {"containers": [{
        "name": "main", "command": [sys.executable, "-c", "import sys; sys.exit(3)"]}]}})
    _post(api, pods, {"metadata": {"name": "waiter"}, "spec": {"containers": [{
        "name": "main", "command": [sys.executable, "-c", "import time; time.sleep(600)"],
        "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "later", "key": "k"}}}]}]}})

    def container(pod: str) -> dict[str, Any]:
        return (((_pod(api, pod) or {}).get("status") or {}).get("containerStatuses") or [{}])[0]

    wait_until(lambda: container("crasher").get("restartCount", 0) >= 2, 30, "the crashing container restarted")
    crashed = container("crasher")
    assert crashed["lastState"]["terminated"]["exitCode"] == 3 and not crashed["ready"]
    waiting = container("waiter")
    assert waiting["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    assert (_pod(api, "waiter") or {})["status"]["phase"] == "Pending"
    _post(api, f"/api/v1/namespaces/{NS}/secrets", {"metadata": {"name": "later"}, "stringData": {"k": "v"}})
    wait_until(lambda: container("waiter").get("ready") is True, 30, "the pod started once its Secret exists")
    assert (_pod(api, "waiter") or {})["status"]["phase"] == "Running"


def test_rewriting_mount_paths() -> None:
    mounts = {"/opt/sr/meta": Path("/r/fs/opt/sr/meta"), "/opt/sr": Path("/r/fs/opt/sr")}
    assert rewrite_paths("meta_dir = /opt/sr/meta\nlog = /opt/sr/log\nx=/opt/srx", mounts) == \
        "meta_dir = /r/fs/opt/sr/meta\nlog = /r/fs/opt/sr/log\nx=/opt/srx"
    assert rewrite_paths("--conf=/opt/sr/conf/fe.conf", mounts) == "--conf=/r/fs/opt/sr/conf/fe.conf"


# -- Cairn: one FE and one CN, by hand ----------------------------------------------------------------

def _service(name: str, app: str, headless: bool, ports: list[int], not_ready: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"app": app}, "ports": [{"name": f"p{p}", "port": p} for p in ports]}
    if headless:
        spec.update(clusterIP="None", publishNotReadyAddresses=not_ready)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def _cairn_sts(name: str, role: str, ports: list[int], health_port: int, data: str, args: list[str]) -> dict[str, Any]:
    conf_dir = f"/opt/starrocks/{role}/conf"
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": {
        "replicas": 1, "serviceName": f"{name}-search", "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{
            "name": role, "image": "cairn:dev", "command": ["cairn"],
            "args": [role, "--conf", f"{conf_dir}/{role}.conf", *args],
            "ports": [{"containerPort": p} for p in ports],
            "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "CAIRN_CLUSTER_CREDENTIAL", "valueFrom": {
                "secretKeyRef": {"name": "sr-credential", "key": "credential"}}}],
            "readinessProbe": {"httpGet": {"path": "/api/health", "port": health_port}, "periodSeconds": 5},
            "volumeMounts": [{"name": "conf", "mountPath": conf_dir}, {"name": "data", "mountPath": data}]}],
            "volumes": [{"name": "conf", "configMap": {"name": f"{name}-conf"}}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}}


def _sql(host: str, statement: str) -> list[tuple]:
    connection = pymysql.connect(host=host, port=9030, user="root", autocommit=True, read_timeout=60)
    with connection, connection.cursor() as cursor:
        cursor.execute(statement)
        return list(cursor.fetchall())


def test_an_fe_and_a_cn_run_as_pods(cluster: tuple[EmulatorThread, PodRunner], tmp_path: Path) -> None:
    api, runner = cluster
    _post(api, f"/api/v1/namespaces/{NS}/secrets", {"metadata": {"name": "sr-credential"},
                                                    "stringData": {"credential": CLUSTER_CREDENTIAL}})
    fast = "heartbeat_interval_second = 0.5\nheartbeat_retry_times = 1\n"
    _post(api, f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "sr-fe-conf"}, "data": {"fe.conf": (
        "meta_dir = /opt/starrocks/fe/meta\n"
        f"local_storage_path = {tmp_path / 'storage'}\n{fast}")}})
    _post(api, f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "sr-cn-conf"}, "data": {"cn.conf": (
        "storage_root_path = /opt/starrocks/cn/storage\n")}})
    for service in (_service("sr-fe-search", "sr-fe", True, [9010], not_ready=True),
                    _service("sr-fe-service", "sr-fe", False, [9030, 8030]),
                    _service("sr-cn-search", "sr-cn", True, [9050])):
        _post(api, f"/api/v1/namespaces/{NS}/services", service)
    # Each pod's own name from $(POD_NAME); the CN joins through the FE's Service name.
    _post(api, STS, _cairn_sts("sr-fe", "fe", [9010, 9020, 9030, 8030], 8030, "/opt/starrocks/fe/meta",
                               ["--frontend-address", "$(POD_NAME).sr-fe-search.default.svc.cluster.local"]))
    _post(api, STS, _cairn_sts("sr-cn", "cn", [9050, 9060, 8040, 8060], 8040, "/opt/starrocks/cn/storage",
                               ["--host", "$(POD_NAME).sr-cn-search", "--join", "sr-fe-service:9010"]))

    def ready(name: str) -> bool:
        return _sts_status(api, name).get("readyReplicas") == 1

    wait_until(lambda: ready("sr-fe") and ready("sr-cn"), 120,
               f"the FE and CN pods Ready\nFE: {runner.log('sr-fe-0')}\nCN: {runner.log('sr-cn-0')}")
    fe_ip, cn_ip = runner.ip("sr-fe-0"), runner.ip("sr-cn-0")
    assert fe_ip != cn_ip and (_pod(api, "sr-fe-0") or {})["status"]["podIP"] == fe_ip
    hosts = runner.hosts()
    assert hosts["sr-fe-0.sr-fe-search"] == hosts["sr-fe-service"] == fe_ip
    assert hosts["sr-cn-0.sr-cn-search.default.svc.cluster.local"] == cn_ip
    # A process outside the pods resolves the same names with the runner's env.
    resolved = subprocess.run([sys.executable, "-c", "from cairn.config.hosts import resolve_host; "
                               "print(resolve_host('sr-fe-service.default.svc'))"],
                              env={**os.environ, **runner.env()}, capture_output=True, text=True, check=True)
    assert resolved.stdout.strip() == fe_ip
    # Meta on the FE's persistent volume, through the rewritten meta_dir of the mounted fe.conf.
    assert any((runner.root / "pvc" / "data-sr-fe-0").iterdir())

    # The FE on its own address at the standard port; the CN registered itself and the FE reaches
    # it by its pod name.
    wait_until(lambda: [(r[1], r[8]) for r in _sql(fe_ip, "SHOW COMPUTE NODES")] == [("sr-cn-0.sr-cn-search", "true")],
               60, "the CN registered and alive")
    _sql(fe_ip, "CREATE DATABASE d")
    _sql(fe_ip, "CREATE TABLE d.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1")
    _sql(fe_ip, "INSERT INTO d.t VALUES (1), (2)")
    assert _sql(fe_ip, "SELECT count(*) FROM d.t") == [(2,)]

    # kill -9: the kubelet restarts the FE on the same address and volume; it comes back Ready.
    runner.kill("sr-fe-0", signal.SIGKILL)
    def restarted() -> bool:
        container = ((_pod(api, "sr-fe-0") or {}).get("status", {}).get("containerStatuses") or [{}])[0]
        return container.get("restartCount") == 1 and container.get("ready") is True

    wait_until(restarted, 120, "the FE restarted and Ready")
    assert _sql(fe_ip, "SELECT count(*) FROM d.t") == [(2,)]
