"""Pins: object keys that vacuum must keep although no visible version references them yet (or
any more): what running statements read and what in-flight loads and compactions wrote.

A writer pins a key *before* it puts the object: vacuum spares unpinned objects only while they are
younger than its age margin, and a thread may stall past that margin between a put and a pin."""

from __future__ import annotations

from typing import Protocol


class Pins(Protocol):
    """Counts holds on object keys; a key stays pinned until every hold is released."""

    def pin(self, keys: list[str]) -> list[str]:
        """Hold `keys` against vacuum until `release`; returns them."""
        ...

    def release(self, keys: list[str]) -> None:
        """Drop one hold on each of `keys`."""
        ...

    def pinned(self) -> set[str]:
        """Every key held now."""
        ...
