"""information_schema: schemata, tables, columns, views, tables_config, partitions_meta,
materialized_views (empty: Cairn has none) and the cluster-snapshot tables, with StarRocks' column names and order. A user
sees the databases, tables and views it holds a privilege on."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone

import pyarrow as pa

from cairn.auth.privileges import has_privilege
from cairn.catalog.model import Column, Database, Partition, Table, View
from cairn.catalog.partition_text import describe_range
from cairn.catalog.types import ColumnType, parse_type
from cairn.catalog.view import CatalogView
from cairn.errors import AnalysisError
from cairn.query import system_tables
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import SystemColumn, VirtualTables
from cairn.storage.keys import ClusterKeys

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
                if table.temporary is None and has_privilege(state, ctx.user, "SELECT", db.name, table.name):
                    yield db, table.model_copy(deep=True)


def _visible_views(ctx: QueryContext, catalog: CatalogView) -> Iterator[tuple[Database, View]]:
    state = catalog.state
    with catalog.lock:
        for db in sorted(state.databases.values(), key=lambda d: d.name):
            for view in sorted(db.views.values(), key=lambda v: v.name):
                if has_privilege(state, ctx.user, "SELECT", db.name, view.name):
                    yield db, view.model_copy(deep=True)


def schemata(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    columns = [("CATALOG_NAME", pa.string()), ("SCHEMA_NAME", pa.string()),
               ("DEFAULT_CHARACTER_SET_NAME", pa.string()), ("DEFAULT_COLLATION_NAME", pa.string()),
               ("SQL_PATH", pa.string())]
    names = sorted({db.name for db, _ in _visible_tables(ctx, catalog)} |
                   {n for n in catalog.state.databases
                    if has_privilege(catalog.state, ctx.user, "SELECT", n)} | {SCHEMA})
    return _table(columns, [(CATALOG, n, "utf8", "utf8_general_ci", None) for n in names])


_TABLES_COLUMNS = [("TABLE_CATALOG", pa.string()), ("TABLE_SCHEMA", pa.string()), ("TABLE_NAME", pa.string()),
                   ("TABLE_TYPE", pa.string()), ("ENGINE", pa.string()), ("VERSION", pa.int64()),
                   ("ROW_FORMAT", pa.string()), ("TABLE_ROWS", pa.int64()), ("AVG_ROW_LENGTH", pa.int64()),
                   ("DATA_LENGTH", pa.int64()), ("MAX_DATA_LENGTH", pa.int64()), ("INDEX_LENGTH", pa.int64()),
                   ("DATA_FREE", pa.int64()), ("AUTO_INCREMENT", pa.int64()), ("CREATE_TIME", pa.timestamp("s")),
                   ("UPDATE_TIME", pa.timestamp("s")), ("CHECK_TIME", pa.timestamp("s")),
                   ("TABLE_COLLATION", pa.string()), ("CHECKSUM", pa.int64()), ("CREATE_OPTIONS", pa.string()),
                   ("TABLE_COMMENT", pa.string())]


def _table_row(db: Database, table: Table) -> tuple[object, ...]:
    """A table's row of information_schema.tables (and the first columns of temp_tables)."""
    row_count = sum(p.row_count for p in table.partitions)
    size = sum(p.data_size for p in table.partitions)
    updated = max((p.visible_version_time for p in table.partitions), default=table.created_at)
    return (CATALOG, db.name, table.name, "BASE TABLE", "StarRocks", None, None, row_count,
            size // row_count if row_count else 0, size, None, None, None, None,
            _stamp(table.created_at), _stamp(updated), None, "utf8_general_ci", None, "", table.comment)


# StarRocks' types of temp_tables' columns, for DESC.
TEMP_TABLES_COLUMNS = [
    SystemColumn("TABLE_CATALOG", "VARCHAR(512)"),
    *(SystemColumn(name, "VARCHAR(2048)") for name in ("TABLE_SCHEMA", "TABLE_NAME", "TABLE_TYPE", "ENGINE")),
    SystemColumn("VERSION", "BIGINT"), SystemColumn("ROW_FORMAT", "VARCHAR(10)"),
    *(SystemColumn(name, "BIGINT") for name in ("TABLE_ROWS", "AVG_ROW_LENGTH", "DATA_LENGTH", "MAX_DATA_LENGTH",
                                                "INDEX_LENGTH", "DATA_FREE", "AUTO_INCREMENT")),
    *(SystemColumn(name, "DATETIME") for name in ("CREATE_TIME", "UPDATE_TIME", "CHECK_TIME")),
    SystemColumn("TABLE_COLLATION", "VARCHAR(32)"), SystemColumn("CHECKSUM", "BIGINT"),
    SystemColumn("CREATE_OPTIONS", "VARCHAR(255)"), SystemColumn("TABLE_COMMENT", "VARCHAR(2048)"),
    SystemColumn("SESSION", "VARCHAR(128)"), SystemColumn("TABLE_ID", "BIGINT"),
]


def temp_tables(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    """StarRocks' information_schema.temp_tables: the columns of `tables`, then the owning session and
    the table's id. A session sees its own temporary tables, and others' where it holds SELECT."""
    columns = [*_TABLES_COLUMNS, ("SESSION", pa.string()), ("TABLE_ID", pa.int64())]
    state = catalog.state
    rows: list[tuple[object, ...]] = []
    with catalog.lock:
        for db, table in state.temporary_tables():
            owner = table.temporary
            if owner is not None and (owner.session == ctx.session_id
                                      or has_privilege(state, ctx.user, "SELECT", db.name, table.name)):
                rows.append((*_table_row(db, table), owner.session, table.id))
    rows.sort(key=lambda row: (str(row[1]), str(row[2]), str(row[-2])))
    return _table(columns, rows)


def tables_table(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    columns = _TABLES_COLUMNS
    rows: list[tuple[object, ...]] = []
    for db, table in _visible_tables(ctx, catalog):
        rows.append(_table_row(db, table))
    for db, view in _visible_views(ctx, catalog):
        rows.append((CATALOG, db.name, view.name, "VIEW", None, None, None, None, None, None, None, None, None,
                     None, _stamp(view.created_at), None, None, None, None, None, view.comment))
    rows.sort(key=lambda row: (str(row[1]), str(row[2])))
    return _table(columns, rows)


# COLUMN_KEY of a key column, by key type (StarRocks' spelling; SHOW COLUMNS ... WHERE shows it too).
COLUMN_KEYS = {"DUPLICATE": "DUP", "PRIMARY": "PRI", "UNIQUE": "UNI", "AGGREGATE": "AGG"}


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
    rows: list[tuple[object, ...]] = []
    described: list[tuple[Database, str, list[Column], str]] = [(db, table.name, table.columns, table.keys_type) for db, table in _visible_tables(ctx, catalog)]
    described += [(db, view.name, [Column(name=c.name, type=c.type, comment=c.comment) for c in view.columns], "")
                  for db, view in _visible_views(ctx, catalog)]
    for db, table_name, table_columns, keys_type in sorted(described, key=lambda d: (d[0].name, d[1])):
        for position, column in enumerate(table_columns, start=1):
            kind = _column_type(column.type)
            if kind is None:  # a view column of a type no table column has (an ARRAY, say)
                rows.append((CATALOG, db.name, table_name, column.name, position, None, "YES", column.type, None,
                             None, None, None, None, None, None, column.type, "", "",
                             "select,insert,update,references", column.comment, None, None, None, None))
                continue
            length = kind.max_length
            # StarRocks gives an integer column scale 0 and its display width (`int(11)`).
            scale = 0 if kind.is_integer else kind.scale
            shown_type = kind.ddl_text if kind.is_integer else kind.text.lower()
            key = COLUMN_KEYS[keys_type] if column.is_key else ""
            rows.append((CATALOG, db.name, table_name, column.name, position, column.default,
                         "YES" if column.nullable else "NO", kind.name.lower(), length, length,
                         kind.precision, scale, 0 if kind.name == "DATETIME" else None,
                         "utf8" if kind.is_string else None, "utf8_general_ci" if kind.is_string else None,
                         shown_type, key, "", "select,insert,update,references", column.comment,
                         length or kind.precision, scale, None, None))
    return _table(columns, rows)


def _column_type(text: str) -> ColumnType | None:
    try:
        return parse_type(text)
    except AnalysisError:
        return None


VIEW_COLUMNS = [("TABLE_CATALOG", pa.string()), ("TABLE_SCHEMA", pa.string()), ("TABLE_NAME", pa.string()),
                ("VIEW_DEFINITION", pa.string()), ("CHECK_OPTION", pa.string()), ("IS_UPDATABLE", pa.string()),
                ("DEFINER", pa.string()), ("SECURITY_TYPE", pa.string()), ("CHARACTER_SET_CLIENT", pa.string()),
                ("COLLATION_CONNECTION", pa.string())]


def views_table(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    """One row per view the user may read, with its query as StarRocks fills the table (constants
    where StarRocks has them: CHECK_OPTION NONE, IS_UPDATABLE NO, DEFINER and SECURITY_TYPE empty)."""
    rows = [(CATALOG, db.name, view.name, view.definition, "NONE", "NO", "", "", "utf8", "utf8_general_ci")
            for db, view in _visible_views(ctx, catalog)]
    return _table(VIEW_COLUMNS, rows)


TABLES_CONFIG_COLUMNS = [("TABLE_SCHEMA", pa.string()), ("TABLE_NAME", pa.string()), ("TABLE_ENGINE", pa.string()),
                         ("TABLE_MODEL", pa.string()), ("PRIMARY_KEY", pa.string()), ("PARTITION_KEY", pa.string()),
                         ("DISTRIBUTE_KEY", pa.string()), ("DISTRIBUTE_TYPE", pa.string()),
                         ("DISTRIBUTE_BUCKET", pa.int32()), ("SORT_KEY", pa.string()), ("PROPERTIES", pa.string()),
                         ("TABLE_ID", pa.int64())]
_TABLE_MODELS = {"DUPLICATE": "DUP_KEYS", "PRIMARY": "PRI_KEYS", "UNIQUE": "UNQ_KEYS", "AGGREGATE": "AGG_KEYS"}


def tables_config(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    """Each table's model, keys, partitioning, distribution and properties, as StarRocks lists them."""
    rows = []
    for db, table in _visible_tables(ctx, catalog):
        keys = ", ".join(f"`{c}`" for c in table.key_columns)
        rows.append((db.name, table.name, "OLAP", _TABLE_MODELS[table.keys_type], keys,
                     ", ".join(f"`{c}`" for c in table.partition_columns),
                     ", ".join(f"`{c}`" for c in table.distribution_columns),
                     "HASH" if table.distribution_columns else "RANDOM", table.buckets, keys,
                     json.dumps(table.properties), table.id))
    return _table(TABLES_CONFIG_COLUMNS, rows)


MATERIALIZED_VIEW_COLUMNS = [
    ("MATERIALIZED_VIEW_ID", pa.int64()), ("TABLE_SCHEMA", pa.string()), ("TABLE_NAME", pa.string()),
    ("REFRESH_TYPE", pa.string()), ("IS_ACTIVE", pa.string()), ("INACTIVE_REASON", pa.string()),
    ("PARTITION_TYPE", pa.string()), ("TASK_ID", pa.int64()), ("TASK_NAME", pa.string()),
    ("LAST_REFRESH_START_TIME", pa.timestamp("s")), ("LAST_REFRESH_FINISHED_TIME", pa.timestamp("s")),
    ("LAST_REFRESH_DURATION", pa.float64()), ("LAST_REFRESH_STATE", pa.string()),
    ("LAST_REFRESH_FORCE_REFRESH", pa.string()), ("LAST_REFRESH_START_PARTITION", pa.string()),
    ("LAST_REFRESH_END_PARTITION", pa.string()), ("LAST_REFRESH_BASE_REFRESH_PARTITIONS", pa.string()),
    ("LAST_REFRESH_MV_REFRESH_PARTITIONS", pa.string()), ("LAST_REFRESH_ERROR_CODE", pa.string()),
    ("LAST_REFRESH_ERROR_MESSAGE", pa.string()), ("TABLE_ROWS", pa.int64()),
    ("MATERIALIZED_VIEW_DEFINITION", pa.string()), ("EXTRA_MESSAGE", pa.string()),
    ("QUERY_REWRITE_STATUS", pa.string()), ("CREATOR", pa.string()), ("LAST_REFRESH_PROCESS_TIME", pa.timestamp("s")),
    ("LAST_REFRESH_JOB_ID", pa.string()), ("LAST_REFRESH_TIME", pa.timestamp("s")), ("WAREHOUSE", pa.string()),
    ("REFRESH_MODE", pa.string()), ("REFRESH_TRIGGER", pa.string()), ("REFRESH_POLICY", pa.string()),
    ("RESOURCE_GROUP", pa.string()), ("QUERY_REWRITE_STATUS_REASON", pa.string()),
    ("LAST_FRESHNESS_CONFIRMED_AT", pa.timestamp("s")), ("BASE_TABLE_REFRESH_VERSION_TIMES", pa.string()),
    ("EFFECTIVE_REFRESH_MODE", pa.string()), ("EFFECTIVE_REFRESH_MODE_REASON", pa.string()),
    ("LAST_EXECUTED_REFRESH_MODE", pa.string())]


PARTITIONS_META_COLUMNS = [
    ("DB_NAME", pa.string()), ("TABLE_NAME", pa.string()), ("PARTITION_NAME", pa.string()), ("PARTITION_ID", pa.int64()),
    ("COMPACT_VERSION", pa.int64()), ("VISIBLE_VERSION", pa.int64()), ("VISIBLE_VERSION_TIME", pa.timestamp("s")),
    ("NEXT_VERSION", pa.int64()), ("DATA_VERSION", pa.int64()), ("VERSION_EPOCH", pa.int64()),
    ("VERSION_TXN_TYPE", pa.string()), ("PARTITION_KEY", pa.string()), ("PARTITION_VALUE", pa.string()),
    ("DISTRIBUTION_KEY", pa.string()), ("BUCKETS", pa.int32()), ("REPLICATION_NUM", pa.int32()),
    ("STORAGE_MEDIUM", pa.string()), ("COOLDOWN_TIME", pa.timestamp("s")),
    ("LAST_CONSISTENCY_CHECK_TIME", pa.timestamp("s")), ("IS_IN_MEMORY", pa.bool_()), ("IS_TEMP", pa.bool_()),
    ("DATA_SIZE", pa.int64()), ("ROW_COUNT", pa.int64()), ("ENABLE_DATACACHE", pa.bool_()), ("AVG_CS", pa.float64()),
    ("P50_CS", pa.float64()), ("MAX_CS", pa.float64()), ("STORAGE_PATH", pa.string()), ("STORAGE_SIZE", pa.int64()),
    ("METADATA_SWITCH_VERSION", pa.int64()), ("TABLET_BALANCED", pa.bool_())]


def _partition_key(table: Table) -> str:
    """PARTITION_KEY: the partition columns as a column definition spells them."""
    columns = [table.column_named(name) for name in table.partition_columns]
    return ", ".join(f"`{c.name}` {c.type.lower()} {'NULL' if c.nullable else 'NOT NULL'} "
                     f"COMMENT {json.dumps(c.comment)}" for c in columns)


def _partition_value(table: Table, partition: Partition) -> str:
    """PARTITION_VALUE: a RANGE partition's bounds as SHOW PARTITIONS gives them, a LIST partition's value
    tuples as JSON (StarRocks' [["2011"]]), nothing for an unpartitioned table's one partition."""
    if table.partition_type == "RANGE":
        return describe_range(partition, table)
    if table.partition_type == "LIST":
        return json.dumps(partition.values or [], separators=(",", ":"))
    return ""


def _replicas(table: Table) -> int:
    """REPLICATION_NUM: the table's (no-op) replication_num, as StarRocks shows it; 1 by default."""
    value = table.properties.get("replication_num", "1")
    return int(value) if value.isdigit() else 1


def partitions_meta(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    """Every partition of the tables the user may read: versions, bounds, size, rows and where its data lies."""
    keys = ClusterKeys(catalog.state.cluster_id)
    rows: list[tuple[object, ...]] = []
    for db, table in _visible_tables(ctx, catalog):
        volume = catalog.state.storage_volumes.get(db.storage_volume)
        location = volume.location.rstrip("/") + "/" if volume is not None else ""
        for p, temporary in [(p, False) for p in table.partitions] + [(p, True) for p in table.temp_partitions]:
            rows.append((db.name, table.name, p.name, p.id, p.compact_version, p.visible_version,
                         _stamp(p.visible_version_time), p.visible_version + 1, p.visible_version, 0, "TXN_NORMAL",
                         _partition_key(table), _partition_value(table, p),
                         ", ".join(table.distribution_columns) or "ALL KEY", table.buckets, _replicas(table), "HDD",
                         None, None,
                         False, temporary, p.data_size, p.row_count, True, 0.0, 0.0, 0.0,
                         location + keys.partition_prefix(db.id, table.id, p.id), p.data_size, 0, True))
    return _table(PARTITIONS_META_COLUMNS, rows)


def materialized_views(ctx: QueryContext, catalog: CatalogView) -> pa.Table:
    """Cairn has no materialized views: StarRocks' columns, no rows."""
    return _table(MATERIALIZED_VIEW_COLUMNS, [])


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
                           "views": views_table, "tables_config": tables_config,
                           "materialized_views": materialized_views, "partitions_meta": partitions_meta,
                           "cluster_snapshots": cluster_snapshots,
                           "cluster_snapshot_jobs": cluster_snapshot_jobs}.items():
        tables.register(SCHEMA, name, provider)
    tables.register(SCHEMA, "temp_tables", temp_tables, TEMP_TABLES_COLUMNS)
    system_tables.register(tables, SCHEMA)
