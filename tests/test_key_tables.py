"""PRIMARY KEY, UNIQUE KEY and AGGREGATE KEY tables over the MySQL protocol: CREATE TABLE's rules and
StarRocks' messages, upserts, UPDATE, DELETE and the merge each key type does at read time."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pymysql
import pytest

from fe_process import FeProcess, module_fe  # noqa: F401  (module_fe is the `fe` fixture)
from sql_client import error_of, fresh_database, rows


@pytest.fixture
def cur(fe: FeProcess) -> Iterator[pymysql.cursors.Cursor]:
    """A cursor of root in a fresh database."""
    with fresh_database(fe, "keys") as (_, cursor):
        yield cursor


PK = "CREATE TABLE p (k INT, v INT, w VARCHAR(10)) PRIMARY KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 3"


def test_primary_key_insert_upserts_and_the_last_row_of_a_load_wins(cur: pymysql.cursors.Cursor) -> None:
    cur.execute(PK)
    cur.execute("INSERT INTO p VALUES (1, 10, 'a'), (2, 20, 'b'), (1, 11, 'c')")
    assert cur.rowcount == 3  # the rows given, as StarRocks counts them
    assert rows(cur, "SELECT * FROM p ORDER BY k") == [(1, 11, "c"), (2, 20, "b")]
    cur.execute("INSERT INTO p VALUES (2, 21, 'x'), (3, 30, 'y')")
    cur.execute("INSERT INTO p SELECT k + 2, v, w FROM p WHERE k = 1")  # reads the merged rows
    assert rows(cur, "SELECT * FROM p ORDER BY k") == [(1, 11, "c"), (2, 21, "x"), (3, 11, "c")]
    # Filters and aggregates see one version of each key, never an older one.
    assert rows(cur, "SELECT count(*), sum(v) FROM p WHERE v < 21") == [(2, Decimal(22))]
    assert rows(cur, "SELECT k FROM p WHERE w = 'y'") == []
    ddl = rows(cur, "SHOW CREATE TABLE p")[0][1]
    assert "PRIMARY KEY(`k`)" in ddl and "`k` int(11) NOT NULL" in ddl  # a key column is NOT NULL unless it says NULL
    assert [r[:4] for r in rows(cur, "DESC p")][0] == ("k", "int", "NO", "true")
    assert rows(cur, "SELECT COLUMN_NAME, COLUMN_KEY FROM information_schema.columns WHERE TABLE_NAME = 'p' "
                     "ORDER BY ORDINAL_POSITION") == [("k", "PRI"), ("v", ""), ("w", "")]
    assert rows(cur, "SELECT TABLE_MODEL FROM information_schema.tables_config WHERE TABLE_NAME = 'p'") == \
        [("PRI_KEYS",)]


def test_update_reads_the_current_rows_computes_and_upserts(cur: pymysql.cursors.Cursor) -> None:
    cur.execute(PK)
    cur.execute("INSERT INTO p VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c')")
    cur.execute("UPDATE p SET v = v + 100, w = concat(w, '!') WHERE k >= 2")
    assert cur.rowcount == 2
    assert rows(cur, "SELECT * FROM p ORDER BY k") == [(1, 10, "a"), (2, 120, "b!"), (3, 130, "c!")]
    cur.execute("UPDATE p SET v = 1, v = 2 WHERE k = 1")  # the last assignment of a column wins
    cur.execute("UPDATE p SET v = 0 WHERE k = 99")  # matches nothing, changes nothing
    assert cur.rowcount == 0
    cur.execute("CREATE TABLE src (k INT, nv INT) DUPLICATE KEY(k)")
    cur.execute("INSERT INTO src VALUES (3, 333)")
    cur.execute("UPDATE p SET v = src.nv FROM src WHERE p.k = src.k")
    assert rows(cur, "SELECT * FROM p ORDER BY k") == [(1, 2, "a"), (2, 120, "b!"), (3, 333, "c!")]
    cur.execute("UPDATE p SET v = 0")  # no WHERE: every row, as StarRocks' default (row) update mode does
    assert cur.rowcount == 3
    assert rows(cur, "SELECT k, v FROM p ORDER BY k") == [(1, 0), (2, 0), (3, 0)]


@pytest.mark.parametrize(("statement", "code", "message"), [
    ("UPDATE p SET k = 5 WHERE k = 1", 1064, "primary key column cannot be updated: k"),
    ("UPDATE u SET v = 5 WHERE k = 1", 1064, "only support updating primary key table"),
    ("UPDATE p SET nope = 5 WHERE k = 1", 1054, "Unknown column 'nope'"),
    ("UPDATE p SET v = 'xxx' WHERE k = 99", 1064, "Invalid number format: xxx"),
    ("DELETE FROM p", 1064, "Where clause is not set"),
    ("DELETE FROM u WHERE v = 1", 1064,
     "Column[v] is not key column or storage model is not duplicate or column type is float or double"),
    ("DELETE FROM u WHERE k = 1 OR k = 2", 1064, "Where clause only supports compound predicate"),
    ("DELETE FROM u WHERE k IN (SELECT k FROM p)", 1064, "Where clause only supports compound predicate"),
    ("DELETE FROM p PARTITION (nope) WHERE k = 1", None, "Unknown partition 'nope'"),
])
def test_update_and_delete_errors_change_nothing(cur: pymysql.cursors.Cursor, statement: str, code: int | None,
                                                 message: str) -> None:
    cur.execute(PK)
    cur.execute("CREATE TABLE u (k INT, v INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k)")
    cur.execute("INSERT INTO p VALUES (1, 10, 'a')")
    cur.execute("INSERT INTO u VALUES (1, 10)")
    found_code, text = error_of(cur, statement)
    assert message in text
    if code is not None:
        assert found_code == code
    assert rows(cur, "SELECT * FROM p") == [(1, 10, "a")]
    assert rows(cur, "SELECT * FROM u") == [(1, 10)]


def test_primary_key_delete_takes_any_condition_and_a_key_can_come_back(cur: pymysql.cursors.Cursor) -> None:
    cur.execute(PK)
    cur.execute("INSERT INTO p VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c'), (4, 40, 'd')")
    cur.execute("DELETE FROM p WHERE w = 'b' OR v > 35")
    assert cur.rowcount == 2
    assert rows(cur, "SELECT * FROM p ORDER BY k") == [(1, 10, "a"), (3, 30, "c")]
    cur.execute("CREATE TABLE gone (k INT) DUPLICATE KEY(k)")
    cur.execute("INSERT INTO gone VALUES (3)")
    cur.execute("DELETE FROM p WHERE k IN (SELECT k FROM gone)")
    assert rows(cur, "SELECT * FROM p ORDER BY k") == [(1, 10, "a")]
    cur.execute("DELETE FROM p WHERE k = 99")
    assert cur.rowcount == 0
    cur.execute("INSERT INTO p VALUES (2, 22, 'again')")
    assert rows(cur, "SELECT * FROM p ORDER BY k") == [(1, 10, "a"), (2, 22, "again")]
    assert rows(cur, "SELECT count(*) FROM p") == [(2,)]


def test_delete_of_a_named_partition_keeps_the_others(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE r (k INT, d DATE, v INT) PRIMARY KEY(k, d) PARTITION BY RANGE(d) "
                "(PARTITION p1 VALUES LESS THAN ('2024-01-01'), PARTITION p2 VALUES LESS THAN ('2025-01-01')) "
                "DISTRIBUTED BY HASH(k) BUCKETS 2")
    cur.execute("INSERT INTO r VALUES (1, '2023-05-01', 1), (1, '2024-05-01', 2), (2, '2024-06-01', 3)")
    cur.execute("DELETE FROM r PARTITION p2 WHERE k = 1")  # StarRocks' spelling without parentheses
    assert [(k, v) for k, _, v in rows(cur, "SELECT * FROM r ORDER BY v")] == [(1, 1), (2, 3)]
    cur.execute("DELETE FROM r PARTITIONS (p1, p2) WHERE k = 2")
    assert [(k, v) for k, _, v in rows(cur, "SELECT * FROM r ORDER BY v")] == [(1, 1)]


def test_unique_key_last_write_wins(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE u (k1 INT, k2 VARCHAR(5), v INT) UNIQUE KEY(k1, k2) DISTRIBUTED BY HASH(k1)")
    cur.execute("INSERT INTO u VALUES (1, 'a', 1), (1, 'b', 2), (1, 'a', 3)")
    cur.execute("INSERT INTO u VALUES (1, 'b', NULL)")
    assert rows(cur, "SELECT * FROM u ORDER BY k2") == [(1, "a", 3), (1, "b", None)]
    cur.execute("DELETE FROM u WHERE k1 = 1 AND k2 = 'a'")
    assert rows(cur, "SELECT * FROM u") == [(1, "b", None)]
    assert "UNIQUE KEY(`k1`, `k2`)" in rows(cur, "SHOW CREATE TABLE u")[0][1]


def test_aggregate_key_merges_each_value_column_by_its_type(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE a (k INT, s BIGINT SUM, mn INT MIN, mx INT MAX, r VARCHAR(5) REPLACE, "
                "rn INT REPLACE_IF_NOT_NULL) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    cur.execute("INSERT INTO a VALUES (1, 1, 5, 5, 'a', 1), (1, 2, 3, 3, 'b', NULL)")
    cur.execute("INSERT INTO a VALUES (1, 4, 9, 9, NULL, NULL), (2, 1, 1, 1, 'z', 7)")
    assert rows(cur, "SELECT * FROM a ORDER BY k") == [(1, 7, 3, 9, None, 1), (2, 1, 1, 1, "z", 7)]
    assert rows(cur, "SELECT sum(s) FROM a") == [(Decimal(8),)]
    ddl = rows(cur, "SHOW CREATE TABLE a")[0][1]
    assert "`s` bigint(20) SUM NULL" in ddl and "`rn` int(11) REPLACE_IF_NOT_NULL NULL" in ddl and "AGGREGATE KEY(`k`)" in ddl
    assert [r[5] for r in rows(cur, "DESC a")] == ["", "SUM", "MIN", "MAX", "REPLACE", "REPLACE_IF_NOT_NULL"]
    # A DELETE (on key columns) forgets what the key held; later rows aggregate afresh.
    cur.execute("DELETE FROM a WHERE k = 1")
    cur.execute("INSERT INTO a VALUES (1, 100, 50, 50, 'n', NULL)")
    assert rows(cur, "SELECT * FROM a ORDER BY k") == [(1, 100, 50, 50, "n", None), (2, 1, 1, 1, "z", 7)]


def test_value_columns_with_a_merge_and_no_key_clause_make_an_aggregate_key_table(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE a (k INT, v INT SUM) DISTRIBUTED BY HASH(k)")
    cur.execute("INSERT INTO a VALUES (1, 1), (1, 2)")
    assert rows(cur, "SELECT * FROM a") == [(1, 3)]
    assert "AGGREGATE KEY(`k`)" in rows(cur, "SHOW CREATE TABLE a")[0][1]


@pytest.mark.parametrize(("statement", "message"), [
    ("CREATE TABLE t (k INT, v INT) PRIMARY KEY(v)", "Key columns should be a ordered prefix of the schema."),
    ("CREATE TABLE t (k INT, v INT) PRIMARY KEY(x)", "Key column(x) doesn't exist."),
    ("CREATE TABLE t (k INT NULL, v INT) PRIMARY KEY(k)", "primary key column[k] cannot be nullable."),
    ("CREATE TABLE t (k DOUBLE NOT NULL, v INT) PRIMARY KEY(k)", "primary key column[k] type not supported: DOUBLE"),
    ("CREATE TABLE t (k INT, v INT) AGGREGATE KEY(k)", "AGG_KEYS table should specify aggregate type for non-key column[v]."),
    ("CREATE TABLE t (k INT SUM, v INT SUM) AGGREGATE KEY(k)", "Key column[k] should not specify aggregate type."),
    ("CREATE TABLE t (k INT, v INT MAX) DUPLICATE KEY(k)", "DUP_KEYS table should not specify aggregate type for non-key column[v]."),
    ("CREATE TABLE t (k INT, v INT SUM) UNIQUE KEY(k)", "Can not assign aggregation method on column in Unique data model table: v"),
    ("CREATE TABLE t (k INT, v INT) PRIMARY KEY(k) DISTRIBUTED BY HASH(v)", "Distribution column[v] is not key column."),
    ("CREATE TABLE t (k INT, v INT) UNIQUE KEY(k)", "Currently not support default distribution in UNIQUE_KEYS."),
    ("CREATE TABLE t (k INT, v INT SUM) AGGREGATE KEY(k)", "Currently not support default distribution in AGG_KEYS."),
    ("CREATE TABLE t (k INT, v INT) PRIMARY KEY(k) DISTRIBUTED BY RANDOM",
     "Random distribution must be used in DUP_KEYS or AGG_KEYS without replace."),
    ("CREATE TABLE t (k INT, v INT) UNIQUE KEY(k) DISTRIBUTED BY RANDOM",
     "Random distribution must be used in DUP_KEYS or AGG_KEYS without replace."),
    ("CREATE TABLE t (k INT, v INT SUM) AGGREGATE KEY(k) DISTRIBUTED BY RANDOM",
     "DISTRIBUTED BY RANDOM for an AGGREGATE KEY table is not supported yet."),
    ("CREATE TABLE t (k INT, d DATE) PRIMARY KEY(k) PARTITION BY RANGE(d) (PARTITION p VALUES LESS THAN ('2024-01-01'))",
     "PRIMARY_KEYS table's partition column must be key column."),
])
def test_create_table_key_rules(cur: pymysql.cursors.Cursor, statement: str, message: str) -> None:
    code, text = error_of(cur, statement)
    assert message in text
    assert rows(cur, "SHOW TABLES") == []


def test_duplicate_key_delete_with_starrocks_restrictions(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE t (k INT, d DATE, v INT, f DOUBLE, b LARGEINT) DUPLICATE KEY(k) PARTITION BY RANGE(d) "
                "(PARTITION p1 VALUES LESS THAN ('2024-01-01'), PARTITION p2 VALUES LESS THAN ('2025-01-01')) "
                "DISTRIBUTED BY HASH(k) BUCKETS 2")
    cur.execute("INSERT INTO t VALUES (1, '2023-01-01', 1, 1.0, 1), (1, '2024-01-01', 2, 2.0, 2), "
                "(2, '2024-02-01', 3, 3.0, 3)")
    cur.execute("INSERT INTO t VALUES (1, '2024-05-01', 4, 4.0, 4), (3, '2023-03-01', 5, 5.0, 5), (3, '2023-03-01', 5, 5.0, 5)")
    cur.execute("DELETE FROM t WHERE v = 2")  # a value column: allowed on a DUPLICATE KEY table
    assert cur.rowcount == 1
    cur.execute("DELETE FROM t PARTITION (p2) WHERE k = 1")
    assert rows(cur, "SELECT k, v FROM t ORDER BY v") == [(1, 1), (2, 3), (3, 5), (3, 5)]
    cur.execute("DELETE FROM t WHERE b = 5 AND d = '2023-03-01'")  # every matching row, duplicates too
    assert cur.rowcount == 2
    cur.execute("DELETE FROM t WHERE k IN (7, 8)")
    assert cur.rowcount == 0
    for statement, message in [
            ("DELETE FROM t WHERE f = 1.0", "Column[f] is not key column or storage model is not duplicate"),
            ("DELETE FROM t WHERE k = 1 OR v = 3", "Where clause only supports compound predicate"),
            ("DELETE FROM t WHERE k + 1 = 2", "Where clause only supports compound predicate"),
            ("DELETE FROM t", "Where clause is not set")]:
        assert message in error_of(cur, statement)[1]
    assert rows(cur, "SELECT k, v FROM t ORDER BY v") == [(1, 1), (2, 3)]
    cur.execute("INSERT INTO t VALUES (5, '2024-06-01', 6, 6.0, 6)")
    cur.execute("DELETE FROM t WHERE k >= 2 AND v IS NOT NULL")
    assert rows(cur, "SELECT k, v FROM t ORDER BY v") == [(1, 1)]


def test_create_table_as_select_with_a_key(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE t (k INT, v INT) DUPLICATE KEY(k)")
    cur.execute("INSERT INTO t VALUES (1, 1), (1, 2), (2, 3)")
    cur.execute("CREATE TABLE p PRIMARY KEY(k) AS SELECT k, max(v) AS v FROM t GROUP BY k")
    assert rows(cur, "SELECT * FROM p ORDER BY k") == [(1, 2), (2, 3)]
    ddl = rows(cur, "SHOW CREATE TABLE p")[0][1]
    assert "PRIMARY KEY(`k`)" in ddl and "DISTRIBUTED BY HASH(`k`)" in ddl  # hashed by its key, not RANDOM
    cur.execute("INSERT INTO p VALUES (1, 100)")
    assert rows(cur, "SELECT * FROM p ORDER BY k") == [(1, 100), (2, 3)]
    # CTAS gives no column an aggregate type, so an AGGREGATE KEY table cannot be made this way.
    assert "AGG_KEYS table should specify aggregate type for non-key column[s]" in \
        error_of(cur, "CREATE TABLE a (k, s) AGGREGATE KEY(k) AS SELECT k, v FROM t")[1]
    assert ("a",) not in rows(cur, "SHOW TABLES")


def test_auto_increment_ids_for_rows_that_leave_the_column_out_or_say_default(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE a (id BIGINT NOT NULL AUTO_INCREMENT, name VARCHAR(10), n INT DEFAULT '7') "
                "PRIMARY KEY(id)")
    cur.execute("INSERT INTO a (id, name, n) VALUES (DEFAULT, 'x', 1), (DEFAULT, 'y', DEFAULT)")
    cur.execute("INSERT INTO a (name) VALUES ('z')")
    cur.execute("INSERT INTO a VALUES (100, 'given', 2), (NULL, 'null', 3)")
    got = rows(cur, "SELECT id, name, n FROM a ORDER BY name")
    ids = {name: id_ for id_, name, _ in got}
    assert ids["given"] == 100 and ids["x"] < ids["y"] < ids["z"] < ids["null"] != 100
    assert len(set(ids.values())) == len(ids) and min(ids.values()) == 1
    assert [n for _, _, n in got] == [2, 3, 1, 7, 7]
    cur.execute("UPDATE a SET n = 9 WHERE name = 'x'")  # an id is kept by the rows that have one
    assert rows(cur, f"SELECT name FROM a WHERE id = {ids['x']}") == [("x",)]
    ddl = rows(cur, "SHOW CREATE TABLE a")[0][1]
    assert "`id` bigint(20) NOT NULL AUTO_INCREMENT COMMENT" in ddl
    cur.execute("CREATE TABLE a2 (id BIGINT NOT NULL AUTO_INCREMENT, name VARCHAR(10)) DUPLICATE KEY(id)")
    cur.execute("INSERT INTO a2 (name) SELECT name FROM a")
    assert rows(cur, "SELECT count(DISTINCT id), count(*) FROM a2") == [(5, 5)]


@pytest.mark.parametrize(("ddl", "message"), [
    ("CREATE TABLE e (k INT AUTO_INCREMENT)", "The AUTO_INCREMENT column must be BIGINT"),
    ("CREATE TABLE e (k BIGINT NULL AUTO_INCREMENT)", "AUTO_INCREMENT column k must be NOT NULL"),
    ("CREATE TABLE e (k BIGINT AUTO_INCREMENT, v BIGINT AUTO_INCREMENT)", "More than one AUTO_INCREMENT column"),
])
def test_auto_increment_errors(cur: pymysql.cursors.Cursor, ddl: str, message: str) -> None:
    assert message in error_of(cur, ddl)[1]
