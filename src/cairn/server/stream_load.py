"""Stream Load: `PUT /api/<db>/<table>/_stream_load` with a CSV or JSON body, as StarRocks takes it.

The headers are checked first (`StreamLoadOptions`), before any body byte is read. The body is
spooled to a file in bounded chunks; it is then read in pieces as Arrow batches (`stream_load_rows`,
Arrow's multithreaded CSV reader, on a thread of its own), which go one by one through the same
checks and routing as INSERT (`lake.load.load_batches`): cast, checked, bad rows filtered up to
`max_filter_ratio`, written as Parquet as they come, and committed once. Memory is bounded by a few
pieces and the load's buffer (`load_buffer_mb`), not by the body. The answer is StarRocks' JSON.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from cairn.auth.privileges import require
from cairn.auth.users import auth_string_for, native_password_hash
from cairn.catalog.model import Table
from cairn.catalog.types import parse_type
from cairn.errors import (
    AccessDeniedError,
    BadRequestError,
    CairnError,
    LabelAlreadyExistsError,
    TooManyFilteredRowsError,
    UnsupportedError,
)
from cairn.fe.frontend import Frontend
from cairn.lake.load import LoadResult, ReaderSkips, load_batches, load_relation
from cairn.lake.tablet_files import LoadMemory
from cairn.server.stream_load_rows import BodyRead, column_names, csv_batches, json_batches, prefetched

log = logging.getLogger(__name__)

# A CSV body is parsed in pieces of 1/16 of the load's buffer (load_buffer_mb), within these bounds,
# READ_AHEAD pieces ahead of the load.
MIN_PIECE_BYTES = 64 << 10
MAX_PIECE_BYTES = 32 << 20
READ_AHEAD = 2
# StarRocks' per-row operation column of a PRIMARY KEY table's load, and the names Cairn reads it by.
OP_COLUMN = "__op"
OPS_SOURCE = "__cairn_stream_load_ops"
OP_SOURCE_COLUMN = "__cairn_op"
FORMATS = ("csv", "json")
# StarRocks' label rule (FeNameFormat.LABEL_REGEX).
LABEL_PATTERN = r"^[-\w]{1,128}$"
_LABEL = re.compile(r"[-A-Za-z0-9_]{1,128}")
_COLUMN_NAME = re.compile(r"`?([^`=()\s,]+)`?")


@dataclass
class StreamLoadAnswer:
    """The JSON body StarRocks answers a Stream Load with."""

    label: str
    status: str = "Success"
    message: str = "OK"
    txn_id: int = -1
    total_rows: int = 0
    loaded_rows: int = 0
    filtered_rows: int = 0
    load_bytes: int = 0
    started: float = field(default_factory=time.perf_counter)

    def fail(self, error: CairnError) -> None:
        """Record `error` as this load's outcome; nothing was loaded."""
        self.status = "Label Already Exists" if isinstance(error, LabelAlreadyExistsError) else "Fail"
        self.message, self.loaded_rows = str(error), 0

    def to_json(self) -> bytes:
        return json.dumps({
            "TxnId": self.txn_id, "Label": self.label, "Status": self.status, "Message": self.message,
            "NumberTotalRows": self.total_rows, "NumberLoadedRows": self.loaded_rows,
            "NumberFilteredRows": self.filtered_rows, "NumberUnselectedRows": 0, "LoadBytes": self.load_bytes,
            "LoadTimeMs": int((time.perf_counter() - self.started) * 1000),
        }, indent=4).encode()


@dataclass(frozen=True)
class StreamLoadOptions:
    """The Stream Load headers Cairn honours, checked (StarRocks' header names)."""

    label: str
    format: str = "csv"
    column_separator: str = "\t"
    columns: list[str] | None = None
    max_filter_ratio: float = 0.0
    strip_outer_array: bool = False

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> StreamLoadOptions:
        """Options from the request headers (names in lower case); BadRequestError names the bad one."""
        label = headers.get("label") or f"stream_load_{uuid.uuid4().hex}"
        if not _LABEL.fullmatch(label):
            raise BadRequestError(f"Label format error. regex: {LABEL_PATTERN}, label: {_shown(label)}")
        data_format = (headers.get("format") or "csv").strip().lower()
        if data_format not in FORMATS:
            raise BadRequestError(f"unknown data format, format={_shown(headers.get('format', ''))}; "
                                  f"Cairn loads {', '.join(FORMATS)}")
        _refuse_row_operations(headers)
        return cls(label=label, format=data_format, column_separator=_separator(headers.get("column_separator")),
                   columns=_columns(headers.get("columns")),
                   max_filter_ratio=_ratio(headers.get("max_filter_ratio")),
                   strip_outer_array=_true(headers, "strip_outer_array"))


def _refuse_row_operations(headers: Mapping[str, str]) -> None:
    """Refuse what would change a keyed table otherwise than the body says: partial updates and merge
    conditions are not implemented, and loading without them would overwrite whole rows."""
    if (headers.get("partial_update") or "false").strip().lower() != "false":
        raise BadRequestError("Stream Load with partial_update is not supported yet: it would overwrite the "
                              "columns the load does not name")
    for name in ("merge_condition", "partial_update_mode"):
        if headers.get(name):
            raise BadRequestError(f"Stream Load with {name} is not supported yet")


def _shown(text: str) -> str:
    return text if len(text) <= 160 else f"{text[:160]}..."


def _true(headers: Mapping[str, str], name: str) -> bool:
    value = (headers.get(name) or "false").strip().lower()
    if value not in ("true", "false"):
        raise BadRequestError(f"Invalid {name}: '{_shown(value)}'; it must be true or false")
    return value == "true"


def _ratio(text: str | None) -> float:
    if text is None or not text.strip():
        return 0.0
    try:
        ratio = float(text)
    except ValueError:
        ratio = math.nan
    if not 0.0 <= ratio <= 1.0:
        raise BadRequestError(f"Invalid max_filter_ratio: '{_shown(text)}'; it must be a number between 0 and 1")
    return ratio


def _separator(text: str | None) -> str:
    if not text:
        return "\t"
    try:
        decoded = text.encode().decode("unicode_escape") if "\\" in text else text
    except UnicodeDecodeError:
        decoded = ""
    if len(decoded) != 1 or decoded in "\r\n\"":
        raise BadRequestError(f"column_separator '{_shown(text)}' must be a single character other than a "
                              "quote or a line break")
    return decoded


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = []
    for part in text.split(","):
        match = _COLUMN_NAME.fullmatch(part.strip())
        if match is None:
            raise BadRequestError(f"Invalid columns: '{_shown(part.strip())}' is not a column name (Cairn does not "
                                  "take column expressions in Stream Load)")
        names.append(match.group(1))
    lowered = [name.lower() for name in names]
    duplicates = sorted({name for name in lowered if lowered.count(name) > 1})
    if duplicates:
        raise BadRequestError(f"Invalid columns: column '{duplicates[0]}' is named twice")
    return names


def check_password(frontend: Frontend, user: str, password: str) -> None:
    """Raise AccessDeniedError unless `password` is `user`'s."""
    stored = auth_string_for(frontend.catalog, user)
    if stored is None or stored != native_password_hash(password):
        raise AccessDeniedError(f"Access denied for user '{user}'@'%' (using password: {'YES' if password else 'NO'})")


@contextmanager
def load_workspace(frontend: Frontend) -> Iterator[Path]:
    """A fresh directory under the FE's meta_dir for one load's body and rows; removed afterwards."""
    directory = frontend.meta_dir / "tmp" / f"stream_load-{uuid.uuid4().hex}"
    directory.mkdir(parents=True)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


_NOT_STREAM_LOADABLE = frozenset({"ARRAY", "MAP", "STRUCT", "VARBINARY"})


def check_target(frontend: Frontend, user: str, database: str, table_name: str,
                 options: StreamLoadOptions) -> Table:
    """The table a load goes into, once `user` may INSERT into it and `options.columns` name its
    columns. Checked before the body is received, so a load that cannot go ahead is never sent."""
    require(frontend.catalog.state, user, "INSERT", database, table_name)
    _, table = frontend.catalog.table(database, table_name)
    unknown = [name for name in options.columns or [] if table.column(name) is None and name.lower() != OP_COLUMN]
    if unknown:
        raise BadRequestError(f"Invalid columns: unknown column '{unknown[0]}' in '{table.name}'")
    targets = {name.lower() for name in options.columns or [c.name for c in table.columns]}
    for column in table.columns:
        # Stream Load reads fields as text or Arrow scalars; a nested or binary value would need
        # StarRocks' own text forms, so such a load is refused rather than stored differently.
        if column.name.lower() in targets and parse_type(column.type).contains(_NOT_STREAM_LOADABLE):
            raise UnsupportedError(f"Stream Load into column '{column.name}' of type {column.type.lower()} "
                                   "is not supported yet; use INSERT")
    if _op_index(options) is not None and table.keys_type != "PRIMARY":
        raise UnsupportedError(f"Stream Load with an __op column needs a PRIMARY KEY table; '{table.name}' is a "
                               f"{table.keys_type} KEY table")
    return table


def _op_index(options: StreamLoadOptions) -> int | None:
    """Where the columns header names `__op` (0 upserts the row's key, 1 deletes it), if it does."""
    names = [name.lower() for name in options.columns or []]
    return names.index(OP_COLUMN) if OP_COLUMN in names else None


def _load_with_ops(frontend: Frontend, database: str, table_name: str, con: duckdb.DuckDBPyConnection,
                   batches: Iterator[pa.Table], names: list[str], options: StreamLoadOptions,
                   read: BodyRead) -> LoadResult:
    """A load whose rows carry `__op`: read whole, then loaded as one upsert-and-delete commit
    (`load_relation` with its op column), with the same filtering of bad rows as any Stream Load."""
    op_at = _op_index(options)
    assert op_at is not None
    as_text = [pa.table({f.name: pc.cast(batch.column(f.name), pa.string()) for f in batch.schema})
               for batch in batches]
    rows = pa.concat_tables(as_text) if as_text else pa.table(
        {name: pa.array([], pa.string()) for name in column_names(len(names))})
    con.register(OPS_SOURCE, rows)
    sources = rows.column_names
    values = [exp.column(sources[i], quoted=True) for i in range(len(names)) if i != op_at]
    relation = exp.select(*values, exp.alias_(exp.column(sources[op_at], quoted=True), OP_SOURCE_COLUMN,
                                                quoted=True)).from_(exp.to_table(OPS_SOURCE)).subquery()
    total = rows.num_rows + read.skipped
    if read.skipped > options.max_filter_ratio * total:
        raise TooManyFilteredRowsError(f"too many filtered rows: of {total} rows, {read.skip_reasons()}, more "
                                       f"than max_filter_ratio {options.max_filter_ratio} allows")
    remaining = (options.max_filter_ratio * total - read.skipped) / rows.num_rows if rows.num_rows else 0.0
    result = load_relation(frontend.loads, database, table_name, con, relation,
                           [n for i, n in enumerate(names) if i != op_at], options.label,
                           max_filter_ratio=max(0.0, remaining), op_column=OP_SOURCE_COLUMN)
    result.filtered_rows += read.skipped
    return result


def stream_load(frontend: Frontend, user: str, database: str, table_name: str, options: StreamLoadOptions,
                body: Path) -> StreamLoadAnswer:
    """Load the spooled `body` into `database`.`table_name`. A failure of the load itself (access,
    unknown table, too many filtered rows) is reported in the answer; a body that cannot be read as
    its format raises BadRequestError. Either way nothing is loaded on failure."""
    answer = StreamLoadAnswer(label=options.label, load_bytes=body.stat().st_size)
    try:
        table = check_target(frontend, user, database, table_name, options)
    except BadRequestError:
        raise
    except CairnError as exc:
        answer.fail(exc)
        return answer
    names = options.columns or [c.name for c in table.columns]
    read = BodyRead()
    if options.format == "json":
        batches = json_batches(body, names, options.strip_outer_array)
    else:
        types = [pa.string() if n.lower() == OP_COLUMN else parse_type(table.column_named(n).type).arrow
                 for n in names]
        piece = min(MAX_PIECE_BYTES, max(MIN_PIECE_BYTES, frontend.loads.buffer_bytes // 16))
        batches = csv_batches(body, types, options.column_separator, piece, read)
    memory = LoadMemory()
    skips = ReaderSkips(lambda: read.skipped, read.skip_reasons)
    try:
        con = frontend.duckdb.cursor()
        try:
            if _op_index(options) is not None:
                result = _load_with_ops(frontend, database, table_name, con, batches, names, options, read)
            else:
                with closing(prefetched(batches, READ_AHEAD, memory)) as ahead:
                    result = load_batches(frontend.loads, database, table_name, con, ahead, len(names),
                                          options.columns, options.label, options.max_filter_ratio, skips, memory)
        finally:
            con.close()
    except (CairnError, pa.ArrowInvalid) as exc:
        if isinstance(exc, BadRequestError):
            raise
        answer.fail(exc if isinstance(exc, CairnError) else CairnError(str(exc)))
        return answer
    finally:
        if read.skipped:
            log.info("stream load %s into %s.%s: skipped %s of the body's lines", options.label or "(no label)",
                     database, table_name, read.skip_reasons())
    answer.total_rows = result.loaded_rows + result.filtered_rows
    answer.txn_id = result.txn_id
    answer.loaded_rows = result.loaded_rows
    answer.filtered_rows = result.filtered_rows
    return answer
