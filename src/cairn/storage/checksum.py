"""Object checksums (`crc32:xxxxxxxx`), as manifests record them and caches verify them."""

from __future__ import annotations

import zlib
from pathlib import Path

_CHUNK = 4 << 20


def checksum_file(path: Path) -> str:
    crc = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return f"crc32:{crc:08x}"


def checksum_bytes(data: bytes) -> str:
    return f"crc32:{zlib.crc32(data):08x}"
