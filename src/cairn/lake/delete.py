"""DELETE from a DUPLICATE KEY table: the rowsets holding matching rows are rewritten without them.

Rowsets are immutable, so a delete is copy-on-write: each rowset of the chosen partitions that
holds a row matching the condition is written again without those rows (or dropped when none is
left), and one new manifest per touched partition replaces them, committed as ONE journal entry
(invariant 4). Older versions still list the old rowsets, so snapshots and point-in-time restores
see the rows as they were; vacuum removes the replaced rowsets once nothing needs them. Rows loaded
meanwhile are kept: the new manifests are built on the versions visible at commit time, and a
rowset that is no longer there (a compaction merged it) makes the statement fail with nothing
changed, to be run again.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
from sqlglot import exp

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Database, Partition, Table
from cairn.catalog.ops import CommitVersions, PartitionVersion
from cairn.catalog.types import parse_type
from cairn.errors import ConcurrentChangeError, UnknownTableError
from cairn.lake.coerce import storage_type
from cairn.lake.load import LoadContext, table_commit_lock
from cairn.lake.manifest import MANIFESTS, PartitionManifest, Rowset
from cairn.lake.rowset_writer import ROW_GROUP_SIZE, rowset_stats
from cairn.lake.schema_read import FILE_COLUMN, stored_rows
from cairn.lake.sqltext import call, cast, column, copy_to, number, sql
from cairn.storage.checksum import checksum_file


@dataclass
class _Rewrite:
    partition_id: int
    old_key: str
    new: Rowset | None  # None: no row is left, the rowset goes away


def _typed_condition(table: Table, condition: exp.Expr) -> exp.Expr:
    """`condition` over the stored columns: a column stored otherwise than typed (LARGEINT as text) is cast."""
    typed = condition.copy()
    for node in list(typed.find_all(exp.Column)):
        found = table.column(node.name)
        if found is None:
            continue
        duckdb_type = parse_type(found.type).duckdb
        reference: exp.Expr = column(found.name)
        if storage_type(found) != duckdb_type:
            reference = cast(reference, duckdb_type)
        node.replace(reference)
    return typed


def _local_files(loads: LoadContext, db: Database, rowsets: list[Rowset], scratch: Path) -> list[Path]:
    """The rowsets as local files: in place on a local volume, else fetched into `scratch`."""
    store = loads.stores(db.storage_volume)
    files = []
    for rowset in rowsets:
        path = store.local_path(rowset.key)
        if path is None:
            path = scratch / f"{uuid.uuid4().hex}.parquet"
            path.write_bytes(store.get(rowset.key))
        files.append(path)
    return files


def delete_rows(loads: LoadContext, con: duckdb.DuckDBPyConnection, db_name: str | None, table_name: str,
                condition: exp.Expr, partition_ids: list[int] | None) -> int:
    """Delete the rows of a DUPLICATE KEY table matching `condition` (in the partitions named, or all)
    and return how many were deleted. Raises ConcurrentChangeError when a rowset it rewrote was
    replaced meanwhile, UnknownTableError when the table was dropped."""
    with loads.catalog.lock:
        db, live = loads.catalog.table_by_key(db_name, table_name)
        table = live.model_copy(deep=True)
    chosen = [p for p in table.partitions if p.manifest_key and (partition_ids is None or p.id in partition_ids)]
    store = loads.stores(db.storage_volume)
    manifests = MANIFESTS.get_many(store, [p.manifest_key for p in chosen if p.manifest_key])
    owners = {r.key: (p.id, tablet) for p, m in zip(chosen, manifests) for tablet, rs in m.tablets.items() for r in rs}
    rowsets = [r for m in manifests for rs in m.tablets.values() for r in rs]
    if not rowsets:
        return 0
    scratch = loads.scratch_dir / uuid.uuid4().hex
    scratch.mkdir(parents=True, exist_ok=True)
    pinned = loads.writer.pin([r.key for r in rowsets])
    try:
        files = _local_files(loads, db, rowsets, scratch)
        matches = _typed_condition(table, condition)
        counting = (exp.select(exp.column(FILE_COLUMN), exp.Count(this=exp.Star()))
                    .from_(stored_rows(table, files, [r.schema_version for r in rowsets], numbered=True))
                    .where(matches).group_by(exp.column(FILE_COLUMN)))
        counts = {row[0]: int(row[1]) for row in con.execute(sql(counting)).fetchall()}
        if not counts:
            return 0
        by_path = {str(f): r for f, r in zip(files, rowsets)}
        rewrites = []
        for path, matched in counts.items():
            old = by_path[path]
            partition_id, tablet_id = owners[old.key]
            new = None
            if matched < old.rows:
                key = loads.keys.data_file(db.id, table.id, partition_id, tablet_id)
                pinned += loads.writer.pin([key])
                target = scratch / Path(key).name
                new = _rewrite(con, table, Path(path), old.schema_version, matches, target, key)
                store.put_file_if_absent(key, target)
            rewrites.append(_Rewrite(partition_id, old.key, new))
        _commit(loads, db, table, rewrites, pinned)
        return sum(counts.values())
    finally:
        loads.writer.release(pinned)
        shutil.rmtree(scratch, ignore_errors=True)


def _rewrite(con: duckdb.DuckDBPyConnection, table: Table, source: Path, version: int, matches: exp.Expr,
             target: Path, key: str) -> Rowset:
    """Write `source`'s rows (a rowset written under schema `version`) that do not match as a new file
    in the table's current schema, and describe it as the rowset at `key`."""
    kept = exp.select("*").from_(stored_rows(table, [source], [version])).where(
        exp.not_(call("coalesce", exp.paren(matches.copy()), exp.false())))
    con.execute(sql(copy_to(kept, target.as_posix(), [("FORMAT", exp.var("PARQUET")),
                                                      ("ROW_GROUP_SIZE", number(ROW_GROUP_SIZE))])))
    rows, stats = rowset_stats(target)
    return Rowset(key=key, rows=rows, size=target.stat().st_size, checksum=checksum_file(target), stats=stats,
                  schema_version=table.schema_version)


def _commit(loads: LoadContext, db: Database, table: Table, rewrites: list[_Rewrite], pinned: list[str]) -> None:
    """One new manifest per touched partition, built on its visible version, and one journal entry."""
    store = loads.stores(db.storage_volume)
    touched = sorted({r.partition_id for r in rewrites})
    with table_commit_lock(loads.keys.cluster_id, table.id):
        with loads.catalog.lock:
            _, live = loads.catalog.table_by_key(db.name, table.catalog_key)
            if live.id != table.id:
                raise UnknownTableError(f"Table '{db.name}.{table.name}' was dropped during the delete")
            bases: dict[int, Partition] = {}
            for partition_id in touched:
                partition = live.partition_by_id(partition_id)
                if partition is None or partition.manifest_key is None:
                    raise ConcurrentChangeError(f"A partition of '{table.name}' changed during the delete; run it again")
                bases[partition_id] = partition.model_copy()
        base_manifests = MANIFESTS.get_many(store, [p.manifest_key for p in bases.values() if p.manifest_key])
        versions: list[PartitionVersion] = []
        for (partition_id, partition), base in zip(bases.items(), base_manifests):
            replaced = {r.old_key: r.new for r in rewrites if r.partition_id == partition_id}
            manifest = PartitionManifest(table_id=table.id, partition_id=partition_id,
                                         version=partition.visible_version + 1)
            found = 0
            for tablet, rowsets in base.tablets.items():
                kept: list[Rowset] = []
                for rowset in rowsets:
                    if rowset.key in replaced:
                        found += 1
                        new = replaced[rowset.key]
                        if new is not None:
                            kept.append(new)
                    else:
                        kept.append(rowset)
                manifest.tablets[tablet] = kept
            if found != len(replaced):
                raise ConcurrentChangeError(f"Table '{table.name}' was compacted during the delete; run it again")
            key = loads.keys.partition_manifest(db.id, table.id, partition_id, manifest.version)
            pinned += loads.writer.pin([key])
            store.put_if_absent(key, manifest.to_bytes())
            versions.append(PartitionVersion(partition_id=partition_id, version=manifest.version, manifest_key=key,
                                             row_count=manifest.row_count, data_size=manifest.data_size))

        def build(catalog: Catalog) -> CommitVersions:
            _, current = catalog.table_by_key(db.name, table.catalog_key)
            if current.id != table.id:
                raise UnknownTableError(f"Table '{db.name}.{table.name}' was dropped during the delete")
            for partition_id, base_partition in bases.items():
                now = current.partition_by_id(partition_id)
                if now is None or now.visible_version != base_partition.visible_version:
                    raise ConcurrentChangeError(f"Table '{table.name}' changed during the delete; run it again")
            return CommitVersions(db_id=db.id, table_id=table.id, txn_id=catalog.allocate_ids(1)[0],
                                  versions=versions)

        loads.committer.commit(build)
