"""Running one parsed statement: find its registration, check its privileges, run its handler."""

from __future__ import annotations

from typing import Any

from cairn.errors import FrontendMembershipError, NotLeaderError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.sql.authorize import authorize
from cairn.sql.forwarding import forward_to_leader
from cairn.sql.registry import StatementRegistry
from cairn.sql.result import ResultSet


def execute_statement(query: QueryContext, fe: Frontend, statement: Any, statements: StatementRegistry,
                      text: str | None = None) -> ResultSet:
    """Check privileges, then run `statement` through its handler; on an FE that does not lead, a
    write (given its `text`) is forwarded to the leader, which checks privileges itself (or runs here
    when this FE took the lead while the statement waited for a leader).

    Raises UnsupportedError if no handler is registered for the statement's type, PrivilegeError
    when the user lacks what the statement needs, TableFunctionError for a table function Cairn
    does not define, FrontendMembershipError on an FE that is not a member of its cluster (dropped,
    or left out of a restore's `frontends`): it serves nothing. StorageUnavailableError while an
    earlier commit's outcome is unknown on this leader (see `JournalCommitter.settle_before_read`).
    """
    if fe.leadership.excluded:
        raise FrontendMembershipError(fe.leadership.excluded)
    registration = statements.find(statement)
    if registration.writes and not fe.is_leader and text is not None:
        forwarded = forward_to_leader(query, fe, text)
        if forwarded is not None:
            return forwarded
    fe.committer.settle_before_read()
    authorize(query, fe.catalog.state, registration.needs(query, statement, fe.engine.virtual_tables))
    before = fe.position
    try:
        return registration.handler(query, fe, statement)
    except NotLeaderError:
        # Deposed before it noticed, with nothing committed here meanwhile (a statement may commit
        # more than once): the new leader runs the write.
        if not registration.writes or text is None or fe.is_leader or fe.position != before:
            raise
        forwarded = forward_to_leader(query, fe, text)
        if forwarded is None:
            raise
        return forwarded
