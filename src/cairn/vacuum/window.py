"""The point-in-time window's versions: every partition manifest visible at some moment of the window,
in every incarnation whose log reaches into it, read from a checkpoint image (never from entry 0)."""

from __future__ import annotations

from collections import defaultdict

from cairn.catalog.model import CatalogState
from cairn.errors import JournalError
from cairn.journal.history import TRUSTED_IMAGES, history_start, incarnations_since
from cairn.journal.image import CheckpointImage, ImageInfo, list_images
from cairn.journal.incarnation import Incarnation
from cairn.journal.log import Journal
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore


def window_manifests(store: ObjectStore, keys: ClusterKeys, since: float,
                     volume_of: dict[int, str]) -> dict[str, set[str]]:
    """Manifest keys per storage volume of every version visible at some moment at or after `since`:
    for each partition the version visible when the window began, and every version committed inside
    it. `volume_of` maps database ids to their volumes (databases only an image knows are added).
    Raises CairnError if the store or the log fails."""
    images = list_images(store, keys)
    found: dict[str, set[str]] = defaultdict(set)
    for record in incarnations_since(store, keys, since):
        for volume, key in _incarnation_manifests(store, keys, record, images, since, volume_of):
            found[volume].add(key)
    return found


def _incarnation_manifests(store: ObjectStore, keys: ClusterKeys, record: Incarnation,
                           images: list[ImageInfo], since: float, volume_of: dict[int, str]) -> list[tuple[str, str]]:
    start = history_start(record, images, since)
    volumes = dict(volume_of)
    at_window_start: dict[int, tuple[int, str]] = {}
    if start.image_key is not None:
        image = CheckpointImage.from_bytes(store.get(start.image_key), start.image_key)
        if image.authenticity not in TRUSTED_IMAGES:
            # Vacuum (and the journal cleanup after it) stops rather than trust what it cannot read.
            raise JournalError(f"checkpoint image {start.image_key} does not authenticate: the point-in-time "
                               "window cannot be read from it")
        state = CatalogState.model_validate(image.catalog)
        for db in state.databases.values():
            volumes.setdefault(db.id, db.storage_volume)
            for table in db.tables.values():
                for partition in table.partitions:
                    if partition.manifest_key:
                        at_window_start[partition.id] = (db.id, partition.manifest_key)
    inside: list[tuple[int, str]] = []
    for entry in Journal(store, keys, record.number).read_after(start.position.entry_id):
        if entry.op.get("kind") != "commit_versions":
            continue
        for version in entry.op["versions"]:
            key = version.get("manifest_key")
            if entry.timestamp >= since:
                if key:
                    inside.append((entry.op["db_id"], key))
            elif key:
                at_window_start[version["partition_id"]] = (entry.op["db_id"], key)
            else:
                at_window_start.pop(version["partition_id"], None)  # emptied before the window began
    return [(volumes[db_id], key) for db_id, key in [*at_window_start.values(), *inside] if db_id in volumes]
