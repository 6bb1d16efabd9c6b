"""Writing routed rows as Parquet rowsets and putting them on the storage volume."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

from cairn.catalog.model import Table
from cairn.lake.manifest import ColumnStats, Rowset
from cairn.lake.sqltext import sql
from cairn.lake.tablet_files import LoadMemory, TabletFiles
from cairn.storage.checksum import checksum_file
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import IO_CONCURRENCY, ObjectStore

# Large enough for DuckDB's reader to skip row groups by their min/max statistics.
ROW_GROUP_SIZE = 1_000_000
# Rows per batch taken from the engine, and what a load may hold in memory waiting for a row group.
WRITE_BATCH_ROWS = 1 << 18
LOAD_BUFFER_BYTES = 512 << 20


@dataclass
class WrittenRowset:
    """A rowset put on the volume, with the partition and tablet it belongs to."""

    partition_id: int
    tablet_id: int
    rowset: Rowset


def _bound_text(statistics: pq.Statistics, bound: str, kind: pa.DataType) -> str:
    """A row group's min or max as text. A DATE or DATETIME before year 1 (StarRocks' range starts
    at 0000-01-01; Python's dates at year 1) is formatted by Arrow instead."""
    try:
        return str(getattr(statistics, bound))
    except (OverflowError, ValueError):
        physical = pa.int32() if pa.types.is_date32(kind) else pa.int64()
        raw = pa.array([getattr(statistics, f"{bound}_raw")], physical).cast(kind)
        text = pc.strftime(raw, "%Y-%m-%d" if pa.types.is_date(kind) else "%Y-%m-%d %H:%M:%S")
        return str(text[0].as_py())


def rowset_stats(path: Path) -> tuple[int, dict[str, ColumnStats]]:
    metadata = pq.read_metadata(path)
    schema = metadata.schema.to_arrow_schema()
    stats: dict[str, ColumnStats] = {}
    for group_index in range(metadata.num_row_groups):
        group = metadata.row_group(group_index)
        for column_index in range(group.num_columns):
            chunk = group.column(column_index)
            name = chunk.path_in_schema
            current = stats.setdefault(name, ColumnStats())
            found = chunk.statistics
            if found is None:
                continue
            current.null_count += found.null_count or 0
            if found.has_min_max:
                kind = schema.field(name).type if name in schema.names else pa.string()
                low, high = _bound_text(found, "min", kind), _bound_text(found, "max", kind)
                current.min = low if current.min is None else min(current.min, low)
                current.max = high if current.max is None else max(current.max, high)
    return metadata.num_rows, stats


def write_routed(con: duckdb.DuckDBPyConnection, select: exp.Query, directory: Path, table: Table,
                 buffer_bytes: int = LOAD_BUFFER_BYTES) -> tuple[int, list[tuple[int, int, Path]]]:
    """Write the rows of `select` (with partition and bucket columns) as Parquet files, one or more
    per (partition index, bucket). Returns the row count and (partition index, bucket, file) triples."""
    reader = con.sql(sql(select)).to_arrow_reader(WRITE_BATCH_ROWS)
    try:
        return write_batches(reader, directory, table, buffer_bytes)
    finally:
        reader.close()


def write_batches(batches: Iterable[pa.RecordBatch | pa.Table], directory: Path, table: Table, buffer_bytes: int,
                  memory: LoadMemory | None = None) -> tuple[int, list[tuple[int, int, Path]]]:
    """Write routed `batches` as Parquet files in `directory`, holding at most about `buffer_bytes`
    of rows waiting for a row group (counted in `memory`). Returns what `write_routed` returns."""
    files = TabletFiles(directory, ROW_GROUP_SIZE, buffer_bytes, memory, table)
    try:
        for batch in batches:
            files.add(batch)
        return files.rows, files.finish()
    except BaseException:
        files.abandon()
        raise


def put_rowsets(store: ObjectStore, keys: ClusterKeys, db_id: int, table: Table,
                files: list[tuple[int, int, Path]]) -> list[WrittenRowset]:
    """Checksum, describe and put each file as a uniquely named object, concurrently."""

    def put_one(item: tuple[int, int, Path]) -> WrittenRowset:
        partition_index, bucket, path = item
        partition = table.partitions[partition_index]
        tablet_id = partition.tablet_ids[bucket]
        key = keys.data_file(db_id, table.id, partition.id, tablet_id)
        rows, stats = rowset_stats(path)
        rowset = Rowset(key=key, rows=rows, size=path.stat().st_size, checksum=checksum_file(path), stats=stats)
        store.put_file_if_absent(key, path)
        return WrittenRowset(partition.id, tablet_id, rowset)

    if not files:
        return []
    with ThreadPoolExecutor(max_workers=min(IO_CONCURRENCY, len(files))) as pool:
        return list(pool.map(put_one, files))


def write_rowsets(con: duckdb.DuckDBPyConnection, select: exp.Query, store: ObjectStore, keys: ClusterKeys,
                  db_id: int, table: Table, scratch: Path) -> tuple[int, list[WrittenRowset]]:
    """Write the routed rows of `select` as rowsets of `table` and put them on the volume.
    Returns the row count and the rowsets; `scratch` is removed afterwards."""
    try:
        rows, files = write_routed(con, select, scratch, table)
        return rows, put_rowsets(store, keys, db_id, table, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_batch_rowsets(batches: Iterable[pa.RecordBatch | pa.Table], store: ObjectStore, keys: ClusterKeys,
                        db_id: int, table: Table, scratch: Path, buffer_bytes: int,
                        memory: LoadMemory | None = None) -> tuple[int, list[WrittenRowset]]:
    """Write routed `batches` as rowsets of `table` and put them on the volume (see `write_batches`).
    Returns the row count and the rowsets; `scratch` is removed afterwards."""
    try:
        rows, files = write_batches(batches, scratch, table, buffer_bytes, memory)
        return rows, put_rowsets(store, keys, db_id, table, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
