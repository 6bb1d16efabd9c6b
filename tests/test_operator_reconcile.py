"""The operator's reconcile decisions, as case tables: given a StarRocksCluster, its status and what
is observed, the next status, the Events and the objects (each validated against Kubernetes 1.30's
OpenAPI schemas, strict). Covers every branch of StarRocks' DR cases (fe_disaster_recovery.go), the
faults StarRocks users hit, and the operator restarted in every phase."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cairn.operator import names
from cairn.operator.objects import desired_objects
from cairn.operator.observed import Observed, ObservedPod, RestoreReport
from cairn.operator.reconcile import (
    ignored_field_events,
    next_status,
    parse_ignored_fields,
    transition_events,
)
from cairn.operator.spec import StarRocksCluster
from cairn.operator.status import (
    REASON_DONE,
    REASON_IN_PROGRESS,
    REASON_NOT_MOUNTED,
    REASON_PAUSED,
    REASON_TODO,
    ClusterStatus,
    DrPhase,
)
from conftest import S3_ACCESS_KEY, S3_SECRET_KEY

NOW = 1_739_860_263
FE_CONF = "http_port = 8030\nquery_port = 9030\nedit_log_port = 9010\nrun_mode = shared_data\n"
SNAPSHOT_YAML = "cluster_snapshot:\n  cluster_snapshot_path: s3://b/data/c1/meta\n"


def cluster(dr: dict[str, Any] | None = None, mount: bool = True, **spec: Any) -> dict[str, Any]:
    """The seed's cluster: 3 FEs, 1 CN, fe.conf from a ConfigMap, Secrets for the credential and the key."""
    fe: dict[str, Any] = {"image": "cairn:1", "replicas": 3,
                          "configMapInfo": {"configMapName": "fe-conf", "resolveKey": "fe.conf"}}
    if mount:
        fe["configMaps"] = [{"name": "cluster-snapshot", "subPath": "cluster_snapshot.yaml",
                             "mountPath": "/opt/starrocks/fe/conf/cluster_snapshot.yaml"}]
    body: dict[str, Any] = {
        "apiVersion": "starrocks.com/v1", "kind": "StarRocksCluster",
        "metadata": {"name": "sr", "namespace": "default", "uid": "uid-1", "generation": 1},
        "spec": {"starRocksFeSpec": fe, "starRocksCnSpec": {"image": "cairn:1", "replicas": 1},
                 "cairn": {"clusterCredentialSecret": {"name": "sr-cred", "key": "credential"},
                           "catalogKeySecret": {"name": "sr-key", "key": "key"}}, **spec},
    }
    if dr is not None:
        body["spec"]["disasterRecovery"] = dr
    return body


def world(*pods: ObservedPod, applied: int | None = None, config_maps: dict[str, dict[str, str]] | None = None,
          secrets: dict[str, list[str]] | None = None, report: RestoreReport | None = None) -> Observed:
    maps = {"fe-conf": {"fe.conf": FE_CONF}, "cluster-snapshot": {"cluster_snapshot.yaml": SNAPSHOT_YAML}}
    return Observed(now=NOW, pods=list(pods), config_maps=maps if config_maps is None else config_maps,
                    secrets={"sr-cred": ["credential"], "sr-key": ["key"]} if secrets is None else secrets,
                    statefulset_replicas={"sr-fe": 3, "sr-cn": 1},
                    statefulset_dr_generation={} if applied is None else {"sr-fe": applied},
                    restore_report=report)


def fe0(ready: bool = True, generation: int | None = None) -> ObservedPod:
    return ObservedPod(name="sr-fe-0", component="fe", ready=ready, phase="Running", dr_generation=generation)


def dr_status(phase: str, generation: int = 1, reason: str = "", start: int = NOW - 100) -> ClusterStatus:
    return ClusterStatus.model_validate({"disasterRecoveryStatus": {
        "phase": phase, "reason": reason, "observedGeneration": generation, "startTimestamp": start}})


def reconcile(body: dict[str, Any], status: ClusterStatus, observed: Observed) -> tuple[ClusterStatus, list[dict[str, Any]]]:
    cr = StarRocksCluster.from_body(body)
    after = next_status(cr, status, observed)
    objects = desired_objects(cr, after, observed)
    for obj in objects:
        validate(obj)
    return after, objects


_VALID: set[str] = set()


def validate(obj: dict[str, Any]) -> None:
    """Kubernetes 1.30's schema, strict (each distinct object once: loading the schemas is slow)."""
    key = json.dumps(obj, sort_keys=True)
    if key not in _VALID:
        kubernetes_validate.validate(copy.deepcopy(obj), "1.30", strict=True)
        _VALID.add(key)


def test_validation_catches_a_bad_object() -> None:
    _, objects = reconcile(cluster(), ClusterStatus(), world())
    bad = copy.deepcopy(find(objects, "StatefulSet", "sr-fe"))
    assert bad is not None
    bad["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(bad)


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    return next((o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name), None)


def fe_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    sts = find(objects, "StatefulSet", "sr-fe")
    assert sts is not None
    container: dict[str, Any] = sts["spec"]["template"]["spec"]["containers"][0]
    return container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def is_restore_mode(objects: list[dict[str, Any]]) -> bool:
    sts = find(objects, "StatefulSet", "sr-fe")
    return sts is not None and sts["spec"]["replicas"] == 1 and env_of(fe_container(objects)).get(
        "RESTORE_CLUSTER_SNAPSHOT") == "true"


# -- the DR state machine: StarRocks' branches -------------------------------------------------

DR1 = {"enabled": True, "generation": 1}

# (case, dr spec, status before, observed, phase after, reason after, restore mode?, CN StatefulSet wanted?)
DR_CASES = [
    ("no disasterRecovery: normal", None, ClusterStatus(), world(), None, None, False, True),
    ("disabled, never run: normal", {"enabled": False, "generation": 1}, ClusterStatus(), world(),
     None, None, False, True),
    ("first seen: todo, restore-mode fe-0 applied, CNs left", DR1, ClusterStatus(), world(),
     "todo", REASON_TODO, True, False),
    ("todo and the restore StatefulSet applied: doing", DR1, dr_status("todo"), world(applied=1),
     "doing", REASON_IN_PROGRESS, True, False),
    ("doing, fe-0 not ready yet", DR1, dr_status("doing", reason=REASON_IN_PROGRESS),
     world(fe0(ready=False, generation=1), applied=1), "doing", REASON_IN_PROGRESS, True, False),
    ("doing, a ready fe-0 of no DR generation does not count (StarRocks matched any env value)", DR1,
     dr_status("doing", reason=REASON_IN_PROGRESS), world(fe0(generation=None), applied=1),
     "doing", REASON_IN_PROGRESS, True, False),
    ("doing, a ready fe-0 of an older generation does not count", {"enabled": True, "generation": 2},
     dr_status("doing", generation=2, reason=REASON_IN_PROGRESS), world(fe0(generation=1), applied=2),
     "doing", REASON_IN_PROGRESS, True, False),
    ("doing, fe-0 of this generation ready: done, normal objects", DR1,
     dr_status("doing", reason=REASON_IN_PROGRESS), world(fe0(generation=1), applied=1),
     "done", REASON_DONE, False, True),
    ("done: stays done, fe-0 restarts without restoring again", DR1,
     dr_status("done", reason=REASON_DONE), world(fe0(generation=1)), "done", REASON_DONE, False, True),
    ("done, generation raised: todo again", {"enabled": True, "generation": 2},
     dr_status("done", reason=REASON_DONE), world(fe0(generation=1)), "todo", REASON_TODO, True, False),
    ("generation lowered: nothing runs", {"enabled": True, "generation": 1},
     dr_status("done", generation=2, reason=REASON_DONE), world(), "done", REASON_DONE, False, True),
    ("generation 0 enabled with no status: todo (as StarRocks)", {"enabled": True, "generation": 0},
     ClusterStatus(), world(), "todo", REASON_TODO, True, False),
    ("generation raised during doing: todo for the new generation", {"enabled": True, "generation": 2},
     dr_status("doing", reason=REASON_IN_PROGRESS), world(fe0(generation=1), applied=1), "todo", REASON_TODO, True, False),
    ("disabled during doing: paused, the cluster reconciles normally", {"enabled": False, "generation": 1},
     dr_status("doing", reason=REASON_IN_PROGRESS), world(fe0(generation=1), applied=1),
     "doing", REASON_PAUSED, False, True),
    ("re-enabled after a pause: resumes the same generation", DR1,
     dr_status("doing", reason=REASON_PAUSED), world(applied=1), "doing", REASON_IN_PROGRESS, True, False),
    ("cluster_snapshot.yaml not mounted: todo with the reason, no failed reconcile", DR1, ClusterStatus(),
     world(), "todo", REASON_NOT_MOUNTED, False, False),
]


@pytest.mark.parametrize("case,dr,before,observed,phase,reason,restore_mode,cn_wanted", DR_CASES,
                         ids=[c[0] for c in DR_CASES])
def test_disaster_recovery_cases(case: str, dr: dict[str, Any] | None, before: ClusterStatus, observed: Observed,
                                 phase: str | None, reason: str | None, restore_mode: bool, cn_wanted: bool) -> None:
    body = cluster(dr, mount="not mounted" not in case)
    after, objects = reconcile(body, before, observed)
    got = after.disaster_recovery
    if phase is None:
        assert got is None
    else:
        assert got is not None and got.phase == phase and got.reason == reason
        assert got.observed_generation == max(dr["generation"] if dr else 0,
                                              before.disaster_recovery.observed_generation
                                              if before.disaster_recovery else 0)
    assert is_restore_mode(objects) == restore_mode
    assert (find(objects, "StatefulSet", "sr-cn") is not None) == cn_wanted
    # Services always go out, blocked or not: a blocked DR is not a failed reconcile.
    assert find(objects, "Service", "sr-fe-search") is not None


def test_first_todo_records_generation_and_start() -> None:
    after, _ = reconcile(cluster(DR1), ClusterStatus(), world())
    dr = after.disaster_recovery
    assert dr is not None and (dr.phase, dr.reason, dr.observed_generation, dr.start_timestamp, dr.end_timestamp) == (
        DrPhase.TODO, REASON_TODO, 1, NOW, 0)
    assert after.to_body()["disasterRecoveryStatus"]["reason"] == REASON_TODO


def test_done_records_end_and_the_restore() -> None:
    report = RestoreReport(snapshot_name="automated_cluster_snapshot_1739858235830",
                           snapshot_path="s3://b/data/c1/meta/image/automated_cluster_snapshot_1739858235830",
                           journal_id=42, seconds=3.5)
    after, _ = reconcile(cluster(DR1), dr_status("doing", reason=REASON_IN_PROGRESS, start=NOW - 60),
                         world(fe0(generation=1), applied=1, report=report))
    dr = after.disaster_recovery
    assert dr is not None and dr.phase == DrPhase.DONE
    assert (dr.start_timestamp, dr.end_timestamp) == (NOW - 60, NOW)
    assert (dr.snapshot_name, dr.journal_id, dr.restore_duration_seconds) == (
        "automated_cluster_snapshot_1739858235830", 42, 3.5)
    body = after.to_body()["disasterRecoveryStatus"]
    assert body["startTimestamp"] == NOW - 60 and body["endTimestamp"] == NOW  # StarRocks' int64 unix seconds


def test_the_restore_pod_belongs_to_its_generation_by_label() -> None:
    _, objects = reconcile(cluster({"enabled": True, "generation": 7}), ClusterStatus(), world())
    sts = find(objects, "StatefulSet", "sr-fe")
    assert sts is not None
    assert sts["spec"]["template"]["metadata"]["labels"][names.DR_GENERATION_LABEL] == "7"
    assert names.DR_GENERATION_LABEL not in sts["spec"]["selector"]["matchLabels"]  # the selector never changes
    env = env_of(fe_container(objects))
    assert env["RESTORE_CLUSTER_SNAPSHOT"] == "true" and env["RESTORE_CLUSTER_GENERATION"] == "7"
    mounts = {m["mountPath"]: m for m in fe_container(objects)["volumeMounts"]}
    assert mounts["/opt/starrocks/fe/conf/cluster_snapshot.yaml"]["subPath"] == "cluster_snapshot.yaml"
    # After done, the normal StatefulSet carries no restore env and no DR label: a restart resumes.
    _, normal = reconcile(cluster({"enabled": True, "generation": 7}), dr_status("done", generation=7), world())
    normal_sts = find(normal, "StatefulSet", "sr-fe")
    assert normal_sts is not None and normal_sts["spec"]["replicas"] == 3
    assert "RESTORE_CLUSTER_SNAPSHOT" not in env_of(fe_container(normal))
    assert names.DR_GENERATION_LABEL not in normal_sts["spec"]["template"]["metadata"]["labels"]


def test_a_full_run_goes_todo_doing_done_with_an_event_each() -> None:
    body = cluster(DR1)
    status = ClusterStatus()
    phases, events = [], []
    steps = [world(), world(applied=1), world(fe0(ready=False, generation=1), applied=1),
             world(fe0(generation=1), applied=1), world(fe0(generation=1))]
    for observed in steps:
        after, _ = reconcile(body, status, observed)
        events += transition_events(status, after)
        status = after
        assert status.disaster_recovery is not None
        phases.append(status.disaster_recovery.phase.value)
    assert phases == ["todo", "doing", "doing", "done", "done"]
    dr_events = [e.message for e in events if e.reason == "DisasterRecovery"]
    assert dr_events == [f"disaster recovery generation 1: todo: {REASON_TODO}",
                         f"disaster recovery generation 1: doing: {REASON_IN_PROGRESS}",
                         f"disaster recovery generation 1: done: {REASON_DONE}"]
    condition = status.condition("DisasterRecovery")
    assert condition is not None and (condition.status, condition.reason) == ("True", "Done")


@pytest.mark.parametrize("phase,observed", [
    ("todo", world()), ("todo", world(applied=1)), ("doing", world(fe0(ready=False, generation=1), applied=1)),
    ("doing", world(fe0(generation=1), applied=1)), ("done", world(fe0(generation=1)))])
def test_operator_restarted_in_any_phase_resumes_from_the_status(phase: str, observed: Observed) -> None:
    """A new operator process has only the resource's status: deciding again from it gives the same
    answer, keeps the start time, and never restarts the restore of this generation from scratch."""
    reason = REASON_IN_PROGRESS if phase == "doing" else REASON_DONE if phase == "done" else REASON_TODO
    before = dr_status(phase, reason=reason)
    first, objects_first = reconcile(cluster(DR1), before, observed)
    again, objects_again = reconcile(cluster(DR1), ClusterStatus.model_validate(first.to_body()), observed)
    assert again.disaster_recovery is not None and first.disaster_recovery is not None
    assert again.disaster_recovery.start_timestamp == before.disaster_recovery.start_timestamp  # type: ignore[union-attr]
    assert again.disaster_recovery.observed_generation == 1
    order = ["todo", "doing", "done"]
    assert order.index(again.disaster_recovery.phase) >= order.index(first.disaster_recovery.phase) >= order.index(phase)
    assert objects_first == objects_again or first.disaster_recovery.phase != again.disaster_recovery.phase


def test_cr_deleted_mid_restore_wants_nothing_and_keeps_its_status() -> None:
    body = cluster(DR1)
    body["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    before = dr_status("doing", reason=REASON_IN_PROGRESS)
    after, objects = reconcile(body, before, world(fe0(ready=False, generation=1), applied=1))
    assert objects == []  # owner references let the API server collect what was made; storage is untouched
    assert after.disaster_recovery is not None and after.disaster_recovery.phase == DrPhase.DOING


# -- faults: what is missing is a condition and an Event, never a failed reconcile ----------------

@pytest.mark.parametrize("maps,secrets,reason_part", [
    ({"fe-conf": {"fe.conf": FE_CONF}}, None, "ConfigMap cluster-snapshot is not found"),
    ({"fe-conf": {"fe.conf": FE_CONF}, "cluster-snapshot": {"other.yaml": ""}}, None,
     "ConfigMap cluster-snapshot has no key cluster_snapshot.yaml"),
    (None, {"sr-cred": ["credential"]}, "Secret sr-key (cairn.catalogKeySecret) is not found"),
    (None, {"sr-cred": ["credential"], "sr-key": ["wrong"]}, "Secret sr-key (cairn.catalogKeySecret) has no key key"),
    (None, {"sr-key": ["key"]}, "Secret sr-cred (cairn.clusterCredentialSecret) is not found"),
])
def test_missing_pieces_block_dr_with_a_reason_an_event_and_a_condition(
        maps: dict[str, dict[str, str]] | None, secrets: dict[str, list[str]] | None, reason_part: str) -> None:
    before = ClusterStatus()
    after, objects = reconcile(cluster(DR1), before, world(config_maps=maps, secrets=secrets))
    dr = after.disaster_recovery
    assert dr is not None and dr.phase == DrPhase.TODO and reason_part in dr.reason
    events = transition_events(before, after)
    assert any(e.type == "Warning" and e.reason == "DisasterRecoveryBlocked" and reason_part in e.message
               for e in events)
    condition = after.condition("DisasterRecovery")
    assert condition is not None and (condition.status, condition.reason) == ("False", "Blocked")
    # The FEs are left as they are (a normal start would open a new, empty cluster); the rest goes out.
    assert find(objects, "StatefulSet", "sr-fe") is None and find(objects, "StatefulSet", "sr-cn") is None
    assert find(objects, "Service", "sr-fe-service") is not None
    # Fixing what was missing lets it proceed.
    fixed, fixed_objects = reconcile(cluster(DR1), after, world())
    assert fixed.disaster_recovery is not None and fixed.disaster_recovery.reason == REASON_TODO
    assert is_restore_mode(fixed_objects)


def test_missing_secret_outside_dr_is_a_condition() -> None:
    before = ClusterStatus()
    after, objects = reconcile(cluster(), before, world(secrets={}))
    condition = after.condition("SecretsFound")
    assert condition is not None and condition.status == "False" and "sr-cred" in condition.message
    assert any(e.reason == "SecretsFound" and e.type == "Warning" for e in transition_events(before, after))
    assert find(objects, "StatefulSet", "sr-fe") is not None


def test_snapshot_path_makes_the_operator_write_cluster_snapshot_yaml_into_a_secret() -> None:
    dr = {"enabled": True, "generation": 1, "snapshotPath": "s3://bucket/data/c1/meta",
          "storageVolumes": [{"name": "builtin_storage_volume", "type": "S3", "location": "s3://bucket/data",
                              "properties": [{"key": "aws.s3.region", "value": "us-east-1"},
                                             {"key": "aws.s3.access_key", "value": S3_ACCESS_KEY},
                                             {"key": "aws.s3.secret_key", "value": S3_SECRET_KEY}]}]}
    after, objects = reconcile(cluster(dr, mount=False), ClusterStatus(), world(config_maps={"fe-conf": {
        "fe.conf": FE_CONF}}))
    assert after.disaster_recovery is not None and after.disaster_recovery.reason == REASON_TODO
    # The volume's keys go into a Secret the cluster owns; no ConfigMap the operator derives holds one.
    assert find(objects, "ConfigMap", "sr-cluster-snapshot") is None
    for config_map in (o for o in objects if o["kind"] == "ConfigMap"):
        assert not any(key in json.dumps(config_map) for key in (S3_ACCESS_KEY, S3_SECRET_KEY))
    written = find(objects, "Secret", "sr-cluster-snapshot")
    assert written is not None and written["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    document = yaml.safe_load(base64.b64decode(written["data"]["cluster_snapshot.yaml"]))
    assert document["storage_volumes"][0]["properties"][2] == {"key": "aws.s3.secret_key", "value": S3_SECRET_KEY}
    assert document["cluster_snapshot"]["cluster_snapshot_path"] == "s3://bucket/data/c1/meta"
    # The restored membership lists the pods' stable names: nothing needs re-adding.
    assert document["frontends"] == [{"host": "sr-fe-1.sr-fe-search", "edit_log_port": 9010, "type": "follower"},
                                     {"host": "sr-fe-2.sr-fe-search", "edit_log_port": 9010, "type": "follower"}]
    assert document["compute_nodes"] == [{"host": "sr-cn-0.sr-cn-search", "heartbeat_service_port": 9050}]
    assert document["storage_volumes"][0]["location"] == "s3://bucket/data"
    mount = {m["mountPath"]: m for m in fe_container(objects)["volumeMounts"]}[
        "/opt/starrocks/fe/conf/cluster_snapshot.yaml"]
    assert mount["subPath"] == "cluster_snapshot.yaml"
    sts = find(objects, "StatefulSet", "sr-fe")
    assert sts is not None
    volume = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}[mount["name"]]
    assert volume == {"name": mount["name"], "secret": {"secretName": "sr-cluster-snapshot"}}


def test_a_written_secret_is_applied_without_its_values_in_an_annotation() -> None:
    from cairn.operator.apply import LAST_APPLIED, apply_patch, with_last_applied

    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
              "data": {"cluster_snapshot.yaml": base64.b64encode(S3_SECRET_KEY.encode()).decode()}}
    live = with_last_applied(secret)
    annotation = live["metadata"]["annotations"][LAST_APPLIED]
    assert secret["data"]["cluster_snapshot.yaml"] not in annotation and S3_SECRET_KEY not in annotation
    assert apply_patch(live, secret) is None  # up to date: nothing sent
    changed = {**secret, "data": {"cluster_snapshot.yaml": "bmV3"}}
    assert apply_patch(live, changed) == {"data": {"cluster_snapshot.yaml": "bmV3"}}


# -- the objects -----------------------------------------------------------------------------------

def test_normal_objects_names_services_quorum_and_owners() -> None:
    _, objects = reconcile(cluster(), ClusterStatus(), world())
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert kinds == {("StatefulSet", "sr-fe"), ("StatefulSet", "sr-cn"), ("Service", "sr-fe-search"),
                     ("Service", "sr-fe-service"), ("Service", "sr-cn-search"),
                     ("PodDisruptionBudget", "sr-fe-pdb"), ("ConfigMap", "sr-cn-cairn-conf")}
    for obj in objects:
        (owner,) = obj["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == ("StarRocksCluster", "sr",
                                                                                     "uid-1", True)
    search = find(objects, "Service", "sr-fe-search")
    assert search is not None and search["spec"]["clusterIP"] == "None"
    assert search["spec"]["publishNotReadyAddresses"] is True
    service = find(objects, "Service", "sr-fe-service")
    assert service is not None and {p["port"] for p in service["spec"]["ports"]} == {9030, 8030}
    pdb = find(objects, "PodDisruptionBudget", "sr-fe-pdb")
    assert pdb is not None and pdb["spec"]["minAvailable"] == 2
    container = fe_container(objects)
    assert container["readinessProbe"]["httpGet"] == {"path": "/api/health", "port": 8030}
    assert container["args"][container["args"].index("--helper") + 1] == "sr-fe-0.sr-fe-search:9010"
    assert "--join" in container["args"]
    env = env_of(container)
    assert env["CAIRN_CLUSTER_CREDENTIAL"] == {"secretKeyRef": {"name": "sr-cred", "key": "credential"}}
    assert env["CAIRN_CATALOG_ENCRYPTION_KEY"] == {"secretKeyRef": {"name": "sr-key", "key": "key"}}


def test_user_fields_reach_the_pods() -> None:
    fe_extra = {"feEnvVars": [{"name": "LOG_CONSOLE", "value": "1"}], "nodeSelector": {"disk": "ssd"},
                "tolerations": [{"key": "k", "operator": "Exists"}], "podLabels": {"team": "data"},
                "annotations": {"a": "b"}, "readinessProbeFailureSeconds": 60,
                "limits": {"cpu": "2", "memory": "4Gi"}, "requests": {"cpu": "1m"},
                "secrets": [{"name": "tls", "mountPath": "/etc/tls"}],
                "storageVolumes": [{"name": "fe-meta", "storageSize": "10Gi",
                                    "mountPath": "/opt/starrocks/fe/meta"}],
                "service": {"type": "NodePort"}}
    body = cluster()
    body["spec"]["starRocksFeSpec"].update(fe_extra)
    body["spec"]["starRocksFeSpec"]["configMapInfo"] = {"configMapName": "fe-conf", "resolveKey": "fe.conf"}
    maps = {"fe-conf": {"fe.conf": "http_port = 18030\nquery_port = 19030\nedit_log_port = 19010\n"}}
    _, objects = reconcile(body, ClusterStatus(), world(config_maps=maps))
    sts = find(objects, "StatefulSet", "sr-fe")
    assert sts is not None
    pod = sts["spec"]["template"]
    assert pod["metadata"]["labels"]["team"] == "data" and pod["metadata"]["annotations"] == {"a": "b"}
    assert pod["spec"]["nodeSelector"] == {"disk": "ssd"} and pod["spec"]["tolerations"][0]["key"] == "k"
    container = fe_container(objects)
    assert env_of(container)["LOG_CONSOLE"] == "1"
    assert container["readinessProbe"]["failureThreshold"] == 12
    assert container["readinessProbe"]["httpGet"]["port"] == 18030
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert "sr-fe-0.sr-fe-search:19010" in container["args"]
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "fe-meta"
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/etc/tls", "/opt/starrocks/fe/meta",
                                                                    "/opt/starrocks/fe/conf/fe.conf"}
    service = find(objects, "Service", "sr-fe-service")
    assert service is not None and service["spec"]["type"] == "NodePort"


def test_fe_quorum_budget_follows_replicas() -> None:
    for replicas, quorum in ((1, 1), (3, 2), (5, 3)):
        body = cluster()
        body["spec"]["starRocksFeSpec"]["replicas"] = replicas
        _, objects = reconcile(body, ClusterStatus(), world())
        pdb = find(objects, "PodDisruptionBudget", "sr-fe-pdb")
        assert pdb is not None and pdb["spec"]["minAvailable"] == quorum


def test_cluster_phase_from_pods() -> None:
    pods = [ObservedPod(name=f"sr-fe-{i}", component="fe", ready=True, phase="Running") for i in range(3)]
    cn = ObservedPod(name="sr-cn-0", component="cn", ready=True, phase="Running")
    after, _ = reconcile(cluster(), ClusterStatus(), world(*pods, cn))
    assert after.phase == "running" and after.fe is not None and after.fe.running_instances == [
        "sr-fe-0", "sr-fe-1", "sr-fe-2"]
    assert after.fe.service_name == "sr-fe-service" and after.fe.resource_names == ["sr-fe"]
    creating = ObservedPod(name="sr-cn-0", component="cn", ready=False, phase="Pending")
    after, _ = reconcile(cluster(), ClusterStatus(), world(*pods, creating))
    assert after.phase == "reconciling" and after.cn is not None and after.cn.creating_instances == ["sr-cn-0"]
    rolling = world(*pods, cn)
    rolling.statefulsets_rolling.append("sr-fe")
    after, _ = reconcile(cluster(), ClusterStatus(), rolling)
    assert after.phase == "reconciling" and after.fe is not None and after.fe.phase == "reconciling"
    failed = ObservedPod(name="sr-cn-0", component="cn", ready=False, phase="Failed")
    after, _ = reconcile(cluster(), ClusterStatus(), world(*pods, failed))
    assert after.phase == "failed" and after.cn is not None and after.cn.failed_instances == ["sr-cn-0"]


def test_each_ignored_field_that_is_set_is_reported_once() -> None:
    ignored = parse_ignored_fields("# fields Cairn ignores\nspec.starRocksBeSpec\n"
                                   "starRocksFeSpec.storageSpec   # StarRocks' helm-style storage\n"
                                   "starRocksFeProxySpec\nstarRocksCnSpec.autoScalingPolicy\n")
    spec = cluster()["spec"] | {"starRocksBeSpec": {"replicas": 3}}
    spec["starRocksCnSpec"]["autoScalingPolicy"] = {"maxReplicas": 5}
    events, reported = ignored_field_events(spec, ignored, [])
    assert [e.message for e in events] == ["spec.starRocksBeSpec is set, but Cairn ignores it",
                                           "spec.starRocksCnSpec.autoScalingPolicy is set, but Cairn ignores it"]
    again, _ = ignored_field_events(spec, ignored, reported)
    assert again == []


# -- the status the operator writes survives the CRD's structural pruning -------------------------

def _crd_schema() -> dict[str, Any]:
    with open("deploy/crd/starrocks.com_starrocksclusters.yaml", encoding="utf-8") as file:
        crd = yaml.safe_load(file)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _pruned(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    """The paths the API server would drop (fields the schema does not declare)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        dropped = []
        for key, item in value.items():
            if props is not None and key in props:
                dropped += _pruned(item, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                dropped += _pruned(item, extra, f"{path}.{key}")
            else:
                dropped.append(f"{path}.{key}")
        return dropped
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _pruned(item, schema.get("items") or {}, f"{path}[{i}]")]
    return []


def test_status_and_seed_spec_survive_pruning_and_validate() -> None:
    import jsonschema

    schema = _crd_schema()
    report = RestoreReport(snapshot_name="automated_cluster_snapshot_1", snapshot_path="s3://b/data/c1/meta", journal_id=9,
                           seconds=2.0)
    pods = [ObservedPod(name=f"sr-fe-{i}", component="fe", ready=True, phase="Running") for i in range(3)]
    status, _ = reconcile(cluster(DR1), dr_status("doing", reason=REASON_IN_PROGRESS),
                          world(fe0(generation=1), *pods[1:], applied=1, report=report))
    body = cluster(DR1) | {"status": status.to_body()}
    assert _pruned(body["status"], schema["properties"]["status"], "status") == []
    assert _pruned(body["spec"], schema["properties"]["spec"], "spec") == []
    jsonschema.validate(body["status"], schema["properties"]["status"])
    assert body["status"]["disasterRecoveryStatus"]["journalId"] == 9


def test_the_shipped_ignored_fields_list_reports_a_starrocks_be_spec() -> None:
    with open("deploy/crd/ignored-fields.txt", encoding="utf-8") as file:
        ignored = parse_ignored_fields(file.read())
    spec = cluster()["spec"]
    assert ignored_field_events(spec, ignored, [])[0] == []  # the seed's own fields are all honoured
    events, _ = ignored_field_events(spec | {"starRocksBeSpec": {"replicas": 3}}, ignored, [])
    assert [e.message for e in events] == ["spec.starRocksBeSpec is set, but Cairn ignores it"]


def test_a_cn_scale_in_keeps_the_pods_until_their_nodes_are_dropped() -> None:
    from cairn.operator.objects import cn_scale_in

    body = cluster()
    body["spec"]["starRocksCnSpec"]["replicas"] = 1
    observed = world()
    observed.statefulset_replicas["sr-cn"] = 3
    cr = StarRocksCluster.from_body(body)
    assert cn_scale_in(cr, observed) == ["sr-cn-1.sr-cn-search:9050", "sr-cn-2.sr-cn-search:9050"]
    _, objects = reconcile(body, ClusterStatus(), observed)
    held = find(objects, "StatefulSet", "sr-cn")
    assert held is not None and held["spec"]["replicas"] == 3  # one node not dropped yet: no pod goes
    observed.cn_dropped = ["sr-cn-2.sr-cn-search:9050", "sr-cn-1.sr-cn-search:9050"]
    _, objects = reconcile(body, ClusterStatus(), observed)
    scaled = find(objects, "StatefulSet", "sr-cn")
    assert scaled is not None and scaled["spec"]["replicas"] == 1


def test_fe_pods_are_replaced_followers_first_and_the_leader_last() -> None:
    from cairn.operator.objects import fe_pod_to_replace

    def fes(revisions: list[str], leader: int, ready: bool = True) -> Observed:
        pods = [ObservedPod(name=f"sr-fe-{i}", component="fe", ready=ready, phase="Running", revision=r,
                            leader=i == leader) for i, r in enumerate(revisions)]
        observed = world(*pods)
        observed.statefulset_update_revision["sr-fe"] = "new"
        return observed

    cr = StarRocksCluster.from_body(cluster())
    _, objects = reconcile(cluster(), ClusterStatus(), world())
    sts = find(objects, "StatefulSet", "sr-fe")
    assert sts is not None and sts["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert fe_pod_to_replace(cr, ClusterStatus(), fes(["old", "old", "old"], leader=2)) == "sr-fe-1"
    assert fe_pod_to_replace(cr, ClusterStatus(), fes(["old", "new", "new"], leader=1)) == "sr-fe-0"
    assert fe_pod_to_replace(cr, ClusterStatus(), fes(["new", "new", "old"], leader=2)) == "sr-fe-2"  # the leader last
    assert fe_pod_to_replace(cr, ClusterStatus(), fes(["old", "old", "old"], leader=0, ready=False)) is None
    assert fe_pod_to_replace(cr, ClusterStatus(), fes(["new", "new", "new"], leader=0)) is None
    # In disaster recovery a stale fe-0 goes at once, ready or not.
    dr_cr = StarRocksCluster.from_body(cluster(DR1))
    assert fe_pod_to_replace(dr_cr, dr_status("todo"), fes(["old", "old", "old"], leader=0, ready=False)) == "sr-fe-0"


def test_an_fe_scale_in_keeps_the_pods_until_their_fes_are_dropped() -> None:
    from cairn.operator.objects import fe_scale_in

    body = cluster()
    body["spec"]["starRocksFeSpec"]["replicas"] = 1
    observed = world()
    cr = StarRocksCluster.from_body(body)
    # The highest ordinal first: a StatefulSet removes its pods from the top.
    assert fe_scale_in(cr, observed) == ["sr-fe-2.sr-fe-search:9010", "sr-fe-1.sr-fe-search:9010"]
    _, objects = reconcile(body, ClusterStatus(), observed)
    held = find(objects, "StatefulSet", "sr-fe")
    assert held is not None and held["spec"]["replicas"] == 3  # nothing dropped yet: no pod goes
    observed.fe_dropped = ["sr-fe-2.sr-fe-search:9010"]
    _, objects = reconcile(body, ClusterStatus(), observed)
    partly = find(objects, "StatefulSet", "sr-fe")
    assert partly is not None and partly["spec"]["replicas"] == 2  # fe-2 dropped: its pod may go, fe-1's not
    observed.fe_dropped.append("sr-fe-1.sr-fe-search:9010")
    _, objects = reconcile(body, ClusterStatus(), observed)
    scaled = find(objects, "StatefulSet", "sr-fe")
    assert scaled is not None and scaled["spec"]["replicas"] == 1
    # A scale-in that cannot drop an FE (the leader will not drop itself) keeps the cluster reconciling, saying why.
    pods = [ObservedPod(name=f"sr-fe-{i}", component="fe", ready=True, phase="Running") for i in range(3)]
    waiting = world(*pods, ObservedPod(name="sr-cn-0", component="cn", ready=True, phase="Running"))
    waiting.fe_scale_in_waiting = ("the FE scale-in waits: could not drop sr-fe-1.sr-fe-search:9010: "
                                   "HTTP 409: can not drop current master node.")
    after, _ = reconcile(body, ClusterStatus(), waiting)
    assert after.fe is not None and after.fe.phase == "reconciling" and after.phase == "reconciling"
    assert after.to_body()["starRocksFeStatus"]["reason"] == waiting.fe_scale_in_waiting
    # The claims of the FEs a scale-in dropped go with their pods (their meta names a cluster they left);
    # a restore's shrink to fe-0 keeps fe-1's and fe-2's.
    assert scaled["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenScaled": "Delete", "whenDeleted": "Retain"}
    _, restoring = reconcile(cluster(DR1), ClusterStatus(), world())
    assert is_restore_mode(restoring)
    restore_sts = find(restoring, "StatefulSet", "sr-fe")
    assert restore_sts is not None and restore_sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"
    # A scale-out, or the StatefulSet a disaster recovery shrank to fe-0, drops nothing.
    body["spec"]["starRocksFeSpec"]["replicas"] = 3
    observed.statefulset_replicas["sr-fe"] = 1
    assert fe_scale_in(StarRocksCluster.from_body(body), observed) == []


@pytest.mark.parametrize("volume,conf,expected", [
    # StarRocks' conventions: the volume mounted at its meta path, or named *-meta.
    ({"name": "fe-meta", "storageSize": "1Gi", "mountPath": "/opt/starrocks/fe/meta"}, FE_CONF,
     "/opt/starrocks/fe/meta"),
    ({"name": "fe-meta", "storageSize": "1Gi", "mountPath": "/data/fe/meta"}, FE_CONF, "/data/fe/meta"),
    ({"name": "fe-storage-meta", "storageSize": "1Gi", "mountPath": "/data/m"}, FE_CONF, "/data/m"),
    # No volume: meta_dir on the emptyDir mounted at StarRocks' path.
    (None, FE_CONF, "/opt/starrocks/fe/meta"),
    # The user's own fe.conf wins.
    ({"name": "fe-meta", "storageSize": "1Gi", "mountPath": "/data/fe/meta"}, FE_CONF + "meta_dir = /elsewhere\n", None),
])
def test_meta_dir_is_on_the_fe_meta_volume(volume: dict[str, Any] | None, conf: str, expected: str | None) -> None:
    body = cluster()
    if volume is not None:
        body["spec"]["starRocksFeSpec"]["storageVolumes"] = [volume]
    _, objects = reconcile(body, ClusterStatus(), world(config_maps={"fe-conf": {"fe.conf": conf}}))
    container = fe_container(objects)
    args = container["args"]
    if expected is None:
        assert "--meta-dir" not in args
        return
    assert args[args.index("--meta-dir") + 1] == expected
    assert expected in {m["mountPath"] for m in container["volumeMounts"]}


@pytest.mark.parametrize("volume,conf,expected", [
    ({"name": "cn-cache", "storageSize": "1Gi", "mountPath": "/opt/starrocks/cn/storage"}, None,
     "/opt/starrocks/cn/storage"),
    ({"name": "cn-data", "storageSize": "1Gi", "mountPath": "/data/cn"}, None, "/data/cn"),
    (None, None, "/opt/starrocks/cn/storage"),
    ({"name": "cn-data", "storageSize": "1Gi", "mountPath": "/data/cn"}, "storage_root_path = /mine\n", None),
])
def test_the_cn_cache_is_on_the_cn_cache_volume(volume: dict[str, Any] | None, conf: str | None,
                                                  expected: str | None) -> None:
    body = cluster()
    maps = {"fe-conf": {"fe.conf": FE_CONF}}
    if volume is not None:
        body["spec"]["starRocksCnSpec"]["storageVolumes"] = [volume]
    if conf is not None:
        body["spec"]["starRocksCnSpec"]["configMapInfo"] = {"configMapName": "cn-conf", "resolveKey": "cn.conf"}
        maps["cn-conf"] = {"cn.conf": conf}
    _, objects = reconcile(body, ClusterStatus(), world(config_maps=maps))
    sts = find(objects, "StatefulSet", "sr-cn")
    assert sts is not None
    container = sts["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    if expected is None:
        assert "--storage-root-path" not in args
        return
    assert args[args.index("--storage-root-path") + 1] == expected
    assert expected in {m["mountPath"] for m in container["volumeMounts"]}
