"""When a follower tries to take the lead: once the leader has been silent for
`bdbje_heartbeat_timeout_second`, counted from the last heartbeat that succeeded with it (not from
when that heartbeat expired, which would double the failover time). The follower's heartbeat tick
runs on a stepped clock, so nothing here depends on real time."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import cairn.fe.leadership
import cairn.fe.membership
from cairn.api import load_config
from cairn.catalog.catalog import Catalog
from cairn.catalog.model import CatalogState, FrontendNode
from cairn.fe.leadership import Leadership
from cairn.fe.membership import Membership
from cairn.fe.peers import FrontendRole, FrontendStatus
from cairn.journal.position import JournalPosition

TIMEOUT = 5.0
LEADER, FOLLOWER = "127.0.0.1:9010", "127.0.0.1:9011"


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Committer:
    """The journal side of a follower: it wins every attempt to lead, and says when it tried."""

    def __init__(self, catalog: Catalog, clock: _Clock) -> None:
        self.catalog = catalog
        self.clock = clock
        self.position = JournalPosition(1, 10)
        self.is_leader = False
        self.attempts: list[float] = []

    def try_lead(self, address: str, silent_epoch: int) -> bool:
        self.attempts.append(self.clock.now)
        self.is_leader = True
        return True

    def confirm_leadership(self) -> bool:
        return True


def _leader_status() -> FrontendStatus:
    return FrontendStatus(name="fe-0", host="127.0.0.1", edit_log_port=9010, http_port=8030, query_port=9030,
                          rpc_port=9020, role=FrontendRole.LEADER, cluster_id="c", incarnation=1, epoch=1,
                          replayed_journal_id=10, start_time=0.0, version="test", ready=True)


@pytest.fixture
def follower(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Leadership, Membership, _Committer, _Clock]:
    clock = _Clock()
    stepped = SimpleNamespace(monotonic=clock, time=time.time)
    monkeypatch.setattr(cairn.fe.leadership, "time", stepped)
    monkeypatch.setattr(cairn.fe.membership, "time", stepped)
    catalog = Catalog(CatalogState(cluster_id="c", epoch=1, leader_address=LEADER, frontends=[
        FrontendNode(host="127.0.0.1", edit_log_port=9010), FrontendNode(host="127.0.0.1", edit_log_port=9011)]))
    membership = Membership(catalog, _leader_status, TIMEOUT)
    committer = _Committer(catalog, clock)
    config = load_config(None, meta_dir=str(tmp_path / "meta"), bdbje_heartbeat_timeout_second=str(TIMEOUT))
    leadership = Leadership(committer, membership, None, config, FOLLOWER, on_lead=lambda: None)  # type: ignore[arg-type]
    leadership.start_following()
    return leadership, membership, committer, clock


def test_a_follower_tries_to_lead_once_the_leader_was_silent_for_the_timeout(follower) -> None:
    leadership, membership, committer, clock = follower
    for _ in range(20):  # the leader heartbeats every second: nobody tries to lead
        membership.record(_leader_status())
        clock.now += 1
        leadership.heartbeat_tick()
    assert committer.attempts == []
    membership.record(_leader_status())  # the leader's last heartbeat; then it dies
    last_heard = clock.now
    tick = 0.5
    for _ in range(4 * int(TIMEOUT)):
        clock.now += tick
        leadership.heartbeat_tick()
    assert len(committer.attempts) == 1
    assert last_heard + TIMEOUT <= committer.attempts[0] <= last_heard + TIMEOUT + tick, "one tick after the timeout"
    assert leadership.role is FrontendRole.LEADER
