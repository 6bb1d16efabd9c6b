"""CREATE TABLE ... LIKE: a new, empty table with another table's definition, and the clauses
StarRocks lets the statement change: DISTRIBUTED BY and PROPERTIES."""

from __future__ import annotations

import time

from sqlglot import exp

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Database, Partition
from cairn.catalog.ops import CreateTable
from cairn.sql.names import properties_of
from cairn.sql.refusals import check_properties, not_supported
from cairn.sql.table_definition import check_distribution_types, table_distribution


def build_like_table(catalog: Catalog, db: Database, name: str, source_db: str | None, source: str,
                     session: str = "", clauses: list[exp.Expr] | None = None) -> CreateTable:
    """The op that creates `name` in `db` as `source` is defined: columns, keys, partitioning,
    distribution, properties and comment, with no rows. Its partitions are the source's, empty, except
    for an expression-partitioned table, whose loads make its own (as StarRocks' CREATE TABLE LIKE,
    which re-runs the source's SHOW CREATE TABLE). The source is looked up as `session` sees it (its
    temporary table of that name first); the copy is a normal table.

    `clauses` are the statement's other clauses: DISTRIBUTED BY replaces the source's distribution
    (checked as CREATE TABLE checks it), PROPERTIES are set over the source's; any other clause is
    refused. Raises UnknownTableError for a missing source."""
    source_database, model = catalog.table(source_db, source, session)
    ids = catalog.id_source()
    table = model.model_copy(deep=True, update={"id": next(ids), "name": name, "created_at": time.time(),
                                                "temporary": None})
    if source_database.storage_volume != db.storage_volume:
        table.properties.pop("storage_volume", None)
    given = [c for c in clauses or [] if not isinstance(c, (exp.LikeProperty, exp.EngineProperty))]
    distribution = next((c for c in given if isinstance(c, exp.DistributedByProperty)), None)
    other = next((c for c in given if not isinstance(c, exp.DistributedByProperty) and type(c) is not exp.Property),
                 None)
    if other is not None:
        raise not_supported(f"'{other.sql('starrocks')}' in CREATE TABLE ... LIKE")
    if distribution is not None:
        if distribution.args.get("order") is not None:
            raise not_supported("ORDER BY in CREATE TABLE ... LIKE")
        table.distribution_columns, table.buckets, table.auto_buckets = table_distribution(
            table.columns, table.keys_type, table.key_columns, distribution)
        check_distribution_types(table.columns, table.distribution_columns)
    properties = properties_of(exp.Properties(expressions=[c.copy() for c in given if type(c) is exp.Property]))
    check_properties(properties)
    if properties.get("storage_volume", db.storage_volume) != db.storage_volume:
        raise not_supported(f"A table on storage volume '{properties['storage_volume']}' in a database on "
                            f"'{db.storage_volume}'")
    table.properties.update(properties)
    table.partitions = [] if model.auto_partition is not None else [
        Partition(id=next(ids), name=p.name, lower=p.lower, upper=p.upper, values=p.values,
                  tablet_ids=[next(ids) for _ in range(table.buckets)]) for p in model.partitions]
    return CreateTable(db_id=db.id, table=table)
