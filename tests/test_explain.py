"""EXPLAIN [LOGICAL | VERBOSE | COSTS | ANALYZE] and DESC <query> over the MySQL protocol: StarRocks'
layout (`Explain String`, one row per line), the partitions and tablets the query's own pruning keeps,
where the query runs, rows and time with ANALYZE, privileges and errors."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pymysql
import pytest

from fe_process import FeProcess, module_fe  # noqa: F401  (module_fe is the `fe` fixture)
from sql_client import connect, error_of, fresh_database, rows

# r: RANGE-partitioned on k into 3 partitions of 4 tablets (hash buckets on k), one row in each.
SETUP = ("CREATE TABLE r (k INT, v INT) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN (10), "
         "PARTITION p2 VALUES LESS THAN (20), PARTITION p3 VALUES LESS THAN (30)) DISTRIBUTED BY HASH(k) BUCKETS 4",
         "INSERT INTO r VALUES (1, 10), (15, 20), (25, 30)",
         "CREATE TABLE u (k INT, name VARCHAR(10)) DISTRIBUTED BY HASH(k) BUCKETS 2",
         "INSERT INTO u VALUES (1, 'a'), (15, 'b')")


@pytest.fixture(scope="module")
def db(fe: FeProcess) -> Iterator[tuple[str, pymysql.cursors.Cursor]]:
    with fresh_database(fe, "explain", *SETUP) as found:
        yield found


def _plan(cur: pymysql.cursors.Cursor, sql: str) -> list[str]:
    lines = [row[0] for row in rows(cur, sql)]
    assert [d[0] for d in cur.description] == ["Explain String"]
    return lines


def _value(lines: list[str], key: str) -> list[str]:
    """The values of `key=...` or `key: ...` properties, in order."""
    found = [re.match(rf"^[ |-]*(?:\d+:)?{re.escape(key)}[=:] ?(.*)$", line) for line in lines]
    return [m.group(1) for m in found if m]


# (query, partitions=, tabletRatio= of each scan in order, OUTPUT EXPRS)
PRUNED = [
    ("SELECT * FROM r", ["3/3"], ["12/12"], "k | v"),
    ("SELECT v FROM r WHERE k = 15", ["1/3"], ["1/4"], "v"),
    ("SELECT k FROM r WHERE k >= 12 AND k < 28", ["2/3"], ["8/8"], "k"),
    ("SELECT count(*) AS n FROM r WHERE k IN (1, 25)", ["2/3"], ["2/8"], "n"),
    ("SELECT * FROM r PARTITION (p2)", ["1/3"], ["4/4"], "k | v"),
    ("SELECT u.name, r.v FROM r JOIN u ON r.k = u.k WHERE r.k < 10", ["1/3", "1/1"], ["4/4", "2/2"], "name | v"),
]


@pytest.mark.parametrize(("sql", "partitions", "tablets", "outputs"), PRUNED, ids=[p[0] for p in PRUNED])
def test_explain_shows_the_partitions_and_tablets_the_query_reads(
        db: tuple[str, pymysql.cursors.Cursor], sql: str, partitions: list[str], tablets: list[str],
        outputs: str) -> None:
    _, cur = db
    lines = _plan(cur, f"EXPLAIN {sql}")
    assert lines[:6] == ["PLAN FRAGMENT 0", f" OUTPUT EXPRS:{outputs}", "  PARTITION: UNPARTITIONED", "",
                         "  RESULT SINK", ""]
    assert _value(lines, "partitions") == partitions
    assert _value(lines, "tabletRatio") == tablets
    scans = [line.strip(" |-") for line in lines if line.strip(" |-").split(":")[-1] == "OlapScanNode"]
    assert scans == [f"{i}:OlapScanNode" for i in range(len(partitions))]
    assert _value(lines, "engine") == ["DuckDB on this FE (embedded) runs the whole query"]
    # The tablets listed are as many as the ratio says, and nothing Cairn does not know is printed.
    listed = [len(value.split(",")) for value in _value(lines, "tabletList")]
    assert listed == [int(ratio.split("/")[0]) for ratio in tablets]
    assert not any("cardinality" in line or "avgRowSize" in line for line in lines)


def test_explain_lists_a_tablet_of_the_kept_partition(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    _, cur = db
    lines = _plan(cur, "EXPLAIN SELECT * FROM r WHERE k = 15")
    assert _value(lines, "TABLE") == ["r"] and _value(lines, "rollup") == ["r"]
    # k = 15 lies in p2 only: the one tablet kept is one of p2's four.
    p2 = _value(_plan(cur, "EXPLAIN SELECT * FROM r PARTITION (p2)"), "tabletList")[0].split(",")
    assert _value(lines, "tabletList")[0] in p2 and len(p2) == 4
    assert rows(cur, "SELECT * FROM r WHERE k = 15") == [(15, 20)]


def test_verbose_costs_logical_and_desc(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    _, cur = db
    verbose = _plan(cur, "EXPLAIN VERBOSE SELECT u.name, sum(r.v) AS s FROM r JOIN u ON r.k = u.k GROUP BY u.name")
    assert _value(verbose, "output") == ["name VARCHAR, s BIGINT"]
    assert _value(verbose, "columns read") == ["k, v", "k, name"]
    assert _value(verbose, "partitions read")[0].startswith("p1 (version ")
    # COSTS: Cairn has no cost model; it answers what VERBOSE knows, and invents no cost.
    costs = _plan(cur, "EXPLAIN COSTS SELECT k FROM r WHERE k = 1")
    assert _value(costs, "columns read") == ["k, v"] and not any("cost" in line.lower() for line in costs)
    plain = _plan(cur, "EXPLAIN SELECT k FROM r WHERE k = 1")
    assert _plan(cur, "EXPLAIN LOGICAL SELECT k FROM r WHERE k = 1") == plain
    assert _plan(cur, "DESC SELECT k FROM r WHERE k = 1") == plain
    assert _plan(cur, "DESCRIBE VERBOSE SELECT k FROM r WHERE k = 1") == _plan(
        cur, "EXPLAIN VERBOSE SELECT k FROM r WHERE k = 1")
    # A query reading no table has no scan.
    assert _plan(cur, "EXPLAIN SELECT 1 AS one")[-2:] == ["  0:QUERY", "  |  engine: DuckDB on this FE (embedded) "
                                                                      "runs the whole query"]


def test_explain_analyze_runs_the_query_and_reports_rows_and_time(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    _, cur = db
    lines = _plan(cur, "EXPLAIN ANALYZE SELECT k, v FROM r WHERE k > 12")
    assert _value(lines, "partitions") == ["2/3"]
    times = [line for line in lines if line.startswith("  |  time (")]
    assert [t.split(")")[0] for t in times] == ["  |  time (prune, pin and bind the scans",
                                               "  |  time (run on DuckDB, profiled"]
    assert all(re.search(r": \d+\.\dms$", t) for t in times)
    profile = lines[lines.index("  |  DuckDB profile, rows and time per operator:") + 1:]
    operators = [line for line in profile if line.startswith("  |    ") and "rows=" in line]
    # The scan read the two rows of the two kept partitions; the answer has both (k = 15, 25).
    assert any(line.startswith("  |    Table Scan:") and "rows=2," in line for line in operators)
    assert not any(".parquet" in line for line in lines)


ERRORS = [
    ("EXPLAIN SELECT nope FROM r", 1054, "Unknown column 'nope'"),
    ("EXPLAIN SELECT * FROM missing", 1146, "missing"),
    ("EXPLAIN INSERT INTO r VALUES (1, 1)", None, "EXPLAIN of INSERT is not supported yet"),
    ("EXPLAIN ANALYZE DELETE FROM r WHERE k = 1", None, "EXPLAIN of DELETE is not supported yet"),
    ("EXPLAIN", 1064, "expected a statement to explain"),
    ("EXPLAIN SELECT * FROM r PARTITION (p9)", None, "Unknown partition 'p9'"),
]


@pytest.mark.parametrize(("sql", "code", "fragment"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(db: tuple[str, pymysql.cursors.Cursor], sql: str, code: int | None, fragment: str) -> None:
    _, cur = db
    found_code, message = error_of(cur, sql)
    assert fragment in message
    if code is not None:
        assert found_code == code
    assert rows(cur, "SELECT count(*) FROM r") == [(3,)]


def test_explain_needs_select_on_the_tables_read(fe: FeProcess, db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    cur.execute("CREATE USER IF NOT EXISTS explainer IDENTIFIED BY 'pw'")
    cur.execute(f"GRANT SELECT ON {name}.u TO explainer")
    connection = connect(fe, "explainer", "pw", name)
    try:
        other = connection.cursor()
        assert _value(_plan(other, "EXPLAIN SELECT * FROM u"), "TABLE") == ["u"]
        code, message = error_of(other, "EXPLAIN SELECT * FROM r")
        assert code == 1142 and "SELECT" in message
    finally:
        connection.close()
