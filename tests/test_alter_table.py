"""ALTER TABLE column changes on immutable rowsets (a new schema version; old rowsets read through it),
ALTER TABLE RENAME, TRUNCATE TABLE ... PARTITION and INSERT OVERWRITE, with StarRocks' messages."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pymysql
import pytest

import cairn.api
from cairn.api import load_config
from cairn.errors import AnalysisError, CairnError, DuplicateColumnError, NotNullError, UnknownPartitionError
from cairn.fe.frontend import Frontend
from cairn.lake.manifest import MANIFESTS, Rowset
from cairn.server.session import Session
from test_restore import _restore

_names = itertools.count(1)


@pytest.fixture
def fe(tmp_path: Path) -> Iterator[Frontend]:
    frontend = Frontend.open(load_config(None, lake_compaction_score_selector_min_score="2",
                                         lake_compaction_interval_seconds="3600", vacuum_interval_seconds="3600",
                                         local_storage_path=str(tmp_path / "storage"),
                                         meta_dir=str(tmp_path / "meta")))
    yield frontend
    frontend.close()


@pytest.fixture
def s(fe: Frontend) -> Session:
    session = Session(fe)
    name = f"alter_{next(_names)}"
    session.execute_script(f"CREATE DATABASE {name}; USE {name}")
    return session


def rows(session: Session, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in session.execute(sql).rows()]


def error(session: Session, sql: str) -> CairnError:
    with pytest.raises(CairnError) as caught:
        session.execute(sql)
    return caught.value


def rowsets(session: Session, table: str) -> list[Rowset]:
    fe = session.frontend
    db, found = fe.catalog.table(session.database, table)
    store = fe.store_for(db.storage_volume)
    manifests = MANIFESTS.get_many(store, [p.manifest_key for p in found.partitions if p.manifest_key])
    return [r for m in manifests for rs in m.tablets.values() for r in rs]


def test_old_rowsets_read_through_added_dropped_renamed_and_modified_columns(s: Session) -> None:
    s.execute("CREATE TABLE t (k INT, v INT, s VARCHAR(10)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    s.execute("INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b')")
    s.execute("ALTER TABLE t ADD COLUMN n INT DEFAULT '7' AFTER k")
    s.execute("INSERT INTO t VALUES (3, NULL, 30, 'c')")  # an explicit NULL stays NULL, old rows read the default
    assert rows(s, "SELECT * FROM t ORDER BY k") == [(1, 7, 10, "a"), (2, 7, 20, "b"), (3, None, 30, "c")]
    s.execute("ALTER TABLE t RENAME COLUMN v TO v2")
    s.execute("ALTER TABLE t MODIFY COLUMN v2 BIGINT")
    s.execute("ALTER TABLE t DROP COLUMN s")
    s.execute("ALTER TABLE t ADD COLUMN s INT")  # a new column of an old name: not the dropped one's values
    s.execute("ALTER TABLE t ADD COLUMN (x1 INT, x2 VARCHAR(5) DEFAULT 'zz')")
    s.execute("INSERT INTO t VALUES (4, 4, 40000000000, 4, 44, 'new')")
    assert rows(s, "SELECT * FROM t ORDER BY k") == [
        (1, 7, 10, None, None, "zz"), (2, 7, 20, None, None, "zz"), (3, None, 30, None, None, "zz"),
        (4, 4, 40000000000, 4, 44, "new")]
    assert rows(s, "SELECT k FROM t WHERE v2 > 15 AND x2 = 'zz' ORDER BY k") == [(2,), (3,)]
    assert [r[:2] for r in rows(s, "DESC t")] == [("k", "int"), ("n", "int"), ("v2", "bigint"), ("s", "int"),
                                                 ("x1", "int"), ("x2", "varchar(5)")]
    assert "`v2` bigint(20) NULL" in rows(s, "SHOW CREATE TABLE t")[0][1]
    # The rowsets are the ones first written: nothing was rewritten.
    assert sorted({r.schema_version for r in rowsets(s, "t")}) == [0, 1, 6]
    s.execute("DELETE FROM t WHERE v2 = 10")  # copy-on-write of an old rowset writes it in the current schema
    assert rows(s, "SELECT k, n, v2, x2 FROM t ORDER BY k") == [(2, 7, 20, "zz"), (3, None, 30, "zz"),
                                                                (4, 4, 40000000000, "new")]
    s.execute("ALTER TABLE t RENAME t2")
    assert rows(s, "SELECT count(*) FROM t2") == [(3,)]
    assert "doesn't exist" in str(error(s, "SELECT * FROM t"))


def test_keyed_tables_merge_rowsets_of_every_schema_version(s: Session) -> None:
    s.execute("CREATE TABLE p (k INT, v INT) PRIMARY KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    s.execute("INSERT INTO p VALUES (1, 1), (2, 2), (3, 3)")
    s.execute("ALTER TABLE p ADD COLUMN w VARCHAR(3) DEFAULT 'x'")
    s.execute("INSERT INTO p VALUES (2, 22, 'y')")
    s.execute("ALTER TABLE p RENAME COLUMN k TO id")
    s.execute("ALTER TABLE p RENAME COLUMN v TO vv")
    s.execute("INSERT INTO p (id, vv) VALUES (3, 33)")
    s.execute("DELETE FROM p WHERE vv = 1")
    assert rows(s, "SELECT * FROM p ORDER BY id") == [(2, 22, "y"), (3, 33, "x")]
    s.execute("UPDATE p SET w = 'u' WHERE id = 3")
    assert rows(s, "SELECT * FROM p ORDER BY id") == [(2, 22, "y"), (3, 33, "u")]
    s.execute("CREATE TABLE a (k INT, s INT SUM) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    s.execute("INSERT INTO a VALUES (1, 1), (1, 2)")
    s.execute("ALTER TABLE a ADD COLUMN m BIGINT MAX DEFAULT '5'")
    s.execute("ALTER TABLE a MODIFY COLUMN s BIGINT SUM")
    s.execute("INSERT INTO a VALUES (1, 10000000000, 3)")
    assert rows(s, "SELECT * FROM a") == [(1, 10000000003, 5)]


@pytest.mark.parametrize("create, statement, message", [
    ("CREATE TABLE t (k BIGINT, k1 DATETIME, v0 INT, v1 VARCHAR(100)) PRIMARY KEY(k, k1) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t ADD COLUMN k FLOAT",
     'Can not add column which already exists in column id: k, you can remove `k` bigint(20) NOT NULL COMMENT "" '
     "and try again."),
    ("CREATE TABLE t (k BIGINT, k1 DATETIME, v0 INT) PRIMARY KEY(k, k1) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t DROP COLUMN k1", "Can not drop key column in primary data model table"),
    ("CREATE TABLE t (k BIGINT, k1 DATETIME, v0 INT) PRIMARY KEY(k, k1) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t MODIFY COLUMN k LARGEINT", "Can not modify key column: k for primary key table"),
    ("CREATE TABLE t (k BIGINT, v0 INT) PRIMARY KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t ADD COLUMN k2 SMALLINT KEY", "Cannot specify aggregate function 'REPLACE' for key column 'k2'"),
    ("CREATE TABLE t (k BIGINT, v0 BIGINT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t DROP COLUMN k", "Can not drop key column in Unique data model table"),
    ("CREATE TABLE t (k BIGINT, v0 BIGINT SUM) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t DROP COLUMN k", "Can not drop key column in Aggregate data model table"),
    ("CREATE TABLE t (k BIGINT, v0 BIGINT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t ADD COLUMN v2 BIGINT MIN", "Can not assign aggregation method on column in Unique data model "
     "table: v2"),
    ("CREATE TABLE t (k BIGINT, v0 BIGINT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t ADD COLUMN v2 BIGINT, ADD COLUMN v2 FLOAT", "Repeatedly add same column with different "
     "definition: v2"),
    ("CREATE TABLE t (k BIGINT, v0 BIGINT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t ADD COLUMN v2 BIGINT, ADD COLUMN v0 BIGINT", "Can not add column which already exists in base "
     "table: v0"),
    ("CREATE TABLE t (k BIGINT, v0 BIGINT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t DROP COLUMN v0, DROP COLUMN v100", "Column does not exists: v100"),
    ("CREATE TABLE t (c0 INT, c1 INT NOT NULL) DUPLICATE KEY(c0) PARTITION BY LIST(c1) (PARTITION p0 VALUES IN "
     "('0')) DISTRIBUTED BY HASH(c0)", "ALTER TABLE t DROP COLUMN c1", "Partition column[c1] cannot be dropped. "
     "index[t]"),
    ("CREATE TABLE t (c0 INT, c1 INT) DUPLICATE KEY(c0) DISTRIBUTED BY HASH(c1)",
     "ALTER TABLE t DROP COLUMN c1", "Distribution column[c1] cannot be dropped. index[t]"),
    ("CREATE TABLE t (k INT, v BIGINT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t MODIFY COLUMN v INT", "Can not change BIGINT to INT"),
    ("CREATE TABLE t (k INT, v VARCHAR(10)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t MODIFY COLUMN v VARCHAR(5)", "Cannot shorten string length"),
    ("CREATE TABLE t (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t MODIFY COLUMN k BIGINT", "Can not modify distribution column[k]. index[t]"),
    ("CREATE TABLE t (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)",
     "ALTER TABLE t ADD COLUMN n INT NOT NULL", "Can not add column which is not nullable and has no default value"),
])
def test_refused_changes_say_what_starrocks_says_and_change_nothing(s: Session, create: str, statement: str,
                                                                    message: str) -> None:
    s.execute(create)
    s.execute("INSERT INTO t SELECT * FROM t")  # nothing; the table is unchanged below
    before = rows(s, "DESC t")
    found = error(s, statement)
    assert isinstance(found, AnalysisError) and message in str(found)
    assert rows(s, "DESC t") == before


def test_rename_column_to_a_taken_name_and_unknown_columns_after_a_rename(s: Session) -> None:
    s.execute("CREATE TABLE t2 (k1 INT, v1 INT, v2 INT) DUPLICATE KEY(k1) DISTRIBUTED BY HASH(k1)")
    s.execute("INSERT INTO t2 VALUES (1, 2, 3)")
    s.execute("ALTER TABLE t2 RENAME COLUMN k1 TO k2")
    found = error(s, "ALTER TABLE t2 RENAME COLUMN v1 TO v2")
    assert isinstance(found, DuplicateColumnError) and found.mysql_code == 1060
    found = error(s, "INSERT INTO t2 (k1, v1, v2) VALUES (4, 5, 6)")
    assert isinstance(found, AnalysisError) and "Detail message: Unknown column 'k1' in 't2'." in str(found)
    s.execute("INSERT INTO t2 (k2, v1, v2) VALUES (4, 5, 6)")
    assert rows(s, "SELECT * FROM t2 ORDER BY k2") == [(1, 2, 3), (4, 5, 6)]
    ddl = rows(s, "SHOW CREATE TABLE t2")[0][1]
    assert "DUPLICATE KEY(`k2`)" in ddl and "DISTRIBUTED BY HASH(`k2`)" in ddl
    s.execute("ALTER TABLE t2 ADD COLUMN k3 INT, DROP COLUMN k3")  # the actions apply in order
    assert [r[0] for r in rows(s, "DESC t2")] == ["k2", "v1", "v2"]


def test_compaction_rewrites_old_rowsets_into_the_current_schema(s: Session) -> None:
    s.execute("CREATE TABLE t (k INT, v INT, gone INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    s.execute("CREATE TABLE p (k INT, v INT) PRIMARY KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    for table in ("t", "p"):
        s.execute(f"INSERT INTO {table} (k, v) VALUES (1, 10), (2, 20)")
        s.execute(f"ALTER TABLE {table} RENAME COLUMN v TO value")
        s.execute(f"ALTER TABLE {table} ADD COLUMN n INT DEFAULT '5'")
        s.execute(f"INSERT INTO {table} (k, value, n) VALUES (2, 21, 6), (3, 30, 7)")
    s.execute("ALTER TABLE t DROP COLUMN gone")
    s.execute("ALTER TABLE t MODIFY COLUMN value BIGINT")
    before = {t: rows(s, f"SELECT * FROM {t} ORDER BY k, value") for t in ("t", "p")}
    assert before["p"] == [(1, 10, 5), (2, 21, 6), (3, 30, 7)]
    assert s.frontend.compaction.run_once().tablets_compacted == 2
    for table in ("t", "p"):
        (only,) = rowsets(s, table)
        _, current = s.frontend.catalog.table(s.database, table)
        assert only.schema_version == current.schema_version
        path = s.frontend.store_for("builtin_storage_volume").local_path(only.key)
        assert path is not None and pq.read_schema(path).names == [c.name for c in current.columns]
        assert rows(s, f"SELECT * FROM {table} ORDER BY k, value") == before[table]


def test_a_snapshot_restore_brings_back_the_schema_and_rows_of_its_time(tmp_path: Path) -> None:
    fe = cairn.api.open_frontend(local_storage_path=tmp_path / "storage", meta_dir=tmp_path / "meta")
    try:
        session = cairn.api.connect(fe)
        session.execute_script(
            "CREATE DATABASE d; USE d;"
            "CREATE TABLE t (k INT, v INT, s VARCHAR(5)) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2;"
            "INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b');")
        session.execute("ADMIN CREATE CLUSTER SNAPSHOT schema_then")
        session.execute_script(
            "ALTER TABLE t DROP COLUMN s; ALTER TABLE t RENAME COLUMN v TO value;"
            "ALTER TABLE t MODIFY COLUMN value BIGINT; ALTER TABLE t ADD COLUMN n INT DEFAULT '3';"
            "INSERT INTO t VALUES (3, 30, 4);")
        now = rows(session, "SELECT * FROM t ORDER BY k")
        assert now == [(1, 10, 3), (2, 20, 3), (3, 30, 4)]
        cluster_id = fe.keys.cluster_id
    finally:
        fe.close()
    reopened = cairn.api.open_frontend(local_storage_path=tmp_path / "storage", meta_dir=tmp_path / "meta")
    try:  # a restart replays the schema changes
        assert rows(cairn.api.connect(reopened, database="d"), "SELECT * FROM t ORDER BY k") == now
    finally:
        reopened.close()
    config = cairn.api.load_config(None, local_storage_path=tmp_path / "storage", meta_dir=tmp_path / "restored")
    _restore(config, f"cluster_snapshot:\n  cluster_snapshot_path: {tmp_path / 'storage'}/{cluster_id}/meta/image/schema_then\n"
                     "  storage_volume_name: builtin_storage_volume\nfrontends: []\ncompute_nodes: []\n", tmp_path)
    restored = Frontend.open(config)
    try:
        after = cairn.api.connect(restored, database="d")
        assert [r[:2] for r in rows(after, "DESC t")] == [("k", "int"), ("v", "int"), ("s", "varchar(5)")]
        assert rows(after, "SELECT * FROM t ORDER BY k") == [(1, 10, "a"), (2, 20, "b")]
    finally:
        restored.close()


PARTITIONED = ("CREATE TABLE r (d DATE, v INT) DUPLICATE KEY(d) PARTITION BY RANGE(d) ("
               "PARTITION p1 VALUES LESS THAN ('2020-01-02'), PARTITION p2 VALUES LESS THAN ('2020-01-03'), "
               "PARTITION p3 VALUES LESS THAN ('2020-01-04')) DISTRIBUTED BY HASH(v) BUCKETS 2")
DAY = [datetime.date(2020, 1, day) for day in range(1, 4)]


def test_insert_overwrite_replaces_the_partitions_it_names_in_one_commit(s: Session) -> None:
    s.execute(PARTITIONED)
    s.execute("INSERT INTO r VALUES ('2020-01-01', 1), ('2020-01-02', 2), ('2020-01-03', 3)")
    s.execute("INSERT OVERWRITE r PARTITION (p2, p3) SELECT '2020-01-02', 22")
    assert rows(s, "SELECT * FROM r ORDER BY d") == [(DAY[0], 1), (DAY[1], 22)]
    _, table = s.frontend.catalog.table(s.database, "r")
    p2, p3 = table.partition("p2"), table.partition("p3")
    assert p2 is not None and p3 is not None and p3.manifest_key is None
    assert p2.visible_version_time == p3.visible_version_time  # one journal entry made both visible
    s.execute("INSERT OVERWRITE r VALUES ('2020-01-03', 33)")  # no PARTITION: every partition
    assert rows(s, "SELECT * FROM r ORDER BY d") == [(DAY[2], 33)]
    s.execute("INSERT OVERWRITE r SELECT * FROM r WHERE false")
    assert rows(s, "SELECT count(*) FROM r") == [(0,)]


def test_a_failed_insert_overwrite_leaves_the_old_rows_whole(s: Session) -> None:
    s.execute(PARTITIONED)
    s.execute("CREATE TABLE n (k INT NOT NULL, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    s.execute("INSERT INTO r VALUES ('2020-01-01', 1), ('2020-01-02', 2)")
    s.execute("INSERT INTO n VALUES (1, 1)")
    found = error(s, "INSERT OVERWRITE r PARTITION (p2) VALUES ('2020-01-01', 9)")
    assert "does not name" in str(found) and "p1" in str(found)
    assert isinstance(error(s, "INSERT OVERWRITE r PARTITION (p9) VALUES ('2020-01-01', 9)"), UnknownPartitionError)
    assert isinstance(error(s, "INSERT OVERWRITE n VALUES (2, 2), (NULL, 3)"), NotNullError)
    assert rows(s, "SELECT * FROM r ORDER BY d") == [(DAY[0], 1), (DAY[1], 2)]
    assert rows(s, "SELECT * FROM n") == [(1, 1)]


def test_insert_overwrite_on_keyed_tables_and_by_name(s: Session) -> None:
    s.execute("CREATE TABLE p (k INT, v INT, w INT DEFAULT '10') PRIMARY KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    s.execute("CREATE TABLE a (k INT, s INT SUM) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2")
    s.execute("INSERT INTO p VALUES (1, 1, 1), (2, 2, 2)")
    s.execute("INSERT INTO a VALUES (1, 1), (1, 2)")
    s.execute("INSERT OVERWRITE p VALUES (3, 3, 3), (3, 4, 4)")
    s.execute("INSERT OVERWRITE a VALUES (1, 5), (1, 6)")
    assert rows(s, "SELECT * FROM p") == [(3, 4, 4)]
    assert rows(s, "SELECT * FROM a") == [(1, 11)]
    s.execute("INSERT OVERWRITE p BY NAME SELECT 7 AS v, 5 AS k")
    assert rows(s, "SELECT * FROM p") == [(5, 7, 10)]


def test_truncate_table_partition_empties_only_those_partitions(s: Session) -> None:
    s.execute(PARTITIONED)
    s.execute("INSERT INTO r VALUES ('2020-01-01', 1), ('2020-01-02', 2), ('2020-01-03', 3)")
    s.execute("TRUNCATE TABLE r PARTITION (p1, p3)")
    assert rows(s, "SELECT * FROM r") == [(DAY[1], 2)]
    assert isinstance(error(s, "TRUNCATE TABLE r PARTITION (p7)"), UnknownPartitionError)
    s.execute("TRUNCATE TABLE r")
    assert rows(s, "SELECT count(*) FROM r") == [(0,)]


def test_compute_nodes_read_rowsets_of_older_schema_versions(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A node's scan maps each rowset through the version it was written under, pushed filters and
    partial aggregates included, for a DUPLICATE KEY and a PRIMARY KEY table."""
    from cn_process import start_cn
    from conftest import cluster_conf_values
    from fe_process import start_fe
    from test_compute_nodes import FAST_HEARTBEATS

    fe_process = start_fe(tmp_path, {**cluster_conf_values(tmp_path, "local", request), **FAST_HEARTBEATS})
    node = start_cn(tmp_path)
    try:
        connection = pymysql.connect(host="127.0.0.1", port=fe_process.query_port, user="root", autocommit=True)
        cursor = connection.cursor()

        def run(sql: str) -> list[tuple[object, ...]]:
            cursor.execute(sql)
            return [tuple(r) for r in cursor.fetchall()]

        run(f'ALTER SYSTEM ADD COMPUTE NODE "{node.address}"')
        run("CREATE DATABASE n")
        run("USE n")
        for keys in ("DUPLICATE KEY(k)", "PRIMARY KEY(k)"):
            run("DROP TABLE IF EXISTS t")
            run(f"CREATE TABLE t (k INT, v INT, gone VARCHAR(3)) {keys} DISTRIBUTED BY HASH(k) BUCKETS 2")
            run("INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c')")
            run("ALTER TABLE t RENAME COLUMN v TO value")
            run("ALTER TABLE t DROP COLUMN gone")
            run("ALTER TABLE t MODIFY COLUMN value BIGINT")
            run("ALTER TABLE t ADD COLUMN n INT DEFAULT '4'")
            run("INSERT INTO t VALUES (3, 31, 5), (4, 40, NULL)")
            expected = [(1, 10, 4), (2, 20, 4), (3, 31, 5), (4, 40, None)] if keys.startswith("PRIMARY") else \
                [(1, 10, 4), (2, 20, 4), (3, 30, 4), (3, 31, 5), (4, 40, None)]
            assert run("SELECT * FROM t ORDER BY k, value") == expected
            assert run("SELECT count(*), sum(value) FROM t WHERE n = 4") == \
                [(len([r for r in expected if r[2] == 4]), sum(r[1] for r in expected if r[2] == 4))]
        assert node.report()["counters"].get("scans", 0) > 0
        connection.close()
    finally:
        node.stop()
        fe_process.stop()


def test_changes_cairn_cannot_read_back_exactly_are_refused(s: Session) -> None:
    s.execute("CREATE TABLE a (k INT, s BIGINT SUM, f DOUBLE MAX) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    s.execute("INSERT INTO a VALUES (1, 1, 0.5)")
    s.execute("INSERT INTO a VALUES (1, 2, 0.25)")
    assert "not supported" in str(error(s, "ALTER TABLE a ADD COLUMN t BIGINT SUM DEFAULT '3'"))
    assert "Can not change DOUBLE to VARCHAR(10)" in str(error(s, "ALTER TABLE a MODIFY COLUMN f VARCHAR(10) MAX"))
    s.execute("ALTER TABLE a ADD COLUMN t BIGINT SUM DEFAULT '0'")
    s.execute("INSERT INTO a VALUES (1, 3, 0.75, 4)")
    assert rows(s, "SELECT * FROM a") == [(1, 6, 0.75, 4)]


@pytest.mark.parametrize("statement, fragment", [
    ("ALTER TABLE t ORDER BY (v)", "ALTER TABLE ORDER BY (v) is not supported yet"),
    ("ALTER TABLE t CHANGE COLUMN v w INT", "ALTER TABLE CHANGE COLUMN"),
    ("ALTER TABLE t ADD COLUMN z BIGINT AUTO_INCREMENT", "AUTO_INCREMENT in ADD COLUMN is not supported yet"),
    ("ALTER TABLE t ADD COLUMN z INT AS (k + 1)", "in ADD COLUMN is not supported yet"),
    ("ALTER TABLE t SET ('storage_volume' = 'builtin_storage_volume')",
     "ALTER TABLE SET of the property 'storage_volume' is not supported yet"),
    ("ALTER TABLE t SET ('bloom_filter_columns' = 'v')", "ALTER TABLE SET of the property 'bloom_filter_columns'"),
    ("ALTER TABLE t SET ('no_such_key' = 'x')", "Unknown properties: {no_such_key=x}"),
    ("ALTER TABLE t ADD COLUMN z DATETIME DEFAULT CURRENT_TIMESTAMP", "DEFAULT CURRENT_TIMESTAMP"),
    ("ALTER TABLE a ADD COLUMN h VARCHAR(10) HLL_UNION", "Aggregate type HLL_UNION (column 'h')"),
    ("ALTER TABLE a MODIFY COLUMN v BIGINT MAX", "Can not change aggregation type"),
])
def test_alter_table_forms_cairn_does_not_implement_are_refused(s: Session, statement: str, fragment: str) -> None:
    s.execute("CREATE TABLE t (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)")
    s.execute("CREATE TABLE a (k INT, v INT SUM) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k)")
    before = (s.frontend.position, rows(s, "DESC t"))
    assert fragment in str(error(s, statement))
    assert (s.frontend.position, rows(s, "DESC t")) == before


def test_set_changes_the_properties_cairn_keeps(s: Session) -> None:
    s.execute("CREATE TABLE t (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) PROPERTIES ('compression' = 'LZ4')")
    s.execute("INSERT INTO t VALUES (1, 2)")
    s.execute("ALTER TABLE t SET ('compression' = 'ZSTD', 'replication_num' = '1')")
    ddl = rows(s, "SHOW CREATE TABLE t")[0][1]
    assert '"compression" = "ZSTD"' in ddl and '"replication_num" = "1"' in ddl
    assert rows(s, "SELECT * FROM t") == [(1, 2)]


def test_if_exists_forms_and_the_table_comment(s: Session) -> None:
    s.execute("CREATE TABLE t (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)")
    before = s.frontend.position
    s.execute("ALTER TABLE t ADD COLUMN IF NOT EXISTS v BIGINT")
    s.execute("ALTER TABLE t DROP COLUMN IF EXISTS nope")
    assert s.frontend.position == before and rows(s, "DESC t")[1][:2] == ("v", "int")
    s.execute("ALTER TABLE t COMMENT = 'about t'")
    assert 'COMMENT "about t"' in rows(s, "SHOW CREATE TABLE t")[0][1]
    s.execute("ALTER TABLE t MODIFY COLUMN v COMMENT 'the value'")
    assert 'COMMENT "the value"' in rows(s, "SHOW CREATE TABLE t")[0][1]


def test_rename_partition(s: Session) -> None:
    s.execute(PARTITIONED)
    s.execute("INSERT INTO r VALUES ('2020-01-01', 1), ('2020-01-02', 2)")
    s.execute("ALTER TABLE r RENAME PARTITION p1 first_day")
    assert rows(s, "SELECT * FROM r PARTITION (first_day)") == [(DAY[0], 1)]
    assert "already used" in str(error(s, "ALTER TABLE r RENAME PARTITION p2 first_day"))
    assert isinstance(error(s, "ALTER TABLE r RENAME PARTITION p1 other"), UnknownPartitionError)
    s.execute("CREATE TABLE e (k DATETIME) PARTITION BY date_trunc('day', k)")
    s.execute("INSERT INTO e VALUES ('2020-01-01')")
    assert str(error(s, "ALTER TABLE e RENAME PARTITION p20200101 pp")) == \
        "Table[e] is automatic partitioned. not support to rename partition name."


def test_insert_overwrite_partition_by_values_of_an_expression_partitioned_table(s: Session) -> None:
    s.execute("CREATE TABLE d (id BIGINT, province VARCHAR(20) NOT NULL, dt VARCHAR(20) NOT NULL) "
              "DUPLICATE KEY(id) PARTITION BY (dt, province) DISTRIBUTED BY HASH(id) BUCKETS 2")
    s.execute("ALTER TABLE d RENAME COLUMN dt TO datekey")
    s.execute("INSERT INTO d VALUES (1, 'bj', '2020-01-01'), (2, 'sh', '2020-01-01')")
    s.execute("INSERT OVERWRITE d PARTITION (datekey = '2020-01-01', province = 'bj') SELECT 3, 'bj', '2020-01-01'")
    s.execute("INSERT OVERWRITE d PARTITION (datekey = '2022-04-02', province = 'beijing') "
              "SELECT 4 AS id, 'beijing' AS province, '2022-04-02' AS datekey")
    assert rows(s, "SELECT * FROM d ORDER BY id") == [(2, "sh", "2020-01-01"), (3, "bj", "2020-01-01"),
                                                     (4, "beijing", "2022-04-02")]
    found = error(s, "INSERT OVERWRITE d PARTITION (datekey = '2020-01-01', province = 'sh') SELECT 5, 'bj', "
                     "'2020-01-01'")
    assert "does not name" in str(found)
    assert "No partition specified" in str(error(s, "INSERT OVERWRITE d PARTITION (province = 'sh') "
                                                               "SELECT 5, 'sh', '2020-01-01'"))
    assert rows(s, "SELECT count(*) FROM d") == [(3,)]


def test_privileges_on_a_table_follow_its_rename(s: Session) -> None:
    s.execute("CREATE TABLE t (k INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)")
    s.execute("INSERT INTO t VALUES (1)")
    s.execute("CREATE USER bob")
    s.execute(f"GRANT SELECT ON {s.database}.t TO bob")
    s.execute("ALTER TABLE t RENAME t2")
    bob = Session(s.frontend, user="bob")
    assert rows(bob, f"SELECT k FROM {s.database}.t2") == [(1,)]
