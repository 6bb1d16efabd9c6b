"""DDL and SHOW statements: what a user sees, and the errors for what is wrong."""

import pytest

from cairn.config.fe_config import FeConfig
from cairn.errors import (
    AnalysisError,
    CairnError,
    DatabaseExistsError,
    NoDatabaseSelectedError,
    SqlSyntaxError,
    TableExistsError,
    UnknownColumnError,
    UnknownDatabaseError,
    UnknownPartitionError,
    UnknownTableError,
)
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from seed import SEED_SETUP

ALL_TYPES = """CREATE TABLE all_types (
  k BIGINT NOT NULL, a TINYINT, b SMALLINT, c INT, d LARGEINT, e FLOAT, f DOUBLE, g DECIMAL(10,2),
  h BOOLEAN, i CHAR(3), j VARCHAR(20) DEFAULT 'x', l STRING, m DATE, n DATETIME COMMENT 'when')
DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES ("replication_num" = "1")"""


def test_seed_table_shape(session: Session) -> None:
    session.execute_script(SEED_SETUP)
    partitions = session.execute("SHOW PARTITIONS FROM source_wiki_edit")
    assert [row[1] for row in partitions.rows()] == ["p06", "p12", "p18", "p24"]
    assert partitions.columns[:4] == ["PartitionId", "PartitionName", "CompactVersion", "VisibleVersion"]
    desc = session.execute("DESC source_wiki_edit").rows()
    assert desc[1] == ("channel", "varchar(32)", "YES", "true", "", "")
    assert desc[-1] == ("deleted", "int", "YES", "false", "0", "")
    assert session.execute("SHOW TABLES").rows() == [("source_wiki_edit",)]
    assert ("quickstart",) in session.execute("SHOW DATABASES").rows()


def test_show_create_table_round_trips(session: Session) -> None:
    session.execute_script(SEED_SETUP)
    session.execute(ALL_TYPES)
    for name in ["source_wiki_edit", "all_types"]:
        ddl = session.execute(f"SHOW CREATE TABLE {name}").rows()[0][1]
        session.execute(ddl.replace(f"`{name}`", f"`{name}_copy`", 1))
        tables = session.catalog.state.databases["quickstart"].tables
        original, copy = tables[name], tables[f"{name}_copy"]
        assert copy.columns == original.columns
        assert [(p.name, p.lower, p.upper) for p in copy.partitions if original.partition_type == "RANGE"] == \
            [(p.name, p.lower, p.upper) for p in original.partitions if original.partition_type == "RANGE"]
        assert (copy.buckets, copy.distribution_columns, copy.key_columns) == \
            (original.buckets, original.distribution_columns, original.key_columns)


ODD_NAMES = (
    'CREATE TABLE `odd``table name` (`col``umn one` INT COMMENT "a \\"quoted\\" \\\\ comment", '
    '`day` DATE, `note` VARCHAR(20) DEFAULT "say \\"hi\\"") COMMENT "the \\"odd\\" one" '
    'PARTITION BY RANGE(`day`) (PARTITION `p one` VALUES LESS THAN ("2024-01-01"), '
    'PARTITION p2 VALUES LESS THAN ("2025-01-01")) DISTRIBUTED BY HASH(`col``umn one`) BUCKETS 3'
)


def test_show_create_table_quotes_names_so_its_output_runs_again(session: Session) -> None:
    session.execute_script("CREATE DATABASE a; CREATE DATABASE b; USE a;")
    session.execute(ODD_NAMES)
    ddl = session.execute("SHOW CREATE TABLE `odd``table name`").rows()[0][1]
    assert "`odd``table name`" in ddl and "`col``umn one`" in ddl and "`p one`" in ddl
    session.execute("USE b")
    session.execute(ddl)
    assert session.execute("SHOW TABLES").rows() == [("odd`table name",)]
    assert session.execute("SHOW CREATE TABLE `odd``table name`").rows()[0][1] == ddl
    databases = session.catalog.state.databases
    original, copy = databases["a"].tables["odd`table name"], databases["b"].tables["odd`table name"]
    assert copy.columns == original.columns and copy.comment == original.comment == 'the "odd" one'
    assert original.columns[0].comment == 'a "quoted" \\ comment'
    assert [(p.name, p.upper) for p in copy.partitions] == [(p.name, p.upper) for p in original.partitions]
    assert (copy.buckets, copy.distribution_columns) == (original.buckets, original.distribution_columns)
    session.execute("INSERT INTO `odd``table name` (`col``umn one`, `day`) VALUES (1, '2023-05-01')")
    assert session.execute("SELECT `col``umn one`, `note` FROM `odd``table name`").rows() == [(1, 'say "hi"')]


def test_list_and_unpartitioned_tables_and_partition_changes(session: Session) -> None:
    session.execute_script("CREATE DATABASE d; USE d;")
    session.execute("CREATE TABLE l (id INT, city VARCHAR(10)) PARTITION BY LIST(city) "
                    "(PARTITION pa VALUES IN ('a', 'b'), PARTITION pc VALUES IN ('c')) DISTRIBUTED BY HASH(id)")
    session.execute("ALTER TABLE l ADD PARTITION pd VALUES IN ('d')")
    assert [r[1] for r in session.execute("SHOW PARTITIONS FROM l").rows()] == ["pa", "pc", "pd"]
    session.execute("CREATE TABLE u (id INT) DISTRIBUTED BY RANDOM")
    assert [r[1] for r in session.execute("SHOW PARTITIONS FROM u").rows()] == ["u"]
    session.execute("CREATE TABLE r (id INT, day DATE) PARTITION BY RANGE(day) "
                    "(PARTITION p1 VALUES LESS THAN ('2024-01-01')) DISTRIBUTED BY HASH(id) BUCKETS 2")
    session.execute("ALTER TABLE r ADD PARTITION p2 VALUES LESS THAN ('2025-01-01')")
    with pytest.raises(AnalysisError, match="intersected"):
        session.execute("ALTER TABLE r ADD PARTITION p0 VALUES LESS THAN ('2020-01-01')")
    session.execute("ALTER TABLE r DROP PARTITION p1")
    with pytest.raises(UnknownPartitionError):
        session.execute("ALTER TABLE r DROP PARTITION p1")
    session.execute("ALTER TABLE r DROP PARTITION IF EXISTS p1")
    assert [r[1] for r in session.execute("SHOW PARTITIONS FROM r").rows()] == ["p2"]


def test_list_and_range_tables_created_without_partitions(session: Session) -> None:
    """StarRocks creates a LIST or RANGE table with no partition list; rows need a partition added first."""
    session.execute_script("CREATE DATABASE d; USE d;")
    session.execute("CREATE TABLE l (id INT, dt VARCHAR(10)) PARTITION BY LIST (dt) DISTRIBUTED BY HASH(id) BUCKETS 2")
    assert session.execute("SHOW PARTITIONS FROM l").rows() == []
    with pytest.raises(CairnError, match="out of partition ranges"):
        session.execute("INSERT INTO l VALUES (1, 'x')")
    ddl = session.execute("SHOW CREATE TABLE l").rows()[0][1]
    assert "PARTITION BY LIST(`dt`)\nDISTRIBUTED" in ddl
    session.execute('ALTER TABLE l ADD PARTITION pmul VALUES IN ("x", "y")')
    session.execute("INSERT INTO l VALUES (1, 'x'), (2, 'y')")
    assert session.execute("SELECT count(*) FROM l").rows() == [(2,)]
    session.execute("CREATE TABLE r (id INT) PARTITION BY RANGE (id) DISTRIBUTED BY HASH(id)")
    session.execute("ALTER TABLE r ADD PARTITION p1 VALUES LESS THAN ('10')")
    session.execute("INSERT INTO r VALUES (1)")
    session.execute("DROP TABLE l")
    session.execute(ddl)  # SHOW CREATE TABLE's text runs again
    assert session.execute("SHOW PARTITIONS FROM l").rows() == []


@pytest.mark.parametrize("sql, error, code, text", [
    ("CREATE DATABASE quickstart", DatabaseExistsError, 1007, "database exists"),
    ("USE nowhere", UnknownDatabaseError, 1049, "nowhere"),
    ("DROP DATABASE nowhere", UnknownDatabaseError, 1049, "nowhere"),
    ("CREATE TABLE source_wiki_edit (a INT)", TableExistsError, 1050,
     "Getting analyzing error. Detail message: Table 'source_wiki_edit' already exists."),
    ("DROP TABLE nope", UnknownTableError, 1146, "nope"),
    ("DESC nope", UnknownTableError, 1146, "nope"),
    ("CREATE TABLE t (a INT, a INT)", AnalysisError, 1064, "Duplicate column"),
    ("CREATE TABLE t (a INT) DUPLICATE KEY(b)", UnknownColumnError, 1054, "'b'"),
    ("CREATE TABLE t (a INT) DISTRIBUTED BY HASH(zz)", UnknownColumnError, 1054, "'zz'"),
    ("CREATE TABLE t (a INT, d DATE) PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN ('2024-01-01'), "
     "PARTITION p2 VALUES LESS THAN ('2023-01-01'))", AnalysisError, 1064, "must increase"),
    ("CREATE TABLE t (a INT, d DATE) PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN ('not a date'))",
     AnalysisError, 1064, "not a date"),
    ("CREATE TABLE t (a INT DEFAULT 'abc')", AnalysisError, 1064, "default"),
    ("CREATE TABLE t (a VARCHAR(0))", AnalysisError, 1064, "length"),
    ("CREATE TABLE t (a DECIMAL(50, 2))", AnalysisError, 1064, "DECIMAL"),
    ("CREATE TABLE t (a GEOMETRY)", CairnError, None, ""),
    ("CREATE TABEL t (a INT)", SqlSyntaxError, 1064, "syntax"),
    ("ALTER TABLE source_wiki_edit DROP PARTITION nope", UnknownPartitionError, 1735, "nope"),
])
def test_ddl_errors(session: Session, sql: str, error: type, code: int | None, text: str) -> None:
    session.execute_script(SEED_SETUP)
    position = session.frontend.position
    with pytest.raises(error) as caught:
        session.execute(sql)
    if code is not None:
        assert caught.value.mysql_code == code
    assert text.lower() in str(caught.value).lower()
    assert session.frontend.position == position, "a failed statement must not append to the journal"


def test_if_exists_forms_and_no_database(session: Session) -> None:
    with pytest.raises(NoDatabaseSelectedError):
        session.execute("CREATE TABLE t (a INT)")
    session.execute("CREATE DATABASE IF NOT EXISTS d")
    position = session.frontend.position
    session.execute("CREATE DATABASE IF NOT EXISTS d")
    session.execute("DROP TABLE IF EXISTS d.nope")
    assert session.frontend.position == position
    session.execute("DROP DATABASE IF EXISTS d")
    session.execute("DROP DATABASE IF EXISTS d")
    assert session.execute("SHOW DATABASES").rows() == [("information_schema",)]


def test_catalog_survives_restart(fe_config: FeConfig) -> None:
    first = Frontend.open(fe_config)
    Session(first).execute_script(SEED_SETUP + ALL_TYPES + ";DROP TABLE source_wiki_edit;")
    before = first.catalog.state.databases
    first.close()
    second = Frontend.open(fe_config)
    assert second.catalog.state.databases == before
    second.close()


def test_alter_table_truncate_partition(session: Session) -> None:
    """ALTER TABLE t TRUNCATE PARTITION p[, ...] empties those partitions, as TRUNCATE TABLE t PARTITION (p) does."""
    session.execute_script("CREATE DATABASE d; USE d;")
    session.execute("CREATE TABLE t (k VARCHAR(10) NOT NULL, v INT) PARTITION BY LIST (k) "
                    "(PARTITION p1 VALUES IN ('a'), PARTITION p2 VALUES IN ('b'), PARTITION p3 VALUES IN ('c'))")
    session.execute("INSERT INTO t VALUES ('a', 1), ('b', 2), ('c', 3)")
    session.execute("ALTER TABLE t TRUNCATE PARTITION p1")
    assert session.execute("SELECT k FROM t ORDER BY k").rows() == [("b",), ("c",)]
    session.execute("ALTER TABLE d.t TRUNCATE PARTITIONS (p2, p3)")
    assert session.execute("SELECT count(*) FROM t").rows() == [(0,)]
    with pytest.raises(UnknownPartitionError):
        session.execute("ALTER TABLE t TRUNCATE PARTITION nope")


# (CREATE TABLE, what SHOW CREATE TABLE prints of it, from its columns to its end): StarRocks' layout.
SHOWN_AS_STARROCKS = [
    ("CREATE TABLE t (k INT, v INT) PRIMARY KEY(k)",
     '  `k` int(11) NOT NULL COMMENT "",\n  `v` int(11) NULL COMMENT ""\n) ENGINE=OLAP \nPRIMARY KEY(`k`)\n'
     'DISTRIBUTED BY HASH(`k`)\nPROPERTIES (\n"compression" = "LZ4",\n"enable_persistent_index" = "true",\n'
     '"fast_schema_evolution" = "true",\n"replicated_storage" = "true",\n"replication_num" = "3"\n);'),
    ("CREATE TABLE t (k BIGINT, d DECIMAL(10,2), s STRUCT<aB SMALLINT, c ARRAY<TINYINT>>) DUPLICATE KEY(k)",
     '  `k` bigint(20) NULL COMMENT "",\n  `d` decimal(10, 2) NULL COMMENT "",\n'
     '  `s` struct<aB smallint(6), c array<tinyint(4)>> NULL COMMENT ""\n) ENGINE=OLAP \nDUPLICATE KEY(`k`)\n'
     'DISTRIBUTED BY RANDOM\nPROPERTIES (\n"bucket_size" = "4294967296",\n"compression" = "LZ4",\n'
     '"fast_schema_evolution" = "true",\n"replicated_storage" = "true",\n"replication_num" = "3"\n);'),
    ("CREATE TABLE t (k LARGEINT, v VARCHAR(9) REPLACE, INDEX i (v) USING BITMAP COMMENT 'the v') PRIMARY KEY(k) "
     'DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ("replication_num" = "1", "bloom_filter_columns" = "k")',
     '  `k` largeint(40) NOT NULL COMMENT "",\n  `v` varchar(9) NULL COMMENT "",\n'
     "  INDEX i (`v`) USING BITMAP COMMENT 'the v'\n) ENGINE=OLAP \nPRIMARY KEY(`k`)\n"
     'DISTRIBUTED BY HASH(`k`) BUCKETS 2 \nPROPERTIES (\n"bloom_filter_columns" = "k",\n"compression" = "LZ4",\n'
     '"enable_persistent_index" = "true",\n"fast_schema_evolution" = "true",\n"replicated_storage" = "true",\n'
     '"replication_num" = "1"\n);'),
]


@pytest.mark.parametrize(("ddl", "shown"), SHOWN_AS_STARROCKS)
def test_show_create_table_prints_as_starrocks_and_runs_again(session: Session, ddl: str, shown: str) -> None:
    session.execute_script("CREATE DATABASE a; CREATE DATABASE b; USE a;")
    session.execute(ddl)
    text = session.execute("SHOW CREATE TABLE t").rows()[0][1]
    assert text == "CREATE TABLE `t` (\n" + shown
    session.execute("USE b")
    session.execute(text)
    assert session.execute("SHOW CREATE TABLE t").rows()[0][1] == text


def test_bitmap_indexes_and_bloom_filter_columns_follow_their_columns(session: Session) -> None:
    session.execute_script("CREATE DATABASE a; USE a;")
    session.execute("CREATE TABLE t (k INT, v INT, w INT, INDEX iv (v) USING BITMAP, INDEX iw (w) USING BITMAP) "
                    'DUPLICATE KEY(k) PROPERTIES ("bloom_filter_columns" = "k,v")')
    session.execute("INSERT INTO t VALUES (1, 2, 3)")
    session.execute("ALTER TABLE t RENAME COLUMN v TO v2")
    session.execute("ALTER TABLE t DROP COLUMN w")
    assert [(r[0], r[5]) for r in session.execute("DESC t").rows()] == [("k", "BLOOM_FILTER"), ("v2", "BLOOM_FILTER")]
    ddl = session.execute("SHOW CREATE TABLE t").rows()[0][1]
    assert "  INDEX iv (`v2`) USING BITMAP\n) ENGINE" in ddl and '"bloom_filter_columns" = "k,v2"' in ddl
    assert session.execute("SELECT * FROM t").rows() == [(1, 2)]


@pytest.mark.parametrize(("ddl", "message"), [
    ("CREATE TABLE t (k INT) PROPERTIES ('bloom_filter_columns' = 'x')", "Invalid bloom filter column 'x': not exists"),
    ("CREATE TABLE t (k INT, INDEX i (x) USING BITMAP)", "Unknown column 'x'"),
    ("CREATE TABLE t (k INT, INDEX i (k) USING GIN)", "is not supported yet"),
])
def test_index_and_bloom_filter_errors(session: Session, ddl: str, message: str) -> None:
    session.execute_script("CREATE DATABASE a; USE a;")
    with pytest.raises(CairnError, match=message):
        session.execute(ddl)


def test_alter_database_rename_moves_tables_data_and_grants(session: Session) -> None:
    session.execute_script("CREATE DATABASE a; USE a; CREATE TABLE t (k INT); INSERT INTO t VALUES (1), (2);"
                           "CREATE USER u IDENTIFIED BY 'pw'; GRANT SELECT ON a.t TO u;")
    session.execute("ALTER DATABASE a RENAME b")
    assert session.execute("SELECT k FROM b.t ORDER BY k").rows() == [(1,), (2,)]
    with pytest.raises(UnknownDatabaseError, match="Unknown database 'a'"):
        session.execute("SELECT * FROM a.t")
    assert [row[2] for row in session.execute("SHOW GRANTS FOR u").rows()] == ["GRANT SELECT ON b.t TO 'u'@'%'"]
    session.execute("CREATE DATABASE c")
    with pytest.raises(DatabaseExistsError):
        session.execute("ALTER DATABASE b RENAME c")
    with pytest.raises(UnknownDatabaseError):
        session.execute("ALTER DATABASE a RENAME d")
    with pytest.raises(SqlSyntaxError, match="RENAME"):
        session.execute("ALTER DATABASE b SET DATA QUOTA 10G")


def test_alter_table_compact_merges_rowsets_and_keeps_rows(session: Session) -> None:
    session.execute_script("CREATE DATABASE a; USE a; CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1;"
                           "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (3);")
    before = session.execute("SHOW PARTITIONS FROM t").rows()[0]
    session.execute("ALTER TABLE t COMPACT")
    after = session.execute("SHOW PARTITIONS FROM t").rows()[0]
    assert (before[2], after[2]) == (0, after[3]) and after[3] == before[3] + 1  # CompactVersion, VisibleVersion
    assert session.execute("SELECT k FROM t ORDER BY k").rows() == [(1,), (2,), (3,)]
    session.execute("ALTER TABLE t CUMULATIVE COMPACT t")
    with pytest.raises(UnknownPartitionError):
        session.execute("ALTER TABLE t COMPACT (nope)")


def test_information_schema_grants_and_unknown_tables(session: Session) -> None:
    session.execute_script("CREATE USER u IDENTIFIED BY 'pw'; GRANT SELECT ON information_schema.keywords TO u;")
    with pytest.raises(UnknownTableError, match="information_schema.nope"):
        session.execute("GRANT SELECT ON information_schema.nope TO u")
    with pytest.raises(UnknownTableError, match="information_schema.nope"):
        session.execute("SELECT * FROM information_schema.nope")
    with pytest.raises(CairnError, match="is not supported yet"):
        session.execute("GRANT INSERT ON information_schema.keywords TO u")
    with pytest.raises(UnknownDatabaseError, match="Unknown database 'nowhere'"):
        session.execute("SELECT * FROM nowhere.t")
