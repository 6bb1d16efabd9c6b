"""Statements about one table, over the MySQL protocol: CREATE TABLE ... LIKE with StarRocks' other
clauses (DISTRIBUTED BY replaces the source's distribution and PROPERTIES are set over the source's, each
checked as CREATE TABLE checks it; other clauses are refused), SHOW [FULL] COLUMNS in StarRocks' shapes,
INSERT ... BY NAME's refusals in StarRocks' words, and RECOVER TABLE from the recycle bin."""

from __future__ import annotations

from collections.abc import Iterator

import pymysql
import pytest

from cairn.api import load_config
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from fe_process import FeProcess, module_fe  # noqa: F401  (module_fe is the `fe` fixture)
from sql_client import error_of, fresh_database, rows


@pytest.fixture
def db(fe: FeProcess) -> Iterator[tuple[str, pymysql.cursors.Cursor]]:
    """A fresh database holding pk (PRIMARY KEY k1, k2) and dup (DUPLICATE KEY), each with a row."""
    with fresh_database(fe, "like",
                        "CREATE TABLE pk (k1 INT NOT NULL, k2 INT NOT NULL, v DOUBLE) PRIMARY KEY(k1, k2) "
                        "DISTRIBUTED BY HASH(k1) BUCKETS 2 PROPERTIES ('replication_num' = '1')",
                        "CREATE TABLE dup (a INT, b JSON) DUPLICATE KEY(a) DISTRIBUTED BY HASH(a) BUCKETS 3",
                        "INSERT INTO pk VALUES (1, 1, 1.5)", "INSERT INTO dup VALUES (1, '{}')") as found:
        yield found


@pytest.mark.parametrize(("statement", "shown"), [
    ("CREATE TABLE t2 DISTRIBUTED BY HASH(k2) BUCKETS 4 LIKE pk",
     ["PRIMARY KEY(`k1`, `k2`)", "DISTRIBUTED BY HASH(`k2`) BUCKETS 4", '"replication_num" = "1"']),
    ("CREATE TABLE t2 LIKE pk PROPERTIES ('compression' = 'ZSTD')",
     ["DISTRIBUTED BY HASH(`k1`) BUCKETS 2", '"replication_num" = "1"', '"compression" = "ZSTD"']),
    ("CREATE TABLE t2 DISTRIBUTED BY RANDOM BUCKETS 5 PROPERTIES ('replication_num' = '3') LIKE dup",
     ["DUPLICATE KEY(`a`)", "DISTRIBUTED BY RANDOM BUCKETS 5", '"replication_num" = "3"']),
    ("CREATE TEMPORARY TABLE t2 DISTRIBUTED BY HASH(a) BUCKETS 1 LIKE dup",
     ["CREATE TEMPORARY TABLE `t2`", "DISTRIBUTED BY HASH(`a`) BUCKETS 1"]),
])
def test_clauses_change_the_copy(db: tuple[str, pymysql.cursors.Cursor], statement: str, shown: list[str]) -> None:
    _, cur = db
    cur.execute(statement)
    created = rows(cur, "SHOW CREATE TABLE t2")[0][1]
    for part in shown:
        assert part in created, (part, created)
    assert rows(cur, "SELECT count(*) FROM t2") == [(0,)]
    source = "pk" if "pk" in statement else "dup"
    cur.execute(f"INSERT INTO t2 SELECT * FROM {source}")
    assert rows(cur, "SELECT count(*) FROM t2") == [(1,)]


@pytest.mark.parametrize(("statement", "code", "message"), [
    ("CREATE TABLE t2 DISTRIBUTED BY HASH(v) LIKE pk", 1064,
     "Getting analyzing error. Detail message: Distribution column[v] is not key column."),
    ("CREATE TABLE t2 DISTRIBUTED BY RANDOM LIKE pk", 1064, "Getting analyzing error. Detail message: Random "
                                                            "distribution must be used in DUP_KEYS or AGG_KEYS without replace."),
    ("CREATE TABLE t2 DISTRIBUTED BY HASH(nope) LIKE dup", 1054, "Unknown column 'nope' in distribution description"),
    ("CREATE TABLE t2 DISTRIBUTED BY HASH(b) LIKE dup", 1064,
     "Getting analyzing error. Detail message: Invalid data type of distribution column 'b': 'json'."),
    ("CREATE TABLE t2 DISTRIBUTED BY HASH(a) BUCKETS 0 LIKE dup", 1064, "Bucket number must be between 1 and 1024, got 0"),
    ("CREATE TABLE t2 LIKE dup PROPERTIES ('no_such' = 'x')", 1064,
     "Getting analyzing error. Detail message: Unknown properties: {no_such=x}."),
    ("CREATE TABLE t2 COMMENT 'c' LIKE dup", 1064,
     "Getting analyzing error. Detail message: 'COMMENT 'c'' in CREATE TABLE ... LIKE is not supported yet."),
    ("CREATE TABLE t2 (a INT) LIKE dup", 1064,
     "Getting analyzing error. Detail message: CREATE TABLE ... LIKE with columns is not supported yet."),
    ("INSERT INTO dup BY NAME VALUES (2, '{}')", 1064,
     "Getting analyzing error. Detail message: Insert match column by name does not support values()."),
    ("INSERT INTO dup (a) BY NAME SELECT 2 AS a", 1064,
     "Getting analyzing error. Detail message: Cannot use COLUMN LIST and BY NAME clause together in insert."),
    ("INSERT INTO dup BY NAME SELECT a + 1 AS a, a FROM dup", 1064,
     "Getting analyzing error. Detail message: Duplicate column name 'a'."),
])
def test_errors(db: tuple[str, pymysql.cursors.Cursor], statement: str, code: int, message: str) -> None:
    _, cur = db
    assert error_of(cur, statement) == (code, message)
    assert rows(cur, "SHOW TABLES") == [("dup",), ("pk",)]
    assert rows(cur, "SELECT count(*) FROM dup") == [(1,)]


AGGREGATE = ("CREATE TABLE site_access (event_day DATE, site_id INT DEFAULT '10', city_code VARCHAR(100), "
             "user_name VARCHAR(32) DEFAULT '', pv BIGINT SUM DEFAULT '0') DISTRIBUTED BY HASH(site_id)")


@pytest.mark.parametrize(("statement", "header", "shown"), [
    ("SHOW COLUMNS FROM site_access LIKE 'pv'", ["Field", "Type", "Null", "Key", "Default", "Extra"],
     [("pv", "bigint", "YES", "false", "0", "SUM")]),
    # With WHERE, StarRocks reads information_schema.columns: Key is COLUMN_KEY, Extra is empty.
    ("SHOW COLUMNS FROM site_access WHERE Field IN ('pv', 'site_id')", ["Field", "Type", "Null", "Key", "Default", "Extra"],
     [("site_id", "int", "YES", "AGG", "10", ""), ("pv", "bigint", "YES", "", "0", "")]),
    ("SHOW FULL COLUMNS FROM site_access LIKE '%i%'",
     ["Field", "Type", "Collation", "Null", "Key", "Default", "Extra", "Privileges", "Comment"],
     [("site_id", "int", "", "YES", "YES", "10", "", "", ""),
      ("city_code", "varchar(100)", "", "YES", "YES", None, "", "", "")]),
])
def test_show_columns(db: tuple[str, pymysql.cursors.Cursor], statement: str, header: list[str],
                      shown: list[tuple]) -> None:
    _, cur = db
    cur.execute(AGGREGATE)
    assert rows(cur, statement) == shown
    assert [d[0] for d in cur.description] == header


def test_recover_table(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    _, cur = db
    cur.execute("CREATE TABLE t0 (c0 INT) DUPLICATE KEY(c0) DISTRIBUTED BY HASH(c0) BUCKETS 1")
    cur.execute("INSERT INTO t0 VALUES (1), (2), (3)")
    cur.execute("DROP TABLE t0")
    cur.execute("RECOVER TABLE t0")
    cur.execute("INSERT INTO t0 VALUES (4)")
    assert rows(cur, "SELECT * FROM t0 ORDER BY c0") == [(1,), (2,), (3,), (4,)]
    cur.execute("DROP TABLE t0 FORCE")
    assert error_of(cur, "RECOVER TABLE t0") == (5502, "Getting analyzing error. Detail message: Unknown table 't0'.")
    # The newest table dropped under a name comes back, and only while no table has the name.
    cur.execute("CREATE TABLE t0 (c0 INT, c1 INT) DUPLICATE KEY(c0) DISTRIBUTED BY HASH(c0) BUCKETS 1")
    cur.execute("INSERT INTO t0 VALUES (1, 10)")
    cur.execute("DROP TABLE t0")
    cur.execute("CREATE TABLE t0 (c0 INT, c1 INT) DUPLICATE KEY(c0) DISTRIBUTED BY HASH(c0) BUCKETS 1")
    assert error_of(cur, "RECOVER TABLE t0") == (1050, "Table 't0' already exists")
    cur.execute("INSERT INTO t0 VALUES (1, 100)")
    cur.execute("DROP TABLE t0")
    cur.execute(f"RECOVER TABLE {db[0]}.t0")
    assert rows(cur, "SELECT * FROM t0") == [(1, 100)]
    assert error_of(cur, "RECOVER TABLE nothing") == (
        5502, "Getting analyzing error. Detail message: Unknown table 'nothing'.")
    cur.execute("CREATE TEMPORARY TABLE tmp (a INT) DISTRIBUTED BY HASH(a)")
    cur.execute("DROP TEMPORARY TABLE tmp")
    assert error_of(cur, "RECOVER TABLE tmp")[0] == 5502  # a temporary table is never kept


@pytest.mark.parametrize("volume_kind", ["local"])
def test_recover_table_after_a_restart_and_not_past_the_trash_time(fe_conf_values: dict[str, str]) -> None:
    config = load_config(None, **fe_conf_values)
    fe = Frontend.open(config)
    Session(fe).execute_script("CREATE DATABASE r; USE r; CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a);"
                               "INSERT INTO t VALUES (7); DROP TABLE t;")
    fe.close()
    fe = Frontend.open(config)  # the recycle bin is in the journal
    try:
        session = Session(fe, database="r")
        session.execute("RECOVER TABLE t")
        assert session.execute("SELECT * FROM t").rows() == [(7,)]
        session.execute("DROP TABLE t")
        session.execute('ADMIN SET FRONTEND CONFIG ("catalog_trash_expire_second" = "0")')
        with pytest.raises(CairnError, match="Unknown table 't'"):  # vacuum may have deleted its data
            session.execute("RECOVER TABLE t")
    finally:
        fe.close()
