"""Temporary partitions: ALTER TABLE ADD / DROP TEMPORARY PARTITION, SHOW TEMPORARY PARTITIONS and
REPLACE PARTITION (...) WITH TEMPORARY PARTITION (...), one journal entry that swaps them in; the swap
and the temporary partitions come back with a snapshot restore and point-in-time recovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.api import load_config
from cairn.errors import AnalysisError, PartitionExistsError, UnknownPartitionError, UnsupportedError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from test_restore import _restore, snapshot_yaml


@pytest.fixture
def sql(local_frontend: Frontend) -> Session:
    session = Session(local_frontend)
    session.execute_script("""
        CREATE DATABASE d; USE d;
        CREATE TABLE l (a VARCHAR(8), b VARCHAR(10) NOT NULL, c BIGINT NOT NULL) DUPLICATE KEY(a)
            PARTITION BY (b, c) DISTRIBUTED BY RANDOM;
        ALTER TABLE l ADD PARTITION pa VALUES IN (('a', '1970'));
        ALTER TABLE l ADD PARTITION pb VALUES IN (('b', '9990'));
        INSERT INTO l VALUES ('x', 'a', 1970), ('y', 'b', 9990);
        CREATE TABLE r (d DATE, v INT) PARTITION BY RANGE(d)
            (PARTITION p1 VALUES [('2024-01-01'), ('2024-02-01')), PARTITION p2 VALUES [('2024-02-01'), ('2024-03-01')));
        INSERT INTO r VALUES ('2024-01-05', 1), ('2024-02-05', 2);
    """)
    return session


def names(session: Session, table: str, temporary: bool = False) -> list[str]:
    shown = "TEMPORARY PARTITIONS" if temporary else "PARTITIONS"
    return sorted(row[1] for row in session.execute(f"SHOW {shown} FROM {table}").rows())


def test_replace_swaps_in_the_temporary_partitions_in_one_step(sql: Session) -> None:
    sql.execute("ALTER TABLE l ADD TEMPORARY PARTITION IF NOT EXISTS t_pb VALUES IN (('b', '9990'))")
    sql.execute("ALTER TABLE l ADD TEMPORARY PARTITION IF NOT EXISTS t_pb VALUES IN (('b', '9990'))")
    assert names(sql, "l", temporary=True) == ["t_pb"]
    assert names(sql, "l") == ["pa", "pb"]
    # A temporary partition is read by no query until it replaces one.
    assert sql.execute("SELECT a FROM l ORDER BY a").rows() == [("x",), ("y",)]
    assert sql.execute("SELECT table_name, partition_name, is_temp FROM information_schema.partitions_meta "
                       "WHERE db_name = 'd' AND table_name = 'l' ORDER BY partition_name").rows() == [
        ("l", "pa", False), ("l", "pb", False), ("l", "t_pb", True)]
    sql.execute("ALTER TABLE l REPLACE PARTITION (pb) WITH TEMPORARY PARTITION (t_pb) "
                "PROPERTIES ('strict_range ' = 'fasle', 'use_temp_partition_name' = 'false')")
    assert names(sql, "l") == ["pa", "pb"] and names(sql, "l", temporary=True) == []
    assert sql.execute("SELECT a FROM l ORDER BY a").rows() == [("x",)]
    sql.execute("INSERT INTO l VALUES ('z', 'b', 9990)")
    assert sql.execute("SELECT a FROM l PARTITION (pb)").rows() == [("z",)]


def test_replacing_ranges(sql: Session) -> None:
    sql.execute("ALTER TABLE r ADD TEMPORARY PARTITION t1 VALUES [('2024-01-01'), ('2024-01-15'))")
    sql.execute("ALTER TABLE r ADD TEMPORARY PARTITION t2 VALUES [('2024-01-15'), ('2024-03-01'))")
    with pytest.raises(AnalysisError, match="strict_range"):
        sql.execute("ALTER TABLE r REPLACE PARTITION (p1) WITH TEMPORARY PARTITION (t1)")
    with pytest.raises(AnalysisError, match="intersected"):
        sql.execute("ALTER TABLE r REPLACE PARTITION (p1) WITH TEMPORARY PARTITION (t1, t2) "
                    "PROPERTIES ('strict_range' = 'false')")
    # Two for two keep their own names when asked to; the union of their ranges is the replaced one's.
    sql.execute("ALTER TABLE r REPLACE PARTITION (p1, p2) WITH TEMPORARY PARTITION (t1, t2) "
                "PROPERTIES ('use_temp_partition_name' = 'true')")
    assert names(sql, "r") == ["t1", "t2"]
    assert sql.execute("SELECT count(*) FROM r").rows() == [(0,)]
    sql.execute("INSERT INTO r VALUES ('2024-01-20', 3)")
    assert sql.execute("SELECT v FROM r PARTITION (t2)").rows() == [(3,)]
    assert sql.execute("SELECT v FROM r WHERE d < '2024-01-15'").rows() == []


ERRORS = [
    ("ALTER TABLE l ADD TEMPORARY PARTITION pa VALUES IN (('q', '1'))", PartitionExistsError,
     "Duplicate partition name pa"),
    ("ALTER TABLE l ADD TEMPORARY PARTITION t2 VALUES IN (('b', '9990'))", AnalysisError,
     "is already in another partition"),
    ("ALTER TABLE r ADD TEMPORARY PARTITION t2 VALUES [('2024-01-10'), ('2024-01-20'))", AnalysisError, "intersected"),
    ("ALTER TABLE r ADD TEMPORARY PARTITION t2 VALUES LESS THAN ('2024-05-01')", UnsupportedError,
     "is not supported yet"),
    ("ALTER TABLE l REPLACE PARTITION (pa) WITH TEMPORARY PARTITION (nope)", UnknownPartitionError,
     "Temporary partition 'nope' does not exist"),
    ("ALTER TABLE l REPLACE PARTITION (nope) WITH TEMPORARY PARTITION (t1)", UnknownPartitionError,
     "Partition 'nope' does not exist"),
    ("ALTER TABLE l REPLACE PARTITION (pa) WITH TEMPORARY PARTITION (t1)", AnalysisError, "strict_range"),
    ("ALTER TABLE l DROP TEMPORARY PARTITION pa", UnknownPartitionError, "Temporary partition 'pa' does not exist"),
    ("ALTER TABLE r RENAME PARTITION p1 t1", PartitionExistsError, "already used"),
    ("INSERT INTO l TEMPORARY PARTITION (t1) VALUES ('q', 'b', 9990)", UnsupportedError,
     "Loading into or reading a TEMPORARY PARTITION is not supported yet"),
    ("SELECT * FROM l TEMPORARY PARTITION (t1)", UnsupportedError,
     "Loading into or reading a TEMPORARY PARTITION is not supported yet"),
]


@pytest.mark.parametrize(("statement", "error", "message"), ERRORS)
def test_refused_with_a_clear_error(sql: Session, statement: str, error: type[Exception], message: str) -> None:
    sql.execute("ALTER TABLE l ADD TEMPORARY PARTITION t1 VALUES IN (('b', '9990'))")
    sql.execute("ALTER TABLE r ADD TEMPORARY PARTITION t1 VALUES [('2024-01-01'), ('2024-01-15'))")
    with pytest.raises(error, match=message):
        sql.execute(statement)
    assert names(sql, "l") == ["pa", "pb"] and names(sql, "l", temporary=True) == ["t1"]
    assert sql.execute("SELECT count(*) FROM l").rows() == [(2,)]


def test_drop_temporary_partition(sql: Session) -> None:
    sql.execute("ALTER TABLE l ADD TEMPORARY PARTITION t1 VALUES IN (('b', '9990'))")
    sql.execute("ALTER TABLE l DROP TEMPORARY PARTITION t1")
    sql.execute("ALTER TABLE l DROP TEMPORARY PARTITION IF EXISTS t1")
    assert names(sql, "l", temporary=True) == []
    assert names(sql, "l") == ["pa", "pb"]


def test_restore_and_pitr_bring_back_temporary_partitions_and_replacements(tmp_path: Path) -> None:
    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage"),
              "cluster_snapshot_pitr_window_seconds": "3600"}
    fe = Frontend.open(load_config(None, **values))
    session = Session(fe)
    session.execute_script("""
        CREATE DATABASE p; USE p;
        CREATE TABLE t (k BIGINT, v INT) PARTITION BY RANGE(from_unixtime(k))
            (START ('2021-01-01') END ('2021-01-03') EVERY (INTERVAL 1 DAY));
        INSERT INTO t VALUES (1609459200, 1), (1609545600, 2);
        ALTER TABLE t ADD TEMPORARY PARTITION n VALUES [('2021-01-02'), ('2021-01-03'));
        ADMIN CREATE CLUSTER SNAPSHOT base;
    """)
    session.execute("ALTER TABLE t REPLACE PARTITION (p20210102) WITH TEMPORARY PARTITION (n)")
    replaced = fe.position.entry_id
    session.execute("INSERT INTO t VALUES (1609545601, 3)")
    cluster = fe.keys.cluster_id
    fe.close()
    base = snapshot_yaml(values, cluster, "base")
    for target, temporary, expected in (("", ["n"], [(1,), (2,)]), (f"journal_id: {replaced}", [], [(1,)])):
        config = load_config(None, **dict(values, meta_dir=str(tmp_path / f"meta-{len(target)}")))
        text = base if not target else base.replace(
            "  storage_volume_name", f"  restore_to:\n    {target}\n  storage_volume_name")
        _restore(config, text, tmp_path)
        restored = Frontend.open(config)
        try:
            again = Session(restored, database="p")
            assert names(again, "t", temporary=True) == temporary
            assert names(again, "t") == ["p20210101", "p20210102"]
            assert again.execute("SELECT v FROM t ORDER BY v").rows() == expected
            assert again.execute("SELECT v FROM t WHERE k = 1609459200").rows() == [(1,)]
        finally:
            restored.close()
