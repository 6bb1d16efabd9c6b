"""What the operator sees of a cluster when it reconciles: its pods, StatefulSets, ConfigMaps and
Secrets (names and keys only, never values), the members its FEs list, and the clock."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from cairn.operator.names import DR_GENERATION_LABEL


class ObservedPod(BaseModel):
    """A pod of the cluster: its name, component (`fe` | `cn`), DR generation label, readiness."""

    name: str
    component: str
    ready: bool = False
    phase: str = "Pending"  # the pod's status.phase
    dr_generation: int | None = None
    ip: str = ""
    revision: str = ""  # the StatefulSet revision it was made from (controller-revision-hash)
    leader: bool = False  # an FE that says it leads (its /api/health)

    @classmethod
    def from_body(cls, body: dict[str, Any], component: str) -> "ObservedPod":
        """A Pod object as the API server sends it."""
        labels = (body.get("metadata") or {}).get("labels") or {}
        status = body.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        generation = labels.get(DR_GENERATION_LABEL)
        return cls(name=body["metadata"]["name"], component=component, ready=ready,
                   phase=status.get("phase") or "Pending", ip=status.get("podIP") or "",
                   revision=labels.get("controller-revision-hash") or "",
                   dr_generation=int(generation) if generation and generation.isdigit() else None)


class RestoreReport(BaseModel):
    """What the restored FE reported of its restore (Cairn's extra DR status fields)."""

    snapshot_name: str = ""
    snapshot_path: str = ""
    journal_id: int = 0
    seconds: float = 0.0


class Observed(BaseModel):
    """The world as one reconcile sees it. `now` is unix seconds."""

    now: int
    pods: list[ObservedPod] = Field(default_factory=list)
    # StatefulSet name → its current spec.replicas.
    statefulset_replicas: dict[str, int] = Field(default_factory=dict)
    # StatefulSet name → the DR generation label of its pod template (absent: not in restore mode).
    statefulset_dr_generation: dict[str, int] = Field(default_factory=dict)
    # StatefulSet names whose rollout is not finished (pods of an older template, or a spec change
    # the controller has not seen yet).
    statefulsets_rolling: list[str] = Field(default_factory=list)
    # StatefulSet name → the revision of its current template (status.updateRevision).
    statefulset_update_revision: dict[str, str] = Field(default_factory=dict)
    # ConfigMap name → its data keys and values (fe.conf / cn.conf are read for their ports).
    config_maps: dict[str, dict[str, str]] = Field(default_factory=dict)
    # Secret name → the keys it holds.
    secrets: dict[str, list[str]] = Field(default_factory=dict)
    # host:port of every FE / compute node the cluster's catalog lists; None when no FE answered.
    fe_members: list[str] | None = None
    cn_members: list[str] | None = None
    restore_report: RestoreReport | None = None
    # Compute nodes (host:heartbeat_service_port) this reconcile has had the cluster drop, ahead of a scale-in.
    cn_dropped: list[str] = Field(default_factory=list)
    # FEs (host:edit_log_port) this reconcile has had the cluster drop, ahead of a scale-in.
    fe_dropped: list[str] = Field(default_factory=list)
    # Why an FE scale-in waits this time ('' when it does not): shown as starRocksFeStatus.reason.
    fe_scale_in_waiting: str = ""

    def pods_of(self, component: str) -> list[ObservedPod]:
        """The pods of one component, in ordinal order."""
        return sorted((p for p in self.pods if p.component == component),
                      key=lambda p: int(p.name.rsplit("-", 1)[-1]) if p.name.rsplit("-", 1)[-1].isdigit() else 0)

    def pod(self, name: str) -> ObservedPod | None:
        """The pod called `name`, if it exists."""
        return next((p for p in self.pods if p.name == name), None)
