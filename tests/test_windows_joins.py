"""Windows, joins and sorting as StarRocks answers them: its bracketed join and window hints, the result
types of aggregates over windows, and what StarRocks refuses (expected answers from StarRocks' own SQL
test cases under test/sql: test_join, test_window_function)."""

from __future__ import annotations

import re
from decimal import Decimal as D
from typing import Any

import pyarrow as pa
import pymysql
import pytest
from pymysql.constants import FIELD_TYPE

import cairn.api
from cairn.errors import AnalysisError, UnsupportedError
from cairn.server.session import Session
from fe_process import FeProcess


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("windows_joins")
    fe = cairn.api.open_frontend(local_storage_path=root / "storage", meta_dir=root / "meta")
    session = cairn.api.connect(fe)
    session.execute_script("""
        CREATE DATABASE d; USE d;
        CREATE TABLE t1 (k INT, v INT, s VARCHAR(10));
        CREATE TABLE t2 (k INT, w INT);
        INSERT INTO t1 VALUES (1, 10, 'a'), (2, 20, 'b'), (3, NULL, 'c'), (NULL, 40, 'd');
        INSERT INTO t2 VALUES (1, 100), (2, 200), (2, 201), (NULL, 400);
    """)
    yield session
    fe.close()


def _answer(session: Session, sql: str) -> tuple[list[tuple[Any, ...]], list[pa.DataType]]:
    result = session.execute(sql)
    return result.rows(), [field.type for field in result.table.schema]


JOINED = [(1, 100), (2, 200), (2, 201)]

# (query, StarRocks' rows, the result column types)
HINT_CASES: list[tuple[str, list[tuple[Any, ...]], list[pa.DataType]]] = [
    # test_join/test_lazy_materialize, test_null_safe_equal, test_skew_join: a join hint changes no answer
    *[(f"SELECT t1.k, w FROM t1 JOIN {hint} t2 ON t1.k = t2.k ORDER BY 1, 2", JOINED, [pa.int32()] * 2)
      for hint in ("[broadcast]", "[shuffle]", "[BUCKET]", "[colocate]", "[unreorder]", "[skew|t1.k(1,2)]")],
    ("SELECT t1.k, w FROM t1 INNER JOIN[shuffle] t2 ON t1.k <=> t2.k ORDER BY 1, 2",
     [(None, 400), *JOINED], [pa.int32()] * 2),
    ("SELECT t1.k, w FROM t1 LEFT OUTER JOIN [broadcast] t2 USING (k) WHERE t1.k < 3 ORDER BY 1, 2",
     JOINED, [pa.int32()] * 2),
    # test_window_function/test_hash_based_process, test_skewed_partition: so does a window hint
    ("SELECT k, count(v) OVER ([hash] PARTITION BY k > 0) FROM t1 ORDER BY k",
     [(None, 1), (1, 2), (2, 2), (3, 2)], [pa.int32(), pa.int64()]),
    ("SELECT k, sum(v) OVER([skewed, hash] PARTITION BY k > 1 ORDER BY k) FROM t1 ORDER BY k",
     [(None, 40), (1, 10), (2, 20), (3, 20)], [pa.int32(), pa.int64()]),
    # a bracket elsewhere is still an array
    ("SELECT [t1.k, 2][1], s FROM t1 JOIN [broadcast] t2 ON t1.k = t2.k AND '[x]' = '[x]' WHERE t1.k = 1",
     [(1, "a")], [pa.int32(), pa.string()]),
]


@pytest.mark.parametrize("sql, rows, types", HINT_CASES, ids=[c[0][:70] for c in HINT_CASES])
def test_join_and_window_hints_change_no_answer(session: Session, sql: str, rows: list[tuple[Any, ...]],
                                                types: list[pa.DataType]) -> None:
    assert _answer(session, sql) == (rows, types)


def test_a_join_without_a_condition_binds_as_tightly_as_the_others(session: Session) -> None:
    # test_join/test_predicate_move_around: `x RIGHT JOIN y ON .. JOIN z RIGHT JOIN w ON ..` is
    # ((x RIGHT JOIN y) CROSS JOIN z) RIGHT JOIN w, not (x RIGHT JOIN y), (z RIGHT JOIN w).
    sql = ("SELECT a.k, b.k, c.k, d.k FROM t1 a RIGHT JOIN t2 b ON a.k = b.k JOIN t2 c RIGHT JOIN t1 d "
           "ON c.k = d.k AND d.k = b.k ORDER BY 1, 2, 3, 4")
    assert session.execute(sql).rows() == [(None, None, None, None), (None, None, None, 3), (1, 1, 1, 1),
                                           *[(2, 2, 2, 2)] * 4]
    inner = "SELECT count(*) FROM t1 a INNER JOIN t2 b JOIN t1 c ON a.k = c.k AND b.k = c.k"
    assert session.execute(inner).rows() == [(3,)]
    comma = "SELECT count(*) FROM t1 a, t2 b JOIN t1 c ON b.k = c.k"
    assert session.execute(comma).rows() == [(12,)]


@pytest.mark.parametrize("sql, message", [
    ("SELECT * FROM t1 JOIN [fast] t2 ON t1.k = t2.k", "JOIN hint not recognized: FAST"),
    ("SELECT * FROM t1 JOIN [broadcast|t1.k(1)] t2 ON t1.k = t2.k", "JOIN hint not recognized: BROADCAST"),
    ("SELECT * FROM t1 JOIN [skew] t2 ON t1.k = t2.k", "Skew join values must be specified"),
    ("SELECT * FROM t1 CROSS JOIN [shuffle] t2", "CROSS JOIN does not support SHUFFLE"),
    ("SELECT count(v) OVER ([quick] PARTITION BY k) FROM t1", "window hint not recognized: QUICK"),
])
def test_unknown_hints_are_refused(session: Session, sql: str, message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        session.execute(sql)


@pytest.fixture(scope="module")
def decimals(session: Session) -> Session:
    session.execute_script("""
        CREATE TABLE dec5 (k INT, v DECIMAL(18, 5), w DECIMAL(38, 13));
        INSERT INTO dec5 VALUES (1, 1.5, 1), (1, 2.25, 2), (2, 3, NULL), (2, NULL, 0.5);
        CREATE TABLE rounding (k INT, v DECIMAL(10, 2), w DECIMAL(38, 13));
        INSERT INTO rounding VALUES (1, 0.01, 1234567890123.1234567890123), (1, 0.01, 0), (1, 0, NULL),
                                    (2, -0.01, -1234567890123.1234567890123), (2, -0.01, 0), (2, 0, NULL);
    """)
    return session



# test_window_function/test_basic_window_function(_2): avg of a DECIMAL(p, s) is a DECIMAL(38, s + 6) for
# s <= 6, DECIMAL(38, 12) for s <= 12, else DECIMAL(38, s); sum keeps the scale.
DECIMAL_CASES: list[tuple[str, list[tuple[Any, ...]], list[pa.DataType]]] = [
    ("SELECT avg(v), sum(v), avg(w) FROM dec5",
     [(D("2.25000000000"), D("6.75000"), D("1.1666666666667"))],
     [pa.decimal128(38, 11), pa.decimal128(38, 5), pa.decimal128(38, 13)]),
    ("SELECT k, avg(v) OVER (PARTITION BY k) FROM dec5 ORDER BY k, 2",
     [(1, D("1.87500000000")), (1, D("1.87500000000")), (2, D("3.00000000000")), (2, D("3.00000000000"))],
     [pa.int32(), pa.decimal128(38, 11)]),
    ("SELECT sum(wv), avg(wv), min(wv), max(wv) FROM (SELECT avg(v) OVER (ORDER BY k ROWS BETWEEN UNBOUNDED "
     "PRECEDING AND UNBOUNDED FOLLOWING) AS wv FROM dec5) a",
     [(D("9.00000000000"), D("2.250000000000"), D("2.25000000000"), D("2.25000000000"))],
     [pa.decimal128(38, 11), pa.decimal128(38, 12), pa.decimal128(38, 11), pa.decimal128(38, 11)]),
    ("SELECT avg(wv) FROM (SELECT lead(v, 1) OVER (ORDER BY k, v) AS wv FROM dec5) a",
     [(D("2.62500000000"),)], [pa.decimal128(38, 11)]),
    ("SELECT avg(wv) FROM (SELECT first_value(v IGNORE NULLS) OVER (ORDER BY k, v) AS wv FROM dec5) a",
     [(D("1.50000000000"),)], [pa.decimal128(38, 11)]),
    # exact, rounded half away from zero (DuckDB's DOUBLE average would lose the last places)
    ("SELECT k, avg(v), avg(w), avg(w) OVER (PARTITION BY k) FROM rounding GROUP BY k, w ORDER BY k, 3 LIMIT 3",
     [(1, D("0E-8"), None, D("617283945061.5617283945062")),
      (1, D("0.01000000"), D("0E-13"), D("617283945061.5617283945062")),
      (1, D("0.01000000"), D("1234567890123.1234567890123"), D("617283945061.5617283945062"))],
     [pa.int32(), pa.decimal128(38, 8), pa.decimal128(38, 13), pa.decimal128(38, 13)]),
    ("SELECT k, avg(v), avg(w) FROM rounding GROUP BY k ORDER BY k",
     [(1, D("0.00666667"), D("617283945061.5617283945062")), (2, D("-0.00666667"), D("-617283945061.5617283945062"))],
     [pa.int32(), pa.decimal128(38, 8), pa.decimal128(38, 13)]),
    ("SELECT avg(v) FROM rounding WHERE k > 2", [(None,)], [pa.decimal128(38, 8)]),
    ("SELECT avg(CAST(k AS DECIMAL(10, 2))), avg(k), avg(CAST(v AS DOUBLE)) FROM dec5",
     [(D("1.50000000"), 1.5, 2.25)], [pa.decimal128(38, 8), pa.float64(), pa.float64()]),
]


@pytest.mark.parametrize("sql, rows, types", DECIMAL_CASES, ids=[c[0][:70] for c in DECIMAL_CASES])
def test_avg_of_a_decimal_is_a_decimal(decimals: Session, sql: str, rows: list[tuple[Any, ...]],
                                       types: list[pa.DataType]) -> None:
    assert _answer(decimals, sql) == (rows, types)


def test_hinted_windows_and_decimal_averages_reach_the_client_with_their_types(local_fe_process: FeProcess) -> None:
    connection = pymysql.connect(host="127.0.0.1", port=local_fe_process.query_port, user="root")
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE m")
            cursor.execute("CREATE TABLE m.t (k INT, v DECIMAL(18, 5))")
            cursor.execute("INSERT INTO m.t VALUES (1, 1.5), (1, 2.25), (2, 3)")
            cursor.execute("SELECT a.k, sum(v) OVER ([hash] PARTITION BY a.k), avg(v) OVER ([skewed] PARTITION BY a.k) "
                           "FROM m.t a JOIN [broadcast] m.t b USING (k, v) ORDER BY 1, 2")
            assert cursor.fetchall() == ((1, D("3.75000"), D("1.87500000000")), (1, D("3.75000"), D("1.87500000000")),
                                         (2, D("3.00000"), D("3.00000000000")))
            assert [(d[1], d[5]) for d in cursor.description] == [
                (FIELD_TYPE.LONG, 0), (FIELD_TYPE.NEWDECIMAL, 5), (FIELD_TYPE.NEWDECIMAL, 11)]
            with pytest.raises(pymysql.err.ProgrammingError) as refused:
                cursor.execute("SELECT * FROM m.t a JOIN [quick] m.t b USING (k)")
            assert refused.value.args == (
                1064, "Getting analyzing error. Detail message: JOIN hint not recognized: QUICK.")
    finally:
        connection.close()


# test_window_function/test_session_number_window_function: a new session starts where the value exceeds
# the previous row's by more than the gap; NULL where the value or the gap is NULL.
SESSION_CASES: list[tuple[str, list[tuple[Any, ...]]]] = [
    ("SELECT c0, c1, session_number(c0, 2) OVER (PARTITION BY c1 ORDER BY c0) FROM sessions ORDER BY c1, c0",
     [(2, None, 1), (1, 1, 1), (3, 1, 1), (6, 1, 2), (7, 1, 2), (10, 1, 3), (None, 2, None), (5, 2, 1)]),
    ("SELECT c0, session_number(c0, 2) OVER (PARTITION BY c1 ORDER BY c0) AS s FROM sessions WHERE c1 = 1 "
     "AND c0 > 1 ORDER BY c0", [(3, 1), (6, 2), (7, 2), (10, 3)]),
    ("SELECT sum(s), count(s) FROM (SELECT session_number(c0, 1) OVER (PARTITION BY c1 ORDER BY c0) AS s "
     "FROM sessions) t", [(15, 7)]),
    ("SELECT *, session_number(NULL, NULL) OVER (PARTITION BY c1 ORDER BY c0) FROM sessions WHERE c0 = 1",
     [(1, 1, None)]),
]


@pytest.mark.parametrize("sql, rows", SESSION_CASES, ids=[c[0][:70] for c in SESSION_CASES])
def test_session_number_counts_sessions_as_starrocks(session: Session, sql: str, rows: list[tuple[Any, ...]]) -> None:
    session.execute_script("""
        CREATE TABLE IF NOT EXISTS sessions (c0 INT, c1 BIGINT);
        TRUNCATE TABLE sessions;
        INSERT INTO sessions VALUES (1, 1), (3, 1), (6, 1), (7, 1), (10, 1), (2, NULL), (5, 2), (NULL, 2);
    """)
    result = session.execute(sql)
    assert result.rows() == rows
    assert result.table.schema.field(result.table.num_columns - 1).type == pa.int64()


@pytest.mark.parametrize("sql, error, message", [
    ("SELECT session_number(k, v) OVER (PARTITION BY k ORDER BY v) FROM t1", AnalysisError, "must be a constant"),
    ("SELECT session_number(k) OVER (ORDER BY v) FROM t1", AnalysisError, "takes 2 arguments"),
    ("SELECT session_number(t1.k, 1) OVER (ORDER BY w) FROM t1 JOIN t2 USING (k)", UnsupportedError,
     "session_number over a join"),
])
def test_session_number_refusals(session: Session, sql: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        session.execute(sql)


def test_a_window_ordered_by_a_random_value_orders_each_row_once(session: Session) -> None:
    # test_window_function/test_window_pre_agg_with_rank: ORDER BY rand() in a window is a random order
    # of the partition's rows (every rank distinct), not a refusal.
    ranks = session.execute("SELECT k > 1, rank() OVER (PARTITION BY k > 1 ORDER BY rand()) FROM t1 ORDER BY 1, 2")
    assert ranks.rows() == [(None, 1), (False, 1), (True, 1), (True, 2)]
    top = session.execute("SELECT count(*) FROM (SELECT count(*) OVER (PARTITION BY s) AS c, row_number() OVER "
                          "(PARTITION BY k > 1 ORDER BY rand(), k) AS rn FROM t1 WHERE v IS NOT NULL OR k IS NULL) x "
                          "WHERE rn <= 1")
    assert top.rows() == [(3,)]
    assert session.execute("SELECT *, row_number() OVER (ORDER BY uuid()) > 0 FROM t2 WHERE k = 1").rows() == [
        (1, 100, True)]
    with pytest.raises(UnsupportedError, match="a window ordered by a random value over a join"):
        session.execute("SELECT row_number() OVER (ORDER BY rand()) FROM t1 JOIN t2 USING (k)")


@pytest.mark.parametrize("sql", [
    "SELECT k, v FROM t1 ORDER BY 1, 3",
    "WITH w AS (SELECT k, v FROM t1) SELECT * FROM w ORDER BY 2, 3",
])
def test_an_order_by_position_past_the_select_list_is_starrocks_error(session: Session, sql: str) -> None:
    # test_case_when: `select * from tmp ... order by 1,2,3,4,5` over four columns.
    with pytest.raises(AnalysisError, match=r"^Getting analyzing error. Detail message: ORDER BY position 3 is "
                                            r"not in select list.$"):
        session.execute(sql)


def test_sums_of_strings_through_subqueries_are_doubles(session: Session) -> None:
    # test_sort/test_parallel_merge_lazy_materialize: SUM(c1) of a VARCHAR column read through a subquery.
    session.execute_script("""
        CREATE TABLE texts (c0 INT, c1 VARCHAR(20));
        INSERT INTO texts VALUES (1, '1'), (2, '2.5'), (3, 'x'), (4, NULL);
    """)
    sql = "SELECT SUM(c1), AVG(c1) FROM (SELECT c1, COUNT(c1) OVER (ORDER BY c0) AS wv FROM texts) a"
    assert _answer(session, sql) == ([(3.5, 1.75)], [pa.float64(), pa.float64()])


@pytest.fixture(scope="module")
def arrays(session: Session) -> Session:
    session.execute_script("""
        CREATE TABLE at (pk INT, s_1 ARRAY<STRING>, i_1 ARRAY<BIGINT>, d_1 ARRAY<DECIMAL(26, 2)>,
                         ai_1 ARRAY<ARRAY<BIGINT>>, as_1 ARRAY<ARRAY<STRING>>);
        INSERT INTO at VALUES (1, ['1', NULL], [1, 2], [1.00], [[1]], [['1']]),
                              (2, ['a', 'b'], [1, NULL], [1.50, 2.00], [[3]], [['2']]),
                              (3, ['1.00'], [10], NULL, NULL, NULL);
    """)
    return session


# test_join/test_join_array, test_array_fn/test_arrays_overlap: an array of integers or DECIMALs meets
# an array of strings as their texts (a NULL element after equal ones is the greater).
ARRAY_CASES: list[tuple[str, list[tuple[Any, ...]]]] = [
    ("SELECT s.pk, t.pk FROM at s JOIN at t ON s.s_1 > t.i_1 ORDER BY 1, 2",
     [(1, 1), (2, 1), (2, 2), (2, 3), (3, 1), (3, 2)]),
    ("SELECT s.pk, t.pk FROM at s JOIN at t ON s.s_1 = t.d_1 ORDER BY 1, 2", [(3, 1)]),
    ("SELECT pk, arrays_overlap(s_1, i_1), arrays_overlap(as_1, ai_1) FROM at ORDER BY pk",
     [(1, True, True), (2, False, False), (3, False, None)]),
]


@pytest.mark.parametrize("sql, rows", ARRAY_CASES, ids=[c[0][:70] for c in ARRAY_CASES])
def test_arrays_of_numbers_meet_arrays_of_strings_as_texts(arrays: Session, sql: str,
                                                           rows: list[tuple[Any, ...]]) -> None:
    assert arrays.execute(sql).rows() == rows


def test_arrays_nested_to_other_depths_are_not_compared(arrays: Session) -> None:
    with pytest.raises(AnalysisError, match=re.escape(
            "Getting analyzing error from line 1, column 35 to line 1, column 46. Detail message: Column type "
            "array<array<bigint(20)>> does not support binary predicate operation with type array<DECIMAL128(26,2)>.")):
        arrays.execute("SELECT s.pk FROM at s JOIN at t ON s.ai_1 = t.d_1")
