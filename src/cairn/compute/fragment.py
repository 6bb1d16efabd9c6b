"""Compiling a typed scan into the DuckDB query a compute node runs (the FE compiles the same
fragment over no rows, to learn its shape). Built as sqlglot expressions: names are quoted and
literals escaped by construction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlglot import exp

from cairn.catalog.model import Table
from cairn.compute.requests import ROWSETS_VIEW
from cairn.lake.keyed import table_rows
from cairn.lake.sqltext import column
from cairn.query.data_access import column_expressions
from cairn.query.pushdown import PartialAggregate, ScanFilter

# What a scan returns when the query reads none of the table's columns (COUNT(*)).
ROW_MARKER = "__cairn_row"


def parquet_source(table: Table, files: Sequence[Path], deletes: Sequence[bool] | None = None,
                   merged: bool = False, versions: Sequence[int] | None = None) -> exp.Expr:
    """The table's rows in the Parquet `files` (in version order; `deletes` marks a keyed table's
    delete rowsets, `versions` the schema version each was written under), merged by key for a keyed
    table unless `merged`, typed as declared, as relation ROWSETS_VIEW."""
    rows = table_rows(table, files, deletes, merged, versions)
    return exp.select(*column_expressions(table)).from_(rows).subquery(ROWSETS_VIEW)


def fragment(table: Table, columns: list[str] | None, filters: list[ScanFilter],
             aggregate: PartialAggregate | None, source: exp.Expr) -> exp.Select:
    """What a node runs over its rowsets (`source`): the projection and filters, or the partial aggregate."""
    query = exp.select().from_(source)
    if filters:
        query = query.where(exp.and_(*(f.expression() for f in filters)))
    if aggregate is not None:
        return aggregate.over(query)
    wanted = [c.name for c in table.columns] if columns is None else \
        [c.name for c in table.columns if c.name in set(columns)]
    if not wanted:
        return query.select(exp.alias_(exp.true(), ROW_MARKER))
    return query.select(*[column(c) for c in wanted])
