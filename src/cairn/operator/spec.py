"""The parts of a `StarRocksCluster` spec (starrocks.com/v1, StarRocks operator v1.10) that Cairn uses.

Field names are StarRocks' own (camelCase); every other field of StarRocks' schema is accepted and
kept (`extra="allow"`), so a manifest written for the StarRocks operator validates unchanged. Cairn's
additions (deploy/crd/README.md): `disasterRecovery.snapshotPath` / `storageVolumes`, and
`spec.cairn` naming the Secrets that hold the cluster credential and the catalog key.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ConfigMapInfo(_Model):
    """The ConfigMap holding `fe.conf` / `cn.conf` (`resolveKey` names the key)."""

    config_map_name: str = Field("", alias="configMapName")
    resolve_key: str = Field("", alias="resolveKey")


class MountReference(_Model):
    """A ConfigMap or Secret the user mounts into the pods (`configMaps` / `secrets`)."""

    name: str
    mount_path: str = Field("", alias="mountPath")
    sub_path: str = Field("", alias="subPath")


class StorageVolume(_Model):
    """A PersistentVolumeClaim template (`storageVolumes`)."""

    name: str
    storage_class_name: str | None = Field(None, alias="storageClassName")
    storage_size: str = Field("", alias="storageSize")
    mount_path: str = Field("", alias="mountPath")


class SecretKey(_Model):
    """Cairn: a key of a Secret in the cluster's namespace."""

    name: str
    key: str = ""


class CairnSpec(_Model):
    """`spec.cairn`: the Secrets with the cluster credential (every pod) and the catalog key (FEs)."""

    cluster_credential_secret: SecretKey | None = Field(None, alias="clusterCredentialSecret")
    catalog_key_secret: SecretKey | None = Field(None, alias="catalogKeySecret")

    def credential(self) -> SecretKey | None:
        """The cluster credential's Secret and key (default key `cluster-credential`)."""
        ref = self.cluster_credential_secret
        return ref.model_copy(update={"key": ref.key or "cluster-credential"}) if ref else None

    def catalog_key(self) -> SecretKey | None:
        """The catalog key's Secret and key (default key `catalog-key`)."""
        ref = self.catalog_key_secret
        return ref.model_copy(update={"key": ref.key or "catalog-key"}) if ref else None


class ComponentSpec(_Model):
    """What `starRocksFeSpec` and `starRocksCnSpec` share."""

    image: str = ""
    replicas: int | None = None
    config_map_info: ConfigMapInfo = Field(default_factory=ConfigMapInfo, alias="configMapInfo")
    config_maps: list[MountReference] = Field(default_factory=list, alias="configMaps")
    secrets: list[MountReference] = Field(default_factory=list)
    storage_volumes: list[StorageVolume] = Field(default_factory=list, alias="storageVolumes")
    resources: dict[str, Any] = Field(default_factory=dict)
    limits: dict[str, Any] = Field(default_factory=dict)
    requests: dict[str, Any] = Field(default_factory=dict)
    service: dict[str, Any] = Field(default_factory=dict)
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector")
    affinity: dict[str, Any] | None = None
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    pod_labels: dict[str, str] = Field(default_factory=dict, alias="podLabels")
    annotations: dict[str, str] = Field(default_factory=dict)
    startup_probe_failure_seconds: int | None = Field(None, alias="startupProbeFailureSeconds")
    liveness_probe_failure_seconds: int | None = Field(None, alias="livenessProbeFailureSeconds")
    readiness_probe_failure_seconds: int | None = Field(None, alias="readinessProbeFailureSeconds")


class FeSpec(ComponentSpec):
    """`starRocksFeSpec`."""

    env: list[dict[str, Any]] = Field(default_factory=list, alias="feEnvVars")


class CnSpec(ComponentSpec):
    """`starRocksCnSpec`."""

    env: list[dict[str, Any]] = Field(default_factory=list, alias="cnEnvVars")


class SnapshotVolumeProperty(_Model):
    """One `key: value` pair of a storage volume's properties, as in `cluster_snapshot.yaml`."""

    key: str
    value: str


class SnapshotStorageVolume(_Model):
    """Cairn: a storage volume to restore with (`cluster_snapshot.yaml`'s `storage_volumes`)."""

    name: str
    type: str = "S3"
    location: str
    comment: str = ""
    properties: list[SnapshotVolumeProperty] = Field(default_factory=list)


class DisasterRecovery(_Model):
    """`disasterRecovery`: StarRocks' `enabled` and `generation`; Cairn's `snapshotPath` (a `.../meta`
    path means the newest complete snapshot under it) and `storageVolumes`, from which the operator
    writes `cluster_snapshot.yaml` itself."""

    enabled: bool = False
    generation: int = 0
    snapshot_path: str = Field("", alias="snapshotPath")
    storage_volume_name: str = Field("builtin_storage_volume", alias="storageVolumeName")
    storage_volumes: list[SnapshotStorageVolume] = Field(default_factory=list, alias="storageVolumes")


class ClusterSpec(_Model):
    """`spec` of a StarRocksCluster."""

    fe: FeSpec | None = Field(None, alias="starRocksFeSpec")
    cn: CnSpec | None = Field(None, alias="starRocksCnSpec")
    disaster_recovery: DisasterRecovery | None = Field(None, alias="disasterRecovery")
    cairn: CairnSpec = Field(default_factory=CairnSpec)


class ObjectMeta(_Model):
    """The metadata of the custom resource the operator reads."""

    name: str
    namespace: str = "default"
    uid: str = ""
    generation: int = 0
    deletion_timestamp: str | None = Field(None, alias="deletionTimestamp")


class StarRocksCluster(_Model):
    """A `StarRocksCluster` custom resource (its status is read separately, `status.py`)."""

    metadata: ObjectMeta
    spec: ClusterSpec = Field(default_factory=ClusterSpec)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "StarRocksCluster":
        """The resource as the API server sends it (a dict)."""
        return cls.model_validate({"metadata": body.get("metadata", {}), "spec": body.get("spec") or {}})
