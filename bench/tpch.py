"""TPC-H for Cairn's distributed-execution benchmark and tests: StarRocks' published query text
(bench/tpch_queries.sql), data from tpchgen-cli (PyPI), DuckDB over native tables as the reference
engine, and the comparison of two answers that issue #14 defines."""

from __future__ import annotations

import datetime
import decimal
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

QUERIES = Path(__file__).resolve().parent / "tpch_queries.sql"
TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")


def queries() -> tuple[str, dict[int, str]]:
    """The revenue0 view's DDL (Q15 reads it) and the 22 queries, keyed by number."""
    parts = re.split(r"^--(VIEW revenue0|Q\d+)\s*$", QUERIES.read_text(), flags=re.M)
    view = ""
    out: dict[int, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        sql = body.strip().rstrip(";")
        if name.startswith("VIEW"):
            view = sql
        else:
            out[int(name[1:])] = sql
    return view, out


def generate(directory: Path, sf: str, split: tuple[str, ...] = ()) -> dict[str, list[Path]]:
    """TPC-H Parquet at scale factor `sf` under `directory` (generated once), as each table's files;
    the tables named in `split` are written as two files, as a table of two tablets would be."""
    cli = Path(sys.executable).with_name("tpchgen-cli")
    whole = directory / "whole"
    if not (whole / "lineitem.parquet").exists():
        subprocess.run([str(cli), "parquet", "-s", sf, f"--output-dir={whole}"], check=True, capture_output=True)
    files = {t: [whole / f"{t}.parquet"] for t in TABLES}
    if split:
        parts = directory / "parts"
        if not all((parts / t).is_dir() for t in split):
            subprocess.run([str(cli), "parquet", "-s", sf, "--tables=" + ",".join(split), "--parts=2",
                            f"--output-dir={parts}"], check=True, capture_output=True)
        for t in split:
            files[t] = sorted((parts / t).glob("*.parquet"))
    return files


def duckdb_connection(files: dict[str, list[Path]]) -> Any:
    """DuckDB over its own native tables loaded from the same files (the issue's reference)."""
    import duckdb

    con = duckdb.connect()
    for t, paths in files.items():
        con.execute(f"create table {t} as select * from read_parquet($files)", {"files": [str(p) for p in paths]})
    view, _ = queries()
    con.execute(view)
    return con


def _is_float(t: pa.DataType) -> bool:
    return bool(pa.types.is_floating(t))


def _norm(v: Any) -> Any:
    return float(v) if isinstance(v, decimal.Decimal) else v


def _row_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((x is None, f"{x:.6e}" if isinstance(x, float) else str(x)) for x in row)


def same_answer(got: pa.Table, want: pa.Table, ordered: bool) -> tuple[bool, str]:
    """Issue #14's "the same": exact for exact types; within a relative 1e-9 where either side is a
    DOUBLE or FLOAT; a DECIMAL against a DOUBLE (DataFusion's AVG is a DECIMAL where DuckDB's is a
    DOUBLE) within one unit of the decimal's last digit; as a multiset when not `ordered`."""
    if got.num_columns != want.num_columns or got.num_rows != want.num_rows:
        return False, f"shape {got.num_rows}x{got.num_columns} vs {want.num_rows}x{want.num_columns}"
    kinds: list[tuple[bool, float]] = []
    for gf, wf in zip(got.schema, want.schema):
        approximate = _is_float(gf.type) or _is_float(wf.type)
        scales = [t.scale for t in (gf.type, wf.type) if pa.types.is_decimal(t)]
        kinds.append((approximate, 10.0 ** -min(scales) if approximate and scales else 0.0))
    grows = [tuple(r.values()) for r in got.to_pylist()]
    wrows = [tuple(r.values()) for r in want.to_pylist()]
    if not ordered:
        grows.sort(key=lambda r: _row_key(tuple(_norm(x) for x in r)))
        wrows.sort(key=lambda r: _row_key(tuple(_norm(x) for x in r)))
    for i, (a, b) in enumerate(zip(grows, wrows)):
        for j, (x, y) in enumerate(zip(a, b)):
            approximate, unit = kinds[j]
            if approximate and x is not None and y is not None:
                fx, fy = float(x), float(y)
                if fx == fy or math.isclose(fx, fy, rel_tol=1e-9) or abs(fx - fy) <= unit + 1e-12 * abs(fy):
                    continue
                return False, f"row {i} column {j}: {x!r} vs {y!r}"
            if isinstance(x, datetime.datetime) or isinstance(y, datetime.datetime):
                if x != y:
                    return False, f"row {i} column {j}: {x!r} vs {y!r}"
                continue
            if x != y:
                return False, f"row {i} column {j}: {x!r} vs {y!r}"
    return True, ""


def is_ordered(sql: str) -> bool:
    """Whether the query's outermost SELECT has an ORDER BY (in this file's layout, a line that
    starts with it)."""
    return re.search(r"^order\s+by", sql, re.M | re.I) is not None


def compare(got: pa.Table, want: pa.Table, sql: str) -> tuple[bool, str]:
    """Ordered where the query orders; rows tied on the sort key may come in any order, so a failed
    ordered comparison is tried again as a multiset."""
    ok, why = same_answer(got, want, ordered=is_ordered(sql))
    if not ok and is_ordered(sql):
        if same_answer(got, want, ordered=False)[0]:
            return True, "same rows; ties in another order"
    return ok, why
