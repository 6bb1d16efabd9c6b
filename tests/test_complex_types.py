"""StarRocks' ARRAY, MAP, STRUCT and JSON semantics over the MySQL protocol, table-driven: each
answer is StarRocks' own (from its SQL test cases under test/sql), with the MySQL type code the
client sees, and the errors StarRocks gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from pymysql.constants import FIELD_TYPE

from fe_process import FeProcess, module_fe  # noqa: F401  (module_fe is the `fe` fixture)
from sql_client import error_of, fresh_database, rows

_JSON_ROWS = """INSERT INTO j VALUES
    (1, parse_json('{"a": true,  "b": 1,  "c": "qwe",     "d": 1210.010, "e": [1, 2]}')),
    (2, parse_json('{"a": false, "b": 2,  "c": "234.234", "d": 0.000,    "e": null}')),
    (3, parse_json('{"a": 3,     "b": 0,  "c": "1233",    "d": -1.123,   "e": "0.000"}')),
    (4, parse_json('{"a": 0,     "b": -1, "c": "true",    "d": 2.7,      "e": {"x": 1}}')),
    (5, parse_json('{"a": 6,     "b": 9,  "c": "0",       "d": 9,        "e": true}'))"""


@pytest.fixture(scope="module")
def cur(fe: FeProcess) -> Iterator[pymysql.cursors.Cursor]:
    """A cursor in a database holding the JSON table j and the ARRAY table a."""
    with fresh_database(fe, "complex") as (_, cursor):
        cursor.execute("CREATE TABLE j (k INT, j1 JSON) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
        cursor.execute(_JSON_ROWS)
        cursor.execute("CREATE TABLE a (k INT, a1 ARRAY<INT>) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
        cursor.execute("INSERT INTO a VALUES (1, [1, 1, 2, 3]), (2, [null, null, 1, 2]), (3, NULL), (4, [])")
        cursor.execute("CREATE TABLE s (k INT, a2 ARRAY<STRUCT<a INT, b INT>>, st STRUCT<C2_SUB1 INT, c2_sub2 INT>) "
                       "DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
        cursor.execute("INSERT INTO s VALUES (1, [row(1, 13), row(2, 14)], row(5, 6)), (2, [row(3, 15)], row(7, 8))")
        yield cursor


def _column(cur: pymysql.cursors.Cursor, sql: str) -> tuple[list[Any], int]:
    """The first column's values and its MySQL type code."""
    answer = rows(cur, sql)
    return [r[0] for r in answer], cur.description[0][1]


# (query, StarRocks' values of its only column, the MySQL type code) — test_semi/test_flat_json_with_type.
CASES: list[tuple[str, list[Any], int]] = [
    # get_json_bool: a number is true when not 0; a string holding an integer, 'true' or 'false' is read.
    ("SELECT get_json_bool(j1, 'a') FROM j ORDER BY k", [1, 0, 1, 0, 1], FIELD_TYPE.TINY),
    ("SELECT get_json_bool(j1, 'd') FROM j ORDER BY k", [1, 0, 1, 1, 1], FIELD_TYPE.TINY),
    ("SELECT get_json_bool(j1, 'c') FROM j ORDER BY k", [None, None, 1, 1, 0], FIELD_TYPE.TINY),
    ("SELECT get_json_bool(j1, 'e') FROM j ORDER BY k", [None, None, None, None, 1], FIELD_TYPE.TINY),
    # get_json_int truncates a double, reads a boolean as 1 / 0 and an integer's text only.
    ("SELECT get_json_int(j1, 'd') FROM j ORDER BY k", [1210, 0, -1, 2, 9], FIELD_TYPE.LONGLONG),
    ("SELECT get_json_int(j1, 'a') FROM j ORDER BY k", [1, 0, 3, 0, 6], FIELD_TYPE.LONGLONG),
    ("SELECT get_json_int(j1, '$.c') FROM j ORDER BY k", [None, None, 1233, None, 0], FIELD_TYPE.LONGLONG),
    ("SELECT get_json_double(j1, 'c') FROM j ORDER BY k", [None, 234.234, 1233.0, None, 0.0], FIELD_TYPE.DOUBLE),
    ("SELECT get_json_double(j1, 'a') FROM j ORDER BY k", [1.0, 0.0, 3.0, 0.0, 6.0], FIELD_TYPE.DOUBLE),
    # `->` answers JSON: a JSON null prints null, a whole double prints without its fraction ...
    ("SELECT j1->'e' FROM j ORDER BY k", ["[1, 2]", "null", '"0.000"', '{"x": 1}', "true"], FIELD_TYPE.VAR_STRING),
    ("SELECT j1->'d' FROM j ORDER BY k", ["1210.01", "0", "-1.123", "2.7", "9"], FIELD_TYPE.VAR_STRING),
    # ... while IS NULL finds a JSON null and a missing path alike (test_json/null).
    ("SELECT j1->'e' IS NULL FROM j ORDER BY k", [0, 1, 0, 0, 0], FIELD_TYPE.TINY),
    ("SELECT j1->'zz' IS NULL FROM j ORDER BY k", [1, 1, 1, 1, 1], FIELD_TYPE.TINY),
    # element_at: a map's value by key (test_map testMapTopN), an array's element by position.
    ("SELECT element_at(map{'a': 1, 'b': 2}, 'a')", [1], FIELD_TYPE.LONG),
    ("SELECT element_at(map{'a': 1, 'b': 2}, 'z')", [None], FIELD_TYPE.LONG),
    ("SELECT element_at(a1, 2) FROM a ORDER BY k", [1, None, None, None], FIELD_TYPE.LONG),
    # array_contains_seq (test_array_fn/test_array_contains): contiguous, in order, NULLs match NULLs.
    ("SELECT array_contains_seq(a1, [1, 2]) FROM a ORDER BY k", [1, 1, None, 0], FIELD_TYPE.TINY),
    ("SELECT array_contains_seq(a1, [null, 1, 2]) FROM a ORDER BY k", [0, 1, None, 0], FIELD_TYPE.TINY),
    ("SELECT array_contains_seq(a1, []) FROM a ORDER BY k", [1, 1, None, 1], FIELD_TYPE.TINY),
    ("SELECT array_contains_seq([1, 1, 2, 3], [1, 3])", [0], FIELD_TYPE.TINY),
    ("SELECT array_contains_seq(a1, NULL) FROM a ORDER BY k", [None, None, None, None], FIELD_TYPE.TINY),
    # A path StarRocks cannot read finds nothing (test_flat_json: `$13`).
    ("SELECT get_json_double(j1, '$13') FROM j WHERE k = 1", [None], FIELD_TYPE.DOUBLE),
    ("SELECT json_exists(j1, '$13') FROM j WHERE k = 1", [0], FIELD_TYPE.TINY),
    ("SELECT json_length(j1, '$13') FROM j WHERE k = 1", [0], FIELD_TYPE.LONG),
    # get_json_string of an object or array is its JSON text as StarRocks prints it (test_flat_json).
    ("SELECT get_json_string(j1, 'e') FROM j ORDER BY k", ["[1, 2]", None, "0.000", '{"x": 1}', "true"],
     FIELD_TYPE.VAR_STRING),
    ("SELECT get_json_string(j1, 'd') FROM j ORDER BY k", ["1210.01", "0", "-1.123", "2.7", "9"], FIELD_TYPE.VAR_STRING),
    ("SELECT get_json_string(parse_json('{\"k\": [1, {\"a\": \"x, y\"}]}'), '$')", ['{"k": [1, {"a": "x, y"}]}'],
     FIELD_TYPE.VAR_STRING),
    # json_length: elements, members, 1 for another value (null too), 0 for a missing path.
    ("SELECT json_length(j1, 'e') FROM j ORDER BY k", [2, 1, 1, 1, 1], FIELD_TYPE.LONG),
    ("SELECT json_length(j1, 'zz') + json_length(j1) FROM j ORDER BY k", [5, 5, 5, 5, 5], FIELD_TYPE.LONG),
    # A row meets a STRUCT by position (test_prune), a struct's [n] is its n-th field (test_struct).
    ("SELECT a2[1].a FROM s WHERE a2[1] = row(1, 13)", [1], FIELD_TYPE.LONG),
    ("SELECT k FROM s WHERE st IN (row(7, 8), row(9, 9))", [2], FIELD_TYPE.LONG),
    ("SELECT named_struct('a', 5, 'b', 'x')[2]", ["x"], FIELD_TYPE.VAR_STRING),
    ("SELECT k FROM s WHERE array_contains_all(a2, [row(2, 14)]) AND array_contains(a2, row(1, 13))", [1],
     FIELD_TYPE.LONG),
    ("SELECT array_map((x, y, z) -> x + y + z, [1, 2], [3, null], [5, 6]), array_map((x, y) -> x, a1, a1) FROM a "
     "WHERE k = 3", ["[9,null]"], FIELD_TYPE.VAR_STRING),
    # db.table.column.field, struct fields in any case (test_uppercase).
    ("SELECT {db}.s.ST.C2_SUB2 FROM s ORDER BY k", [6, 8], FIELD_TYPE.LONG),
    ("SELECT {db}.s.st.c2_sub1 FROM s ORDER BY k", [5, 7], FIELD_TYPE.LONG),
    # A BOOLEAN in arithmetic is 1 or 0 (test_array_map_3).
    ("SELECT array_map(x -> x + any_match(array_map(y -> y < 2, a1)), a1) FROM a WHERE k = 1", ["[2,2,3,4]"],
     FIELD_TYPE.VAR_STRING),
    # A lambda that ignores its element (evaluated once per row), one whose inner lambda shadows it,
    # and split of a number's text (test_array_map_2).
    ("SELECT array_map(x -> array_length(a1), a1) FROM a ORDER BY k", ["[4,4,4,4]", "[4,4,4,4]", None, "[]"],
     FIELD_TYPE.VAR_STRING),
    ("SELECT any_match(x -> any_match(x -> x > 2, a1), a1) FROM a WHERE k < 3 ORDER BY k", [1, None], FIELD_TYPE.TINY),
    ("SELECT array_map(x -> concat(split(k, 'd'), ['x']), a1) FROM a WHERE k = 1", ['[["1","x"],["1","x"],["1","x"],["1","x"]]'],
     FIELD_TYPE.VAR_STRING),
    # array_sortby: a NULL list of keys orders nothing (test_array_sortby_1).
    ("SELECT array_sortby([9, 10, 11], NULL, ['k', 'k', 'j'])", ["[11,9,10]"], FIELD_TYPE.VAR_STRING),
    # arrays_overlap: a NULL element overlaps a NULL one (test_arrays_overlap_constant_columns).
    ("SELECT arrays_overlap(ifnull(a1, [null]), [5, null]) FROM a ORDER BY k", [0, 1, 1, 0], FIELD_TYPE.TINY),
    ("SELECT arrays_overlap([1, null], [4, 3])", [0], FIELD_TYPE.TINY),
    # JSON cast to a STRUCT fills it by position from an array, by name from an object; a value of
    # another shape is NULL (test_cast_json_to_struct, test_cast_json_to_map).
    ("SELECT cast(parse_json('[1, 2, \"a\"]') AS struct<c1 int, c2 int, c3 int, c4 int>)",
     ['{"c1":1,"c2":2,"c3":null,"c4":null}'], FIELD_TYPE.VAR_STRING),
    ("SELECT cast(parse_json('{\"s\": \"r\", \"n\": [1, 2]}') AS struct<n array<int>, s varchar, z int>)",
     ['{"n":[1,2],"s":"r","z":null}'], FIELD_TYPE.VAR_STRING),
    ("SELECT cast(j1 AS map<varchar, varchar>) FROM j ORDER BY k LIMIT 1",
     ['{"a":"true","b":"1","c":"qwe","d":"1210.01","e":"[1, 2]"}'], FIELD_TYPE.VAR_STRING),
    ("SELECT cast(j1->'e' AS struct<x int, y int>) FROM j ORDER BY k",
     ['{"x":1,"y":2}', None, None, '{"x":1,"y":null}', None], FIELD_TYPE.VAR_STRING),
    # named_struct cast to a STRUCT fills its fields by position (test_struct).
    ("SELECT cast(named_struct('1', 1, '2', 2) AS STRUCT<a double, b string>)", ['{"a":1,"b":"2"}'],
     FIELD_TYPE.VAR_STRING),
    # A map literal's NULL key is found by a NULL key (test_map testMapTopN); to_json of such a map is
    # NULL unless sql_mode has ALLOW_THROW_EXCEPTION (test_json test_to_json).
    ("SELECT map{null: 'a', 2: 'b'}[null]", ["a"], FIELD_TYPE.VAR_STRING),
    ("SELECT element_at(map(null, 1, 3, 4), k) FROM a ORDER BY k", [None, None, 4, None], FIELD_TYPE.LONG),
    ("SELECT to_json(map{null: 1})", [None], FIELD_TYPE.VAR_STRING),
    # Join hints choose a distribution, never the answer (test_array_map, test_struct).
    ("SELECT x.k FROM a x JOIN [broadcast] a y ON x.k = y.k ORDER BY x.k", [1, 2, 3, 4], FIELD_TYPE.LONG),
    ("SELECT x.k FROM a x LEFT JOIN [shuffle] a y ON x.k = y.k + 1 WHERE y.k IS NULL", [1], FIELD_TYPE.LONG),
    # An array literal of strings and numbers holds strings (test_array_sortby_2).
    ("SELECT ['a', 1, null, -2.5]", ['["a","1",null,"-2.5"]'], FIELD_TYPE.VAR_STRING),
    ("SELECT ['x', 1][2]", ['1'], FIELD_TYPE.VAR_STRING),
]


@pytest.mark.parametrize("sql, values, code", CASES, ids=[c[0][:70] for c in CASES])
def test_answers_and_types_are_starrocks(cur: pymysql.cursors.Cursor, sql: str, values: list[Any], code: int) -> None:
    (database,), = rows(cur, "SELECT database()")
    assert _column(cur, sql.replace("{db}", database)) == (values, code)


def test_user_variables_hold_arrays_and_maps(cur: pymysql.cursors.Cursor) -> None:
    # test_array_fn/test_array_contains and test_array_map_2: a variable holding a large array is
    # read by functions, lambdas and element access; test_array/test_cast_array: @v[1].
    cur.execute("SET @arr = array_generate(100000)")
    cur.execute("SET @m = map{'a': 1, 'b': 2}")
    cur.execute("SET @s = named_struct('x', 1, 'y', 'two')")
    cur.execute("SET @arr2x = [10, 20, 30, 40]")
    assert rows(cur, "SELECT sum(array_contains(@arr, k)), sum(array_position(@arr, k)) FROM a") == [(4, 10)]
    assert rows(cur, "SELECT array_length(array_map((x, y) -> x > y, @arr, @arr)), @arr[3], "
                     "array_contains_seq(@arr, [5, 6])") == [(100000, 3, 1)]
    assert rows(cur, "SELECT array_map(x -> x + @arr[2], a1) FROM a WHERE k = 1") == [("[3,3,4,5]",)]
    assert rows(cur, "SELECT array_map((x, y) -> x + y, @arr2x, a1) FROM a WHERE k = 1") == [("[11,21,32,43]",)]
    assert rows(cur, "SELECT sum(array_contains(@arr, k * 1000)), sum(array_contains(array_append(@arr, null), null)) "
                     "FROM a") == [(4, 4)]
    assert rows(cur, "SELECT @m['b'], element_at(@m, 'a'), @s.y, @m") == [(2, 1, "two", '{"a":1,"b":2}')]
    # A variable keeps its value: setting one from another copies it.
    cur.execute("SET @arr2 = array_slice(@arr, 1, 3)")
    cur.execute("SET @arr = [7]")
    assert rows(cur, "SELECT @arr2, @arr") == [("[1,2,3]", "[7]")]


def test_insert_select_casts_structs_by_position(cur: pymysql.cursors.Cursor) -> None:
    # test_semi/test_semi_cast: `struct(idx, idx + 1)` (fields col1, col2) into a STRUCT<k1, k2>.
    cur.execute("CREATE TABLE st (k INT, s STRUCT<k1 INT, k2 VARCHAR(5)>) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    cur.execute("INSERT INTO st SELECT k, struct(k, concat('v', k)) FROM a WHERE k < 3")
    cur.execute("INSERT INTO st SELECT 3, NULL")
    cur.execute("INSERT INTO st SELECT 4, named_struct('a', 9, 'b', 'w')")
    assert rows(cur, "SELECT k, s FROM st ORDER BY k") == [
        (1, '{"k1":1,"k2":"v1"}'), (2, '{"k1":2,"k2":"v2"}'), (3, None), (4, '{"k1":9,"k2":"w"}')]


def test_flat_json_properties_are_accepted(cur: pymysql.cursors.Cursor) -> None:
    # test_semi/test_flat_json_with_properties: how StarRocks lays JSON out on disk.
    cur.execute("""CREATE TABLE fj (k INT, j JSON) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1
                   PROPERTIES ("flat_json.enable" = "true", "flat_json.null.factor" = "0.2",
                               "flat_json.sparsity.factor" = "0.2", "flat_json.column.max" = "120")""")
    cur.execute("""INSERT INTO fj VALUES (1, parse_json('{"a": 1}'))""")
    assert rows(cur, "SELECT get_json_int(j, 'a') FROM fj") == [(1,)]


@pytest.mark.parametrize("sql, code, message", [
    # test_semi/test_any_value
    ("SELECT any_value(DISTINCT k) FROM a", 1064, "Getting syntax error at line 1, column 18"),
    ("SELECT any_value(k) OVER (PARTITION BY k) FROM a", 1064, "any_value is not supported with OVER clause"),
    ("SELECT array_map((x, y) -> x + y, [1, 2], a1) FROM a WHERE k = 1", 1366,
     "Input array element's size is not equal in array_map()"),
    ("SELECT cast(named_struct('a', 1) AS STRUCT<a int, b int>)", 1064,
     "Cannot cast 'named_struct('a', 1)' to struct<a int, b int>."),
    ("SELECT /*+ SET_VAR(sql_mode='ALLOW_THROW_EXCEPTION') */ to_json(map{null: 1})", 1366,
     "key of Map should not be null"),
    ("SELECT map{null: 1}", 1366, "Map keys can not be NULL."),
    # A MAP's key is a scalar (test_map testEmptyMap): the innermost offending call, over its span.
    ("SELECT map_concat(map(), map(map(), map()))", 1064, "Getting analyzing error from line 1, column 25 to "
     "line 1, column 41. Detail message: Map key don't supported type: MAP<NULL_TYPE,NULL_TYPE>."),
    ("SELECT map(named_struct('1', 2), named_struct('A', [map([], [1])]))", 1064, "Getting analyzing error from "
     "line 1, column 52 to line 1, column 63. Detail message: Map key don't supported type: ARRAY<NULL_TYPE>."),
    ("SELECT map(named_struct('1', 2), 1)", 1064, "Map key don't supported type: struct<1 tinyint(4)>."),
    ("SELECT x.k FROM a x JOIN [fastest] a y ON x.k = y.k", 1064,
     "Getting analyzing error. Detail message: JOIN hint not recognized: FASTEST."),
    # A scalar where an array function takes arrays (test_array_contains, test_arrays_overlap).
    ("SELECT array_contains_seq(['abc'],'a')", 1064, "Getting analyzing error from line 1, column 7 to line 1, "
     "column 37. Detail message: 2-th input of array_contains_seq should be an array, rather than varchar."),
    ("SELECT k,\n  arrays_overlap(a1, -10) FROM a", 1064, "Getting analyzing error from line 2, column 2 to line 2, "
     "column 24. Detail message: 2-th input of arrays_overlap should be an array, rather than tinyint(4)."),
    ("SELECT array_contains_all(70000, a1) FROM a", 1064,
     "1-th input of array_contains_all should be an array, rather than int(11)."),
    ("SELECT array_sortby([1, 2], ['a', 'b', 1])", 1366, "Input arrays' size are not equal in array_sortby."),
    # test_array_flatten: an array of no arrays, directly or sliced.
    ("SELECT array_flatten(a1) FROM a", 1064, "Getting analyzing error from line 1, column 7 to line 1, column 23. "
     "Detail message: The only one input of array_flatten should be an array of arrays, rather than array<int(11)>."),
    ("SELECT array_flatten(array_slice(a1, 1, 2)) FROM a", 1064,
     "The only one input of array_flatten should be an array of arrays, rather than array<int(11)>."),
    ("SELECT array_agg(  ORDER BY k) FROM a", 1064, "Getting syntax error at line 1, column 16. Detail message: "
     "Unexpected input '(', the most similar input is {<EOF>, ';'}."),
    # A statement that ends before its last tokens (test_array_contains_all_type).
    ("SELECT k FROM a ORDER BY kSELECT k", 1064, "Getting syntax error at line 1, column 33. Detail message: "
     "Unexpected input 'k', the most similar input is {<EOF>, ';'}."),
])
def test_errors_are_starrocks_errors(cur: pymysql.cursors.Cursor, sql: str, code: int, message: str) -> None:
    got_code, got_message = error_of(cur, sql)
    assert got_code == code and message in got_message
