"""Checkpoint images: the whole catalog at one journal position (DESIGN invariant 3).

An image is authenticated like a journal entry and its secrets are sealed. Start-up loads the
newest image it can authenticate: one that does not authenticate (forged, or under a key this FE
does not hold) is reported and passed over for an older one.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from cairn import keyring
from cairn.errors import CairnError, JournalError, ObjectExistsError
from cairn.journal.position import JournalPosition
from cairn.journal.signed import Authenticity, SignedModel
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore

log = logging.getLogger(__name__)


class CheckpointImage(SignedModel):
    """A serialized catalog, the journal position it reflects and the epoch of the FE that wrote it."""

    KIND: ClassVar[str] = "checkpoint image"
    COMPRESSED: ClassVar[bool] = True
    ERROR: ClassVar[type[CairnError]] = JournalError
    SEALED_PATH: ClassVar[tuple[str, ...]] = ("catalog", "storage_volumes")  # where the catalog keeps secrets

    cluster_id: str
    incarnation: int
    entry_id: int
    created_at: float
    epoch: int = 0
    # True in a snapshot's image whose manifest is signed: an unsigned (legacy) manifest beside it
    # was swapped in, not written before manifests were signed. Absent from older images.
    signed_manifest: bool = False
    catalog: dict[str, Any]

    @property
    def position(self) -> JournalPosition:
        return JournalPosition(self.incarnation, self.entry_id)


def make_image(cluster_id: str, position: JournalPosition, catalog: dict[str, Any]) -> CheckpointImage:
    return CheckpointImage(cluster_id=cluster_id, incarnation=position.incarnation, entry_id=position.entry_id,
                           created_at=time.time(), epoch=int(catalog.get("epoch", 0)), catalog=catalog)


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


def load_newest_image(store: ObjectStore, keys: ClusterKeys, incarnation: int,
                      until: int | None = None) -> CheckpointImage | None:
    """The newest image at or before `until` that authenticates; a legacy (format 1) image only when
    no newer one authenticates. None when the incarnation has no usable image.

    Raises CatalogKeyError, naming the conf key and variable, when images exist but every one was
    written under a catalog key this FE does not hold."""
    legacy: CheckpointImage | None = None
    unknown_key = ""
    for info in reversed(list_images(store, keys, incarnation)):
        if until is not None and info.position.entry_id > until:
            continue
        key = info.key
        image: CheckpointImage = CheckpointImage.from_bytes(store.get(key), key)
        if image.authenticity is Authenticity.AUTHENTIC:
            return image
        if image.authenticity is Authenticity.LEGACY:
            legacy = legacy or image
        elif image.authenticity is Authenticity.UNKNOWN_KEY:
            unknown_key = unknown_key or image.key_id
            log.error("checkpoint image %s is signed with catalog key %s, which this FE does not hold; "
                      "passing over it", key, image.key_id)
        else:
            log.error("checkpoint image %s does not authenticate (forged or altered); passing over it", key)
    if legacy is not None:
        return legacy
    if unknown_key:
        keyring.current().require_key(unknown_key, "the newest checkpoint image")
    return None
