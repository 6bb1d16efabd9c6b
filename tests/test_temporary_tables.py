"""StarRocks' temporary tables over the MySQL protocol: CREATE TEMPORARY TABLE (plain, LIKE, AS SELECT),
DROP TEMPORARY TABLE, SHOW TEMPORARY TABLES, information_schema.temp_tables, shadowing a normal table
within one session, visibility to that session only, dropping when the session ends or its FE stops,
`enable_experimental_temporary_table`, StarRocks' errors; never in a snapshot or a restored cluster,
and their data removed by vacuum."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from conftest import wait_until
from fe_cluster import FeCluster
from fe_process import FeProcess, module_fe  # noqa: F401  (module_fe is the `fe` fixture)
from sql_client import connect, error_of, fresh_database, rows
from test_restore import _restore, snapshot_yaml
from test_vacuum import data_keys, vacuum

CREATE_T0 = ("CREATE TEMPORARY TABLE `t0` (`c1` int, `c2` int) ENGINE=OLAP PRIMARY KEY(`c1`) "
             "DISTRIBUTED BY HASH(`c1`) BUCKETS 3 PROPERTIES (\"replication_num\" = \"1\")")
CREATE_T = "CREATE TABLE t (c1 INT, c2 INT) PRIMARY KEY(c1) DISTRIBUTED BY HASH(c1) BUCKETS 2"
TEMP_TABLES = "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_ROWS FROM information_schema.temp_tables"


@pytest.fixture
def db(fe: FeProcess) -> Iterator[tuple[str, pymysql.cursors.Cursor]]:
    """A fresh database holding the normal PRIMARY KEY table t with rows (1,1), (2,2), (3,3), as root."""
    with fresh_database(fe, "temp", CREATE_T, "INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)") as found:
        yield found


def test_create_load_update_delete_truncate_and_drop(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    _, cur = db
    cur.execute(CREATE_T0)
    cur.execute(CREATE_T0.replace("TABLE", "TABLE IF NOT EXISTS", 1))
    shown = rows(cur, "SHOW CREATE TABLE t0")[0][1]
    assert shown.startswith("CREATE TEMPORARY TABLE `t0` (\n  `c1` int(11) NOT NULL") and "PRIMARY KEY(`c1`)" in shown
    assert rows(cur, "DESC t0") == [("c1", "int", "NO", "true", None, ""), ("c2", "int", "YES", "false", None, "")]
    assert rows(cur, "SHOW TABLES") == [("t",)]
    assert rows(cur, "SHOW TEMPORARY TABLES") == [("t0",)]
    assert [d[0] for d in cur.description] == [f"Tables_in_{db[0]}"]
    cur.execute("INSERT INTO t0 VALUES (1, 1), (2, 2), (3, 3)")
    cur.execute("UPDATE t0 SET c2 = c2 + 1 WHERE c1 = 1")
    assert rows(cur, "SELECT * FROM t0 ORDER BY c1") == [(1, 2), (2, 2), (3, 3)]
    cur.execute("DELETE FROM t0 WHERE c1 = 1")
    assert rows(cur, "SELECT * FROM t0 ORDER BY c1") == [(2, 2), (3, 3)]
    cur.execute("TRUNCATE TABLE t0")
    assert rows(cur, "SELECT * FROM t0") == []
    cur.execute("DROP TEMPORARY TABLE t0")
    assert rows(cur, "SHOW TEMPORARY TABLES") == []
    assert error_of(cur, "SELECT * FROM t0")[0] == 1146


def test_like_and_as_select(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    _, cur = db
    cur.execute("CREATE TEMPORARY TABLE t1 LIKE t")
    cur.execute("CREATE TEMPORARY TABLE IF NOT EXISTS t1 LIKE t")
    assert rows(cur, "SELECT * FROM t1") == []
    assert "PRIMARY KEY(`c1`)" in rows(cur, "SHOW CREATE TABLE t1")[0][1]
    cur.execute("INSERT INTO t1 VALUES (1, 1), (1, 5)")
    assert rows(cur, "SELECT * FROM t1") == [(1, 5)]  # keyed as its source: the last write of a key wins
    cur.execute("CREATE TEMPORARY TABLE t2 AS SELECT * FROM t")
    cur.execute("CREATE TEMPORARY TABLE IF NOT EXISTS t2 AS SELECT * FROM t WHERE c1 = 1")
    cur.execute("INSERT INTO t2 VALUES (4, 4)")
    assert rows(cur, "SELECT * FROM t2 ORDER BY c1") == [(1, 1), (2, 2), (3, 3), (4, 4)]
    # A normal table LIKE a temporary one is a normal table.
    cur.execute("CREATE TABLE t3 LIKE t2")
    assert rows(cur, "SHOW TABLES") == [("t",), ("t3",)]
    assert rows(cur, "SHOW TEMPORARY TABLES") == [("t1",), ("t2",)]
    cur.execute("DROP TABLE t1")  # DROP TABLE drops the session's temporary table first
    assert rows(cur, "SHOW TEMPORARY TABLES") == [("t2",)]


def test_shadowing_a_normal_table_and_other_sessions(fe: FeProcess, db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    cur.execute("CREATE TEMPORARY TABLE t (c1 INT, c2 INT, c3 INT) PRIMARY KEY(c1) DISTRIBUTED BY HASH(c1)")
    assert rows(cur, "SELECT * FROM t") == []
    cur.execute("INSERT INTO t VALUES (1, 1, 1), (2, 2, 2)")
    assert rows(cur, f"SELECT * FROM {name}.t ORDER BY c1") == [(1, 1, 1), (2, 2, 2)]
    session = rows(cur, "SELECT session_id()")[0][0]
    described = rows(cur, "DESC information_schema.temp_tables")
    assert described[0] == ("TABLE_CATALOG", "varchar(512)", "YES", "false", None, "")
    assert [d[:2] for d in described[-2:]] == [("SESSION", "varchar(128)"), ("TABLE_ID", "bigint")]
    assert rows(cur, TEMP_TABLES + f" WHERE `session` = '{session}'") == [(name, "t", "BASE TABLE", 2)]
    assert rows(cur, f"SELECT TABLE_NAME FROM information_schema.tables WHERE TABLE_SCHEMA = '{name}'") == [("t",)]
    assert rows(cur, f"SELECT count(*) FROM information_schema.columns WHERE TABLE_SCHEMA = '{name}'") == [(2,)]
    with connect(fe, database=name) as other:
        other_cur = other.cursor()
        assert rows(other_cur, "SELECT * FROM t ORDER BY c1") == [(1, 1), (2, 2), (3, 3)]
        assert rows(other_cur, "SHOW TEMPORARY TABLES") == []
        assert error_of(other_cur, "DROP TEMPORARY TABLE t")[0] == 5502
        other_cur.execute("CREATE TEMPORARY TABLE t LIKE t")  # its own, copied from the normal t
        assert rows(other_cur, "SELECT * FROM t") == []
        assert rows(other_cur, f"{TEMP_TABLES} WHERE TABLE_SCHEMA = '{name}' ORDER BY TABLE_ROWS") == [
            (name, "t", "BASE TABLE", 0), (name, "t", "BASE TABLE", 2)]  # root sees every session's
    # Another session's table is not reached by spelling its key.
    assert error_of(cur, f"SELECT * FROM `t\x00temporary\x00{session}`")[0] in (1064, 1146)
    cur.execute("DROP TEMPORARY TABLE t")
    assert rows(cur, "SELECT * FROM t ORDER BY c1") == [(1, 1), (2, 2), (3, 3)]


def test_a_session_that_ends_drops_its_temporary_tables(fe: FeProcess, db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    with connect(fe, database=name) as ending:
        ending.cursor().execute("CREATE TEMPORARY TABLE gone (a INT) DUPLICATE KEY(a) DISTRIBUTED BY HASH(a)")
        ending.cursor().execute("INSERT INTO gone VALUES (1)")
        assert rows(cur, f"{TEMP_TABLES} WHERE TABLE_SCHEMA = '{name}'") == [(name, "gone", "BASE TABLE", 1)]
    wait_until(lambda: rows(cur, f"{TEMP_TABLES} WHERE TABLE_SCHEMA = '{name}'") == [],
               what="the ended session's temporary table to be dropped")
    cur.execute("DROP DATABASE " + name)  # no temporary table is left to hold it


def test_a_user_with_create_owns_their_temporary_table(fe: FeProcess, db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    user = f"{name}_u"
    cur.execute(f"CREATE USER {user} IDENTIFIED BY 'pw'")
    cur.execute(f"GRANT CREATE ON {name}.* TO {user}")
    try:
        with connect(fe, user=user, password="pw", database=name) as mine:
            own = mine.cursor()
            own.execute("CREATE TEMPORARY TABLE mine (a INT) DUPLICATE KEY(a) DISTRIBUTED BY HASH(a)")
            own.execute("INSERT INTO mine VALUES (7)")
            assert rows(own, "SELECT * FROM mine") == [(7,)]
            assert rows(own, "SELECT TABLE_NAME FROM information_schema.temp_tables") == [("mine",)]
            assert error_of(own, "SELECT * FROM t")[0] == 1142  # the normal table needs SELECT
            own.execute("DROP TEMPORARY TABLE mine")
    finally:
        cur.execute(f"DROP USER {user}")


@pytest.mark.parametrize(("statements", "code", "message"), [
    ([CREATE_T0, CREATE_T0], 1050, "Getting analyzing error. Detail message: Table 't0' already exists."),
    (["CREATE TEMPORARY TABLE t1 LIKE t", "CREATE TEMPORARY TABLE t1 LIKE t"], 1050,
     "Getting analyzing error. Detail message: Table 't1' already exists."),
    (["CREATE TEMPORARY TABLE t1 AS SELECT * FROM t", "CREATE TEMPORARY TABLE t1 AS SELECT * FROM t"], 1050,
     "Getting analyzing error. Detail message: Table 't1' already exists."),
    ([CREATE_T0, "ALTER TABLE t0 ADD COLUMN c3 INT DEFAULT NULL"], 1064,
     "Getting analyzing error. Detail message: temporary table doesn't support alter table statement."),
    ([CREATE_T0, "ALTER TABLE t0 RENAME t9"], 1064,
     "Getting analyzing error. Detail message: temporary table doesn't support alter table statement."),
    ([CREATE_T0, "CREATE VIEW v1 AS SELECT * FROM t0"], 1064,
     "Getting analyzing error. Detail message: View can't base on temporary table."),
    ([CREATE_T0, "CREATE VIEW v1 AS SELECT * FROM t", "ALTER VIEW v1 AS SELECT * FROM t0"], 1064,
     "Getting analyzing error. Detail message: View can't base on temporary table."),
    (["DROP TEMPORARY TABLE `a`.`b`.`c`"], 1064,
     "Getting analyzing error. Detail message: drop temporary table can only be execute under default catalog."),
    (["DROP TEMPORARY TABLE `b`.`c`"], 5501, "Getting analyzing error. Detail message: Unknown database 'b'."),
    (["DROP TEMPORARY TABLE `c`"], 5502, "Getting analyzing error. Detail message: Unknown table 'c'."),
    (["DROP TEMPORARY TABLE t"], 5502, "Getting analyzing error. Detail message: Unknown table 't'."),
    # No name may spell a temporary table's key (its name, a NUL, the session).
    (["CREATE TABLE `a\x00temporary\x00b` (c INT) DISTRIBUTED BY HASH(c)"], 1064,
     "Getting analyzing error. Detail message: Incorrect table name."),
])
def test_errors(db: tuple[str, pymysql.cursors.Cursor], statements: list[str], code: int, message: str) -> None:
    _, cur = db
    for statement in statements[:-1]:
        cur.execute(statement)
    assert error_of(cur, statements[-1]) == (code, message)


def test_a_database_with_temporary_tables_drops_only_with_force(fe: FeProcess) -> None:
    with fresh_database(fe, "tempdb", "CREATE TEMPORARY TABLE x (a INT) DUPLICATE KEY(a) DISTRIBUTED BY HASH(a)") as (
            name, cur):
        code, message = error_of(cur, f"DROP DATABASE {name}")
        assert code == 1064 and "cannot be dropped because there are still some temporary tables" in message
        cur.execute(f"DROP DATABASE {name} FORCE")
        assert rows(cur, TEMP_TABLES + f" WHERE TABLE_SCHEMA = '{name}'") == []


def test_the_frontend_config_turns_them_off(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    _, cur = db
    disabled = (1064, "Getting syntax error. Detail message: FE config 'enable_experimental_temporary_table' is "
                      "disabled.")
    cur.execute('ADMIN SET FRONTEND CONFIG ("enable_experimental_temporary_table" = "false")')
    try:
        for statement in (CREATE_T0, "CREATE TEMPORARY TABLE t2 LIKE t", "CREATE TEMPORARY TABLE t3 AS SELECT * FROM t"):
            assert error_of(cur, statement) == disabled
    finally:
        cur.execute('ADMIN SET FRONTEND CONFIG ("enable_experimental_temporary_table" = "true")')
    cur.execute(CREATE_T0)
    cur.execute("CREATE TEMPORARY TABLE t2 LIKE t")
    cur.execute("CREATE TEMPORARY TABLE t3 AS SELECT * FROM t")
    assert rows(cur, "SHOW TEMPORARY TABLES") == [("t0",), ("t2",), ("t3",)]


@pytest.mark.parametrize("volume_kind", ["local"])
def test_a_restarted_frontend_drops_the_temporary_tables_of_its_old_sessions(fe_conf_values: dict[str, str]) -> None:
    config = load_config(None, **fe_conf_values)
    first = Frontend.open(config)
    # Stopped with its session open: nothing dropped the session's table.
    Session(first).execute_script("CREATE DATABASE r; USE r; CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a);"
                                  "INSERT INTO t VALUES (1); CREATE TEMPORARY TABLE kept (a INT) DISTRIBUTED BY "
                                  "HASH(a); INSERT INTO kept VALUES (1);")
    first.close()
    second = Frontend.open(config)
    try:
        reader = Session(second, database="r")
        wait_until(lambda: reader.execute("SELECT count(*) FROM information_schema.temp_tables").rows() == [(0,)],
                   what="the old session's temporary table to be dropped")
        assert reader.execute("SELECT * FROM t").rows() == [(1,)]
    finally:
        second.close()


@pytest.mark.parametrize("volume_kind", ["local"])
def test_snapshots_and_restores_never_carry_them(fe_conf_values: dict[str, str], tmp_path: Path) -> None:
    values = dict(fe_conf_values, cluster_snapshot_pitr_window_seconds="3600")
    fe = Frontend.open(load_config(None, **values))
    session = Session(fe)
    session.execute_script("CREATE DATABASE p; USE p; CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 2;"
                           "INSERT INTO t VALUES (1); CREATE TEMPORARY TABLE t (a INT, b INT) DISTRIBUTED BY "
                           "HASH(a); INSERT INTO t VALUES (5, 5); ADMIN CREATE CLUSTER SNAPSHOT base;")
    session.execute("INSERT INTO t VALUES (6, 6)")  # after the snapshot: replayed by a point-in-time restore
    session.execute("CREATE TEMPORARY TABLE later (a INT) DISTRIBUTED BY HASH(a)")
    last = fe.position.entry_id
    cluster = fe.keys.cluster_id
    fe.close()
    base = snapshot_yaml(values, cluster, "base")
    for target in ("", f"journal_id: {last}"):
        config = load_config(None, **dict(values, meta_dir=str(tmp_path / f"meta-{len(target)}")))
        text = base if not target else base.replace(
            "  storage_volume_name", f"  restore_to:\n    {target}\n  storage_volume_name")
        _restore(config, text, tmp_path)
        restored = Frontend.open(config)
        try:
            reader = Session(restored, database="p")
            assert reader.execute("SELECT * FROM t").rows() == [(1,)]
            assert reader.execute("SELECT count(*) FROM information_schema.temp_tables").rows() == [(0,)]
            assert reader.execute("SHOW TABLES").rows() == [("t",)]
        finally:
            restored.close()


@pytest.mark.parametrize("volume_kind", ["local"])
def test_vacuum_removes_a_dropped_temporary_tables_data(fe_conf_values: dict[str, str]) -> None:
    fe = Frontend.open(load_config(None, vacuum_grace_period_seconds="0", **fe_conf_values))  # trash: 1 day
    session = Session(fe)
    try:
        session.execute_script("CREATE DATABASE w; USE w; CREATE TEMPORARY TABLE x (a INT) DISTRIBUTED BY "
                               "HASH(a) BUCKETS 1; INSERT INTO x VALUES (1), (2);")
        table_id = session.execute("SELECT TABLE_ID FROM information_schema.temp_tables").rows()[0][0]
        prefix = fe.keys.table_prefix(fe.catalog.state.databases["w"].id, table_id)
        assert any(key.startswith(prefix) for key in data_keys(session))
        session.execute("DROP TEMPORARY TABLE x")
        vacuum(session)  # no recycle bin keeps it: a temporary table is never recovered
        assert not any(key.startswith(prefix) for key in data_keys(session))
    finally:
        fe.close()


def test_a_followers_session_forwards_its_writes_and_its_fe_stopping_drops_them(tmp_path: Path) -> None:
    cluster = FeCluster(tmp_path, {"local_storage_path": str(tmp_path / "storage"),
                                   "bdbje_heartbeat_timeout_second": "3"})
    try:
        leader = cluster.new_fe()
        cluster.start(leader)
        follower = cluster.add(leader)
        cluster.sql(leader, "CREATE DATABASE f", "CREATE TABLE f.t (a INT) DISTRIBUTED BY HASH(a)",
                    "INSERT INTO f.t VALUES (1)")
        wait_until(lambda: cluster.sql_or_none(follower, "SELECT count(*) FROM f.t") == [(1,)],
                   what="the follower to replay")
        with connect(follower.running, database="f") as on_follower:
            cur = on_follower.cursor()
            cur.execute("CREATE TEMPORARY TABLE t (a INT, b INT) DISTRIBUTED BY HASH(a)")  # forwarded
            cur.execute("INSERT INTO t VALUES (2, 2)")  # forwarded, as the same session
            assert rows(cur, "SELECT * FROM t") == [(2, 2)]  # read on the follower
            assert rows(cur, "SHOW TEMPORARY TABLES") == [("t",)]
            assert cluster.sql(leader, "SELECT * FROM f.t") == [(1,)]
        wait_until(lambda: cluster.sql(leader, TEMP_TABLES) == [], what="the closed session's table to be dropped")
        with connect(follower.running, database="f") as on_follower:
            on_follower.cursor().execute("CREATE TEMPORARY TABLE orphan (a INT) DISTRIBUTED BY HASH(a)")
            cluster.kill(follower)
        # While the follower is down its sessions' tables stay (it may only be slow); once it runs
        # again under a new process, the leader drops what its old sessions left.
        assert cluster.sql(leader, "SELECT TABLE_NAME FROM information_schema.temp_tables") == [("orphan",)]
        cluster.start(follower, helper=leader)
        wait_until(lambda: cluster.sql(leader, TEMP_TABLES) == [], what="the stopped FE's table to be dropped")
        assert cluster.sql(leader, "SELECT * FROM f.t") == [(1,)]
    finally:
        cluster.stop()
