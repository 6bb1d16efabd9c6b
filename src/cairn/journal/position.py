"""JournalPosition: where in a cluster's history a state stands."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class JournalPosition:
    """Entry `entry_id` of incarnation `incarnation`'s log. Ordered by incarnation, then entry."""

    incarnation: int
    entry_id: int

    def __str__(self) -> str:
        return f"{self.incarnation}:{self.entry_id}"
