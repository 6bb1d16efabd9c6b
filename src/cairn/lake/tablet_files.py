"""Routed Arrow batches written as one Parquet file per (partition, tablet), in large row groups.

A load's rows arrive as record batches carrying the partition index and bucket of every row
(`lake.routing`). Each batch is sorted by those two columns (Arrow compute, no Python per row) and
cut into one slice per tablet; a tablet's slices wait in memory until they make a row group of
`row_group_rows` rows, and are then written to that tablet's file. What waits is capped
(`buffer_bytes`): past the cap, the tablets holding the most are written out early (smaller row
groups, never more memory), so a load's memory is bounded whatever its size. What waits is
counted in a `LoadMemory`, whose peak makes the bound observable.

A table with a sort key (CREATE TABLE ... ORDER BY (...)) has each row group written in that order,
NULLs first, as StarRocks sorts a segment: a file written at once holds its rows sorted.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cairn.catalog.model import Table
from cairn.catalog.types import ColumnType, parse_type
from cairn.lake.routing import BUCKET_COLUMN, PARTITION_COLUMN

# Tablets whose files stay open at once; past it the least recently written one is finished (a
# later row group of that tablet starts another file, so another rowset).
MAX_OPEN_FILES = 128
# Writing row groups runs on this many threads (Parquet encoding releases the GIL).
WRITE_THREADS = 2

Tablet = tuple[int, int]


@dataclass
class LoadMemory:
    """What a load holds in memory between reading rows and writing them, and the most it held."""

    held: int = 0
    peak: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def hold(self, nbytes: int) -> None:
        with self._lock:
            self.held += nbytes
            self.peak = max(self.peak, self.held)

    def release(self, nbytes: int) -> None:
        with self._lock:
            self.held -= nbytes


@dataclass
class _Pending:
    """A tablet's slices not written yet."""

    slices: list[pa.Table] = field(default_factory=list)
    rows: int = 0
    nbytes: int = 0


def _json_marked(arrow: pa.DataType, column_type: ColumnType) -> pa.DataType:
    """`arrow` (as the engine gives a value of `column_type`) with every JSON part typed as Arrow's
    JSON extension, which Parquet stores with its JSON logical type (so reading gives JSON again)."""
    if column_type.name == "JSON":
        return pa.json_(arrow)
    if column_type.name == "ARRAY" and pa.types.is_list(arrow):
        return pa.list_(arrow.value_field.with_type(_json_marked(arrow.value_type, column_type.items[0])))
    if column_type.name == "MAP" and pa.types.is_map(arrow):
        return pa.map_(_json_marked(arrow.key_type, column_type.items[0]),
                       arrow.item_field.with_type(_json_marked(arrow.item_type, column_type.items[1])))
    if column_type.name == "STRUCT" and pa.types.is_struct(arrow):
        return pa.struct([arrow.field(i).with_type(_json_marked(arrow.field(i).type, item))
                          for i, item in enumerate(column_type.items)])
    return arrow


def _dictionary_columns(schema: pa.Schema) -> list[str] | bool:
    """The columns worth dictionary-encoding: text. A tablet's row group is often small (a load's
    rows spread over many tablets), so a dictionary rarely outgrows its page and numbers and dates
    would all be hashed for little gain; text is where repeated values save the most."""
    names = []
    for column in schema:
        kind = column.type.storage_type if isinstance(column.type, pa.ExtensionType) else column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            names.append(column.name)
    return names or False


def sorted_rows(rows: pa.Table, table: Table | None) -> pa.Table:
    """`rows` in the order of the table's sort key (ascending, NULLs first; stable, so rows equal on it
    keep their order); as they are without one, or when they lack a sort column (delete markers)."""
    if table is None or not table.sort_columns or not set(table.sort_columns) <= set(rows.column_names):
        return rows
    order = pc.sort_indices(rows, sort_keys=[(name, "ascending", "at_start") for name in table.sort_columns])
    return rows.take(order)


def file_schema(rows: pa.Schema, table: Table | None) -> pa.Schema:
    """The schema `rows` are written with: as they come, JSON columns (and JSON inside nested ones)
    marked as JSON."""
    if table is None:
        return rows
    types = {c.name: parse_type(c.type) for c in table.columns}
    marked = [column.with_type(_json_marked(column.type, types[column.name])) if column.name in types else column
              for column in rows]
    return pa.schema(marked, metadata=rows.metadata)


class TabletFiles:
    """Writes routed batches (with PARTITION_COLUMN and BUCKET_COLUMN) into `directory`."""

    def __init__(self, directory: Path, row_group_rows: int, buffer_bytes: int,
                 memory: LoadMemory | None = None, table: Table | None = None) -> None:
        self.directory = directory
        self.table = table
        self.memory = memory or LoadMemory()
        self.row_group_rows = row_group_rows
        self.buffer_bytes = buffer_bytes
        self.rows = 0
        self.buffered_bytes = 0
        self._pending: dict[Tablet, _Pending] = {}
        self._open: OrderedDict[Tablet, tuple[pq.ParquetWriter, Path]] = OrderedDict()
        self._files: list[tuple[int, int, Path]] = []
        self._schema: pa.Schema | None = None
        self._pool = ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="tablet-files")
        directory.mkdir(parents=True, exist_ok=True)

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Route the rows of `batch` to their tablets; writes the row groups that filled up."""
        if batch.num_rows == 0:
            return
        partitions = batch.column(PARTITION_COLUMN).cast(pa.int64())
        buckets = batch.column(BUCKET_COLUMN).cast(pa.int64())
        key = pc.add(pc.shift_left(partitions, 32), buckets)
        order = pc.sort_indices(key)
        rows = batch.drop_columns([PARTITION_COLUMN, BUCKET_COLUMN]).take(order)
        if isinstance(rows, pa.RecordBatch):
            rows = pa.Table.from_batches([rows])
        if self._schema is None:
            self._schema = file_schema(rows.schema, self.table)
        sorted_key = key.take(order)
        if isinstance(sorted_key, pa.ChunkedArray):
            sorted_key = sorted_key.combine_chunks()
        runs = pc.run_end_encode(sorted_key)
        start = 0
        for end, tablet_key in zip(runs.run_ends.to_pylist(), runs.values.to_pylist()):
            part = rows.slice(start, end - start)
            pending = self._pending.setdefault((tablet_key >> 32, tablet_key & 0xFFFFFFFF), _Pending())
            pending.slices.append(part)
            pending.rows += part.num_rows
            pending.nbytes += part.nbytes
            self.buffered_bytes += part.nbytes
            self.memory.hold(part.nbytes)
            start = end
        self.rows += batch.num_rows
        full = [tablet for tablet, pending in self._pending.items() if pending.rows >= self.row_group_rows]
        self._write(full)
        if self.buffered_bytes > self.buffer_bytes:
            largest = sorted(self._pending, key=lambda t: self._pending[t].nbytes, reverse=True)
            chosen, freed = [], 0
            for tablet in largest:
                if self.buffered_bytes - freed <= self.buffer_bytes // 2:
                    break
                chosen.append(tablet)
                freed += self._pending[tablet].nbytes
            self._write(chosen)

    def finish(self) -> list[tuple[int, int, Path]]:
        """Write what waits and close every file: (partition index, bucket, file) of each file."""
        try:
            self._write(list(self._pending))
            for tablet in list(self._open):
                self._close(tablet)
        finally:
            self._pool.shutdown(wait=True)
        return self._files

    def abandon(self) -> None:
        """Stop without finishing (the load failed); the directory is the caller's to remove."""
        self._pool.shutdown(wait=True)
        for writer, _ in self._open.values():
            writer.close()
        self._open.clear()
        self._pending.clear()

    def _write(self, tablets: list[Tablet]) -> None:
        jobs: list[tuple[pq.ParquetWriter, pa.Table]] = []
        for tablet in tablets:
            pending = self._pending.pop(tablet, None)
            if pending is None or not pending.rows:
                continue
            self.buffered_bytes -= pending.nbytes
            self.memory.release(pending.nbytes)
            rows = sorted_rows(pa.concat_tables(pending.slices), self.table)
            if len(jobs) == MAX_OPEN_FILES - 1:
                # Opening one more file may close the least recently used one: it must not hold a job.
                self._run(jobs)
                jobs = []
            jobs.append((self._writer(tablet), rows if rows.schema == self._schema else rows.cast(self._schema)))
        self._run(jobs)

    def _run(self, jobs: list[tuple[pq.ParquetWriter, pa.Table]]) -> None:
        for future in [self._pool.submit(writer.write_table, rows, self.row_group_rows) for writer, rows in jobs]:
            future.result()

    def _writer(self, tablet: Tablet) -> pq.ParquetWriter:
        if tablet in self._open:
            self._open.move_to_end(tablet)
            return self._open[tablet][0]
        while len(self._open) >= MAX_OPEN_FILES:
            self._close(next(iter(self._open)))
        path = self.directory / f"{tablet[0]}-{tablet[1]}-{uuid.uuid4().hex}.parquet"
        assert self._schema is not None
        writer = pq.ParquetWriter(path, self._schema, compression="snappy", store_decimal_as_integer=True,
                                  use_dictionary=_dictionary_columns(self._schema))
        self._open[tablet] = (writer, path)
        return writer

    def _close(self, tablet: Tablet) -> None:
        writer, path = self._open.pop(tablet)
        writer.close()
        self._files.append((tablet[0], tablet[1], path))
