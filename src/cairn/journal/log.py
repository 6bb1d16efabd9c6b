"""Journal: the log of one incarnation, `meta/journal/<incarnation>/<entry id>` (DESIGN invariant 2).

Entry ids are contiguous. An append is a create-if-absent put of the next id: whoever creates
entry n owns it, and an FE that loses an append has been deposed.
"""

from __future__ import annotations

import time
from typing import Any

from cairn.errors import JournalError, ObjectExistsError
from cairn.journal.entry import JournalEntry
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore


class AppendConflict(Exception):
    """Entry `entry_id` was taken by another writer; the caller must re-read the log."""

    def __init__(self, entry_id: int) -> None:
        super().__init__(f"journal entry {entry_id} already exists")
        self.entry_id = entry_id


class Journal:
    """Reads and appends the log of one incarnation."""

    def __init__(self, store: ObjectStore, keys: ClusterKeys, incarnation: int) -> None:
        self.store = store
        self.keys = keys
        self.incarnation = incarnation

    def read_after(self, entry_id: int, until: int | None = None) -> list[JournalEntry]:
        """Return the entries with ids greater than `entry_id` (up to `until`), in order.

        Raises JournalError if the listed ids are not contiguous.
        """
        prefix = self.keys.journal_prefix(self.incarnation)
        offset = self.keys.journal_entry(self.incarnation, entry_id)
        ids: list[int] = []
        for info in self.store.list(prefix, offset=offset):  # not every store lists in key order
            parsed = ClusterKeys.parse_journal_entry(info.key)
            if parsed is None or parsed <= entry_id or (until is not None and parsed > until):
                continue
            ids.append(parsed)
        ids.sort()
        for expected, found in enumerate(ids, start=entry_id + 1):
            if found != expected:
                raise JournalError(f"journal of incarnation {self.incarnation} has a gap: "
                                   f"entry {expected} is missing before {found}")
        keys = [self.keys.journal_entry(self.incarnation, i) for i in ids]
        return [JournalEntry.from_bytes(data, key) for data, key in zip(self.store.get_many(keys), keys)]

    def newest_id(self, after: int) -> int:
        """The highest entry id listed after `after` (`after` itself when none is): one listing, no reads.
        Ids are contiguous, so every id up to the returned one exists."""
        prefix = self.keys.journal_prefix(self.incarnation)
        offset = self.keys.journal_entry(self.incarnation, after)
        listed = (ClusterKeys.parse_journal_entry(info.key) for info in self.store.list(prefix, offset=offset))
        return max((i for i in listed if i is not None), default=after)

    def append(self, entry_id: int, epoch: int, op: dict[str, Any]) -> JournalEntry:
        """Create entry `entry_id`. This put is the commit point of every change.

        Raises AppendConflict when another writer already owns that id.
        """
        entry = JournalEntry(incarnation=self.incarnation, entry_id=entry_id, epoch=epoch,
                             timestamp=time.time(), op=op)
        try:
            self.store.put_if_absent(self.keys.journal_entry(self.incarnation, entry_id), entry.to_bytes())
        except ObjectExistsError:
            raise AppendConflict(entry_id) from None
        return entry
