"""What a snapshot contains: every object its image needs, and a digest of each table."""

from __future__ import annotations

import zlib
from collections.abc import Callable

from cairn.catalog.model import CatalogState
from cairn.lake.manifest import PartitionManifest
from cairn.snapshot.manifest import SnapshotObject, TableDigest
from cairn.storage.checksum import checksum_bytes
from cairn.storage.object_store import ObjectStore


def table_checksum(rowset_checksums: list[str]) -> str:
    """A table's content checksum: its rowsets' checksums, in a fixed order, checksummed."""
    return f"crc32:{zlib.crc32(','.join(sorted(rowset_checksums)).encode()):08x}"


def snapshot_contents(state: CatalogState, store_for: Callable[[str], ObjectStore]
                      ) -> tuple[list[SnapshotObject], list[TableDigest]]:
    """Every partition manifest and rowset the catalog `state` references (with size and checksum),
    and each table's row count and checksum. Manifests are read in one batch per volume. Temporary
    tables are left out: a snapshot never carries them (a restore drops them), so their data is
    neither copied into its list nor kept by it."""
    objects: list[SnapshotObject] = []
    digests: list[TableDigest] = []
    for db in sorted(state.databases.values(), key=lambda d: d.name):
        store = store_for(db.storage_volume)
        for table in sorted((t for t in db.tables.values() if t.temporary is None), key=lambda t: t.name):
            keys = [p.manifest_key for p in table.partitions if p.manifest_key]
            checksums: list[str] = []
            rows = 0
            for key, data in zip(keys, store.get_many(keys)):
                manifest = PartitionManifest.from_bytes(data, key)
                objects.append(SnapshotObject(volume=db.storage_volume, key=key, size=len(data),
                                              checksum=checksum_bytes(data)))
                for rowset in manifest.rowsets():
                    objects.append(SnapshotObject(volume=db.storage_volume, key=rowset.key, size=rowset.size,
                                                  checksum=rowset.checksum))
                    checksums.append(rowset.checksum)
                    rows += rowset.rows
            digests.append(TableDigest(database=db.name, table=table.name, table_id=table.id, row_count=rows,
                                       checksum=table_checksum(checksums)))
    return objects, digests
