"""Loading rows into a table: the one path INSERT and Stream Load share (DESIGN invariant 4).

Order: coerce and check every row, write Parquet rowsets, write one new manifest per touched
partition, then append ONE journal entry (CommitVersions) — the commit point. A failure before
that append leaves only unreferenced objects, which vacuum removes after its grace period.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
from prometheus_client import Counter, Gauge
from sqlglot import exp

from cairn.catalog.catalog import Catalog
from cairn.catalog.committer import Committer
from cairn.catalog.model import Database, Table
from cairn.catalog.ops import AllocateAutoIncrement, CommitVersions, PartitionVersion
from cairn.catalog.view import CatalogView
from cairn.errors import (
    ConcurrentChangeError,
    LabelAlreadyExistsError,
    NoPartitionForRowError,
    TooManyFilteredRowsError,
    UnknownTableError,
    UnsupportedError,
)
from cairn.lake.auto_partition import PartitionLimits, add_partitions, missing_keys_query
from cairn.lake.batch_route import BatchRouter
from cairn.lake.coerce import CoercionPlan, bad_row_condition, checked_select_list, load_error, plan_coercion
from cairn.lake.keyed import fold_load, is_keyed
from cairn.lake.manifest import MANIFESTS, PartitionManifest
from cairn.lake.pins import Pins
from cairn.lake.routing import BUCKET_COLUMN, PARTITION_COLUMN
from cairn.lake.rowset_writer import LOAD_BUFFER_BYTES, WrittenRowset
from cairn.lake.sqltext import aliased, call, cast, column, number, sql, try_cast
from cairn.lake.tablet_files import LoadMemory
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore
from cairn.storage.resolver import StoreResolver

_table_locks: dict[tuple[str, int], threading.Lock] = {}


def table_commit_lock(cluster_id: str, table_id: int) -> threading.Lock:
    """The lock under which a table's new versions are built from its visible ones (loads, compaction)."""
    return _table_locks.setdefault((cluster_id, table_id), threading.Lock())  # atomic: one lock per table


class RowsetWriter(Pins, Protocol):
    """Writes a load's rows as rowsets (on compute nodes or embedded) and pins what it wrote."""

    def write(self, con: duckdb.DuckDBPyConnection, select: exp.Query, store: ObjectStore, keys: ClusterKeys,
              db_id: int, table: Table, scratch: Path) -> tuple[int, list[WrittenRowset]]:
        """Write the checked, routed rows of `select` (run on `con`) as rowsets of `table`."""
        ...

    def write_batches(self, schema: pa.Schema, batches: Iterable[pa.Table], store: ObjectStore, keys: ClusterKeys,
                      db_id: int, table: Table, scratch: Path, buffer_bytes: int,
                      memory: LoadMemory | None = None) -> tuple[int, list[WrittenRowset]]:
        """Write checked, routed `batches` (of `schema`) as rowsets of `table`, holding at most about
        `buffer_bytes` of rows waiting for a row group (counted in `memory`)."""
        ...


class LoadMetrics(Protocol):
    """The counters a committed load moves."""

    loads: Counter
    loaded_rows: Counter
    filtered_rows: Counter
    load_memory_peak: Gauge


def _default_partition_limits() -> PartitionLimits:
    return PartitionLimits()


@dataclass(frozen=True)
class LoadContext:
    """What a load uses: the catalog to read, the committer, the stores, the rowset writer (whose
    pins keep vacuum away from uncommitted objects), a scratch directory, the load counters, and how
    many partitions a table may have made automatically (read when a load makes some)."""

    catalog: CatalogView
    committer: Committer
    stores: StoreResolver
    keys: ClusterKeys
    writer: RowsetWriter
    scratch_dir: Path
    metrics: LoadMetrics
    buffer_bytes: int = LOAD_BUFFER_BYTES
    partition_limits: Callable[[], PartitionLimits] = _default_partition_limits

    def make_partitions(self, db: Database, table: Table, keys: list[tuple[str | None, ...]], made: int = 0) -> Table:
        """Commit the automatic partitions `keys` need, for a load that has made `made` already; the
        table as it is then."""
        return add_partitions(self.committer, self.catalog, db, table, keys, self.partition_limits(), made)


@dataclass
class LoadResult:
    """What a load committed: its transaction id, label and row counts."""

    txn_id: int
    label: str | None
    loaded_rows: int
    partitions: int
    filtered_rows: int = 0


def _label_taken(catalog: CatalogView, db: Database, label: str | None) -> None:
    if label and label in catalog.state.labels.get(db.id, {}):
        raise LabelAlreadyExistsError(f"Label [{label}] has already been used.")


def _delete_markers_of(table: Table) -> Table:
    """`table` as the rows of a delete rowset are checked: only the key columns hold values, the
    others are NULL whatever their constraints."""
    relaxed = table.model_copy(deep=True)
    for value in relaxed.columns:
        if not value.is_key:
            value.nullable, value.default = True, None
    return relaxed


def load_relation(loads: LoadContext, db_name: str | None, table_name: str, con: duckdb.DuckDBPyConnection,
                  relation: exp.Expr, target_columns: list[str] | None = None, label: str | None = None,
                  max_filter_ratio: float | None = None, deletes: bool = False,
                  op_column: str | None = None, overwrite: list[int] | None = None,
                  by_name: bool = False, overwrite_all: bool = False) -> LoadResult:
    """Load every row of DuckDB relation `relation` (a table or view reference, or a subquery, on
    `con`) into the table.

    Columns map by `target_columns` (the INSERT column list) or by position. Without
    `max_filter_ratio`, a row that cannot be stored raises its DataError and nothing is committed.
    With it (Stream Load), such rows are filtered and counted, and the load is refused with
    TooManyFilteredRowsError when their share exceeds the ratio. Raises LabelAlreadyExistsError for
    a reused label, NotLeaderError when this FE may no longer commit.

    A keyed table's rows upsert (lake/keyed.py): the load is folded so each key is written once, and
    the counts are of the rows given. With `deletes` the rows (key columns only) are delete markers
    of a PRIMARY, UNIQUE or AGGREGATE KEY table. With `op_column` (a column of `relation`, not of the
    table; PRIMARY KEY only) each row says what it does, as Stream Load's `__op`: 1 deletes its key,
    anything else upserts it; the load's rows fold by key first (the last row of a key wins, whatever
    it does), then the upserts and the delete markers are written and committed together.

    With `overwrite` (partition ids: INSERT OVERWRITE) the load replaces those partitions' contents
    in the same one journal entry: each gets a manifest listing only the new rowsets (or no manifest
    when no row goes to it), so a reader sees the old contents or the new, never a mix, and a load
    that fails leaves the old contents whole. A row routed to a partition not named is an error.
    `overwrite_all` (the whole table) also replaces the partitions made for the load's rows. With
    `by_name` the relation's column names are the target columns.
    """
    with loads.catalog.lock:
        db, live = loads.catalog.table_by_key(db_name, table_name)
        table = live.model_copy(deep=True)
        _label_taken(loads.catalog, db, label)
    keyed = is_keyed(table)
    if deletes and not keyed:
        raise UnsupportedError(f"Table '{table.name}' is a DUPLICATE KEY table: it has no delete markers")
    if op_column is not None and table.keys_type != "PRIMARY":
        raise UnsupportedError(f"Table '{table.name}' is not a PRIMARY KEY table: its rows cannot carry __op")
    described = con.execute(sql(exp.select("*").from_(relation.copy()).limit(0))).description
    source_columns = [d[0] for d in described if d[0] != op_column]
    source_types = {d[0]: str(d[1]) for d in described if d[0] != op_column}
    if by_name:
        target_columns = source_columns
    plan = plan_coercion(_delete_markers_of(table) if deletes else table, source_columns, target_columns, source_types)
    if table.auto_partition is not None and not deletes:
        before = {p.id for p in table.partitions}
        table, plan = _with_needed_partitions(loads, db, con, relation, plan, source_columns, target_columns)
        if overwrite is not None and overwrite_all:
            overwrite = overwrite + [p.id for p in table.partitions if p.id not in before]
    if table.auto_increment_column is not None and not deletes:
        relation, plan = _with_auto_increment(loads, db, con, relation, plan)
    total = None
    if max_filter_ratio is not None:
        # Bad rows are left out of the single write pass; their number is what did not get written.
        total = con.execute(sql(exp.select(exp.Count(this=exp.Star())).from_(relation.copy()))).fetchall()[0][0]
        relation = exp.select("*").from_(relation.copy()).where(exp.not_(exp.paren(bad_row_condition(plan)))).subquery()
    given = None
    if keyed:
        # Folding drops the rows a later row of the same key replaces: the rows given are counted apart.
        given = con.execute(sql(exp.select(exp.Count(this=exp.Star())).from_(relation.copy()))).fetchall()[0][0]
    checked = exp.select(*checked_select_list(plan)).from_(relation.copy())
    routing = [PARTITION_COLUMN, BUCKET_COLUMN]
    if op_column is not None:
        checked = checked.select(aliased(_deletes_row(op_column), op_column))
    if keyed:
        checked = fold_load(table, checked, routing + ([op_column] if op_column else []))
    store = loads.stores(db.storage_volume)
    # While its files are put (by a compute node, which names them), the table's whole data prefix is
    # pinned: an object put early in a long write must not be taken for garbage before it is pinned.
    writing = loads.writer.pin([loads.keys.table_prefix(db.id, table.id)])
    try:
        parts = [(checked, deletes)] if op_column is None else [
            (_rows_doing(table, checked, op_column, routing, delete), delete) for delete in (False, True)]
        rows, written = 0, list[WrittenRowset]()
        for select, marks_deletes in parts:
            part_rows, part = loads.writer.write(con, select, store, loads.keys, db.id, table,
                                                 loads.scratch_dir / uuid.uuid4().hex)
            for item in part:
                item.rowset.deletes, item.rowset.unique_keys = marks_deletes, keyed
                item.rowset.schema_version = table.schema_version
            rows, written = rows + part_rows, written + part
        if given is not None:
            rows = given
        # Until the commit makes them visible, the new objects are pinned against vacuum.
        pinned = loads.writer.pin([w.rowset.key for w in written])
    except duckdb.Error as exc:
        raise (load_error(exc, table) or exc) from None
    finally:
        loads.writer.release(writing)
    kind = "stream_load" if max_filter_ratio is not None else "insert"
    if overwrite is not None:
        _check_overwritten(table, written, overwrite, pinned, loads)
    return _commit_counted(loads, db, table, written, pinned, rows, total or 0, (total or rows) - rows, label,
                           max_filter_ratio, kind, overwrite)


def _check_overwritten(table: Table, written: list[WrittenRowset], overwrite: list[int], pinned: list[str],
                       loads: LoadContext) -> None:
    """Refuse an INSERT OVERWRITE with a row outside the partitions it names (nothing is committed)."""
    outside = next((w.partition_id for w in written if w.partition_id not in overwrite), None)
    if outside is None:
        return
    loads.writer.release(pinned)
    partition = table.partition_by_id(outside)
    raise NoPartitionForRowError(
        "Insert has filtered data in strict mode. A row belongs to partition "
        f"'{partition.name if partition else outside}', which INSERT OVERWRITE does not name")


def _with_needed_partitions(loads: LoadContext, db: Database, con: duckdb.DuckDBPyConnection, relation: exp.Expr,
                            plan: CoercionPlan, source_columns: list[str],
                            target_columns: list[str] | None) -> tuple[Table, CoercionPlan]:
    """Make the automatic partitions the rows of `relation` need (committed before any row is
    written, as StarRocks keeps them whatever the load does next); the table and plan to load with."""
    query = missing_keys_query(plan.table, plan.casts, relation, bad_row_condition(plan, partitions=False))
    keys = con.execute(sql(query)).fetchall()
    if not keys:
        return plan.table, plan
    table = loads.make_partitions(db, plan.table, keys)
    return table, plan_coercion(table, source_columns, target_columns, plan.source_types)


_ROW_NUMBER = "__cairn_row_number"


def allocate_auto_increment(committer: Committer, db: Database, table: Table, count: int) -> int:
    """Take `count` ids of the table's AUTO_INCREMENT column (one journal entry); the first of them."""
    taken: list[int] = []

    def build(catalog: Catalog) -> AllocateAutoIncrement:
        _, live = catalog.table_by_key(db.name, table.catalog_key)
        taken.append(live.auto_increment_next)
        return AllocateAutoIncrement(db_id=db.id, table_id=live.id, first=live.auto_increment_next, count=count)

    committer.commit(build)
    return taken[-1]


def _with_auto_increment(loads: LoadContext, db: Database, con: duckdb.DuckDBPyConnection, relation: exp.Expr,
                         plan: CoercionPlan) -> tuple[exp.Expr, CoercionPlan]:
    """The relation with its rows numbered, and the plan giving each row whose AUTO_INCREMENT value is
    left out or NULL an id of a range this load takes (StarRocks': unique in the table, not dense)."""
    target = plan.table.auto_increment_column
    assert target is not None
    given = plan.casts[target.name] if target.name in plan.sources else None
    counted = exp.select(exp.Count(this=exp.Star()), exp.Count(this=given.copy()) if given is not None else number(0))
    rows, valued = con.execute(sql(counted.from_(relation.copy()))).fetchall()[0]
    if rows == valued:  # every row gives its own id (UPDATE, a copy of a table): none is taken
        return relation, plan
    first = allocate_auto_increment(loads.committer, db, plan.table, rows)
    numbered = exp.select("*", aliased(exp.Window(this=exp.RowNumber()), _ROW_NUMBER)).from_(relation.copy())
    assigned = exp.Add(this=number(first - 1), expression=column(_ROW_NUMBER))
    casts = dict(plan.casts)
    casts[target.name] = cast(assigned if given is None else call("coalesce", given, assigned), "BIGINT")
    return numbered.subquery("__cairn_numbered"), replace(plan, casts=casts)


def _deletes_row(op_column: str) -> exp.Expr:
    """True for a row whose `__op` says delete (1); any other value, NULL included, upserts."""
    return exp.EQ(this=call("coalesce", try_cast(column(op_column), "INTEGER"), number(0)), expression=number(1))


def _rows_doing(table: Table, checked: exp.Select, op_column: str, routing: list[str], delete: bool) -> exp.Select:
    """The folded rows of a load with `__op` that delete (or upsert) their key, without the op column."""
    doing = column(op_column) if delete else exp.not_(column(op_column))
    return (exp.select(*[column(c.name) for c in table.columns], *[column(r) for r in routing])
            .from_(checked.subquery("__cairn_ops")).where(doing))


@dataclass(frozen=True)
class ReaderSkips:
    """Rows the reader of a load's body left out before any check (lines it could not read), and
    why, in words; both asked once every batch has been read."""

    count: Callable[[], int]
    reasons: Callable[[], str]


def load_batches(loads: LoadContext, db_name: str | None, table_name: str, con: duckdb.DuckDBPyConnection,
                 batches: Iterable[pa.Table], width: int, target_columns: list[str] | None, label: str | None,
                 max_filter_ratio: float, skips: ReaderSkips, memory: LoadMemory | None = None) -> LoadResult:
    """Load a body's rows, read as `batches` of `width` columns (named by position; typed as the
    table's columns, or strings), into the table in one pass (Stream Load).

    Each batch is checked and routed as it comes (`lake.batch_route`, the same coercion as
    `load_relation`), its bad rows filtered and counted, and written as it goes. Rows waiting for
    their row group take at most half of `loads.buffer_bytes`; the reader keeps its batches to a
    few sixteenths of it; so what the load holds is bounded whatever the body's size (`memory`
    counts both). Rows the reader left out count as filtered too. Raises what
    `load_relation` raises; TooManyFilteredRowsError once every row is read.

    A keyed table's rows are not folded here: each tablet's rows keep their order in its files
    (batches are cut by a stable sort), which is the order the read-time merge goes by, so the
    last row of a key wins all the same (lake/keyed.py).
    """
    with loads.catalog.lock:
        db, live = loads.catalog.table_by_key(db_name, table_name)
        table = live.model_copy(deep=True)
        _label_taken(loads.catalog, db, label)
    if table.auto_increment_column is not None:
        # Its batches are routed as they are read, before the rows could be counted for an id range.
        raise UnsupportedError(f"Getting analyzing error. Detail message: Stream Load into table '{table.name}', "
                               "which has an AUTO_INCREMENT column, is not supported yet.")
    memory = memory or LoadMemory()
    router = BatchRouter(con, table, width, target_columns,
                         (lambda keys, made: loads.make_partitions(db, table, keys, made))
                         if table.auto_partition else None)
    store = loads.stores(db.storage_volume)
    writing = loads.writer.pin([loads.keys.table_prefix(db.id, table.id)])
    try:
        rows, written = loads.writer.write_batches(
            router.schema, (router.route(batch) for batch in batches), store, loads.keys, db.id, table,
            loads.scratch_dir / uuid.uuid4().hex, loads.buffer_bytes // 2, memory)
        for item in written:
            item.rowset.schema_version = table.schema_version
        pinned = loads.writer.pin([w.rowset.key for w in written])
    except duckdb.Error as exc:
        raise (load_error(exc, table) or exc) from None
    finally:
        loads.writer.release(writing)
        loads.metrics.load_memory_peak.set(memory.peak)
    skipped = skips.count()
    total, filtered = router.rows + skipped, router.filtered + skipped
    if skipped > max_filter_ratio * total:
        loads.writer.release(pinned)
        raise TooManyFilteredRowsError(f"too many filtered rows: of {total} rows, {skips.reasons()}, more "
                                       f"than max_filter_ratio {max_filter_ratio} allows")
    return _commit_counted(loads, db, table, written, pinned, rows, total, filtered, label, max_filter_ratio,
                           "stream_load")


def _commit_counted(loads: LoadContext, db: Database, table: Table, written: list[WrittenRowset], pinned: list[str],
                    rows: int, total: int, filtered: int, label: str | None, max_filter_ratio: float | None,
                    kind: str, overwrite: list[int] | None = None) -> LoadResult:
    """Refuse a load that filtered more rows than `max_filter_ratio` allows, else commit it (a load of
    no rows commits nothing); the written objects' pins go either way, and the load is counted."""
    try:
        if max_filter_ratio is not None and filtered > max_filter_ratio * total:
            raise TooManyFilteredRowsError(
                f"too many filtered rows: {filtered} of {total} rows cannot be loaded, more than "
                f"max_filter_ratio {max_filter_ratio} allows")
        if rows == 0 and overwrite is None:
            return LoadResult(txn_id=0, label=label, loaded_rows=0, partitions=0, filtered_rows=filtered)
        result = _commit(loads, db, table, written, rows, label, overwrite)
    finally:
        loads.writer.release(pinned)
    result.filtered_rows = filtered
    loads.metrics.loads.labels(kind).inc()
    loads.metrics.loaded_rows.inc(rows)
    loads.metrics.filtered_rows.inc(filtered)
    return result


def _commit(loads: LoadContext, db: Database, table: Table, written: list[WrittenRowset], rows: int,
            label: str | None, overwrite: list[int] | None = None) -> LoadResult:
    by_partition: defaultdict[int, list[WrittenRowset]] = defaultdict(list)
    for partition_id in overwrite or []:
        by_partition[partition_id] = []
    for item in written:
        by_partition[item.partition_id].append(item)
    store = loads.stores(db.storage_volume)
    with table_commit_lock(loads.keys.cluster_id, table.id):
        with loads.catalog.lock:
            _, live = loads.catalog.table_by_key(db.name, table.catalog_key)
            if live.id != table.id:
                raise UnknownTableError(f"Table '{db.name}.{table.name}' was dropped during the load")
            bases = {}
            for partition_id in by_partition:
                partition = live.partition_by_id(partition_id)
                if partition is None:
                    raise ConcurrentChangeError(f"A partition of '{table.name}' was dropped during the load")
                bases[partition_id] = (partition.visible_version, partition.manifest_key)
        base_keys = [key for _, key in bases.values() if key]
        base_manifests = dict(zip(base_keys, MANIFESTS.get_many(store, base_keys)))
        versions: list[PartitionVersion] = []
        def build(catalog: Catalog) -> CommitVersions:
            _, current = catalog.table_by_key(db.name, table.catalog_key)
            if current.id != table.id:
                raise UnknownTableError(f"Table '{db.name}.{table.name}' was dropped during the load")
            for partition_id, (version, _) in bases.items():
                partition = current.partition_by_id(partition_id)
                if partition is None or partition.visible_version != version:
                    raise ConcurrentChangeError(f"Table '{table.name}' changed during the load; run it again")
            _label_taken(catalog, db, label)
            return CommitVersions(db_id=db.id, table_id=table.id, txn_id=catalog.allocate_ids(1)[0],
                                  label=label, versions=versions)

        new_manifests: list[str] = []
        try:
            for partition_id, items in by_partition.items():
                version, base_key = bases[partition_id]
                if overwrite is not None and not items:
                    # Overwritten with no row: the partition is empty at its new version.
                    versions.append(PartitionVersion(partition_id=partition_id, version=version + 1,
                                                     manifest_key=None, row_count=0, data_size=0))
                    continue
                manifest = PartitionManifest(table_id=table.id, partition_id=partition_id, version=version + 1)
                if base_key and overwrite is None:
                    manifest.tablets = {t: list(r) for t, r in base_manifests[base_key].tablets.items()}
                for item in items:
                    manifest.tablets.setdefault(item.tablet_id, []).append(item.rowset)
                key = loads.keys.partition_manifest(db.id, table.id, partition_id, version + 1)
                # Pinned before the put: once put, it ages toward vacuum's margin however long this thread stalls.
                new_manifests.append(loads.writer.pin([key])[0])
                store.put_if_absent(key, manifest.to_bytes())
                versions.append(PartitionVersion(partition_id=partition_id, version=version + 1, manifest_key=key,
                                                 row_count=manifest.row_count, data_size=manifest.data_size))
            entry = loads.committer.commit(build)
        finally:
            loads.writer.release(new_manifests)
    txn_id = entry.op["txn_id"]
    return LoadResult(txn_id=txn_id, label=label, loaded_rows=rows, partitions=len(versions))
