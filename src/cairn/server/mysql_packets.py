"""Strict parsing of what MySQL clients send: handshake responses and command payloads.

mysql-mimic's own readers trust their input (a string with no terminating NUL loops for ever, a
short read raises `struct.error`). Every client packet Cairn reads goes through `PacketReader`,
which raises `MalformedPacket` instead, so a broken or hostile client gets error 1835 and cannot
stall or crash the server.
"""

from __future__ import annotations

import datetime
import decimal
import struct
from dataclasses import dataclass, field
from typing import Any

from mysql_mimic.charset import CharacterSet, Collation
from mysql_mimic.types import Capabilities, ColumnType

from cairn.errors import CairnError


class MalformedPacket(CairnError):
    """A client packet that does not follow the MySQL protocol (ER_MALFORMED_PACKET)."""

    mysql_code, sqlstate = 1835, "HY000"

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"Malformed communication packet{f': {detail}' if detail else ''}.")


class PacketReader:
    """Reads MySQL protocol fields from one payload; never reads past its end."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def fixed(self, length: int) -> bytes:
        if length < 0 or length > self.remaining():
            raise MalformedPacket("field runs past the end of the packet")
        chunk = self.data[self.pos:self.pos + length]
        self.pos += length
        return chunk

    def unpack(self, fmt: str) -> Any:
        fmt_struct = struct.Struct("<" + fmt)
        return fmt_struct.unpack(self.fixed(fmt_struct.size))[0]

    def uint_len(self) -> int:
        first = self.unpack("B")
        if first == 0xFC:
            return int(self.unpack("H"))
        if first == 0xFD:
            low, high = struct.unpack("<HB", self.fixed(3))
            return int(low + (high << 16))
        if first == 0xFE:
            return int(self.unpack("Q"))
        if first == 0xFB or first == 0xFF:
            raise MalformedPacket("invalid length-encoded integer")
        return int(first)

    def str_len(self) -> bytes:
        return self.fixed(self.uint_len())

    def str_null(self) -> bytes:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise MalformedPacket("string without its terminating NUL")
        text = self.data[self.pos:end]
        self.pos = end + 1
        return text

    def rest(self) -> bytes:
        return self.fixed(self.remaining())


def decode(charset: CharacterSet, raw: bytes) -> str:
    try:
        return raw.decode(charset.codec)
    except (UnicodeDecodeError, LookupError):
        raise MalformedPacket("text not in the connection's character set") from None


def client_charset(collation_id: int) -> CharacterSet:
    try:
        return Collation(collation_id).charset
    except ValueError:
        raise MalformedPacket(f"unknown collation {collation_id}") from None


@dataclass
class HandshakeResponse:
    """HandshakeResponse41, or an SSLRequest when `username` is None."""

    capabilities: Capabilities
    max_packet_size: int
    charset: CharacterSet
    username: str | None = None
    auth_response: bytes = b""
    database: str | None = None
    client_plugin: str | None = None
    connect_attrs: dict[str, str] = field(default_factory=dict)


def _connect_attrs(reader: PacketReader, charset: CharacterSet) -> dict[str, str]:
    attrs = PacketReader(reader.str_len())
    out: dict[str, str] = {}
    while attrs.remaining():
        key = decode(charset, attrs.str_len())
        out[key] = decode(charset, attrs.str_len())
    return out


def parse_handshake_response(server_capabilities: Capabilities, data: bytes) -> HandshakeResponse:
    """Parse a HandshakeResponse41 (or SSLRequest); capabilities are those both sides have."""
    reader = PacketReader(data)
    capabilities = server_capabilities & Capabilities(reader.unpack("I"))
    if Capabilities.CLIENT_PROTOCOL_41 not in capabilities:
        raise MalformedPacket("clients older than protocol 4.1 are not supported")
    response = HandshakeResponse(capabilities, reader.unpack("I"), client_charset(reader.unpack("B")))
    reader.fixed(23)
    if not reader.remaining():
        return response
    response.username = decode(response.charset, reader.str_null())
    if Capabilities.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA in capabilities:
        response.auth_response = reader.str_len()
    else:
        response.auth_response = reader.fixed(reader.unpack("B"))
    if Capabilities.CLIENT_CONNECT_WITH_DB in capabilities and reader.remaining():
        response.database = decode(response.charset, reader.str_null()) or None
    if Capabilities.CLIENT_PLUGIN_AUTH in capabilities and reader.remaining():
        response.client_plugin = decode(response.charset, reader.str_null())
    if Capabilities.CLIENT_CONNECT_ATTRS in capabilities and reader.remaining():
        response.connect_attrs = _connect_attrs(reader, response.charset)
    return response


@dataclass
class ChangeUser:
    username: str
    auth_response: bytes
    database: str | None
    client_plugin: str | None = None
    connect_attrs: dict[str, str] = field(default_factory=dict)


def parse_change_user(capabilities: Capabilities, charset: CharacterSet, data: bytes) -> ChangeUser:
    reader = PacketReader(data)
    username = decode(charset, reader.str_null())
    auth_response = reader.fixed(reader.unpack("B"))
    database = decode(charset, reader.str_null()) or None
    request = ChangeUser(username, auth_response, database)
    if reader.remaining():
        charset = client_charset(reader.unpack("H"))
        if Capabilities.CLIENT_PLUGIN_AUTH in capabilities and reader.remaining():
            request.client_plugin = decode(charset, reader.str_null())
        if Capabilities.CLIENT_CONNECT_ATTRS in capabilities and reader.remaining():
            request.connect_attrs = _connect_attrs(reader, charset)
    return request


def parse_field_list(charset: CharacterSet, data: bytes) -> tuple[str, str]:
    """COM_FIELD_LIST: the table and the column wildcard."""
    reader = PacketReader(data)
    table = decode(charset, reader.str_null())
    return table, decode(charset, reader.rest())


# --- COM_STMT_EXECUTE ----------------------------------------------------------------------------

_STRING_TYPES = {ColumnType.VARCHAR, ColumnType.VAR_STRING, ColumnType.STRING, ColumnType.BLOB,
                 ColumnType.TINY_BLOB, ColumnType.MEDIUM_BLOB, ColumnType.LONG_BLOB, ColumnType.JSON,
                 ColumnType.ENUM, ColumnType.SET, ColumnType.BIT, ColumnType.GEOMETRY}
_INTEGERS = {ColumnType.TINY: "b", ColumnType.BOOL: "b", ColumnType.SHORT: "h", ColumnType.YEAR: "h",
             ColumnType.LONG: "i", ColumnType.INT24: "i", ColumnType.LONGLONG: "q"}
_CURSOR_READ_ONLY = 0x01


@dataclass
class ExecuteRequest:
    statement_id: int
    use_cursor: bool
    values: list[Any]
    types: list[tuple[int, bool]] | None


def parse_execute_header(data: bytes) -> int:
    """The statement id a COM_STMT_EXECUTE (or RESET, CLOSE, FETCH, SEND_LONG_DATA) names."""
    return int(PacketReader(data).unpack("I"))


def _temporal(reader: PacketReader, column_type: ColumnType) -> Any:
    size = reader.unpack("B")
    raw = PacketReader(reader.fixed(size))
    try:
        if column_type is ColumnType.TIME:
            if size == 0:
                return "00:00:00"
            negative, days = raw.unpack("B"), raw.unpack("I")
            hours, minutes, seconds = raw.unpack("B"), raw.unpack("B"), raw.unpack("B")
            micros = raw.unpack("I") if raw.remaining() else 0
            text = f"{days * 24 + hours:02d}:{minutes:02d}:{seconds:02d}" + (f".{micros:06d}" if micros else "")
            return ("-" if negative else "") + text
        if size == 0:
            return "0000-00-00"
        day = datetime.date(raw.unpack("H"), raw.unpack("B"), raw.unpack("B"))
        if not raw.remaining():
            return day
        hour, minute, second = raw.unpack("B"), raw.unpack("B"), raw.unpack("B")
        micros = raw.unpack("I") if raw.remaining() else 0
        return datetime.datetime(day.year, day.month, day.day, hour, minute, second, micros)
    except ValueError:
        raise MalformedPacket("invalid date or time parameter") from None


def _value(reader: PacketReader, charset: CharacterSet, type_code: int, unsigned: bool) -> Any:
    try:
        column_type = ColumnType(type_code)
    except ValueError:
        raise MalformedPacket(f"unknown parameter type {type_code}") from None
    if column_type in _STRING_TYPES:
        return decode(charset, reader.str_len())
    if column_type in (ColumnType.NEWDECIMAL, ColumnType.DECIMAL):
        try:
            return decimal.Decimal(decode(charset, reader.str_len()))
        except decimal.InvalidOperation:
            raise MalformedPacket("invalid decimal parameter") from None
    if column_type in _INTEGERS:
        fmt = _INTEGERS[column_type]
        return int(reader.unpack(fmt.upper() if unsigned else fmt))
    if column_type is ColumnType.FLOAT:
        return float(reader.unpack("f"))
    if column_type is ColumnType.DOUBLE:
        return float(reader.unpack("d"))
    if column_type in (ColumnType.DATE, ColumnType.DATETIME, ColumnType.TIMESTAMP, ColumnType.TIME):
        return _temporal(reader, column_type)
    if column_type is ColumnType.NULL:
        return None
    raise MalformedPacket(f"unsupported parameter type {column_type.name}")


def parse_execute(data: bytes, charset: CharacterSet, param_count: int,
                  previous_types: list[tuple[int, bool]] | None,
                  long_data: dict[int, bytearray] | None) -> ExecuteRequest:
    """Parse COM_STMT_EXECUTE for a statement with `param_count` parameters.

    A client may omit the parameter types when they are the same as last time (`previous_types`);
    values sent with COM_STMT_SEND_LONG_DATA (`long_data`) take the place of inline ones.
    """
    reader = PacketReader(data)
    statement_id = reader.unpack("I")
    flags = reader.unpack("B")
    reader.unpack("I")  # iteration count, always 1
    if not param_count:
        return ExecuteRequest(statement_id, bool(flags & _CURSOR_READ_ONLY), [], previous_types)
    nulls = reader.fixed((param_count + 7) // 8)
    types = previous_types
    if reader.unpack("B"):
        types = [(reader.unpack("B"), bool(reader.unpack("B") & 0x80)) for _ in range(param_count)]
    if types is None:
        raise MalformedPacket("parameter types were never sent")
    values: list[Any] = []
    for i, (type_code, unsigned) in enumerate(types):
        if nulls[i // 8] & (1 << (i % 8)):
            values.append(None)
        elif long_data and i in long_data:
            values.append(decode(charset, bytes(long_data[i])))
        else:
            values.append(_value(reader, charset, type_code, unsigned))
    return ExecuteRequest(statement_id, bool(flags & _CURSOR_READ_ONLY), values, types)
