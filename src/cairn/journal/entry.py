"""JournalEntry: one object of the log, a versioned model validated on read."""

from __future__ import annotations

from typing import Any, ClassVar

from cairn.errors import CairnError, JournalError
from cairn.formats import VersionedModel


class JournalEntry(VersionedModel):
    """One committed change. `op` is a catalog operation as a plain mapping (see catalog.ops)."""

    KIND: ClassVar[str] = "journal entry"
    ERROR: ClassVar[type[CairnError]] = JournalError

    incarnation: int
    entry_id: int
    epoch: int
    timestamp: float
    op: dict[str, Any]
