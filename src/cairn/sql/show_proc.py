"""SHOW PROC '<path>' and SHOW BACKENDS, with StarRocks' columns and StarRocks' error for a path it
cannot open.

Cairn serves the paths a shared-data StarRocks user reads most: `/dbs` (and `/dbs/<db id or name>`,
its tables), `/statistic`, `/frontends` (as SHOW FRONTENDS), `/compute_nodes` (as SHOW COMPUTE NODES)
and `/backends`. Every table's only copy lives on object storage, so each tablet counts once as a
replica, and a shared-data cluster has no backends: `/backends` and SHOW BACKENDS answer no row, with
StarRocks' shared-data columns. Cairn has no quotas: it prints StarRocks' defaults, which mean none.
Both need the OPERATE privilege, as in StarRocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cairn.catalog.model import Database, Table
from cairn.display import readable_bytes
from cairn.errors import AnalysisError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables
from cairn.sql.frontend_grammar import ShowFrontends
from cairn.sql.frontends import show_frontends
from cairn.sql.metadata_grammar import ShowBackends, ShowProc
from cairn.sql.node_grammar import ShowComputeNodes
from cairn.sql.nodes import show_compute_nodes
from cairn.sql.registry import Requirement, StatementRegistry
from cairn.sql.result import ResultSet

DBS_COLUMNS = ["DbId", "DbName", "TableNum", "Quota", "LastConsistencyCheckTime", "ReplicaQuota"]
TABLES_COLUMNS = ["TableId", "TableName", "IndexNum", "PartitionColumnName", "PartitionNum", "State", "Type",
                  "LastConsistencyCheckTime", "ReplicaCount", "PartitionType", "StoragePath"]
STATISTIC_COLUMNS = ["DbId", "DbName", "TableNum", "PartitionNum", "IndexNum", "TabletNum", "ReplicaNum",
                     "UnhealthyTabletNum", "InconsistentTabletNum", "CloningTabletNum", "ErrorStateTabletNum"]
BACKENDS_COLUMNS = ["BackendId", "IP", "HeartbeatPort", "BePort", "HttpPort", "BrpcPort", "LastStartTime",
                    "LastHeartbeat", "Alive", "SystemDecommissioned", "ClusterDecommissioned", "TabletNum",
                    "DataUsedCapacity", "AvailCapacity", "TotalCapacity", "UsedPct", "MaxDiskUsedPct", "ErrMsg",
                    "Version", "Status", "DataTotalCapacity", "DataUsedPct", "CpuCores", "MemLimit",
                    "NumRunningQueries", "MemUsedPct", "CpuUsedPct", "DataCacheMetrics", "Location", "StatusCode",
                    "StarletPort", "WorkerId", "WarehouseName"]
# StarRocks' quotas when none is set (a data quota of Long.MAX_VALUE bytes, its default replica quota).
NO_DATA_QUOTA = (1 << 63) - 1
NO_REPLICA_QUOTA = 1 << 30
# StarRocks prints "NULL" for a time it never recorded (Cairn never runs consistency checks).
NEVER = "NULL"


def tablet_count(table: Table) -> int:
    """The table's tablets in every partition: each is the one replica of its data."""
    return sum(len(p.tablet_ids) for p in table.partitions)


def _strings(rows: Iterable[Iterable[object]]) -> list[tuple[object, ...]]:
    """Rows as StarRocks' PROC results carry them: every value a string."""
    return [tuple(str(value) for value in row) for row in rows]


def _dbs(fe: Frontend) -> ResultSet:
    databases = sorted(fe.catalog.state.databases.values(), key=lambda d: d.id)
    rows = [(db.id, db.name, len(db.tables) + len(db.views), readable_bytes(NO_DATA_QUOTA), NEVER, NO_REPLICA_QUOTA)
            for db in databases]
    return ResultSet.from_rows(DBS_COLUMNS, _strings(rows))


def _partition_type(table: Table) -> str:
    """StarRocks' name of the table's partitioning (`EXPR_RANGE` for date_trunc / time_slice ones)."""
    if table.auto_partition is not None and table.auto_partition.function in ("date_trunc", "time_slice"):
        return "EXPR_RANGE"
    return table.partition_type


def _tables(fe: Frontend, db: Database) -> ResultSet:
    volume = fe.catalog.storage_volume(db.storage_volume)
    rows: dict[int, tuple[object, ...]] = {}
    for table in db.tables.values():
        partitioned = table.partition_type != "UNPARTITIONED"
        path = f"{volume.location.rstrip('/')}/{fe.keys.table_prefix(db.id, table.id)}"
        rows[table.id] = (table.id, table.name, 1, ", ".join(table.partition_columns),
                          len(table.partitions) if partitioned else 1, "NORMAL", "CLOUD_NATIVE", NEVER,
                          tablet_count(table), _partition_type(table), path.rstrip("/"))
    for view in db.views.values():
        rows[view.id] = (view.id, view.name, NEVER, NEVER, 1, NEVER, "VIEW", NEVER, 0, "UNPARTITIONED", NEVER)
    return ResultSet.from_rows(TABLES_COLUMNS, _strings(rows[key] for key in sorted(rows)))


def _statistic(fe: Frontend) -> ResultSet:
    lines: list[tuple[object, ...]] = []
    totals = [0, 0, 0, 0]
    databases = sorted(fe.catalog.state.databases.values(), key=lambda d: d.name)
    for db in databases:
        tables = list(db.tables.values())
        counts = [len(tables), sum(len(t.partitions) for t in tables), 0, sum(map(tablet_count, tables))]
        counts[2] = counts[1]  # one index per partition: Cairn has no rollups
        totals = [a + b for a, b in zip(totals, counts)]
        # A shared-data tablet counts no replica, and none is ever unhealthy, inconsistent or cloning.
        lines.append((db.id, db.name, *counts, 0, 0, 0, 0, 0))
    lines.append(("Total", len(databases), *totals, 0, 0, 0, 0, 0))
    return ResultSet.from_rows(STATISTIC_COLUMNS, _strings(lines))


def _database(fe: Frontend, id_or_name: str) -> Database | None:
    """A database named by its id or, as StarRocks also takes, its name."""
    databases = fe.catalog.state.databases
    if id_or_name.isdigit():
        return next((db for db in databases.values() if db.id == int(id_or_name)), None)
    return databases.get(id_or_name)


def _unknown(path: str) -> AnalysisError:
    return AnalysisError(f"Getting analyzing error. Detail message: Unknown proc node path: {path}.")


def backends() -> ResultSet:
    """No backend: a shared-data cluster's compute runs on compute nodes (`/compute_nodes`)."""
    return ResultSet.from_rows(BACKENDS_COLUMNS, [])


def show_proc(query: QueryContext, fe: Frontend, statement: ShowProc) -> ResultSet:
    """The PROC node at `statement.path`. Raises AnalysisError ('Unknown proc node path: ...', or
    'Path is null') for one Cairn does not serve."""
    path = statement.path.strip()
    if not path:
        raise AnalysisError("Getting analyzing error. Detail message: Path is null.")
    if not path.startswith("/"):
        raise _unknown(statement.path)
    parts = [part for part in path.split("/") if part]
    leaves: dict[str, Callable[[], ResultSet]] = {
        "backends": backends,
        "compute_nodes": lambda: show_compute_nodes(query, fe, ShowComputeNodes()),
        "frontends": lambda: show_frontends(query, fe, ShowFrontends()),
        "statistic": lambda: _statistic(fe),
        "dbs": lambda: _dbs(fe),
    }
    if not parts:
        return ResultSet.from_rows(["name"], [(name,) for name in sorted(leaves)])
    if len(parts) == 1 and parts[0] in leaves:
        return leaves[parts[0]]()
    if len(parts) == 2 and parts[0] == "dbs":
        db = _database(fe, parts[1])
        if db is not None:
            return _tables(fe, db)
    raise _unknown(statement.path)


def show_backends(query: QueryContext, fe: Frontend, statement: ShowBackends) -> ResultSet:
    return backends()


def operate(_ctx: QueryContext, _statement: object, _virtual: VirtualTables) -> list[Requirement]:
    """StarRocks' SYSTEM-level OPERATE (kept as a grant on *.*; ALL includes it)."""
    return [Requirement("OPERATE")]


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(ShowProc, show_proc, needs=operate)
    statements.add(ShowBackends, show_backends, needs=operate)
