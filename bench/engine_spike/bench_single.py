"""Single-process DataFusion against DuckDB on the 22 TPC-H queries: answers compared, times
measured (best of N, after one warm-up run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from datafusion import SessionConfig, SessionContext

import common


def datafusion_context(directory: Path, partitions: int = 2) -> SessionContext:
    ctx = SessionContext(SessionConfig().with_target_partitions(partitions))
    for t in common.TABLES:
        ctx.register_parquet(t, str(directory / f"{t}.parquet"))
    view, _ = common.queries()
    ctx.sql(view)
    return ctx


def main(root: Path, sf: str, repeat: int) -> dict[str, object]:
    directory = common.data_dir(root, sf)
    _, qs = common.queries()
    duck = common.duckdb_connection(directory)
    ctx = datafusion_context(directory)
    rows = []
    for n, sql in qs.items():
        want, t_duck = common.timed(lambda: common.duckdb_run(duck, sql), repeat)
        try:
            got, t_df = common.timed(lambda: ctx.sql(sql).to_arrow_table(), repeat)
            ok, why = common.compare(got, want, sql)
        except Exception as e:  # noqa: BLE001 - an engine error is a result to record
            t_df, ok, why = float("nan"), False, f"error: {type(e).__name__}: {str(e)[:200]}"
        rows.append({"q": n, "duckdb_s": round(t_duck, 4), "datafusion_s": round(t_df, 4), "same": ok, "note": why})
        print(rows[-1], flush=True)
    total_duck = sum(r["duckdb_s"] for r in rows)
    total_df = sum(r["datafusion_s"] for r in rows if r["same"])
    return {
        "sf": sf,
        "queries": rows,
        "passed": sum(r["same"] for r in rows),
        "duckdb_total_s": round(total_duck, 3),
        "datafusion_total_s": round(total_df, 3),
        "ratio_datafusion_vs_duckdb": round(total_df / total_duck, 2),
    }


if __name__ == "__main__":
    out = main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3)
    print(json.dumps({k: v for k, v in out.items() if k != "queries"}))
