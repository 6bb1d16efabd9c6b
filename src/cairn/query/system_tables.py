"""information_schema tables that Cairn has no data for: StarRocks' columns, in StarRocks' order and
types, and no rows. A tool that reads one on connect gets an empty answer, not an error."""

from __future__ import annotations

import pyarrow as pa

from cairn.catalog.types import parse_type
from cairn.catalog.view import CatalogView
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import Provider, SystemColumn, VirtualTables

NAME = "VARCHAR(2048)"  # StarRocks' NAME_CHAR_LEN
LONG = "VARCHAR(65535)"  # StarRocks' MAX_FIELD_VARCHAR_LENGTH


def _columns(spec: str, kind: str = NAME) -> list[SystemColumn]:
    """Columns of one type, named in order by `spec` (names separated by spaces); a name written
    `NAME:TYPE` has its own type."""
    found = []
    for item in spec.split():
        name, _, own = item.partition(":")
        found.append(SystemColumn(name, own or kind))
    return found


EMPTY_TABLES: dict[str, list[SystemColumn]] = {
    # Cairn parses with its own grammar, not StarRocks' keyword list.
    "keywords": [SystemColumn("KEYWORD", NAME), SystemColumn("RESERVED", "BOOLEAN")],
    "be_bvars": [SystemColumn("BE_ID", "BIGINT", False), SystemColumn("NAME", NAME, False),
                 SystemColumn("VALUE", NAME, False)],
    "warehouse_metrics": [SystemColumn("WAREHOUSE_ID", "BIGINT"), *_columns(
        "WAREHOUSE_NAME QUEUE_PENDING_LENGTH QUEUE_RUNNING_LENGTH MAX_PENDING_LENGTH MAX_PENDING_TIME_SECOND "
        "EARLIEST_QUERY_WAIT_TIME MAX_REQUIRED_SLOTS SUM_REQUIRED_SLOTS REMAIN_SLOTS MAX_SLOTS EXTRA_MESSAGE")],
    "warehouse_queries": [SystemColumn("WAREHOUSE_ID", "BIGINT"), *_columns(
        "WAREHOUSE_NAME QUERY_ID STATE EST_COSTS_SLOTS ALLOCATE_SLOTS QUEUED_WAIT_SECONDS QUERY QUERY_START_TIME "
        "QUERY_END_TIME QUERY_DURATION EXTRA_MESSAGE")],
    "table_constraints": [SystemColumn("CONSTRAINT_CATALOG", "VARCHAR(512)"), *_columns(
        "CONSTRAINT_SCHEMA CONSTRAINT_NAME TABLE_SCHEMA TABLE_NAME CONSTRAINT_TYPE", "VARCHAR(64)")],
    # Cairn's tables have no PRIMARY or UNIQUE key constraints yet, and no foreign keys.
    "key_column_usage": _columns(
        "CONSTRAINT_CATALOG CONSTRAINT_SCHEMA CONSTRAINT_NAME TABLE_CATALOG TABLE_SCHEMA TABLE_NAME COLUMN_NAME "
        "ORDINAL_POSITION:BIGINT POSITION_IN_UNIQUE_CONSTRAINT:BIGINT REFERENCED_TABLE_SCHEMA:VARCHAR(64) "
        "REFERENCED_TABLE_NAME:VARCHAR(64) REFERENCED_COLUMN_NAME:VARCHAR(64)"),
    "referential_constraints": _columns(
        "CONSTRAINT_CATALOG CONSTRAINT_SCHEMA CONSTRAINT_NAME UNIQUE_CONSTRAINT_CATALOG UNIQUE_CONSTRAINT_SCHEMA "
        "UNIQUE_CONSTRAINT_NAME MATCH_OPTION UPDATE_RULE DELETE_RULE TABLE_NAME REFERENCED_TABLE_NAME"),
    "routines": _columns(
        "SPECIFIC_NAME ROUTINE_CATALOG ROUTINE_SCHEMA ROUTINE_NAME ROUTINE_TYPE DATA_TYPE "
        "CHARACTER_MAXIMUM_LENGTH:BIGINT CHARACTER_OCTET_LENGTH:BIGINT NUMERIC_PRECISION:BIGINT NUMERIC_SCALE:BIGINT "
        "DATETIME_PRECISION:BIGINT CHARACTER_SET_NAME COLLATION_NAME DTD_IDENTIFIER ROUTINE_BODY ROUTINE_DEFINITION "
        "EXTERNAL_NAME EXTERNAL_LANGUAGE PARAMETER_STYLE IS_DETERMINISTIC SQL_DATA_ACCESS SQL_PATH SECURITY_TYPE "
        "CREATED:DATETIME LAST_ALTERED:DATETIME SQL_MODE ROUTINE_COMMENT DEFINER CHARACTER_SET_CLIENT "
        "COLLATION_CONNECTION DATABASE_COLLATION"),
    "triggers": _columns(
        "TRIGGER_CATALOG:VARCHAR(512) TRIGGER_SCHEMA:VARCHAR(64) TRIGGER_NAME:VARCHAR(64) EVENT_MANIPULATION:VARCHAR(6) "
        "EVENT_OBJECT_CATALOG:VARCHAR(512) EVENT_OBJECT_SCHEMA:VARCHAR(64) EVENT_OBJECT_TABLE:VARCHAR(64) "
        f"ACTION_ORDER:BIGINT ACTION_CONDITION:{LONG} ACTION_STATEMENT:{LONG} ACTION_ORIENTATION:VARCHAR(9) "
        "ACTION_TIMING:VARCHAR(6) ACTION_REFERENCE_OLD_TABLE:VARCHAR(64) ACTION_REFERENCE_NEW_TABLE:VARCHAR(64) "
        "ACTION_REFERENCE_OLD_ROW:VARCHAR(3) ACTION_REFERENCE_NEW_ROW:VARCHAR(3) CREATED:DATETIME "
        "SQL_MODE:VARCHAR(8192) DEFINER:VARCHAR(77) CHARACTER_SET_CLIENT:VARCHAR(32) "
        "COLLATION_CONNECTION:VARCHAR(32) DATABASE_COLLATION:VARCHAR(32)"),
    "events": _columns(
        "EVENT_CATALOG:VARCHAR(64) EVENT_SCHEMA:VARCHAR(64) EVENT_NAME:VARCHAR(64) DEFINER:VARCHAR(77) "
        f"TIME_ZONE:VARCHAR(64) EVENT_BODY:VARCHAR(8) EVENT_DEFINITION:{LONG} EVENT_TYPE:VARCHAR(9) "
        "EXECUTE_AT:DATETIME INTERVAL_VALUE:VARCHAR(256) INTERVAL_FIELD:VARCHAR(18) SQL_MODE:VARCHAR(8192) "
        "STARTS:DATETIME ENDS:DATETIME STATUS:VARCHAR(18) ON_COMPLETION:VARCHAR(12) CREATED:DATETIME "
        "LAST_ALTERED:DATETIME LAST_EXECUTED:DATETIME EVENT_COMMENT:VARCHAR(64) ORIGINATOR:BIGINT "
        "CHARACTER_SET_CLIENT:VARCHAR(32) COLLATION_CONNECTION:VARCHAR(32) DATABASE_COLLATION:VARCHAR(32)"),
}


def empty_table(columns: list[SystemColumn]) -> pa.Table:
    """No rows, with the declared columns' names and types."""
    fields = [pa.field(c.name, parse_type(c.type).arrow, nullable=c.nullable) for c in columns]
    return pa.Table.from_pylist([], schema=pa.schema(fields))


def _provider(columns: list[SystemColumn]) -> Provider:
    def rows(_ctx: QueryContext, _catalog: CatalogView) -> pa.Table:
        return empty_table(columns)

    return rows


def register(tables: VirtualTables, schema: str) -> None:
    """Add the empty tables to `schema` (information_schema)."""
    for name, columns in EMPTY_TABLES.items():
        tables.register(schema, name, _provider(columns), columns)
