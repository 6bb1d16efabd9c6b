"""Merging one tablet's rowsets into one Parquet object (the data half of a compaction)."""

from __future__ import annotations

import shutil
import uuid

from sqlglot import exp

from cairn.catalog.model import Table
from cairn.lake.keyed import is_keyed, merged_rows
from cairn.lake.manifest import Rowset
from cairn.lake.rowset_writer import ROW_GROUP_SIZE, rowset_stats
from cairn.lake.schema_read import stored_rows
from cairn.lake.sqltext import column, copy_to, number, read_parquet, sql
from cairn.storage.checksum import checksum_file
from cairn.storage.engine_sandbox import SandboxedEngine
from cairn.storage.object_cache import ObjectCache
from cairn.storage.object_store import ObjectStore


def merge_rowsets(engine: SandboxedEngine, store: ObjectStore, cache: ObjectCache, rowsets: list[Rowset],
                  target_key: str, table: Table | None = None) -> Rowset:
    """Write the rows of `rowsets` (in their order) as one object at `target_key` and describe it.
    Reads in place on a local volume, through `cache` otherwise; `engine` writes the merged file.

    For a keyed `table` the rows are merged by key (lake/keyed.py): `rowsets` are a tablet's oldest
    ones, so nothing older remains for a delete marker to hide, and the merged object holds each
    live key once, with no delete markers."""
    keys = [r.key for r in rowsets]
    local = [store.local_path(k) for k in keys]
    held = not all(p is not None for p in local)
    files = cache.fetch_all(store, keys, [r.checksum for r in rowsets]) if held else [p for p in local if p]
    scratch = engine.scratch / uuid.uuid4().hex
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        merged = scratch / "merged.parquet"
        con = engine.cursor()
        try:
            # Files are read in the order listed; preserve_insertion_order keeps rows in it.
            versions = [r.schema_version for r in rowsets]
            if table is not None and is_keyed(table):
                every_row = merged_rows(table, files, [r.deletes for r in rowsets], versions)
            elif table is not None:
                # Older rowsets are rewritten in the table's current schema (lake/schema_read.py).
                every_row = exp.select("*").from_(stored_rows(table, files, versions))
            else:
                every_row = exp.select("*").from_(read_parquet(files))
            if table is not None and table.sort_columns:
                # The merged rowset keeps the sort key's promise: its rows in that order, NULLs first.
                every_row = exp.select("*").from_(every_row.subquery("__cairn_merged")).order_by(
                    *[exp.Ordered(this=column(name), desc=False, nulls_first=True) for name in table.sort_columns])
            con.execute(sql(copy_to(every_row, merged.as_posix(), [("FORMAT", exp.var("PARQUET")),
                                                                   ("ROW_GROUP_SIZE", number(ROW_GROUP_SIZE))])))
        finally:
            con.close()
        rows, stats = rowset_stats(merged)
        rowset = Rowset(key=target_key, rows=rows, size=merged.stat().st_size, checksum=checksum_file(merged),
                        stats=stats, unique_keys=table is not None and is_keyed(table),
                        schema_version=table.schema_version if table is not None else rowsets[0].schema_version)
        store.put_file_if_absent(target_key, merged)
        return rowset
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if held:
            cache.release(store, keys)
