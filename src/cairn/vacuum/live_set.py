"""The live set (DESIGN invariant 5): every data object a reader or a retained snapshot may need."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cairn.catalog.model import CatalogState
from cairn.lake.manifest import MANIFESTS
from cairn.snapshot.manifest import SnapshotManifest
from cairn.storage.keys import SNAPSHOT_MANIFEST
from cairn.vacuum.window import window_manifests

if TYPE_CHECKING:
    from cairn.fe.frontend import Frontend

@dataclass
class LiveSet:
    """Keys per volume that must stay, plus key prefixes still inside the recycle bin."""

    keys: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    protected_prefixes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    in_use: set[str] = field(default_factory=set)

    def needs(self, volume: str, key: str) -> bool:
        return (key in self.keys[volume] or key in self.in_use
                or any(key.startswith(prefix) for prefix in self.protected_prefixes[volume]))


def live_set(frontend: "Frontend", trash_seconds: float) -> LiveSet:
    """The visible versions, the versions every retained snapshot pins, the objects running statements
    read, and dropped objects still within their recycle-bin time."""
    live = LiveSet()
    # One moment for all three: readers pin and snapshots capture under this same lock.
    with frontend.catalog.lock:
        state = frontend.catalog.state.model_copy(deep=True)
        live.in_use = frontend.data_access.pinned()
        capturing = frontend.snapshots.capturing
    _add_versions(frontend, live, state)
    _add_pinned_rowsets(frontend, live, state)
    if capturing is not None:
        _add_versions(frontend, live, capturing)  # a snapshot job's image, before its manifest exists
    for job in state.snapshot_jobs.values():
        if job.state not in {"FINISHED", "INITIALIZING", "SNAPSHOTING", "UPLOADING"}:
            continue
        store = frontend.store_for(job.storage_volume)
        key = frontend.keys.snapshot_object(job.name, SNAPSHOT_MANIFEST)
        if job.state != "FINISHED" and not store.exists(key):
            continue  # still being written: its image's versions are the visible ones, counted above
        manifest = SnapshotManifest.from_bytes(store.get(key), key)
        for item in manifest.objects:
            live.keys[item.volume].add(item.key)
    window = frontend.config.cluster_snapshot_pitr_window_seconds
    if window > 0:
        _add_window_versions(frontend, live, state, time.time() - window)
    now = time.time()
    for dropped in state.recycle_bin:
        if now - dropped.dropped_at < trash_seconds:
            live.protected_prefixes[dropped.storage_volume].append(dropped.prefix)
    return live


def _add_versions(frontend: "Frontend", live: LiveSet, state: CatalogState) -> None:
    """Every partition manifest `state` makes visible, and their rowsets."""
    for db in state.databases.values():
        store = frontend.store_for(db.storage_volume)
        keys = [p.manifest_key for t in db.tables.values() for p in t.partitions if p.manifest_key]
        live.keys[db.storage_volume].update(keys)  # type: ignore[arg-type]
        for manifest in MANIFESTS.get_many(store, keys):  # type: ignore[arg-type]
            live.keys[db.storage_volume].update(r.key for r in manifest.rowsets())


def _add_pinned_rowsets(frontend: "Frontend", live: LiveSet, state: CatalogState) -> None:
    """The rowsets of manifests a running statement pinned (it reads them after pinning)."""
    volumes = sorted({db.storage_volume for db in state.databases.values()})
    for key in [k for k in live.in_use if k.endswith(".json")]:
        manifest = MANIFESTS.cached(key)
        if manifest is None:
            holder = next((frontend.store_for(v) for v in volumes if frontend.store_for(v).exists(key)), None)
            manifest = MANIFESTS.get_many(holder, [key])[0] if holder is not None else None
        if manifest is not None:
            live.in_use.update(r.key for r in manifest.rowsets())


def _add_window_versions(frontend: "Frontend", live: LiveSet, state: CatalogState, since: float) -> None:
    """Every version visible at some moment of the point-in-time window stays, since a restore may
    replay the log to any moment inside it."""
    volume_of = {db.id: db.storage_volume for db in state.databases.values()}
    for volume, keys in window_manifests(frontend.meta_store, frontend.keys, since, volume_of).items():
        if volume not in state.storage_volumes:
            continue  # a volume this incarnation no longer knows holds nothing it could restore
        store = frontend.store_for(volume)
        present = [k for k in keys if k in live.keys[volume] or store.exists(k)]
        live.keys[volume].update(present)
        for manifest in MANIFESTS.get_many(store, present):
            live.keys[volume].update(r.key for r in manifest.rowsets())
