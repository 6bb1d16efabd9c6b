"""Fuzzing SQL: statements generated from Cairn's grammar, and token soup, against a running FE.

Whatever the statement, the FE never crashes and never answers with a Python traceback or an
"Internal error"; a statement that fails changes nothing durable (journal position and the rows
of every table stay as they were). `CAIRN_FUZZ_EXAMPLES` sets how many statements to try.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pymysql
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import cairn.api
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from fe_process import FeProcess

EXAMPLES = int(os.environ.get("CAIRN_FUZZ_EXAMPLES", "80"))

SETUP = """
CREATE DATABASE fz; USE fz;
CREATE TABLE base (k INT NOT NULL, s VARCHAR(16), d DATE, x DOUBLE, b BOOLEAN)
  DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2;
CREATE TABLE parts (day DATE, n BIGINT) PARTITION BY RANGE(day)
  (PARTITION p1 VALUES LESS THAN ('2024-01-01'), PARTITION p2 VALUES LESS THAN ('2025-01-01'));
CREATE TABLE lst (r VARCHAR(8), n INT) PARTITION BY LIST(r) (PARTITION pn VALUES IN ('n'), PARTITION ps VALUES IN ('s'));
INSERT INTO base VALUES (1, 'a', '2024-01-01', 1.5, true), (2, NULL, NULL, NULL, NULL), (3, 'it''s', '2023-05-06', -2, false);
INSERT INTO parts VALUES ('2023-03-03', 1), ('2024-04-04', 2);
INSERT INTO lst VALUES ('n', 1), ('s', 2);
"""
TABLES = ["base", "parts", "lst"]
COLUMNS = ["k", "s", "d", "x", "b", "day", "n", "r", "nope"]
TYPES = ["INT", "BIGINT", "TINYINT", "LARGEINT", "DOUBLE", "FLOAT", "DECIMAL(10,2)", "DECIMAL(40,2)", "VARCHAR(8)",
         "CHAR(3)", "STRING", "DATE", "DATETIME", "BOOLEAN", "ARRAY<INT>", "MAP<INT,INT>", "JSON", "HLL", "BITMAP"]
KEYWORDS = ["SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "LIMIT", "INSERT", "INTO", "VALUES", "CREATE", "TABLE",
            "DROP", "ALTER", "ADD", "PARTITION", "DATABASE", "SHOW", "DESC", "SET", "ADMIN", "SNAPSHOT", "CLUSTER",
            "NOT", "IN", "EXISTS", "NULL", "AS", "WITH", "LABEL", "JOIN", "ON", "UNION", "ALL", "CASE", "WHEN",
            "THEN", "END", "PRIMARY", "KEY", "DUPLICATE", "DISTRIBUTED", "HASH", "BUCKETS", "PROPERTIES", "TRUNCATE",
            "STORAGE", "VOLUME", "GRANT", "USER", "LIKE", "BETWEEN", "OVER", "(", ")", ",", ";", "*", "=", "'", "`",
            "\"", "@@", "?", "1", "-", "/*", "*/", "--", "\\", "0x", "1e999", "\x00", "é"]
FUNCTIONS = ["abs", "concat", "coalesce", "upper", "length", "substr", "date_add", "year", "round", "ifnull",
             "array_length", "element_at", "bool_or", "count", "sum", "min", "max", "avg", "nosuchfn", "read_text",
             "str_to_date", "cast_me", "sleep", "if", "nullif", "greatest", "json_query", "md5"]

# Generated names never name the fixed tables or the database, so no statement drops them by chance.
identifier = st.sampled_from(COLUMNS) | st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: name not in {*TABLES, "fz"})
string_literal = st.text(max_size=12).map(lambda t: "'" + t.replace("\\", "\\\\").replace("'", "''") + "'")
literal = st.one_of(
    st.integers(-2**70, 2**70).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
    string_literal, st.sampled_from(["NULL", "true", "false", "'2024-02-30'", "'2024-01-01'", "'NaN'",
                                     "DATE '2024-01-01'", "[1, NULL]", "map{'a': 1}", "1e308 * 10"]))


def _expressions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "%", "=", "<>", "<", ">=", "AND", "OR", "LIKE",
                                             "||", "DIV", "IS NOT DISTINCT FROM"]), children)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(children, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(children, st.sampled_from(TYPES)).map(lambda t: f"CAST({t[0]} AS {t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"),
        st.tuples(children, st.lists(children, min_size=1, max_size=3)).map(lambda t: f"{t[0]} IN ({', '.join(t[1])})"),
        st.tuples(children, st.sampled_from(TABLES), identifier)
        .map(lambda t: f"{t[0]} NOT IN (SELECT {t[2]} FROM {t[1]})"),
        children.map(lambda e: f"NOT {e}"),
        children.map(lambda e: f"{e} IS NULL"),
    )


expression = st.recursive(identifier | literal, _expressions, max_leaves=8)


@st.composite
def select_statement(draw: st.DrawFn) -> str:
    columns = draw(st.lists(expression, min_size=1, max_size=3))
    sql = f"SELECT {', '.join(columns)}"
    if draw(st.booleans()):
        table = draw(st.sampled_from([*TABLES, "nosuch", "information_schema.tables", "fz.base",
                                      "base PARTITION (p1)", "parts PARTITION (p2)"]))
        sql += f" FROM {table}"
        if draw(st.booleans()):
            sql += f" WHERE {draw(expression)}"
        if draw(st.booleans()):
            sql += f" GROUP BY {draw(expression)}"
        if draw(st.booleans()):
            sql += f" ORDER BY {draw(expression)} {draw(st.sampled_from(['', 'DESC', 'NULLS LAST']))}"
    if draw(st.booleans()):
        sql += f" LIMIT {draw(st.integers(-1, 5))}"
    return sql


@st.composite
def insert_statement(draw: st.DrawFn) -> str:
    table = draw(st.sampled_from([*TABLES, "nosuch"]))
    rows = draw(st.lists(st.lists(expression, min_size=0, max_size=6), min_size=1, max_size=3))
    values = ", ".join(f"({', '.join(row)})" for row in rows)
    form = draw(st.sampled_from(["VALUES", "SELECT", "LABEL", "OVERWRITE", "COLUMNS"]))
    if form == "SELECT":
        return f"INSERT INTO {table} {draw(select_statement())}"
    if form == "LABEL":
        return f"INSERT INTO {table} WITH LABEL {draw(identifier)} VALUES {values}"
    if form == "OVERWRITE":
        return f"INSERT OVERWRITE {table} VALUES {values}"
    if form == "COLUMNS":
        return f"INSERT INTO {table} ({', '.join(draw(st.lists(identifier, min_size=1, max_size=3)))}) VALUES {values}"
    return f"INSERT INTO {table} VALUES {values}"


@st.composite
def create_table_statement(draw: st.DrawFn) -> str:
    name = "fz_" + draw(st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True))
    columns = draw(st.lists(st.tuples(identifier, st.sampled_from(TYPES), st.sampled_from(
        ["", "NOT NULL", "NULL", "DEFAULT '1'", "DEFAULT NULL", "COMMENT 'c'", "PRIMARY KEY", "SUM", "AUTO_INCREMENT"])),
        min_size=1, max_size=4))
    body = ", ".join(" ".join(part for part in column if part) for column in columns)
    first = columns[0][0]
    clause = draw(st.sampled_from([
        "", f"DUPLICATE KEY({first})", f"PRIMARY KEY({first})", f"UNIQUE KEY({first})", f"AGGREGATE KEY({first})",
        f"PARTITION BY ({first})", f"PARTITION BY RANGE({first}) (PARTITION p VALUES LESS THAN ('10'))",
        f"PARTITION BY LIST({first}) (PARTITION p VALUES IN ('1'))", f"ORDER BY ({first})",
        f"DISTRIBUTED BY HASH({first}) BUCKETS {draw(st.integers(-1, 2000))}", "DISTRIBUTED BY RANDOM",
        "PROPERTIES ('replication_num' = '1')", f"PROPERTIES ('{draw(identifier)}' = 'x')",
    ]))
    return f"CREATE TABLE {draw(st.sampled_from(['', 'IF NOT EXISTS ']))}{name} ({body}) {clause}"


other_statement = st.one_of(
    st.sampled_from(TABLES + ["nosuch", "fz_a"]).map(lambda t: f"DROP TABLE IF EXISTS {t}" if t.startswith("fz_")
                                                      else f"DROP TABLE {t}x"),
    st.tuples(st.sampled_from(TABLES), identifier).map(lambda t: f"ALTER TABLE {t[0]} ADD PARTITION {t[1]} VALUES "
                                                                  "LESS THAN ('2026-01-01')"),
    st.tuples(st.sampled_from(TABLES), identifier).map(lambda t: f"ALTER TABLE {t[0]} DROP PARTITION {t[1]}x"),
    st.sampled_from(["SHOW TABLES", "SHOW DATABASES", "SHOW PARTITIONS FROM parts", "SHOW CREATE TABLE base",
                     "DESC base", "SHOW VARIABLES LIKE '%time%'", "SHOW STORAGE VOLUMES", "ADMIN VACUUM DRY RUN",
                     "SELECT * FROM information_schema.cluster_snapshots", "SET GLOBAL x = 1", "USE nosuch",
                     "TRUNCATE TABLE nosuch", "CREATE VIEW v AS SELECT 1", "SELECT * FROM base FOR UPDATE",
                     "SELECT * FROM read_text('/etc/passwd')", "UPDATE base SET k = 1", "DELETE FROM base",
                     "CREATE DATABASE fz", "DROP DATABASE nosuch", "GRANT SELECT ON fz.* TO nobody"]),
    expression.map(lambda e: f"SET @@query_timeout = {e}"),
)
token_soup = st.lists(st.sampled_from(KEYWORDS) | identifier | literal, min_size=1, max_size=14).map(" ".join)
statement = st.one_of(select_statement(), insert_statement(), create_table_statement(), other_statement, token_soup,
                      st.text(max_size=40))


def _durable_state(session: Session) -> tuple[object, ...]:
    """The journal position and every row of the fixed tables: what a failed statement must not change."""
    frontend = session.frontend
    rows = tuple(tuple(sorted(map(repr, session.execute(f"SELECT * FROM fz.{t}").rows()))) for t in TABLES)
    return frontend.position, rows


@pytest.fixture(scope="module")
def fuzz_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    root = tmp_path_factory.mktemp("fuzz")
    fe: Frontend = cairn.api.open_frontend(local_storage_path=root / "storage", meta_dir=root / "meta")
    session = cairn.api.connect(fe)
    session.execute_script(SETUP)
    yield session
    fe.close()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(sql=statement)
def test_generated_statements_fail_cleanly_and_change_nothing_when_they_fail(fuzz_session: Session, sql: str) -> None:
    fuzz_session.database = "fz"
    before = _durable_state(fuzz_session)
    try:
        fuzz_session.execute(sql)
    except CairnError as exc:
        text = str(exc)
        assert "Traceback" not in text and "Internal error" not in text, text
        assert _durable_state(fuzz_session) == before, f"a failed statement changed durable state: {sql!r}"


def test_generated_statements_over_mysql_never_answer_internal_error(local_fe_process: FeProcess) -> None:
    connection = pymysql.connect(host="127.0.0.1", port=local_fe_process.query_port, user="root", autocommit=True)
    with connection.cursor() as cursor:
        for part in SETUP.split(";"):
            if part.strip():
                cursor.execute(part)
    examples = max(20, EXAMPLES // 5)

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(sql=statement)
    def run(sql: str) -> None:
        with connection.cursor() as cursor:
            try:
                cursor.execute(sql)
                cursor.fetchall()
            except pymysql.MySQLError as exc:
                text = str(exc)
                assert "Traceback" not in text and "Internal error" not in text, (sql, text)
            cursor.execute("SELECT 1")
            assert cursor.fetchall() == ((1,),)

    try:
        run()
    finally:
        connection.close()
    assert local_fe_process.proc.poll() is None, "the FE died"


@pytest.mark.parametrize("sql", [
    "SELECT date_add()",  # sqlglot raised AttributeError parsing it
    "SELECT NOT year() IS NULL",  # ... and generating it
])
def test_statements_the_fuzzer_found(fuzz_session: Session, sql: str) -> None:
    fuzz_session.database = "fz"
    before = _durable_state(fuzz_session)
    with pytest.raises(CairnError) as caught:
        fuzz_session.execute(sql)
    assert caught.value.mysql_code == 1064
    assert _durable_state(fuzz_session) == before
