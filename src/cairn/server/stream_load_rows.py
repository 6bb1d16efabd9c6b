"""A spooled Stream Load body (CSV or JSON) read as Arrow batches of rows, piece by piece.

Memory stays bounded by the piece size whatever the body's size: CSV is cut into pieces of whole
lines, each parsed by Arrow's multithreaded CSV reader into the table's column types (or, for a
piece where a value does not parse so, into strings, which the load then converts row by row in
the engine, filtering what does not convert); JSON is decoded record by record into batches of
strings. `prefetched` reads the next pieces on a thread of its own while the load checks and
writes the current one.
"""

from __future__ import annotations

import codecs
import json
import re
import threading
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Full, Queue
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv

from cairn.errors import BadRequestError
from cairn.lake.tablet_files import LoadMemory

CSV_BLOCK_BYTES = 1 << 20
JSON_BATCH_ROWS = 16384
_READ_BYTES = 1 << 20
_SPACE = re.compile(r"[ \t\r\n]*")


def column_names(count: int) -> list[str]:
    """The rows file's column names, by position."""
    return [f"c{i}" for i in range(count)]


@dataclass
class BodyRead:
    """What reading a body found: lines skipped (filtered) by reason, counted as they are read."""

    wrong_width: int = 0
    not_utf8: int = 0

    @property
    def skipped(self) -> int:
        return self.wrong_width + self.not_utf8

    def skip_reasons(self) -> str:
        """The reasons rows were skipped, for a message: "2 have the wrong number of columns"."""
        reasons = [(self.wrong_width, "have the wrong number of columns"), (self.not_utf8, "are not valid UTF-8")]
        return ", ".join(f"{count} {why}" for count, why in reasons if count)


def csv_batches(body: Path, types: list[pa.DataType], separator: str, piece_bytes: int,
                read: BodyRead) -> Iterator[pa.Table]:
    """The CSV lines of `body` as tables of columns `c0`, `c1`, ... of the target `types` (or all
    strings for a piece where a value does not convert, so that the load can filter and count the
    bad rows), about `piece_bytes` of the body at a time. Lines that are not UTF-8 or have another
    width are skipped and counted in `read`."""
    names = column_names(len(types))
    for piece in _line_pieces(body, piece_bytes):
        yield _parse_piece(_utf8_only(piece, read), names, types, separator, read)


def _line_pieces(body: Path, piece_bytes: int) -> Iterator[bytes]:
    """`body` in pieces of about `piece_bytes` that end at a line's end (the last one where the body ends)."""
    rest = b""
    with body.open("rb") as file:
        while block := file.read(piece_bytes):
            data = rest + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            rest = data[cut:]
            yield data[:cut]
    if rest:
        yield rest


def _parse_piece(piece: bytes, names: list[str], types: list[pa.DataType], separator: str,
                 read: BodyRead) -> pa.Table:
    failure: pa.ArrowInvalid | None = None
    for column_types in (types, [pa.string()] * len(types)):
        skipped = 0

        def skip(_row: Any) -> str:
            nonlocal skipped
            skipped += 1
            return "skip"

        try:
            table = pacsv.read_csv(
                pa.BufferReader(piece),
                read_options=pacsv.ReadOptions(column_names=names, block_size=max(CSV_BLOCK_BYTES, len(piece) // 4 + 1)),
                parse_options=pacsv.ParseOptions(delimiter=separator, quote_char='"', invalid_row_handler=skip),
                convert_options=pacsv.ConvertOptions(column_types=dict(zip(names, column_types)), null_values=["\\N"],
                                                     strings_can_be_null=True))
        except pa.ArrowInvalid as exc:
            failure = exc
            continue
        read.wrong_width += skipped
        return table
    raise BadRequestError(f"The body is not readable as CSV: {failure}")


def prefetched(batches: Iterator[pa.Table], depth: int, memory: LoadMemory) -> Generator[pa.Table, None, None]:
    """`batches`, read ahead on a thread of their own by up to `depth` tables (counted in `memory`
    until the consumer is done with each). An error while reading is raised here, in order."""
    queue: Queue[pa.Table | BaseException | None] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: pa.Table | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                memory.hold(batch.nbytes)
                if not put(batch):
                    return
            put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put(exc)

    reader = threading.Thread(target=produce, name="stream-load-reader", daemon=True)
    reader.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
            memory.release(item.nbytes)
    finally:
        stop.set()
        reader.join()


def _utf8_only(piece: bytes, read: BodyRead) -> bytes:
    """`piece` without its lines that are not UTF-8 (counted in `read`). Arrow cannot skip such a
    line itself: it fails the whole read, or (for a line of another width) raises inside the skip
    handler, where the error is printed and lost. Checked by Arrow's validator first; a piece that
    passes (the usual case) is not split into lines at all."""
    offsets = pa.array([0, len(piece)], pa.int32()).buffers()[1]
    try:
        pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(piece)]).cast(pa.string())
        return piece
    except pa.ArrowInvalid:
        pass
    lines = piece.split(b"\n")
    kept = []
    for index, line in enumerate(lines):
        ending = b"\n" if index < len(lines) - 1 else b""
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            read.not_utf8 += 1
            continue
        kept.append(line + ending)
    return b"".join(kept)


def json_batches(body: Path, names: list[str], strip_outer_array: bool) -> Iterator[pa.Table]:
    """The records of `body` (a JSON array with `strip_outer_array`, else one JSON value per line) as
    tables of string columns `c0`, `c1`, ... for the fields `names`; nested values stay JSON text."""
    schema = pa.schema([(name, pa.string()) for name in column_names(len(names))])
    with body.open("rb") as file:
        records = _array_items(file) if strip_outer_array else _lines(file)
        batch: list[Any] = []
        try:
            for record in records:
                batch.append(record)
                if len(batch) == JSON_BATCH_ROWS:
                    yield pa.Table.from_batches([_json_batch(batch, names, schema)])
                    batch = []
            if batch:
                yield pa.Table.from_batches([_json_batch(batch, names, schema)])
        except RecursionError:
            raise BadRequestError("The body is not valid JSON: it is nested too deeply") from None
        except UnicodeDecodeError:
            raise BadRequestError("The body is not valid UTF-8") from None


def _json_batch(records: list[Any], names: list[str], schema: pa.Schema) -> pa.RecordBatch:
    columns = [pa.array([_field_text(record, name) for record in records], pa.string()) for name in names]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _field_text(record: Any, name: str) -> str | None:
    if not isinstance(record, dict) or record.get(name) is None:
        return None
    value = record[name]
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _lines(file: BinaryIO) -> Iterator[Any]:
    for number, line in enumerate(file, start=1):
        text = line.decode("utf-8")
        if text.strip():
            try:
                yield json.loads(text)
            except json.JSONDecodeError as exc:
                raise BadRequestError(f"The body is not valid JSON: line {number}: {exc.msg}") from None


class _Text:
    """The body's text, decoded block by block; `pos` is where parsing stands."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.eof = False

    def read_more(self, size: int = _READ_BYTES) -> bool:
        """Append up to `size` more bytes of the body (dropping what is parsed); False at its end."""
        if self.eof:
            return False
        data = self.file.read(size)
        self.eof = not data
        self.text = self.text[self.pos:] + self.decoder.decode(data, final=self.eof)
        self.pos = 0
        return True

    def next_char(self) -> str | None:
        """The next character that is not white space, without taking it; None at the end."""
        while True:
            space = _SPACE.match(self.text, self.pos)
            assert space is not None  # the pattern matches the empty string too
            self.pos = space.end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.read_more():
                return None

    def value(self, decode: Any) -> Any:
        """The JSON value at `pos`. A value that runs to the end of the text read so far may go on,
        so more is read first (doubling, so a large value costs linear time)."""
        self.next_char()
        while True:
            try:
                value, end = decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if not self.read_more(max(_READ_BYTES, len(self.text))):
                    raise BadRequestError(f"The body is not valid JSON: {exc.msg}") from None
                continue
            if end == len(self.text) and self.read_more(max(_READ_BYTES, len(self.text))):
                continue
            self.pos = end
            return value


def _array_items(file: BinaryIO) -> Iterable[Any]:
    """The elements of the JSON array that is the whole body, one at a time."""
    text = _Text(file)
    decode = json.JSONDecoder().raw_decode
    if text.next_char() != "[":
        raise BadRequestError("strip_outer_array is true but the body is not a JSON array")
    text.pos += 1
    if text.next_char() == "]":
        text.pos += 1
    else:
        while True:
            yield text.value(decode)
            following = text.next_char()
            text.pos += 1
            if following == "]":
                break
            if following != ",":
                raise BadRequestError("The body is not valid JSON: expected ',' or ']' after an array element")
    if text.next_char() is not None:
        raise BadRequestError("The body is not valid JSON: there is more after the array")
