"""How Cairn prints values in SHOW output and information_schema, as StarRocks does."""

from __future__ import annotations

import time


def format_time(seconds: float | None) -> str | None:
    """A wall time as SHOW statements print it (local time, to the second); None for no time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) if seconds else None


_BINARY_UNITS = (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10))


def readable_bytes(count: int) -> str:
    """A byte count as StarRocks' SHOW DATA and SHOW PROC print one: three decimals and a binary unit
    (`1.234 KB`, `512.000 B`; `0.000 ` for none)."""
    if count == 0:
        return "0.000 "
    unit, size = next(((u, s) for u, s in _BINARY_UNITS if count > s), ("B", 1))
    return f"{count / size:.3f} {unit}"


def byte_size(count: int) -> str:
    """A byte count as StarRocks' SHOW TABLET prints it: at most one decimal and a lower-case unit
    (`512b`, `1.5kb`, `3mb`)."""
    unit, size = next(((u.lower(), s) for u, s in _BINARY_UNITS if count >= s), ("b", 1))
    value = count / size
    return f"{value:.1f}".removesuffix(".0") + unit
