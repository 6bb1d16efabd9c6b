"""ALTER TABLE t REPLACE PARTITION (p, ...) WITH TEMPORARY PARTITION (tp, ...): StarRocks' swap of a
table's partitions for temporary ones (made by `ADD TEMPORARY PARTITION`), as one journal entry, so a
reader sees the old partitions or the new, never a mix; the replaced partitions' data goes to the
recycle bin, as a dropped partition's does.

PROPERTIES: `strict_range` (default true) asks the temporary partitions to cover exactly what the
replaced ones covered (the same ranges' union, or the same LIST values); without it they only must not
overlap the partitions that stay. `use_temp_partition_name` (default false) gives them the replaced
partitions' names when there are as many of each, else they keep their own.
"""

from __future__ import annotations

from typing import Any

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Partition, Table
from cairn.catalog.ops import ReplacePartitions
from cairn.errors import AnalysisError, UnknownPartitionError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables
from cairn.sql import extended, temporary_tables
from cairn.sql.partitions import sort_key
from cairn.sql.range_partitions import check_overlaps
from cairn.sql.registry import Requirement, StatementRegistry
from cairn.sql.result import ResultSet


def _analysis(message: str) -> AnalysisError:
    return AnalysisError(f"Getting analyzing error. Detail message: {message}.")


def _covered(table: Table, partitions: list[Partition]) -> list[tuple[Any, Any]]:
    """The union of `partitions`' ranges as sorted, merged [lower, upper) pairs of sort keys."""
    spans = sorted(((sort_key(p.lower, table) if p.lower else (-1,), sort_key(p.upper, table))
                    for p in partitions), key=lambda span: span[0])
    merged: list[tuple[Any, Any]] = []
    for lower, upper in spans:
        if merged and lower <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], upper))
        else:
            merged.append((lower, upper))
    return merged


def _values(partitions: list[Partition]) -> set[tuple[str | None, ...]]:
    return {tuple(row) for p in partitions for row in p.values or []}


def _check_cover(table: Table, replaced: list[Partition], incoming: list[Partition], strict: bool) -> None:
    """What the temporary partitions cover: exactly the replaced partitions' (strict) and nothing the
    partitions that stay cover."""
    staying = [p for p in table.partitions if p not in replaced]
    if table.partition_type == "RANGE":
        if strict and _covered(table, replaced) != _covered(table, incoming):
            raise _analysis("The ranges of the temporary partitions do not match those of the partitions they "
                            "replace (strict_range)")
        check_overlaps(table, [(p.name, p.lower, p.upper) for p in staying + incoming])
        return
    if strict and _values(replaced) != _values(incoming):
        raise _analysis("The values of the temporary partitions do not match those of the partitions they replace "
                        "(strict_range)")
    clash = next(iter(_values(staying) & _values(incoming)), None)
    if clash is not None:
        raise _analysis(f"Value ({', '.join('NULL' if v is None else v for v in clash)}) of a temporary partition "
                        "is in a partition that stays")


def replace_partitions(query: QueryContext, fe: Frontend, statement: extended.ReplacePartitionsStatement) -> ResultSet:
    db_name, name = statement.database or query.database, statement.table
    temporary_tables.refuse_if_temporary(query, fe.catalog, db_name, name)
    properties = {k.strip().lower(): v.strip().lower() for k, v in statement.properties.items()}
    strict = properties.get("strict_range", "true") != "false"
    keep_names = properties.get("use_temp_partition_name", "false") == "true"

    def build(catalog: Catalog) -> ReplacePartitions:
        db, table = catalog.table(db_name, name)
        if table.partition_type == "UNPARTITIONED":
            raise _analysis(f"Table '{table.name}' has no partitions to replace")
        replaced: list[Partition] = []
        for partition_name in statement.partitions:
            found = table.partition(partition_name)
            if found is None:
                raise UnknownPartitionError(f"Partition '{partition_name}' does not exist in table '{table.name}'")
            replaced.append(found)
        incoming: list[Partition] = []
        for partition_name in statement.temp_partitions:
            temporary = table.temp_partition(partition_name)
            if temporary is None:
                raise UnknownPartitionError(f"Temporary partition '{partition_name}' does not exist in table "
                                            f"'{table.name}'")
            incoming.append(temporary)
        if len({p.id for p in replaced}) != len(replaced) or len({p.id for p in incoming}) != len(incoming):
            raise _analysis("A partition is named twice in REPLACE PARTITION")
        _check_cover(table, replaced, incoming, strict)
        return ReplacePartitions(db_id=db.id, table_id=table.id, partition_ids=[p.id for p in replaced],
                                 temp_ids=[p.id for p in incoming],
                                 data_prefixes=[fe.keys.partition_prefix(db.id, table.id, p.id) for p in replaced],
                                 rename=not keep_names and len(replaced) == len(incoming))

    fe.commit(build)
    return ResultSet.ok()


def _replace_needs(ctx: QueryContext, statement: extended.ReplacePartitionsStatement,
                   _virtual: VirtualTables) -> list[Requirement]:
    return [Requirement("ALTER", statement.database or ctx.database or "", statement.table)]


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(extended.ReplacePartitionsStatement, replace_partitions, needs=_replace_needs, writes=True)
