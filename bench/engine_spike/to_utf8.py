"""Copy of the TPC-H Parquet files with Utf8View string columns rewritten as plain Utf8, for
Daft, which cannot read Utf8View (tpchgen-cli writes it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import common


def convert(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for t in common.TABLES:
        out = dst / f"{t}.parquet"
        if out.exists():
            continue
        table = pq.read_table(src / f"{t}.parquet")
        schema = pa.schema([f.with_type(pa.string()) if pa.types.is_string_view(f.type) else f for f in table.schema])
        pq.write_table(table.cast(schema), out, row_group_size=1 << 20)


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
