"""Forwarding a write from an FE that does not lead to the one that does (StarRocks' "forward to
leader"): the client sees the leader's answer as if this FE had run the statement.

The leader authorizes the statement again as its original user. A call that never reached a leader
is retried (with the leader the journal or the heartbeats name next) until one answers or the wait
runs out; a call whose answer was lost raises CommitOutcomeUnknownError, never a plain failure. A
successful write is replayed here before the client hears of it, so a session reads its own writes.
A statement cancelled here (KILL, or its client gone) is cancelled on the leader too, and the client
gets the leader's answer: interrupted, or done when it had already committed.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

import pyarrow as pa

from cairn.errors import (
    CairnError,
    CommitOutcomeUnknownError,
    FrontendMembershipError,
    NotLeaderError,
    PeerUnavailableError,
    QueryInterruptedError,
)
from cairn.fe.frontend import Frontend
from cairn.fe.peers import ForwardCancel, ForwardRequest, ForwardResponse
from cairn.query.context import QueryContext
from cairn.query.variables import get_variable
from cairn.sql.result import ResultSet

log = logging.getLogger(__name__)

# How often a forwarded statement's wait looks whether another FE took the lead meanwhile.
WATCH_SECONDS = 0.2
# How long a session waits to read its own forwarded write on this FE before answering anyway.
OWN_WRITE_WAIT_SECONDS = 10.0


class ForwardedStatementError(CairnError):
    """The leader refused or failed a forwarded statement: its code, state and message, as it said them."""

    def __init__(self, message: str, mysql_code: int, sqlstate: str) -> None:
        super().__init__(message)
        self.mysql_code = mysql_code
        self.sqlstate = sqlstate


def result_of(response: ForwardResponse) -> ResultSet:
    """The ResultSet a successful forwarded statement answered (its rows decoded from Arrow IPC)."""
    table = None
    if response.result_ipc is not None:
        table = pa.ipc.open_stream(base64.b64decode(response.result_ipc)).read_all()
    return ResultSet(table, response.affected_rows, response.message, list(response.warnings))


def _timeout(query: QueryContext) -> float:
    try:
        return max(1.0, float(get_variable(query.variables, "query_timeout")))
    except (TypeError, ValueError):
        return 300.0


def forward_to_leader(query: QueryContext, fe: Frontend, sql: str) -> ResultSet | None:
    """Run `sql` (one write statement) on the leader as `query`'s user; its result. None when this FE
    took the lead while the statement waited for one: the caller runs it here, as the leader."""
    request = ForwardRequest(user=query.user, host=query.host, database=query.database,
                             variables=dict(query.variables), sql=sql, forward_id=uuid.uuid4().hex,
                             session_id=query.session_id, session_frontend=query.session_frontend)
    deadline = time.monotonic() + 2 * fe.config.bdbje_heartbeat_timeout_second + 5
    why = "no FE leads the cluster"
    while True:
        if fe.is_leader:
            return None
        if fe.leadership.excluded:  # found meanwhile that a drop or a restore left it out
            raise FrontendMembershipError(fe.leadership.excluded)
        leader = fe.leadership.leader_address()
        if leader and leader != fe.address:
            try:
                response = _forward_watching(fe, leader, request, _timeout(query), query)
            except PeerUnavailableError as exc:
                why = exc.message
            else:
                if response.error_type != NotLeaderError.__name__:
                    return _answered(fe, response)
                why = f"the FE at {leader} no longer leads"
        if time.monotonic() > deadline:
            raise NotLeaderError(f"This FE does not lead the cluster and could not forward the statement to a "
                                 f"leader: {why}. Nothing was applied")
        if query.cancel.cancelled:
            raise QueryInterruptedError("The statement was cancelled before a leader took it: nothing was applied")
        time.sleep(0.2)  # a leader is being elected: ask again shortly


def _cancel_on_leader(fe: Frontend, leader: str, cancel: ForwardCancel) -> None:
    """Tell the leader to stop a forwarded statement, in the background: its answer comes through
    the forward itself."""

    def call() -> None:
        try:
            fe.peer_client.cancel_forward(leader, cancel)
        except CairnError as exc:
            log.warning("could not cancel a forwarded statement on the leader at %s: %s", leader, exc)

    threading.Thread(target=call, name="forward-cancel", daemon=True).start()


def _forward_watching(fe: Frontend, leader: str, request: ForwardRequest, timeout: float,
                      query: QueryContext) -> ForwardResponse:
    """Forward `request` to `leader`, and stop waiting for its answer once another FE says it leads
    (the old leader paused or cut off mid-statement): the outcome is then unknown, and the client is
    told so at once instead of after the statement's whole timeout. Once `query` is cancelled here,
    the leader is told to stop the statement, and its answer is still awaited."""
    answer: Future[ForwardResponse] = Future()

    def call() -> None:
        try:
            answer.set_result(fe.peer_client.forward(leader, request, timeout=timeout))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting statement as is
            answer.set_exception(exc)

    threading.Thread(target=call, name="forward", daemon=True).start()
    cancel_sent = False
    while True:
        try:
            return answer.result(timeout=WATCH_SECONDS)
        except FutureTimeout:
            if query.cancel.cancelled and not cancel_sent:
                cancel_sent = True
                _cancel_on_leader(fe, leader, ForwardCancel(forward_id=request.forward_id,
                                                            message=query.cancel.message))
            successor = fe.leadership.leader_address()
            if successor and successor != leader:
                raise CommitOutcomeUnknownError(
                    f"The statement was forwarded to the leader at {leader}, which stopped answering while "
                    f"{successor} took the lead: it may or may not have been applied. Check before running it "
                    "again") from None


def _answered(fe: Frontend, response: ForwardResponse) -> ResultSet:
    if response.error_message is not None:
        if response.error_type == CommitOutcomeUnknownError.__name__:
            raise CommitOutcomeUnknownError(response.error_message)
        raise ForwardedStatementError(response.error_message, response.error_code or 1105,
                                      response.error_sqlstate or "HY000")
    if not fe.leadership.wait_replayed(response.incarnation, response.journal_id, OWN_WRITE_WAIT_SECONDS):
        log.warning("journal id %d is applied on the leader but not replayed here yet", response.journal_id)
    return result_of(response)
