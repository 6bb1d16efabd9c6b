"""Logical views over the MySQL protocol: CREATE [OR REPLACE] / ALTER / DROP VIEW, SHOW CREATE VIEW,
DESC, SHOW TABLES, information_schema, StarRocks' errors and privileges, and views after a restore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from fe_process import FeProcess, module_fe, run_sql  # noqa: F401  (module_fe is the `fe` fixture)
from sql_client import connect, error_of, fresh_database, rows
from test_restore import _restore, snapshot_yaml



@pytest.fixture
def db(fe: FeProcess) -> Iterator[tuple[str, pymysql.cursors.Cursor]]:
    """A fresh database holding t1 (c1 BIGINT, c2 VARCHAR(10)) with rows (1,'a'), (2,'b'), as root."""
    with fresh_database(fe, "views", "CREATE TABLE t1 (c1 BIGINT, c2 VARCHAR(10)) DISTRIBUTED BY HASH(c1) BUCKETS 2",
                        "INSERT INTO t1 VALUES (1, 'a'), (2, 'b')") as found:
        yield found


def test_create_query_replace_alter_and_drop(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    cur.execute("CREATE VIEW v1 AS SELECT * FROM t1")
    cur.execute(f"CREATE VIEW {name}.v2 (x COMMENT 'plus one', y) COMMENT 'two' AS SELECT c1 + 1, upper(c2) FROM t1")
    assert rows(cur, "SELECT * FROM v1 ORDER BY c1") == [(1, "a"), (2, "b")]
    assert rows(cur, f"SELECT v2.x, {name}.v2.y FROM {name}.v2 ORDER BY x") == [(2, "A"), (3, "B")]
    assert [d[0] for d in cur.description] == ["x", "y"]
    # A view over a view, joined with a table; a CTE named like a view hides it.
    cur.execute("CREATE VIEW v3 AS SELECT x FROM v2 WHERE y = 'B'")
    assert rows(cur, "SELECT t1.c2 FROM v3 JOIN t1 ON v3.x = t1.c1 + 2") == [("a",)]
    assert rows(cur, "WITH v1 AS (SELECT 5 AS z) SELECT * FROM v1") == [(5,)]
    # The view reads what the table holds when it is queried, not when it was made.
    cur.execute("INSERT INTO t1 SELECT c1 + 10, c2 FROM v1")
    assert rows(cur, "SELECT count(*) FROM v1") == [(4,)]

    assert rows(cur, "CREATE VIEW IF NOT EXISTS v1 AS SELECT 1") == []
    cur.execute("CREATE OR REPLACE VIEW v1 AS SELECT c2 FROM t1 WHERE c1 = 1")
    assert rows(cur, "SELECT * FROM v1") == [("a",)]
    cur.execute("ALTER VIEW v1 AS SELECT c1, c1 * 2 AS d FROM t1 WHERE c1 < 3")
    assert rows(cur, "SELECT * FROM v1 ORDER BY c1") == [(1, 2), (2, 4)]
    cur.execute("ALTER VIEW v1 (one, two) AS SELECT c1, c2 FROM t1 WHERE c1 = 1")
    assert rows(cur, "SELECT two FROM v1") == [("a",)]
    cur.execute("DROP VIEW v1")
    assert error_of(cur, "SELECT * FROM v1")[0] == 1146
    cur.execute("DROP VIEW IF EXISTS v1")
    assert rows(cur, "SELECT count(*) FROM t1") == [(4,)]  # dropping a view leaves its table


def test_show_create_view_desc_show_tables_and_information_schema(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    cur.execute("CREATE VIEW v2 (x COMMENT 'plus one', y) COMMENT 'two' AS SELECT c1 + 1, upper(c2) FROM t1")
    cur.execute("CREATE VIEW v3 SECURITY INVOKER AS SELECT c1 FROM t1")
    shown = rows(cur, "SHOW CREATE VIEW v2")
    assert [d[0] for d in cur.description] == ["View", "Create View", "character_set_client", "collation_connection"]
    assert shown[0][0] == "v2" and shown[0][2:] == ("utf8", "utf8_general_ci")
    assert shown[0][1].startswith('CREATE VIEW `v2` (`x` COMMENT "plus one", `y`) COMMENT "two" AS SELECT')
    assert rows(cur, "SHOW CREATE TABLE v3")[0][1].startswith("CREATE VIEW `v3` (`c1`) SECURITY INVOKER AS SELECT")
    # What SHOW CREATE VIEW prints makes the same view again.
    cur.execute("DROP VIEW v2")
    cur.execute(shown[0][1])
    assert rows(cur, "SELECT * FROM v2 ORDER BY x") == [(2, "A"), (3, "B")]

    assert rows(cur, "DESC v2") == [("x", "bigint", "YES", "false", None, ""),
                                   ("y", "varchar(1048576)", "YES", "false", None, "")]
    assert rows(cur, "SHOW COLUMNS FROM v3") == [("c1", "bigint", "YES", "false", None, "")]
    assert rows(cur, "SHOW TABLES") == [("t1",), ("v2",), ("v3",)]
    assert rows(cur, "SHOW FULL TABLES") == [("t1", "BASE TABLE"), ("v2", "VIEW"), ("v3", "VIEW")]

    assert rows(cur, f"SELECT TABLE_NAME, TABLE_TYPE, TABLE_COMMENT FROM information_schema.tables "
                     f"WHERE TABLE_SCHEMA = '{name}' ORDER BY TABLE_NAME") == [
        ("t1", "BASE TABLE", ""), ("v2", "VIEW", "two"), ("v3", "VIEW", "")]
    views = rows(cur, f"SELECT * FROM information_schema.views WHERE TABLE_SCHEMA = '{name}' ORDER BY TABLE_NAME")
    assert [d[0] for d in cur.description] == [
        "TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "VIEW_DEFINITION", "CHECK_OPTION", "IS_UPDATABLE", "DEFINER",
        "SECURITY_TYPE", "CHARACTER_SET_CLIENT", "COLLATION_CONNECTION"]
    assert [v[2] for v in views] == ["v2", "v3"]
    assert views[1][3].upper().startswith("SELECT C1 FROM") and views[1][4:] == (
        "NONE", "NO", "", "", "utf8", "utf8_general_ci")
    assert rows(cur, f"SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.columns WHERE TABLE_SCHEMA = '{name}'"
                     " AND TABLE_NAME = 'v2' ORDER BY ORDINAL_POSITION") == [("x", "bigint(20)"), ("y", "varchar(1048576)")]


def test_tables_config_and_materialized_views(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    cur.execute("CREATE TABLE k (a INT, b DATE) DUPLICATE KEY(a) PARTITION BY RANGE(b) "
                "(PARTITION p1 VALUES LESS THAN ('2024-01-01')) DISTRIBUTED BY HASH(a) BUCKETS 3")
    config = rows(cur, f"SELECT * FROM information_schema.tables_config WHERE TABLE_SCHEMA = '{name}' "
                       "ORDER BY TABLE_NAME")
    assert [d[0] for d in cur.description] == [
        "TABLE_SCHEMA", "TABLE_NAME", "TABLE_ENGINE", "TABLE_MODEL", "PRIMARY_KEY", "PARTITION_KEY", "DISTRIBUTE_KEY",
        "DISTRIBUTE_TYPE", "DISTRIBUTE_BUCKET", "SORT_KEY", "PROPERTIES", "TABLE_ID"]
    assert config[0][:10] == (name, "k", "OLAP", "DUP_KEYS", "`a`", "`b`", "`a`", "HASH", 3, "`a`")
    assert config[1][:4] == (name, "t1", "OLAP", "DUP_KEYS")
    assert rows(cur, "SELECT * FROM information_schema.materialized_views") == []
    assert len(cur.description) == 39 and cur.description[0][0] == "MATERIALIZED_VIEW_ID"


@pytest.mark.parametrize("sql, code, message", [
    ("CREATE VIEW v AS SELECT 2", 1050, "Table 'v' already exists"),
    ("CREATE VIEW t1 AS SELECT 2", 1050, "Table 't1' already exists"),
    ("CREATE TABLE v (a INT)", 1050, "Table 'v' already exists"),
    ("DROP VIEW t1", 1347, "'{db}'.'t1' is not 'VIEW'"),
    ("DROP TABLE v", 1347, "'{db}'.'v' is not 'TABLE'"),
    ("ALTER VIEW t1 AS SELECT 1", 1347, "'{db}'.'t1' is not 'VIEW'"),
    ("SHOW CREATE VIEW t1", 1347, "'{db}'.'t1' is not 'VIEW'"),
    ("DROP VIEW nope", 1146, "Unknown table '{db}.nope'"),
    ("ALTER VIEW nope AS SELECT 1", 1146, "Unknown table '{db}.nope'"),
    ("SELECT * FROM nope_view", 1146, "Table '{db}.nope_view' doesn't exist"),
    ("CREATE VIEW w AS SELECT * FROM nope", 1146, "Table '{db}.nope' doesn't exist"),
    ("CREATE VIEW w AS SELECT nope FROM t1", 1054, "Unknown column 'nope'"),
    ("CREATE VIEW w (a) AS SELECT 1, 2", 1064, "View's SELECT and view's field list have different column counts"),
    ("CREATE VIEW w AS SELECT 1 AS a, 2 AS a", 1064, "Duplicate column name 'a'"),
    ("CREATE VIEW w AS SELECT * FROM read_csv('/etc/passwd')", 1064, "Unknown table function 'read_csv'"),
])
def test_errors(db: tuple[str, pymysql.cursors.Cursor], sql: str, code: int, message: str) -> None:
    name, cur = db
    cur.execute("CREATE VIEW v AS SELECT 1 AS one")
    got_code, got_message = error_of(cur, sql)
    assert got_code == code and message.format(db=name) in got_message
    assert rows(cur, "SELECT * FROM v") == [(1,)]


def test_privileges_follow_starrocks(fe: FeProcess, db: tuple[str, pymysql.cursors.Cursor]) -> None:
    """SELECT on a view is enough (SECURITY NONE); a SECURITY INVOKER view needs SELECT on what it reads
    too; making a view needs CREATE on the database and SELECT on what its query reads."""
    name, cur = db
    user = f"u_{name}"
    for statement in (f"CREATE USER {user} IDENTIFIED BY 'pw'",
                      "CREATE VIEW open_v AS SELECT c1 FROM t1", "CREATE VIEW own_v SECURITY INVOKER AS SELECT c1 FROM t1",
                      "CREATE VIEW nested_v SECURITY INVOKER AS SELECT c1 FROM open_v",
                      f"GRANT SELECT ON VIEW {name}.open_v TO {user}", f"GRANT SELECT ON VIEW own_v TO {user}",
                      f"GRANT SELECT ON VIEW {name}.nested_v TO {user}"):
        cur.execute(statement)
    caller = connect(fe, user, "pw", name).cursor()
    assert rows(caller, "SELECT count(*) FROM open_v") == [(2,)]
    assert rows(caller, "SELECT count(*) FROM nested_v") == [(2,)]  # open_v reads t1 with its own rights
    code, message = error_of(caller, "SELECT * FROM own_v")
    assert code == 1142 and f"SELECT privilege(s) on TABLE {name}.t1" in message
    assert error_of(caller, "SELECT * FROM t1")[0] == 1142
    cur.execute("ALTER VIEW open_v SET SECURITY INVOKER")
    assert error_of(caller, "SELECT * FROM open_v")[0] == 1142
    cur.execute("ALTER VIEW open_v SET SECURITY NONE")
    assert rows(caller, "SELECT count(*) FROM open_v") == [(2,)]

    # Making views: CREATE on the database, and SELECT on what the query reads.
    assert error_of(caller, "CREATE VIEW mine AS SELECT 1")[0] == 1142
    cur.execute(f"GRANT CREATE ON {name}.* TO {user}")
    assert error_of(caller, "CREATE VIEW mine AS SELECT c1 FROM t1")[0] == 1142
    caller.execute("CREATE VIEW mine AS SELECT c1 FROM open_v")
    assert error_of(caller, "DROP VIEW mine")[0] == 1142
    assert ("mine",) in rows(caller, "SHOW TABLES")
    cur.execute(f"DROP USER {user}")


@pytest.mark.parametrize("volume_kind", ["local"])
def test_views_come_back_with_snapshot_restore_and_pitr(fe_conf_values: dict[str, str], tmp_path: Path) -> None:
    values = dict(fe_conf_values, cluster_snapshot_pitr_window_seconds="3600")
    fe = Frontend.open(load_config(None, **values))
    session = Session(fe)
    session.execute_script("CREATE DATABASE p; USE p; CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 2;"
                           "INSERT INTO t VALUES (1), (2); CREATE VIEW v AS SELECT a FROM t WHERE a = 1;"
                           "ADMIN CREATE CLUSTER SNAPSHOT base;")
    session.execute("ALTER VIEW v AS SELECT a * 10 AS a FROM t WHERE a = 2")
    altered = fe.position.entry_id
    session.execute("DROP VIEW v")
    cluster = fe.keys.cluster_id
    fe.close()
    base = snapshot_yaml(values, cluster, "base")
    for target, expected in (("", [(1,)]), (f"journal_id: {altered}", [(20,)])):
        config = load_config(None, **dict(values, meta_dir=str(tmp_path / f"meta-{len(target)}")))
        text = base if not target else base.replace(
            "  storage_volume_name", f"  restore_to:\n    {target}\n  storage_volume_name")
        _restore(config, text, tmp_path)
        restored = Frontend.open(config)
        try:
            assert Session(restored, database="p").execute("SELECT * FROM v").rows() == expected
        finally:
            restored.close()


def test_information_schema_tables_without_data_are_empty_with_starrocks_columns(fe: FeProcess) -> None:
    cur = connect(fe).cursor()
    described = rows(cur, "DESC information_schema.warehouse_metrics")
    assert described[:2] == [("WAREHOUSE_ID", "bigint", "YES", "false", None, ""),
                             ("WAREHOUSE_NAME", "varchar(2048)", "YES", "false", None, "")]
    assert len(described) == 12
    assert rows(cur, "DESC information_schema.be_bvars")[0] == ("BE_ID", "bigint", "NO", "false", None, "")
    for table, width in (("warehouse_queries", 12), ("be_bvars", 3), ("table_constraints", 6),
                         ("materialized_views", 39), ("key_column_usage", 12), ("referential_constraints", 11),
                         ("routines", 31), ("triggers", 22), ("events", 24)):
        assert rows(cur, f"SELECT * FROM information_schema.{table}") == []
        assert len(cur.description) == width, table
    # Tables with rows describe the columns they answer with.
    assert rows(cur, "DESC information_schema.views")[3][:2] == ("VIEW_DEFINITION", "varchar(65535)")


def test_conditions_on_a_view_prune_its_tables_partitions(local_frontend: Frontend) -> None:
    session = Session(local_frontend)
    session.execute_script(
        "CREATE DATABASE pr; USE pr; CREATE TABLE ev (id INT, day DATE) PARTITION BY RANGE(day) "
        "(PARTITION p1 VALUES LESS THAN ('2024-01-01'), PARTITION p2 VALUES LESS THAN ('2024-02-01'), "
        "PARTITION p3 VALUES LESS THAN ('2024-03-01')) DISTRIBUTED BY HASH(id) BUCKETS 2;"
        "INSERT INTO ev VALUES (1, '2023-05-01'), (2, '2024-01-06'), (3, '2024-02-07');"
        "CREATE VIEW whole AS SELECT * FROM ev; CREATE VIEW renamed (n, d) AS SELECT id, day FROM ev WHERE id > 1;"
        "CREATE VIEW counted AS SELECT day, count(*) AS c FROM ev GROUP BY day;")
    access = local_frontend.data_access
    cases = [("SELECT id FROM whole WHERE day = '2024-01-06'", [(2,)], 1),
             ("SELECT id FROM whole w WHERE w.day >= '2024-01-01' AND id < 3", [(2,)], 2),
             ("SELECT n FROM renamed WHERE d BETWEEN '2024-02-01' AND '2024-02-28'", [(3,)], 1),
             ("SELECT n FROM renamed WHERE d < '2024-02-01' OR n = 3 ORDER BY n", [(2,), (3,)], 3),
             # Grouped: a condition on the view's rows is not one on the table's.
             ("SELECT c FROM counted WHERE day = '2024-01-06'", [(1,)], 3),
             ("SELECT x FROM whole AS w (x, y) WHERE y = '2024-01-06'", [(2,)], 3)]
    for sql, expected, partitions in cases:
        before = access.partitions_read
        assert session.execute(sql).rows() == expected, sql
        assert access.partitions_read - before == partitions, sql
