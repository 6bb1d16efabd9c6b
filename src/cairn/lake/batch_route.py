"""Checking and routing a load's rows batch by batch, as they are parsed (Stream Load).

A batch arrives as Arrow columns named by position (`c0`, `c1`, ...), typed as the table's columns
when the reader could parse them so, as strings otherwise. The same coercion plan as INSERT
(`lake.coerce`) decides, in one DuckDB query over the batch, which rows cannot be stored, the
partition and bucket of each row, and the value of every column that is not already stored as
parsed (a default, a string to convert, a LARGEINT). Columns parsed to their stored type pass
through untouched, so the engine never copies the bulk of the data. Rows come back in their order
(DuckDB keeps insertion order), the bad ones are dropped (and counted), and each batch leaves in
the storage schema with its routing columns, ready for `lake.tablet_files`.

An automatically partitioned table's batch whose rows need partitions it lacks has them made first
(`make_partitions`, a journal commit); they are appended to the router's table, which is the table
the batches are written for, so the partition indexes already routed keep their meaning.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from cairn.catalog.model import Table
from cairn.catalog.types import parse_type
from cairn.lake.auto_partition import missing_keys_query
from cairn.lake.coerce import CoercionPlan, bad_row_condition, plan_coercion, storage_type
from cairn.lake.routing import BUCKET_COLUMN, NO_PARTITION, PARTITION_COLUMN, bucket_expression, partition_expression
from cairn.lake.sqltext import aliased, cast, sql, table

BATCH_VIEW = "__cairn_load_batch"
_BAD = "__cairn_bad"


def source_names(count: int) -> list[str]:
    """The names of a batch's columns, by position."""
    return [f"c{i}" for i in range(count)]


def storage_schema(con: duckdb.DuckDBPyConnection, table_model: Table) -> pa.Schema:
    """The Arrow schema a table's rows are written with (as the engine gives its stored types),
    followed by the partition and bucket columns."""
    columns = [aliased(cast(exp.null(), storage_type(c)), c.name) for c in table_model.columns]
    columns += [aliased(cast(exp.null(), "INTEGER"), PARTITION_COLUMN), aliased(cast(exp.null(), "INTEGER"), BUCKET_COLUMN)]
    return con.sql(sql(exp.select(*columns).limit(0))).to_arrow_table().schema


class BatchRouter:
    """Checks and routes the batches of one load into `table_model` (see the module)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table_model: Table, width: int,
                 target_columns: list[str] | None,
                 make_partitions: Callable[[list[tuple[str | None, ...]], int], Table] | None = None) -> None:
        self.con = con
        self.table = table_model
        self.make_partitions = make_partitions
        self.partitions_made = 0
        self.plan: CoercionPlan = plan_coercion(table_model, source_names(width), target_columns)
        self.schema = storage_schema(con, table_model)
        self.rows = 0
        self.filtered = 0
        self._queries: dict[frozenset[str], str] = {}

    def route(self, batch: pa.Table) -> pa.Table:
        """The rows of `batch` that can be stored, in the storage schema plus routing columns."""
        self.rows += batch.num_rows
        passing = self._passing(batch.schema)
        self.con.register(BATCH_VIEW, batch)
        try:
            result = self.con.sql(self._query(passing)).to_arrow_table()
            if self.make_partitions is not None and self._add_partitions(result):
                result = self.con.sql(self._query(passing)).to_arrow_table()
        finally:
            self.con.unregister(BATCH_VIEW)
        arrays = []
        for field_ in self.schema:
            source = passing.get(field_.name)
            values = batch.column(source) if source is not None else result.column(field_.name)
            arrays.append(values if values.type == field_.type else values.cast(field_.type))
        rows = pa.Table.from_arrays(arrays, schema=self.schema)
        bad = result.column(_BAD)
        if not pc.any(bad).as_py():
            return rows
        kept = rows.filter(pc.invert(bad))
        self.filtered += batch.num_rows - kept.num_rows
        return kept

    def _add_partitions(self, result: pa.Table) -> bool:
        """Make the partitions the registered batch's rows lack; True when some were made."""
        assert self.make_partitions is not None
        if not pc.any(pc.equal(result.column(PARTITION_COLUMN), NO_PARTITION)).as_py():
            return False
        query = missing_keys_query(self.table, self.plan.casts, table(BATCH_VIEW),
                                   bad_row_condition(self.plan, partitions=False))
        keys = self.con.sql(sql(query)).fetchall()
        if not keys:
            return False
        known = {p.id for p in self.table.partitions}
        fresh = self.make_partitions(keys, self.partitions_made)
        made = [p for p in fresh.partitions if p.id not in known]
        self.table.partitions.extend(made)
        self.partitions_made += len(made)
        self._queries.clear()
        return True

    def _query(self, passing: dict[str, str]) -> str:
        """The query over a batch giving each row's badness, partition and bucket, and the columns
        not passed through (built once per set of columns passed through)."""
        key = frozenset(passing)
        if key not in self._queries:
            computed = [aliased(self.plan.casts[c.name].copy(), c.name) for c in self.table.columns
                        if c.name not in passing]
            self._queries[key] = sql(exp.select(
                aliased(bad_row_condition(self.plan), _BAD),
                aliased(cast(partition_expression(self.table, self.plan.casts), "INTEGER"), PARTITION_COLUMN),
                aliased(bucket_expression(self.table, self.plan.casts), BUCKET_COLUMN),
                *computed).from_(table(BATCH_VIEW)))
        return self._queries[key]

    def _passing(self, schema: pa.Schema) -> dict[str, str]:
        """Table column -> batch column, for the columns whose parsed values are their stored ones."""
        passing = {}
        for column_model in self.table.columns:
            source = self.plan.sources.get(column_model.name)
            if source is None or parse_type(column_model.type).name == "LARGEINT":
                continue
            if schema.field(source).type == self.schema.field(column_model.name).type:
                passing[column_model.name] = source
        return passing
