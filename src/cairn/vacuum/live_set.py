"""The live set (DESIGN invariant 5): every data object a reader or a retained snapshot may need."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from cairn.catalog.model import CatalogState, SnapshotJob
from cairn.catalog.view import CatalogView
from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError, CatalogKeyError, JournalError, ObjectNotFoundError
from cairn.journal.image import CheckpointImage
from cairn.journal.position import JournalPosition
from cairn.journal.signed import Authenticity
from cairn.lake.manifest import MANIFESTS
from cairn.lake.pins import Pins
from cairn.snapshot.manifest import SnapshotManifestError
from cairn.snapshot.verify import trusted_manifest
from cairn.storage.keys import SNAPSHOT_IMAGE, SNAPSHOT_MANIFEST, ClusterKeys
from cairn.storage.object_store import ObjectStore
from cairn.storage.resolver import StoreResolver
from cairn.vacuum.window import window_manifests

log = logging.getLogger(__name__)


class SnapshotNeedsUnknownError(CairnError):
    """A retained snapshot has neither a manifest nor an image that can be trusted: vacuum cannot
    know what it needs, so it deletes nothing."""


@dataclass
class LiveSet:
    """Keys per volume that must stay, plus key prefixes still inside the recycle bin."""

    keys: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    protected_prefixes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    in_use: set[str] = field(default_factory=set)
    # Where each retained snapshot (or one being taken) stands in the log: a point-in-time restore
    # replays from there, so journal cleanup keeps the entries after it.
    snapshot_positions: list[JournalPosition] = field(default_factory=list)

    @cached_property
    def pinned_prefixes(self) -> tuple[str, ...]:
        """Pins ending in "/" hold a whole prefix (a table whose load is still putting its files)."""
        return tuple(pin for pin in self.in_use if pin.endswith("/"))

    def needs(self, volume: str, key: str) -> bool:
        return (key in self.keys[volume] or key in self.in_use or key.startswith(self.pinned_prefixes)
                or any(key.startswith(prefix) for prefix in self.protected_prefixes[volume]))


@dataclass(frozen=True)
class LiveSources:
    """Where the live set comes from: the catalog, the pins of running statements and in-flight
    loads, the catalog a snapshot job is capturing, the metadata store (its log and images, for the
    point-in-time window) and the stores of the data volumes."""

    catalog: CatalogView
    pins: Pins
    capturing: Callable[[], CatalogState | None]
    meta_store: ObjectStore
    stores: StoreResolver
    keys: ClusterKeys
    config: FeConfig
    # This FE's journal position while it leads, else None: only a leader cleans the journal.
    leading_position: Callable[[], JournalPosition | None]


def live_set(sources: LiveSources, trash_seconds: float) -> LiveSet:
    """The visible versions, the versions every retained snapshot pins, the objects running statements
    read, and dropped objects still within their recycle-bin time."""
    live = LiveSet()
    # One moment for all three: readers pin and snapshots capture under this same lock.
    with sources.catalog.lock:
        state = sources.catalog.state.model_copy(deep=True)
        live.in_use = sources.pins.pinned()
        capturing = sources.capturing()
    _add_versions(sources, live, state)
    _add_pinned_rowsets(sources, live, state)
    if capturing is not None:
        _add_versions(sources, live, capturing)  # a snapshot job's image, before its manifest exists
    for job in state.snapshot_jobs.values():
        if job.state not in {"FINISHED", "INITIALIZING", "SNAPSHOTING", "UPLOADING"}:
            continue
        store = sources.stores(job.storage_volume)
        key = sources.keys.snapshot_object(job.name, SNAPSHOT_MANIFEST)
        if job.state != "FINISHED" and not store.exists(key):
            leading = sources.leading_position()
            if job.fe_journal_id is not None and leading is not None:
                live.snapshot_positions.append(JournalPosition(leading.incarnation, job.fe_journal_id))
            continue  # still being written: its image's versions are the visible ones, counted above
        _add_snapshot(sources, live, state, job)
    window = sources.config.cluster_snapshot_pitr_window_seconds
    if window > 0:
        _add_window_versions(sources, live, state, time.time() - window)
    now = time.time()
    for dropped in state.recycle_bin:
        if now - dropped.dropped_at < trash_seconds:
            live.protected_prefixes[dropped.storage_volume].append(dropped.prefix)
    return live


def _add_snapshot(sources: LiveSources, live: LiveSet, state: CatalogState, job: SnapshotJob) -> None:
    """What a retained snapshot (or one being uploaded) needs: the objects its trusted manifest lists.

    A manifest that is not trusted (forged, altered, copied from another snapshot, under a key this
    FE lacks, or gone) never decides what is deleted. What the snapshot needs is then taken from its
    own image, when that authenticates at the journal id the job recorded: the manifest lists exactly
    the versions that image makes visible. When neither can be trusted, what the snapshot needs is not
    known, and the run deletes nothing (SnapshotNeedsUnknownError) until the folder is repaired or
    the snapshot dropped: refusing keeps every object a genuine snapshot may need, and the refusal
    is in the log and the answer of every run, so the garbage it holds back is never silent.
    """
    store = sources.stores(job.storage_volume)
    try:
        manifest = trusted_manifest(store, sources.keys, job.name)
        if job.fe_journal_id is not None and manifest.fe_journal_id != job.fe_journal_id:
            raise SnapshotManifestError(f"its manifest is at journal id {manifest.fe_journal_id}, the journal "
                                        f"recorded {job.fe_journal_id}")
    except (SnapshotManifestError, CatalogKeyError, ObjectNotFoundError) as exc:
        log.warning("vacuum does not trust the manifest of cluster snapshot %s (%s): it keeps what the "
                    "snapshot's image makes visible instead", job.name, exc)
        _add_snapshot_image(sources, live, state, job, reason=str(exc))
        return
    live.snapshot_positions.append(JournalPosition(manifest.incarnation, manifest.fe_journal_id))
    for item in manifest.objects:
        live.keys[item.volume].add(item.key)


def _add_snapshot_image(sources: LiveSources, live: LiveSet, state: CatalogState, job: SnapshotJob,
                        reason: str) -> None:
    """The versions a snapshot's own image makes visible, when the image authenticates as this
    cluster's at the job's journal id; SnapshotNeedsUnknownError otherwise."""
    store = sources.stores(job.storage_volume)
    key = sources.keys.snapshot_object(job.name, SNAPSHOT_IMAGE)
    try:
        image = CheckpointImage.from_bytes(store.get(key), key)
        image.require_readable(key)
    except (JournalError, CatalogKeyError, ObjectNotFoundError) as exc:
        why = str(exc)
    else:
        if image.authenticity is not Authenticity.AUTHENTIC or image.cluster_id != sources.keys.cluster_id:
            why = f"image {key} is not this cluster's authenticated image"
        elif job.fe_journal_id is not None and image.entry_id != job.fe_journal_id:
            why = f"image {key} is at journal id {image.entry_id}, the journal recorded {job.fe_journal_id}"
        else:
            captured = CatalogState.model_validate(image.catalog)
            captured.databases = {name: db for name, db in captured.databases.items()
                                  if db.storage_volume in state.storage_volumes}  # vacuum cleans no other
            _add_versions(sources, live, captured)
            live.snapshot_positions.append(JournalPosition(image.incarnation, image.entry_id))
            return
    raise SnapshotNeedsUnknownError(
        f"Vacuum deleted nothing: what cluster snapshot '{job.name}' needs is not known, because its manifest "
        f"is not trusted ({reason}) and neither is its image ({why}). Put back its folder "
        f"{job.storage_path} from a copy, or drop the snapshot (ADMIN DROP CLUSTER SNAPSHOT "
        f"{job.name}) if it is lost")


def _add_versions(sources: LiveSources, live: LiveSet, state: CatalogState) -> None:
    """Every partition manifest `state` makes visible, and their rowsets."""
    for db in state.databases.values():
        store = sources.stores(db.storage_volume)
        keys = [p.manifest_key for t in db.tables.values() for p in t.partitions if p.manifest_key]
        live.keys[db.storage_volume].update(keys)
        for manifest in MANIFESTS.get_many(store, keys):
            live.keys[db.storage_volume].update(r.key for r in manifest.rowsets())


def _add_pinned_rowsets(sources: LiveSources, live: LiveSet, state: CatalogState) -> None:
    """The rowsets of manifests a running statement pinned (it reads them after pinning)."""
    volumes = sorted({db.storage_volume for db in state.databases.values()})
    for key in [k for k in live.in_use if k.endswith(".json")]:
        manifest = MANIFESTS.cached(key)
        if manifest is None:
            holder = next((sources.stores(v) for v in volumes if sources.stores(v).exists(key)), None)
            manifest = MANIFESTS.get_many(holder, [key])[0] if holder is not None else None
        if manifest is not None:
            live.in_use.update(r.key for r in manifest.rowsets())


def _add_window_versions(sources: LiveSources, live: LiveSet, state: CatalogState, since: float) -> None:
    """Every version visible at some moment of the point-in-time window stays, since a restore may
    replay the log to any moment inside it."""
    volume_of = {db.id: db.storage_volume for db in state.databases.values()}
    for volume, keys in window_manifests(sources.meta_store, sources.keys, since, volume_of).items():
        if volume not in state.storage_volumes:
            continue  # a volume this incarnation no longer knows holds nothing it could restore
        store = sources.stores(volume)
        present = [k for k in keys if k in live.keys[volume] or store.exists(k)]
        live.keys[volume].update(present)
        for manifest in MANIFESTS.get_many(store, present):
            live.keys[volume].update(r.key for r in manifest.rowsets())
