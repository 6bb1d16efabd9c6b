"""StarRocks' functions and their result types: each answer is StarRocks' own (from its SQL test
cases under test/sql, or its function reference), with the Arrow type that reaches the client."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pyarrow as pa
import pymysql
import pytest
from pymysql.constants import FIELD_TYPE

import cairn.api
from cairn.errors import AnalysisError, CairnError
from cairn.server.session import Session
from fe_process import FeProcess


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("functions")
    fe = cairn.api.open_frontend(local_storage_path=root / "storage", meta_dir=root / "meta")
    session = cairn.api.connect(fe)
    session.execute_script("""
        CREATE DATABASE d; USE d;
        CREATE TABLE t (k INT, i INT, b BIGINT, dt DATETIME, da DATE, u VARCHAR(10), w VARCHAR(10));
        INSERT INTO t VALUES (1, 1, 10, '2023-10-31 23:59:59', '2020-02-12', 'month', 'Fr'),
                             (2, NULL, 20, '2024-02-29 08:08:14', '2021-03-28', 'quarter', 'sunday'),
                             (3, 3, NULL, NULL, NULL, 'year', NULL);
    """)
    yield session
    fe.close()


def _answer(session: Session, sql: str) -> tuple[list[tuple[Any, ...]], list[pa.DataType]]:
    result = session.execute(sql)
    return result.rows(), [field.type for field in result.table.schema]


DT = datetime.datetime
D = datetime.date

# (query, StarRocks' rows, the result column types)
DATE_CASES: list[tuple[str, list[tuple[Any, ...]], list[pa.DataType]]] = [
    # test_function/test_days_add
    ("SELECT days_add('2023-10-31 23:59:59', 1), days_add('2023-10-31 23:59:59', 1000)",
     [(DT(2023, 11, 1, 23, 59, 59), DT(2026, 7, 27, 23, 59, 59))], [pa.timestamp("us")] * 2),
    ("SELECT adddate('2023-10-31 23:59:59', INTERVAL 1 MONTH), adddate('2023-10-31 23:59:59', INTERVAL 500 MILLISECOND)",
     [(DT(2023, 11, 30, 23, 59, 59), DT(2023, 10, 31, 23, 59, 59, 500000))], [pa.timestamp("us")] * 2),
    ("SELECT months_sub('2024-03-31 10:00:00', 1), years_add('2024-02-29', 1), hours_add('2023-10-31 23:00:00', 2)",
     [(DT(2024, 2, 29, 10), DT(2025, 2, 28), DT(2023, 11, 1, 1))], [pa.timestamp("us")] * 3),
    ("SELECT k, days_add(dt, 1), minutes_sub(dt, 60) FROM t ORDER BY k",
     [(1, DT(2023, 11, 1, 23, 59, 59), DT(2023, 10, 31, 22, 59, 59)),
      (2, DT(2024, 3, 1, 8, 8, 14), DT(2024, 2, 29, 7, 8, 14)), (3, None, None)],
     [pa.int32(), pa.timestamp("us"), pa.timestamp("us")]),
    # days_add and its kin on a DATE are DATETIMEs, as in StarRocks
    ("SELECT k, days_add(da, 1), months_sub(da, 1), hours_add(da, 1) FROM t ORDER BY k",
     [(1, DT(2020, 2, 13), DT(2020, 1, 12), DT(2020, 2, 12, 1)), (2, DT(2021, 3, 29), DT(2021, 2, 28), DT(2021, 3, 28, 1)),
      (3, None, None, None)], [pa.int32()] + [pa.timestamp("us")] * 3),
    # test_function/test_date_trunc: a string literal is a DATETIME
    ("SELECT date_trunc('year', '2023-10-31 23:59:59.001002'), date_trunc('week', '2023-10-31')",
     [(DT(2023, 1, 1), DT(2023, 10, 30))], [pa.timestamp("us")] * 2),
    # test_datetime/test_time_diff
    ("SELECT years_diff('2020-01-01 00:00:00', '2019-01-01 00:00:00'), months_diff('2020-01-01', '2020-03-01'), "
     "weeks_diff('2020-01-08 00:00:00', '2020-01-01 00:00:00'), hours_diff('2020-01-01 01:00:00', '2020-01-01 00:00:00'), "
     "seconds_diff('2020-01-01 01:00:00', '2020-01-01 00:00:00')",
     [(1, -2, 1, 1, 3600)], [pa.int64()] * 5),
    # test_datetime/test_date_diff: whole units, not boundaries crossed
    ("SELECT date_diff('year', '2017-02-28', '2016-03-01'), date_diff('year', '2017-02-28', '2016-02-29'), "
     "date_diff('month', '2016-05-29', '2016-02-28'), date_diff('quarter', '2016-05-29', '2016-03-01')",
     [(0, 1, 3, 0)], [pa.int64()] * 4),
    # ... a later last day of a month reaches back to the last day of the earlier month
    ("SELECT date_diff('year', '2017-02-28', '2016-02-28 00:00:00.01'), date_diff('year', '2017-02-28', "
     "'2016-02-29 00:00:00.01'), date_diff('year', '2016-02-29', '2015-02-28 00:00:00.01'), "
     "date_diff('year', '2016-02-28', '2015-02-28 00:00:00.01'), date_diff('month', '2017-02-28', "
     "'2016-02-28 00:00:00.001'), date_diff('month', '2016-02-28', '2015-02-28 00:00:00.01'), "
     "date_diff('month', '2016-02-28', '2016-05-29'), date_diff('year', NULL, '2016-01-01')",
     [(1, 0, 1, 0, 12, 11, -3, None)], [pa.int64()] * 8),
    ("SELECT timestampdiff(YEAR, '2016-12-31', '2017-01-01'), timestampdiff(MONTH, '2003-02-01', '2003-05-01 12:05:55'), "
     "datediff('2023-01-02 00:00:01', '2023-01-01 23:59:59')",
     [(0, 3, 1)], [pa.int64()] * 3),
    # test_time_fn: string literals and NULL as dates; an invalid date is NULL
    ("SELECT dayofweek_iso('2023-01-01'), dayofweek_iso(''), dayofweek_iso(NULL), last_day('2023-02-01')",
     [(7, None, None, D(2023, 2, 28))], [pa.int64(), pa.int64(), pa.int64(), pa.date32()]),
    ("SELECT k, last_day(da, u), last_day(dt, 'quarter') FROM t ORDER BY k",
     [(1, D(2020, 2, 29), D(2023, 12, 31)), (2, D(2021, 3, 31), D(2024, 3, 31)), (3, None, None)],
     [pa.int32(), pa.date32(), pa.date32()]),
    ("SELECT next_day('2023-04-05', 'Mo'), next_day('2023-04-05 20:13:14', 'Thursday'), previous_day('2023-04-05', 'Wed'), "
     "next_day('9999-12-31', 'Sun'), next_day('2023-02-29', 'Tuesday'), next_day('2023-04-05', NULL)",
     [(D(2023, 4, 10), D(2023, 4, 6), D(2023, 3, 29), None, None, None)], [pa.date32()] * 6),
    ("SELECT k, next_day(da, w), previous_day(dt, w) FROM t ORDER BY k",
     [(1, D(2020, 2, 14), D(2023, 10, 27)), (2, D(2021, 4, 4), D(2024, 2, 25)), (3, None, None)],
     [pa.int32(), pa.date32(), pa.date32()]),
    ("SELECT unix_timestamp('2023-01-01 00:00:00'), from_unixtime(1700000000), from_unixtime(1700000000, '%Y-%m-%d %H:%i')",
     [(1672531200, "2023-11-14 22:13:20", "2023-11-14 22:13")], [pa.int64(), pa.string(), pa.string()]),
    # test_time_fn/test_makedate: a day the year lacks is NULL
    ("SELECT makedate(NULL, NULL), makedate(2023, 0), makedate(2023, 32), makedate(2023, 365), makedate(2023, 366), "
     "makedate(2024, 366), makedate(9999, 365), makedate(10000, 1), makedate(1, -1)",
     [(None, None, D(2023, 2, 1), D(2023, 12, 31), None, D(2024, 12, 31), D(9999, 12, 31), None, None)],
     [pa.date32()] * 9),
    # A DATE of year 0 (StarRocks' range starts there, Python's at year 1) comes as its text.
    ("SELECT makedate(0, 1), makedate(k, 1) FROM t WHERE k = 1", [("0000-01-01", D(1, 1, 1))], [pa.date32()] * 2),
    # test_time_fn/test_convert_tz: a zone may be a UTC offset
    ("SELECT convert_tz('2020-01-01 00:00:00.01', '+08:00', '+09:00'), "
     "convert_tz('2020-01-01 00:00:00', 'Asia/Shanghai', 'America/Los_Angeles'), "
     "convert_tz('2019-08-01 13:21:03', 'Asia/Shanghai', '-05:30')",
     [(DT(2020, 1, 1, 1, 0, 0, 10000), DT(2019, 12, 31, 8), DT(2019, 7, 31, 23, 51, 3))], [pa.timestamp("us")] * 3),
    # test_function/test_time_slice: periods from 0001-01-01; an end past 9999 is NULL; a step longer
    # than the whole range gives 0001-01-01
    ("SELECT time_slice('9999-12-31 23:59:59', interval 5 year, ceil), time_slice('2023-12-31 03:12:04', "
     "interval 2147483647 year), time_slice('2023-12-31 03:12:04', interval 2147483647 second), "
     "time_slice('2023-10-31 23:59:59', interval 1001 millisecond, ceil), time_slice('2023-01-31 10:11:12', interval 1 quarter)",
     [(None, DT(1, 1, 1), DT(1974, 6, 25, 21, 49, 23), DT(2023, 10, 31, 23, 59, 59, 977000), DT(2023, 1, 1))],
     [pa.timestamp("us")] * 5),
    ("SELECT k, time_slice(dt, interval 1 hour), date_slice(da, interval 5 day, ceil), date_slice(da, interval 1 month) "
     "FROM t ORDER BY k",
     [(1, DT(2023, 10, 31, 23), D(2020, 2, 16), D(2020, 2, 1)), (2, DT(2024, 2, 29, 8), D(2021, 4, 1), D(2021, 3, 1)),
      (3, None, None, None)], [pa.int32(), pa.timestamp("us"), pa.date32(), pa.date32()]),
    # test_datetime/test_yearweek: MySQL's week modes 0 to 7 (default 0); no date is NULL
    ("SELECT yearweek('2023-12-31', 2), yearweek('2024-01-01', 2), yearweek('1900-01-01', 0), yearweek('1900-01-01', 1), "
     "yearweek('2000-12-31', 4), yearweek('2000-12-31', 5), yearweek('2040-01-11 10:00:00', 0), yearweek('2000-12-31'), "
     "yearweek(-18446744073709551494), yearweek(NULL, 3)",
     [(202353, 202353, 189953, 190001, 200101, 200052, 204002, 200053, None, None)], [pa.int64()] * 10),
    ("SELECT k, yearweek(da, 3), yearweek(dt, 6) FROM t ORDER BY k",
     [(1, 202007, 202344), (2, 202112, 202409), (3, None, None)], [pa.int32(), pa.int64(), pa.int64()]),
    # test_datetime/test_jodatime_format: Joda-Time patterns; quoted text; an invalid date is NULL
    ("SELECT jodatime_format('2023-04-15 15:30:00', 'yyyy-MM-dd hh:mm:ssa'), jodatime_format('2023-12-25', "
     "\"YYYY-'W'ww-e\"), jodatime_format('2023-08-03', 'MMM dd'), jodatime_format('2023-02-29', 'yyyy-MM-dd'), "
     "jodatime_format('2023-04-15', 'HH:mm:ss==a--b==cc--aa'), "
     "jodatime_format('2023-01-01 00:00:00.038000', 'yyyy-MM-dd HH:mm:ss.SSSS'), "
     "jodatime_format('2023-06-25 00:00:00', \"yyyyMMdd--'0123\")",
     [("2023-04-15 03:30:00PM", "2023-W52-1", "Aug 03", None, "00:00:00==AM--b==cc--AM", "2023-01-01 00:00:00.0380",
       "20230625--0123")], [pa.string()] * 7),
    ("SELECT k, jodatime_format(dt, 'EEEE d MMMM yyyy, H:mm'), jodatime_format(da, 'D/yy') FROM t ORDER BY k",
     [(1, "Tuesday 31 October 2023, 23:59", "43/20"), (2, "Thursday 29 February 2024, 8:08", "87/21"), (3, None, None)],
     [pa.int32(), pa.string(), pa.string()]),
    # test_time_fn/test_to_tera_date: Teradata formats, read from the start; NULL when s does not match
    ("SELECT to_tera_date('04.1988,08', 'mm.yyyy,dd'), to_tera_date('2020-02-02 00:00:00', 'yyyy-mm-dd'), "
     "to_tera_date('1988/04/08', 'yy/mm/dd'), to_tera_date('88/02/03', 'yy/mm/dd'), to_tera_date(NULL, 'yyyy')",
     [(D(1988, 4, 8), D(2020, 2, 2), None, D(1988, 2, 3), None)], [pa.date32()] * 5),
    ("SELECT to_tera_timestamp('1988/04/08 2:3:4', 'yyyy/mm/dd hh24:mi:ss'), "
     "to_tera_timestamp('1988/04/08 02 pm:3:4', 'yyyy/mm/dd hh pm:mi:ss'), "
     "to_tera_timestamp('1988/04/08 02 pm:3:4', 'yyyy/mm/dd hh am:mi:ss'), to_tera_timestamp('1988/02/30', 'yyyy/mm/dd')",
     [(DT(1988, 4, 8, 2, 3, 4), DT(1988, 4, 8, 14, 3, 4), None, None)], [pa.timestamp("us")] * 4),
    ("SELECT k, to_tera_date(u, 'yyyy'), str_to_jodatime(w, 'yyyy-MM-dd') FROM t ORDER BY k",
     [(1, None, None), (2, None, None), (3, None, None)], [pa.int32(), pa.date32(), pa.timestamp("us")]),
    # test_time_fn/test_to_date: Joda-Time patterns read; Trino's parse_datetime / format_datetime
    ("SELECT str_to_jodatime('2024-04-01', 'yyyy-MM-dd'), str_to_jodatime('2024-04-01 10:11:12', "
     "'yyyy-MM-dd HH:mm:ss'), format_datetime(parse_datetime('2024-04-01', 'yyyy-MM-dd'), 'yyyy-ww')",
     [(DT(2024, 4, 1), DT(2024, 4, 1, 10, 11, 12), "2024-14")], [pa.timestamp("us"), pa.timestamp("us"), pa.string()]),
    ("SELECT convert_tz(dt, z, '+00:00') FROM (VALUES (TIMESTAMP '2020-01-01 08:00:00', '+08:00'), "
     "(TIMESTAMP '2020-01-01 08:00:00', 'Asia/Shanghai')) v(dt, z)", [(DT(2020, 1, 1),), (DT(2020, 1, 1),)],
     [pa.timestamp("us")]),
]


@pytest.mark.parametrize("sql, rows, types", DATE_CASES, ids=[c[0][:60] for c in DATE_CASES])
def test_date_functions_answer_as_starrocks(session: Session, sql: str, rows: list[tuple[Any, ...]],
                                            types: list[pa.DataType]) -> None:
    assert _answer(session, sql) == (rows, types)


@pytest.mark.parametrize("sql, message", [
    ("SELECT next_day('2023-04-05', 'F')", "F not supported in next_day dow_string"),
    ("SELECT previous_day('2023-04-05', 'Frid')", "Frid not supported in previous_day dow_string"),
    ("SELECT date_diff('fortnight', '2023-04-05', '2023-04-01')", "type column should be one of day/hour/minute/second/millisecond"),
    ("SELECT jodatime_format('2023-04-15 23:45:12', 'yyyy-MM-ddZZ')", "jodatime_format pattern letter 'Z' is not supported"),
    ("SELECT time_slice('0000-01-01', interval 5 year)", "time used with time_slice can't before 0001-01-01 00:00:00"),
    ("SELECT to_tera_date('1988/04/08', 'xyz/mm/dd')", "The format parameter xyz/mm/dd is invalid"),
    ("SELECT to_tera_date('1988/04/08', 'YYYY/mm/dd')", "The format parameter YYYY/mm/dd is invalid"),
    ("SELECT to_tera_date('1988/04/08', w) FROM t", "format that is not a constant is not supported"),
    ("SELECT date_slice('2023-12-31 03:12:04', interval 3.2 year)",
     "date_slice requires second parameter must be a constant interval"),
])
def test_date_function_errors_are_starrocks_errors(session: Session, sql: str, message: str) -> None:
    with pytest.raises(CairnError, match=message):
        session.execute(sql)


@pytest.mark.parametrize("sql, message", [
    # test_string_functions/test_ngram_search, test_function/test_time_slice, test_function/test_translate
    ("select ngram_search(\"000073a7-274f-46bf-bfaf-678868cc26cd\",u,4) from t",
     "Getting analyzing error from line 1, column 7 to line 1, column 62. Detail message: ngram_search function 's "
     "second parameter and third parameter must be constant."),
    ("SELECT k,\n  ngram_search_case_insensitive(u, 'ab', k) FROM t",
     "Getting analyzing error from line 2, column 2 to line 2, column 42. Detail message: "
     "ngram_search_case_insensitive function 's second parameter and third parameter must be constant."),
    ("select date_slice('2023-12-31 03:12:04',interval 3.2 year)",
     "Getting analyzing error from line 1, column 7 to line 1, column 57. Detail message: date_slice requires second "
     "parameter must be a constant interval."),
    ("select ngram_search(date('2020-06-23'), \"2020\", 4)",
     "Getting analyzing error from line 1, column 7 to line 1, column 49. Detail message: ngram_search function 's "
     "first parameter and second parameter must be string type."),
    ("SELECT TRANSLATE('abc', 'ab')",
     "Getting analyzing error from line 1, column 7 to line 1, column 28. Detail message: No matching function with "
     "signature: translate(varchar, varchar)."),
])
def test_refused_arguments_are_named_over_the_calls_span(session: Session, sql: str, message: str) -> None:
    with pytest.raises(AnalysisError) as raised:
        session.execute(sql)
    assert raised.value.message == message


def test_unix_timestamp_without_argument_is_now(session: Session) -> None:
    (now,), = session.execute("SELECT unix_timestamp()").rows()
    assert abs(now - datetime.datetime.now(datetime.timezone.utc).timestamp()) < 3600


def test_insert_values_compute_starrocks_functions_as_a_select_does(session: Session) -> None:
    session.execute("CREATE TABLE vf (k BIGINT, s VARCHAR(30), n BIGINT)")
    session.execute("INSERT INTO vf VALUES (unix_timestamp('2020-01-01 01:01:01'), from_unixtime(86400), "
                    "days_diff('2020-03-01', '2020-02-01'))")
    expected = session.execute("SELECT unix_timestamp('2020-01-01 01:01:01'), from_unixtime(86400), "
                               "days_diff('2020-03-01', '2020-02-01')").rows()
    assert session.execute("SELECT k, s, n FROM vf").rows() == expected == [(1577840461, "1970-01-02 00:00:00", 29)]


# StarRocks' aggregate result types: sum of integers is a BIGINT (not DuckDB's HUGEINT, a DECIMAL(38, 0)
# to the client), of a LARGEINT a LARGEINT, of a DECIMAL(p, s) a DECIMAL(38, s); avg of integers a DOUBLE.
AGGREGATE_CASES: list[tuple[str, list[tuple[Any, ...]], list[pa.DataType]]] = [
    ("SELECT sum(i), sum(b), sum(k * 2 + 1), sum(DISTINCT k), count(*), avg(i) FROM t",
     [(4, 30, 15, 6, 3, 2.0)], [pa.int64()] * 5 + [pa.float64()]),
    ("SELECT k, sum(b) FROM t GROUP BY k ORDER BY k",
     [(1, 10), (2, 20), (3, None)], [pa.int32(), pa.int64()]),
    ("SELECT k, sum(i) OVER (ORDER BY k), sum(b) FILTER (WHERE k > 1) OVER () FROM t ORDER BY k",
     [(1, 1, 20), (2, 1, 20), (3, 4, 20)], [pa.int32(), pa.int64(), pa.int64()]),
    ("SELECT x.k, (SELECT sum(y.i) FROM t y WHERE y.k <= x.k) FROM t x ORDER BY x.k",
     [(1, 1), (2, 1), (3, 4)], [pa.int32(), pa.int64()]),
    ("SELECT sum(CAST(k AS LARGEINT)), sum(CAST(k AS DECIMAL(10, 2))), sum(CAST(k AS DOUBLE)) FROM t",
     [(6, decimal.Decimal("6.00"), 6.0)], [pa.decimal128(38, 0), pa.decimal128(38, 2), pa.float64()]),
]


@pytest.mark.parametrize("sql, rows, types", AGGREGATE_CASES, ids=[c[0][:60] for c in AGGREGATE_CASES])
def test_aggregate_result_types_are_starrocks_types(session: Session, sql: str, rows: list[tuple[Any, ...]],
                                                    types: list[pa.DataType]) -> None:
    assert _answer(session, sql) == (rows, types)


def test_result_types_reach_the_client_in_the_column_metadata(local_fe_process: FeProcess) -> None:
    connection = pymysql.connect(host="127.0.0.1", port=local_fe_process.query_port, user="root")
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE m")
            cursor.execute("CREATE TABLE m.t (k INT, v SMALLINT)")
            cursor.execute("INSERT INTO m.t VALUES (1, 2), (2, 3)")
            cursor.execute("SELECT sum(v), avg(v), count(*), days_add('2023-10-31 23:59:59', 1), "
                           "years_diff('2020-01-01', '2019-01-01') FROM m.t")
            assert cursor.fetchone() == (5, 2.5, 2, datetime.datetime(2023, 11, 1, 23, 59, 59), 1)
            codes = [d[1] for d in cursor.description]
            assert codes == [FIELD_TYPE.LONGLONG, FIELD_TYPE.DOUBLE, FIELD_TYPE.LONGLONG, FIELD_TYPE.DATETIME,
                             FIELD_TYPE.LONGLONG]
    finally:
        connection.close()


# (query, StarRocks' rows, the result column types)
STRING_AND_HASH_CASES: list[tuple[str, list[tuple[Any, ...]], list[pa.DataType]]] = [
    # test_function/test_field
    ("SELECT field(1, 1, 1), field('01', '1'), field('01', '1', 1), field('a', 'b', 1), field(NULL, NULL, 1)",
     [(1, 0, 1, 0, 0)], [pa.int32()] * 5),
    ("SELECT k, field(u, 'year', 'month') FROM t ORDER BY field(u, 'year', 'month'), k",
     [(2, 0), (3, 1), (1, 2)], [pa.int32(), pa.int32()]),
    # test_function/test_str_to_map
    ("SELECT str_to_map('a:1,b:2,c'), str_to_map('1', ',', ':'), str_to_map('a=1;b=2', ';', '=')",
     [([("a", "1"), ("b", "2"), ("c", None)], [("1", None)], [("a", "1"), ("b", "2")])],
     [pa.map_(pa.string(), pa.string())] * 3),
    # test_string_functions/test_url_encode, test_url_extract_host
    ("SELECT substring_index('com.mysql.com', '.', 2), substring_index('com.mysql.com', '.', -2), "
     "substring_index('hello world', ' ', -3), substring_index('hello world', ' ', 0)",
     [("com.mysql", "mysql.com", "hello world", "")], [pa.string()] * 4),
    ("SELECT url_extract_host('https://starrocks.快速.com/test/api/v1'), url_extract_host(NULL)",
     [("starrocks.快速.com", None)], [pa.string()] * 2),
    ("SELECT crc32('starrocks'), crc32('STARROCKS'), crc32('中文'), crc32(NULL), crc32('')",
     [(2312449062, 3440849609, 1510599991, None, 0)], [pa.int64()] * 5),
    # StarRocks' function reference: murmur_hash3_32("hello") and ("hello", "world")
    ("SELECT murmur_hash3_32('hello'), murmur_hash3_32('hello', 'world'), murmur_hash3_32(NULL), "
     "murmur_hash3_32(''), murmur_hash3_32('中文abcdefg')",
     [(1321743225, 984713481, None, -965378730, -1962991094)], [pa.int32()] * 5),
    ("SELECT sum(murmur_hash3_32(u)) FROM t", [(2239125099,)], [pa.int64()]),
    # test_string_functions/test_strpos: the n-th occurrence, counted from the end when n < 0
    ("SELECT strpos('abcabc', 'abc', 2), strpos('abcabc', 'abc', 3), strpos('hello world hello', 'hello', -1), "
     "strpos('abc', '', 1), strpos('', 'abc', 1), strpos('abc', 'abc', 0), strpos('abc', 'b', NULL), strpos('abc', 'b')",
     [(4, 0, 13, 1, 0, 0, None, 2)], [pa.int32()] * 8),
    # test_string_functions/test_string_functions: an empty pad cuts; split_part counts back from the end
    ("SELECT lpad('test', 8, ''), lpad('test', 2, ''), rpad('test', 8, ''), lpad('test', 8, '中文，'), rpad('test', 6)",
     [("test", "te", "test", "中文，中test", "test  ")], [pa.string()] * 5),
    ("SELECT split_part('abc##567###234', '##', -1), split_part('abc##567###234', '##', -2), "
     "split_part('abc##567###234', '##', 3), split_part('2023年5月23号', '月', -1)",
     [("234", "567#", "#234", "23号")], [pa.string()] * 4),
    # test_string_functions/test_lower_upper_utf8: Unicode's full case mapping
    ("SELECT upper('straße'), lower('İSTANBUL'), upper('München'), lower('ТЕкСТ'), upper(NULL)",
     [("STRASSE", "i̇stanbul", "MÜNCHEN", "текст", None)], [pa.string()] * 5),
    ("SELECT k, upper(u), lower(upper(w)) FROM t ORDER BY k",
     [(1, "MONTH", "fr"), (2, "QUARTER", "sunday"), (3, "YEAR", None)], [pa.int32(), pa.string(), pa.string()]),
    # test_function/test_regex: a constant regexp_replace of '' is '', of a table's '' is not
    ("SELECT regexp_replace('', '', 'xx'), regexp_replace(s, '', 'xx'), regexp_replace('xxxx', 'xx', '-') "
     "FROM (VALUES ('')) v(s)", [("", "xx", "--")], [pa.string()] * 3),
    # test_function/test_typeof: StarRocks' type names
    ("SELECT typeof(cast(1 as tinyint)), typeof(cast(1 as largeint)), typeof(cast(1 as decimal(19, 2))), "
     "typeof(cast(1 as decimal(9, 2))), typeof(cast(1 as decimal(18, 2))), typeof(cast('s' as binary)), "
     "typeof(cast('2023-03-07 11:22:33' as datetime)), typeof(parse_json('{}')), typeof(null), typeof(cast(1 as string))",
     [("tinyint", "largeint", "decimal128(19, 2)", "decimal32(9, 2)", "decimal64(18, 2)", "varbinary", "datetime",
       "json", "null_type", "varchar")], [pa.string()] * 10),
    ("SELECT typeof(cast(1 as char)), typeof(cast('ab' as char(5))), typeof(cast(1 as varchar))",
     [("char", "char", "varchar")], [pa.string()] * 3),
    ("SELECT typeof(k), typeof(b), typeof(da), typeof([[k]]), typeof(map{k: u}), typeof(struct(k, dt)) FROM t WHERE k = 1",
     [("int", "bigint", "date", "array<array<int>>", "map<int,varchar>", "struct<col1 int, col2 datetime>")],
     [pa.string()] * 6),
    # test_time_fn/test_week_iso, test_to_iso8601
    ("SELECT week_iso('2023-01-01'), week_iso('2023-01-02'), week_iso('')", [(52, 1, None)], [pa.int64()] * 3),
    ("SELECT k, to_iso8601(da), to_iso8601(dt) FROM t ORDER BY k",
     [(1, "2020-02-12", "2023-10-31T23:59:59.000000"), (2, "2021-03-28", "2024-02-29T08:08:14.000000"), (3, None, None)],
     [pa.int32(), pa.string(), pa.string()]),
]


@pytest.mark.parametrize("sql, rows, types", STRING_AND_HASH_CASES, ids=[c[0][:60] for c in STRING_AND_HASH_CASES])
def test_string_and_hash_functions_answer_as_starrocks(session: Session, sql: str, rows: list[tuple[Any, ...]],
                                                       types: list[pa.DataType]) -> None:
    assert _answer(session, sql) == (rows, types)


def test_date_diff_unit_may_be_a_column(session: Session) -> None:
    # test_datetime/test_date_diff_mixed_const_and_non_const: the unit is checked per row.
    assert session.execute("SELECT k, date_diff(u, '2024-06-30', da) FROM t ORDER BY k").rows() == \
        [(1, 52), (2, 13), (3, None)]
    assert session.execute("SELECT date_diff(w, dt, da) FROM t WHERE k = 3").rows() == [(None,)]
    with pytest.raises(CairnError, match="type column should be one of day/hour/minute/second/millisecond"):
        session.execute("SELECT date_diff(w, dt, da) FROM t")


def test_values_columns_corr_and_array_position_answer_as_starrocks(session: Session) -> None:
    # test_agg_function/test_always_null_statistic_funcs: VALUES columns are column_0, ...; corr of
    # one row is NULL, not NaN.
    assert session.execute("WITH w AS (SELECT column_0 AS a, column_1 AS b FROM (VALUES (1, 10)) t) "
                           "SELECT round(corr(a, b), 3), var_samp(a), count(*) FROM w").rows() == [(None, None, 1)]
    assert session.execute("SELECT column_1 FROM (VALUES (1, 'x'), (2, 'y')) t ORDER BY column_0").rows() == \
        [("x",), ("y",)]
    # test_array_fn/test_array_contains_with_const: 0 when absent, NULL elements found by NULL.
    assert session.execute("SELECT array_position([1,2,3,4], 1), array_position([1,2,3,4], NULL), "
                           "array_position([1,2,3,NULL], NULL), array_position(NULL, NULL)").rows() == [(1, 0, 4, None)]


def test_array_map_over_a_null_array_is_null(session: Session) -> None:
    # test_array_fn/test_array_map_3: with several arrays, one NULL array makes the answer NULL.
    assert session.execute("SELECT array_map((x, y) -> x + y, [1, 2], CAST(NULL AS ARRAY<INT>)), array_map((x, y) -> x + y, [1, 2], "
                           "[3, NULL])").rows() == [(None, [4, None])]


def test_a_failed_cast_of_a_literal_is_null(session: Session) -> None:
    # test_cast/test_cast_string_to_int.
    assert session.execute("SELECT CAST('-' AS TINYINT), CAST('+' AS LARGEINT), CAST('x' AS DATE), "
                           "CAST('2023-01-01' AS DATE), CAST(-1 AS INT)").rows() == \
        [(None, None, None, D(2023, 1, 1), -1)]


def test_array_contains_all_finds_null_elements_only_where_there_are_some(session: Session) -> None:
    # test_array_fn/test_array_contains_all_and_seq.
    assert session.execute("SELECT array_contains_all([1, 2, 3, 4], [1, 2, 3]), array_contains_all([1, 2, 3, 4], "
                           "[1, 2, NULL]), array_contains_all([1, NULL], [NULL]), array_contains_all([1], []), "
                           "array_contains_all(NULL, [1])").rows() == [(True, False, True, True, None)]


def test_map_agg_leaves_out_null_keys(session: Session) -> None:
    # test_agg_function/test_map_agg.
    assert session.execute("SELECT map_size(map_agg(i, k)), map_agg(i, k)[3], map_agg(b, k)[20] FROM t").rows() == \
        [(2, 3, 2)]
    assert session.execute("SELECT k, map_agg(i, b) FROM t WHERE k = 2 GROUP BY k").rows() == [(2, [])]


def test_array_unique_agg_is_the_distinct_elements_of_the_arrays(session: Session) -> None:
    # test_agg_function/testArrayUniqueAgg.
    assert session.execute("SELECT g, array_unique_agg(a) FROM (VALUES (1, ['a', 'a']), (1, ['a']), (2, ['1']), "
                           "(3, CAST(NULL AS ARRAY<VARCHAR>))) v(g, a) GROUP BY g ORDER BY g").rows() == \
        [(1, ["a"]), (2, ["1"]), (3, None)]


def test_decimal_scale_beyond_38_is_refused_unless_literals_are_doubles(session: Session) -> None:
    # test_number/test_sr_8425: StarRocks refuses the product's DECIMAL type; under sql_mode
    # MODE_DOUBLE_LITERAL the literals are DOUBLEs and it is computed.
    product = "SELECT 601070.968843214312543654*8.54914236*0.4790000000019*0.98901*18727.790683412432141"
    with pytest.raises(AnalysisError, match=r"Return scale\(39\) exceeds maximum value\(38\), please cast decimal "
                                            r"type to low-precision one\."):
        session.execute(product)
    session.execute("SET sql_mode = 'MODE_DOUBLE_LITERAL,ONLY_FULL_GROUP_BY'")
    try:
        assert _answer(session, product) == ([(45590152444.36925,)], [pa.float64()])
        assert _answer(session, "SELECT 1.5 + 1, 2 * 3, 1e2") == ([(2.5, 6, 100.0)], [pa.float64(), pa.int32(), pa.float64()])
    finally:
        session.execute("SET sql_mode = 'ONLY_FULL_GROUP_BY'")
    assert _answer(session, "SELECT 1.5 + 1") == ([(decimal.Decimal("2.5"),)], [pa.decimal128(12, 1)])


# `/` with a DECIMAL operand is StarRocks' DECIMAL division: DECIMAL(38, s) where s is the dividend's
# scale + 6 up to 6, 12 up to 12, else its scale; rounded half away from zero; NULL for a division by
# zero or a dividend that leaves 128 bits once scaled (test_number/test_sr_9663).
DECIMAL_DIVISION_CASES: list[tuple[str, list[tuple[Any, ...]], list[pa.DataType]]] = [
    ("SELECT -2516.460439/1673.37", [(decimal.Decimal("-1.503827867716"),)], [pa.decimal128(38, 12)]),
    ("SELECT 2.5/2, -2.5/3, 7/1.5, 1.5/0", [(decimal.Decimal("1.2500000"), decimal.Decimal("-0.8333333"),
                                          decimal.Decimal("4.666667"), None)], [pa.decimal128(38, 7)] * 2 +
     [pa.decimal128(38, 6), pa.decimal128(38, 7)]),
    ("SELECT 1.5/2.5/3", [(decimal.Decimal("0.200000000000"),)], [pa.decimal128(38, 12)]),
    # + - * of DECIMALs and integers keep StarRocks' scales: the larger for + and -, the sum for *.
    ("SELECT (1.25 - k) / 3, -(0.5 * 0.5) / k, (k + 1) / 2.0 FROM t WHERE k = 2",
     [(decimal.Decimal("-0.25000000"), decimal.Decimal("-0.12500000"), decimal.Decimal("1.500000"))],
     [pa.decimal128(38, 8), pa.decimal128(38, 8), pa.decimal128(38, 6)]),
    ("SELECT x / CAST(3 AS DECIMAL(38, 18)), x / CAST(3 AS DECIMAL(38, 1)) FROM "
     "(SELECT CAST(k * 1000 AS DECIMAL(38, 18)) x FROM t WHERE k = 1) s",
     [(None, decimal.Decimal("333.333333333333333333"))], [pa.decimal128(38, 18)] * 2),
    ("SELECT k, sum(CAST(b AS DECIMAL(10, 2))) / count(*) FROM t GROUP BY k ORDER BY k",
     [(1, decimal.Decimal("10.00000000")), (2, decimal.Decimal("20.00000000")), (3, None)],
     [pa.int32(), pa.decimal128(38, 8)]),
    # A DOUBLE operand makes it a DOUBLE division, as in StarRocks.
    ("SELECT 1.5 / CAST(3 AS DOUBLE), 1 / 4", [(0.5, 0.25)], [pa.float64(), pa.float64()]),
]


@pytest.mark.parametrize("sql, rows, types", DECIMAL_DIVISION_CASES, ids=[c[0][:60] for c in DECIMAL_DIVISION_CASES])
def test_decimal_division_is_starrocks_decimal_division(session: Session, sql: str, rows: list[tuple[Any, ...]],
                                                        types: list[pa.DataType]) -> None:
    assert _answer(session, sql) == (rows, types)


def test_decimal_division_beyond_scale_38_is_refused_and_its_overflow_may_fail(session: Session) -> None:
    with pytest.raises(AnalysisError, match=r"Dividend fails to adjust scale to 40 that exceeds maximum value\(38\)"):
        session.execute("SELECT CAST(1 AS DECIMAL(38, 20)) / CAST(1 AS DECIMAL(38, 20))")
    overflowing = "SELECT CAST(2516.46 AS DECIMAL(38, 18)) / CAST(1673.37 AS DECIMAL(38, 18))"
    assert session.execute(overflowing).rows() == [(None,)]
    with pytest.raises(CairnError, match="The 'div' operation involving decimal values overflows"):
        session.execute(overflowing.replace("SELECT", "SELECT /*+ SET_VAR(sql_mode='ERROR_IF_OVERFLOW') */"))
    session.execute("SET sql_mode = 'ERROR_IF_OVERFLOW'")
    try:
        with pytest.raises(CairnError, match="The 'div' operation involving decimal values overflows"):
            session.execute(overflowing)
    finally:
        session.execute("SET sql_mode = 'ONLY_FULL_GROUP_BY'")


def test_dates_of_year_0_are_stored_and_read(session: Session) -> None:
    # test_time_fn/test_previous_day: StarRocks' DATE and DATETIME start at 0000-01-01. A column
    # holding such a value comes as text (Python's dates start at year 1).
    session.execute("CREATE TABLE y0 (d DATE, w VARCHAR(10), dt DATETIME)")
    session.execute("INSERT INTO y0 VALUES ('0000-01-01', 'Sun', '0000-01-01 10:00:00'), "
                    "('2020-01-01', 'Mon', '2020-01-01 00:00:00')")
    assert session.execute("SELECT d, previous_day(d, w), dt FROM y0 ORDER BY d").rows() == \
        [("0000-01-01", None, "0000-01-01 10:00:00"), ("2020-01-01", D(2019, 12, 30), "2020-01-01 00:00:00")]
    assert session.execute("SELECT count(*) FROM y0 WHERE d < '0001-01-01'").rows() == [(1,)]


def test_a_floating_column_cast_to_an_integer_drops_the_fraction_and_is_null_out_of_range(session: Session) -> None:
    # test_function/test_cast's test_cast_floating_to_intergal.
    session.execute("CREATE TABLE fl (k INT, d DOUBLE, f FLOAT)")
    session.execute("INSERT INTO fl VALUES (1, 9223372036854775000.0, 2147483000.0), (2, 9223372036854775807.0, "
                    "2147483647.0), (3, -9223372036854775808.0, -2147483648.0), (4, 0.9, -0.9), (5, 129, -129), "
                    "(6, NULL, NULL)")
    assert _answer(session, "SELECT k, cast(d AS BIGINT), cast(f AS INT), cast(d AS TINYINT), cast(-f AS SMALLINT), "
                            "cast(d AS LARGEINT) FROM fl ORDER BY k") == (
        [(1, 9223372036854774784, 2147483008, None, None, 9223372036854774784),
         (2, None, None, None, None, 9223372036854775808),
         (3, -9223372036854775808, -2147483648, None, None, -9223372036854775808),
         (4, 0, 0, 0, 0, 0), (5, 129, -129, None, 129, 129), (6, None, None, None, None, None)],
        [pa.int32(), pa.int64(), pa.int32(), pa.int8(), pa.int16(), pa.decimal128(38, 0)])


def test_regexp_count_of_an_invalid_pattern(session: Session) -> None:
    # test_function/test_regex's test_regexp_count_invalid: NULL for a pattern from a column, an
    # error for a literal one.
    assert session.execute("SELECT s, regexp_count(s, r) FROM (VALUES ('abc123def456', '[0-9'), ('valid test', 'valid'), "
                           "('x', NULL)) v(s, r) ORDER BY s").rows() == \
        [("abc123def456", None), ("valid test", 1), ("x", None)]
    assert session.execute("SELECT regexp_count('a1b2', '[0-9]'), regexp_count(NULL, '[0-9'), "
                           "regexp_count('test', 'a{,}')").rows() == [(2, None, 0)]
    with pytest.raises(CairnError, match=r"Invalid regex expression: \(unclosed"):
        session.execute("SELECT regexp_count('test string', '(unclosed')")


def test_substr_positions_are_ints(session: Session) -> None:
    # test_function/test_substr: a literal beyond INT is an analyzing error, a value beyond it NULL.
    with pytest.raises(AnalysisError, match=r"Cast argument -9223372036854775807 to int type failed\."):
        session.execute("SELECT substr('', -9223372036854775807, 465254298)")
    with pytest.raises(AnalysisError, match=r"Cast argument 9223372036854775807 to int type failed\."):
        session.execute("SELECT substring('abc', 9223372036854775807)")
    assert session.execute("SELECT k, substr('STARROCKS', b * 1000000000, k), substr('STARROCKS', k + 1, k), "
                           "substring('STARROCKS', -2) FROM t ORDER BY k").rows() == \
        [(1, None, "T", "KS"), (2, None, "AR", "KS"), (3, None, "RRO", "KS")]


def test_ngram_search_is_the_share_of_the_needles_grams_found(session: Session) -> None:
    # test_string_functions/test_ngram_search: computed in FLOAT, answered as a DOUBLE.
    assert _answer(session, "SELECT ngram_search('chinese', 'china', 4), ngram_search('chinese', 'CHINESE', 4), "
                            "ngram_search_case_insensitive('chinese', 'CHINESE', 4), ngram_search('chi', 'chi', 4), "
                            "ngram_search('', '', 4), ngram_search(NULL, 'abc', 2)") == \
        ([(0.5, 0.0, 1.0, 0.0, 0.0, None)], [pa.float64()] * 6)
    assert session.execute("SELECT ngram_search(s, '000073a7-274f-46bf-bfaf-678868cc26cd', 4) AS a FROM (VALUES "
                           "('000073a7-274f-46bf-bfaf-678868cc26cd'), ('e6249ba1-5b54-46bf-bfaf-89d69094b757')) v(s) "
                           "ORDER BY a").rows() == [(0.24242424964904785,), (1.0,)]
    for sql, message in [("SELECT ngram_search('chi', 'chi', 0)", "third parameter must be a positive number"),
                         ("SELECT ngram_search('chi', u, 2) FROM t", "second parameter and third parameter must be constant")]:
        with pytest.raises(AnalysisError, match=message):
            session.execute(sql)
