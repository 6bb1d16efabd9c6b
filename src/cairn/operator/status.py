"""`status` of a StarRocksCluster: StarRocks' fields and names, plus Cairn's restore figures.

`disasterRecoveryStatus` keeps StarRocks' phases (`todo`, `doing`, `done`), reasons and integer unix
timestamps, so runbooks and alerts written for the StarRocks operator still match.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ClusterPhase(StrEnum):
    """`status.phase` and each component's phase."""

    RUNNING = "running"
    FAILED = "failed"
    RECONCILING = "reconciling"


class DrPhase(StrEnum):
    """`status.disasterRecoveryStatus.phase`, StarRocks' names."""

    TODO = "todo"
    DOING = "doing"
    DONE = "done"


# StarRocks' reasons (pkg/subcontrollers/fe/fe_disaster_recovery.go), then Cairn's.
REASON_IN_PROGRESS = "disaster recovery is in progress"
REASON_DONE = "disaster recovery is done"
REASON_NOT_MOUNTED = "cluster_snapshot.yaml is not mounted"
REASON_PAUSED = "disaster recovery is paused: disasterRecovery.enabled is false"
# `todo` of a generation just seen, while fe-0's pod template changes to restore mode (StarRocks says
# "has changed to pod template for disaster recovery" once it has).
REASON_TODO = "the pod template is changing for disaster recovery"


class ComponentStatus(_Model):
    """`starRocksFeStatus` / `starRocksCnStatus`."""

    phase: ClusterPhase = ClusterPhase.RECONCILING
    service_name: str = Field("", alias="serviceName")
    resource_names: list[str] = Field(default_factory=list, alias="resourceNames")
    running_instances: list[str] = Field(default_factory=list, alias="runningInstances")
    creating_instances: list[str] = Field(default_factory=list, alias="creatingInstances")
    failed_instances: list[str] = Field(default_factory=list, alias="failedInstances")
    reason: str = ""


class DisasterRecoveryStatus(_Model):
    """`disasterRecoveryStatus`; `snapshotName`, `snapshotPath`, `journalId` and
    `restoreDurationSeconds` are Cairn's (deploy/crd/README.md)."""

    phase: DrPhase = DrPhase.TODO
    reason: str = ""
    observed_generation: int = Field(0, alias="observedGeneration")
    start_timestamp: int = Field(0, alias="startTimestamp")
    end_timestamp: int = Field(0, alias="endTimestamp")
    snapshot_name: str | None = Field(None, alias="snapshotName")
    snapshot_path: str | None = Field(None, alias="snapshotPath")
    journal_id: int | None = Field(None, alias="journalId")
    restore_duration_seconds: float | None = Field(None, alias="restoreDurationSeconds")

    @property
    def blocked(self) -> bool:
        """True when the recovery waits in `todo` for something missing (its reason says what)."""
        return self.phase == DrPhase.TODO and self.reason not in ("", REASON_TODO)


class Condition(_Model):
    """A Kubernetes condition (`type`, `status` True|False|Unknown, `reason`, `message`)."""

    type: str
    status: str
    reason: str
    message: str = ""
    last_transition_time: str = Field("", alias="lastTransitionTime")
    observed_generation: int | None = Field(None, alias="observedGeneration")


class ClusterStatus(_Model):
    """`status` of a StarRocksCluster."""

    phase: ClusterPhase = ClusterPhase.RECONCILING
    fe: ComponentStatus | None = Field(None, alias="starRocksFeStatus")
    cn: ComponentStatus | None = Field(None, alias="starRocksCnStatus")
    disaster_recovery: DisasterRecoveryStatus | None = Field(None, alias="disasterRecoveryStatus")
    conditions: list[Condition] = Field(default_factory=list)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "ClusterStatus":
        """The status part of the resource (kopf's own bookkeeping in it is ignored)."""
        return cls.model_validate(body.get("status") or {})

    def to_body(self) -> dict[str, Any]:
        """The status as it is written to the API server."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def condition(self, kind: str) -> Condition | None:
        """The condition of type `kind`, if set."""
        return next((c for c in self.conditions if c.type == kind), None)
