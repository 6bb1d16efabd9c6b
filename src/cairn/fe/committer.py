"""JournalCommitter: an FE's hold on its cluster's journal — loading the catalog from the newest
image and the log, taking the lead with an `epoch_start` entry, committing ops as entries, and
writing checkpoint images (DESIGN invariants 2, 3 and 4).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import CatalogState
from cairn.catalog.ops import EpochStart, Op, parse_op
from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError, NotLeaderError, StorageError
from cairn.journal.entry import JournalEntry
from cairn.journal.image import CheckpointImage, load_newest_image, make_image, write_image
from cairn.journal.incarnation import read_incarnation
from cairn.journal.log import AppendConflict, Journal
from cairn.journal.position import JournalPosition
from cairn.journal.signed import Authenticity
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore

log = logging.getLogger(__name__)

# How long a starting FE keeps trying to append its epoch start while others append.
LEADERSHIP_SECONDS = 30.0


class _NothingToCommit(Exception):
    """Raised inside a commit when the statement turns out to change nothing."""


class JournalCommitter:
    """Commits catalog ops for one FE. `load` it, then `become_leader` before the first commit."""

    def __init__(self, config: FeConfig, name: str, meta_store: ObjectStore, keys: ClusterKeys) -> None:
        self.config = config
        self.name = name
        self.meta_store = meta_store
        self.keys = keys
        self.catalog: Catalog
        self.journal: Journal
        self.position: JournalPosition
        self.is_leader = False
        self.not_leader_reason = ""
        self.on_commit: list[Callable[[JournalEntry, Op], None]] = []
        self._commit_lock = threading.Lock()
        self._last_image_position: JournalPosition | None = None
        self._last_image_time = time.monotonic()

    # -- loading and leadership -------------------------------------------------------------

    def load(self, incarnation: int, until: int | None = None) -> None:
        """Load incarnation's newest image (at or before `until`) and replay its log after it."""
        record = read_incarnation(self.meta_store, self.keys, incarnation)
        self.journal = Journal(self.meta_store, self.keys, incarnation)
        image = load_newest_image(self.meta_store, self.keys, incarnation, until)
        if image is not None:
            state = CatalogState.model_validate(image.catalog)
            self.position = image.position
            self._last_image_position = image.position
            self.journal.trusted = image.authenticity is Authenticity.AUTHENTIC
        else:
            state = CatalogState(cluster_id=self.keys.cluster_id)
            self.position = JournalPosition(incarnation, record.first_entry_id - 1)
        self.catalog = Catalog(state)
        replayed = self.catch_up(until)
        log.info("loaded cluster %s incarnation %d at journal id %d (%d entries replayed)",
                 self.keys.cluster_id, incarnation, self.position.entry_id, replayed)

    def catch_up(self, until: int | None = None) -> int:
        """Apply the log entries after the current position; return how many were applied."""
        entries = self.journal.read_after(self.position.entry_id, until)
        for entry in entries:
            self.catalog.apply(parse_op(entry.op), entry.timestamp)
            self.position = JournalPosition(entry.incarnation, entry.entry_id)
        return len(entries)

    def become_leader(self) -> None:
        """Append an `epoch_start` right after the newest entry. Only listing the log between
        attempts (not reading and replaying it, which lets a busy leader stay ahead for ever) gives a
        new FE a fair chance against one that keeps committing; the entries it skipped are replayed
        after it has won. Raises NotLeaderError if the log was superseded or stayed contended."""
        deadline = time.monotonic() + LEADERSHIP_SECONDS
        target = self.position.entry_id + 1
        while True:
            if self.catalog.state.superseded_by is not None:
                raise NotLeaderError(
                    f"incarnation {self.journal.incarnation} was superseded by incarnation "
                    f"{self.catalog.state.superseded_by}")
            # Each skipped id holds at most one other epoch start, so this epoch is above all of theirs.
            op = EpochStart(epoch=self.catalog.state.epoch + target - self.position.entry_id, leader=self.name)
            try:
                entry = self.journal.append(target, self.catalog.state.epoch, op.to_dict())
            except StorageError:
                try:
                    entry = self._settle_uncertain_append(target, op)
                except AppendConflict:
                    target = self._contended(target, deadline)
                    continue
            except AppendConflict:
                target = self._contended(target, deadline)
                continue
            break
        self.catch_up(until=target - 1)
        if self.catalog.state.superseded_by is not None:
            raise NotLeaderError(
                f"incarnation {self.journal.incarnation} was superseded by incarnation "
                f"{self.catalog.state.superseded_by}")
        self.catalog.apply(op, entry.timestamp)
        self.position = JournalPosition(entry.incarnation, entry.entry_id)
        self.is_leader = True
        log.info("FE %s leads cluster %s (epoch %d)", self.name, self.keys.cluster_id, self.catalog.state.epoch)

    def _contended(self, taken: int, deadline: float) -> int:
        """Another FE took id `taken`: return the id after the newest entry listed."""
        if time.monotonic() > deadline:
            raise NotLeaderError(f"could not take the journal in {LEADERSHIP_SECONDS:.0f} s: "
                                 "other FEs kept appending")
        return self.journal.newest_id(taken) + 1

    # -- commits ----------------------------------------------------------------------------

    def commit(self, build: Callable[[Catalog], Op]) -> JournalEntry:
        """Build an op against the current catalog and make it durable as one journal entry.

        `build` runs under the commit lock, so what it validates cannot change before the append.
        Raises NotLeaderError if this FE has been deposed (now or earlier).
        """
        with self._commit_lock:
            if not self.is_leader:
                raise NotLeaderError(self.not_leader_reason or "This FE is not the leader")
            op = build(self.catalog)
            try:
                entry = self._append(op)
            except AppendConflict as conflict:
                self._step_down(conflict.entry_id)
                raise NotLeaderError(self.not_leader_reason) from None
        for listener in self.on_commit:
            listener(entry, op)
        if self.checkpoint_due():
            self.checkpoint()
        return entry

    def commit_if(self, build: Callable[[Catalog], Op | None]) -> JournalEntry | None:
        """Like `commit`, but `build` may return None to say there is nothing to do (IF [NOT] EXISTS)."""

        def build_or_skip(catalog: Catalog) -> Op:
            op = build(catalog)
            if op is None:
                raise _NothingToCommit
            return op

        try:
            return self.commit(build_or_skip)
        except _NothingToCommit:
            return None

    def _append(self, op: Op) -> JournalEntry:
        entry_id = self.position.entry_id + 1
        try:
            entry = self.journal.append(entry_id, self.catalog.state.epoch, op.to_dict())
        except StorageError:
            entry = self._settle_uncertain_append(entry_id, op)
        self.catalog.apply(op, entry.timestamp)
        self.position = JournalPosition(entry.incarnation, entry.entry_id)
        return entry

    def _settle_uncertain_append(self, entry_id: int, op: Op) -> JournalEntry:
        """A put that failed may still have landed: look, so that the log decides, not the error."""
        key = self.keys.journal_entry(self.journal.incarnation, entry_id)
        try:
            data = self.meta_store.get(key)
        except CairnError:
            raise
        entry = JournalEntry.from_bytes(data, key)
        if entry.op == op.to_dict() and entry.epoch == self.catalog.state.epoch:
            return entry
        raise AppendConflict(entry_id)

    def _step_down(self, entry_id: int) -> None:
        self.is_leader = False
        try:
            self.catch_up()
        except CairnError as exc:
            log.warning("stepping down: could not re-read the journal: %s", exc)
        state = self.catalog.state
        if state.superseded_by is not None:
            self.not_leader_reason = (
                f"This FE's cluster incarnation {self.journal.incarnation} was superseded by incarnation "
                f"{state.superseded_by} (a cluster restore); it no longer accepts writes")
        else:
            self.not_leader_reason = (
                f"This FE is no longer the leader: {state.leader or 'another FE'} took journal entry "
                f"{entry_id} (epoch {state.epoch})")
        log.error("%s", self.not_leader_reason)

    # -- checkpoints --------------------------------------------------------------------------

    def checkpoint_due(self) -> bool:
        """True when enough entries or enough time passed since the last image."""
        last = self._last_image_position.entry_id if self._last_image_position else 0
        if self.position.entry_id - last >= self.config.checkpoint_interval_entries:
            return True
        return (self.position.entry_id > last and
                time.monotonic() - self._last_image_time >= self.config.checkpoint_interval_seconds)

    def capture_image(self, while_locked: Callable[[CheckpointImage], None] | None = None) -> CheckpointImage:
        """The whole catalog at the current position, as a checkpoint image. `while_locked` runs
        before any other commit can happen (so a caller can publish what the image pins)."""
        with self._commit_lock, self.catalog.lock:
            image = make_image(self.keys.cluster_id, self.position, self.catalog.state.model_dump(mode="json"))
            if while_locked is not None:
                while_locked(image)
            return image

    def checkpoint(self) -> JournalPosition:
        """Write a checkpoint image of the current catalog; return its position."""
        image = self.capture_image()
        if write_image(self.meta_store, self.keys.image(image.position), image):
            log.info("wrote checkpoint image at journal id %d", image.entry_id)
        self._last_image_position = image.position
        self._last_image_time = time.monotonic()
        return image.position

    def checkpoint_if_due(self) -> None:
        """The scheduler's checkpoint tick: write an image when this FE leads and one is due."""
        if self.is_leader and self.checkpoint_due():
            self.checkpoint()
