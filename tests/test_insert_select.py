"""INSERT and SELECT: coercion, errors that leave nothing visible, versions, pruning, query corpus."""

import datetime
from decimal import Decimal

import duckdb
import pytest

from cairn.errors import (
    AnalysisError,
    ColumnCountError,
    DataError,
    DataTooLongError,
    NoPartitionForRowError,
    NotNullError,
    UnknownColumnError,
    UnknownTableError,
)
from cairn.server.session import Session
from seed import SEED_INSERT, SEED_SETUP

EVENTS = """CREATE TABLE events (id INT NOT NULL, kind VARCHAR(8), day DATE, amount DECIMAL(10,2), big LARGEINT)
DUPLICATE KEY(id) PARTITION BY RANGE(day) (PARTITION p1 VALUES LESS THAN ('2024-01-01'),
PARTITION p2 VALUES LESS THAN ('2024-02-01'), PARTITION p3 VALUES LESS THAN ('2024-03-01'))
DISTRIBUTED BY HASH(id) BUCKETS 4"""


@pytest.fixture
def db(session: Session) -> Session:
    session.execute_script("CREATE DATABASE shop; USE shop;")
    session.execute(EVENTS)
    return session


def test_defaults_column_lists_and_coercion(session: Session) -> None:
    session.execute_script(SEED_SETUP)
    session.execute("INSERT INTO source_wiki_edit (event_time, user, delta) VALUES ('2015-09-12 13:00:00', 'bob', '7')")
    row = session.execute("SELECT * FROM source_wiki_edit").rows()[0]
    assert row == (datetime.datetime(2015, 9, 12, 13, 0), "", "bob", 0, 0, 0, 0, 0, 7, 0, 0)


def test_insert_select_and_types(db: Session) -> None:
    db.execute("INSERT INTO events VALUES (1, 'a', '2023-12-31', 1.50, 170141183460469231731687303715884105727),"
               " (2, 'b', '2024-01-15', 2.25, -5), (3, 'a', '2024-02-02', NULL, NULL)")
    assert db.execute("INSERT INTO events SELECT id + 10, kind, day, amount, big FROM events").affected_rows == 3
    rows = db.execute("SELECT id, kind, day, amount, big FROM events WHERE id > 10 ORDER BY id").rows()
    assert rows[0] == (11, "a", datetime.date(2023, 12, 31), Decimal("1.50"), 170141183460469231731687303715884105727)
    assert rows[2][3] is None and len(rows) == 3


@pytest.mark.parametrize("sql, error, code", [
    ("INSERT INTO events VALUES (1, 'a', '2025-01-01', 1, 1)", NoPartitionForRowError, 1526),
    ("INSERT INTO events VALUES (NULL, 'a', '2023-01-01', 1, 1)", NotNullError, 1048),
    ("INSERT INTO events VALUES (1, 'toolongvalue', '2023-01-01', 1, 1)", DataTooLongError, 1406),
    ("INSERT INTO events VALUES (1, 'a', 'yesterday', 1, 1)", DataError, 1366),
    ("INSERT INTO events VALUES (1, 'a')", ColumnCountError, 1136),
    ("INSERT INTO events (id, nope) VALUES (1, 2)", AnalysisError, 1064),
    ("INSERT INTO nope VALUES (1)", UnknownTableError, 1146),
])
def test_a_bad_row_fails_the_whole_statement(db: Session, sql: str, error: type, code: int) -> None:
    good = "(7, 'ok', '2024-01-10', 1, 1), "
    statement = sql.replace("VALUES (", f"VALUES {good}(", 1) if "nope" not in sql and "(1, 'a')" not in sql else sql
    position = db.frontend.position
    with pytest.raises(error) as caught:
        db.execute(statement)
    assert caught.value.mysql_code == code
    assert db.frontend.position == position
    assert db.execute("SELECT count(*) FROM events").rows() == [(0,)]


def test_each_commit_adds_one_version_to_each_touched_partition(db: Session) -> None:
    def versions() -> dict[str, int]:
        return {r[1]: r[3] for r in db.execute("SHOW PARTITIONS FROM events").rows()}

    assert versions() == {"p1": 1, "p2": 1, "p3": 1}
    db.execute("INSERT INTO events VALUES (1, 'a', '2023-05-01', 1, 1), (2, 'a', '2023-06-01', 1, 1)")
    assert versions() == {"p1": 2, "p2": 1, "p3": 1}
    db.execute("INSERT INTO events VALUES (3, 'a', '2024-01-05', 1, 1), (4, 'b', '2024-02-05', 1, 1)")
    assert versions() == {"p1": 2, "p2": 2, "p3": 2}
    db.execute("TRUNCATE TABLE events PARTITION (p1)")
    assert versions() == {"p1": 3, "p2": 2, "p3": 2}
    assert db.execute("SELECT count(*) FROM events").rows() == [(2,)]


def test_partition_pruning_reads_only_needed_partitions(db: Session) -> None:
    db.execute("INSERT INTO events VALUES (1, 'a', '2023-05-01', 1, 1), (2, 'a', '2024-01-06', 1, 1),"
               " (3, 'a', '2024-02-07', 1, 1)")
    access = db.frontend.data_access
    cases = [("day >= '2024-01-01'", 2), ("day = '2024-01-06'", 1), ("day < '2024-01-01'", 1),
             ("day BETWEEN '2024-01-02' AND '2024-01-30'", 1), ("day IN ('2023-05-01', '2024-02-07')", 2),
             ("id = 1", 3), ("day >= '2024-01-01' OR id = 1", 3)]
    for condition, expected in cases:
        before = access.partitions_read
        rows = db.execute(f"SELECT id FROM events WHERE {condition} ORDER BY id").rows()
        assert access.partitions_read - before == expected, condition
        reference = duckdb.sql(f"SELECT id FROM (VALUES (1, DATE '2023-05-01'), (2, DATE '2024-01-06'), "
                               f"(3, DATE '2024-02-07')) t(id, day) WHERE {condition} ORDER BY id").fetchall()
        assert rows == reference, condition


QUERIES = [
    "SELECT kind, count(*) AS n, sum(qty) AS total FROM sales GROUP BY kind ORDER BY kind",
    "SELECT s.id, c.name FROM sales s JOIN customers c ON s.customer = c.id ORDER BY s.id",
    "SELECT s.id, c.name FROM sales s LEFT JOIN customers c ON s.customer = c.id ORDER BY s.id",
    "SELECT id, qty, rank() OVER (PARTITION BY kind ORDER BY qty DESC, id) AS r FROM sales ORDER BY id",
    "SELECT id FROM sales WHERE qty > (SELECT avg(qty) FROM sales) ORDER BY id",
    "SELECT kind, max(qty) FROM sales WHERE customer IN (SELECT id FROM customers WHERE name LIKE 'A%') "
    "GROUP BY kind ORDER BY kind",
    "SELECT id, coalesce(note, 'none') FROM sales ORDER BY id LIMIT 3",
    "SELECT count(*), count(note), sum(CASE WHEN note IS NULL THEN 1 ELSE 0 END) FROM sales",
    "WITH big AS (SELECT * FROM sales WHERE qty >= 5) SELECT kind, count(*) FROM big GROUP BY kind ORDER BY 1",
    "SELECT id FROM sales WHERE kind = 'x' UNION ALL SELECT id FROM customers ORDER BY 1",
]


def test_query_corpus_matches_duckdb_on_the_same_rows(session: Session) -> None:
    session.execute_script("CREATE DATABASE q; USE q;"
                           "CREATE TABLE sales (id INT, kind VARCHAR(4), qty INT, customer INT, note STRING) "
                           "DISTRIBUTED BY HASH(id) BUCKETS 3;"
                           "CREATE TABLE customers (id INT, name VARCHAR(20)) DISTRIBUTED BY HASH(id) BUCKETS 2;")
    sales = [(i, "xyz"[i % 3], (i * 7) % 11, i % 4, None if i % 5 == 0 else f"n{i}") for i in range(1, 41)]
    customers = [(0, "Ann"), (1, "Bob"), (2, "Al"), (4, "Zed")]
    values = ", ".join(f"({a}, '{b}', {c}, {d}, {'NULL' if e is None else repr(e)})" for a, b, c, d, e in sales)
    session.execute(f"INSERT INTO sales VALUES {values}")
    session.execute("INSERT INTO customers VALUES " + ", ".join(f"({a}, '{b}')" for a, b in customers))
    reference = duckdb.connect()
    reference.execute("CREATE TABLE sales (id INT, kind VARCHAR, qty INT, customer INT, note VARCHAR)")
    reference.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?)", sales)
    reference.execute("CREATE TABLE customers (id INT, name VARCHAR)")
    reference.executemany("INSERT INTO customers VALUES (?, ?)", customers)
    for sql in QUERIES:
        assert session.execute(sql).rows() == reference.execute(sql).fetchall(), sql


def test_query_errors(db: Session) -> None:
    with pytest.raises(UnknownColumnError):
        db.execute("SELECT nope FROM events")
    with pytest.raises(UnknownTableError):
        db.execute("SELECT * FROM shop.nope")
    assert db.execute("SELECT 1 + 1 AS two").rows() == [(2,)]


def test_object_keys_never_repeat(session: Session) -> None:
    session.execute_script(SEED_SETUP)
    for _ in range(3):
        session.execute(SEED_INSERT)
    store = session.frontend.meta_store
    keys = [info.key for info in store.list(session.frontend.keys.data_prefix)]
    assert len(keys) == len(set(keys)) and len(keys) >= 3 * 2 + 3
    assert session.execute("SELECT count(*) FROM source_wiki_edit").rows() == [(9,)]


def test_equality_on_the_distribution_key_reads_one_tablet(session: Session) -> None:
    session.execute_script("CREATE DATABASE b; USE b; CREATE TABLE k (id BIGINT, tag VARCHAR(8)) "
                           "DISTRIBUTED BY HASH(id) BUCKETS 8;"
                           "INSERT INTO k SELECT generate_series, 'x' FROM TABLE(generate_series(1, 2000));")
    access = session.frontend.data_access
    total = sum(1 for _ in session.frontend.meta_store.list(session.frontend.keys.data_prefix)
                if _.key.endswith(".parquet"))
    assert total == 8
    for condition, rows in [("id = 1234", [(1234,)]), ("id IN (5, 6)", [(5,), (6,)]), ("id = 99999", [])]:
        before = access.objects_read
        assert session.execute(f"SELECT id FROM k WHERE {condition} ORDER BY id").rows() == rows
        assert access.objects_read - before <= (2 if "IN" in condition else 1), condition
    before = access.objects_read
    assert session.execute("SELECT count(*) FROM k WHERE id > 10").rows() == [(1990,)]
    assert access.objects_read - before == 8
