"""CREATE TABLE ... LIKE: a new, empty table with another table's definition."""

from __future__ import annotations

import time

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Database, Partition
from cairn.catalog.ops import CreateTable


def build_like_table(catalog: Catalog, db: Database, name: str, source_db: str | None, source: str,
                     session: str = "") -> CreateTable:
    """The op that creates `name` in `db` as `source` is defined: columns, keys, partitioning,
    distribution, properties and comment, with no rows. Its partitions are the source's, empty, except
    for an expression-partitioned table, whose loads make its own (as StarRocks' CREATE TABLE LIKE,
    which re-runs the source's SHOW CREATE TABLE). The source is looked up as `session` sees it (its
    temporary table of that name first); the copy is a normal table. Raises UnknownTableError for a
    missing source."""
    source_database, model = catalog.table(source_db, source, session)
    ids = catalog.id_source()
    table = model.model_copy(deep=True, update={"id": next(ids), "name": name, "created_at": time.time(),
                                                "temporary": None})
    if source_database.storage_volume != db.storage_volume:
        table.properties.pop("storage_volume", None)
    table.partitions = [] if model.auto_partition is not None else [
        Partition(id=next(ids), name=p.name, lower=p.lower, upper=p.upper, values=p.values,
                  tablet_ids=[next(ids) for _ in p.tablet_ids]) for p in model.partitions]
    return CreateTable(db_id=db.id, table=table)
