"""One reconcile, decided without I/O: the next status of a StarRocksCluster and the Events its
change deserves. `objects.desired_objects` gives the objects for that status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cairn.operator import names
from cairn.operator.observed import Observed
from cairn.operator.recovery import in_recovery, missing_secrets, next_recovery_status
from cairn.operator.spec import ComponentSpec, StarRocksCluster
from cairn.operator.status import (
    REASON_DONE,
    REASON_IN_PROGRESS,
    REASON_PAUSED,
    ClusterPhase,
    ClusterStatus,
    ComponentStatus,
    Condition,
    DisasterRecoveryStatus,
    DrPhase,
)

READY = "Ready"
DISASTER_RECOVERY = "DisasterRecovery"
SECRETS = "SecretsFound"


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the resource: `type` Normal | Warning."""

    type: str
    reason: str
    message: str


def _component(cr: StarRocksCluster, observed: Observed, component: str, spec: ComponentSpec | None,
               default_replicas: int) -> ComponentStatus | None:
    if spec is None:
        return None
    name = cr.metadata.name
    pods = observed.pods_of(component)
    running = [p.name for p in pods if p.ready]
    failed = [p.name for p in pods if p.phase == "Failed"]
    creating = [p.name for p in pods if not p.ready and p.phase != "Failed"]
    sts = names.statefulset(name, component)
    expected = observed.statefulset_replicas.get(sts, spec.replicas if spec.replicas is not None else default_replicas)
    # A scale-in that cannot drop its FEs yet keeps the cluster reconciling, and says why.
    reason = observed.fe_scale_in_waiting if component == names.FE else ""
    if failed:
        phase = ClusterPhase.FAILED
    elif len(running) >= expected and not creating and sts in observed.statefulset_replicas \
            and sts not in observed.statefulsets_rolling and not reason:
        phase = ClusterPhase.RUNNING
    else:
        phase = ClusterPhase.RECONCILING
    service = names.access_service(name, component) if component == names.FE else names.search_service(name, component)
    return ComponentStatus(phase=phase, service_name=service, resource_names=[sts], running_instances=running,
                           creating_instances=creating, failed_instances=failed, reason=reason)


def _stamp(now: int) -> str:
    return datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(previous: ClusterStatus, kind: str, state: bool, reason: str, message: str, now: int) -> Condition:
    value = "True" if state else "False"
    old = previous.condition(kind)
    since = old.last_transition_time if old is not None and old.status == value and old.last_transition_time \
        else _stamp(now)
    return Condition(type=kind, status=value, reason=reason, message=message, last_transition_time=since)


def _dr_condition_reason(dr: DisasterRecoveryStatus) -> tuple[bool, str]:
    if dr.phase == DrPhase.DONE:
        return True, "Done"
    if dr.reason == REASON_PAUSED:
        return False, "Paused"
    if dr.reason == REASON_IN_PROGRESS:
        return False, "InProgress"
    if dr.blocked:
        return False, "Blocked"
    return False, "Pending"


def next_status(cr: StarRocksCluster, status: ClusterStatus, observed: Observed) -> ClusterStatus:
    """The status after this reconcile. `observed.statefulset_dr_generation` tells whether the
    restore-mode FE StatefulSet is already applied (todo → doing)."""
    applied = observed.statefulset_dr_generation.get(names.statefulset(cr.metadata.name, names.FE))
    dr = next_recovery_status(cr, status.disaster_recovery, observed, applied)
    fe = _component(cr, observed, names.FE, cr.spec.fe, 3)
    cn = _component(cr, observed, names.CN, cr.spec.cn, 1)
    phases = [c.phase for c in (fe, cn) if c is not None]
    if ClusterPhase.FAILED in phases:
        phase = ClusterPhase.FAILED
    elif phases and all(p == ClusterPhase.RUNNING for p in phases) and not in_recovery(cr, dr):
        phase = ClusterPhase.RUNNING
    else:
        phase = ClusterPhase.RECONCILING
    conditions = [_condition(status, READY, phase == ClusterPhase.RUNNING, phase.value.capitalize(),
                             f"the cluster is {phase.value}", observed.now)]
    secrets = missing_secrets(cr, observed)
    conditions.append(_condition(status, SECRETS, not secrets, "Missing" if secrets else "Found",
                                 "; ".join(secrets) or "every Secret the spec names exists", observed.now))
    if dr is not None:
        state, reason = _dr_condition_reason(dr)
        conditions.append(_condition(status, DISASTER_RECOVERY, state, reason,
                                     f"generation {dr.observed_generation}: {dr.phase.value}"
                                     + (f" ({dr.reason})" if dr.reason else ""), observed.now))
    for condition in conditions:
        condition.observed_generation = cr.metadata.generation or None
    return ClusterStatus(phase=phase, fe=fe, cn=cn, disaster_recovery=dr, conditions=conditions)


def transition_events(before: ClusterStatus, after: ClusterStatus) -> list[Event]:
    """One Event per transition: the cluster's phase, the DR phase and reason, and each condition."""
    events: list[Event] = []
    if before.phase != after.phase:
        kind = "Warning" if after.phase == ClusterPhase.FAILED else "Normal"
        events.append(Event(kind, "ClusterPhase", f"cluster phase {before.phase.value} -> {after.phase.value}"))
    old, new = before.disaster_recovery, after.disaster_recovery
    if new is not None and (old is None or (old.phase, old.reason, old.observed_generation)
                            != (new.phase, new.reason, new.observed_generation)):
        blocked = new.blocked
        kind = "Warning" if blocked or new.reason == REASON_PAUSED else "Normal"
        message = f"disaster recovery generation {new.observed_generation}: {new.phase.value}"
        if new.reason:
            message += f": {new.reason}"
        if new.reason == REASON_DONE and new.snapshot_name:
            message += (f" (snapshot {new.snapshot_name}, journal id {new.journal_id}, "
                        f"restored in {new.restore_duration_seconds or 0:.1f} s)")
        events.append(Event(kind, "DisasterRecoveryBlocked" if blocked else "DisasterRecovery", message))
    for condition in after.conditions:
        previous = before.condition(condition.type)
        if condition.type in (READY, DISASTER_RECOVERY):
            continue  # already told above
        if previous is None and condition.status == "True":
            continue
        if previous is None or previous.status != condition.status:
            kind = "Normal" if condition.status == "True" else "Warning"
            events.append(Event(kind, condition.type, condition.message))
    return events


def _is_set(value: Any) -> bool:
    return value is not None and value != {} and value != [] and value != ""


def _lookup(body: Any, path: list[str]) -> list[Any]:
    """Every value at a dotted path; `[]` in a segment walks each item of a list."""
    if not path:
        return [body]
    head, rest = path[0], path[1:]
    found: list[Any] = []
    if head.endswith("[]"):
        items = body.get(head[:-2]) if isinstance(body, dict) else None
        for item in items if isinstance(items, list) else []:
            found += _lookup(item, rest)
    elif isinstance(body, dict) and head in body:
        found += _lookup(body[head], rest)
    return found


def ignored_fields_set(spec: dict[str, Any], ignored: list[str]) -> list[str]:
    """The ignored fields (dotted paths under `spec`, e.g. `starRocksBeSpec` or
    `starRocksFeSpec.storageSpec.logStorageSize`) this spec sets."""
    return [path for path in ignored if any(_is_set(v) for v in _lookup(spec, path.split(".")))]


def parse_ignored_fields(text: str) -> list[str]:
    """deploy/crd/ignored-fields.txt: one dotted path per line (after an optional `spec.`), `#` comments."""
    paths = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            paths.append(line.split()[0].removeprefix("spec."))
    return paths


def ignored_field_events(spec: dict[str, Any], ignored: list[str], already: list[str]) -> tuple[list[Event], list[str]]:
    """An Event for each ignored field that is set and not yet reported, and the new reported list."""
    fresh = [path for path in ignored_fields_set(spec, ignored) if path not in already]
    events = [Event("Warning", "IgnoredField", f"spec.{path} is set, but Cairn ignores it") for path in fresh]
    return events, [*already, *fresh]
