"""`cluster_snapshot.yaml`, exactly as StarRocks takes it (REFERENCE.md), plus Cairn's `restore_to`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cairn.errors import ConfigError
from cairn.secrets import register_secret
from cairn.storage.volume import SECRET_PROPERTIES, StorageVolume, VolumeType


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RestoreTarget(_Strict):
    """Point-in-time recovery: replay the snapshot's log up to a journal id or a time."""

    journal_id: int | None = None
    time: str | None = None


class SnapshotSection(_Strict):
    cluster_snapshot_path: str
    storage_volume_name: str | None = None
    restore_to: RestoreTarget | None = None


class FrontendEntry(_Strict):
    host: str
    edit_log_port: int = 9010
    type: Literal["follower", "observer"] = "follower"


class ComputeNodeEntry(_Strict):
    host: str
    heartbeat_service_port: int = 9050


class VolumeProperty(_Strict):
    key: str
    value: str


class VolumeEntry(_Strict):
    name: str
    type: str
    location: str
    comment: str = ""
    properties: list[VolumeProperty] = Field(default_factory=list)

    def to_volume(self) -> StorageVolume:
        props = {p.key: p.value for p in self.properties}
        for key in SECRET_PROPERTIES & props.keys():
            register_secret(props[key])
        try:
            kind = VolumeType(self.type.upper())
        except ValueError:
            raise ConfigError(f"cluster_snapshot.yaml: storage_volumes[{self.name}].type '{self.type}' "
                              "is not S3 or LOCAL") from None
        return StorageVolume(name=self.name, type=kind, locations=[self.location], comment=self.comment,
                             properties=props)


class ClusterSnapshotYaml(_Strict):
    """The whole file. Absent `frontends` / `compute_nodes` keep the snapshot's lists; given ones
    replace them ([] = none)."""

    cluster_snapshot: SnapshotSection | None = None
    frontends: list[FrontendEntry] | None = None
    compute_nodes: list[ComputeNodeEntry] | None = None
    storage_volumes: list[VolumeEntry] | None = None

    def volume(self, name: str) -> StorageVolume | None:
        entry = next((v for v in self.storage_volumes or [] if v.name == name), None)
        return entry.to_volume() if entry else None


def read_snapshot_yaml(path: str | Path) -> ClusterSnapshotYaml:
    """Parse and validate the file; ConfigError naming the file and the offending key."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"cluster snapshot file not found: {file}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return ClusterSnapshotYaml()
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping at the top level")
    try:
        parsed = ClusterSnapshotYaml.model_validate(data)
    except ValidationError as exc:
        # A misspelled key also leaves a required one missing: name the misspelling first.
        first = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        key = ".".join(str(p) for p in first["loc"])
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{file}: '{key}': {message}") from None
    listed = [f"{f.host}:{f.edit_log_port}" for f in parsed.frontends or []]
    twice = sorted({address for address in listed if listed.count(address) > 1})
    if twice:
        raise ConfigError(f"{file}: 'frontends' lists {twice[0]} more than once")
    section = parsed.cluster_snapshot
    if section and section.storage_volume_name and parsed.storage_volumes is not None and \
            parsed.volume(section.storage_volume_name) is None:
        raise ConfigError(f"{file}: 'cluster_snapshot.storage_volume_name' is '{section.storage_volume_name}', "
                          "which is not among 'storage_volumes'")
    return parsed
