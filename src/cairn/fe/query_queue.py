"""Admission control for the distributed engine's queries (StarRocks' query queue, v1, global).

At most `query_queue_concurrency_limit` queries run on the engine at once; the next ones wait in
arrival order for a slot, at most `query_queue_max_queued_queries` of them, each for at most
`query_queue_pending_timeout_second`, and fail with StarRocks' messages beyond that. A waiting query
shows IsPending in SHOW PROCESSLIST, and KILL or its client going away takes it out of the queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge

from cairn.config.fe_config import FeConfig
from cairn.errors import QueryInterruptedError, QueryQueueError
from cairn.query.context import CancelToken

# How often a waiting query looks at its cancel token.
CHECK_SECONDS = 0.2


class QueryQueue:
    """The slots of the distributed engine's queries on this FE (the one running the engine's head)."""

    def __init__(self, config: FeConfig, registry: CollectorRegistry) -> None:
        self.config = config
        self._cond = threading.Condition()
        self._running = 0
        self._waiting: list[object] = []
        self.pending = Gauge("cairn_query_queue_pending", "Distributed queries waiting in the query queue",
                             registry=registry)
        self.queued = Counter("cairn_query_queue_queued", "Distributed queries that waited in the query queue",
                              registry=registry)
        self.timeouts = Counter("cairn_query_queue_timeout", "Distributed queries that timed out in the query queue",
                                registry=registry)

    @property
    def limit(self) -> int:
        """Queries the engine runs at once (0: no limit, the queue is off)."""
        config = self.config
        return config.query_queue_concurrency_limit if config.enable_query_queue_select else 0

    @contextmanager
    def admitted(self, cancel: CancelToken) -> Iterator[None]:
        """Hold one slot while the block runs, waiting for it first when every slot is taken.
        Raises QueryQueueError when the queue is full or the wait times out, and
        QueryInterruptedError when `cancel` is cancelled while waiting."""
        limit = self.limit
        if limit <= 0:
            yield
            return
        self._take(limit, cancel)
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def _take(self, limit: int, cancel: CancelToken) -> None:
        config = self.config
        with self._cond:
            if self._running < limit and not self._waiting:
                self._running += 1
                return
            capacity = config.query_queue_max_queued_queries
            if capacity > 0 and len(self._waiting) >= capacity:
                raise QueryQueueError(
                    f"Failed to allocate resource to query: Resource is not enough and the number of pending "
                    f"queries exceeds capacity [{capacity}], you could modify the fe.conf setting "
                    "[query_queue_max_queued_queries] to make more query can be queued")
            me = object()
            self._waiting.append(me)
            self.queued.inc()
            self.pending.inc()
            cancel.queued = True
            timeout = config.query_queue_pending_timeout_second
            deadline = time.monotonic() + timeout
            try:
                while not (self._running < limit and self._waiting[0] is me):
                    if cancel.cancelled:
                        raise QueryInterruptedError(cancel.message)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self.timeouts.inc()
                        raise QueryQueueError(
                            f"Failed to allocate resource to query: pending timeout [{timeout}], you could modify "
                            "the fe.conf setting [query_queue_pending_timeout_second] to pending more time")
                    self._cond.wait(min(left, CHECK_SECONDS))
                self._running += 1
            finally:
                self._waiting.remove(me)
                self.pending.dec()
                cancel.queued = False
                self._cond.notify_all()
