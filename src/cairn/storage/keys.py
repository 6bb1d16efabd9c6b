"""The one module that builds object keys (DESIGN: object layout on a storage volume).

Every key is relative to a storage volume's location and starts with the cluster id. Data and
manifest keys carry a random part, so a key is never reused across incarnations (invariant 1).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from cairn.journal.position import JournalPosition

_IMAGE_NAME = re.compile(r"^image\.(\d+)\.(\d+)$")
_EPOCH_NAME = re.compile(r"^(\d+)\.(\d+)$")
SNAPSHOT_MANIFEST = "manifest.json"
SNAPSHOT_DONE = "SNAPSHOT_DONE"
SNAPSHOT_IMAGE = "image"


def unique_suffix() -> str:
    """A random, never-repeating part for object names."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ClusterKeys:
    """Builds the keys of one cluster's objects on a storage volume."""

    cluster_id: str

    @staticmethod
    def of_key(key: str) -> "ClusterKeys":
        """The keys of the cluster that object `key` belongs to (every key starts with its cluster id)."""
        return ClusterKeys(key.split("/", 1)[0])

    # -- meta ------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        return f"{self.cluster_id}/"

    @property
    def incarnations_prefix(self) -> str:
        return f"{self.cluster_id}/meta/incarnations/"

    def incarnation(self, number: int) -> str:
        return f"{self.incarnations_prefix}{number:06d}.json"

    @staticmethod
    def parse_incarnation(key: str) -> int | None:
        name = key.rsplit("/", 1)[-1]
        stem = name.removesuffix(".json")
        return int(stem) if stem.isdigit() and name.endswith(".json") else None

    def journal_prefix(self, incarnation: int) -> str:
        return f"{self.cluster_id}/meta/journal/{incarnation:06d}/"

    def journal_entry(self, incarnation: int, entry_id: int) -> str:
        return f"{self.journal_prefix(incarnation)}{entry_id:020d}"

    @staticmethod
    def parse_journal_entry(key: str) -> int | None:
        name = key.rsplit("/", 1)[-1]
        return int(name) if name.isdigit() else None

    @property
    def epochs_prefix(self) -> str:
        return f"{self.cluster_id}/meta/epochs/"

    def epoch(self, incarnation: int, epoch: int) -> str:
        # Incarnation first: every epoch of a later incarnation sorts after every one of an earlier.
        return f"{self.epochs_prefix}{incarnation:06d}.{epoch:020d}"

    @staticmethod
    def parse_epoch(key: str) -> tuple[int, int] | None:
        match = _EPOCH_NAME.match(key.rsplit("/", 1)[-1])
        return (int(match.group(1)), int(match.group(2))) if match else None

    @property
    def image_prefix(self) -> str:
        return f"{self.cluster_id}/meta/image/"

    def image(self, position: JournalPosition) -> str:
        # The incarnation is part of the name: two incarnations may both reach a journal id.
        return f"{self.image_prefix}image.{position.incarnation:06d}.{position.entry_id:020d}"

    @staticmethod
    def parse_image(key: str) -> JournalPosition | None:
        match = _IMAGE_NAME.match(key.rsplit("/", 1)[-1])
        if match is None:
            return None
        return JournalPosition(int(match.group(1)), int(match.group(2)))

    def snapshot_dir(self, name: str) -> str:
        return f"{self.image_prefix}{name}/"

    def snapshot_object(self, name: str, part: str) -> str:
        return f"{self.snapshot_dir(name)}{part}"

    # -- data ------------------------------------------------------------------------------

    @property
    def data_prefix(self) -> str:
        return f"{self.cluster_id}/data/"

    def table_prefix(self, db_id: int, table_id: int) -> str:
        return f"{self.data_prefix}{db_id}/{table_id}/"

    def partition_prefix(self, db_id: int, table_id: int, partition_id: int) -> str:
        return f"{self.table_prefix(db_id, table_id)}{partition_id}/"

    def data_file(self, db_id: int, table_id: int, partition_id: int, tablet_id: int) -> str:
        return f"{self.partition_prefix(db_id, table_id, partition_id)}{tablet_id}_{unique_suffix()}.parquet"

    def partition_manifest(self, db_id: int, table_id: int, partition_id: int, version: int) -> str:
        return (f"{self.partition_prefix(db_id, table_id, partition_id)}"
                f"manifest.{version:012d}.{unique_suffix()}.json")
