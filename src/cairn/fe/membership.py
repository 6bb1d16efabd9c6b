"""Membership: this FE's view of its cluster's FEs — the member list the catalog holds (from the
journal), and what the latest heartbeat each way said of each member.

An FE is alive to this FE when a heartbeat with it succeeded within `timeout` seconds, measured on
this FE's own monotonic clock (no clock is compared across machines).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import FrontendNode
from cairn.fe.peers import FrontendStatus


@dataclass(frozen=True)
class MemberState:
    """One member FE as this FE sees it. `status` is None until a heartbeat with it succeeded;
    `last_heartbeat` is the wall time of that heartbeat (for SHOW FRONTENDS)."""

    node: FrontendNode
    status: FrontendStatus | None
    last_heartbeat: float | None
    alive: bool
    err_msg: str
    is_self: bool


@dataclass
class _Heard:
    status: FrontendStatus | None = None
    wall: float | None = None
    monotonic: float | None = None
    err_msg: str = ""


class Membership:
    """The members and their heartbeat states. Thread-safe."""

    def __init__(self, catalog: Catalog, own_status: Callable[[], FrontendStatus], timeout: float) -> None:
        self.catalog = catalog
        self.own_status = own_status
        self.timeout = timeout
        self._heard: dict[str, _Heard] = {}
        self._lock = threading.Lock()

    def nodes(self) -> list[FrontendNode]:
        """The members the catalog lists."""
        with self.catalog.lock:
            return list(self.catalog.state.frontends)

    def node(self, address: str) -> FrontendNode | None:
        """The member at `host:edit_log_port`, or None when there is none."""
        return next((n for n in self.nodes() if n.address == address), None)

    def record(self, status: FrontendStatus) -> None:
        """A heartbeat with the FE of `status` succeeded (either way)."""
        with self._lock:
            self._heard[status.address] = _Heard(status, time.time(), time.monotonic(), "")

    def record_failure(self, address: str, err_msg: str) -> None:
        """A heartbeat to `address` failed; its last good status is kept."""
        with self._lock:
            self._heard.setdefault(address, _Heard()).err_msg = err_msg

    def heard(self, address: str) -> FrontendStatus | None:
        """The newest status `address` sent, if it is alive."""
        found = self.heard_with_time(address)
        return None if found is None else found[0]

    def heard_with_time(self, address: str) -> tuple[FrontendStatus, float] | None:
        """`heard`, with the monotonic time of the heartbeat that brought that status."""
        with self._lock:
            heard = self._heard.get(address)
            if heard is None or heard.status is None or heard.monotonic is None \
                    or time.monotonic() - heard.monotonic > self.timeout:
                return None
            return heard.status, heard.monotonic

    def seconds_since_heard(self, address: str) -> float | None:
        """Seconds since the last successful heartbeat with `address` (None: never)."""
        with self._lock:
            heard = self._heard.get(address)
            return None if heard is None or heard.monotonic is None else time.monotonic() - heard.monotonic

    def members(self) -> list[MemberState]:
        """Every member, this FE included (its status is its own, always alive)."""
        own = self.own_status()
        states = []
        for node in self.nodes():
            if node.address == own.address:
                states.append(MemberState(node, own, time.time(), True, "", True))
                continue
            with self._lock:
                heard = self._heard.get(node.address, _Heard())
            alive = heard.monotonic is not None and time.monotonic() - heard.monotonic <= self.timeout
            states.append(MemberState(node, heard.status, heard.wall, alive, "" if alive else heard.err_msg, False))
        return states
