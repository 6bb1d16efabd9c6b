"""How Cairn prints values in SHOW output and information_schema, as StarRocks does."""

from __future__ import annotations

import time


def format_time(seconds: float | None) -> str | None:
    """A wall time as SHOW statements print it (local time, to the second); None for no time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) if seconds else None
