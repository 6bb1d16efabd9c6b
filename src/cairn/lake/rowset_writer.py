"""Writing routed rows as Parquet rowsets and putting them on the storage volume."""

from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from sqlglot import exp

from cairn.catalog.model import Table
from cairn.lake.manifest import ColumnStats, Rowset
from cairn.lake.routing import BUCKET_COLUMN, PARTITION_COLUMN
from cairn.lake.sqltext import column, copy_to, number, sql
from cairn.storage.checksum import checksum_file
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import IO_CONCURRENCY, ObjectStore

_ROUTED_FILE = re.compile(rf"{PARTITION_COLUMN}=(-?\d+)/{BUCKET_COLUMN}=(\d+)/[^/]+\.parquet$")
# Large enough for DuckDB's reader to skip row groups by their min/max statistics.
ROW_GROUP_SIZE = 1_000_000


@dataclass
class WrittenRowset:
    """A rowset put on the volume, with the partition and tablet it belongs to."""

    partition_id: int
    tablet_id: int
    rowset: Rowset


def rowset_stats(path: Path) -> tuple[int, dict[str, ColumnStats]]:
    metadata = pq.read_metadata(path)
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
                low, high = str(found.min), str(found.max)
                current.min = low if current.min is None else min(current.min, low)
                current.max = high if current.max is None else max(current.max, high)
    return metadata.num_rows, stats


def write_routed(con: duckdb.DuckDBPyConnection, select: exp.Query,
                 directory: Path) -> tuple[int, list[tuple[int, int, Path]]]:
    """Write the rows of `select` (with partition and bucket columns) as Parquet files, one folder
    per (partition index, bucket). Returns the row count and (partition index, bucket, file) triples."""
    directory.mkdir(parents=True, exist_ok=True)
    copy = copy_to(select, directory.as_posix(), [
        ("FORMAT", exp.var("PARQUET")),
        ("PARTITION_BY", exp.Tuple(expressions=[column(PARTITION_COLUMN), column(BUCKET_COLUMN)])),
        ("ROW_GROUP_SIZE", number(ROW_GROUP_SIZE)),
        ("OVERWRITE_OR_IGNORE", None)])
    written = con.execute(sql(copy)).fetchall()[0][0]
    found = []
    for path in directory.rglob("*.parquet"):
        match = _ROUTED_FILE.search(path.relative_to(directory).as_posix())
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
    return int(written), found


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
        rows, files = write_routed(con, select, scratch)
        return rows, put_rowsets(store, keys, db_id, table, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
