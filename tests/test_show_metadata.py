"""SHOW PROC, SHOW DATA, SHOW TABLET and SHOW BACKENDS over the MySQL protocol: StarRocks' columns,
values that follow from the data loaded, StarRocks' errors for paths it cannot open, and privileges."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pymysql
import pytest

from fe_process import FeProcess, module_fe  # noqa: F401  (module_fe is the `fe` fixture)
from sql_client import connect, error_of, fresh_database, rows

# r: 3 RANGE partitions of 4 tablets; rows in p1 and p2. u: unpartitioned, 2 tablets, 3 rows.
SETUP = ("CREATE TABLE r (k INT, v INT) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN (10), "
         "PARTITION p2 VALUES LESS THAN (20), PARTITION p3 VALUES LESS THAN (30)) DISTRIBUTED BY HASH(k) BUCKETS 4",
         "INSERT INTO r VALUES (1, 10), (2, 20), (15, 30)",
         "CREATE TABLE u (k INT, name VARCHAR(10)) DISTRIBUTED BY HASH(k) BUCKETS 2",
         "INSERT INTO u VALUES (1, 'a'), (2, 'b'), (3, 'c')",
         "CREATE VIEW w AS SELECT k FROM u")


@pytest.fixture(scope="module")
def db(fe: FeProcess) -> Iterator[tuple[str, pymysql.cursors.Cursor]]:
    with fresh_database(fe, "meta", *SETUP) as found:
        yield found


def _columns(cur: pymysql.cursors.Cursor) -> list[str]:
    return [d[0] for d in cur.description]


def _bytes(text: str) -> float:
    """A size as SHOW DATA prints it (`1.825 KB`), in bytes."""
    value, _, unit = text.partition(" ")
    return float(value) * {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[unit]


def _tablet_bytes(text: str) -> float:
    """A size as SHOW TABLET prints it (`623b`, `1.5kb`), in bytes."""
    for unit, size in (("tb", 1 << 40), ("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("b", 1)):
        if text.endswith(unit):
            return float(text.removesuffix(unit)) * size
    raise AssertionError(text)


COLUMNS = [
    ("SHOW PROC '/dbs'", ["DbId", "DbName", "TableNum", "Quota", "LastConsistencyCheckTime", "ReplicaQuota"]),
    ("SHOW PROC '/statistic'", ["DbId", "DbName", "TableNum", "PartitionNum", "IndexNum", "TabletNum", "ReplicaNum",
                                "UnhealthyTabletNum", "InconsistentTabletNum", "CloningTabletNum",
                                "ErrorStateTabletNum"]),
    ("SHOW PROC '/frontends'", ["Name", "IP", "EditLogPort", "HttpPort", "QueryPort", "RpcPort", "Role", "ClusterId",
                                "Join", "Alive", "ReplayedJournalId", "LastHeartbeat", "IsHelper", "ErrMsg",
                                "StartTime", "Version"]),
    ("SHOW PROC '/compute_nodes'", ["ComputeNodeId", "IP", "HeartbeatPort", "BePort", "HttpPort", "BrpcPort",
                                    "LastStartTime", "LastHeartbeat", "Alive", "SystemDecommissioned",
                                    "ClusterDecommissioned", "ErrMsg", "Version", "CpuCores", "NumRunningQueries",
                                    "MemUsedPct", "CpuUsedPct", "DataCacheMetrics", "HasStoragePath", "StarletPort",
                                    "WorkerId", "WarehouseName", "TabletNum", "StatusCode"]),
    ("SHOW PROC '/backends'", ["BackendId", "IP", "HeartbeatPort", "BePort", "HttpPort", "BrpcPort", "LastStartTime",
                               "LastHeartbeat", "Alive", "SystemDecommissioned", "ClusterDecommissioned", "TabletNum",
                               "DataUsedCapacity", "AvailCapacity", "TotalCapacity", "UsedPct", "MaxDiskUsedPct",
                               "ErrMsg", "Version", "Status", "DataTotalCapacity", "DataUsedPct", "CpuCores",
                               "MemLimit", "NumRunningQueries", "MemUsedPct", "CpuUsedPct", "DataCacheMetrics",
                               "Location", "StatusCode", "StarletPort", "WorkerId", "WarehouseName"]),
    ("SHOW DATA", ["TableName", "Size", "ReplicaCount"]),
    ("SHOW DATA FROM r", ["TableName", "IndexName", "Size", "ReplicaCount", "RowCount"]),
    ("SHOW TABLET FROM r", ["TabletId", "BackendId", "DataSize", "RowCount"]),
    ("SHOW PROC '/'", ["name"]),
    ("SELECT * FROM information_schema.keywords", ["KEYWORD", "RESERVED"]),
]


@pytest.mark.parametrize(("sql", "columns"), COLUMNS, ids=[c[0] for c in COLUMNS])
def test_columns_are_starrocks(db: tuple[str, pymysql.cursors.Cursor], sql: str, columns: list[str]) -> None:
    _, cur = db
    rows(cur, sql)
    assert _columns(cur) == columns


def test_show_proc_dbs_and_a_database_s_tables(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    dbs = {row[1]: row for row in rows(cur, "SHOW PROC '/dbs'")}
    db_id = dbs[name][0]
    assert dbs[name][2:] == ("3", "8388608.000 TB", "NULL", "1073741824")  # r, u and the view w; no quota
    ids = [int(row[0]) for row in rows(cur, "SHOW PROC '/dbs'")]
    assert ids == sorted(ids)
    tables = rows(cur, f"SHOW PROC '/dbs/{db_id}'")
    assert _columns(cur) == ["TableId", "TableName", "IndexNum", "PartitionColumnName", "PartitionNum", "State",
                             "Type", "LastConsistencyCheckTime", "ReplicaCount", "PartitionType", "StoragePath"]
    by_name = {row[1]: row for row in tables}
    assert by_name["r"][2:10] == ("1", "k", "3", "NORMAL", "CLOUD_NATIVE", "NULL", "12", "RANGE")
    assert by_name["u"][2:10] == ("1", "", "1", "NORMAL", "CLOUD_NATIVE", "NULL", "2", "UNPARTITIONED")
    assert by_name["w"][6] == "VIEW"
    assert by_name["r"][10].endswith(f"/data/{db_id}/{by_name['r'][0]}")
    assert rows(cur, f"SHOW PROC '/dbs/{name}'") == tables  # a database is also found by its name


def test_show_proc_statistic_counts_what_the_database_holds(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    found = rows(cur, "SHOW PROC '/statistic'")
    mine = next(row for row in found if row[1] == name)
    # 2 tables, 3 + 1 partitions (one index each), 12 + 2 tablets; shared data: no replica, none unhealthy.
    assert mine[2:] == ("2", "4", "4", "14", "0", "0", "0", "0", "0")
    assert found[-1][0] == "Total" and found[-1][1] == str(len(found) - 1)
    assert int(found[-1][5]) == sum(int(row[5]) for row in found[:-1])


def test_show_proc_nodes_match_show_frontends_and_compute_nodes(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    _, cur = db
    assert [r[:9] for r in rows(cur, "SHOW PROC '/frontends'")] == [r[:9] for r in rows(cur, "SHOW FRONTENDS")]
    assert rows(cur, "SHOW PROC '/compute_nodes'") == rows(cur, "SHOW COMPUTE NODES") == []
    assert rows(cur, "SHOW PROC '/backends'") == rows(cur, "SHOW BACKENDS") == []
    assert _columns(cur)[:3] == ["BackendId", "IP", "HeartbeatPort"]
    assert rows(cur, "SHOW PROC '/'") == [("backends",), ("compute_nodes",), ("dbs",), ("frontends",), ("statistic",)]


def test_show_data_sums_the_partitions_and_tablets(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    shown = rows(cur, "SHOW DATA")
    assert [row[0] for row in shown] == ["r", "u", "Total", "Quota", "Left"]
    assert [row[2] for row in shown[:3]] == ["12", "2", "14"]
    assert _bytes(shown[0][1]) > 0 and _bytes(shown[1][1]) > 0
    assert abs(_bytes(shown[2][1]) - _bytes(shown[0][1]) - _bytes(shown[1][1])) < 2
    assert shown[3] == ("Quota", "8388608.000 TB", "1073741824")
    assert shown[4][2] == str(1073741824 - 14)
    index = rows(cur, f"SHOW DATA FROM {name}.r")
    assert index == [("r", "r", shown[0][1], "12", "3"), ("", "Total", shown[0][1], "12", "")]
    assert rows(cur, "SHOW DATA FROM u")[0][4] == "3"


def test_show_tablet_lists_each_partition_s_tablets(db: tuple[str, pymysql.cursors.Cursor]) -> None:
    _, cur = db
    tablets = rows(cur, "SHOW TABLET FROM r")
    assert len(tablets) == 12 and [int(t[0]) for t in tablets] == sorted(int(t[0]) for t in tablets)
    # Three rows loaded; the tablets' sizes add up to what SHOW DATA says of the table.
    assert sum(int(t[3]) for t in tablets) == 3
    assert all(json.loads(t[1]) == [] for t in tablets)  # embedded: no compute node scans them
    total = _bytes(rows(cur, "SHOW DATA FROM r")[0][2])
    assert abs(sum(_tablet_bytes(t[2]) for t in tablets) - total) < 0.01 * total + 2
    p2 = rows(cur, "SHOW TABLET FROM r PARTITION (p2)")
    assert len(p2) == 4 and sum(int(t[3]) for t in p2) == 1 and set(p2) <= set(tablets)
    assert sum(int(t[3]) for t in rows(cur, "SHOW TABLET FROM r PARTITIONS (p1, p3)")) == 2
    # EXPLAIN's tablet for k = 15 is one of p2's.
    plan = [row[0] for row in rows(cur, "EXPLAIN SELECT * FROM r WHERE k = 15")]
    listed = next(line.split("=")[1] for line in plan if line.strip().startswith("tabletList="))
    assert listed in {t[0] for t in p2}


ERRORS = [
    ("SHOW PROC '/nope'", 1064, "Unknown proc node path: /nope"),
    ("SHOW PROC '/dbs/999999999'", 1064, "Unknown proc node path: /dbs/999999999"),
    ("SHOW PROC '/dbs/no_such_db'", 1064, "Unknown proc node path: /dbs/no_such_db"),
    ("SHOW PROC 'dbs'", 1064, "Unknown proc node path: dbs"),
    ("SHOW PROC ''", 1064, "Path is null"),
    ("SHOW DATA FROM missing", 1146, "missing"),
    ("SHOW TABLET FROM missing", 1146, "missing"),
    ("SHOW TABLET FROM r PARTITION (p9)", None, "Unknown partition 'p9'"),
    ("SHOW TABLET r", 1064, "expected FROM"),
]


@pytest.mark.parametrize(("sql", "code", "fragment"), ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(db: tuple[str, pymysql.cursors.Cursor], sql: str, code: int | None, fragment: str) -> None:
    _, cur = db
    found_code, message = error_of(cur, sql)
    assert fragment in message
    if code is not None:
        assert found_code == code


def test_privileges(fe: FeProcess, db: tuple[str, pymysql.cursors.Cursor]) -> None:
    name, cur = db
    cur.execute("CREATE USER IF NOT EXISTS meta_reader IDENTIFIED BY 'pw'")
    cur.execute(f"GRANT SELECT ON {name}.u TO meta_reader")
    cur.execute("CREATE USER IF NOT EXISTS meta_operator IDENTIFIED BY 'pw'")
    cur.execute("GRANT OPERATE ON SYSTEM TO meta_operator")
    cur.execute(f"GRANT SELECT ON {name}.r TO meta_operator")
    reader = connect(fe, "meta_reader", "pw", name)
    operator = connect(fe, "meta_operator", "pw", name)
    try:
        plain = reader.cursor()
        # SHOW PROC, SHOW BACKENDS and SHOW TABLET need OPERATE; SHOW DATA lists what the user may see.
        for sql in ("SHOW PROC '/dbs'", "SHOW BACKENDS", "SHOW TABLET FROM u"):
            code, message = error_of(plain, sql)
            assert code == 1142 and "OPERATE" in message, sql
        assert [row[0] for row in rows(plain, "SHOW DATA")] == ["u", "Total", "Quota", "Left"]
        assert error_of(plain, "SHOW DATA FROM r")[0] == 1142
        allowed = operator.cursor()
        assert any(row[1] == name for row in rows(allowed, "SHOW PROC '/dbs'"))
        assert len(rows(allowed, "SHOW TABLET FROM r")) == 12
        assert error_of(allowed, "SHOW TABLET FROM u")[0] == 1142  # OPERATE, but no SELECT on u
    finally:
        reader.close()
        operator.close()
