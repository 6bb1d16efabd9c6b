"""JournalEntry: one object of the log, a versioned model validated on read."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from cairn.errors import JournalError

FORMAT_VERSION = 1


class JournalEntry(BaseModel):
    """One committed change. `op` is a catalog operation as a plain mapping (see catalog.ops)."""

    format_version: int = FORMAT_VERSION
    incarnation: int
    entry_id: int
    epoch: int
    timestamp: float
    op: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes, key: str) -> "JournalEntry":
        try:
            entry = cls.model_validate(json.loads(data))
        except (ValueError, ValidationError) as exc:
            raise JournalError(f"journal entry {key} is not valid: {str(exc).splitlines()[0]}") from None
        if entry.format_version > FORMAT_VERSION:
            raise JournalError(f"journal entry {key} has format {entry.format_version}, "
                               f"newer than this Cairn understands ({FORMAT_VERSION})")
        return entry
