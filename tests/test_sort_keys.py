"""CREATE TABLE ... ORDER BY (...): the sort key is kept in the catalog, shown by SHOW CREATE TABLE,
and honoured by the data: every rowset a load or a compaction writes holds its rows in that order."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from cairn.api import load_config
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.lake.manifest import MANIFESTS
from cairn.server.session import Session

DUP = ("CREATE TABLE t (k INT NOT NULL, v INT, s VARCHAR(8)) DUPLICATE KEY(k) "
       "DISTRIBUTED BY HASH(k) BUCKETS 1 ORDER BY (v, s)")


def _rowset_columns(session: Session, table_name: str, column: str) -> list[list[object]]:
    """The values of `column` in each data file of the table, in file order."""
    fe = session.frontend
    db, table = fe.catalog.table("s", table_name)
    store = fe.store_for(db.storage_volume)
    manifests = MANIFESTS.get_many(store, [p.manifest_key for p in table.partitions if p.manifest_key])
    return [pq.read_table(io.BytesIO(store.get(r.key))).column(column).to_pylist()
            for m in manifests for r in m.rowsets() if not r.deletes]


def _nulls_first(values: list[object]) -> list[object]:
    return sorted(values, key=lambda v: (v is not None, v))


@pytest.fixture
def sorting(fe_conf_values: dict[str, str]):
    fe = Frontend.open(load_config(None, lake_compaction_score_selector_min_score="2",
                                   lake_compaction_interval_seconds="3600", **fe_conf_values))
    session = Session(fe)
    session.execute_script("CREATE DATABASE s; USE s;")
    yield session
    fe.close()


@pytest.mark.parametrize("volume_kind", ["local"], indirect=True)
def test_rowsets_are_written_and_compacted_in_sort_key_order(sorting: Session,
                                                             fe_conf_values: dict[str, str]) -> None:
    sorting.execute(DUP)
    sorting.execute("INSERT INTO t VALUES (1, 30, 'a'), (2, NULL, 'b'), (3, 10, 'z'), (4, 10, 'c'), (5, 20, NULL)")
    sorting.execute("INSERT INTO t VALUES (6, 25, 'x'), (7, 5, 'y')")
    files = _rowset_columns(sorting, "t", "v")
    assert files == [[None, 10, 10, 20, 30], [5, 25]]
    assert _rowset_columns(sorting, "t", "s")[0] == ["b", "c", "z", None, "a"]
    assert sorting.frontend.compaction.run_once().tablets_compacted == 1
    assert _rowset_columns(sorting, "t", "v") == [[None, 5, 10, 10, 20, 25, 30]]
    assert sorted(sorting.execute("SELECT k FROM t").rows()) == [(i,) for i in range(1, 8)]
    shown = sorting.execute("SHOW CREATE TABLE t").rows()[0][1]
    assert "DISTRIBUTED BY HASH(`k`) BUCKETS 1 \nORDER BY(`v`, `s`)" in shown
    sorting.frontend.close()
    reopened = Frontend.open(load_config(None, **fe_conf_values))  # the sort key is journaled
    try:
        session = Session(reopened)
        session.execute("USE s")
        assert session.execute("SHOW CREATE TABLE t").rows()[0][1] == shown
        session.execute("INSERT INTO t VALUES (8, 2, 'q'), (9, 1, 'r')")
        assert _rowset_columns(session, "t", "v")[-1] == [1, 2]
    finally:
        reopened.close()


@pytest.mark.parametrize("volume_kind", ["local"], indirect=True)
def test_show_create_table_round_trips_in_both_positions(sorting: Session) -> None:
    sorting.execute("CREATE TABLE a (k INT NOT NULL, v INT) PRIMARY KEY(k) ORDER BY (v) DISTRIBUTED BY HASH(k) BUCKETS 1")
    shown = sorting.execute("SHOW CREATE TABLE a").rows()[0][1]
    assert "ORDER BY(`v`)" in shown
    sorting.execute("DROP TABLE a")
    sorting.execute(shown)
    assert sorting.execute("SHOW CREATE TABLE a").rows()[0][1] == shown
    sorting.execute("INSERT INTO a VALUES (1, 9), (2, 3), (3, NULL), (1, 1)")  # the last row of key 1 wins
    assert sorted(sorting.execute("SELECT * FROM a").rows(), key=str) == [(1, 1), (2, 3), (3, None)]
    assert _rowset_columns(sorting, "a", "v") == [[None, 1, 3]]
    sorting.execute("CREATE TABLE g (k1 INT, k2 INT, v INT SUM) AGGREGATE KEY(k1, k2) "
                    "DISTRIBUTED BY HASH(k1) ORDER BY (k2, k1)")
    assert "ORDER BY(`k2`, `k1`)" in sorting.execute("SHOW CREATE TABLE g").rows()[0][1]
    sorting.execute("CREATE TABLE plain (k INT) DISTRIBUTED BY HASH(k)")
    assert "ORDER BY" not in sorting.execute("SHOW CREATE TABLE plain").rows()[0][1]


@pytest.mark.parametrize("volume_kind", ["local"], indirect=True)
@pytest.mark.parametrize(("statement", "message"), [
    ("CREATE TABLE x (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) ORDER BY (w)",
     "Invalid column 'w' not exists in all columns."),
    ("CREATE TABLE x (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) ORDER BY (v, k, v)",
     "Duplicate sort key column v is not allowed."),
    ("CREATE TABLE x (k1 INT, k2 INT, v INT SUM) AGGREGATE KEY(k1, k2) DISTRIBUTED BY HASH(k1) ORDER BY (k2)",
     "The sort columns of AGGREGATE KEY table must be same with key columns"),
    ("CREATE TABLE x (k1 INT, k2 INT, v INT) UNIQUE KEY(k1, k2) DISTRIBUTED BY HASH(k1) ORDER BY (k2, v)",
     "The sort columns of UNIQUE KEY table must be same with key columns"),
    ("CREATE TABLE x (k INT NOT NULL, v FLOAT) PRIMARY KEY(k) DISTRIBUTED BY HASH(k) ORDER BY (v)",
     "Sort key column[v] type not supported: FLOAT in PrimaryKey table"),
    ("CREATE TABLE x (k INT, v INT) DISTRIBUTED BY HASH(k) ORDER BY v", "list of columns in parentheses"),
])
def test_bad_sort_keys_are_refused(sorting: Session, statement: str, message: str) -> None:
    with pytest.raises(CairnError, match=message.replace("[", r"\[").replace("(", r"\(")):
        sorting.execute(statement)


@pytest.mark.parametrize("volume_kind", ["local"], indirect=True)
def test_sort_columns_cannot_be_dropped_or_changed_out_of_order(sorting: Session) -> None:
    sorting.execute("CREATE TABLE p (k BIGINT NOT NULL, v0 INT, v1 VARCHAR(100)) PRIMARY KEY(k) "
                    "DISTRIBUTED BY HASH(k) ORDER BY (v0)")
    with pytest.raises(CairnError, match="Can not drop sort column in primary data model table"):
        sorting.execute("ALTER TABLE p DROP COLUMN v0")
    with pytest.raises(CairnError, match="Can not modify sort column in primary data model table"):
        sorting.execute("ALTER TABLE p MODIFY COLUMN v1 VARCHAR(200), MODIFY COLUMN v0 BIGINT")
    sorting.execute("ALTER TABLE p DROP COLUMN v1")
    sorting.execute(DUP)
    with pytest.raises(CairnError, match="Can not drop sort column in Duplicate data model table"):
        sorting.execute("ALTER TABLE t DROP COLUMN s")
    with pytest.raises(CairnError, match="is not supported"):
        sorting.execute("ALTER TABLE t MODIFY COLUMN v VARCHAR(20)")  # '10' < '9': the files' order would break
    sorting.execute("ALTER TABLE t MODIFY COLUMN v BIGINT")  # a widening keeps the order, as in StarRocks
    sorting.execute("ALTER TABLE t RENAME COLUMN s TO s2")
    assert "ORDER BY(`v`, `s2`)" in sorting.execute("SHOW CREATE TABLE t").rows()[0][1]
    sorting.execute("INSERT INTO t VALUES (1, 3, 'b'), (2, 3, 'a')")
    assert _rowset_columns(sorting, "t", "s2") == [["a", "b"]]
