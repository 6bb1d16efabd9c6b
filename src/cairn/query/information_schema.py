"""information_schema: schemata, tables, columns, and the cluster-snapshot tables, with StarRocks'
column names and order. A user sees the databases and tables it holds a privilege on."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone

import pyarrow as pa

from cairn.auth.privileges import has_privilege
from cairn.catalog.model import Database, Table
from cairn.catalog.types import parse_type
from cairn.catalog.view import CatalogView
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables

SCHEMA = "information_schema"
CATALOG = "def"


def _table(columns: list[tuple[str, pa.DataType]], rows: Sequence[tuple[object, ...]]) -> pa.Table:
    arrays = [pa.array([row[i] for row in rows], type=t) for i, (_, t) in enumerate(columns)]
    return pa.Table.from_arrays(arrays, names=[name for name, _ in columns])


def _visible_tables(ctx: QueryContext, catalog: CatalogView) -> Iterator[tuple[Database, Table]]:
    state = catalog.state
    with catalog.lock:
        for db in sorted(state.databases.values(), key=lambda d: d.name):
            for table in sorted(db.tables.values(), key=lambda t: t.name):
                if has_privilege(state, ctx.user, "SELECT", db.name, table.name):
                    yield db, table.model_copy(deep=True)


def schemata(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    columns = [("CATALOG_NAME", pa.string()), ("SCHEMA_NAME", pa.string()),
               ("DEFAULT_CHARACTER_SET_NAME", pa.string()), ("DEFAULT_COLLATION_NAME", pa.string()),
               ("SQL_PATH", pa.string())]
    names = sorted({db.name for db, _ in _visible_tables(ctx, catalog)} |
                   {n for n in catalog.state.databases
                    if has_privilege(catalog.state, ctx.user, "SELECT", n)} | {SCHEMA})
    return _table(columns, [(CATALOG, n, "utf8", "utf8_general_ci", None) for n in names])


def tables_table(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    columns = [("TABLE_CATALOG", pa.string()), ("TABLE_SCHEMA", pa.string()), ("TABLE_NAME", pa.string()),
               ("TABLE_TYPE", pa.string()), ("ENGINE", pa.string()), ("VERSION", pa.int64()),
               ("ROW_FORMAT", pa.string()), ("TABLE_ROWS", pa.int64()), ("AVG_ROW_LENGTH", pa.int64()),
               ("DATA_LENGTH", pa.int64()), ("MAX_DATA_LENGTH", pa.int64()), ("INDEX_LENGTH", pa.int64()),
               ("DATA_FREE", pa.int64()), ("AUTO_INCREMENT", pa.int64()), ("CREATE_TIME", pa.timestamp("s")),
               ("UPDATE_TIME", pa.timestamp("s")), ("CHECK_TIME", pa.timestamp("s")),
               ("TABLE_COLLATION", pa.string()), ("CHECKSUM", pa.int64()), ("CREATE_OPTIONS", pa.string()),
               ("TABLE_COMMENT", pa.string())]
    rows = []
    for db, table in _visible_tables(ctx, catalog):
        row_count = sum(p.row_count for p in table.partitions)
        size = sum(p.data_size for p in table.partitions)
        updated = max((p.visible_version_time for p in table.partitions), default=table.created_at)
        rows.append((CATALOG, db.name, table.name, "BASE TABLE", "StarRocks", None, None, row_count,
                     size // row_count if row_count else 0, size, None, None, None, None,
                     _stamp(table.created_at), _stamp(updated), None, "utf8_general_ci", None, "", table.comment))
    return _table(columns, rows)


def _stamp(seconds: float) -> datetime:
    """A whole-second UTC timestamp, without a zone, as TIMESTAMP columns hold it."""
    return datetime.fromtimestamp(int(seconds), timezone.utc).replace(tzinfo=None)


def columns_table(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    columns = [("TABLE_CATALOG", pa.string()), ("TABLE_SCHEMA", pa.string()), ("TABLE_NAME", pa.string()),
               ("COLUMN_NAME", pa.string()), ("ORDINAL_POSITION", pa.int64()), ("COLUMN_DEFAULT", pa.string()),
               ("IS_NULLABLE", pa.string()), ("DATA_TYPE", pa.string()), ("CHARACTER_MAXIMUM_LENGTH", pa.int64()),
               ("CHARACTER_OCTET_LENGTH", pa.int64()), ("NUMERIC_PRECISION", pa.int64()),
               ("NUMERIC_SCALE", pa.int64()), ("DATETIME_PRECISION", pa.int64()),
               ("CHARACTER_SET_NAME", pa.string()), ("COLLATION_NAME", pa.string()), ("COLUMN_TYPE", pa.string()),
               ("COLUMN_KEY", pa.string()), ("EXTRA", pa.string()), ("PRIVILEGES", pa.string()),
               ("COLUMN_COMMENT", pa.string()), ("COLUMN_SIZE", pa.int64()), ("DECIMAL_DIGITS", pa.int64()),
               ("GENERATION_EXPRESSION", pa.string()), ("SRS_ID", pa.int64())]
    rows = []
    for db, table in _visible_tables(ctx, catalog):
        for position, column in enumerate(table.columns, start=1):
            kind = parse_type(column.type)
            length = kind.max_length
            key = ("PRI" if table.keys_type == "PRIMARY" else "DUP") if column.is_key else ""
            rows.append((CATALOG, db.name, table.name, column.name, position, column.default,
                         "YES" if column.nullable else "NO", kind.name.lower(), length, length,
                         kind.precision, kind.scale, 0 if kind.name == "DATETIME" else None,
                         "utf8" if kind.is_string else None, "utf8_general_ci" if kind.is_string else None,
                         kind.text.lower(), key, "", "select,insert,update,references", column.comment,
                         length or kind.precision, kind.scale, None, None))
    return _table(columns, rows)


SNAPSHOT_COLUMNS = [("SNAPSHOT_NAME", pa.string()), ("SNAPSHOT_TYPE", pa.string()), ("CREATED_TIME", pa.timestamp("s")),
                    ("FE_JOURNAL_ID", pa.int64()), ("STARMGR_JOURNAL_ID", pa.int64()), ("PROPERTIES", pa.string()),
                    ("STORAGE_VOLUME", pa.string()), ("STORAGE_PATH", pa.string())]
SNAPSHOT_JOB_COLUMNS = [("SNAPSHOT_NAME", pa.string()), ("JOB_ID", pa.int64()), ("CREATED_TIME", pa.timestamp("s")),
                        ("FINISHED_TIME", pa.timestamp("s")), ("STATE", pa.string()), ("DETAIL_INFO", pa.string()),
                        ("ERROR_MESSAGE", pa.string())]


def cluster_snapshots(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    """Finished (retained) cluster snapshots, oldest first."""
    jobs = sorted((j for j in catalog.state.snapshot_jobs.values() if j.state == "FINISHED"),
                  key=lambda j: j.created_at)
    rows = [(j.name, j.type, _stamp(j.created_at), j.fe_journal_id, 0, json.dumps(j.properties) if j.properties else "",
             j.storage_volume, j.storage_path.rstrip("/")) for j in jobs]
    return _table(SNAPSHOT_COLUMNS, rows)


def cluster_snapshot_jobs(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    """Every cluster snapshot job and its state, oldest first."""
    jobs = sorted(catalog.state.snapshot_jobs.values(), key=lambda j: j.job_id)
    rows = [(j.name, j.job_id, _stamp(j.created_at), _stamp(j.finished_at) if j.finished_at else None, j.state,
             j.detail, j.error) for j in jobs]
    return _table(SNAPSHOT_JOB_COLUMNS, rows)


def register(tables: VirtualTables) -> None:
    """Add information_schema's tables to `tables`."""
    for name, provider in {"schemata": schemata, "tables": tables_table, "columns": columns_table,
                           "cluster_snapshots": cluster_snapshots,
                           "cluster_snapshot_jobs": cluster_snapshot_jobs}.items():
        tables.register(SCHEMA, name, provider)
