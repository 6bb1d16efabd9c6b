"""Builds Cairn's StarRocksCluster CRD from the StarRocks operator's own.

Input: `upstream/starrocks.com_starrocksclusters.v1.10.2.yaml`, the CRD of the StarRocks operator v1.10.2
(StarRocks/starrocks-kubernetes-operator, config/crd/bases/, commit 3948748fe25fd282757b2e533899a5021feaff7d),
unchanged. Output, both committed:

* `starrocks.com_starrocksclusters.yaml`: every field of the upstream schema, so that the API server's
  pruning keeps StarRocks fields and kubectl's strict field validation accepts StarRocks manifests; the
  description of each field Cairn ignores ends with "Ignored by Cairn: <why>."; Cairn's own fields added
  (see README.md beside this file).
* `ignored-fields.txt`: the paths of the ignored spec fields, one per line, which the operator reads to
  report each one that is set in an Event.

Run from the repository root: `.venv/bin/python deploy/crd/generate.py` (`--check` exits 1 when the
committed files differ from what it would write).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
UPSTREAM = HERE / "upstream" / "starrocks.com_starrocksclusters.v1.10.2.yaml"
CRD = HERE / "starrocks.com_starrocksclusters.yaml"
IGNORED = HERE / "ignored-fields.txt"

IGNORED_MARK = "Ignored by Cairn:"

# The fields of starRocksFeSpec / starRocksCnSpec that Cairn's operator honours. Every other field of
# those two specs is ignored (and reported when set). Implementing a field = adding it here and
# regenerating.
HONOURED_COMPONENT_FIELDS = frozenset({
    "image", "replicas", "configMapInfo", "configMaps", "secrets", "storageVolumes", "limits", "requests",
    "service", "startupProbeFailureSeconds", "livenessProbeFailureSeconds", "readinessProbeFailureSeconds",
    "nodeSelector", "affinity", "tolerations", "podLabels", "annotations", "serviceAccount", "imagePullSecrets",
})
HONOURED_ENV_FIELDS = {"starRocksFeSpec": "feEnvVars", "starRocksCnSpec": "cnEnvVars"}

# Whole subtrees Cairn ignores, with the reason shown to users.
IGNORED_SUBTREES = {
    "starRocksBeSpec": "Cairn runs shared-data only; its compute nodes are configured in starRocksCnSpec.",
    "starRocksFeProxySpec": "Cairn has no FE proxy; Stream Load goes to <name>-fe-service, whose non-leader "
                            "FEs redirect it to the leader.",
    "serviceAccount": "deprecated in StarRocks; set serviceAccount in starRocksFeSpec / starRocksCnSpec.",
}
COMPONENT_FIELD_REASON = "the Cairn operator does not apply this field to the pods it makes."
NEVER_SET_STATUS = {
    "starRocksBeStatus": "Cairn has no BE; never set by Cairn.",
    "starRocksFeProxyStatus": "Cairn has no FE proxy; never set by Cairn.",
}


def _string(description: str) -> dict[str, Any]:
    return {"description": description, "type": "string"}


def _secret_key_ref(what: str, default_key: str) -> dict[str, Any]:
    return {
        "description": f"The Secret (in the cluster's namespace) holding {what}.",
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": _string("Name of the Secret."),
            "key": _string(f"Key in the Secret's data; default {default_key!r}."),
        },
    }


def cairn_spec() -> dict[str, Any]:
    """`spec.cairn`: what Cairn needs that StarRocks' CRD has no field for."""
    return {
        "description": "Cairn's own settings (not in StarRocks' CRD).",
        "type": "object",
        "properties": {
            "clusterCredentialSecret": _secret_key_ref(
                "the cluster credential every FE and CN holds (Cairn's cluster_credential, at least 32 "
                "characters; the pods get it as CAIRN_CLUSTER_CREDENTIAL). The operator uses it to add FEs and "
                "CNs to the cluster", "cluster-credential"),
            "catalogKeySecret": _secret_key_ref(
                "the catalog key (base64 of 32 bytes) that encrypts secrets at rest and authenticates the "
                "journal (Cairn's catalog_encryption_key). Only FE pods get it, as CAIRN_CATALOG_ENCRYPTION_KEY. "
                "Disaster recovery needs the key the snapshot was written with", "catalog-key"),
        },
    }


def disaster_recovery_extensions() -> dict[str, Any]:
    """Cairn's additions to `spec.disasterRecovery`."""
    volume_property = {
        "type": "object",
        "required": ["key"],
        "properties": {"key": _string("Property name, e.g. aws.s3.region."), "value": _string("Property value.")},
    }
    return {
        "snapshotPath": _string(
            "Cairn: the snapshot to restore, as cluster_snapshot.yaml's cluster_snapshot_path; a path ending in "
            "/meta means the newest complete snapshot under it. When set, the operator writes "
            "cluster_snapshot.yaml itself and no ConfigMap needs to be mounted."),
        "storageVolumeName": _string(
            "Cairn: cluster_snapshot.yaml's storage_volume_name, the volume the snapshot lies on (used with "
            "snapshotPath); default builtin_storage_volume."),
        "storageVolumes": {
            "description": "Cairn: cluster_snapshot.yaml's storage_volumes (used with snapshotPath): the volumes "
                           "of a cloned snapshot, by name. Each item is free-form: name, type, location, "
                           "comment and properties ({key, value} pairs), as in cluster_snapshot.yaml.",
            "type": "array",
            "items": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {
                    "name": _string("Storage volume name."),
                    "type": _string("Storage volume type, e.g. S3."),
                    "location": _string("Storage volume location, e.g. s3://bucket/data."),
                    "comment": _string("Comment."),
                    "properties": {"description": "Storage volume properties.", "type": "array",
                                   "items": volume_property},
                },
            },
        },
    }


def disaster_recovery_status_extensions() -> dict[str, Any]:
    """Cairn's additions to `status.disasterRecoveryStatus`."""
    return {
        "snapshotName": _string("Cairn: the name of the snapshot restored by this generation."),
        "snapshotPath": _string("Cairn: the path of the snapshot restored by this generation."),
        "journalId": {"description": "Cairn: the FE journal id of the restored snapshot (its FE_JOURNAL_ID).",
                      "type": "integer", "format": "int64"},
        "restoreDurationSeconds": {"description": "Cairn: how long the restore itself took on fe-0, in seconds "
                                                  "(the rest of endTimestamp - startTimestamp is the operator's "
                                                  "and the pod's start-up).",
                                   "type": "number"},
    }


def conditions_schema() -> dict[str, Any]:
    """`status.conditions`: standard Kubernetes conditions (metav1.Condition)."""
    return {
        "description": "Cairn: Kubernetes conditions, one per type (e.g. Ready, DisasterRecovery, "
                       "ClusterSnapshotMounted), updated on every transition.",
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {
            "type": "object",
            "required": ["type", "status"],
            "properties": {
                "type": _string("Type of condition in CamelCase."),
                "status": {"description": "True, False or Unknown.", "type": "string",
                           "enum": ["True", "False", "Unknown"]},
                "observedGeneration": {"description": "The .metadata.generation the condition was set for.",
                                       "type": "integer", "format": "int64"},
                "lastTransitionTime": _string("When the condition last changed status (RFC 3339)."),
                "reason": _string("Machine-readable CamelCase reason for the last transition."),
                "message": _string("Human-readable details about the last transition."),
            },
        },
    }


def _mark(node: dict[str, Any], reason: str) -> None:
    text = node.get("description", "").rstrip()
    node["description"] = f"{text}\n\n{IGNORED_MARK} {reason}".lstrip()


def build(upstream: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Cairn's CRD and the ignored spec paths, from the upstream CRD."""
    crd = copy.deepcopy(upstream)
    crd["metadata"]["annotations"] = {
        "cairn/generated-from": "StarRocks/starrocks-kubernetes-operator v1.10.2 "
                                "config/crd/bases/starrocks.com_starrocksclusters.yaml",
        "cairn/generator": "deploy/crd/generate.py",
    }
    crd["metadata"]["labels"] = {"app.kubernetes.io/part-of": "cairn"}
    (version,) = crd["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]["properties"]
    status = schema["properties"]["status"]["properties"]
    ignored: list[str] = []

    for field, reason in IGNORED_SUBTREES.items():
        _mark(spec[field], reason)
        ignored.append(f"spec.{field}")
    for component, env_field in HONOURED_ENV_FIELDS.items():
        for field, node in spec[component]["properties"].items():
            if field not in HONOURED_COMPONENT_FIELDS and field != env_field:
                _mark(node, COMPONENT_FIELD_REASON)
                ignored.append(f"spec.{component}.{field}")
    for field, reason in NEVER_SET_STATUS.items():
        _mark(status[field], reason)

    spec["disasterRecovery"]["properties"].update(disaster_recovery_extensions())
    spec["cairn"] = cairn_spec()
    status["disasterRecoveryStatus"]["properties"].update(disaster_recovery_status_extensions())
    status["conditions"] = conditions_schema()
    # kopf keeps its progress and handler results here; a structural schema would prune them.
    status["kopf"] = {"description": "The operator framework's own bookkeeping.", "type": "object",
                      "x-kubernetes-preserve-unknown-fields": True}
    status["phase"]["description"] = "The state of the cluster: running, failed or reconciling."
    version["additionalPrinterColumns"].append(
        {"jsonPath": ".status.disasterRecoveryStatus.phase", "name": "DR", "type": "string"})
    return crd, ignored


def render(upstream_path: Path = UPSTREAM) -> tuple[str, str]:
    """The text of the CRD and of ignored-fields.txt."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    crd, ignored = build(yaml.load(upstream_path.read_text(), Loader=loader))
    header = ("# Generated by deploy/crd/generate.py from StarRocks operator v1.10.2's CRD: do not edit.\n"
              "# Apply with `kubectl apply --server-side` (or `kubectl create`): at about 1 MB it is larger than\n"
              "# the annotation that client-side `kubectl apply` would store.\n")
    crd_text = header + yaml.dump(crd, Dumper=dumper, sort_keys=False, width=100, allow_unicode=True)
    ignored_text = ("# Spec fields of StarRocksCluster that Cairn ignores (generated by deploy/crd/generate.py).\n"
                    "# One path per line, from the object's root, dot-separated. A field counts as set when it\n"
                    "# is present with a value other than null, \"\", 0, false, [] or {}; the operator reports\n"
                    "# each set one once, in an Event.\n"
                    + "".join(f"{path}\n" for path in ignored))
    return crd_text, ignored_text


def main() -> int:
    """Write (or with --check, compare) the generated files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are stale")
    args = parser.parse_args()
    crd_text, ignored_text = render()
    if args.check:
        stale = [p.name for p, text in ((CRD, crd_text), (IGNORED, ignored_text))
                 if not p.exists() or p.read_text() != text]
        if stale:
            print(f"stale: {', '.join(stale)}; run deploy/crd/generate.py", file=sys.stderr)
            return 1
        return 0
    CRD.write_text(crd_text)
    IGNORED.write_text(ignored_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
