"""RANGE partitions as StarRocks writes them besides VALUES LESS THAN: fixed ranges `VALUES [(a), (b))`,
batches `START (...) END (...) EVERY (INTERVAL n unit)`, and ranges of an expression of the column
(`RANGE(from_unixtime(ts))`, `str2date`, `CAST(substring(...) AS BIGINT)`): routing, pruning, SHOW
output, errors, and the partitions surviving a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from cairn.catalog.model import CatalogState, Database, Partition, PartitionExpression, Table
from cairn.errors import AnalysisError, CairnError, UnsupportedError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from fe_process import FeProcess, start_local_fe
from sql_client import connect, error_of, rows


@pytest.fixture
def sql(local_frontend: Frontend) -> Session:
    session = Session(local_frontend)
    session.execute_script("CREATE DATABASE d; USE d;")
    return session


def partitions(session: Session, table: str) -> list[tuple[str, str]]:
    """(name, range) of each partition, as SHOW PARTITIONS lists them."""
    return [(row[1], row[8]) for row in session.execute(f"SHOW PARTITIONS FROM {table}").rows()]


def _range(key_type: str, lower: str, upper: str) -> str:
    return f"[types: [{key_type}]; keys: [{lower}]; ..types: [{key_type}]; keys: [{upper}]; )"


DAYS = "START ('2021-01-01') END ('2021-01-04') EVERY (INTERVAL 1 DAY)"

# (column type, RANGE expression, partition list, rows inserted, expected partitions (name, lower, upper),
#  the partition each row lands in)
MADE = [
    ("BIGINT", "from_unixtime(k)", f"({DAYS})", ["1609459200", "1609632000", "1609718399"],
     [("p20210101", "2021-01-01 00:00:00", "2021-01-02 00:00:00"),
      ("p20210102", "2021-01-02 00:00:00", "2021-01-03 00:00:00"),
      ("p20210103", "2021-01-03 00:00:00", "2021-01-04 00:00:00")], ["p20210101", "p20210103", "p20210103"]),
    ("INT", "from_unixtime(k)", "(PARTITION p0 VALUES LESS THAN ('2021-01-02'), "
     "PARTITION p1 VALUES LESS THAN ('2021-02-01'))", ["NULL", "1609459200", "1609545600"],
     [("p0", None, "2021-01-02 00:00:00"), ("p1", "2021-01-02 00:00:00", "2021-02-01 00:00:00")],
     ["p0", "p0", "p1"]),
    ("BIGINT", "from_unixtime_ms(k)", f"({DAYS})", ["1609459200000", "1609545600001"],
     [("p20210101", "2021-01-01 00:00:00", "2021-01-02 00:00:00"),
      ("p20210102", "2021-01-02 00:00:00", "2021-01-03 00:00:00"),
      ("p20210103", "2021-01-03 00:00:00", "2021-01-04 00:00:00")], ["p20210101", "p20210102"]),
    ("VARCHAR(20)", "str2date(k, '%Y-%m-%d %H:%i:%s')", f"({DAYS})", ["'2021-01-02 23:59:59'"],
     [("p20210101", "2021-01-01", "2021-01-02"), ("p20210102", "2021-01-02", "2021-01-03"),
      ("p20210103", "2021-01-03", "2021-01-04")], ["p20210102"]),
    ("VARCHAR(20)", "str2date(k, '%Y%m%d')", "(START ('2021-01-01') END ('2021-03-01') EVERY (INTERVAL 1 MONTH))",
     ["'20210131'", "'20210201'"],
     [("p202101", "2021-01-01", "2021-02-01"), ("p202102", "2021-02-01", "2021-03-01")], ["p202101", "p202102"]),
    ("VARCHAR(20)", "cast(substring(k, 3) as bigint)",
     "(PARTITION p1 VALUES [('0'), ('5000000')), PARTITION p9 VALUES [('2921712368983'), ('2921712368985')))",
     ["'JT2921712368984'", "'JT17'"],
     [("p1", "0", "5000000"), ("p9", "2921712368983", "2921712368985")], ["p9", "p1"]),
    ("DATE", "k", "(PARTITION b VALUES LESS THAN ('2020-01-01'), PARTITION a VALUES [('2021-01-01'), ('2021-01-05')))",
     ["'2019-05-05'", "'2021-01-04'"], [("b", None, "2020-01-01"), ("a", "2021-01-01", "2021-01-05")], ["b", "a"]),
    ("DATE", "k", "(PARTITION a VALUES [('1000-01-01'), ('2020-01-01')), PARTITION m VALUES [('2020-08-01'), "
     "(MAXVALUE)))", ["'9999-12-31'", "'1000-01-01'"], [("a", "1000-01-01", "2020-01-01"), ("m", "2020-08-01", "MAX")],
     ["m", "a"]),
    ("DATETIME", "k", "(START ('2021-01-01') END ('2024-01-01') EVERY (INTERVAL 1 YEAR))", ["'2023-05-31 23:00:00'"],
     [("p2021", "2021-01-01 00:00:00", "2022-01-01 00:00:00"), ("p2022", "2022-01-01 00:00:00", "2023-01-01 00:00:00"),
      ("p2023", "2023-01-01 00:00:00", "2024-01-01 00:00:00")], ["p2023"]),
]


@pytest.mark.parametrize(("column_type", "expression", "listed", "values", "expected", "landed"), MADE)
def test_partitions_are_made_routed_and_shown(sql: Session, column_type: str, expression: str, listed: str,
                                              values: list[str], expected: list[tuple[str, str | None, str]],
                                              landed: list[str]) -> None:
    sql.execute(f"CREATE TABLE t (k {column_type}, v INT) PARTITION BY RANGE({expression}) {listed}")
    key_type = "DATETIME" if ":" in expected[0][2] else "DATE" if "-" in expected[0][2] else "BIGINT"
    assert partitions(sql, "t") == [(name, _range(key_type, lower or "MIN", upper)) for name, lower, upper in expected]
    sql.execute("INSERT INTO t VALUES " + ", ".join(f"({value}, {i})" for i, value in enumerate(values)))
    for name in {name for name, _, _ in expected}:
        held = sorted(row[0] for row in sql.execute(f"SELECT v FROM t PARTITION ({name})").rows())
        assert held == [i for i, where in enumerate(landed) if where == name], name
    # SHOW CREATE TABLE runs again to the same table.
    ddl = sql.execute("SHOW CREATE TABLE t").rows()[0][1]
    assert f"PARTITION BY RANGE({expression if expression != 'k' else '`k`'})" in ddl
    sql.execute("DROP TABLE t")
    sql.execute(ddl)
    assert [name for name, _ in partitions(sql, "t")] == [name for name, _, _ in expected]


def test_rows_outside_every_range_are_refused(sql: Session) -> None:
    sql.execute(f"CREATE TABLE t (k BIGINT, v INT) PARTITION BY RANGE(from_unixtime(k)) ({DAYS})")
    with pytest.raises(CairnError, match="partition"):
        sql.execute("INSERT INTO t VALUES (1700000000, 1)")
    assert sql.execute("SELECT count(*) FROM t").rows() == [(0,)]


# (condition on the column, partitions read) over rows on 2021-01-01, -02 and -03 (one partition each).
PRUNED = [
    ("k = 1609545600", 1), ("1609545600 = k", 1), ("k IN (1609459200, 1609632000)", 2), ("k > 1609545600", 2),
    ("k >= 1609632000", 1), ("k < 1609545600", 1), ("k BETWEEN 1609500000 AND 1609550000", 2), ("v = 1", 3),
    ("k > 1609545600 OR v = 1", 3),
]


@pytest.mark.parametrize(("condition", "read"), PRUNED)
def test_conditions_on_the_column_prune_the_partitions_of_its_expression(sql: Session, condition: str,
                                                                         read: int) -> None:
    sql.execute(f"CREATE TABLE t (k BIGINT, v INT) PARTITION BY RANGE(from_unixtime(k)) ({DAYS})")
    sql.execute("INSERT INTO t VALUES (1609459200, 1), (1609545600, 2), (1609632000, 3)")
    access = sql.frontend.data_access
    before = access.partitions_read
    found = sql.execute(f"SELECT v FROM t WHERE {condition} ORDER BY v").rows()
    assert access.partitions_read - before == read
    reference = duckdb.sql(f"SELECT v FROM (VALUES (1609459200, 1), (1609545600, 2), (1609632000, 3)) t(k, v) "
                           f"WHERE {condition} ORDER BY v").fetchall()
    assert found == reference


@pytest.mark.parametrize(("expression", "condition", "expected", "read"), [
    ("str2date(k, '%Y-%m-%d')", "k = '2021-01-02'", [(2,)], 1),
    ("str2date(k, '%Y-%m-%d')", "k >= '2021-01-02'", [(2,), (3,)], 3),  # text order is not date order
    ("cast(substring(k, 3) as bigint)", "k = 'JT2021'", [(2,)], 1),
])
def test_equalities_prune_the_partitions_of_any_expression(sql: Session, expression: str, condition: str,
                                                          expected: list[tuple[int]], read: int) -> None:
    listed = (f"({DAYS})" if "str2date" in expression else
              "(PARTITION a VALUES [('2020'), ('2021')), PARTITION b VALUES [('2021'), ('2022')), "
              "PARTITION c VALUES [('2022'), ('2023')))")
    sql.execute(f"CREATE TABLE t (k VARCHAR(20), v INT) PARTITION BY RANGE({expression}) {listed}")
    values = ("('2021-01-01', 1), ('2021-01-02', 2), ('2021-01-03', 3)" if "str2date" in expression else
              "('JT2020', 1), ('JT2021', 2), ('JT2022', 3)")
    sql.execute(f"INSERT INTO t VALUES {values}")
    access = sql.frontend.data_access
    before = access.partitions_read
    assert sql.execute(f"SELECT v FROM t WHERE {condition} ORDER BY v").rows() == expected
    assert access.partitions_read - before == read


def test_delete_and_alter_keep_to_the_expression(sql: Session) -> None:
    sql.execute("CREATE TABLE t (u VARCHAR(8) NOT NULL, ts BIGINT NOT NULL) DUPLICATE KEY(u) "
                "PARTITION BY RANGE(from_unixtime_ms(ts)) (PARTITION p1 VALUES [('2024-05-04'), ('2024-05-05')), "
                "PARTITION p2 VALUES [('2024-05-05'), ('2024-05-07'))) DISTRIBUTED BY HASH(u) BUCKETS 2")
    sql.execute("INSERT INTO t VALUES ('04', 1714780800000), ('05', 1714867200000), ('06', 1714953600000)")
    sql.execute("DELETE FROM t WHERE ts >= 1714867200000 AND ts <= 1714953600000")
    assert sql.execute("SELECT u FROM t").rows() == [("04",)]
    sql.execute("ALTER TABLE t ADD PARTITION p3 VALUES [('2024-06-01'), ('2024-06-02'))")
    sql.execute("INSERT INTO t VALUES ('07', 1717243200000)")
    assert sql.execute("SELECT u FROM t PARTITION (p3)").rows() == [("07",)]
    with pytest.raises(AnalysisError, match="intersected"):
        sql.execute("ALTER TABLE t ADD PARTITION p4 VALUES [('2024-05-06'), ('2024-05-08'))")
    with pytest.raises(AnalysisError, match="cannot be renamed"):
        sql.execute("ALTER TABLE t RENAME COLUMN ts TO ts2")
    sql.execute("ALTER TABLE t DROP PARTITION p3")
    assert [name for name, _ in partitions(sql, "t")] == ["p1", "p2"]


ERRORS = [
    ("k DATE", "RANGE(from_unixtime(k)) (PARTITION p VALUES LESS THAN ('2021-01-01'))", AnalysisError,
     "Unsupported partition expression from_unixtime for column k type DATE"),
    ("k VARCHAR(100)", "RANGE(from_unixtime(k)) (PARTITION p VALUES LESS THAN ('2021-01-01'))", AnalysisError,
     "Unsupported partition expression from_unixtime for column k type VARCHAR(100)"),
    ("k INT", "RANGE(from_unixtime_ms(k)) (PARTITION p VALUES LESS THAN ('2021-01-01'))", AnalysisError,
     "Unsupported partition expression from_unixtime_ms for column k type INT"),
    ("k VARCHAR(20)", f"RANGE(str2date(k, '%Y-%m')) ({DAYS})", AnalysisError,
     "only supports the result of the function str2date(VARCHAR str, VARCHAR format) as a strict DATE type"),
    ("k DATE", "RANGE(k) (START ('2021-01-05') END ('2021-01-01') EVERY (INTERVAL 1 DAY))", AnalysisError,
     "Batch build partition start date should less than end date."),
    ("k DATE", "RANGE(k) (START ('2021-01-05') END ('2021-03-01') EVERY (INTERVAL 1 MONTH))", AnalysisError,
     "should be a standard unit of time (MONTH) . suggest range [2021-01-01,2021-03-01)"),
    ("k DATE", "RANGE(k) (PARTITION a VALUES [('2021-01-05'), ('2021-01-01')))", AnalysisError,
     "Upper range should not be less than or equal to lower range"),
    ("k DATE", "RANGE(k) (PARTITION a VALUES [('2021-01-01'), ('2021-01-05')), "
     "PARTITION b VALUES [('2021-01-04'), ('2021-01-06')))", AnalysisError, "intersected"),
    ("k DATE", "RANGE(k) (PARTITION a VALUES [('2021-01-01'), ('2021-01-02')), "
     "PARTITION A VALUES [('2022-01-01'), ('2022-01-02')))", AnalysisError, "Duplicate partition name"),
    ("k DATE", "RANGE(k) (START ('2021-01-01') END ('2021-03-01') EVERY (INTERVAL 1 WEEK))", UnsupportedError,
     "Batch partitions every WEEK is not supported yet"),
    ("k INT", "RANGE(k) (START ('1') END ('10') EVERY (3))", UnsupportedError, "is not supported yet"),
    ("k DATETIME", "RANGE(date_trunc('day', k)) (PARTITION p VALUES LESS THAN ('2021-01-01'))", UnsupportedError,
     "Partitioning by the expression"),
    ("k VARCHAR(10)", "RANGE(substring(k, 1, 2)) (PARTITION p VALUES LESS THAN ('5'))", UnsupportedError,
     "Partitioning by the expression"),
]


@pytest.mark.parametrize(("column", "clause", "error", "message"), ERRORS)
def test_partitionings_refused_with_starrocks_errors(sql: Session, column: str, clause: str,
                                                     error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        sql.execute(f"CREATE TABLE t ({column}, v INT) PARTITION BY {clause}")
    assert message in str(caught.value)
    assert sql.execute("SHOW TABLES").rows() == []


def test_dates_written_as_digits_bound_ranges_and_load_into_date_columns(sql: Session) -> None:
    sql.execute('CREATE TABLE t (k INT, d DATE, dt DATETIME) PARTITION BY RANGE(d) '
                '(PARTITION p1 VALUES [("19920101"), ("19930101")), PARTITION p2 VALUES LESS THAN ("19940101"))')
    assert [bounds.count("keys: [1993-01-01]") for _, bounds in partitions(sql, "t")] == [1, 1]
    sql.execute("INSERT INTO t VALUES (1, 19920301, 19920301), (2, 19930201, 19930201123005)")
    assert sql.execute("SELECT k, d, dt FROM t ORDER BY k").rows() == [
        (1, date(1992, 3, 1), datetime(1992, 3, 1)), (2, date(1993, 2, 1), datetime(1993, 2, 1, 12, 30, 5))]
    assert sql.execute("SELECT k FROM t PARTITION (p2)").rows() == [(2,)]
    with pytest.raises(CairnError, match="Invalid value '19921301' for column 'd' of type DATE"):
        sql.execute("INSERT INTO t VALUES (3, 19921301, NULL)")


def test_tables_without_an_expression_are_written_as_before() -> None:
    table = Table(id=1, name="t", columns=[], partitions=[Partition(id=2, name="p", tablet_ids=[3])])
    assert "partition_expressions" not in table.model_dump()
    table.partition_expressions = [PartitionExpression(sql="from_unixtime(k)", type="DATETIME")]
    state = CatalogState(cluster_id="c", databases={"d": Database(id=4, name="d", storage_volume="v",
                                                                  tables={"t": table})})
    again = CatalogState.model_validate_json(state.model_dump_json())
    assert again.databases["d"].tables["t"].partition_expressions == table.partition_expressions
    # A table written when a table had one partition expression at most reads the same.
    written = table.model_dump()
    written["partition_expression"] = written.pop("partition_expressions")[0]
    assert Table.model_validate(written) == table


@pytest.fixture
def fe(tmp_path: Path) -> Iterator[FeProcess]:
    process = start_local_fe(tmp_path)
    yield process
    process.stop()


def test_over_the_protocol_and_after_a_restart(fe: FeProcess, tmp_path: Path) -> None:
    connection = connect(fe)
    with connection.cursor() as cur:
        cur.execute("CREATE DATABASE d")
        cur.execute("USE d")
        cur.execute(f"CREATE TABLE t (k BIGINT, v INT) PARTITION BY RANGE(from_unixtime(k)) ({DAYS})")
        cur.execute("ALTER TABLE t ADD PARTITION p20231226 VALUES [('2023-12-26'), ('2023-12-27'))")
        cur.execute("INSERT INTO t VALUES (1609545600, 1), (1703592000, 2)")
        assert rows(cur, "SELECT v FROM t PARTITION (p20231226)") == [(2,)]
        assert error_of(cur, "CREATE TABLE e (k DATE) PARTITION BY RANGE(from_unixtime(k)) "
                             "(PARTITION p VALUES LESS THAN ('2021-01-01'))") == (
            1064, "Getting analyzing error. Detail message: Unsupported partition expression from_unixtime for "
                  "column k type DATE.")
        code, message = error_of(cur, "ALTER TABLE t ADD PARTITION p VALUES [('2021-01-02'), ('2021-01-03'))")
        assert code == 1064 and "intersected" in message
    connection.close()
    fe.stop()
    restarted = start_local_fe(tmp_path)
    try:
        connection = connect(restarted, database="d")
        with connection.cursor() as cur:
            assert [r[1] for r in rows(cur, "SHOW PARTITIONS FROM t")] == [
                "p20210101", "p20210102", "p20210103", "p20231226"]
            assert rows(cur, "SELECT v FROM t WHERE k = 1609545600") == [(1,)]
            cur.execute("INSERT INTO t VALUES (1609632000, 3)")
            assert rows(cur, "SELECT v FROM t PARTITION (p20210103)") == [(3,)]
        connection.close()
    finally:
        restarted.stop()


ADD_BATCH = [
    ("every (interval 3 day)", "2024-01-05", "2024-01-10", "The step of the auto-partitioned table should be 1."),
    ("every (interval 1 week)", "2024-01-05", "2024-01-10", "The granularity of the auto-partitioned table "
     "granularity(day) should be consistent with the increased partition granularity(WEEK).."),
    ("every (interval 1 day)", "2020-01-15 01:02:03", "2020-01-20", "Batch build partition range "
     "[2020-01-15 01:02:03,2020-01-20 00:00:00) should be a standard unit of time (DAY) . suggest range "
     "[2020-01-15 00:00:00,2020-01-20 00:00:00)If you want to create partial partitions in batch, you can turn off "
     "this check by setting the FE config enable_create_partial_partition_in_batch=true."),
    ("every (interval 1 day)", "2020-01-20", "2020-01-15", "Batch build partition start date should less than end "
     "date.."),
]


@pytest.mark.parametrize(("every", "start", "end", "message"), ADD_BATCH)
def test_batches_added_to_an_automatic_table_keep_to_its_grid(sql: Session, every: str, start: str, end: str,
                                                               message: str) -> None:
    sql.execute("CREATE TABLE t (id BIGINT, dt DATETIME NOT NULL) DUPLICATE KEY(id, dt) "
                "PARTITION BY time_slice(dt, INTERVAL 1 day) DISTRIBUTED BY HASH(id, dt)")
    with pytest.raises(AnalysisError) as caught:
        sql.execute(f"ALTER TABLE t ADD PARTITIONS START ('{start}') END ('{end}') {every}")
    assert str(caught.value) == f"Getting analyzing error. Detail message: {message}"
    with pytest.raises(AnalysisError, match="cannot manually add a single range partition"):
        sql.execute("ALTER TABLE t ADD PARTITION p VALUES [('2023-02-28 00:00:00'), ('2023-03-01 00:00:00'))")
    assert partitions(sql, "t") == []


def test_a_batch_adds_the_periods_loads_have_not_made(sql: Session) -> None:
    sql.execute("CREATE TABLE a (dt DATETIME NOT NULL, v INT) PARTITION BY date_trunc('day', dt)")
    sql.execute("INSERT INTO a VALUES ('2024-01-06 10:00:00', 1)")
    sql.execute("ALTER TABLE a ADD PARTITIONS START ('2024-01-05') END ('2024-01-08') EVERY (INTERVAL 1 DAY)")
    assert [name for name, _ in partitions(sql, "a")] == ["p20240105", "p20240106", "p20240107"]
    sql.execute("INSERT INTO a VALUES ('2024-01-07 00:00:00', 2), ('2024-01-09 00:00:00', 3)")
    assert sql.execute("SELECT v FROM a PARTITION (p20240107)").rows() == [(2,)]
    assert len(partitions(sql, "a")) == 4
    # A RANGE table takes a batch beside its ranges, and none that overlaps them.
    sql.execute("CREATE TABLE r (d DATE, v INT) PARTITION BY RANGE(d) (PARTITION p0 VALUES LESS THAN ('2024-01-01'))")
    sql.execute("ALTER TABLE r ADD PARTITIONS START ('2024-02-01') END ('2024-04-01') EVERY (INTERVAL 1 MONTH)")
    assert [name for name, _ in partitions(sql, "r")] == ["p0", "p202402", "p202403"]
    with pytest.raises(AnalysisError, match="intersected"):
        sql.execute("ALTER TABLE r ADD PARTITIONS START ('2023-12-01') END ('2024-01-02') EVERY (INTERVAL 1 DAY)")


NESTED = [
    ("ts INT", "date_trunc('month', str_to_date(CAST(ts AS STRING), '%Y%m%d'))", ["20200201", "20200101", "20200315"],
     ["p202001", "p202002", "p202003"], "ts = 20200315", 1),
    ("ts VARCHAR(20)", "date_trunc('day', str2date(ts, '%Y-%m-%d %H:%i:%s'))",
     # Text that is no date goes to the NULL partition (year 0), which pruning keeps.
     ["'2021-01-04 23:59:59'", "'not a date'", "NULL"], ["p00000101", "p20210104"], "ts = '2021-01-04 23:59:59'", 2),
    ("ts BIGINT", "date_trunc('hour', from_unixtime(ts))", ["1609459200", "1609462800", "1609466399"],
     ["p2021010100", "p2021010101"], "ts >= 1609462800", 1),
]


@pytest.mark.parametrize(("column", "expression", "values", "made", "condition", "read"), NESTED)
def test_date_trunc_over_an_expression_makes_and_prunes_its_periods(sql: Session, column: str, expression: str,
                                                                   values: list[str], made: list[str],
                                                                   condition: str, read: int) -> None:
    sql.execute(f"CREATE TABLE t ({column}, v INT) PARTITION BY {expression}")
    sql.execute("INSERT INTO t VALUES " + ", ".join(f"({value}, {i})" for i, value in enumerate(values)))
    assert sorted(name for name, _ in partitions(sql, "t")) == made
    access = sql.frontend.data_access
    before = access.partitions_read
    found = sql.execute(f"SELECT count(*) FROM t WHERE {condition}").rows()
    assert access.partitions_read - before == read
    assert found == [(1,)] if "from_unixtime" not in expression else [(2,)]
    ddl = sql.execute("SHOW CREATE TABLE t").rows()[0][1]
    sql.execute("DROP TABLE t")
    sql.execute(ddl)
    sql.execute("INSERT INTO t VALUES " + ", ".join(f"({value}, {i})" for i, value in enumerate(values)))
    assert sorted(name for name, _ in partitions(sql, "t")) == made


@pytest.mark.parametrize(("column", "expression", "message"), [
    ("ts VARCHAR(10)", "date_trunc('hour', cast(substring(ts, 1, 2) as int))", "inside date_trunc is not supported"),
    ("ts DATE", "date_trunc('day', str2date(ts, '%Y-%m-%d'))", "Unsupported partition expression str2date for column "
     "ts type DATE"),
    ("ts VARCHAR(10)", "date_trunc('day', str2date(ts, '%Y'))", "as a strict DATE type"),
    ("ts VARCHAR(10)", "str2date(ts, '%Y-%m-%d')", "Only support date_trunc and time_slice as partition expression"),
])
def test_date_trunc_over_expressions_refused(sql: Session, column: str, expression: str, message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        sql.execute(f"CREATE TABLE t ({column}, v INT) PARTITION BY {expression}")


# (columns, PARTITION BY, rows, the partitions made (name, values), a condition, rows and partitions it reads)
LISTED = [
    ("k1 INT, k2 BIGINT", "from_unixtime(k2, '%Y-%m-%d')", "(1, 1577840461), (2, 1196418619), (3, 1577840462), (4, NULL)",
     [("pNULL", "(NULL)"), ("p20071130", "(2007-11-30)"), ("p20200101", "(2020-01-01)")], "k2 = 1196418619", [(2,)], 1),
    ("k1 INT, dt STRING", "substring(dt, 1, 4)", "(1, '2024-01-01'), (2, '2023-05-05'), (3, '2024-02-02')",
     [("p2023", "(2023)"), ("p2024", "(2024)")], "dt IN ('2023-05-05', '2024-02-02')", [(2,), (3,)], 2),
]


@pytest.mark.parametrize(("columns", "expression", "rows", "made", "condition", "expected", "read"), LISTED)
def test_list_partitions_by_the_text_of_an_expression(sql: Session, columns: str, expression: str, rows: str,
                                                      made: list[tuple[str, str]], condition: str,
                                                      expected: list[tuple[int]], read: int) -> None:
    sql.execute(f"CREATE TABLE t ({columns}) PARTITION BY {expression}")
    sql.execute(f"INSERT INTO t VALUES {rows}")
    assert sorted(partitions(sql, "t")) == sorted(made)
    access = sql.frontend.data_access
    before = access.partitions_read
    assert sql.execute(f"SELECT k1 FROM t WHERE {condition} ORDER BY k1").rows() == expected
    assert access.partitions_read - before == read
    assert f"PARTITION BY {expression}" in sql.execute("SHOW CREATE TABLE t").rows()[0][1]


@pytest.mark.parametrize(("java_format", "name", "format_"), [
    ("yyyy-MM-dd HH:mm:ss", "p20071130043019", "%Y-%m-%d %H:%i:%s"),
    ("yyyy-MM-dd", "p20071130", "%Y-%m-%d"),
    ("yyyyMMdd", "p20071130", "%Y%m%d"),
])
def test_from_unixtime_takes_the_java_spelled_formats_starrocks_takes(sql: Session, java_format: str, name: str,
                                                                      format_: str) -> None:
    sql.execute(f"CREATE TABLE t (k1 INT, k2 BIGINT) PARTITION BY from_unixtime(k2, '{java_format}')")
    sql.execute("INSERT INTO t VALUES (1, 1196397019), (2, 1196397019)")
    assert [p for p, _ in partitions(sql, "t")] == [name]
    assert sql.execute("SELECT k1 FROM t WHERE k2 = 1196397019 ORDER BY k1").rows() == [(1,), (2,)]
    assert f"PARTITION BY from_unixtime(k2, '{format_}')" in sql.execute("SHOW CREATE TABLE t").rows()[0][1]


@pytest.mark.parametrize(("keys", "message"), [
    ("AGGREGATE KEY(k1, k2)", "AGG_KEYS table should specify aggregate type for non-key "
                              "column[__generated_partition_column_0]."),
    ("PRIMARY KEY(k1)", "The partition expr should base on key column."),
])
def test_keyed_tables_partitioned_by_the_text_of_an_expression(sql: Session, keys: str, message: str) -> None:
    value = "v INT SUM" if keys.startswith("AGG") else "v INT"
    with pytest.raises(AnalysisError) as caught:
        sql.execute(f"CREATE TABLE t (k1 INT, k2 BIGINT, {value}) {keys} PARTITION BY from_unixtime(k2, '%Y-%m-%d')")
    assert str(caught.value) == f"Getting analyzing error. Detail message: {message}"
    sql.execute("CREATE TABLE p (k1 INT, k2 BIGINT, v INT) PRIMARY KEY(k1, k2) PARTITION BY from_unixtime(k2, '%Y-%m')")
    sql.execute("INSERT INTO p VALUES (1, 1577840461, 1), (1, 1577840461, 2)")
    assert sql.execute("SELECT v FROM p PARTITION (p202001)").rows() == [(2,)]
