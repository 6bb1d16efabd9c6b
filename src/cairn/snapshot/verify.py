"""Verifying a snapshot without restoring it: every object present with its size and checksum, the
image loads, and (deep) every table's row count and content checksum match the manifest."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from cairn.catalog.model import CatalogState
from cairn.errors import CairnError, ObjectNotFoundError
from cairn.journal.image import CheckpointImage
from cairn.journal.signed import Authenticity
from cairn.lake.manifest import PartitionManifest, Rowset
from cairn.snapshot.contents import table_checksum
from cairn.snapshot.listing import marks_complete
from cairn.snapshot.manifest import SnapshotManifest, SnapshotManifestError
from cairn.storage.checksum import checksum_bytes
from cairn.storage.keys import SNAPSHOT_DONE, SNAPSHOT_IMAGE, SNAPSHOT_MANIFEST, ClusterKeys
from cairn.storage.object_store import ObjectStore


@dataclass
class VerifyReport:
    """What verification found. `problems` is empty when the snapshot is restorable."""

    name: str
    deep: bool
    objects_checked: int = 0
    tables_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_manifest(store: ObjectStore, keys: ClusterKeys, name: str) -> SnapshotManifest:
    """The manifest of a complete snapshot, trusted (see `trusted_manifest`); CairnError when the
    snapshot is missing or incomplete."""
    if not marks_complete(store.head(keys.snapshot_object(name, SNAPSHOT_DONE))):
        raise CairnError(f"cluster snapshot '{name}' is incomplete or missing: no {SNAPSHOT_DONE} marker of a "
                         "completed snapshot "
                         f"under {store.description}/{keys.snapshot_dir(name)}")
    return trusted_manifest(store, keys, name)


def trusted_manifest(store: ObjectStore, keys: ClusterKeys, name: str) -> SnapshotManifest:
    """The manifest of snapshot `name`, read the one way every reader (restore, verify, vacuum, the
    settling of interrupted jobs) reads it: only when it can be trusted. That is, it authenticates
    under a key this FE holds (or is a legacy one its image vouches for, as `check_snapshot_image`
    says), and it is this cluster's manifest of this snapshot, not another's copied into its folder.

    Raises SnapshotManifestError when it cannot be trusted, CatalogKeyError when it is under a key
    this FE lacks, ObjectNotFoundError when it (or a legacy manifest's image) is missing, and
    StorageError when the store fails.
    """
    key = keys.snapshot_object(name, SNAPSHOT_MANIFEST)
    manifest = SnapshotManifest.from_bytes(store.get(key), key)
    manifest.require_readable(key)  # forged or altered: SnapshotManifestError; unknown key: CatalogKeyError
    if (manifest.name, manifest.cluster_id) != (name, keys.cluster_id):
        raise SnapshotManifestError(f"snapshot manifest {key} is the manifest of snapshot '{manifest.name}' of "
                                    f"cluster {manifest.cluster_id}: it was copied into this folder")
    if manifest.image_key != keys.snapshot_object(name, SNAPSHOT_IMAGE):
        raise SnapshotManifestError(f"snapshot manifest {key} names image {manifest.image_key}, not its "
                                    "snapshot's own")
    if manifest.authenticity is Authenticity.LEGACY:
        image = CheckpointImage.from_bytes(store.get(manifest.image_key), manifest.image_key)
        image.require_readable(manifest.image_key)
        check_snapshot_image(manifest, image)
    return manifest


def check_snapshot_image(manifest: SnapshotManifest, image: CheckpointImage) -> None:
    """Raise SnapshotManifestError unless `image` (already readable) may be restored with `manifest`.

    A signed manifest needs an authenticated image at the manifest's position: a legacy-format
    image beside it was swapped in. A legacy manifest is trusted only for a snapshot written before
    manifests were signed: its image is legacy too, or authenticated without `signed_manifest`
    (then it must be at the manifest's position). A newer snapshot's image says its manifest was
    signed, so a legacy manifest swapped in for the signed one is refused.
    """
    where = f"snapshot '{manifest.name}'"
    if manifest.authenticity is Authenticity.AUTHENTIC and image.authenticity is not Authenticity.AUTHENTIC:
        raise SnapshotManifestError(f"{where}: image {manifest.image_key} is not authenticated but its manifest "
                                    "is: the image was replaced")
    if manifest.authenticity is Authenticity.LEGACY and image.signed_manifest:
        raise SnapshotManifestError(f"{where}: its manifest is unsigned but image {manifest.image_key} was "
                                    "written with a signed one: the manifest was replaced")
    if image.authenticity is Authenticity.AUTHENTIC and (
            (image.cluster_id, image.incarnation, image.entry_id)
            != (manifest.cluster_id, manifest.incarnation, manifest.fe_journal_id)):
        raise SnapshotManifestError(f"{where}: image {manifest.image_key} is at journal id {image.entry_id} of "
                                    f"incarnation {image.incarnation}, its manifest says {manifest.fe_journal_id} "
                                    f"of incarnation {manifest.incarnation}")


def verify_snapshot(store: ObjectStore, keys: ClusterKeys, name: str,
                    store_for: Callable[[str], ObjectStore], deep: bool = False) -> VerifyReport:
    """Check snapshot `name` in `store` (its volume); data objects are read through `store_for`."""
    report = VerifyReport(name=name, deep=deep)
    try:
        manifest = read_manifest(store, keys, name)
        image_bytes = store.get(manifest.image_key)
    except CairnError as exc:
        report.problems.append(str(exc))
        return report
    if len(image_bytes) != manifest.image_size or checksum_bytes(image_bytes) != manifest.image_checksum:
        report.problems.append(f"image {manifest.image_key}: size or checksum differs from the manifest")
    try:
        image = CheckpointImage.from_bytes(image_bytes, manifest.image_key)
        image.require_readable(manifest.image_key)
        check_snapshot_image(manifest, image)
        CatalogState.model_validate(image.catalog)
    except (CairnError, ValueError) as exc:
        report.problems.append(f"image {manifest.image_key} does not load: {exc}")
    by_volume = defaultdict(list)
    for item in manifest.objects:
        by_volume[item.volume].append(item)
    proven = ProvenObjects()
    for volume, items in by_volume.items():
        data_store = store_for(volume)
        for item in items:
            report.objects_checked += 1
            info = data_store.head(item.key)
            if info is None:
                report.problems.append(f"missing object {item.key} (volume {volume})")
            elif info.size != item.size:
                report.problems.append(f"object {item.key} has {info.size} bytes, the manifest says {item.size}")
            elif deep:
                try:
                    data = data_store.get(item.key)
                except ObjectNotFoundError:
                    report.problems.append(f"missing object {item.key} (volume {volume})")
                    continue
                if checksum_bytes(data) != item.checksum:
                    report.problems.append(f"object {item.key}: checksum differs from the manifest")
                    continue
                proven.add(item.key, item.checksum, data)
    if deep:
        _check_tables(manifest, proven, report)
    return report


@dataclass
class ProvenObjects:
    """What deep verification learnt from objects whose checksums matched (no data is kept)."""

    rows: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    manifests: list[PartitionManifest] = field(default_factory=list)

    def add(self, key: str, checksum: str, data: bytes) -> None:
        self.checksums[key] = checksum
        if key.endswith(".parquet"):
            self.rows[key] = pq.read_metadata(io.BytesIO(data)).num_rows
        else:
            self.manifests.append(PartitionManifest.from_bytes(data, key))


def _check_tables(manifest: SnapshotManifest, proven: ProvenObjects, report: VerifyReport) -> None:
    """Recount each table from the Parquet objects just proven, and compare with the manifest."""
    by_table: dict[int, list[Rowset]] = defaultdict(list)
    for partition in proven.manifests:
        by_table[partition.table_id].extend(partition.rowsets())
    for digest in manifest.tables:
        report.tables_checked += 1
        rowsets = by_table.get(digest.table_id, [])
        rows = sum(proven.rows.get(r.key, 0) for r in rowsets)
        checksum = table_checksum([proven.checksums[r.key] for r in rowsets if r.key in proven.checksums])
        if rows != digest.row_count:
            report.problems.append(f"table {digest.database}.{digest.table}: {rows} rows, the manifest says "
                                   f"{digest.row_count}")
        elif checksum != digest.checksum:
            report.problems.append(f"table {digest.database}.{digest.table}: content checksum differs")
