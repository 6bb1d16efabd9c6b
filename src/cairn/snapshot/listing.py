"""Finding snapshots on a storage volume, and choosing one, without a running FE."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cairn.storage.keys import SNAPSHOT_DONE, SNAPSHOT_MANIFEST, ClusterKeys
from cairn.storage.object_store import ObjectInfo, ObjectStore

AUTOMATED_PREFIX = "automated_cluster_snapshot_"

# A SNAPSHOT_DONE marker is empty when its snapshot completed. A leader settling a job that another
# (dead, or deposed and paused) leader left unfinished creates the marker first, with this content:
# both create it only if absent, so the other can never complete the folder afterwards.
ABORTED_MARKER = b"aborted"


def marks_complete(marker: ObjectInfo | None) -> bool:
    """True when a SNAPSHOT_DONE marker (its head or listing entry) says the snapshot completed."""
    return marker is not None and marker.size == 0
_AUTOMATED = re.compile(rf"^{AUTOMATED_PREFIX}(\d+)$")


@dataclass(frozen=True)
class SnapshotEntry:
    """A snapshot folder: its name, whether its SNAPSHOT_DONE marker says it completed, and when it was made."""

    cluster_id: str
    name: str
    complete: bool
    created_ms: int | None
    has_manifest: bool

    @property
    def automated(self) -> bool:
        return _AUTOMATED.match(self.name) is not None


def snapshot_created_ms(name: str) -> int | None:
    """The epoch-millisecond time in an automated snapshot's name, else None."""
    match = _AUTOMATED.match(name)
    return int(match.group(1)) if match else None


def list_snapshots(store: ObjectStore, keys: ClusterKeys) -> list[SnapshotEntry]:
    """Every snapshot folder of the cluster, newest first (complete or not)."""
    entries = []
    for name in store.list_folders(keys.image_prefix):
        parts = {info.key.rsplit("/", 1)[-1]: info for info in store.list(keys.snapshot_dir(name))}
        if not parts or (set(parts) == {SNAPSHOT_DONE} and not marks_complete(parts[SNAPSHOT_DONE])):
            continue  # an emptied folder (local volumes keep directories), or an aborted job's marker alone
        created = snapshot_created_ms(name)
        if created is None and parts:
            created = int(min(i.last_modified for i in parts.values()).timestamp() * 1000)
        entries.append(SnapshotEntry(keys.cluster_id, name, marks_complete(parts.get(SNAPSHOT_DONE)), created,
                                     SNAPSHOT_MANIFEST in parts))
    return sorted(entries, key=lambda e: (e.created_ms or 0, e.name), reverse=True)


def newest_complete(entries: list[SnapshotEntry]) -> SnapshotEntry | None:
    """The newest snapshot whose marker exists: an interrupted one is never chosen."""
    return next((e for e in entries if e.complete), None)
