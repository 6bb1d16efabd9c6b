"""Shared pieces of the engine spike: the TPC-H query text, the data location, DuckDB as the
reference engine, and the comparison of two answers.

Runs in the spike's own virtualenv (see run.py), never in Cairn's.
"""

from __future__ import annotations

import datetime
import decimal
import math
import re
import time
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa

HERE = Path(__file__).resolve().parent
TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")


def queries() -> tuple[str, dict[int, str]]:
    """The revenue0 view's DDL and the 22 queries, keyed by number."""
    text = (HERE.parent / "tpch_queries.sql").read_text()  # the TPC-H benchmark's queries
    parts = re.split(r"^--(VIEW revenue0|Q\d+)\s*$", text, flags=re.M)
    view = ""
    out: dict[int, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        sql = body.strip().rstrip(";")
        if name.startswith("VIEW"):
            view = sql
        else:
            out[int(name[1:])] = sql
    return view, out


def data_dir(root: Path, sf: str) -> Path:
    return root / f"sf{sf}"


def duckdb_connection(directory: Path) -> Any:
    """DuckDB over its own native tables loaded from the same Parquet files (as the issue asks)."""
    import duckdb

    con = duckdb.connect()
    for t in TABLES:
        con.execute(f"create table {t} as select * from read_parquet('{directory / (t + '.parquet')}')")
    view, _ = queries()
    con.execute(view)
    return con


def duckdb_run(con: Any, sql: str) -> pa.Table:
    return con.sql(sql).to_arrow_table()


def timed(fn: Callable[[], pa.Table], repeat: int = 1) -> tuple[pa.Table, float]:
    """Best of `repeat` runs (the machine is shared: the best run is the least disturbed)."""
    best = math.inf
    result: pa.Table | None = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    return result, best


def _scale(t: pa.DataType) -> int | None:
    return t.scale if pa.types.is_decimal(t) else None


def _norm(v: Any) -> Any:
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, datetime.datetime):
        return v
    return v


def same_answer(got: pa.Table, want: pa.Table, ordered: bool) -> tuple[bool, str]:
    """Compare two answers: same shape; strings, integers and dates exact; numbers of different
    types within 1e-9 relative, or within one unit of the coarser decimal scale (DataFusion
    truncates an AVG or a division to its DECIMAL scale where DuckDB returns a DOUBLE); as a multiset when
    the query has no ORDER BY."""
    if got.num_columns != want.num_columns or got.num_rows != want.num_rows:
        return False, f"shape {got.num_rows}x{got.num_columns} vs {want.num_rows}x{want.num_columns}"
    tol: list[float] = []
    for gf, wf in zip(got.schema, want.schema):
        scales = [s for s in (_scale(gf.type), _scale(wf.type)) if s is not None]
        tol.append(10.0 ** -min(scales) if scales and gf.type != wf.type else 0.0)
    grow = [tuple(_norm(v) for v in r.values()) for r in got.to_pylist()]
    wrow = [tuple(_norm(v) for v in r.values()) for r in want.to_pylist()]
    if not ordered:
        key = lambda r: tuple((x is None, str(x) if not isinstance(x, float) else f"{x:.6e}") for x in r)  # noqa: E731
        grow.sort(key=key)
        wrow.sort(key=key)
    for i, (a, b) in enumerate(zip(grow, wrow)):
        for j, (x, y) in enumerate(zip(a, b)):
            if isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
                if x == y:
                    continue
                if math.isclose(x, y, rel_tol=1e-9) or abs(x - y) <= tol[j] + 1e-12 * abs(y):
                    continue
                return False, f"row {i} col {j}: {x!r} vs {y!r}"
            if x != y:
                return False, f"row {i} col {j}: {x!r} vs {y!r}"
    return True, ""


def is_ordered(sql: str) -> bool:
    """Whether the query's outermost SELECT has an ORDER BY (in this file's layout, a line
    starting with it)."""
    return re.search(r"^order\s+by", sql, re.M | re.I) is not None


def compare(got: pa.Table, want: pa.Table, sql: str) -> tuple[bool, str]:
    """Ordered comparison where the query orders; rows that tie on the sort key may come in any
    order, so a failed ordered comparison is retried as a multiset."""
    ok, why = same_answer(got, want, ordered=is_ordered(sql))
    if not ok and is_ordered(sql):
        ok2, _ = same_answer(got, want, ordered=False)
        if ok2:
            return True, "same rows; ties in another order"
    return ok, why
