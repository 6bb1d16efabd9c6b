"""Running a statement another FE forwarded to this one (the leader) as its original user.

The statement runs in a fresh `Session` of that user, with the forwarding session's database and
variables, so privileges are checked here exactly as for a client of this FE. The answer carries
this FE's journal position after the statement, which the forwarding FE replays up to before it
answers its client. While it runs it is listed in `RunningForwards` under the id the forwarding FE
gave it, so that a KILL on that FE (or its client going away) stops it here too.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections import OrderedDict

import pyarrow as pa

from cairn.errors import CairnError, NotLeaderError, SqlSyntaxError
from cairn.fe.frontend import Frontend
from cairn.fe.peers import ForwardCancel, ForwardRequest, ForwardResponse
from cairn.secrets import mask_values
from cairn.server.session import Session
from cairn.sql.parser import split_statements
from cairn.sql.redaction import secrets_in
from cairn.sql.registry import StatementRegistry
from cairn.sql.result import ResultSet

log = logging.getLogger(__name__)

ONE_STATEMENT = ("Getting syntax error. Detail message: a forwarded request holds exactly one statement; "
                 "nothing was run.")


# How many cancels of statements not (or no longer) running are remembered: one may arrive before
# its statement starts here.
_EARLY_CANCELS = 1024


class RunningForwards:
    """The forwarded statements running on this FE, by the id their forwarding FE gave them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, Session] = {}
        self._early: OrderedDict[str, str] = OrderedDict()

    def start(self, forward_id: str, session: Session) -> None:
        """List `session` as running `forward_id`; interrupt it at once if its cancel came first."""
        if not forward_id:
            return
        with self._lock:
            self._running[forward_id] = session
            early = self._early.pop(forward_id, None)
        if early is not None:
            session.interrupt(early)

    def finish(self, forward_id: str) -> None:
        with self._lock:
            self._running.pop(forward_id, None)

    def cancel(self, request: ForwardCancel) -> bool:
        """Interrupt the statement `request` names; whether it was running."""
        with self._lock:
            session = self._running.get(request.forward_id)
            if session is None:
                self._early[request.forward_id] = request.message
                while len(self._early) > _EARLY_CANCELS:
                    self._early.popitem(last=False)
        if session is None:
            return False
        session.interrupt(request.message)
        return True


def run_forwarded(frontend: Frontend, statements: StatementRegistry, request: ForwardRequest,
                  forwards: RunningForwards) -> ForwardResponse:
    """Run `request.sql` (exactly one statement) as `request.user`, listed in `forwards` while it
    runs; every failure is an answer."""
    try:
        if not frontend.is_leader:
            raise NotLeaderError(frontend.not_leader_reason or "This FE is not the leader")
        if len(split_statements(request.sql)) != 1:
            raise SqlSyntaxError(ONE_STATEMENT)
        session = Session(frontend, user=request.user, host=request.host, database=request.database,
                          statements=statements, session_id=request.session_id or None,
                          session_frontend=request.session_frontend or None)
        session.variables.update(request.variables)
        forwards.start(request.forward_id, session)
        try:
            result = session.execute(request.sql)
        finally:
            forwards.finish(request.forward_id)
    except CairnError as exc:
        # The error may quote the statement: never its secrets.
        exc.message = mask_values(exc.message, secrets_in(request.sql))
        return _answer(frontend, error_code=exc.mysql_code, error_sqlstate=exc.sqlstate, error_message=str(exc),
                       error_type=type(exc).__name__)
    except RecursionError:
        error = SqlSyntaxError("Getting syntax error. Detail message: the statement is nested too deeply.")
        return _answer(frontend, error_code=error.mysql_code, error_sqlstate=error.sqlstate,
                       error_message=str(error), error_type=type(error).__name__)
    except Exception as exc:  # noqa: BLE001 - the forwarding FE gets an error, this FE keeps serving
        log.error("forwarded statement failed unexpectedly", exc_info=exc)
        return _answer(frontend, error_code=CairnError.mysql_code, error_sqlstate=CairnError.sqlstate,
                       error_message=f"Internal error: {type(exc).__name__}. The leader FE's log has the details.",
                       error_type=type(exc).__name__)
    return _answer(frontend, affected_rows=result.affected_rows, message=result.message,
                   warnings=list(result.warnings), result_ipc=_ipc(result))


def _answer(frontend: Frontend, **fields: object) -> ForwardResponse:
    position = frontend.position
    return ForwardResponse.model_validate({"journal_id": position.entry_id, "incarnation": position.incarnation,
                                           **fields})


def _ipc(result: ResultSet) -> str | None:
    """The result's rows as a base64 Arrow IPC stream; None for a statement that returns none."""
    if result.table is None:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, result.table.schema) as writer:
        writer.write_table(result.table)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode()
