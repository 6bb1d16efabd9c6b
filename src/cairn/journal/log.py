"""Journal: the log of one incarnation, `meta/journal/<incarnation>/<entry id>` (DESIGN invariant 2).

Entry ids are contiguous. An append is a create-if-absent put of the next id: whoever creates
entry n owns it, and an FE that loses an append has been deposed.

Entries are authenticated (journal.signed). Once the log holds an authenticated entry (or the
image replay started from is authenticated), an entry that does not authenticate is a void slot:
it is reported, replay passes over it, and a leader that finds one at its next id appends after
it. Before that point, format 1 (legacy) entries are accepted: they were written before entries
were authenticated.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from cairn import keyring
from cairn.errors import CairnError, JournalError, ObjectExistsError, ObjectNotFoundError, StorageUnavailableError
from cairn.journal.entry import JournalEntry
from cairn.journal.signed import Authenticity
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore

log = logging.getLogger(__name__)

# A free id that turns out taken when put again is read again; a store that keeps saying both is broken.
SETTLE_ATTEMPTS = 5


class AppendConflict(Exception):
    """Entry `entry_id` was taken by another writer; the caller must re-read the log."""

    def __init__(self, entry_id: int) -> None:
        super().__init__(f"journal entry {entry_id} already exists")
        self.entry_id = entry_id


class UncertainAppend(StorageUnavailableError):
    """The put of `entry` failed in a way that does not say whether it landed (a timeout, a reset
    connection, a server error after the request was sent). `Journal.settle` learns the outcome."""

    def __init__(self, entry: JournalEntry, cause: CairnError) -> None:
        super().__init__(f"object storage did not confirm journal entry {entry.entry_id}: {cause}")
        self.entry = entry


class Journal:
    """Reads and appends the log of one incarnation."""

    def __init__(self, store: ObjectStore, keys: ClusterKeys, incarnation: int, trusted: bool = False) -> None:
        self.store = store
        self.keys = keys
        self.incarnation = incarnation
        # True once an authenticated entry or image of this log was read or written: from then on
        # only authenticated entries count.
        self.trusted = trusted
        self.rejected = 0  # entries found not to authenticate, for the metrics

    def _void(self, key: str, entry_id: int, reason: str) -> JournalEntry:
        """A void slot standing for the object at `key`, reported. Its time is 0, so that a forged
        time cannot end a point-in-time replay early."""
        self.rejected += 1
        log.error("journal entry %s does not authenticate (%s): it is not applied", key, reason)
        return JournalEntry(incarnation=self.incarnation, entry_id=entry_id, epoch=0, timestamp=0.0,
                            op={"kind": "void_slot", "reason": reason})

    def _read(self, key: str, entry_id: int, data: bytes) -> JournalEntry:
        """The entry stored at `key` if it counts, else a void slot in its place."""
        try:
            entry: JournalEntry = JournalEntry.from_bytes(data, key)
        except JournalError:
            if not self.trusted:
                raise
            return self._void(key, entry_id, "not a journal entry")
        found = entry.authenticity
        if found is Authenticity.AUTHENTIC and entry.entry_id == entry_id and entry.incarnation == self.incarnation:
            self.trusted = True
            return entry
        if found is Authenticity.LEGACY and not self.trusted:
            return entry
        if found is Authenticity.UNKNOWN_KEY and not self.trusted:
            # Nothing authenticated precedes it: this FE lacks the key, it is not a forgery.
            keyring.current().require_key(entry.key_id, f"journal entry {key}")
        return self._void(key, entry_id, found.value if found is not Authenticity.AUTHENTIC else "moved")

    def _read_many(self, ids: list[int]) -> list[JournalEntry]:
        keys = [self.keys.journal_entry(self.incarnation, i) for i in ids]
        return [self._read(key, i, data) for i, key, data in zip(ids, keys, self.store.get_many(keys))]

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
        cut = next((i for i, found in enumerate(ids) if found != entry_id + 1 + i), len(ids))
        entries = self._read_many(ids[:cut])
        if cut < len(ids):
            # Objects past a gap that do not authenticate were put there by someone else (an FE
            # writes ids in order): they are passed over. An authenticated one means a real gap.
            stranded = self._read_many(ids[cut:])
            if any(e.op.get("kind") != "void_slot" for e in stranded):
                raise JournalError(f"journal of incarnation {self.incarnation} has a gap: "
                                   f"entry {entry_id + 1 + cut} is missing before {ids[cut]}")
        return entries

    def newest_id(self, after: int) -> int:
        """The highest entry id listed after `after` (`after` itself when none is): one listing, no reads.
        Ids are contiguous, so every id up to the returned one exists."""
        prefix = self.keys.journal_prefix(self.incarnation)
        offset = self.keys.journal_entry(self.incarnation, after)
        listed = (ClusterKeys.parse_journal_entry(info.key) for info in self.store.list(prefix, offset=offset))
        return max((i for i in listed if i is not None), default=after)

    def append(self, entry_id: int, epoch: int, op: dict[str, Any]) -> JournalEntry:
        """Create entry `entry_id`, or the first id after it past void slots. This put is the commit
        point of every change; the returned entry says which id it took.

        Raises AppendConflict when another writer owns the id (an authenticated entry is there), and
        UncertainAppend (with the entry, for `settle`) when a put failed without saying whether it landed.
        """
        entry = JournalEntry(incarnation=self.incarnation, entry_id=entry_id, epoch=epoch, timestamp=time.time(),
                             op=op, nonce=uuid.uuid4().hex)
        while True:
            key = self.keys.journal_entry(self.incarnation, entry.entry_id)
            try:
                self.store.put_if_absent(key, entry.to_bytes())
            except ObjectExistsError:
                # A put the store client retried after a lost answer meets its own first attempt:
                # the object there may be this entry. Only the nonce, in an authentic entry, says so.
                try:
                    found = self._read(key, entry.entry_id, self.store.get(key))
                except JournalError:
                    raise AppendConflict(entry.entry_id) from None  # not an entry, in a log not yet trusted
                except CairnError as exc:  # the store did not say whose entry it is: settled later
                    raise UncertainAppend(entry, exc) from None
                if found.nonce == entry.nonce:
                    self.trusted = True
                    return found
                if self.trusted and found.op.get("kind") == "void_slot":
                    entry = entry.model_copy(update={"entry_id": entry.entry_id + 1, "timestamp": time.time()})
                    continue
                raise AppendConflict(entry.entry_id) from None
            except CairnError as exc:
                raise UncertainAppend(entry, exc) from None
            self.trusted = True
            return entry

    def settle(self, entry: JournalEntry) -> JournalEntry:
        """Learn the outcome of an uncertain append of `entry` from the log itself: return the entry
        where the log holds it (recognised by its nonce; past void slots, as `append` goes), raise
        AppendConflict when another writer owns the id. While the id is still free the same entry is
        put again, so that a put still on its way can only land what this one did. Raises CairnError
        when the store cannot tell yet.
        """
        for _ in range(SETTLE_ATTEMPTS):
            key = self.keys.journal_entry(self.incarnation, entry.entry_id)
            try:
                found = self._read(key, entry.entry_id, self.store.get(key))
            except ObjectNotFoundError:
                try:
                    self.store.put_if_absent(key, entry.to_bytes())
                except ObjectExistsError:
                    continue  # something landed meanwhile: read whose it is
                self.trusted = True
                return entry
            if found.op.get("kind") == "void_slot" and self.trusted:
                entry = entry.model_copy(update={"entry_id": entry.entry_id + 1})  # the same nonce: still ours
                continue
            if found.nonce != entry.nonce:
                raise AppendConflict(entry.entry_id)
            self.trusted = True
            return found
        raise JournalError(f"journal entry {entry.entry_id} of incarnation {self.incarnation} could not be "
                           f"settled: the store keeps changing its answer")
