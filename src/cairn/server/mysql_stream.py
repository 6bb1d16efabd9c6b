"""Reading MySQL packets from a client strictly, on top of mysql-mimic's stream.

mysql-mimic's reader takes whatever `read(4)` returns as a whole header and has no size limit.
`StrictStream` wraps its stream (mysql-mimic compiles it, so it cannot be subclassed): every
other call passes through, and `read` waits for whole headers and payloads, refuses a packet
larger than `max_allowed_packet`, and reports an out-of-order packet as malformed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mysql_mimic.stream import ConnectionClosed, MysqlStream

from cairn.errors import CairnError
from cairn.query.variables import DEFAULTS
from cairn.server.mysql_packets import MalformedPacket

MAX_ALLOWED_PACKET = int(DEFAULTS["max_allowed_packet"])
_CHUNK = 0xFFFFFF


class PacketTooLarge(CairnError):
    """ER_NET_PACKET_TOO_LARGE."""

    mysql_code, sqlstate = 1153, "08S01"

    def __init__(self) -> None:
        super().__init__(f"Got a packet bigger than 'max_allowed_packet' bytes ({MAX_ALLOWED_PACKET}).")


class StrictStream:
    """A MysqlStream whose `read` trusts nothing the client sends."""

    def __init__(self, stream: MysqlStream) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def read(self) -> bytes:
        """One logical packet's payload. Raises ConnectionClosed when the client went away."""
        payload = bytearray()
        while True:
            try:
                header = await self._stream.reader.readexactly(4)
            except (asyncio.IncompleteReadError, ConnectionError):
                raise ConnectionClosed() from None
            length = int.from_bytes(header[:3], "little")
            expected = next(self._stream.seq)
            if header[3] != expected:
                raise MalformedPacket(f"packet number {header[3]} where {expected} was expected")
            if len(payload) + length > MAX_ALLOWED_PACKET:
                raise PacketTooLarge()
            try:
                payload += await self._stream.reader.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError):
                raise ConnectionClosed() from None
            if length < _CHUNK:
                return bytes(payload)
