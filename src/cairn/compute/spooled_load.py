"""A load's routed rows spooled to one Arrow IPC file on the FE, so that each compute node is sent
the rows of the tablets it owns, all nodes at once, and a node that fails hands its tablets to
another, which reads them again from the file (the source, a request body or a query, is read once).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from cairn.catalog.model import Table
from cairn.lake.routing import BUCKET_COLUMN, PARTITION_COLUMN

# Buckets per partition stay far below this, so partition * STRIDE + bucket names one tablet.
_STRIDE = 1 << 24


@dataclass(frozen=True)
class SpooledRows:
    """Routed rows in `path`: their schema, and each tablet they touch by its routing slot
    (partition index * STRIDE + bucket)."""

    path: Path
    schema: pa.Schema
    slots: dict[int, int]  # tablet id -> routing slot

    @property
    def tablet_ids(self) -> list[int]:
        return sorted(self.slots)

    def batches_for(self, tablet_ids: Iterable[int]) -> Iterator[pa.RecordBatch]:
        """The spooled rows of these tablets, batch by batch (memory-mapped: the file is not read into memory)."""
        wanted = pa.array(sorted(self.slots[t] for t in tablet_ids), pa.int64())
        with pa.memory_map(str(self.path)) as source:
            reader = ipc.open_file(source)
            for index in range(reader.num_record_batches):
                batch = reader.get_batch(index)
                chosen = batch.filter(pc.is_in(_slots(batch), value_set=wanted))
                if chosen.num_rows:
                    yield chosen


def _slots(batch: pa.RecordBatch | pa.Table) -> pa.Array:
    partitions = pc.cast(batch.column(PARTITION_COLUMN), pa.int64())
    buckets = pc.cast(batch.column(BUCKET_COLUMN), pa.int64())
    return pc.add(pc.multiply(partitions, _STRIDE), buckets)


def spool(batches: Iterable[pa.RecordBatch | pa.Table], schema: pa.Schema, path: Path, table: Table) -> SpooledRows:
    """Write routed `batches` to `path` and note the tablets of `table` they touch."""
    seen: set[int] = set()
    path.parent.mkdir(parents=True, exist_ok=True)
    with ipc.new_file(str(path), schema) as out:
        for batch in batches:
            if not batch.num_rows:
                continue
            out.write(batch)
            seen.update(pc.unique(_slots(batch)).to_pylist())
    slots = {}
    for slot in seen:
        partition, bucket = divmod(slot, _STRIDE)
        slots[table.partitions[partition].tablet_ids[bucket]] = slot
    return SpooledRows(path, schema, slots)
