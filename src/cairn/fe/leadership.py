"""Leadership: this FE's part in choosing who leads, and what it does in each role.

- A LEADER checks each heartbeat tick that no newer leader has taken the log (a paused old leader
  learns that it lost without committing), and steps down to follow when it has.
- A FOLLOWER or OBSERVER replays the journal from object storage every `REPLAY_SECONDS`, so it
  serves reads on a current catalog, and notices when a restore superseded its incarnation.
- A FOLLOWER that has heard nothing from a leader for `bdbje_heartbeat_timeout_second` tries to take
  the lead (`JournalCommitter.try_lead`). Followers that replayed more, then the lower address, try
  first; the others wait a heartbeat interval per rank, so that they rarely contend. A new epoch
  start replayed from the log counts as hearing from its leader, and a follower that finds one when
  it tries gives way, so that a leader that just took over is not deposed by a slower rival.

Liveness only decides who tries, and when: whoever tries, the journal's conditional appends and
epoch records decide who leads (DESIGN invariant 2), so a wrong guess costs time, never data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError
from cairn.fe.committer import JournalCommitter
from cairn.fe.membership import Membership
from cairn.fe.peers import FrontendRole, FrontendStatus
from cairn.journal.incarnation import choose_incarnation

log = logging.getLogger(__name__)

# How often a follower lists the journal for new entries.
REPLAY_SECONDS = 0.25


def heartbeat_seconds(config: FeConfig) -> float:
    """FEs heartbeat each other five times per leader timeout, at most once a second."""
    return min(1.0, config.bdbje_heartbeat_timeout_second / 5)


def heartbeat_call_seconds(config: FeConfig) -> float:
    """How long one heartbeat call may wait for its answer: half the leader timeout. A tick waits
    for every peer's answer, so a peer that accepts connections but never answers (a paused process)
    must not hold it long enough for a leader that did answer to look silent."""
    return config.bdbje_heartbeat_timeout_second / 2


class HeartbeatSender(Protocol):
    """Sends this FE's status to a peer and returns the peer's (the FE peer service's client)."""

    def heartbeat(self, address: str, mine: FrontendStatus, timeout: float | None = None) -> FrontendStatus: ...


class Leadership:
    """Runs this FE's role. `start_following` or `lead_at_once` once, then the scheduler calls
    `replay_tick` and `heartbeat_tick`."""

    def __init__(self, committer: JournalCommitter, membership: Membership, peers: HeartbeatSender | None,
                 config: FeConfig, address: str, on_lead: Callable[[], None]) -> None:
        self.committer = committer
        self.membership = membership
        self.peers = peers
        self.config = config
        self.address = address
        self.on_lead = on_lead
        self._lead_work_done = True
        self.role = FrontendRole.FOLLOWER
        # Why this FE serves nothing (not a member of its cluster's current incarnation), if it does not.
        self.excluded = ""
        self._leader_heard_at = time.monotonic()
        # The newest epoch this follower knew of when it last heard from a leader: a newer epoch
        # start in the log is a new leader's first sign of life.
        self._heard_epoch = committer.catalog.state.epoch
        self._caught_up_at = time.monotonic()
        self._needs_reload = False
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fe-heartbeat")

    # -- roles ------------------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self.committer.is_leader

    def member_role(self) -> FrontendRole:
        """FOLLOWER or OBSERVER, as the membership lists this FE (FOLLOWER when it lists no one)."""
        node = self.membership.node(self.address)
        return FrontendRole.OBSERVER if node is not None and node.type == "observer" else FrontendRole.FOLLOWER

    def lead_at_once(self) -> None:
        """Take the log now (a new cluster, its only member, or the FE that restored it); raises
        NotLeaderError when it cannot."""
        self.committer.become_leader(self.address)
        self._became_leader()

    def start_following(self) -> None:
        self.role = self.member_role()
        self._leader_heard_at = time.monotonic()
        self._heard_epoch = self.committer.catalog.state.epoch
        self._caught_up_at = time.monotonic()
        log.info("FE %s follows (role %s); leader: %s", self.address, self.role.value,
                 self.committer.catalog.state.leader_address or "unknown")

    def _became_leader(self) -> None:
        self.role = FrontendRole.LEADER
        self._lead_work_done = False
        self._do_lead_work()

    def _do_lead_work(self) -> None:
        """A new leader's first work (`on_lead`); what a store fault cut short is done again at the
        next heartbeat tick (each step is idempotent), so a leader never serves without it, e.g.
        without the builtin storage volume its fe.conf names."""
        try:
            self.on_lead()
        except CairnError as exc:
            log.error("taking the lead: %s (trying again)", exc)
            return
        self._lead_work_done = True

    def _stepped_down(self) -> None:
        log.warning("FE %s no longer leads: %s", self.address, self.committer.not_leader_reason)
        self._needs_reload = True
        self.start_following()
        self._reload()

    def _reload(self) -> None:
        """Load the catalog afresh: the newest incarnation, its newest image, and the log after it."""
        try:
            self.committer.load(choose_incarnation(self.committer.meta_store, self.committer.keys))
        except CairnError as exc:
            log.warning("reloading the catalog: %s (trying again)", exc)
            return
        self._needs_reload = False
        self._caught_up_at = time.monotonic()
        self._check_membership()

    def _check_membership(self) -> None:
        nodes = self.membership.nodes()
        if nodes and self.membership.node(self.address) is None:
            excluded = (f"This FE ({self.address}) is not a member of cluster {self.committer.keys.cluster_id} "
                        f"(its FEs: {', '.join(n.address for n in nodes)}): it was dropped, or a restore listed "
                        "other FEs")
            if excluded != self.excluded:  # said once, not on every replay tick
                log.error("%s", excluded)
            self.excluded = excluded
        else:
            self.excluded = ""
            if not self.is_leader:
                self.role = self.member_role()

    # -- replay -------------------------------------------------------------------------------------

    def replay_lag_seconds(self) -> float:
        """Seconds since this follower last saw the end of the journal (0 while it leads)."""
        return 0.0 if self.is_leader else time.monotonic() - self._caught_up_at

    def replay_tick(self) -> None:
        """A follower's replay: apply new entries; reload on a new incarnation or after stepping down."""
        if self.is_leader or self.role is FrontendRole.LEADER:
            return  # leading, or deposed and about to reload (the log after this FE may not be its history)
        if self._needs_reload:
            self._reload()
            return
        self.committer.catch_up()
        self._caught_up_at = time.monotonic()
        superseded = self.committer.catalog.state.superseded_by
        if superseded is not None:
            log.warning("incarnation %d was superseded by incarnation %d (a restore): rejoining it",
                        self.committer.position.incarnation, superseded)
            self._reload()
            return
        self._check_membership()

    def wait_replayed(self, incarnation: int, entry_id: int, timeout: float) -> bool:
        """Replay until this FE has applied `entry_id` of `incarnation` (a session reading its own
        forwarded write); False when that did not happen within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            position = self.committer.position
            if (position.incarnation, position.entry_id) >= (incarnation, entry_id):
                return True
            if time.monotonic() > deadline:
                return False
            try:
                self.committer.catch_up()
            except CairnError as exc:
                log.warning("replaying to journal id %d: %s", entry_id, exc)
            if self.committer.position == position:
                time.sleep(REPLAY_SECONDS / 5)  # the entry is acknowledged, its listing may lag

    # -- heartbeats and elections -------------------------------------------------------------------

    def heartbeat_tick(self) -> None:
        """Heartbeat every other member; then, as leader, confirm the lead, or, as follower, elect
        when the leader stayed silent for the timeout."""
        with self._lock:
            self._heartbeat_peers()
            if self.role is FrontendRole.LEADER:
                if not self.committer.confirm_leadership():
                    self._stepped_down()
                elif not self._lead_work_done:
                    self._do_lead_work()
                return
            heard = self._leader_last_heard()
            if heard is not None:
                self._leader_heard_at = max(self._leader_heard_at, heard)
            epoch = self.committer.catalog.state.epoch
            if epoch > self._heard_epoch:  # a new leader's epoch start, replayed: its first sign of life
                self._leader_heard_at = time.monotonic()
                self._heard_epoch = epoch
            if self.role is FrontendRole.OBSERVER or self.excluded or self._needs_reload:
                return
            silent = time.monotonic() - self._leader_heard_at
            if silent < self.config.bdbje_heartbeat_timeout_second + self._rank() * heartbeat_seconds(self.config):
                return
            self._elect(silent)

    def _heartbeat_peers(self) -> None:
        if self.peers is None:
            return
        peers = self.peers
        mine = self.membership.own_status()
        others = [n.address for n in self.membership.nodes() if n.address != self.address]

        def beat(address: str) -> None:
            try:
                self.membership.record(peers.heartbeat(address, mine, heartbeat_call_seconds(self.config)))
            except CairnError as exc:
                self.membership.record_failure(address, exc.message)

        for future in [self._pool.submit(beat, address) for address in others]:
            future.result()

    def _leader_last_heard(self) -> float | None:
        """When (on this FE's monotonic clock) a heartbeat last succeeded with the leader the log names,
        or with any FE of at least its epoch that said it leads; None when none did within the timeout.
        The silence before an election counts from that heartbeat, not from when it expired. Epochs
        count within one incarnation: an FE still leading the incarnation a restore superseded (until
        it learns so) leads nothing here, whatever its epoch."""
        mine = (self.committer.position.incarnation, self.committer.catalog.state.epoch)
        times = []
        for node in self.membership.nodes():
            heard = self.membership.heard_with_time(node.address)
            if heard is not None and heard[0].role is FrontendRole.LEADER and (
                    heard[0].incarnation, heard[0].epoch) >= mine:
                times.append(heard[1])
        return max(times, default=None)

    def leader_address(self) -> str:
        """Where the leader is, as far as this FE knows: an FE heard saying it leads (the newest epoch
        first), else the one the journal names; "" when none is known."""
        heard = [s for n in self.membership.nodes() if (s := self.membership.heard(n.address)) is not None
                 and s.role is FrontendRole.LEADER]
        if heard:
            return max(heard, key=lambda s: (s.incarnation, s.epoch)).address
        return self.committer.catalog.state.leader_address

    def _rank(self) -> int:
        """This FE's place among the followers that would try to lead: most replayed first."""
        mine = (-self.committer.position.entry_id, self.address)
        rivals = []
        for node in self.membership.nodes():
            status = self.membership.heard(node.address)
            if node.type == "follower" and node.address != self.address and status is not None:
                rivals.append((-status.replayed_journal_id, node.address))
        return sum(1 for rival in rivals if rival < mine)

    def _elect(self, silent: float) -> None:
        log.warning("no leader heard for %.1f s: FE %s tries to take the lead", silent, self.address)
        try:
            won = self.committer.try_lead(self.address, self._heard_epoch)
        except CairnError as exc:
            log.warning("taking the lead failed: %s", exc)
            self._leader_heard_at = time.monotonic()
            return
        if won:
            self._became_leader()
        else:
            log.info("another FE took the lead first; FE %s follows it", self.address)
            self._leader_heard_at = time.monotonic()
            self._heard_epoch = self.committer.catalog.state.epoch

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
