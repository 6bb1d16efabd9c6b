"""Stream Load: `PUT /api/<db>/<table>/_stream_load` with a CSV or JSON body, as StarRocks takes it.

Rows are parsed by pyarrow into string columns, then go through the same load path as INSERT
(`lake.load.load_relation`), which casts, checks, filters bad rows up to `max_filter_ratio`, and
commits once. The answer is StarRocks' JSON.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from cairn.auth.privileges import require
from cairn.auth.users import auth_string_for, native_password_hash
from cairn.catalog.types import parse_type
from cairn.errors import AccessDeniedError, AnalysisError, CairnError, LabelAlreadyExistsError
from cairn.fe.frontend import Frontend
from cairn.lake.load import load_relation

SOURCE = "__cairn_stream_load"


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

    def to_json(self) -> bytes:
        return json.dumps({
            "TxnId": self.txn_id, "Label": self.label, "Status": self.status, "Message": self.message,
            "NumberTotalRows": self.total_rows, "NumberLoadedRows": self.loaded_rows,
            "NumberFilteredRows": self.filtered_rows, "NumberUnselectedRows": 0, "LoadBytes": self.load_bytes,
            "LoadTimeMs": int((time.perf_counter() - self.started) * 1000),
        }, indent=4).encode()


def check_password(frontend: Frontend, user: str, password: str) -> None:
    """Raise AccessDeniedError unless `password` is `user`'s."""
    stored = auth_string_for(frontend.catalog, user)
    if stored is None or stored != native_password_hash(password):
        raise AccessDeniedError(f"Access denied for user '{user}'@'%' (using password: {'YES' if password else 'NO'})")


def _separator(text: str | None) -> str:
    if not text:
        return "\t"
    decoded = text.encode().decode("unicode_escape") if "\\" in text else text
    if len(decoded) != 1:
        raise AnalysisError(f"column_separator '{text}' must be a single character")
    return decoded


def parse_csv(body: bytes, types: list[pa.DataType], separator: str) -> tuple[pa.Table, int]:
    """The rows as columns of the target `types` (or as strings when a value does not convert, so
    that the load can filter and count the bad rows), and how many lines had another width."""
    names = [f"c{i}" for i in range(len(types))]
    for column_types in (types, [pa.string()] * len(types)):
        skipped = 0

        def skip(_row: Any) -> str:
            nonlocal skipped
            skipped += 1
            return "skip"

        try:
            table = pacsv.read_csv(
                io.BytesIO(body),
                read_options=pacsv.ReadOptions(column_names=names, use_threads=True, block_size=16 << 20),
                parse_options=pacsv.ParseOptions(delimiter=separator, quote_char='"', invalid_row_handler=skip),
                convert_options=pacsv.ConvertOptions(column_types=dict(zip(names, column_types)),
                                                     null_values=["\\N"], strings_can_be_null=True))
        except pa.ArrowInvalid:
            continue
        return table, skipped
    raise AnalysisError("The body is not readable as CSV")


def parse_json(body: bytes, names: list[str], strip_outer_array: bool) -> pa.Table:
    """Rows from a JSON array (strip_outer_array) or one JSON object per line, as string columns."""
    text = body.decode("utf-8")
    try:
        if strip_outer_array:
            records = json.loads(text)
            if not isinstance(records, list):
                raise AnalysisError("strip_outer_array is true but the body is not a JSON array")
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise AnalysisError(f"The body is not valid JSON: {exc}") from None
    columns = {name: [None if not isinstance(r, dict) or r.get(name) is None else
                      (json.dumps(r[name]) if isinstance(r[name], (dict, list)) else str(r[name]))
                      for r in records] for name in names}
    return pa.table({f"c{i}": pa.array(columns[n], pa.string()) for i, n in enumerate(names)})


def stream_load(frontend: Frontend, user: str, database: str, table_name: str, headers: dict[str, str],
                body: bytes) -> StreamLoadAnswer:
    """Load `body` into `database`.`table_name`; errors are reported in the answer, not raised."""
    label = headers.get("label") or f"stream_load_{uuid.uuid4().hex}"
    answer = StreamLoadAnswer(label=label, load_bytes=len(body))
    try:
        require(frontend.catalog.state, user, "INSERT", database, table_name)
        _, table = frontend.catalog.table(database, table_name)
        columns_header = headers.get("columns")
        names = [c.strip().strip("`") for c in columns_header.split(",")] if columns_header else \
            [c.name for c in table.columns]
        if (headers.get("format") or "csv").lower() == "json":
            rows, skipped = parse_json(body, names, headers.get("strip_outer_array", "").lower() == "true"), 0
        else:
            types = [parse_type(c.type).arrow if c is not None else pa.string()
                     for c in (table.column(n) for n in names)]
            rows, skipped = parse_csv(body, types, _separator(headers.get("column_separator")))
        answer.total_rows = rows.num_rows + skipped
        ratio = float(headers.get("max_filter_ratio") or 0)
        if skipped > ratio * answer.total_rows:
            raise AnalysisError(f"too many filtered rows: {skipped} of {answer.total_rows} rows have the wrong "
                                f"number of columns, more than max_filter_ratio {ratio} allows")
        remaining = (ratio * answer.total_rows - skipped) / rows.num_rows if rows.num_rows else 0.0
        con = frontend.duckdb.cursor()
        try:
            con.register(SOURCE, rows)
            result = load_relation(frontend, database, table_name, con, SOURCE, names if columns_header else None,
                                   label, max_filter_ratio=max(0.0, remaining))
        finally:
            con.close()
        answer.txn_id = result.txn_id
        answer.loaded_rows = result.loaded_rows
        answer.filtered_rows = skipped + result.filtered_rows
    except LabelAlreadyExistsError as exc:
        answer.status, answer.message = "Label Already Exists", str(exc)
    except (CairnError, pa.ArrowInvalid, UnicodeDecodeError) as exc:
        answer.status, answer.message = "Fail", str(exc)
        answer.loaded_rows = 0
    return answer
