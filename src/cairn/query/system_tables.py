"""information_schema tables that Cairn has no data for: StarRocks' columns, in StarRocks' order and
types, and no rows. A tool that reads one on connect gets an empty answer, not an error."""

from __future__ import annotations

import pyarrow as pa

from cairn.catalog.types import parse_type
from cairn.catalog.view import CatalogView
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import Provider, SystemColumn, VirtualTables

NAME = "VARCHAR(2048)"  # StarRocks' NAME_CHAR_LEN


def _columns(spec: str, kind: str = NAME) -> list[SystemColumn]:
    return [SystemColumn(name, kind) for name in spec.split()]


EMPTY_TABLES: dict[str, list[SystemColumn]] = {
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
