"""The load writer: routed rows land in one Parquet file per tablet, whatever the number of tablets."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cairn.lake.routing import BUCKET_COLUMN, PARTITION_COLUMN
from cairn.lake.tablet_files import MAX_OPEN_FILES, TabletFiles


def test_more_tablets_than_open_files_in_one_write(tmp_path: Path) -> None:
    tablets = 2 * MAX_OPEN_FILES + 7
    rows = 5 * tablets
    batch = pa.table({
        "v": pa.array(range(rows), pa.int64()),
        PARTITION_COLUMN: pa.array([i % 3 for i in range(rows)], pa.int32()),
        BUCKET_COLUMN: pa.array([i % tablets for i in range(rows)], pa.int32()),
    })
    files = TabletFiles(tmp_path, row_group_rows=1_000_000, buffer_bytes=1 << 30)
    files.add(batch)
    written = files.finish()
    assert sorted(v for *_, path in written for v in pq.read_table(path).column("v").to_pylist()) == list(range(rows))
    for partition, bucket, path in written:
        values = pq.read_table(path).column("v").to_pylist()
        assert all(v % 3 == partition and v % tablets == bucket for v in values)
