"""StarRocks' aggregate functions: each answer is StarRocks' own (from its SQL test cases under
test/sql/test_agg_function and test_agg, or its function reference), with the Arrow type that reaches
the client and the errors StarRocks gives for the arguments it refuses."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pymysql
import pytest
from pymysql.constants import FIELD_TYPE

import cairn.api
from cairn.errors import AnalysisError, CairnError, SqlSyntaxError
from cairn.server.session import Session
from fe_process import FeProcess

D = datetime.date


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("aggregates")
    fe = cairn.api.open_frontend(local_storage_path=root / "storage", meta_dir=root / "meta")
    session = cairn.api.connect(fe)
    # test_lc_percentile / test_percentile_cont's test_pc, with a group and a repeated row.
    session.execute_script("""
        CREATE DATABASE d; USE d;
        CREATE TABLE t (k INT, g INT, v INT, d DOUBLE, da DATE, s VARCHAR(10));
        INSERT INTO t VALUES (1, 1, 90, 11.1, '2018-01-01', 'Tom'), (2, 1, 91, 11.2, '2019-01-01', 'Tom'),
                             (3, 2, 92, 11.3, '2020-01-01', 'Ann'), (4, 2, 93, 11.4, '2021-01-01', NULL),
                             (5, 2, 94, 11.5, '2022-01-01', 'Ti'), (6, 3, NULL, NULL, NULL, NULL),
                             (7, 3, 91, 11.2, '2019-01-01', 'Ann');
    """)
    yield session
    fe.close()


def _answer(session: Session, sql: str) -> tuple[list[tuple[Any, ...]], list[pa.DataType]]:
    result = session.execute(sql)
    return result.rows(), [field.type for field in result.table.schema]


def _top(item_type: pa.DataType) -> pa.DataType:
    return pa.list_(pa.field("l", pa.struct([("item", item_type), ("count", pa.int64())])))


# (query, StarRocks' rows, the result column types)
CASES: list[tuple[str, list[tuple[Any, ...]], list[pa.DataType]]] = [
    # The distinct counts, approximate in StarRocks, are exact here (within every error bound).
    ("SELECT ndv(v), approx_count_distinct(v), multi_distinct_count(v), bitmap_union_int(v), "
     "ds_hll_count_distinct(v), ds_hll_count_distinct(v, 10, 'HLL_4'), ds_theta_count_distinct(v), "
     "hll_union_agg(hll_hash(v)), bitmap_union_count(to_bitmap(v)) FROM t",
     [(5,) * 9], [pa.int64()] * 9),
    ("SELECT g, ndv(s), multi_distinct_sum(v), multi_distinct_count(s) FROM t GROUP BY g ORDER BY g",
     [(1, 1, 181, 1), (2, 2, 279, 2), (3, 1, 91, 1)], [pa.int32(), pa.int64(), pa.int64(), pa.int64()]),
    # test_bitmap_union_int: negative values count; a bitmap holds none.
    ("SELECT bitmap_union_int(x), bitmap_union_count(to_bitmap(x)) FROM (VALUES (-1), (1), (2), (-1), (NULL)) v(x)",
     [(3, 2)], [pa.int64()] * 2),
    # test_lc_percentile, test_percentile_cont: a DATE's percentile_cont is a DATE.
    ("SELECT percentile_disc_lc(v, 0.25), percentile_disc(v, 0.5), percentile_cont(v, 0.5), "
     "percentile_cont(da, 0.25), percentile_cont(d, 1), percentile_disc_lc(da, 1) FROM t",
     [(91, 91, 91.5, D(2019, 1, 1), 11.5, D(2022, 1, 1))],
     [pa.int32(), pa.int32(), pa.float64(), pa.date32(), pa.float64(), pa.date32()]),
    ("SELECT g, percentile_disc_lc(v, 0) FROM t GROUP BY g ORDER BY g",
     [(1, 90), (2, 92), (3, 91)], [pa.int32(), pa.int32()]),
    # test_percentile_union, test_percentile_approx: each value at the middle of its rank.
    ("SELECT percentile_approx_raw(percentile_union(percentile_hash(x)), 0.99), percentile_approx(x, 0.5) "
     "FROM (SELECT generate_series AS x FROM TABLE(generate_series(1, 1000))) s",
     [(990.5, 500.5)], [pa.float64()] * 2),
    ("SELECT cast(percentile_approx(x, 0.5) AS INT), cast(percentile_approx(x, 0.9, 2048) AS INT) "
     "FROM (SELECT CAST(generate_series AS DOUBLE) AS x FROM TABLE(generate_series(1, 50000, 3))) s",
     [(25000, 45000)], [pa.int32()] * 2),
    # test_approx_top_k: NULL is an item; the most frequent first; k defaults to 5.
    ("SELECT approx_top_k(s), approx_top_k(v, 2), approx_top_k(da, 1, 10) FROM t",
     [([{"item": None, "count": 2}, {"item": "Ann", "count": 2}, {"item": "Tom", "count": 2},
        {"item": "Ti", "count": 1}],
       [{"item": 91, "count": 2}, {"item": None, "count": 1}],
       [{"item": D(2019, 1, 1), "count": 2}])],
     [_top(pa.string()), _top(pa.int32()), _top(pa.date32())]),
    ("SELECT approx_top_k(col1) FROM (VALUES (1), (1), (1), (1), (1), (1)) AS tmp(col1)",
     [([{"item": 1, "count": 6}],)], [_top(pa.int32())]),
    # ... over a window; test_approx_top_k_with_null sorts it by item with array_sortby(lambda, array).
    ("SELECT k, approx_top_k(s, 1) OVER (PARTITION BY g), approx_top_k(v, 2) OVER (PARTITION BY g ORDER BY k) "
     "FROM t WHERE g = 2 ORDER BY k",
     [(3, [{"item": None, "count": 1}], [{"item": 92, "count": 1}]),
      (4, [{"item": None, "count": 1}], [{"item": 92, "count": 1}, {"item": 93, "count": 1}]),
      (5, [{"item": None, "count": 1}], [{"item": 92, "count": 1}, {"item": 93, "count": 1}])],
     [pa.int32(), _top(pa.string()), _top(pa.int32())]),
    ("WITH w1 AS (SELECT approx_top_k(v, 3) AS x FROM t) SELECT array_sortby((x) -> x.item, x) FROM w1",
     [([{"item": None, "count": 1}, {"item": 90, "count": 1}, {"item": 91, "count": 2}],)], [_top(pa.int32())]),
    # test_array_agg, test_group_concat: DISTINCT ordered by other keys keeps each value where it first comes.
    ("SELECT array_agg(DISTINCT s ORDER BY k DESC), group_concat(DISTINCT s ORDER BY k), "
     "group_concat(DISTINCT s, g ORDER BY 2, 1 SEPARATOR '|') FROM t",
     [(["Ann", None, "Ti", "Tom"], "Tom,Ann,Ti", "Tom1|Ann2|Ti2|Ann3")],
     [pa.list_(pa.field("l", pa.string())), pa.string(), pa.string()]),
    ("SELECT g, array_agg(DISTINCT s ORDER BY k), group_concat(DISTINCT s ORDER BY k DESC) FROM t GROUP BY g ORDER BY g",
     [(1, ["Tom"], "Tom"), (2, ["Ann", None, "Ti"], "Ti,Ann"), (3, [None, "Ann"], "Ann")],
     [pa.int32(), pa.list_(pa.field("l", pa.string())), pa.string()]),
    # test_orderby_agg: an aggregate's alias in an ORDER BY expression is that output; round(x) is a BIGINT.
    ("SELECT min(v) v, round(count(k) / min(v)) r, round(avg(d), 1) FROM t GROUP BY g ORDER BY abs(min(v)) + abs(v) DESC",
     [(92, 0, 11.4), (91, 0, 11.2), (90, 0, 11.1)], [pa.int32(), pa.int64(), pa.float64()]),
    # test_count_if: a value that is no condition counts where it is true; count_if(null) is 0; a BIGINT.
    ("SELECT g, count_if(v > 91), count_if(g - 1), count_if(s), count_if(null) FROM t GROUP BY g ORDER BY g",
     [(1, 0, 0, 0, 0), (2, 3, 3, 0, 0), (3, 0, 2, 0, 0)], [pa.int32()] + [pa.int64()] * 4),
    # test_count_distinct: array_agg's ORDER BY 1 is its argument, ORDER BY null orders nothing; a sum or
    # avg of strings adds them as DOUBLEs (a string that is no number is NULL); avg(DISTINCT) of a DECIMAL.
    ("SELECT g, array_agg(v ORDER BY 1), array_agg(DISTINCT v ORDER BY 1 DESC), array_agg(DISTINCT 1.3 ORDER BY null), "
     "sum(DISTINCT s), avg(s) FROM t GROUP BY g ORDER BY g",
     [(1, [90, 91], [91, 90], [Decimal("1.3")], None, None), (2, [92, 93, 94], [94, 93, 92], [Decimal("1.3")], None, None),
      (3, [None, 91], [91, None], [Decimal("1.3")], None, None)],
     [pa.int32(), pa.list_(pa.field("l", pa.int32())), pa.list_(pa.field("l", pa.int32())),
      pa.list_(pa.field("l", pa.decimal128(2, 1))), pa.float64(), pa.float64()]),
    ("SELECT avg(DISTINCT CAST(v AS DECIMAL(10, 2))), avg(CAST(v AS DECIMAL(10, 2))) FROM t",
     [(Decimal("92.00000000"), Decimal("91.83333333"))], [pa.decimal128(38, 8)] * 2),
    # test_group_concat: SEPARATOR NULL joins with nothing; a column as separator follows each value but the last.
    ("SELECT group_concat(s ORDER BY k SEPARATOR NULL), group_concat(s ORDER BY k SEPARATOR CAST(g AS VARCHAR)) FROM t",
     [("TomTomAnnTiAnn", "Tom1Tom1Ann2Ti2Ann")], [pa.string()] * 2),
    # test_meta_scan_agg: count, min and max of columns from a meta scan are the data's own answers.
    ("SELECT count(v), min(da), max(v), count(*) FROM t[_META_]", [(6, D(2018, 1, 1), 94, 7)],
     [pa.int64(), pa.date32(), pa.int32(), pa.int64()]),
    # test_empty_input: NULL over no rows; counts are 0.
    ("SELECT percentile_disc_lc(v, 0.5), percentile_cont(v, 0.5), percentile_approx(v, 0.5), approx_top_k(v), "
     "ndv(v) FROM t WHERE k < 0",
     [(None, None, None, None, 0)],
     [pa.int32(), pa.float64(), pa.float64(), _top(pa.int32()), pa.int64()]),
]


@pytest.mark.parametrize("sql, rows, types", CASES, ids=[c[0][:60] for c in CASES])
def test_aggregates_answer_as_starrocks(session: Session, sql: str, rows: list[tuple[Any, ...]],
                                        types: list[pa.DataType]) -> None:
    assert _answer(session, sql) == (rows, types)


@pytest.mark.parametrize("sql, message", [
    # test_percentile_cont, test_lc_percentile
    ("SELECT percentile_cont(d, 2) FROM t", "percentile_cont second parameter'value should be between 0 and 1"),
    ("SELECT percentile_cont(d, -1) FROM t", "percentile_cont second parameter'value should be between 0 and 1"),
    ("SELECT percentile_cont(d, cast(1.5 as double)) FROM t", "Percentile rate must be between 0 and 1"),
    ("SELECT percentile_disc_lc(v, 1.1) FROM t", "percentile_disc_lc second parameter'value should be between 0 and 1"),
    # test_hll_sketch_count, test_ds_theta_count_distinct
    ("SELECT ds_hll_count_distinct(v, 1) FROM t", "ds_hll_count_distinct second parameter'value should be between 4 and 21"),
    ("SELECT ds_theta_count_distinct(v, 1) FROM t", "No matching function with signature: ds_theta_count_distinct"),
    ("SELECT approx_top_k(v, 0) FROM t", "The second parameter of APPROX_TOP_K must be a positive integer constant"),
    ("SELECT approx_top_k(v, 5, 2) FROM t", "The third parameter of APPROX_TOP_K must be a constant not less than"),
    ("SELECT count_if(DISTINCT v) FROM t",
     "Getting syntax error at line 1, column 15. Detail message: Unexpected input '(', the most similar input is"),
    ("SELECT array_agg(v ORDER BY 2) FROM t", "ORDER BY position 2 is not in array_agg output list"),
    ("SELECT v FROM t [_META_]", "[_META_] outside SELECT count / min / max (columns) FROM one table is not supported"),
    # test_group_concat
    ("SELECT group_concat(DISTINCT s, g ORDER BY k, 3) FROM t", "Getting syntax error from line 1, column 7 to line 1, "
     "column 47. Detail message: ORDER BY position 3 is not in group_concat output list"),
    ("SELECT group_concat(s ORDER BY -2) FROM t", "ORDER BY position -2 is not in group_concat output list"),
    ("SELECT 1, group_concat() FROM t", "Getting analyzing error from line 1, column 10 to line 1, column 23. "
     "Detail message: group_concat should have at least one input"),
    ("SELECT group_concat(s ORDER BY k SEPARATOR 1) FROM t", "Getting analyzing error at line 1, column 43. Detail "
     "message: group_concat requires separator to be of getType() STRING: group_concat(s, 1)"),
    ("SELECT group_concat(  ORDER BY k) FROM t",
     "Getting syntax error at line 1, column 19. Detail message: Unexpected input '(', the most similar input is"),
    ("SELECT group_concat(DISTINCT order by k) FROM t", "Getting syntax error at line 1, column 29. Detail message: "
     "Unexpected input 'order', the most similar input is {a legal identifier}."),
])
def test_refused_arguments_are_starrocks_errors(session: Session, sql: str, message: str) -> None:
    with pytest.raises((AnalysisError, SqlSyntaxError), match=re.escape(message)):
        session.execute(sql)


def test_aggregate_types_reach_the_client_in_the_column_metadata(local_fe_process: FeProcess) -> None:
    connection = pymysql.connect(host="127.0.0.1", port=local_fe_process.query_port, user="root")
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE m")
            cursor.execute("CREATE TABLE m.t (k INT, v SMALLINT, da DATE)")
            cursor.execute("INSERT INTO m.t VALUES (1, 2, '2024-01-01'), (2, 3, '2024-01-03'), (3, 3, NULL)")
            cursor.execute("SELECT ndv(v), multi_distinct_sum(v), percentile_approx(v, 0.5), percentile_cont(da, 0.5), "
                           "percentile_disc_lc(v, 1), group_concat(DISTINCT v ORDER BY k) FROM m.t")
            assert cursor.fetchone() == (2, 5, 3.0, datetime.date(2024, 1, 2), 3, "2,3")
            codes = [d[1] for d in cursor.description]
            assert codes == [FIELD_TYPE.LONGLONG, FIELD_TYPE.LONGLONG, FIELD_TYPE.DOUBLE, FIELD_TYPE.DATE,
                             FIELD_TYPE.SHORT, FIELD_TYPE.VAR_STRING]
    finally:
        connection.close()


def test_a_query_refused_while_parsed_keeps_its_literals_in_the_message(local_fe_process: FeProcess) -> None:
    # Only a statement that does not parse has its literals masked (it may be a mistyped password).
    connection = pymysql.connect(host="127.0.0.1", port=local_fe_process.query_port, user="root")
    try:
        with connection.cursor() as cursor, pytest.raises(pymysql.err.ProgrammingError) as refused:
            cursor.execute("SELECT group_concat('中国' SEPARATOR 1)")
        assert "group_concat('中国', 1)" in refused.value.args[1]
    finally:
        connection.close()


def test_aggregate_columns_are_named_as_starrocks_names_them(session: Session) -> None:
    result = session.execute("SELECT percentile_cont(v, 0.5), percentile_disc(v, 0.5), percentile_cont(da, 0.5), "
                             "percentile_disc_lc(v, 0.5), ndv(v), approx_top_k(v, 1), count_if(v > 1) FROM t")
    assert result.columns == ["percentile_cont(v, 0.5)", "percentile_disc(v, 0.5)", "percentile_cont(da, 0.5)",
                              "percentile_disc_lc(v, 0.5)", "ndv(v)", "approx_top_k(v, 1)", "count_if(v > 1)"]


@pytest.mark.parametrize("sql, rows", [
    ("SELECT group_concat(s ORDER BY k), group_concat(s, '-' ORDER BY k) FROM t WHERE g = 1",
     [("Tom, Tom", "Tom-Tom")]),
    # With SEPARATOR written, the second argument is a value again.
    ("SELECT group_concat(s, '-' ORDER BY k SEPARATOR '/') FROM t WHERE g = 1", [("Tom-/Tom-",)]),
])
def test_group_concat_legacy_mode_reads_a_separator_argument(session: Session, sql: str,
                                                             rows: list[tuple[Any, ...]]) -> None:
    # StarRocks' testLegacyGroupConcat: sql_mode GROUP_CONCAT_LEGACY, by name or by its bit (1 << 36).
    for mode in ("'GROUP_CONCAT_LEGACY'", str(1 << 36)):
        session.execute(f"SET sql_mode = {mode}")
        try:
            assert session.execute(sql).rows() == rows
        finally:
            session.execute("SET sql_mode = 'ONLY_FULL_GROUP_BY'")
    assert session.execute("SELECT group_concat(s, '-' ORDER BY k) FROM t WHERE g = 1").rows() == [("Tom-,Tom-",)]


def test_set_var_hints_set_the_sql_mode_of_their_query(session: Session) -> None:
    legacy = "/*+ SET_VAR(sql_mode = 'GROUP_CONCAT_LEGACY') */"
    query = "group_concat(s, '-' ORDER BY k) FROM t WHERE g = 1"
    assert session.execute(f"SELECT {legacy} {query}").rows() == [("Tom-Tom",)]
    # Of two hints the last one counts (testLegacyGroupConcat).
    assert session.execute(f"SELECT {legacy} /*+ SET_VAR(sql_mode = 'ONLY_FULL_GROUP_BY') */ {query}").rows() == [
        ("Tom-,Tom-",)]


def test_set_user_variable_hints_set_user_variables_of_their_query(session: Session) -> None:
    # StarRocks' test_percentile_approx: the rate is a user variable selected in a CTE, set by the hint.
    query = ("WITH tt AS (SELECT @r AS r, v FROM t) SELECT /*+ set_user_variable(@r = 0.5) */ "
             "percentile_approx(v, r), @r FROM tt")
    assert session.execute(query).rows() == session.execute("SELECT percentile_approx(v, 0.5), 0.5 FROM t").rows()
    assert session.execute("SELECT @r").rows() == [(None,)]  # the hint sets it for its query only
    with pytest.raises(CairnError, match="percentile_approx requires its rate to be a constant"):
        session.execute("SELECT percentile_approx(v, k / 10) FROM t")
