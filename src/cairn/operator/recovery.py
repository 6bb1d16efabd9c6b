"""The disaster-recovery state machine, StarRocks' phases and reasons (fe_disaster_recovery.go),
without the faults StarRocks users hit:

1. `todo` when DR is first seen, or when `generation` has risen; the operator then applies the FE
   StatefulSet in restore mode (only `fe-0`, `cluster_snapshot.yaml` mounted, CNs left as they are);
2. `doing` ("disaster recovery is in progress") once that StatefulSet is applied;
3. `done` ("disaster recovery is done") when the pod `fe-0` of this generation is ready. A pod
   belongs to a generation by its `cairn.io/disaster-recovery-generation` label, never by matching
   any environment value.

A missing `cluster_snapshot.yaml`, ConfigMap or Secret keeps the phase at `todo` with a reason that
says what is missing; it does not fail the reconcile. Everything here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.operator import names
from cairn.operator.observed import Observed
from cairn.operator.spec import MountReference, StarRocksCluster
from cairn.operator.status import (
    REASON_DONE,
    REASON_IN_PROGRESS,
    REASON_NOT_MOUNTED,
    REASON_PAUSED,
    REASON_TODO,
    DisasterRecoveryStatus,
    DrPhase,
)


@dataclass(frozen=True)
class SnapshotSource:
    """Where fe-0 finds cluster_snapshot.yaml: the user's ConfigMap and its key, or, `written`, the
    Secret the operator writes from `snapshotPath` and its key."""

    name: str
    key: str
    written: bool


def snapshot_mount(cr: StarRocksCluster) -> MountReference | None:
    """The user's mount that carries cluster_snapshot.yaml (StarRocks' rule: a subPath naming the
    file, or a ConfigMap mounted over fe/conf)."""
    fe = cr.spec.fe
    for mount in fe.config_maps if fe else []:
        path = mount.mount_path.rstrip("/")
        if names.CLUSTER_SNAPSHOT_FILE in mount.sub_path or path.endswith("fe/conf") \
                or path.endswith("/" + names.CLUSTER_SNAPSHOT_FILE):
            return mount
    return None


def snapshot_source(cr: StarRocksCluster) -> SnapshotSource | None:
    """Where the restore reads cluster_snapshot.yaml from; None when the spec gives no way."""
    dr = cr.spec.disaster_recovery
    if dr is not None and dr.snapshot_path:
        return SnapshotSource(names.snapshot_secret(cr.metadata.name), names.CLUSTER_SNAPSHOT_FILE, written=True)
    mount = snapshot_mount(cr)
    if mount is None:
        return None
    return SnapshotSource(mount.name, mount.sub_path or names.CLUSTER_SNAPSHOT_FILE, written=False)


def missing_secrets(cr: StarRocksCluster, observed: Observed) -> list[str]:
    """The Secrets (or keys of them) the spec names that do not exist: what a pod cannot start without."""
    missing = []
    for what, ref in (("cairn.clusterCredentialSecret", cr.spec.cairn.credential()),
                      ("cairn.catalogKeySecret", cr.spec.cairn.catalog_key())):
        if ref is None:
            continue
        keys = observed.secrets.get(ref.name)
        if keys is None:
            missing.append(f"Secret {ref.name} ({what}) is not found")
        elif ref.key not in keys:
            missing.append(f"Secret {ref.name} ({what}) has no key {ref.key}")
    return missing


def blocked_reason(cr: StarRocksCluster, observed: Observed) -> str:
    """Why disaster recovery cannot start now ('' when it can)."""
    source = snapshot_source(cr)
    if source is None:
        return REASON_NOT_MOUNTED
    if not source.written:
        data = observed.config_maps.get(source.name)
        if data is None:
            return f"{REASON_NOT_MOUNTED}: ConfigMap {source.name} is not found"
        if source.key not in data:
            return f"{REASON_NOT_MOUNTED}: ConfigMap {source.name} has no key {source.key}"
    secrets = missing_secrets(cr, observed)
    if secrets:
        return "disaster recovery needs the cluster's Secrets: " + "; ".join(secrets)
    return ""


def in_recovery(cr: StarRocksCluster, status: DisasterRecoveryStatus | None) -> bool:
    """True while the FE runs in restore mode: DR enabled, this generation observed and not done."""
    dr = cr.spec.disaster_recovery
    return (dr is not None and dr.enabled and status is not None and status.observed_generation == dr.generation
            and status.phase != DrPhase.DONE)


def next_recovery_status(cr: StarRocksCluster, current: DisasterRecoveryStatus | None, observed: Observed,
                         applied_generation: int | None) -> DisasterRecoveryStatus | None:
    """The next `disasterRecoveryStatus`. `applied_generation` is the DR generation of the FE
    StatefulSet's pod template as observed (None: not in restore mode)."""
    dr = cr.spec.disaster_recovery
    if dr is None or not dr.enabled:
        if current is not None and current.phase != DrPhase.DONE:
            return current.model_copy(update={"reason": REASON_PAUSED})
        return current
    if current is not None and dr.generation < current.observed_generation:
        return current  # a lowered generation runs nothing (StarRocks does the same)
    if current is None or dr.generation > current.observed_generation:
        current = DisasterRecoveryStatus(phase=DrPhase.TODO, reason=REASON_TODO, observed_generation=dr.generation,
                                         start_timestamp=observed.now)
    if current.phase == DrPhase.DONE:
        return current
    blocked = blocked_reason(cr, observed)
    if blocked:
        return current.model_copy(update={"phase": DrPhase.TODO, "reason": blocked})
    if current.phase == DrPhase.TODO or current.reason != REASON_IN_PROGRESS:
        if applied_generation != dr.generation:
            # The restore-mode StatefulSet goes out with this reconcile; `doing` once it is there.
            return current.model_copy(update={"phase": DrPhase.TODO, "reason": REASON_TODO})
        return current.model_copy(update={"phase": DrPhase.DOING, "reason": REASON_IN_PROGRESS})
    fe0 = observed.pod(names.pod(cr.metadata.name, names.FE, 0))
    if fe0 is not None and fe0.dr_generation == dr.generation and fe0.ready:
        report = observed.restore_report
        update: dict[str, object] = {"phase": DrPhase.DONE, "reason": REASON_DONE, "end_timestamp": observed.now}
        if report is not None:
            update.update(snapshot_name=report.snapshot_name, snapshot_path=report.snapshot_path,
                          journal_id=report.journal_id, restore_duration_seconds=report.seconds)
        return current.model_copy(update=update)
    return current
