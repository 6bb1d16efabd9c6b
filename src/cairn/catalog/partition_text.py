"""A partition's bounds as StarRocks shows them (SHOW PARTITIONS, information_schema.partitions_meta)."""

from __future__ import annotations

from cairn.catalog.model import Partition, Table
from cairn.catalog.types import parse_type


def describe_range(partition: Partition, table: Table) -> str:
    """StarRocks' text for a RANGE partition's bounds, e.g. [types: [DATETIME]; keys: [...]; ..)."""
    types = ", ".join(parse_type(t).name for t in table.partition_key_types())
    lower = ", ".join(partition.lower) if partition.lower else "MIN"
    upper = ", ".join(partition.upper) if partition.upper else "MAX"
    return f"[types: [{types}]; keys: [{lower}]; ..types: [{types}]; keys: [{upper}]; )"


def describe_values(partition: Partition) -> str:
    """SHOW PARTITIONS' text for a LIST partition's value tuples, e.g. (2022-04-01, hangzhou), (NULL)."""
    return "(" + "), (".join(", ".join("NULL" if v is None else v for v in row)
                            for row in partition.values or []) + ")"
