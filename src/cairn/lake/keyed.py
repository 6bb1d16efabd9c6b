"""Tables with a key (PRIMARY KEY, UNIQUE KEY, AGGREGATE KEY): how their rowsets merge into one row per key.

Rowsets stay immutable. A write appends rowsets; what a key holds at a version is decided when
that version is read (merge-on-read), by `table_rows`, the one place the merge is expressed:
every reader (the embedded engine, a compute node's scan, compaction) reads a keyed table's
files through it.

Order: a tablet's rowsets are listed in commit order in the partition manifest (compaction
replaces a prefix with one rowset), so a row's version order is (the position of its file among
the files read, its row number in the file). A key lives in one partition and one tablet (the
partition and distribution columns of a keyed table are key columns), so a merge over the files
of any set of whole tablets is exact.

- PRIMARY KEY and UNIQUE KEY: the latest row of each key wins. A delete rowset (its manifest
  entry says `deletes`) holds the keys a DELETE removed: when the latest row of a key is in one,
  the key is gone.
- AGGREGATE KEY: the rows of each key after its latest delete fold into one with each value
  column's aggregate (SUM, MIN, MAX, REPLACE, REPLACE_IF_NOT_NULL).

A load folds its own rows first (`fold_load`): within one load the last row of a key wins (or
its rows are aggregated), so each rowset a new write makes holds a key at most once. Rowsets an
older Cairn wrote may hold a key several times; the row number orders them, the last one wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlglot import exp

from cairn.catalog.model import Column, Table
from cairn.catalog.types import parse_type
from cairn.lake.coerce import storage_type
from cairn.lake.manifest import Rowset
from cairn.lake.schema_read import FILE_COLUMN, ROW_NUMBER_COLUMN, stored_rows
from cairn.lake.sqltext import aliased, call, cast, column, number, string_list

# Value-column aggregates of AGGREGATE KEY tables that Cairn merges.
AGGREGATES = ("SUM", "MIN", "MAX", "REPLACE", "REPLACE_IF_NOT_NULL")
SEQUENCE_COLUMN = "__cairn_seq"
_DELETE_COLUMN = "__cairn_deleted"
_RANK_COLUMN = "__cairn_rank"
_LAST_DELETE_COLUMN = "__cairn_last_delete"
# A file's position is shifted above every row number a file can hold (2^40 rows).
_FILE_SHIFT = 1 << 40


def is_keyed(table: Table) -> bool:
    """True for the key types whose rowsets merge (PRIMARY, UNIQUE, AGGREGATE)."""
    return table.keys_type != "DUPLICATE"


def _key_columns(table: Table) -> list[exp.Expr]:
    return [column(name) for name in table.key_columns]


def _sequenced(table: Table, files: Sequence[Path], deletes: Sequence[bool],
               versions: Sequence[int] | None) -> exp.Select:
    """Every row of `files` with its version order (SEQUENCE_COLUMN) and whether it is a delete marker."""
    paths = [str(f) for f in files]
    position = call("list_position", string_list(paths), column(FILE_COLUMN))
    sequence = exp.Add(this=exp.Mul(this=cast(position, "BIGINT"), expression=number(_FILE_SHIFT)),
                       expression=column(ROW_NUMBER_COLUMN))
    deleted_files = [p for p, d in zip(paths, deletes) if d]
    deleted: exp.Expr = (call("list_contains", string_list(deleted_files), column(FILE_COLUMN))
                         if deleted_files else exp.false())
    stored = [column(c.name) for c in table.columns]
    return exp.select(*stored, aliased(sequence, SEQUENCE_COLUMN), aliased(deleted, _DELETE_COLUMN)).from_(
        stored_rows(table, files, versions, numbered=True))


def _latest_rows(table: Table, sequenced: exp.Expr) -> exp.Select:
    """PRIMARY and UNIQUE KEY: each key's latest row, unless that row is a delete marker."""
    order = exp.Order(expressions=[exp.Ordered(this=column(SEQUENCE_COLUMN), desc=True)])
    rank = exp.Window(this=exp.RowNumber(), partition_by=_key_columns(table), order=order)
    ranked = exp.select(exp.Star(), aliased(rank, _RANK_COLUMN)).from_(sequenced)
    return (exp.select(*[column(c.name) for c in table.columns]).from_(ranked.subquery("__cairn_ranked"))
            .where(exp.and_(exp.EQ(this=column(_RANK_COLUMN), expression=number(1)),
                            exp.not_(column(_DELETE_COLUMN)))))


def _aggregate(value: Column) -> exp.Expr:
    """The merge of one AGGREGATE KEY value column over a key's rows, typed as stored."""
    kind = (value.aggregate or "REPLACE").upper()
    stored = storage_type(value)
    large = parse_type(value.type).name == "LARGEINT"
    argument: exp.Expr = cast(column(value.name), "HUGEINT") if large else column(value.name)
    if kind == "SUM":
        merged: exp.Expr = exp.Sum(this=argument)
    elif kind == "MIN":
        merged = exp.Min(this=argument)
    elif kind == "MAX":
        merged = exp.Max(this=argument)
    elif kind == "REPLACE_IF_NOT_NULL":
        # arg_max skips the rows whose value is NULL: the latest non-NULL value.
        merged = call("arg_max", argument, column(SEQUENCE_COLUMN))
    else:
        merged = call("arg_max_null", argument, column(SEQUENCE_COLUMN))
    return aliased(cast(merged, stored), value.name)


def _folded_rows(table: Table, sequenced: exp.Expr, has_deletes: bool) -> exp.Select:
    """AGGREGATE KEY: each key's rows after its latest delete marker, aggregated into one."""
    source: exp.Expr = sequenced
    if has_deletes:
        marker = exp.If(this=column(_DELETE_COLUMN), true=column(SEQUENCE_COLUMN))
        last_delete = exp.Window(this=exp.Max(this=exp.Case(ifs=[marker])), partition_by=_key_columns(table))
        marked = exp.select(exp.Star(), aliased(last_delete, _LAST_DELETE_COLUMN)).from_(sequenced)
        after = exp.GT(this=column(SEQUENCE_COLUMN),
                       expression=call("coalesce", column(_LAST_DELETE_COLUMN), number(-1)))
        source = exp.select(exp.Star()).from_(marked.subquery("__cairn_marked")).where(after).subquery("__cairn_live")
    keys = set(table.key_columns)
    select_list = [column(c.name) if c.name in keys else _aggregate(c) for c in table.columns]
    return exp.select(*select_list).from_(source).group_by(*_key_columns(table))


def merged_rows(table: Table, files: Sequence[Path], deletes: Sequence[bool],
                versions: Sequence[int] | None = None) -> exp.Select:
    """The rows a keyed table's `files` (in version order; `deletes[i]` marks a delete rowset,
    `versions[i]` the schema version it was written under) hold merged: one per key, the table's
    stored columns."""
    sequenced = _sequenced(table, files, deletes, versions).subquery("__cairn_sequenced")
    if table.keys_type == "AGGREGATE":
        return _folded_rows(table, sequenced, any(deletes))
    return _latest_rows(table, sequenced)


def already_merged(tablets: Iterable[Sequence[Rowset]]) -> bool:
    """True when the rowsets of these tablets need no merge: each tablet holds at most one rowset, which
    holds each key once and is no delete rowset (a compacted tablet, or one load)."""
    return all(len(rowsets) <= 1 and all(r.unique_keys and not r.deletes for r in rowsets) for rowsets in tablets)


def table_rows(table: Table, files: Sequence[Path], deletes: Sequence[bool] | None = None,
               merged: bool = False, versions: Sequence[int] | None = None) -> exp.Expr:
    """The relation (a FROM item) of the table's stored columns in `files` (each read through the
    schema version it was written under, `versions`; lake/schema_read.py): read as they are for a
    DUPLICATE KEY table or `merged` ones (`already_merged`), merged for a keyed one."""
    if not is_keyed(table) or merged:
        return stored_rows(table, files, versions)
    return merged_rows(table, files, deletes or [False] * len(files), versions).subquery("__cairn_rows")


def fold_load(table: Table, checked: exp.Select, passthrough: Sequence[str]) -> exp.Select:
    """The rows one load writes to a keyed table: `checked` (the stored columns and the columns named
    in `passthrough`, such as routing) folded so that each key appears once, in load order: the last
    row of a key wins, or, for AGGREGATE KEY, the key's rows are aggregated."""
    numbered = checked.select(aliased(exp.Window(this=exp.RowNumber()), SEQUENCE_COLUMN))
    inner = numbered.subquery("__cairn_load")
    kept = [column(name) for name in passthrough]
    if table.keys_type == "AGGREGATE":
        keys = set(table.key_columns)
        select_list = [column(c.name) if c.name in keys else _aggregate(c) for c in table.columns]
        routing = [aliased(exp.Max(this=column(name)), name) for name in passthrough]
        return (exp.select(*select_list, *routing).from_(inner)
                .group_by(*_key_columns(table)))
    order = exp.Order(expressions=[exp.Ordered(this=column(SEQUENCE_COLUMN), desc=True)])
    rank = exp.Window(this=exp.RowNumber(), partition_by=_key_columns(table), order=order)
    ranked = exp.select(exp.Star(), aliased(rank, _RANK_COLUMN)).from_(inner)
    return (exp.select(*[column(c.name) for c in table.columns], *kept)
            .from_(ranked.subquery("__cairn_ranked_load"))
            .where(exp.EQ(this=column(_RANK_COLUMN), expression=number(1))))
