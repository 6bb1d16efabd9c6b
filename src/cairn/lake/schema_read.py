"""Reading rowsets through their table's current schema.

ALTER TABLE never rewrites a rowset (objects are immutable): a schema change is a new schema
version of the table, and each rowset records the version it was written under. A rowset of an
older version may hold a column since dropped (ignored), lack one added since (the column's default
is read), or hold a column under the name and type it had then (mapped through the column's own
history, `Column.stored_as`, so a rename follows the column and not its name, and a modified type
is cast). Every reader of rowsets (a query's scan on the FE or a compute node, the merge of a
keyed table, compaction, DUPLICATE KEY DELETE) reads files through `stored_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlglot import exp

from cairn.catalog.model import Table
from cairn.lake.coerce import default_expression, storage_type
from cairn.lake.sqltext import aliased, call, cast, column, string, string_list

# The column naming each row's file, and DuckDB's own row-number column, when a reader asks for them.
FILE_COLUMN = "__cairn_file"
ROW_NUMBER_COLUMN = "file_row_number"


def current_columns(table: Table, version: int) -> list[exp.Expr]:
    """The table's columns, named and typed as stored now, over the file columns of a rowset written
    under schema `version`."""
    parts: list[exp.Expr] = []
    for wanted in table.columns:
        then = wanted.stored_as(version)
        if then is None:
            value: exp.Expr = default_expression(wanted)
        else:
            name, type_then = then
            value = column(name)
            if type_then != wanted.type:
                value = cast(value, storage_type(wanted))
        parts.append(aliased(value, wanted.name))
    return parts


def needs_mapping(table: Table, versions: Sequence[int] | None) -> bool:
    """True when some rowset was written under another schema version than the table's current one."""
    return versions is not None and any(v != table.schema_version for v in versions)


def _read(files: Sequence[Path], numbered: bool) -> exp.Anonymous:
    options: list[exp.Expr] = []
    if numbered:
        options = [exp.EQ(this=exp.var("filename"), expression=string(FILE_COLUMN)),
                   exp.EQ(this=exp.var("file_row_number"), expression=exp.true())]
    return call("read_parquet", string_list([str(f) for f in files]), *options)


def stored_rows(table: Table, files: Sequence[Path], versions: Sequence[int] | None = None,
                numbered: bool = False) -> exp.Expr:
    """A FROM item over the rows of `files` with the table's current columns (typed as stored), and
    with `numbered` also FILE_COLUMN and ROW_NUMBER_COLUMN. `versions[i]` is the schema version
    `files[i]` was written under (None: the current one)."""
    if versions is None or not needs_mapping(table, versions):
        return _read(files, numbered)
    groups: dict[int, list[Path]] = {}
    for path, version in zip(files, versions):
        groups.setdefault(version, []).append(path)
    extra = [column(FILE_COLUMN), column(ROW_NUMBER_COLUMN)] if numbered else []
    branches = [exp.select(*current_columns(table, version), *extra).from_(_read(group, numbered))
                for version, group in groups.items()]
    union: exp.Query = branches[0]
    for branch in branches[1:]:
        union = exp.union(union, branch, distinct=False)
    return union.subquery("__cairn_stored")
