"""`manifest.json` of a cluster snapshot: validated on read, authenticated like a journal entry, no secrets.

A manifest is signed with the catalog key (format 2), so that nobody without the key (a compute
node, a user of the bucket) can change which image, journal id or objects a restore trusts. A
manifest written before manifests were signed (format 1, LEGACY) is still read: see
`snapshot.verify.check_snapshot_image` for when it is trusted.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from cairn.errors import CairnError
from cairn.journal.signed import SignedModel
from cairn.storage.volume import StorageVolume


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


class SnapshotManifestError(CairnError):
    """A snapshot's manifest or image cannot be trusted: damaged, forged, altered or swapped."""


class SnapshotManifest(SignedModel):
    """Everything needed to verify and restore a snapshot without reading the catalog first."""

    KIND: ClassVar[str] = "snapshot manifest"
    ERROR: ClassVar[type[CairnError]] = SnapshotManifestError
    SEALED_PATH: ClassVar[tuple[str, ...]] = ()  # volume secrets are masked, never stored

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
