"""CREATE TABLE ... AS SELECT over the MySQL protocol: inferred column types, column lists, clauses,
privileges, and a failed load that leaves no table behind."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal

import pymysql
import pytest

from cairn.catalog.model import Column
from cairn.sql.ctas import default_keys

from fe_process import FeProcess, module_fe  # noqa: F401  (module_fe is the `fe` fixture)
from sql_client import connect, error_of, fresh_database, rows


@pytest.fixture
def db(fe: FeProcess) -> Iterator[tuple[str, pymysql.cursors.Cursor]]:
    """A fresh database holding t1 with two rows, as root."""
    with fresh_database(fe, "ctas", "CREATE TABLE t1 (k BIGINT NOT NULL, s VARCHAR(10), d DATE, m DECIMAL(10, 2)) "
                        "DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2",
                        "INSERT INTO t1 VALUES (1, 'a', '2024-01-01', 1.50), (2, 'b', '2024-02-01', 2.25)") as found:
        yield found


def columns(cur: pymysql.cursors.Cursor, table: str) -> list[tuple[str, str, str]]:
    return [(r[0], r[1], r[2]) for r in rows(cur, f"DESC {table}")]


def test_columns_keep_source_types_or_take_their_results_types(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    _, cur = db
    cur.execute("CREATE TABLE c1 AS SELECT * FROM t1")
    assert cur.rowcount == 2
    assert columns(cur, "c1") == [("k", "bigint", "NO"), ("s", "varchar(10)", "YES"), ("d", "date", "YES"),
                                  ("m", "decimal(10,2)", "YES")]
    ddl = rows(cur, "SHOW CREATE TABLE c1")[0][1]
    assert "DUPLICATE KEY(`k`, `s`)" in ddl and "DISTRIBUTED BY RANDOM" in ddl  # StarRocks' defaults
    assert rows(cur, "SELECT * FROM c1 ORDER BY k") == [(1, "a", datetime.date(2024, 1, 1), Decimal("1.50")),
                                                        (2, "b", datetime.date(2024, 2, 1), Decimal("2.25"))]
    cur.execute("CREATE TABLE c2 AS SELECT s, sum(m) AS total, avg(k) AS mean, max(d) AS last, 1 AS one, "
                "300 AS wide, 'x' AS lit, max(k) + 1 AS next FROM t1 GROUP BY s")
    assert columns(cur, "c2") == [
        ("s", "varchar(10)", "YES"), ("total", "decimal(38,2)", "YES"), ("mean", "double", "YES"),
        ("last", "date", "YES"), ("one", "tinyint", "YES"), ("wide", "smallint", "YES"),
        ("lit", "varchar(1048576)", "YES"), ("next", "bigint", "YES")]
    assert rows(cur, "SELECT s, total, one, lit, next FROM c2 ORDER BY s") == [
        ("a", Decimal("1.50"), 1, "x", 2), ("b", Decimal("2.25"), 1, "x", 3)]
    assert "DUPLICATE KEY(`s`)" in rows(cur, "SHOW CREATE TABLE c2")[0][1]
    cur.execute("CREATE TABLE c3 AS SELECT * FROM t1 WHERE k > 100")
    assert rows(cur, "SELECT count(*) FROM c3") == [(0,)]


def test_column_list_keys_partitions_distribution_and_properties(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    cur.execute("CREATE TABLE c (x, y) DUPLICATE KEY(x) DISTRIBUTED BY HASH(x) BUCKETS 3 "
                "PROPERTIES ('replication_num' = '1') AS SELECT k + 1, concat(s, 'z') FROM t1")
    assert columns(cur, "c") == [("x", "bigint", "YES"), ("y", "varchar(1048576)", "YES")]
    assert rows(cur, "SELECT * FROM c ORDER BY x") == [(2, "az"), (3, "bz")]
    ddl = rows(cur, "SHOW CREATE TABLE c")[0][1]
    assert "DUPLICATE KEY(`x`)" in ddl and "DISTRIBUTED BY HASH(`x`) BUCKETS 3" in ddl and '"replication_num" = "1"' in ddl
    cur.execute(f"CREATE TABLE {name}.p PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN ('2024-02-01'), "
                "PARTITION p2 VALUES LESS THAN ('2024-03-01')) DISTRIBUTED BY HASH(k) AS SELECT * FROM t1")
    assert [(r[1], r[12]) for r in rows(cur, "SHOW PARTITIONS FROM p")] == [("p1", 1), ("p2", 1)]
    cur.execute("CREATE VIEW v AS SELECT k, s FROM t1 WHERE k = 2")
    cur.execute("CREATE TABLE from_view AS SELECT * FROM v")
    assert rows(cur, "SELECT * FROM from_view") == [(2, "b")]
    assert rows(cur, "CREATE TABLE IF NOT EXISTS c AS SELECT 1") == []
    assert rows(cur, "SELECT count(*) FROM c") == [(2,)]


@pytest.mark.parametrize("sql, code, message", [
    ("CREATE TABLE t1 AS SELECT 1", 1050, "Table 't1' already exists."),
    ("CREATE TABLE bad (a) AS SELECT 1, 2", 1064, "Number of columns don't equal number of SELECT statement's"),
    ("CREATE TABLE bad AS SELECT 1 AS a, 2 AS a", 1064, "Duplicate column name 'a'"),
    ("CREATE TABLE bad AS SELECT * FROM nope", 1146, "Table '{db}.nope' doesn't exist"),
    ("CREATE TABLE bad AS SELECT [INTERVAL 1 DAY] AS a", 1064, "column 'a' of type interval[] cannot be stored"),
    ("CREATE TABLE bad DUPLICATE KEY(nope) AS SELECT 1 AS a", 1054, "Unknown column 'nope'"),
    # The table is made, its load fails, and it is dropped again.
    ("CREATE TABLE bad PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN ('2024-01-15')) AS SELECT * FROM t1",
     1526, "has no partition for d = 2024-02-01"),
    ("CREATE TABLE bad AS SELECT CAST(s AS INT) AS n FROM t1", 1366, "'a'"),
])
def test_errors_leave_no_table(db: tuple[str, pymysql.cursors.Cursor], sql: str, code: int, message: str) -> None:
    name, cur = db
    got_code, got_message = error_of(cur, sql)
    assert got_code == code and message.format(db=name) in got_message
    assert rows(cur, "SHOW TABLES") == [("t1",)]
    cur.execute("CREATE TABLE bad AS SELECT 1 AS ok")  # the name is free again
    assert rows(cur, "SELECT * FROM bad") == [(1,)]


def test_privileges(fe: FeProcess, db: tuple[str, pymysql.cursors.Cursor]) -> None:
    """CREATE on the database and SELECT on what the query reads."""
    name, cur = db
    user = f"u_{name}"
    cur.execute(f"CREATE USER {user} IDENTIFIED BY 'pw'")
    cur.execute(f"GRANT CREATE ON {name}.* TO {user}")
    caller = connect(fe, user, "pw", name).cursor()
    code, message = error_of(caller, "CREATE TABLE mine AS SELECT * FROM t1")
    assert code == 1142 and f"SELECT privilege(s) on TABLE {name}.t1" in message
    cur.execute(f"GRANT SELECT ON {name}.t1 TO {user}")
    caller.execute("CREATE TABLE mine AS SELECT k FROM t1")
    assert rows(cur, "SELECT count(*) FROM mine") == [(2,)]
    cur.execute(f"DROP USER {user}")


@pytest.mark.parametrize("types, keys", [
    (["BIGINT", "VARCHAR(10)", "DATE"], ["c0", "c1"]),  # a string ends the key
    (["INT", "INT", "INT", "INT"], ["c0", "c1", "c2"]),  # at most three columns
    (["LARGEINT", "LARGEINT", "LARGEINT"], ["c0", "c1"]),  # at most 36 bytes
    (["DOUBLE", "INT"], []),  # no key holds a DOUBLE
    (["INT", "FLOAT", "INT"], ["c0"]),
    (["VARCHAR(1048576)", "INT"], ["c0"]),
])
def test_default_duplicate_key_follows_starrocks(types: list[str], keys: list[str]) -> None:
    assert default_keys([Column(name=f"c{i}", type=t) for i, t in enumerate(types)]) == keys
