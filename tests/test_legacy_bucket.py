"""A bucket written by an earlier Cairn (tests/fixtures/legacy_v1.tar.gz) still loads, restores and verifies.

The fixture was written by tests/fixtures/make_legacy_bucket.py with the Cairn of its commit; its
`expected.json` says what it holds. Every later format (authenticated journal entries, encrypted
secrets, the catalog ops union) must keep reading it.
"""

from __future__ import annotations

import datetime
import json
import tarfile
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pymysql
import pytest

from fe_process import FeProcess, start_fe

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "legacy_v1.tar.gz"


# Automated snapshots are on in the fixture; a new one would retire the fixture's own.
NO_NEW_SNAPSHOTS = {"automated_cluster_snapshot_interval_seconds": "1000000000"}


def _unpack(tmp_path: Path) -> tuple[Path, str, dict[str, Any]]:
    """Copy the fixture under tmp_path; return the storage directory, the cluster id and what it holds."""
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path / "legacy", filter="data")
    storage = tmp_path / "legacy" / "storage"
    (cluster_id,) = [p.name for p in storage.iterdir() if p.is_dir()]
    return storage, cluster_id, json.loads((tmp_path / "legacy" / "expected.json").read_text())


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (datetime.date, datetime.datetime)) else value


def _rows(cursor: Any, table: str) -> list[list[Any]]:
    cursor.execute(f"SELECT * FROM {table}")
    return sorted(([_plain(v) for v in row] for row in cursor.fetchall()), key=repr)


def _connect(fe: FeProcess, user: str = "root", password: str = "") -> pymysql.Connection:
    return pymysql.connect(host="127.0.0.1", port=fe.query_port, user=user, password=password, autocommit=True)


def _check_users(fe: FeProcess, expected: dict[str, Any], tables: dict[str, list[list[Any]]]) -> None:
    """Every user logs in with the password the fixture set, reads what it was granted, and no more."""
    for user, password in expected["passwords"].items():
        with pytest.raises(pymysql.err.OperationalError):
            _connect(fe, user, password + "-wrong")
        connection = _connect(fe, user, password)
        with connection.cursor() as cursor:
            for table in expected["grants"][user]:
                assert _rows(cursor, table) == sorted(tables[table], key=repr)
            for table in expected["denied"][user]:
                with pytest.raises(pymysql.err.MySQLError, match="denied"):
                    cursor.execute(f"SELECT * FROM {table}")
        connection.close()


def _check_cluster(fe: FeProcess, expected: dict[str, Any], tables: dict[str, list[list[Any]]]) -> None:
    connection = _connect(fe)
    with connection.cursor() as cursor:
        for table, rows in tables.items():
            assert _rows(cursor, table) == sorted(rows, key=repr), table
        db, name = expected["dropped_table"].split(".")
        cursor.execute(f"SHOW TABLES FROM {db}")
        assert name not in {row[0] for row in cursor.fetchall()}
        cursor.execute("SHOW STORAGE VOLUMES")
        assert expected["s3_volume"] in {row[0] for row in cursor.fetchall()}
    connection.close()
    _check_users(fe, expected, tables)


def _drop_legacy_node(fe: FeProcess, expected: dict[str, Any]) -> None:
    """The fixture's compute node is registered but not running: check it is known, then drop it so
    that reads run in the FE's embedded engine."""
    connection = _connect(fe)
    with connection.cursor() as cursor:
        cursor.execute("SHOW COMPUTE NODES")
        assert any(expected["compute_node"].split(":")[0] in str(row) for row in cursor.fetchall())
        cursor.execute(f"ALTER SYSTEM DROP COMPUTE NODE '{expected['compute_node']}'")
    connection.close()


def test_a_legacy_bucket_loads_with_an_empty_meta_dir(tmp_path: Path) -> None:
    storage, cluster_id, expected = _unpack(tmp_path)
    values = {"local_storage_path": str(storage), "meta_dir": str(tmp_path / "meta"), **NO_NEW_SNAPSHOTS,
              "checkpoint_interval_entries": "2"}
    fe = start_fe(tmp_path, values)
    try:
        _drop_legacy_node(fe, expected)
        _check_cluster(fe, expected, expected["rows"])
        connection = _connect(fe)
        with connection.cursor() as cursor:  # the new FE writes to the legacy log, then restarts
            cursor.execute("INSERT INTO ops.events VALUES (4, 'after upgrade')")
        connection.close()
    finally:
        fe.stop()
    rows = dict(expected["rows"], **{"ops.events": [*expected["rows"]["ops.events"], [4, "after upgrade"]]})
    again = start_fe(tmp_path, dict(values, meta_dir=str(tmp_path / "meta2")))
    try:
        _check_cluster(again, expected, rows)
    finally:
        again.stop()
    # The legacy catalog's clear-text volume keys are sealed from the first checkpoint on.
    images = sorted((storage / cluster_id / "meta" / "image").glob("image.*"))
    newest = zlib.decompress(images[-1].read_bytes())
    assert len(images) > 1 and b"cairn-sealed:v1:" in newest
    assert expected["secret_key"].encode() not in newest and expected["access_key"].encode() not in newest


@pytest.mark.parametrize("snapshot", ["manual", "automated"])
def test_a_legacy_snapshot_restores_and_deep_verifies(tmp_path: Path, snapshot: str) -> None:
    storage, cluster_id, expected = _unpack(tmp_path)
    meta = storage / cluster_id / "meta"
    if snapshot == "manual":
        path = meta / "image" / expected["manual_snapshot"]
    else:
        (path,) = [p for p in (meta / "image").iterdir() if p.is_dir() and p.name.startswith("automated")]
    (tmp_path / "cluster_snapshot.yaml").write_text(
        f"cluster_snapshot:\n  cluster_snapshot_path: {path}\n  storage_volume_name: builtin_storage_volume\n"
        "frontends: []\ncompute_nodes: []\n"  # the bucket was copied: its builtin volume is elsewhere now
        f"storage_volumes:\n  - name: builtin_storage_volume\n    type: LOCAL\n    location: {storage}\n")
    values = {"local_storage_path": str(storage), "meta_dir": str(tmp_path / "meta"), **NO_NEW_SNAPSHOTS}
    fe = start_fe(tmp_path, values, extra_args=["--cluster_snapshot"])
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{fe.http_port}/api/v2/get_cluster_snapshot_restore_state",
                                    timeout=10) as answer:
            assert json.load(answer)["state"] == "finished"
        tables = expected["snapshot_rows"]
        connection = _connect(fe)
        with connection.cursor() as cursor:
            for table, rows in tables.items():
                assert _rows(cursor, table) == sorted(rows, key=repr), table
            cursor.execute("SHOW COMPUTE NODES")
            assert cursor.fetchall() == ()
            cursor.execute("SELECT SNAPSHOT_NAME FROM INFORMATION_SCHEMA.CLUSTER_SNAPSHOTS")
            for (name,) in cursor.fetchall():
                cursor.execute(f"ADMIN VERIFY CLUSTER SNAPSHOT {name} DEEP")
                assert [row[2] for row in cursor.fetchall()] == ["OK"], name
            cursor.execute("INSERT INTO sales.orders VALUES ('2025-09-09', 'Caen', 1)")
        connection.close()
        _check_users(fe, {**expected, "grants": {"analyst": ["sales.orders"], "loader": ["ops.events"]},
                          "passwords": {"analyst": "analyst-pw", "loader": "loader-pw"},
                          "denied": {"analyst": ["ops.events"], "loader": ["sales.orders"]}},
                     {"sales.orders": [*expected["snapshot_rows"]["sales.orders"], ["2025-09-09", "Caen", 1]],
                      "ops.events": expected["rows"]["ops.events"]})
    finally:
        fe.stop()


def test_vacuum_keeps_what_legacy_snapshots_need(tmp_path: Path) -> None:
    """Unsigned (legacy) manifests are still trusted where their legacy image vouches for them: vacuum
    keeps every object they list, and they deep-verify after it."""
    storage, _cluster_id, expected = _unpack(tmp_path)
    values = {"local_storage_path": str(storage), "meta_dir": str(tmp_path / "meta"), **NO_NEW_SNAPSHOTS,
              "vacuum_grace_period_seconds": "0", "catalog_trash_expire_second": "0"}
    fe = start_fe(tmp_path, values)
    try:
        _drop_legacy_node(fe, expected)
        connection = _connect(fe)
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE TABLE ops.by_day")  # its data is now needed by the snapshots alone
            cursor.execute("ADMIN VACUUM")
            cursor.execute("SELECT SNAPSHOT_NAME FROM INFORMATION_SCHEMA.CLUSTER_SNAPSHOTS")
            names = [name for (name,) in cursor.fetchall()]
            assert expected["manual_snapshot"] in names and len(names) == 2
            for name in names:
                cursor.execute(f"ADMIN VERIFY CLUSTER SNAPSHOT {name} DEEP")
                assert [row[2] for row in cursor.fetchall()] == ["OK"], name
        connection.close()
    finally:
        fe.stop()
    assert "does not trust the manifest" not in fe.log.read_text()
