"""Choosing what to restore, apart from restoring it: the snapshot, why, and what will change."""

from __future__ import annotations

from dataclasses import dataclass

from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError
from cairn.journal.cluster import builtin_volume
from cairn.journal.incarnation import list_incarnations
from cairn.restore.snapshot_yaml import ClusterSnapshotYaml
from cairn.snapshot.listing import list_snapshots, newest_complete
from cairn.snapshot.location import parse_location
from cairn.snapshot.manifest import SnapshotManifest
from cairn.snapshot.verify import read_manifest
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore, open_store
from cairn.storage.volume import StorageVolume


class RestoreError(CairnError):
    """The restore cannot go ahead; nothing was changed. The message names the problem and the key."""


@dataclass
class RestorePlan:
    """What a restore will do. Building it reads storage but changes nothing."""

    keys: ClusterKeys
    snapshot_store: ObjectStore
    snapshot_volume: StorageVolume
    snapshot: str
    reason: str
    manifest: SnapshotManifest
    meta_store: ObjectStore
    new_incarnation: int
    fenced_incarnation: int | None

    def describe(self) -> list[tuple[str, str]]:
        """The plan as (item, value) lines, for `cairn restore --dry-run`."""
        m = self.manifest
        return [
            ("cluster", self.keys.cluster_id),
            ("snapshot", f"{self.snapshot} ({self.reason})"),
            ("snapshot journal id", str(m.fe_journal_id)),
            ("catalog", f"{len(m.tables)} tables"),
            ("objects to check", str(len(m.objects))),
            ("new incarnation", str(self.new_incarnation)),
            ("fenced", f"incarnation {self.fenced_incarnation}" if self.fenced_incarnation else "nothing"),
        ]


def _snapshot_volume(spec: ClusterSnapshotYaml, config: FeConfig, path: str) -> StorageVolume:
    """The volume the snapshot path lies in, with credentials from the yaml or from fe.conf."""
    located = parse_location(path, config)
    section = spec.cluster_snapshot
    named = spec.volume(section.storage_volume_name) if section and section.storage_volume_name else None
    if named is not None:
        return located.volume.model_copy(update={"properties": {**located.volume.properties, **named.properties}})
    conf_volume = builtin_volume(config)
    if conf_volume.type == located.volume.type and path.startswith(conf_volume.location.rstrip("/")):
        return located.volume.model_copy(update={"properties": conf_volume.properties})
    return located.volume


def plan_restore(config: FeConfig, spec: ClusterSnapshotYaml) -> RestorePlan:
    """Find the snapshot the yaml names (the newest complete one for a path ending in /meta)."""
    section = spec.cluster_snapshot
    if section is None:
        raise RestoreError("cluster_snapshot.yaml has no 'cluster_snapshot' section: nothing to restore")
    path = section.cluster_snapshot_path
    located = parse_location(path, config)
    if located.cluster_id is None:
        raise RestoreError(f"'cluster_snapshot.cluster_snapshot_path' '{path}' names no cluster "
                           "(expected …/<cluster id>/meta or …/meta/image/<snapshot>)")
    volume = _snapshot_volume(spec, config, path)
    store = open_store(volume)
    keys = ClusterKeys(located.cluster_id)
    try:
        entries = list_snapshots(store, keys)
    except CairnError as exc:
        raise RestoreError(f"cannot read 'cluster_snapshot.cluster_snapshot_path' {path}: {exc}") from None
    if located.snapshot is not None:
        entry = next((e for e in entries if e.name == located.snapshot), None)
        if entry is None:
            raise RestoreError(f"'cluster_snapshot.cluster_snapshot_path': no snapshot at {path}")
        if not entry.complete:
            raise RestoreError(f"'cluster_snapshot.cluster_snapshot_path': snapshot '{entry.name}' is incomplete "
                               "(no SNAPSHOT_DONE marker): it cannot be restored")
        reason = "named in cluster_snapshot_path"
    else:
        entry = newest_complete(entries)
        if entry is None:
            raise RestoreError(f"'cluster_snapshot.cluster_snapshot_path': no complete snapshot under {path}")
        skipped = [e.name for e in entries if not e.complete and (e.created_ms or 0) > (entry.created_ms or 0)]
        reason = "newest complete snapshot" + (f"; skipped incomplete {', '.join(skipped)}" if skipped else "")
    manifest = read_manifest(store, keys, entry.name)
    meta_store = open_store(builtin_volume(config))
    incarnations = list_incarnations(meta_store, keys)
    return RestorePlan(keys=keys, snapshot_store=store, snapshot_volume=volume, snapshot=entry.name,
                       reason=reason, manifest=manifest, meta_store=meta_store,
                       new_incarnation=(incarnations[-1] + 1) if incarnations else 1,
                       fenced_incarnation=incarnations[-1] if incarnations else None)
