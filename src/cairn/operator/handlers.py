"""The kopf side of the operator: on create, update, resume and every `interval` seconds, a
StarRocksCluster is observed, the pure decisions (`reconcile.py`, `objects.py`) are taken, the
objects applied, Events posted and the status patched. Handlers are registered on a registry built
here, never as an import side effect."""

from __future__ import annotations

import base64
import logging
import os
import threading
from pathlib import Path
from typing import Any

import kopf
from pydantic import BaseModel

from cairn.cn.registration import post_with_credential, register_once
from cairn.fe.peers import ComputeNodeJoinRequest, JoinRequest
from cairn.operator import names
from cairn.operator.apply import apply_patch, resource_path, with_last_applied
from cairn.operator.kube import Kube, load_configuration
from cairn.operator.metrics import OperatorMetrics
from cairn.operator.objects import cn_scale_in, desired_objects, fe_conf_text, fe_pod_to_replace, fe_scale_in
from cairn.operator.observe import observe
from cairn.operator.observed import Observed
from cairn.operator.ports import fe_ports
from cairn.operator.reconcile import Event, ignored_field_events, next_status, parse_ignored_fields, transition_events
from cairn.operator.recovery import in_recovery
from cairn.operator.spec import StarRocksCluster
from cairn.operator.status import ClusterStatus

log = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "starrocks.com", "v1", "starrocksclusters"
# The ignored fields already reported in an Event (each is reported once).
REPORTED_IGNORED = "cairn.io/reported-ignored-fields"


class OperatorOptions(BaseModel):
    """How `cairn operator` runs."""

    api_server: str | None = None
    kubeconfig: str | None = None
    namespaces: list[str] = []
    interval: float = 5.0
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 0  # 0: no metrics server
    ignored_fields_file: str | None = None


class Reconciler:
    """One reconcile of one StarRocksCluster: observe, decide, apply, tell."""

    def __init__(self, kube: Kube, ignored_fields: list[str], metrics: OperatorMetrics) -> None:
        self.kube = kube
        self.ignored_fields = ignored_fields
        self.metrics = metrics

    def reconcile(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[Event]]:
        """Apply what the resource wants; the new status, the ignored fields reported so far (kept in
        an annotation) and the Events to post."""
        cr = StarRocksCluster.from_body(body)
        before = ClusterStatus.from_body(body)
        observed = observe(self.kube, cr)
        self.drain_compute_nodes(cr, observed)
        if not in_recovery(cr, before.disaster_recovery):
            self.drop_frontends(cr, observed)
        after = next_status(cr, before, observed)
        wanted = desired_objects(cr, after, observed)
        if wanted and not self._still_there(cr):
            # Deleted while this reconcile observed: what it would create now would outlive its owner.
            return {}, [], []
        for obj in wanted:
            self.apply(obj)
        replace = fe_pod_to_replace(cr, after, observed) if wanted else None
        if replace is not None:
            self.kube.delete(resource_path("v1", "Pod", cr.metadata.namespace, replace))
            log.info("replacing FE pod %s/%s with the current template", cr.metadata.namespace, replace)
        events = transition_events(before, after)
        annotations = (body.get("metadata") or {}).get("annotations") or {}
        already = [p for p in annotations.get(REPORTED_IGNORED, "").split(",") if p]
        fresh, reported = ignored_field_events(body.get("spec") or {}, self.ignored_fields, already)
        self.metrics.record(cr.metadata.namespace, cr.metadata.name, after)
        return after.to_body(), reported, [*fresh, *events]

    def _credential(self, cr: StarRocksCluster) -> str | None:
        """The cluster credential from its Secret (None when the spec names none or it is missing)."""
        ref = cr.spec.cairn.credential()
        if ref is None:
            return None
        secret = self.kube.get(resource_path("v1", "Secret", cr.metadata.namespace, ref.name)) or {}
        encoded = (secret.get("data") or {}).get(ref.key)
        return base64.b64decode(encoded).decode() if encoded else None

    def drop_frontends(self, cr: StarRocksCluster, observed: Observed) -> None:
        """Have the cluster drop the FEs a scale-in removes (what ALTER SYSTEM DROP FOLLOWER does),
        highest ordinal first, through a ready FE's peer service with the cluster credential; only
        while every FE that stays is ready, so the quorum never rests on a pod that is going. The
        leader refuses to drop itself or to lose its quorum: that FE keeps its pod until it can go."""
        leaving = fe_scale_in(cr, observed)
        if not leaving:
            return
        going = {address.split(".", 1)[0] for address in leaving}
        staying = [p for p in observed.pods_of(names.FE) if p.name not in going]
        wanted = observed.statefulset_replicas.get(names.statefulset(cr.metadata.name, names.FE), 0) - len(leaving)
        fe = next((p for p in staying if p.ready and p.ip), None)
        if fe is None or len(staying) < wanted or not all(p.ready for p in staying):
            observed.fe_scale_in_waiting = "the FE scale-in waits for every FE that stays to be ready"
            return
        credential = self._credential(cr)
        if credential is None:
            return
        port = fe_ports(fe_conf_text(cr, observed)).edit_log_port
        for address in leaving:
            host, _, edit_log_port = address.rpartition(":")
            request = JoinRequest(host=host, edit_log_port=int(edit_log_port))
            try:
                post_with_credential(f"{fe.ip}:{port}", "/fe/leave", request, credential)
            except (OSError, ValueError) as exc:
                log.warning("could not drop FE %s before its pod goes: %s", address, exc)
                observed.fe_scale_in_waiting = f"the FE scale-in waits: could not drop {address}: {exc}"
                return  # a StatefulSet removes the highest ordinals first: the lower ones wait
            log.info("dropped FE %s ahead of the scale-in", address)
            observed.fe_dropped.append(address)

    def drain_compute_nodes(self, cr: StarRocksCluster, observed: Observed) -> None:
        """Have the cluster drop the compute nodes a scale-in removes, through a ready FE's peer
        service with the cluster credential; a node that could not be dropped keeps its pod."""
        leaving = cn_scale_in(cr, observed)
        fe = next((p for p in observed.pods_of(names.FE) if p.ready and p.ip), None)
        if not leaving or fe is None:
            return
        credential = self._credential(cr)
        if credential is None:
            return
        port = fe_ports(fe_conf_text(cr, observed)).edit_log_port
        for address in leaving:
            host, _, heartbeat = address.rpartition(":")
            request = ComputeNodeJoinRequest(host=host, heartbeat_service_port=int(heartbeat))
            try:
                register_once(f"{fe.ip}:{port}", request, credential, leave=True)
            except (OSError, ValueError) as exc:
                log.warning("could not drop compute node %s before its pod goes: %s", address, exc)
                continue
            log.info("dropped compute node %s ahead of the scale-in", address)
            observed.cn_dropped.append(address)

    def _still_there(self, cr: StarRocksCluster) -> bool:
        live = self.kube.get(f"/apis/{GROUP}/{VERSION}/namespaces/{cr.metadata.namespace}/{PLURAL}/{cr.metadata.name}")
        meta = (live or {}).get("metadata") or {}
        return bool(live) and meta.get("uid") == cr.metadata.uid and not meta.get("deletionTimestamp")

    def apply(self, obj: dict[str, Any]) -> None:
        """Create `obj`, or merge-patch it to what it should be."""
        meta = obj["metadata"]
        path = resource_path(obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])
        live = self.kube.get(path)
        if live is None:
            self.kube.create(resource_path(obj["apiVersion"], obj["kind"], meta["namespace"]), with_last_applied(obj))
            log.info("created %s %s/%s", obj["kind"], meta["namespace"], meta["name"])
            return
        patch = apply_patch(live, obj)
        if patch:
            self.kube.merge_patch(path, patch)
            log.info("updated %s %s/%s", obj["kind"], meta["namespace"], meta["name"])


def build_registry(options: OperatorOptions, reconciler: Reconciler) -> kopf.OperatorRegistry:
    """The handlers, on a registry of their own."""
    registry = kopf.OperatorRegistry()
    lock = threading.Lock()  # one reconcile at a time per process: kopf may run a timer beside an update

    def run(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        if body.metadata.get("deletionTimestamp"):
            return
        with lock:
            status, reported, events = reconciler.reconcile(dict(body))
        if not status:
            return
        patch.status.update(status)
        if reported != [p for p in body.metadata.annotations.get(REPORTED_IGNORED, "").split(",") if p]:
            patch.metadata.annotations[REPORTED_IGNORED] = ",".join(reported)
        for event in events:
            kopf.event(body, type=event.type, reason=event.reason, message=event.message)

    if options.api_server:
        url = options.api_server

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=url, insecure=True)
    # Otherwise kopf's defaults log in: the pod's service account, else the kubeconfig.

    kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry, id="reconcile-resume")(run)
    kopf.on.create(GROUP, VERSION, PLURAL, registry=registry, id="reconcile-create")(run)
    kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, id="reconcile-update", field="spec")(run)
    kopf.timer(GROUP, VERSION, PLURAL, registry=registry, id="reconcile-poll", interval=options.interval,
               initial_delay=options.interval)(run)

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="forget", optional=True)
    def forget(name: str | None, namespace: str | None, **_: Any) -> None:
        # Owner references let the API server delete what was made; object storage is never touched.
        reconciler.metrics.forget(namespace or "", name or "")

    return registry


def settings() -> kopf.OperatorSettings:
    """kopf's settings: its own progress and diff bookkeeping in annotations, so `status` holds only
    StarRocks' fields and Cairn's."""
    configured = kopf.OperatorSettings()
    configured.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="cairn.io")
    configured.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="cairn.io")
    configured.posting.level = logging.WARNING  # kopf's own log lines are not Events; ours are
    configured.watching.server_timeout = 60
    return configured


def run_operator(options: OperatorOptions, stop_flag: threading.Event | None = None,
                 ready_flag: threading.Event | None = None) -> None:
    """Run until stopped (a signal or `stop_flag`)."""
    ignored = parse_ignored_fields(Path(options.ignored_fields_file).read_text(encoding="utf-8")) \
        if options.ignored_fields_file else []
    metrics = OperatorMetrics()
    if options.metrics_port:
        metrics.serve(options.metrics_host, options.metrics_port)
    if options.kubeconfig:
        os.environ["KUBECONFIG"] = options.kubeconfig  # what kopf's own default login reads
    kube = Kube(load_configuration(options.api_server, options.kubeconfig))
    reconciler = Reconciler(kube, ignored, metrics)
    registry = build_registry(options, reconciler)
    kopf.run(registry=registry, settings=settings(), standalone=True, clusterwide=not options.namespaces,
             namespaces=options.namespaces, stop_flag=stop_flag, ready_flag=ready_flag)
