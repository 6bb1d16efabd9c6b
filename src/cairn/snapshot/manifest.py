"""`manifest.json` of a cluster snapshot: a versioned model, validated on read, with no secrets."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from cairn.errors import CairnError
from cairn.storage.volume import StorageVolume

FORMAT_VERSION = 1


class SnapshotVolume(BaseModel):
    """A storage volume as a snapshot records it: secret properties masked."""

    name: str
    type: str
    location: str
    comment: str = ""
    properties: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, volume: StorageVolume) -> "SnapshotVolume":
        return cls(name=volume.name, type=volume.type.value, location=volume.location,
                   comment=volume.comment, properties=volume.public_properties())


class SnapshotObject(BaseModel):
    """One object the snapshot needs, on the named volume, with its expected size and checksum."""

    volume: str
    key: str
    size: int
    checksum: str


class TableDigest(BaseModel):
    """Row count and content checksum of one table at the snapshot's journal id."""

    database: str
    table: str
    table_id: int
    row_count: int
    checksum: str


class SnapshotManifest(BaseModel):
    """Everything needed to verify and restore a snapshot without reading the catalog first."""

    format_version: int = FORMAT_VERSION
    name: str
    type: Literal["AUTOMATED", "MANUAL"]
    cluster_id: str
    incarnation: int
    fe_journal_id: int
    created_at: float
    image_key: str
    image_size: int
    image_checksum: str
    storage_volumes: list[SnapshotVolume]
    objects: list[SnapshotObject]
    tables: list[TableDigest]
    properties: dict[str, str] = Field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return self.model_dump_json(indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes, key: str) -> "SnapshotManifest":
        try:
            manifest = cls.model_validate(json.loads(data))
        except (ValueError, ValidationError) as exc:
            raise CairnError(f"snapshot manifest {key} is not valid: {str(exc).splitlines()[0]}") from None
        if manifest.format_version > FORMAT_VERSION:
            raise CairnError(f"snapshot manifest {key} has format {manifest.format_version}, "
                             "newer than this Cairn understands")
        return manifest
