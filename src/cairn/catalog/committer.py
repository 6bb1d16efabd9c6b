"""Committer: the one way anything changes the catalog (DESIGN invariant 4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cairn.catalog.catalog import Catalog
from cairn.catalog.ops import Op
from cairn.journal.entry import JournalEntry
from cairn.journal.image import CheckpointImage


class Committer(Protocol):
    """Commits catalog ops as journal entries while this FE leads its cluster."""

    @property
    def is_leader(self) -> bool:
        """True while this FE may commit; background work that commits runs only then."""
        ...

    def commit(self, build: Callable[[Catalog], Op]) -> JournalEntry:
        """Build an op against the current catalog under the commit lock and append it as one
        journal entry. Raises NotLeaderError when this FE has been deposed."""
        ...

    def commit_if(self, build: Callable[[Catalog], Op | None]) -> JournalEntry | None:
        """Like `commit`; `build` returns None when there is nothing to do (IF [NOT] EXISTS)."""
        ...

    def capture_image(self, while_locked: Callable[[CheckpointImage], None] | None = None) -> CheckpointImage:
        """The whole catalog at the current position; `while_locked` runs before the next commit."""
        ...
