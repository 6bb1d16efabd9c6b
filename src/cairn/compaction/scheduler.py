"""CompactionScheduler: finds tablets with many small rowsets and merges each into one new version.

The merge runs without any lock (on a compute node, or in the FE's embedded engine). Its result
is then rebased onto the partition's newest visible version under the table's commit lock: loads
only ever append rowsets to a tablet, so if the merged rowsets are still the tablet's first ones,
they are replaced by the merged rowset and the rowsets loaded meanwhile are kept after it. Anything
else (a truncate, a dropped partition) abandons this round; vacuum removes the unused object later.
Readers see either the old version or the new one: both hold the same rows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from cairn.catalog.catalog import Catalog
from cairn.catalog.committer import Committer
from cairn.catalog.model import Database, Partition, Table
from cairn.catalog.ops import CommitVersions, PartitionVersion
from cairn.catalog.view import CatalogView
from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError, ConcurrentChangeError
from cairn.lake.load import table_commit_lock
from cairn.lake.manifest import MANIFESTS, PartitionManifest, Rowset
from cairn.lake.pins import Pins
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore
from cairn.storage.resolver import StoreResolver

log = logging.getLogger(__name__)


class RowsetMerger(Pins, Protocol):
    """Merges one tablet's rowsets into one object (on a compute node or embedded)."""

    def compact(self, store: ObjectStore, rowsets: list[Rowset], target_key: str, table: Table | None = None) -> Rowset:
        """Merge `rowsets` (in order; by key for a keyed `table`) into one new object at `target_key`."""
        ...


@dataclass
class CompactionReport:
    """What one round examined and merged."""

    partitions_examined: int = 0
    tablets_compacted: int = 0
    rowsets_merged: int = 0
    partitions_skipped: int = 0
    seconds: float = 0.0


@dataclass
class _Candidate:
    db: Database
    table: Table
    partition: Partition
    manifest: PartitionManifest
    tablets: list[int]


class CompactionScheduler:
    """Runs compaction rounds for one FE (only while it leads)."""

    def __init__(self, committer: Committer, catalog: CatalogView, stores: StoreResolver, keys: ClusterKeys,
                 merger: RowsetMerger, config: FeConfig) -> None:
        self.committer = committer
        self.catalog = catalog
        self.stores = stores
        self.keys = keys
        self.merger = merger
        self.config = config
        self.total = CompactionReport()

    def candidates(self, threshold: int | None = None, table_id: int | None = None,
                   partitions: list[str] | None = None) -> tuple[int, list[_Candidate]]:
        """Partitions with a tablet of `threshold` rowsets or more (default: the configured score), of
        table `table_id` (default: every table) and only `partitions` of it (default: all), and how many
        partitions were examined."""
        threshold = threshold or self.config.lake_compaction_score_selector_min_score
        with self.catalog.lock:
            databases = [db.model_copy(deep=True) for db in self.catalog.state.databases.values()
                         if table_id is None or any(t.id == table_id for t in db.tables.values())]
        examined, found = 0, []
        for db in databases:
            parts = [(t, p) for t in db.tables.values() for p in t.partitions if p.manifest_key
                     and table_id in (None, t.id) and (partitions is None or p.name in partitions)]
            examined += len(parts)
            store = self.stores(db.storage_volume)
            manifests = MANIFESTS.get_many(store, [key for _, p in parts if (key := p.manifest_key)])
            for (table, partition), manifest in zip(parts, manifests):
                tablets = sorted(t for t, rowsets in manifest.tablets.items() if len(rowsets) >= threshold)
                if tablets:
                    found.append(_Candidate(db, table, partition, manifest, tablets))
        return examined, found

    def compact_table(self, db_id: int, table_id: int, partitions: list[str] | None = None) -> CompactionReport:
        """ALTER TABLE t COMPACT: one round over the table's (or those partitions') tablets of more than
        one rowset, whatever the configured score."""
        return self.run_once(table_id=table_id, partitions=partitions, threshold=2)

    def run_once(self, table_id: int | None = None, partitions: list[str] | None = None,
                 threshold: int | None = None) -> CompactionReport:
        """One round over every partition (or those `candidates` chooses). Storage or commit errors skip a
        partition, never stop the round."""
        started = time.perf_counter()
        report = CompactionReport()
        if not self.committer.is_leader:
            return report
        report.partitions_examined, found = self.candidates(threshold, table_id, partitions)
        for candidate in found:
            try:
                merged = self._compact(candidate)
            except ConcurrentChangeError as exc:
                log.info("compaction of partition %d skipped: %s", candidate.partition.id, exc)
                report.partitions_skipped += 1
                continue
            except CairnError as exc:
                log.warning("compaction of partition %d failed: %s", candidate.partition.id, exc)
                report.partitions_skipped += 1
                continue
            report.tablets_compacted += len(candidate.tablets)
            report.rowsets_merged += merged
        report.seconds = time.perf_counter() - started
        for name in ("partitions_examined", "tablets_compacted", "rowsets_merged", "partitions_skipped"):
            setattr(self.total, name, getattr(self.total, name) + getattr(report, name))
        if report.tablets_compacted:
            log.info("compaction merged %d rowsets into %d in %.2f s", report.rowsets_merged,
                     report.tablets_compacted, report.seconds)
        return report

    def _compact(self, c: _Candidate) -> int:
        keys = self.keys
        store = self.stores(c.db.storage_volume)
        access = self.merger
        merged: dict[int, tuple[list[str], Rowset]] = {}
        pinned: list[str] = []
        try:
            for tablet in c.tablets:
                rowsets = c.manifest.tablets[tablet]
                target = keys.data_file(c.db.id, c.table.id, c.partition.id, tablet)
                pinned += access.pin([target])  # unreferenced until the commit: keep vacuum away
                merged[tablet] = ([r.key for r in rowsets], access.compact(store, rowsets, target, c.table))
            with table_commit_lock(keys.cluster_id, c.table.id):
                version, manifest = self._rebase(c, store, merged)
                key = keys.partition_manifest(c.db.id, c.table.id, c.partition.id, version)
                pinned += access.pin([key])  # before the put, as the target above
                store.put_if_absent(key, manifest.to_bytes())
                change = PartitionVersion(partition_id=c.partition.id, version=version, manifest_key=key,
                                          row_count=manifest.row_count, data_size=manifest.data_size,
                                          compaction=True)

                def build(catalog: Catalog) -> CommitVersions:
                    current = self._visible(catalog, c)
                    if current is None or current.visible_version != version - 1:
                        raise ConcurrentChangeError(f"partition {c.partition.name} changed during compaction")
                    return CommitVersions(db_id=c.db.id, table_id=c.table.id, txn_id=catalog.allocate_ids(1)[0],
                                          versions=[change])

                self.committer.commit(build)
        finally:
            access.release(pinned)
        return sum(len(old) for old, _ in merged.values())

    @staticmethod
    def _visible(catalog: CatalogView, c: _Candidate) -> Partition | None:
        db = catalog.state.databases.get(c.db.name)
        table = db.tables.get(c.table.catalog_key) if db is not None and db.id == c.db.id else None
        return table.partition_by_id(c.partition.id) if table is not None and table.id == c.table.id else None

    def _rebase(self, c: _Candidate, store: ObjectStore, merged: dict[int, tuple[list[str], Rowset]]
                ) -> tuple[int, PartitionManifest]:
        """The next version of the partition as it is now, with each merged prefix replaced."""
        with self.catalog.lock:
            current = self._visible(self.catalog, c)
            if current is None or current.manifest_key is None:
                raise ConcurrentChangeError(f"partition {c.partition.name} was dropped or emptied")
            version, base_key = current.visible_version, current.manifest_key
        base = MANIFESTS.get_many(store, [base_key])[0]
        manifest = PartitionManifest(table_id=c.table.id, partition_id=c.partition.id, version=version + 1,
                                     tablets={t: list(r) for t, r in base.tablets.items()})
        for tablet, (old_keys, rowset) in merged.items():
            now = manifest.tablets.get(tablet, [])
            if [r.key for r in now[:len(old_keys)]] != old_keys:
                raise ConcurrentChangeError(f"tablet {tablet} changed during compaction")
            manifest.tablets[tablet] = [rowset, *now[len(old_keys):]]
        return version + 1, manifest
