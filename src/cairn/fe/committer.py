"""JournalCommitter: an FE's hold on its cluster's journal — loading the catalog from the newest
image and the log, taking the lead with an `epoch_start` entry, committing ops as entries, and
writing checkpoint images (DESIGN invariants 2, 3 and 4).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import CatalogState
from cairn.catalog.ops import EpochStart, Op, parse_op
from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError, CommitOutcomeUnknownError, NotLeaderError, StorageUnavailableError
from cairn.journal.entry import JournalEntry
from cairn.journal.epochs import claim_next_epoch, newer_epoch
from cairn.journal.image import CheckpointImage, list_images, load_newest_image, make_image, write_image
from cairn.journal.incarnation import read_incarnation
from cairn.journal.log import AppendConflict, Journal, UncertainAppend
from cairn.journal.position import JournalPosition
from cairn.journal.signed import Authenticity
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore

log = logging.getLogger(__name__)

# How long a starting FE keeps trying to append its epoch start while others append.
LEADERSHIP_SECONDS = 30.0


class _NothingToCommit(Exception):
    """Raised inside a commit when the statement turns out to change nothing."""


@dataclass
class _Unsettled:
    """A commit whose entry was put but not yet confirmed: `landed` once the log shows it there."""

    entry: JournalEntry
    op: Op
    landed: bool


class JournalCommitter:
    """Commits catalog ops for one FE. `load` it, then `become_leader` before the first commit."""

    def __init__(self, config: FeConfig, name: str, meta_store: ObjectStore, keys: ClusterKeys) -> None:
        self.config = config
        self.name = name
        self.meta_store = meta_store
        self.keys = keys
        # One Catalog object for the FE's life: services hold it; a reload replaces its state.
        self.catalog = Catalog(CatalogState(cluster_id=keys.cluster_id))
        self.journal: Journal
        self.position: JournalPosition
        self.is_leader = False
        self.not_leader_reason = ""
        self.on_commit: list[Callable[[JournalEntry, Op], None]] = []
        self._commit_lock = threading.Lock()
        # Replay (a follower's, or a read waiting for its own write) runs one at a time.
        self._replay_lock = threading.RLock()
        self._unsettled: _Unsettled | None = None
        self._last_image_position: JournalPosition | None = None
        self._last_image_time = time.monotonic()

    # -- loading and leadership -------------------------------------------------------------

    def load(self, incarnation: int, until: int | None = None) -> None:
        """Load incarnation's newest image (at or before `until`) and replay its log after it. Called
        again (by a follower that stepped down, or whose incarnation a restore superseded), it drops
        the catalog in memory and loads afresh."""
        with self._commit_lock, self._replay_lock:
            self.is_leader = False
            record = read_incarnation(self.meta_store, self.keys, incarnation)
            journal = Journal(self.meta_store, self.keys, incarnation)
            image = load_newest_image(self.meta_store, self.keys, incarnation, until)
            if image is not None:
                state = CatalogState.model_validate(image.catalog)
                self.position = image.position
                self._last_image_position = image.position
                journal.trusted = image.authenticity is Authenticity.AUTHENTIC
            else:
                state = CatalogState(cluster_id=self.keys.cluster_id)
                self.position = JournalPosition(incarnation, record.first_entry_id - 1)
                self._last_image_position = None
            self.journal = journal
            self.catalog.replace(state)
            replayed = self.catch_up(until)
        log.info("loaded cluster %s incarnation %d at journal id %d (%d entries replayed)",
                 self.keys.cluster_id, incarnation, self.position.entry_id, replayed)

    def catch_up(self, until: int | None = None) -> int:
        """Apply the log entries after the current position; return how many were applied."""
        with self._replay_lock:
            entries = self.journal.read_after(self.position.entry_id, until)
            for entry in entries:
                self.catalog.apply(parse_op(entry.op), entry.timestamp)
                self.position = JournalPosition(entry.incarnation, entry.entry_id)
            return len(entries)

    def try_lead(self, address: str, silent_epoch: int) -> bool:
        """One attempt to take the log, by a follower whose leader (of `silent_epoch`) went silent:
        claim an epoch, then append its `epoch_start` right after the newest entry. True when this FE
        now leads; False when another FE took the lead first: it appended first, or the log already
        holds an epoch above `silent_epoch` (a new leader started while this FE waited; deposing it
        at once would only cost another failover). This FE has then replayed what the other appended.
        Raises NotLeaderError when the incarnation was superseded, CairnError when the store fails."""
        with self._commit_lock, self._replay_lock:
            self.catch_up()
            if self.catalog.state.superseded_by is not None:
                raise NotLeaderError(f"incarnation {self.journal.incarnation} was superseded by incarnation "
                                     f"{self.catalog.state.superseded_by}")
            if self.catalog.state.epoch > silent_epoch:
                return False
            target = self.position.entry_id + 1
            epoch = claim_next_epoch(self.meta_store, self.keys, self.journal.incarnation,
                                     self.catalog.state.epoch + 1, self.name)
            op = EpochStart(epoch=epoch, leader=self.name, address=address)
            try:
                entry = self._append_settled(target, op)
            except AppendConflict:
                self.catch_up()
                return False
            self._lead_from(entry, op)
            return True

    def _lead_from(self, entry: JournalEntry, op: EpochStart) -> None:
        self.catalog.apply(op, entry.timestamp)
        self.position = JournalPosition(entry.incarnation, entry.entry_id)
        self.is_leader = True
        self.not_leader_reason = ""
        log.info("FE %s leads cluster %s (epoch %d)", self.name, self.keys.cluster_id, self.catalog.state.epoch)

    def confirm_leadership(self) -> bool:
        """The leader's periodic check, so that a deposed leader learns it lost without committing:
        True while no newer leader has taken the log; otherwise this FE steps down (False)."""
        with self._commit_lock:
            if not self.is_leader:
                return False
            epoch = self.catalog.state.epoch
            newer = newer_epoch(self.meta_store, self.keys, self.journal.incarnation, epoch)
            if newer is not None and self._overtaken(self.position.entry_id, self.position.entry_id + 1):
                self._step_down(self.position.entry_id, self._newer_reason(newer, epoch))
            return self.is_leader

    def _newer_reason(self, newer: tuple[int, int], epoch: int) -> str:
        if newer[0] > self.journal.incarnation:
            return (f"its cluster incarnation {self.journal.incarnation} was superseded by incarnation {newer[0]} "
                    "(a cluster restore)")
        return f"epoch {newer[1]} of incarnation {newer[0]} was taken by a newer leader after this FE's epoch {epoch}"

    def _overtaken(self, entry_id: int, images_from: int) -> bool:
        """True when the log holds an entry after `entry_id` (this FE's newest), or another leader's
        image at or past `images_from`: a newer leader built on the log beyond this FE's newest entry,
        which may then not be part of the history. An epoch record above this FE's, with neither, is
        a claim that has not taken the log (yet): if it does, it appends after `entry_id`, so that
        entry stays in the history."""
        if self.journal.newest_id(entry_id) > entry_id:
            return True
        return any(info.position.entry_id >= images_from
                   for info in list_images(self.meta_store, self.keys, self.journal.incarnation))

    def become_leader(self, address: str = "") -> None:
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
            # Each skipped id holds at most one other epoch start, so this epoch is above all of theirs;
            # it is also above every epoch record, so no earlier claim can depose this FE later.
            epoch = claim_next_epoch(self.meta_store, self.keys, self.journal.incarnation,
                                     self.catalog.state.epoch + target - self.position.entry_id, self.name)
            op = EpochStart(epoch=epoch, leader=self.name, address=address)
            try:
                entry = self._append_settled(target, op)
            except AppendConflict:
                target = self._contended(target, deadline)
                continue
            break
        self.catch_up(until=target - 1)
        if self.catalog.state.superseded_by is not None:
            raise NotLeaderError(
                f"incarnation {self.journal.incarnation} was superseded by incarnation "
                f"{self.catalog.state.superseded_by}")
        self._lead_from(entry, op)

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
        Raises NotLeaderError if this FE has been deposed (now or earlier), CommitOutcomeUnknownError
        when the append could not be confirmed (the FE learns its outcome before its next commit), and
        StorageUnavailableError, having committed nothing, while an earlier outcome is still unknown.
        """
        settled: list[tuple[JournalEntry, Op]] = []
        try:
            with self._commit_lock:
                if not self.is_leader:
                    raise NotLeaderError(self.not_leader_reason or "This FE is not the leader")
                self._settle_earlier(settled)
                op = build(self.catalog)
                self._append_confirmed(op, settled)
        finally:
            self._notify(settled)
        if self.checkpoint_due():
            self.checkpoint()
        return settled[-1][0]

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

    def settle_unknown_outcome(self) -> None:
        """Learn the outcome of a commit whose append was not confirmed, if there is one and the store
        answers now (the checkpoint tick calls this, so the catalog catches up without a new commit)."""
        settled: list[tuple[JournalEntry, Op]] = []
        with self._commit_lock:
            if self._unsettled is None or not self.is_leader:
                return
            try:
                settled.append(self._settle())
            except (NotLeaderError, CommitOutcomeUnknownError):
                pass  # stepped down; the reason is logged
            except CairnError as exc:
                log.warning("the outcome of journal entry %d is still unknown: %s", self._unsettled.entry.entry_id,
                            exc)
        self._notify(settled)

    def settle_before_read(self) -> None:
        """Let a statement read only once no commit's outcome is unknown on this leader.

        An unsettled commit may be in the log already: a read of the catalog without it, followed
        by the settle that applies it, would show a change appear after a reader saw it absent
        (and a client checking whether its unknown write landed would wrongly retry it). So a read
        first settles; raises StorageUnavailableError while the store still cannot tell.
        """
        if self._unsettled is None:
            return
        self.settle_unknown_outcome()
        unsettled = self._unsettled
        if unsettled is not None and self.is_leader:
            raise StorageUnavailableError(
                f"The outcome of an earlier commit (journal entry {unsettled.entry.entry_id}) is not known yet "
                "and object storage does not answer; this FE answers statements again once it is known")

    def _append_confirmed(self, op: Op, settled: list[tuple[JournalEntry, Op]]) -> None:
        try:
            entry = self.journal.append(self.position.entry_id + 1, self.catalog.state.epoch, op.to_dict())
        except AppendConflict as conflict:
            self._step_down(conflict.entry_id)
            raise NotLeaderError(self.not_leader_reason) from None
        except UncertainAppend as uncertain:
            self._unsettled = _Unsettled(uncertain.entry, op, landed=False)
        else:
            self._unsettled = _Unsettled(entry, op, landed=True)
        try:
            settled.append(self._settle())
        except (NotLeaderError, CommitOutcomeUnknownError):
            raise
        except CairnError as exc:
            raise CommitOutcomeUnknownError(
                f"The commit may or may not have been applied: {exc}. This FE learns its outcome from the "
                "journal before its next commit; check before running the statement again") from None

    def _settle_earlier(self, settled: list[tuple[JournalEntry, Op]]) -> None:
        """Before a new commit: learn the outcome of an earlier one that is still unknown."""
        if self._unsettled is None:
            return
        pending = self._unsettled.entry.entry_id
        try:
            settled.append(self._settle())
        except CommitOutcomeUnknownError:
            raise NotLeaderError(self.not_leader_reason) from None
        except NotLeaderError:
            raise
        except CairnError as exc:
            raise StorageUnavailableError(
                f"Nothing was committed: the outcome of an earlier commit (journal entry {pending}) is not known "
                f"yet, and object storage still does not answer: {exc}") from None

    def _settle(self) -> tuple[JournalEntry, Op]:
        """Confirm the unsettled commit: its entry is in the log (put again if its id is still free)
        and this FE's epoch is still the newest (a deleted id can be created again: the put alone
        proves nothing); then apply it. Raises NotLeaderError when another writer owns the id,
        CommitOutcomeUnknownError when a newer epoch exists (this FE steps down), and CairnError,
        leaving it unsettled, when the store cannot tell yet."""
        unsettled = self._unsettled
        assert unsettled is not None
        if not unsettled.landed:
            try:
                unsettled.entry = self.journal.settle(unsettled.entry)
            except AppendConflict as conflict:
                self._unsettled = None
                self._step_down(conflict.entry_id)
                raise NotLeaderError(self.not_leader_reason) from None
            unsettled.landed = True
        entry, epoch = unsettled.entry, self.catalog.state.epoch
        newer = newer_epoch(self.meta_store, self.keys, self.journal.incarnation, epoch)
        if newer is not None and not self._overtaken(entry.entry_id, entry.entry_id):
            newer = None
        self._unsettled = None
        if newer is not None:
            self._step_down(entry.entry_id, self._newer_reason(newer, epoch))
            raise CommitOutcomeUnknownError(
                f"The commit may or may not have been applied (journal entry {entry.entry_id}): "
                f"{self.not_leader_reason}")
        self.catalog.apply(unsettled.op, entry.timestamp)
        self.position = JournalPosition(entry.incarnation, entry.entry_id)
        return entry, unsettled.op

    def _notify(self, settled: list[tuple[JournalEntry, Op]]) -> None:
        for entry, op in settled:
            for listener in self.on_commit:
                listener(entry, op)

    def _append_settled(self, entry_id: int, op: Op) -> JournalEntry:
        """Append `op` at `entry_id`, learning the outcome from the log when the put does not say.
        Raises AppendConflict when another writer owns the id, CairnError when the store cannot tell."""
        try:
            return self.journal.append(entry_id, self.catalog.state.epoch, op.to_dict())
        except UncertainAppend as uncertain:
            return self.journal.settle(uncertain.entry)

    def _step_down(self, entry_id: int, newer: str = "") -> None:
        self.is_leader = False
        try:
            # Deposed by a newer epoch, this FE's own entry may sit at an id a cleanup had deleted:
            # replaying the log from here would show a change that is not part of the history.
            if not newer:
                self.catch_up()
        except CairnError as exc:
            log.warning("stepping down: could not re-read the journal: %s", exc)
        state = self.catalog.state
        if state.superseded_by is not None:
            self.not_leader_reason = (
                f"This FE's cluster incarnation {self.journal.incarnation} was superseded by incarnation "
                f"{state.superseded_by} (a cluster restore); it no longer accepts writes")
        elif newer:
            self.not_leader_reason = f"This FE is no longer the leader: {newer}"
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
        """The scheduler's checkpoint tick: settle an unknown commit outcome when the store answers
        again, then write an image when this FE leads and one is due."""
        self.settle_unknown_outcome()
        if self.is_leader and self.checkpoint_due():
            self.checkpoint()
