"""Reading an HTTP request body into a file, in bounded chunks and under a size cap.

The body is framed by `Content-Length` or by `Transfer-Encoding: chunked` (what `curl -T -` sends).
Both are checked from the headers before a byte of the body is read, so an upload over the cap is
refused without receiving it, and a malformed framing is answered, never left to close the
connection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from io import BufferedIOBase
from typing import BinaryIO

from cairn.errors import BadRequestError, RequestTooLargeError

READ_CHUNK = 1 << 20
_DECIMAL = re.compile(r"[0-9]{1,30}")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(;[^\r\n]*)?\r?\n")
# A chunk-size line or a trailer line longer than this is not HTTP.
_MAX_LINE = 8192
_MAX_TRAILERS = 100


class TruncatedBodyError(BadRequestError):
    """The client stopped sending before the end of the body it announced."""


@dataclass(frozen=True)
class BodyFraming:
    """How a request's body ends: after `length` bytes, or at the last chunk when `length` is None."""

    length: int | None

    @property
    def chunked(self) -> bool:
        return self.length is None


def body_too_large(limit: int, received: int) -> RequestTooLargeError:
    """StarRocks' refusal of a Stream Load body over `streaming_load_max_mb`."""
    return RequestTooLargeError(f"body exceed max size: {limit}, data: {received}")


def body_framing(headers: Message, limit: int) -> BodyFraming:
    """The body's framing from the request headers. Raises BadRequestError for a framing that is not
    HTTP/1.1 (a Content-Length that is not a number, conflicting headers, a transfer coding other
    than chunked) and RequestTooLargeError when the announced length is over `limit` bytes."""
    coding = headers.get("Transfer-Encoding")
    lengths = headers.get_all("Content-Length") or []
    if coding is not None:
        if [c.strip().lower() for c in coding.split(",") if c.strip()] != ["chunked"]:
            raise BadRequestError(f"Transfer-Encoding '{coding[:64]}' is not supported; send the body "
                                  "with Content-Length or Transfer-Encoding: chunked")
        if lengths:
            raise BadRequestError("A request must not carry both Content-Length and Transfer-Encoding")
        return BodyFraming(None)
    if not lengths:
        return BodyFraming(0)
    values = {value.strip() for value in lengths}
    if len(values) > 1:
        raise BadRequestError("The request carries conflicting Content-Length headers")
    text = values.pop()
    if not _DECIMAL.fullmatch(text):
        if re.fullmatch(r"[0-9]+", text):
            raise body_too_large(limit, limit + 1)
        raise BadRequestError(f"Content-Length '{text[:64]}' is not a number of bytes")
    length = int(text)
    if length > limit:
        raise body_too_large(limit, length)
    return BodyFraming(length)


def copy_body(source: BufferedIOBase, framing: BodyFraming, limit: int, target: BinaryIO) -> int:
    """Copy the body from `source` to `target` in chunks of at most READ_CHUNK bytes; returns its
    size. Raises TruncatedBodyError when the client stops early, BadRequestError for broken chunked
    framing, RequestTooLargeError as soon as a chunked body passes `limit` bytes."""
    if framing.length is not None:
        _copy_exactly(source, framing.length, target, 0, framing.length)
        return framing.length
    received = 0
    while True:
        size = _chunk_size(source)
        if size == 0:
            _skip_trailers(source)
            return received
        if received + size > limit:
            raise body_too_large(limit, received + size)
        _copy_exactly(source, size, target, received, None)
        received += size
        if _read_line(source) not in (b"\r\n", b"\n"):
            raise BadRequestError("Malformed chunked body: a chunk is not followed by CRLF")


def _copy_exactly(source: BufferedIOBase, size: int, target: BinaryIO, before: int, announced: int | None) -> None:
    left = size
    while left:
        data = source.read(min(READ_CHUNK, left))
        if not data:
            got = before + size - left
            if announced is not None:
                raise TruncatedBodyError(f"The body ended after {got} of the {announced} bytes its "
                                         "Content-Length announced; nothing was loaded")
            raise TruncatedBodyError(f"The chunked body ended inside a chunk after {got} bytes; nothing "
                                     "was loaded")
        target.write(data)
        left -= len(data)


def _read_line(source: BufferedIOBase) -> bytes:
    line = source.readline(_MAX_LINE + 1)
    if not line:
        raise TruncatedBodyError("The chunked body ended before its last chunk; nothing was loaded")
    if len(line) > _MAX_LINE or not line.endswith(b"\n"):
        raise BadRequestError("Malformed chunked body: a line is too long")
    return line


def _chunk_size(source: BufferedIOBase) -> int:
    line = _read_line(source)
    match = _CHUNK_SIZE.fullmatch(line)
    if match is None:
        raise BadRequestError(f"Malformed chunked body: {line[:32]!r} is not a chunk size")
    return int(match.group(1), 16)


def _skip_trailers(source: BufferedIOBase) -> None:
    for _ in range(_MAX_TRAILERS):
        if _read_line(source) in (b"\r\n", b"\n"):
            return
    raise BadRequestError("Malformed chunked body: too many trailer lines")
