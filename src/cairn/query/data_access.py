"""DataAccess: the one interface through which queries read table data.

The FE binds each table a query reads as a DuckDB relation. `LocalDataAccess` reads Parquet
rowsets itself (in place on a local volume, through the object cache otherwise); a compute-node
implementation will serve the same interface over Arrow Flight.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
from sqlglot import exp

from cairn.catalog.model import Table
from cairn.catalog.types import parse_type
from cairn.lake.keyed import already_merged, table_rows
from cairn.lake.manifest import MANIFESTS, Rowset
from cairn.lake.merge import merge_rowsets
from cairn.lake.rowset_writer import WrittenRowset, write_batch_rowsets, write_rowsets
from cairn.lake.sqltext import aliased, cast, create_temp_view, sql
from cairn.lake.sqltext import column as sqlcolumn
from cairn.lake.tablet_files import LoadMemory
from cairn.query.pushdown import PartialAggregate, ScanFilter
from cairn.storage.engine_sandbox import SandboxedEngine
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_cache import ObjectCache
from cairn.storage.object_store import ObjectStore


@dataclass(frozen=True)
class PartitionScan:
    """One partition at the version the query reads; `tablet_ids` None means every tablet."""

    partition_id: int
    version: int
    manifest_key: str | None
    tablet_ids: frozenset[int] | None = None


@dataclass
class TableScan:
    """A table as one query sees it: its schema and the partitions (already pruned) to read."""

    table: Table
    store: ObjectStore
    partitions: list[PartitionScan]
    # What a compute node may apply while scanning: the columns the query reads (None: all) and
    # typed filters over them, which the FE applies again.
    columns: list[str] | None = None
    filters: list[ScanFilter] = field(default_factory=list)
    # Set when the query was rewritten to merge partial aggregates: the scan must return them.
    aggregate: PartialAggregate | None = None


class DataAccess(Protocol):
    def bind(self, con: duckdb.DuckDBPyConnection, view_name: str, scan: TableScan) -> list[str]:
        """Create `view_name` on `con`: the table's rows at the scanned versions, typed as declared.

        Returns the object keys it reads; they stay pinned against vacuum until `release`d.
        """

    def pin(self, keys: list[str]) -> list[str]:
        """Pin keys against vacuum until `release`; returns them."""

    def splits_work(self) -> bool:
        """True when scans run in pieces (compute nodes), so partial aggregation pays off."""

    def release(self, keys: list[str]) -> None:
        """Unpin keys a finished statement read."""

    def compact(self, store: ObjectStore, rowsets: list[Rowset], target_key: str, table: Table | None = None) -> Rowset:
        """Merge `rowsets` (one tablet's, in order; by key for a keyed `table`) into one new object at
        `target_key`; describe it."""

    def write(self, con: duckdb.DuckDBPyConnection, select: exp.Query, store: ObjectStore, keys: ClusterKeys,
              db_id: int, table: Table, scratch: Path) -> tuple[int, list[WrittenRowset]]:
        """Write the checked, routed rows of `select` (run on `con`) as rowsets of `table`.
        Returns the row count and the rowsets put; a DuckDB error means a row could not be stored."""


def column_expressions(table: Table) -> list[exp.Expr]:
    """The table's columns as stored rowsets hold them, typed as declared (LARGEINT, stored as text,
    as HUGEINT, nested or not)."""
    parts: list[exp.Expr] = []
    for column in table.columns:
        name = sqlcolumn(column.name)
        column_type = parse_type(column.type)
        stored_otherwise = column_type.storage_duckdb != column_type.duckdb
        parts.append(aliased(cast(name, column_type.duckdb), column.name) if stored_otherwise else name)
    return parts


def empty_relation(table: Table) -> exp.Select:
    """No rows, with the table's columns typed as a query reads them."""
    return exp.select(*[aliased(cast(exp.null(), parse_type(c.type).duckdb), c.name) for c in table.columns]).limit(0)


def no_rows(scan: TableScan) -> exp.Select:
    """What binding `scan` gives, over no rows and reading nothing (EXPLAIN): the table's columns, or
    the partial aggregate that compute nodes return when one was pushed down to them."""
    if scan.aggregate is None:
        return empty_relation(scan.table)
    return scan.aggregate.over(exp.select().from_(empty_relation(scan.table).subquery("__empty")))


@dataclass
class LocalDataAccess:
    """Reads rowsets in this process. Counts what it reads, so tests can see pruning work, and
    pins what running statements read, so vacuum leaves it alone (DESIGN invariant 5)."""

    cache: ObjectCache
    engine: SandboxedEngine
    partitions_read: int = 0
    objects_read: int = 0
    in_use: Counter[str] = field(default_factory=Counter)
    _cache_holds: Counter[str] = field(default_factory=Counter)
    _cache_stores: dict[str, ObjectStore] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def pinned(self) -> set[str]:
        """Keys some running statement is reading."""
        with self._lock:
            return {key for key, count in self.in_use.items() if count > 0}

    def release(self, keys: list[str]) -> None:
        with self._lock:
            self.in_use.subtract(keys)
            for key in keys:
                if self.in_use[key] <= 0:
                    del self.in_use[key]
            cached = [key for key in keys if self._cache_holds[key] > 0]
            self._cache_holds.subtract(cached)
            stores = [self._cache_stores[key] for key in cached]
            for key in cached:
                if self._cache_holds[key] <= 0:
                    self._cache_holds.pop(key, None)
                    self._cache_stores.pop(key, None)
        for key, store in zip(cached, stores):
            self.cache.release(store, [key])

    def splits_work(self) -> bool:
        return False

    def pin(self, keys: list[str]) -> list[str]:
        with self._lock:
            self.in_use.update(keys)
        return keys

    def files(self, scan: TableScan) -> tuple[list[Path], list[str]]:
        """Local files holding the scanned rowsets (fetched into the cache when remote), and the
        rowset keys, pinned until released (the caller pinned the manifests already)."""
        files, pinned, _ = self.rowset_files(scan)
        return files, pinned

    def rowset_files(self, scan: TableScan) -> tuple[list[Path], list[str], list[list[Rowset]]]:
        """`files`, and the rowsets they hold by tablet (flattened, in the same order)."""
        read = [p for p in scan.partitions if p.manifest_key]
        manifest_keys = [key for p in read if (key := p.manifest_key)]
        manifests = MANIFESTS.get_many(scan.store, manifest_keys)
        tablets = [rowsets for partition, manifest in zip(read, manifests)
                   for tablet, rowsets in manifest.tablets.items()
                   if partition.tablet_ids is None or tablet in partition.tablet_ids]
        chosen = [rowset for rowsets in tablets for rowset in rowsets]
        keys = [rowset.key for rowset in chosen]
        self.pin(keys)
        self.partitions_read += len(scan.partitions)
        self.objects_read += len(keys)
        pinned = keys
        if not keys:
            return [], pinned, tablets
        local = [path for path in map(scan.store.local_path, keys) if path is not None]
        if len(local) == len(keys):
            return local, pinned, tablets
        files = self.cache.fetch_all(scan.store, keys, [rowset.checksum for rowset in chosen])
        with self._lock:
            # Held in the cache until the statement releases its keys.
            self._cache_holds.update(keys)
            self._cache_stores.update(dict.fromkeys(keys, scan.store))
        return files, pinned, tablets

    def write(self, con: duckdb.DuckDBPyConnection, select: exp.Query, store: ObjectStore, keys: ClusterKeys,
              db_id: int, table: Table, scratch: Path) -> tuple[int, list[WrittenRowset]]:
        return write_rowsets(con, select, store, keys, db_id, table, scratch)

    def write_batches(self, schema: pa.Schema, batches: Iterable[pa.Table], store: ObjectStore, keys: ClusterKeys,
                      db_id: int, table: Table, scratch: Path, buffer_bytes: int,
                      memory: LoadMemory | None = None) -> tuple[int, list[WrittenRowset]]:
        return write_batch_rowsets(batches, store, keys, db_id, table, scratch, buffer_bytes, memory)

    def compact(self, store: ObjectStore, rowsets: list[Rowset], target_key: str, table: Table | None = None) -> Rowset:
        return merge_rowsets(self.engine, store, self.cache, rowsets, target_key, table)

    def bind(self, con: duckdb.DuckDBPyConnection, view_name: str, scan: TableScan) -> list[str]:
        files, pinned, tablets = self.rowset_files(scan)
        if files:
            rowsets = [r for tablet in tablets for r in tablet]
            rows = table_rows(scan.table, files, [r.deletes for r in rowsets], already_merged(tablets),
                              [r.schema_version for r in rowsets])
            source = exp.select(*column_expressions(scan.table)).from_(rows)
        else:
            source = empty_relation(scan.table)
        con.execute(sql(create_temp_view(view_name, source)))
        return pinned
