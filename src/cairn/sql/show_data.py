"""SHOW DATA and SHOW TABLET, with StarRocks' columns (its shared-data forms).

Sizes and row counts are the ones Cairn records: a partition's data size and row count at its visible
version (SHOW DATA), and a tablet's rowsets at that version, read from the partition's manifest (SHOW
TABLET; its RowCount counts the rows its rowsets hold, before a keyed table's rows are merged by key).
A tablet's BackendId lists the compute node that scans it now (none on the embedded engine).
"""

from __future__ import annotations

import json

from cairn.auth.privileges import ANY, can_see
from cairn.catalog.model import Table
from cairn.display import byte_size, readable_bytes
from cairn.errors import UnknownPartitionError
from cairn.fe.frontend import Frontend
from cairn.lake.manifest import MANIFESTS
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables
from cairn.sql.metadata_grammar import ShowData, ShowTablet
from cairn.sql.registry import Requirement, StatementRegistry
from cairn.sql.result import ResultSet
from cairn.sql.show_proc import NO_DATA_QUOTA, NO_REPLICA_QUOTA, tablet_count

TABLE_DATA_COLUMNS = ["TableName", "Size", "ReplicaCount"]
INDEX_DATA_COLUMNS = ["TableName", "IndexName", "Size", "ReplicaCount", "RowCount"]
TABLET_COLUMNS = ["TabletId", "BackendId", "DataSize", "RowCount"]


def _table_size(table: Table) -> int:
    return sum(p.data_size for p in table.partitions)


def _show_database_data(query: QueryContext, fe: Frontend, database: str | None) -> ResultSet:
    """Each table of the database the user may see, then the Total, Quota and Left rows."""
    db = fe.catalog.database(database)
    state = fe.catalog.state
    rows: list[tuple[object, ...]] = []
    size = replicas = 0
    for name in sorted(db.tables):
        if not can_see(state, query.user, db.name, name):
            continue
        table = db.tables[name]
        rows.append((name, readable_bytes(_table_size(table)), str(tablet_count(table))))
        size += _table_size(table)
        replicas += tablet_count(table)
    rows += [("Total", readable_bytes(size), str(replicas)),
             ("Quota", readable_bytes(NO_DATA_QUOTA), str(NO_REPLICA_QUOTA)),
             ("Left", readable_bytes(max(0, NO_DATA_QUOTA - size)), str(max(0, NO_REPLICA_QUOTA - replicas)))]
    return ResultSet.from_rows(TABLE_DATA_COLUMNS, rows)


def show_data(query: QueryContext, fe: Frontend, statement: ShowData) -> ResultSet:
    """SHOW DATA: the current database's tables; SHOW DATA FROM t: t's one index (its base index,
    named as the table: Cairn has no rollups) and the Total row."""
    if statement.table is None:
        return _show_database_data(query, fe, statement.database or query.database)
    _, table = fe.catalog.table(statement.database or query.database, statement.table)
    size, replicas = readable_bytes(_table_size(table)), str(tablet_count(table))
    rows = [(table.name, table.name, size, replicas, str(sum(p.row_count for p in table.partitions))),
            ("", "Total", size, replicas, "")]
    return ResultSet.from_rows(INDEX_DATA_COLUMNS, rows)


def show_tablet(query: QueryContext, fe: Frontend, statement: ShowTablet) -> ResultSet:
    """One row per tablet of the table's partitions (or the ones named), in tablet id order.
    Raises UnknownPartitionError for a partition the table does not have."""
    db, table = fe.catalog.table(statement.database or query.database, statement.table)
    partitions = table.partitions
    if statement.partitions is not None:
        names = {p.name for p in partitions}
        missing = [name for name in statement.partitions if name not in names]
        if missing:
            raise UnknownPartitionError(f"Unknown partition '{missing[0]}' in table '{table.name}'")
        partitions = [p for p in partitions if p.name in statement.partitions]
    store = fe.engine.stores(db.storage_volume)
    read = [p for p in partitions if p.manifest_key]
    manifests = dict(zip((p.id for p in read), MANIFESTS.get_many(store, [k for p in read if (k := p.manifest_key)])))
    nodes = fe.compute_nodes.alive()
    owners = fe.compute_nodes.assign([t for p in partitions for t in p.tablet_ids], nodes) if nodes else {}
    node_of = {tablet: state.node.id for state in nodes for tablet in owners.get(state.address, [])}
    rows = []
    for partition in partitions:
        manifest = manifests.get(partition.id)
        for tablet in partition.tablet_ids:
            rowsets = manifest.tablets.get(tablet, []) if manifest is not None else []
            rows.append((tablet, json.dumps([node_of[tablet]] if tablet in node_of else []),
                         byte_size(sum(r.size for r in rowsets)), sum(r.rows for r in rowsets if not r.deletes)))
    return ResultSet.from_rows(TABLET_COLUMNS, [tuple(map(str, row)) for row in sorted(rows)])


def _data_needs(ctx: QueryContext, statement: ShowData, _virtual: VirtualTables) -> list[Requirement]:
    """SHOW DATA FROM t: any privilege on t (SHOW DATA lists only the tables the user may see)."""
    if statement.table is None:
        return []
    return [Requirement(ANY, statement.database or ctx.database or "", statement.table)]


def _tablet_needs(ctx: QueryContext, statement: ShowTablet, _virtual: VirtualTables) -> list[Requirement]:
    """StarRocks' SYSTEM-level OPERATE and SELECT on the table."""
    return [Requirement("OPERATE"), Requirement("SELECT", statement.database or ctx.database or "", statement.table)]


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(ShowData, show_data, needs=_data_needs)
    statements.add(ShowTablet, show_tablet, needs=_tablet_needs)
