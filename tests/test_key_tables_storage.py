"""Keyed tables on immutable versioned storage: compaction folds upserts and deletes into one row per
key, a snapshot restores a keyed table as it was, tables an older Cairn wrote convert (last write per
key), and Stream Load upserts but refuses the row operations it does not implement."""

from __future__ import annotations

import tarfile
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlglot import exp

import cairn.api
from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.lake.coerce import checked_select_list, plan_coercion
from cairn.lake.load import _commit
from cairn.lake.manifest import MANIFESTS
from cairn.server.session import Session
from cairn.server.stream_load import StreamLoadOptions, stream_load
from cairn.errors import BadRequestError
from test_restore import _restore


def _rowsets(session: Session, db: str, table: str) -> dict[int, list]:
    fe = session.frontend
    _, found = fe.catalog.table(db, table)
    store = fe.store_for(fe.catalog.state.databases[db].storage_volume)
    manifests = MANIFESTS.get_many(store, [p.manifest_key for p in found.partitions if p.manifest_key])
    return {tablet: rowsets for m in manifests for tablet, rowsets in m.tablets.items() if rowsets}


@pytest.fixture
def compacting(tmp_path: Path):
    fe = Frontend.open(load_config(None, lake_compaction_score_selector_min_score="3",
                                   lake_compaction_interval_seconds="3600", vacuum_interval_seconds="3600",
                                   local_storage_path=str(tmp_path / "storage"), meta_dir=str(tmp_path / "meta")))
    session = Session(fe)
    session.execute_script("CREATE DATABASE c; USE c;")
    yield session
    fe.close()


def test_compaction_folds_upserts_and_deletes_into_one_row_per_key(compacting: Session) -> None:
    compacting.execute("CREATE TABLE p (k INT, v INT) PRIMARY KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1")
    compacting.execute("CREATE TABLE a (k INT, s INT SUM, r INT REPLACE) AGGREGATE KEY(k) "
                       "DISTRIBUTED BY HASH(k) BUCKETS 1")
    for round_ in range(3):
        compacting.execute(f"INSERT INTO p VALUES (1, {round_}), (2, {round_}), ({10 + round_}, 0)")
        compacting.execute(f"INSERT INTO a VALUES (1, 1, {round_}), (2, 10, {round_})")
    compacting.execute("DELETE FROM p WHERE k = 2")
    compacting.execute("DELETE FROM a WHERE k = 2")
    before = {t: compacting.execute(f"SELECT * FROM {t} ORDER BY k").rows() for t in ("p", "a")}
    assert before == {"p": [(1, 2), (10, 0), (11, 0), (12, 0)], "a": [(1, 3, 2)]}
    report = compacting.frontend.compaction.run_once()
    assert report.tablets_compacted == 2
    for name in ("p", "a"):
        (only,) = _rowsets(compacting, "c", name).values()
        assert len(only) == 1 and not only[0].deletes
        # The compacted rowset holds each live key once and no delete marker.
        stored = pq.read_table(compacting.frontend.store_for("builtin_storage_volume").local_path(only[0].key))
        assert sorted(stored.column("k").to_pylist()) == [row[0] for row in before[name]]
        assert compacting.execute(f"SELECT * FROM {name} ORDER BY k").rows() == before[name]
    compacting.execute("INSERT INTO p VALUES (1, 100)")
    compacting.execute("INSERT INTO a VALUES (1, 1, 9)")
    assert compacting.execute("SELECT * FROM p WHERE k = 1").rows() == [(1, 100)]
    assert compacting.execute("SELECT * FROM a").rows() == [(1, 4, 9)]


def test_snapshot_restore_brings_back_each_key_as_it_was(tmp_path: Path) -> None:
    fe = cairn.api.open_frontend(local_storage_path=tmp_path / "storage", meta_dir=tmp_path / "meta")
    try:
        session = cairn.api.connect(fe)
        session.execute_script(
            "CREATE DATABASE d; USE d;"
            "CREATE TABLE p (k INT, v VARCHAR(5)) PRIMARY KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2;"
            "CREATE TABLE a (k INT, s BIGINT SUM) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2;"
            "INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c'); INSERT INTO p VALUES (2, 'B');"
            "DELETE FROM p WHERE k = 3; INSERT INTO a VALUES (1, 5), (1, 6);")
        at_snapshot = [session.execute(f"SELECT * FROM {t} ORDER BY k").rows() for t in ("p", "a")]
        assert at_snapshot == [[(1, "a"), (2, "B")], [(1, 11)]]
        session.execute("ADMIN CREATE CLUSTER SNAPSHOT keyed")
        session.execute_script("INSERT INTO p VALUES (1, 'z'), (3, 'back'); DELETE FROM p WHERE k = 2;"
                               "UPDATE p SET v = 'u' WHERE k = 3; INSERT INTO a VALUES (1, 100), (2, 1);")
        assert session.execute("SELECT * FROM p ORDER BY k").rows() == [(1, "z"), (3, "u")]
        cluster_id = fe.keys.cluster_id
    finally:
        fe.close()
    config = cairn.api.load_config(None, local_storage_path=tmp_path / "storage", meta_dir=tmp_path / "restored")
    _restore(config, f"cluster_snapshot:\n  cluster_snapshot_path: {tmp_path / 'storage'}/{cluster_id}/meta/image/keyed\n"
                     "  storage_volume_name: builtin_storage_volume\nfrontends: []\ncompute_nodes: []\n", tmp_path)
    restored = Frontend.open(config)
    try:
        after = cairn.api.connect(restored, database="d")
        assert [after.execute(f"SELECT * FROM {t} ORDER BY k").rows() for t in ("p", "a")] == at_snapshot
        after.execute("INSERT INTO p VALUES (2, 'new')")  # and the restored table takes upserts again
        assert after.execute("SELECT * FROM p ORDER BY k").rows() == [(1, "a"), (2, "new")]
    finally:
        restored.close()


def _append_as_an_older_cairn_did(session: Session, db: str, table: str, values: str) -> None:
    """Append rows to a keyed table without folding them, as Cairn did before it merged keys."""
    fe = session.frontend
    database, found = fe.catalog.table(db, table)
    as_written = found.model_copy(update={"keys_type": "DUPLICATE"}, deep=True)
    con = fe.duckdb.cursor()
    try:
        con.execute(f"CREATE TEMP TABLE older AS SELECT * FROM (VALUES {values}) v(c0, c1)")
        plan = plan_coercion(as_written, ["c0", "c1"], None)
        select = exp.select(*checked_select_list(plan)).from_("older")
        rows, written = fe.loads.writer.write(con, select, fe.store_for(database.storage_volume), fe.keys,
                                              database.id, as_written, fe.loads.scratch_dir / uuid.uuid4().hex)
        _commit(fe.loads, database, found, written, rows, None)
    finally:
        con.close()


def test_tables_an_older_cairn_wrote_with_duplicate_keys_read_as_the_last_write_per_key(tmp_path: Path) -> None:
    """Cairn before merge-on-read appended to UNIQUE KEY tables as to DUPLICATE ones (PRIMARY and
    AGGREGATE KEY tables were recorded as DUPLICATE KEY then, and stay so). Such a table reads as
    the last row written for each key: later rowsets win, and within one rowset the later row."""
    with tarfile.open(Path(__file__).resolve().parent / "fixtures" / "legacy_v1.tar.gz") as tar:
        tar.extractall(tmp_path / "legacy", filter="data")
    fe = cairn.api.open_frontend(local_storage_path=tmp_path / "legacy" / "storage", meta_dir=tmp_path / "meta",
                                 automated_cluster_snapshot_interval_seconds=1_000_000_000)
    try:
        session = cairn.api.connect(fe, database="ops")
        session.execute("ALTER SYSTEM DROP COMPUTE NODE '127.0.0.1:19050'")  # registered, never running here
        assert session.execute("SELECT * FROM profiles").rows() == [(7, "Brest")]
        assert "UNIQUE KEY(`id`)" in session.execute("SHOW CREATE TABLE profiles").rows()[0][1]
        _append_as_an_older_cairn_did(session, "ops", "profiles", "(8, 'Vannes'), (7, 'Lorient'), (8, 'Morlaix')")
        assert sorted(session.execute("SELECT * FROM profiles").rows()) == [(7, "Lorient"), (8, "Morlaix")]
        session.execute("INSERT INTO profiles VALUES (7, 'Rennes')")
        body = tmp_path / "body.csv"
        body.write_bytes(b"9\tQuimper\n8\tNantes\n")
        answer = stream_load(fe, "root", "ops", "profiles", StreamLoadOptions.from_headers({}), body)
        assert answer.status == "Success", answer.message
        assert sorted(session.execute("SELECT * FROM profiles").rows()) == [(7, "Rennes"), (8, "Nantes"),
                                                                            (9, "Quimper")]
        assert sorted(session.execute("SELECT * FROM accounts").rows()) == [(1, "ann"), (2, "bob")]
    finally:
        fe.close()


@pytest.mark.parametrize(("headers", "message"), [
    ({"partial_update": "true", "columns": "k, v"}, "partial_update is not supported yet"),
    ({"merge_condition": "v"}, "merge_condition is not supported yet"),
])
def test_stream_load_refuses_row_operations_it_does_not_implement(headers: dict[str, str], message: str) -> None:
    with pytest.raises(BadRequestError, match=message):
        StreamLoadOptions.from_headers(headers)


def test_stream_load_into_a_primary_key_table_upserts(local_frontend: Frontend, tmp_path: Path) -> None:
    session = cairn.api.connect(local_frontend)
    session.execute_script("CREATE DATABASE d; USE d; CREATE TABLE p (k INT, v INT) PRIMARY KEY(k);"
                           "INSERT INTO p VALUES (1, 1), (2, 2);")
    body = tmp_path / "body.csv"
    body.write_bytes(b"2\t20\n3\t30\n3\t31\n")
    answer = stream_load(local_frontend, "root", "d", "p", StreamLoadOptions.from_headers({}), body)
    assert (answer.status, answer.loaded_rows, answer.total_rows) == ("Success", 3, 3)
    assert session.execute("SELECT * FROM p ORDER BY k").rows() == [(1, 1), (2, 20), (3, 31)]
    # A body read in many batches: the last row of each key wins across batches too.
    body.write_bytes("".join(f"{i % 1000}\t{i}\n" for i in range(300_000)).encode())
    answer = stream_load(local_frontend, "root", "d", "p", StreamLoadOptions.from_headers({}), body)
    assert (answer.status, answer.loaded_rows) == ("Success", 300_000)
    assert session.execute("SELECT count(*), min(v), max(v) FROM p").rows() == [(1000, 299_000, 299_999)]


def test_duplicate_key_delete_rewrites_rowsets_and_older_versions_keep_the_rows(session: Session) -> None:
    """On a local volume and on S3: only the rowsets holding matching rows are written again, in a new
    version; a rowset left with no row is dropped."""
    session.execute_script("CREATE DATABASE d; USE d; CREATE TABLE t (k INT, v INT) DUPLICATE KEY(k) "
                           "DISTRIBUTED BY HASH(k) BUCKETS 2; INSERT INTO t VALUES (1, 1), (2, 2), (3, 3);"
                           "INSERT INTO t VALUES (4, 4);")
    before = {r.key for rs in _rowsets(session, "d", "t").values() for r in rs}
    session.execute("DELETE FROM t WHERE v <= 2")
    assert session.execute("SELECT * FROM t ORDER BY k").rows() == [(3, 3), (4, 4)]
    after = {r.key for rs in _rowsets(session, "d", "t").values() for r in rs}
    assert after != before and after & before  # only the rowsets holding deleted rows were rewritten
    session.execute("DELETE FROM t WHERE k = 4")  # its rowset holds nothing else: it goes away
    assert session.execute("SELECT * FROM t").rows() == [(3, 3)]
    assert sum(len(rs) for rs in _rowsets(session, "d", "t").values()) == len(after) - 1


def test_stream_load_op_column_upserts_and_deletes_by_row(local_frontend: Frontend, tmp_path: Path) -> None:
    session = cairn.api.connect(local_frontend)
    session.execute_script("CREATE DATABASE d; USE d; CREATE TABLE p (k INT, v INT) PRIMARY KEY(k) "
                           "DISTRIBUTED BY HASH(k) BUCKETS 2; CREATE TABLE dup (k INT, v INT) DUPLICATE KEY(k);"
                           "INSERT INTO p VALUES (1, 1), (2, 2), (5, 5);")
    body = tmp_path / "body.csv"
    # 0 upserts, 1 deletes; within the load the last row of a key wins, whatever it does.
    body.write_bytes(b"0\t1\t10\n1\t2\t0\n0\t3\t30\n1\t3\t0\n0\t4\t40\n1\t4\t0\n0\t4\t41\n")
    options = StreamLoadOptions.from_headers({"columns": "__op, k, v"})
    answer = stream_load(local_frontend, "root", "d", "p", options, body)
    assert (answer.status, answer.loaded_rows, answer.filtered_rows) == ("Success", 7, 0), answer.message
    assert session.execute("SELECT * FROM p ORDER BY k").rows() == [(1, 10), (4, 41), (5, 5)]
    body.write_bytes(b"x\tbad\t0\n1\t5\t0\n")  # a row that does not convert is filtered, as in any load
    answer = stream_load(local_frontend, "root", "d", "p",
                         StreamLoadOptions.from_headers({"columns": "__op, k, v", "max_filter_ratio": "0.5"}), body)
    assert (answer.status, answer.loaded_rows, answer.filtered_rows) == ("Success", 1, 1), answer.message
    assert session.execute("SELECT * FROM p ORDER BY k").rows() == [(1, 10), (4, 41)]
    answer = stream_load(local_frontend, "root", "d", "dup", StreamLoadOptions.from_headers({"columns": "__op, k, v"}),
                         body)
    assert answer.status == "Fail" and "needs a PRIMARY KEY table" in answer.message
