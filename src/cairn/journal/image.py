"""Checkpoint images: the whole catalog at one journal position (DESIGN invariant 3)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from cairn.errors import CairnError, JournalError, ObjectExistsError
from cairn.formats import VersionedModel
from cairn.journal.position import JournalPosition
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore


class CheckpointImage(VersionedModel):
    """A serialized catalog and the journal position it reflects."""

    KIND: ClassVar[str] = "checkpoint image"
    COMPRESSED: ClassVar[bool] = True
    ERROR: ClassVar[type[CairnError]] = JournalError

    cluster_id: str
    incarnation: int
    entry_id: int
    created_at: float
    catalog: dict[str, Any]

    @property
    def position(self) -> JournalPosition:
        return JournalPosition(self.incarnation, self.entry_id)


def make_image(cluster_id: str, position: JournalPosition, catalog: dict[str, Any]) -> CheckpointImage:
    return CheckpointImage(cluster_id=cluster_id, incarnation=position.incarnation,
                           entry_id=position.entry_id, created_at=time.time(), catalog=catalog)


def write_image(store: ObjectStore, key: str, image: CheckpointImage) -> bool:
    """Write an image with a create-if-absent put; False if one already exists at that key."""
    try:
        store.put_if_absent(key, image.to_bytes())
    except ObjectExistsError:
        return False
    return True


@dataclass(frozen=True)
class ImageInfo:
    """A checkpoint image as a listing shows it: its key, position, and when the store wrote it."""

    key: str
    position: JournalPosition
    written_at: float


def list_images(store: ObjectStore, keys: ClusterKeys, incarnation: int | None = None) -> list[ImageInfo]:
    """The checkpoint images of `incarnation` (every incarnation when None), oldest position first."""
    found = []
    for info in store.list(keys.image_prefix):
        if info.key.count("/") != keys.image_prefix.count("/"):
            continue  # snapshot folders live beside the images
        position = ClusterKeys.parse_image(info.key)
        if position is None or (incarnation is not None and position.incarnation != incarnation):
            continue
        found.append(ImageInfo(info.key, position, info.last_modified.timestamp()))
    return sorted(found, key=lambda image: image.position)


def latest_image_key(store: ObjectStore, keys: ClusterKeys, incarnation: int) -> tuple[str, JournalPosition] | None:
    """The newest checkpoint image of `incarnation`, or None if it has none yet."""
    images = list_images(store, keys, incarnation)
    return (images[-1].key, images[-1].position) if images else None
