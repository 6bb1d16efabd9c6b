"""StarRocks column types over the MySQL protocol: ARRAY, MAP, STRUCT, JSON, DECIMAL spellings,
VARBINARY and LARGEINT(n): CREATE TABLE, INSERT with StarRocks literals, SELECT in StarRocks' text
form, element access, DESC / SHOW CREATE TABLE / information_schema, the forms still refused,
Stream Load's refusal, and a restore that keeps every family."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pymysql
import pytest

from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.restore.plan import plan_restore
from cairn.restore.restorer import restore
from cairn.restore.snapshot_yaml import read_snapshot_yaml
from cairn.server.session import Session
from conftest import cluster_conf_values
from fe_process import FeProcess, module_fe  # noqa: F401  (module_fe is the `fe` fixture)
from test_restore import snapshot_yaml
from test_compute_nodes import _start_cluster, _stop
from test_stream_load import put
from sql_client import error_of, fresh_database, rows


@pytest.fixture
def cur(fe: FeProcess) -> Iterator[pymysql.cursors.Cursor]:
    """A cursor in a fresh database, as root."""
    with fresh_database(fe, "types") as (_, cursor):
        yield cursor


def _desc(cur: pymysql.cursors.Cursor, table: str) -> dict[str, str]:
    return {r[0]: r[1] for r in rows(cur, f"DESC {table}")}


def test_array(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE t (id INT, a ARRAY<INT>, s ARRAY<VARCHAR(10)>, n ARRAY<ARRAY<BIGINT(20)>>, "
                "d ARRAY<DECIMALV2(10,2)>) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1")
    assert _desc(cur, "t") == {"id": "int", "a": "array<int(11)>", "s": "array<varchar(10)>",
                               "n": "array<array<bigint(20)>>", "d": "array<decimal(10,2)>"}
    cur.execute("INSERT INTO t VALUES (1, [1,2,3], ['abc', NULL], [[1],[2,3]], [1.5]), "
                "(2, '[4]', [], [], NULL), (3, NULL, NULL, NULL, NULL)")
    assert rows(cur, "SELECT a, s, n, d FROM t ORDER BY id") == [
        ("[1,2,3]", '["abc",null]', "[[1],[2,3]]", "[1.50]"), ("[4]", "[]", "[]", None), (None, None, None, None)]
    # 1-based element access; out of range is NULL, as in StarRocks.
    assert rows(cur, "SELECT a[1], a[3], a[4], s[1], n[2][2] FROM t WHERE id = 1") == [(1, 3, None, "abc", 3)]
    assert rows(cur, "SELECT array_length(a), array_contains(a, 2), cardinality(a), arrays_overlap(a, [3, 9]), "
                     "array_map(x -> x * 2, a) FROM t WHERE id = 1") == [(3, 1, 3, 1, "[2,4,6]")]
    ddl = rows(cur, "SHOW CREATE TABLE t")[0][1]
    assert "`a` array<int(11)> NULL" in ddl
    # SHOW CREATE TABLE's answer makes the same table again.
    cur.execute("DROP TABLE t")
    cur.execute(ddl)
    assert rows(cur, "SHOW CREATE TABLE t")[0][1] == ddl
    cur.execute("INSERT INTO t VALUES (1, [1,2,3], ['abc', NULL], [[1],[2,3]], [1.5])")
    assert rows(cur, "SELECT array_remove(a, 2), array_remove(s, 'abc') FROM t") == [("[1,3]", "[null]")]
    assert rows(cur, "SELECT array_generate(3), array_generate(3, 1), array_generate(1, 5, 2), array_repeat(a, 2), "
                     "array_contains_all(a, [1, 3]), md5sum(1) FROM t WHERE id = 1") == [
        ("[1,2,3]", "[3,2,1]", "[1,3,5]", "[[1,2,3],[1,2,3]]", 1, "c4ca4238a0b923820dcc509a6f75849b")]
    assert rows(cur, "SELECT array_contains(a, NULL), array_contains([1, NULL], NULL), any_match(x -> x > 2, a), "
                     "any_match(x -> x > 5, [1, NULL]), all_match(x -> x > 0, a), all_match([true, NULL]) "
                     "FROM t WHERE id = 1") == [(0, 1, 1, None, 1, None)]
    assert rows(cur, "SELECT array_sortby(a, [3, NULL, 1]), array_sortby(a, [1, 1, 0], [2, 1, 0]), "
                     "array_sortby(a, NULL) FROM t WHERE id = 1") == [("[2,3,1]", "[3,2,1]", "[1,2,3]")]
    assert rows(cur, "SELECT array_filter(a, [true, NULL, true]), array_filter(a, x -> x > 1), "
                     "array_filter(x -> x < 2, a) FROM t WHERE id = 1") == [("[1,3]", "[2,3]", "[1]")]
    assert "Input arrays' size are not equal in array_sortby" in error_of(cur, "SELECT array_sortby(a, [1]) FROM t")[1]
    assert "Input array element's size is not equal in array_map()" in error_of(
        cur, "SELECT array_map((x, y) -> x + y, a, [1]) FROM t WHERE id = 1")[1]
    # array_map with the array first, and over several arrays (the lambda may read the row's columns).
    assert rows(cur, "SELECT array_map(a, x -> x + 1), array_map((x, y) -> x * y + id, a, [10, 20, 30]), "
                     "array_repeat(md5sum(id), 1), CAST(a[1] AS DECIMAL128(10, 2)) FROM t WHERE id = 1") == [
        ("[2,3,4]", "[11,41,91]", '["c4ca4238a0b923820dcc509a6f75849b"]', Decimal("1.00"))]


def test_map(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE t (id INT, m MAP<INT,STRING>, mm MAP<VARCHAR(8),MAP<INT,INT>>) "
                "DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1")
    assert _desc(cur, "t") == {"id": "int", "m": "map<int(11),string>", "mm": "map<varchar(8),map<int(11),int(11)>>"}
    cur.execute("INSERT INTO t VALUES (1, map{1:'a', 2:'b'}, map{'k': map{1: 2}}), (2, map(3, 'c'), NULL)")
    assert rows(cur, "SELECT m, mm FROM t ORDER BY id") == [('{1:"a",2:"b"}', '{"k":{1:2}}'), ('{3:"c"}', None)]
    assert rows(cur, "SELECT m[1], m[9], mm['k'][1], cardinality(m) FROM t WHERE id = 1") == [("a", None, 2, 2)]


def test_struct(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE t (id INT, s STRUCT<a INT, b VARCHAR(10)>, n STRUCT<x ARRAY<INT>, y STRUCT<z DATE>>) "
                "DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1")
    assert _desc(cur, "t") == {"id": "int", "s": "struct<a int(11), b varchar(10)>",
                               "n": "struct<x array<int(11)>, y struct<z date>>"}
    cur.execute("INSERT INTO t VALUES (1, row(1, 'x'), named_struct('x', [1, 2], 'y', named_struct('z', '2024-01-02'))), "
                "(2, named_struct('a', 2, 'b', 'y'), NULL)")
    assert rows(cur, "SELECT s, n FROM t ORDER BY id") == [
        ('{"a":1,"b":"x"}', '{"x":[1,2],"y":{"z":"2024-01-02"}}'), ('{"a":2,"b":"y"}', None)]
    assert rows(cur, "SELECT s.a, s.b, n.x[2], n.y.z FROM t WHERE id = 1")[0][:3] == (1, "x", 2)


def test_json(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE t (id INT, j JSON) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1")
    assert _desc(cur, "t") == {"id": "int", "j": "json"}
    cur.execute("""INSERT INTO t VALUES (1, '{"b": 1, "a": [1, 2], "n": null}'), (2, parse_json('{"k":"v"}')), """
                """(3, json_object('q', 2.5)), (4, NULL)""")
    # StarRocks prints JSON with its keys sorted and a space after ':' and ','.
    assert rows(cur, "SELECT j FROM t ORDER BY id") == [
        ('{"a": [1, 2], "b": 1, "n": null}',), ('{"k": "v"}',), ('{"q": 2.5}',), (None,)]
    assert rows(cur, "SELECT j->'a', j->'n' IS NULL, json_query(j, '$.a[1]'), get_json_string(j, '$.k'), "
                     "get_json_int(j, '$.b'), get_json_double(j, '$.b') FROM t WHERE id IN (1, 2) ORDER BY id") == [
        ("[1, 2]", 1, "2", None, 1, 1.0), (None, 1, None, "v", None, None)]
    # Inside ARRAY, MAP and STRUCT a JSON value is single-quoted StarRocks JSON text.
    cur.execute("CREATE TABLE n (id INT, a ARRAY<JSON>, s STRUCT<x JSON>) DISTRIBUTED BY HASH(id)")
    cur.execute("""INSERT INTO n VALUES (1, [parse_json('{"b":1,"a":2}'), NULL], named_struct('x', parse_json('[1]')))""")
    assert rows(cur, "SELECT a, s, a[1], map{'k': parse_json('null')} FROM n") == [
        ("""['{"a": 2, "b": 1}',null]""", """{"x":'[1]'}""", '{"a": 2, "b": 1}', """{"k":'null'}""")]
    assert error_of(cur, "INSERT INTO t VALUES (5, 'not json')") == (
        1366, "Invalid value 'not json' for column 'j' of type JSON")


def test_decimals_binary_and_largeint(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE t (id INT, d32 DECIMAL32(9,3), d64 DECIMAL64(18,2), d128 DECIMAL128(38,10), "
                "v2 DECIMALV2(27,9), d DECIMAL, b VARBINARY, b4 BINARY(4), l LARGEINT(40)) "
                "DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1")
    assert _desc(cur, "t") == {"id": "int", "d32": "decimal(9,3)", "d64": "decimal(18,2)", "d128": "decimal(38,10)",
                               "v2": "decimal(27,9)", "d": "decimal(10,0)", "b": "varbinary", "b4": "varbinary(4)",
                               "l": "largeint"}
    cur.execute("INSERT INTO t VALUES (1, 1.5, 2.25, 3, 4.5, 7, 'ab', 'abcd', 170141183460469231731687303715884105727)")
    assert rows(cur, "SELECT d32, d64, d128, v2, d, b, b4, l FROM t") == [
        (Decimal("1.500"), Decimal("2.25"), Decimal("3.0000000000"), Decimal("4.500000000"), Decimal("7"),
         b"ab", b"abcd", Decimal("170141183460469231731687303715884105727"))]
    code, message = error_of(cur, "INSERT INTO t (id, b4) VALUES (2, 'abcde')")
    assert code == 1406 and "b4" in message
    # DECIMALV2 without (p, s) is DECIMAL(27, 9), as in StarRocks.
    cur.execute("CREATE TABLE v (id INT, v DECIMALV2, a ARRAY<DECIMALV2>) DISTRIBUTED BY HASH(id)")
    assert _desc(cur, "v") == {"id": "int", "v": "decimal(27,9)", "a": "array<decimal(27,9)>"}


def test_largeint_inside_nested_types_keeps_all_its_digits(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE t (id INT, a ARRAY<LARGEINT>, s STRUCT<x LARGEINT, y ARRAY<LARGEINT>>, "
                "m MAP<LARGEINT, LARGEINT>) DISTRIBUTED BY HASH(id)")
    assert _desc(cur, "t")["a"] == "array<largeint(40)>"
    big = "170141183460469231731687303715884105727"
    cur.execute(f"INSERT INTO t VALUES (1, [{big}, -{big}, NULL], named_struct('x', {big}, 'y', [1]), map{{{big}: 2}})")
    assert rows(cur, "SELECT a, s, m FROM t") == [(f"[{big},-{big},null]", f'{{"x":{big},"y":[1]}}', f"{{{big}:2}}")]
    assert rows(cur, "SELECT a[1] + 0, s.x, array_length(a) FROM t") == [(Decimal(big), Decimal(big), 3)]


def test_information_schema_columns(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE t (id INT, a ARRAY<INT>, m MAP<INT,STRING>, s STRUCT<a INT>, j JSON, d DECIMAL64(10,2)) "
                "DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1")
    schema = rows(cur, "SELECT DATABASE()")[0][0]
    assert rows(cur, "SELECT column_name, data_type, column_type, numeric_scale FROM information_schema.columns "
                     f"WHERE table_schema = '{schema}' AND table_name = 't' ORDER BY ordinal_position") == [
        ("id", "int", "int(11)", 0), ("a", "array", "array<int(11)>", None), ("m", "map", "map<int(11),string>", None),
        ("s", "struct", "struct<a int(11)>", None), ("j", "json", "json", None), ("d", "decimal", "decimal(10,2)", 2)]


@pytest.mark.parametrize("column, code, words", [
    ("c TIME", 1064, "Type:TIME of column:c does not support."),
    ("c ARRAY<TIME>", 1064, "Type:ARRAY<TIME> of column:c does not support."),
    ("c MAP<BIGINT, TIME>", 1064, "Type:MAP<BIGINT,TIME> of column:c does not support."),
    ("c STRUCT<c1 BIGINT, c2 TIME>", 1064, "Type:struct<c1 bigint(20), c2 TIME> of column:c does not support."),
    ("c DECIMAL(40,2)", 1064, "above 38 (DECIMAL256) is not supported yet"),
    ("c DECIMAL32(10,2)", 1064, "DECIMAL32(10,2): precision must be 1..9"),
    ("c MAP<ARRAY<INT>,INT>", 1064, "Invalid map.key's type"),
    ("c STRUCT<a INT, a INT>", 1064, "Duplicate field name"),
    ("c BITMAP", 1064, "BITMAP"),
    ("c FLOAT(3)", 1064, "takes no parameters"),
])
def test_forms_not_implemented_are_refused(cur: pymysql.cursors.Cursor, column: str, code: int, words: str) -> None:
    found_code, message = error_of(cur, f"CREATE TABLE r (id INT, {column}) DISTRIBUTED BY HASH(id)")
    assert found_code == code and words in message


def test_stream_load_refuses_nested_columns_and_loads_json(fe: FeProcess, cur: pymysql.cursors.Cursor) -> None:
    schema = rows(cur, "SELECT DATABASE()")[0][0]
    cur.execute("CREATE TABLE a (id INT, a ARRAY<INT>) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1")
    cur.execute("CREATE TABLE j (id INT, j JSON) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1")
    status, answer = put(fe, f"/api/{schema}/a/_stream_load", b"1\t[1,2]\n", column_separator="\t")
    assert status == 200 and answer["Status"] == "Fail"
    assert "column 'a' of type array<int(11)> is not supported yet" in answer["Message"]
    assert rows(cur, "SELECT count(*) FROM a") == [(0,)]
    # Only the columns loaded count: a load that leaves the ARRAY column out goes ahead.
    status, answer = put(fe, f"/api/{schema}/a/_stream_load", b"7\n", columns="id")
    assert answer["Status"] == "Success", answer
    status, answer = put(fe, f"/api/{schema}/j/_stream_load", b'1\t{"b":1,"a":2}\n', column_separator="\t")
    assert answer["Status"] == "Success", answer
    status, answer = put(fe, f"/api/{schema}/j/_stream_load", b'{"id": 2, "j": {"k": [1]}}', format="json")
    assert answer["Status"] == "Success", answer
    assert rows(cur, "SELECT j FROM j ORDER BY id") == [('{"a": 2, "b": 1}',), ('{"k": [1]}',)]


def test_a_restored_table_keeps_every_type_family(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    values = cluster_conf_values(tmp_path, "local", request)
    old = Frontend.open(load_config(None, **values))
    session = Session(old)
    session.execute_script(
        "CREATE DATABASE r; USE r;"
        "CREATE TABLE t (id INT, a ARRAY<INT>, m MAP<INT,STRING>, s STRUCT<a INT, b VARCHAR(5)>, j JSON, "
        "d DECIMAL64(10,2), b VARBINARY, l LARGEINT) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 2;"
        "INSERT INTO t VALUES (1, [1,2], map{1:'a'}, row(1,'x'), '{\"k\": 1}', 1.25, 'ab', 12345678901234567890123);"
        "ADMIN CREATE CLUSTER SNAPSHOT types;")
    query = "SELECT * FROM r.t ORDER BY id"
    before = session.execute(query).rows()
    described = session.execute("DESC r.t").rows()
    (tmp_path / "cs.yaml").write_text(snapshot_yaml(values, old.keys.cluster_id, None))
    spec = read_snapshot_yaml(tmp_path / "cs.yaml")
    fresh = load_config(None, **dict(values, meta_dir=str(tmp_path / "new-meta")))
    restore(plan_restore(fresh, spec), fresh, spec)
    old.close()
    new = Frontend.open(fresh)
    try:
        assert Session(new).execute(query).rows() == before
        assert Session(new).execute("DESC r.t").rows() == described
        assert [r[1] for r in described] == ["int", "array<int(11)>", "map<int(11),string>",
                                             "struct<a int(11), b varchar(5)>", "json", "decimal(10,2)",
                                             "varbinary", "largeint"]
    finally:
        new.close()


@pytest.mark.parametrize("clauses, role", [
    ("DUPLICATE KEY(a) DISTRIBUTED BY HASH(id)", "key"),
    ("DISTRIBUTED BY HASH(a)", "distribution"),
    ("PARTITION BY RANGE(a) (PARTITION p VALUES LESS THAN ('[1]')) DISTRIBUTED BY HASH(id)", "partition"),
])
def test_nested_and_json_columns_are_no_keys(cur: pymysql.cursors.Cursor, clauses: str, role: str) -> None:
    code, message = error_of(cur, f"CREATE TABLE k (a JSON, id INT) {clauses}")
    assert code == 1064 and f"Invalid data type of {role} column 'a': 'json'" in message


def test_compute_nodes_store_and_read_every_family_as_the_embedded_engine(
        tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cluster = _start_cluster(tmp_path, cluster_conf_values(tmp_path, "local", request), count=1)
    try:
        for statement in (
                "CREATE DATABASE d",
                "CREATE TABLE d.t (id INT, a ARRAY<INT>, m MAP<INT,STRING>, s STRUCT<a INT, n STRUCT<z INT>>, j JSON, "
                "d DECIMAL64(10,2), b VARBINARY, al ARRAY<LARGEINT>) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 2",
                "INSERT INTO d.t VALUES (1, [1,2], map{1:'a'}, named_struct('a', 1, 'n', named_struct('z', 5)), "
                "'{\"k\": [1]}', 1.25, 'ab', [170141183460469231731687303715884105727]), "
                "(2, [3], map{2:'b'}, row(2, row(6)), '{\"k\": 2}', 2.5, 'cd', [1])"):
            cluster.run(statement)
        queries = ["SELECT * FROM d.t ORDER BY id",
                   "SELECT a[2], m[1], s.a, t.s.n.z, j->'k', al[1] FROM d.t ORDER BY id",
                   "SELECT s.a, count(*) FROM d.t WHERE array_contains(a, 3) GROUP BY s.a"]
        on_nodes = [cluster.run(q) for q in queries]
        assert sum(n.report()["counters"].get("scans", 0) for n in cluster.nodes) > 0
        assert on_nodes[1] == [(2, "a", 1, 5, "[1]", Decimal("170141183460469231731687303715884105727")),
                               (None, None, 2, 6, "2", Decimal(1))]
        cluster.run("ALTER SYSTEM DROP COMPUTE NODE " + ", ".join(f'"{n.address}"' for n in cluster.nodes))
        assert [cluster.run(q) for q in queries] == on_nodes
    finally:
        _stop(cluster)


def test_show_create_table_of_every_family_runs_again(cur: pymysql.cursors.Cursor) -> None:
    cur.execute("CREATE TABLE t (id INT NOT NULL, a ARRAY<ARRAY<VARCHAR(3)>>, m MAP<VARCHAR(8),STRUCT<x JSON>>, "
                "s STRUCT<`a b` INT, c DECIMAL32(5,2)>, j JSON NOT NULL, b BINARY(4), l LARGEINT(40), "
                "v DECIMALV2 DEFAULT '1.5') DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 1")
    ddl = rows(cur, "SHOW CREATE TABLE t")[0][1]
    cur.execute("DROP TABLE t")
    cur.execute(ddl)
    assert rows(cur, "SHOW CREATE TABLE t")[0][1] == ddl
    assert _desc(cur, "t")["s"] == "struct<`a b` int(11), c decimal(5,2)>"
    cur.execute("""INSERT INTO t (id, a, m, s, j) VALUES (1, [['abc']], map{'k': named_struct('x', parse_json('[1]'))}, """
                """row(7, 1.5), '"text"')""")
    assert rows(cur, "SELECT a, s, j, v, m['k'].x FROM t") == [
        ('[["abc"]]', '{"a b":7,"c":1.50}', '"text"', Decimal("1.500000000"), "[1]")]
