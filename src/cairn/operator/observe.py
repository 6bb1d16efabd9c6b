"""Reading what a reconcile needs from the API server into an `Observed` (Secrets: their keys only)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from cairn.operator import names
from cairn.operator.apply import resource_path
from cairn.operator.kube import Kube
from cairn.operator.objects import fe_conf_text, selector_labels
from cairn.operator.observed import Observed, ObservedPod, RestoreReport
from cairn.operator.ports import fe_ports
from cairn.operator.recovery import snapshot_mount
from cairn.operator.spec import StarRocksCluster
from cairn.restore.startup import RESTORE_STATE_PATH

REPORT_TIMEOUT_SECONDS = 3.0


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def observe(kube: Kube, cr: StarRocksCluster) -> Observed:
    """The cluster's pods, StatefulSets, the ConfigMaps and Secrets its spec names, and the clock."""
    ns, name = cr.metadata.namespace, cr.metadata.name
    observed = Observed(now=int(time.time()))
    for component in (names.FE, names.CN):
        listing = kube.get(resource_path("v1", "Pod", ns), {"labelSelector": _selector(selector_labels(cr, component))})
        for item in (listing or {}).get("items") or []:
            if not (item.get("metadata") or {}).get("deletionTimestamp"):
                observed.pods.append(ObservedPod.from_body(item, component))
        sts = kube.get(resource_path("apps/v1", "StatefulSet", ns, names.statefulset(name, component)))
        if sts is not None:
            observed.statefulset_replicas[sts["metadata"]["name"]] = int((sts.get("spec") or {}).get("replicas") or 0)
            labels = ((((sts.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
            revision = (sts.get("status") or {}).get("updateRevision")
            if revision:
                observed.statefulset_update_revision[sts["metadata"]["name"]] = str(revision)
            if rolling(sts):
                observed.statefulsets_rolling.append(sts["metadata"]["name"])
            generation = labels.get(names.DR_GENERATION_LABEL)
            if generation and generation.isdigit():
                observed.statefulset_dr_generation[sts["metadata"]["name"]] = int(generation)
    wanted_maps = {spec.config_map_info.config_map_name for spec in (cr.spec.fe, cr.spec.cn)
                   if spec is not None and spec.config_map_info.config_map_name}
    mount = snapshot_mount(cr)
    if mount is not None:
        wanted_maps.add(mount.name)
    for map_name in sorted(wanted_maps):
        found = kube.get(resource_path("v1", "ConfigMap", ns, map_name))
        if found is not None:
            observed.config_maps[map_name] = {k: str(v) for k, v in (found.get("data") or {}).items()}
    for ref in (cr.spec.cairn.credential(), cr.spec.cairn.catalog_key()):
        if ref is not None and ref.name not in observed.secrets:
            secret = kube.get(resource_path("v1", "Secret", ns, ref.name))
            if secret is not None:
                observed.secrets[ref.name] = sorted({*(secret.get("data") or {}), *(secret.get("stringData") or {})})
    http_port = fe_ports(fe_conf_text(cr, observed)).http_port
    for pod in observed.pods_of(names.FE):
        if pod.ready and pod.ip:
            pod.leader = _says_it_leads(pod.ip, http_port)
    dr = cr.spec.disaster_recovery
    fe0 = observed.pod(names.pod(name, names.FE, 0))
    if dr is not None and dr.enabled and fe0 is not None and fe0.ready and fe0.ip \
            and fe0.dr_generation == dr.generation:
        observed.restore_report = restore_report(fe0.ip, http_port, str(dr.generation))
    return observed


def _says_it_leads(host: str, http_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{http_port}/api/health", timeout=REPORT_TIMEOUT_SECONDS) as answer:
            health = json.load(answer)
    except (OSError, ValueError):
        return False
    return isinstance(health, dict) and health.get("is_leader") is True


def rolling(sts: dict[str, Any]) -> bool:
    """True while a StatefulSet's controller has not finished applying its spec."""
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    replicas = int(spec.get("replicas") or 0)
    return int(status.get("observedGeneration") or 0) < int(sts["metadata"].get("generation") or 0) \
        or status.get("currentRevision") != status.get("updateRevision") \
        or int(status.get("updatedReplicas") or 0) < replicas


def restore_report(host: str, http_port: int, generation: str) -> RestoreReport | None:
    """What the FE at `host` restored for DR `generation` (its restore-state endpoint), if it says."""
    url = f"http://{host}:{http_port}{RESTORE_STATE_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=REPORT_TIMEOUT_SECONDS) as answer:
            state = json.load(answer)
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("state") != "finished" or state.get("generation") != generation:
        return None
    return RestoreReport(snapshot_name=str(state.get("snapshot") or ""), snapshot_path=str(state.get("snapshot_path") or ""),
                         journal_id=int(state.get("journal_id") or 0), seconds=float(state.get("seconds") or 0.0))
