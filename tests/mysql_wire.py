"""A minimal MySQL client on a raw socket, for tests that look at packets the drivers hide."""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

PROTOCOL_41 = 0x200
SECURE_CONNECTION = 0x8000
MULTI_STATEMENTS = 0x10000
MULTI_RESULTS = 0x20000
PLUGIN_AUTH = 0x80000
DEPRECATE_EOF = 0x1000000
BASE_CAPABILITIES = PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | MULTI_RESULTS

COM_QUERY, COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_CLOSE, COM_RESET_CONNECTION = 0x03, 0x16, 0x17, 0x19, 0x1F


class Closed(Exception):
    """The server closed the connection."""


@dataclass
class Packet:
    seq: int
    payload: bytes

    @property
    def is_ok(self) -> bool:
        return self.payload[:1] == b"\x00"

    @property
    def is_err(self) -> bool:
        return self.payload[:1] == b"\xff"

    @property
    def is_eof(self) -> bool:
        return self.payload[:1] == b"\xfe" and len(self.payload) < 9

    @property
    def error_code(self) -> int:
        return struct.unpack("<H", self.payload[1:3])[0]

    @property
    def error_message(self) -> str:
        return self.payload[9:].decode("utf-8", "replace")


def lenenc(payload: bytes, pos: int) -> tuple[int, int]:
    """A length-encoded integer at `pos`: (value, next position)."""
    first = payload[pos]
    if first < 0xFB:
        return first, pos + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(payload[pos + 1:pos + 1 + size], "little"), pos + 1 + size


def ok_counts(packet: Packet) -> tuple[int, int, int]:
    """(affected rows, last insert id, status flags) of an OK packet (or an OK that ends rows)."""
    affected, pos = lenenc(packet.payload, 1)
    last_id, pos = lenenc(packet.payload, pos)
    return affected, last_id, struct.unpack("<H", packet.payload[pos:pos + 2])[0]


class WireClient:
    """One raw connection: frame packets, log in as a passwordless user, send commands."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def _recv_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed()
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read(self) -> Packet:
        header = self._recv_exactly(4)
        length = int.from_bytes(header[:3], "little")
        return Packet(header[3], self._recv_exactly(length))

    def send(self, payload: bytes, seq: int = 0) -> None:
        self.sock.sendall(len(payload).to_bytes(3, "little") + bytes([seq]) + payload)

    def greeting(self) -> Packet:
        return self.read()

    def handshake_response(self, capabilities: int, user: str = "root", database: str = "") -> bytes:
        flags = capabilities | (0x8 if database else 0)
        body = struct.pack("<IIB", flags, 1 << 24, 45) + bytes(23) + user.encode() + b"\x00" + b"\x00"
        if database:
            body += database.encode() + b"\x00"
        return body + b"mysql_native_password\x00"

    def login(self, capabilities: int = BASE_CAPABILITIES, user: str = "root", database: str = "") -> Packet:
        self.greeting()
        self.send(self.handshake_response(capabilities, user, database), seq=1)
        return self.read()

    def command(self, command: int, body: bytes) -> Packet:
        self.send(bytes([command]) + body)
        return self.read()

    def wait_closed(self, timeout: float) -> bool:
        """True once the server closes the connection (reading and dropping whatever it sends)."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(65536):
                    return True
            except TimeoutError:
                continue
            except ConnectionError:
                return True
        return False
