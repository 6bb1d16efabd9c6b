"""Load speed: Stream Load of TPC-H `lineitem` beside DuckDB loading the same file (issue 14).

The file is `lineitem` at the given scale factor from `tpchgen-cli` (`pip install tpchgen-cli`), as
`|`-separated text without dbgen's trailing separator; it is generated once into a cache folder
outside the repository. Cairn: a `cairn fe` process on a local volume, the table as StarRocks'
TPC-H DDL declares it, the file sent with `PUT /api/tpch/lineitem/_stream_load` (timed from the
first byte sent to the answer). DuckDB, in the same run: `CREATE TABLE ... AS SELECT * FROM
read_csv(...)` of the same file into a database file, with its CHECKPOINT (so both end durable).
Goal: Cairn's rows/s >= 0.7 x DuckDB's. The CPU seconds each used are recorded too: on a machine
shared with other work, wall time depends on what else runs, CPU time much less.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pymysql

from bench.bench_serving import _fe_process
from bench.common import write_result

# StarRocks' TPC-H DDL for lineitem; the file's columns come in dbgen's order (the `columns` header).
TABLE = """CREATE TABLE tpch.lineitem (
  l_shipdate DATE NOT NULL, l_orderkey INT NOT NULL, l_linenumber INT NOT NULL, l_partkey INT NOT NULL,
  l_suppkey INT NOT NULL, l_quantity DECIMAL(15, 2) NOT NULL, l_extendedprice DECIMAL(15, 2) NOT NULL,
  l_discount DECIMAL(15, 2) NOT NULL, l_tax DECIMAL(15, 2) NOT NULL, l_returnflag VARCHAR(1) NOT NULL,
  l_linestatus VARCHAR(1) NOT NULL, l_commitdate DATE NOT NULL, l_receiptdate DATE NOT NULL,
  l_shipinstruct VARCHAR(25) NOT NULL, l_shipmode VARCHAR(10) NOT NULL, l_comment VARCHAR(44) NOT NULL)
DUPLICATE KEY(l_shipdate, l_orderkey) DISTRIBUTED BY HASH(l_orderkey) BUCKETS 96"""
FILE_COLUMNS = {
    "l_orderkey": "INTEGER", "l_partkey": "INTEGER", "l_suppkey": "INTEGER", "l_linenumber": "INTEGER",
    "l_quantity": "DECIMAL(15,2)", "l_extendedprice": "DECIMAL(15,2)", "l_discount": "DECIMAL(15,2)",
    "l_tax": "DECIMAL(15,2)", "l_returnflag": "VARCHAR", "l_linestatus": "VARCHAR", "l_shipdate": "DATE",
    "l_commitdate": "DATE", "l_receiptdate": "DATE", "l_shipinstruct": "VARCHAR", "l_shipmode": "VARCHAR",
    "l_comment": "VARCHAR",
}
CHECK = "SELECT count(*), sum(l_extendedprice), sum(l_orderkey), min(l_shipdate), max(l_comment) FROM lineitem"


def lineitem_file(scale: str, cache: Path) -> Path:
    """`lineitem` at `scale`, `|`-separated without the trailing separator (generated once)."""
    target = cache / f"sf{scale}" / "lineitem.psv"
    if target.exists():
        return target
    cli = shutil.which("tpchgen-cli") or str(Path(sys.executable).with_name("tpchgen-cli"))
    if not Path(cli).exists():
        raise SystemExit("the load benchmark needs tpchgen-cli: pip install tpchgen-cli")
    generated = target.parent / "tbl"
    subprocess.run([cli, "tbl", "-s", scale, "-T", "lineitem", f"--output-dir={generated}", "--overwrite"],
                   check=True)
    partial = target.with_suffix(".partial")
    with (generated / "lineitem.tbl").open("rb") as source, partial.open("wb") as out:
        while block := source.read(1 << 24):
            out.write(block.replace(b"|\n", b"\n"))
    partial.rename(target)
    shutil.rmtree(generated)
    return target


def _stream_load(http_port: int, path: Path) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=3600)
    with path.open("rb") as body:
        connection.request("PUT", "/api/tpch/lineitem/_stream_load", body=body, headers={
            "Authorization": "Basic " + base64.b64encode(b"root:").decode(), "label": "lineitem",
            "column_separator": "|", "columns": ", ".join(FILE_COLUMNS), "Content-Length": str(path.stat().st_size)})
        answer = json.loads(connection.getresponse().read())
    connection.close()
    return answer


def _child_cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process's children that still run (the FE)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cairn_load(path: Path, root: Path) -> tuple[float, float, dict, tuple]:
    """Seconds, the FE's CPU seconds, the Stream Load answer and the check query's row."""
    with _fe_process(root) as (query_port, http_port, _):
        admin = pymysql.connect(host="127.0.0.1", port=query_port, user="root", autocommit=True)
        with admin.cursor() as cursor:
            cursor.execute("CREATE DATABASE tpch")
            cursor.execute(TABLE)
        cpu_before = _child_cpu_seconds()
        started = time.perf_counter()
        answer = _stream_load(http_port, path)
        seconds = time.perf_counter() - started
        cpu = _child_cpu_seconds() - cpu_before
        assert answer["Status"] == "Success", answer
        with admin.cursor() as cursor:
            cursor.execute(CHECK.replace("lineitem", "tpch.lineitem"))
            check = cursor.fetchone()
        admin.close()
    return seconds, cpu, answer, tuple(check)


def duckdb_load(path: Path, root: Path) -> tuple[float, float, tuple]:
    """Seconds and CPU seconds for DuckDB to load the file into a native table of a database file,
    and the check row."""
    con = duckdb.connect(str(root / "duckdb.db"))
    con.execute("SET enable_progress_bar = false")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    con.execute("CREATE TABLE lineitem AS SELECT * FROM read_csv(?, delim = '|', header = false, columns = ?)",
                [str(path), FILE_COLUMNS])
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    check = con.execute(CHECK).fetchone()
    con.close()
    assert check is not None
    return seconds, cpu, tuple(check)


def run(scale: str = "1", cache: str | None = None) -> dict:
    path = lineitem_file(scale, Path(cache or os.environ.get("CAIRN_BENCH_TPCH", "/tmp/cairn-bench-tpch")))
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as scratch:
        root = Path(scratch)
        (root / "cairn").mkdir()
        (root / "duckdb").mkdir()
        duckdb_seconds, duckdb_cpu, duckdb_check = duckdb_load(path, root / "duckdb")
        cairn_seconds, cairn_cpu, answer, cairn_check = cairn_load(path, root / "cairn")
    rows = answer["NumberLoadedRows"]
    assert rows == duckdb_check[0], (answer, duckdb_check)
    assert [str(v) for v in cairn_check] == [str(v) for v in duckdb_check], (cairn_check, duckdb_check)
    figures = {
        "scale_factor": scale, "rows": rows, "bytes": path.stat().st_size,
        "cairn_seconds": cairn_seconds, "cairn_rows_per_second": rows / cairn_seconds,
        "duckdb_seconds": duckdb_seconds, "duckdb_rows_per_second": rows / duckdb_seconds,
        "ratio": duckdb_seconds / cairn_seconds, "goal": ">= 0.7",
        # CPU seconds of the FE process and of DuckDB: on a shared machine, less noisy than wall time.
        "cairn_cpu_seconds": cairn_cpu, "duckdb_cpu_seconds": duckdb_cpu, "cpu_ratio": duckdb_cpu / cairn_cpu,
        # The machine is shared: its load average says how much else ran beside the two loads.
        "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg()[0],
    }
    write_result("load", figures)
    return figures
