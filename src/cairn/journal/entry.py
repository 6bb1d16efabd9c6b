"""JournalEntry: one object of the log, a versioned, authenticated model validated on read."""

from __future__ import annotations

from typing import Any, ClassVar

from cairn.errors import CairnError, JournalError
from cairn.journal.signed import SignedModel


class JournalEntry(SignedModel):
    """One committed change: the writer's incarnation and epoch, and a catalog operation as a plain
    mapping (see catalog.ops), its secrets sealed on storage. Format 1 entries had no MAC."""

    KIND: ClassVar[str] = "journal entry"
    ERROR: ClassVar[type[CairnError]] = JournalError
    SEALED_PATH: ClassVar[tuple[str, ...]] = ("op",)

    incarnation: int
    entry_id: int
    epoch: int
    timestamp: float
    op: dict[str, Any]
    # Random per commit: how a writer recognises its own entry when a put's outcome was not learnt
    # (entries written before nonces existed have "").
    nonce: str = ""
