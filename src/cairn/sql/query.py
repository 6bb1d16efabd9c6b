"""SELECT and set operations (UNION / INTERSECT / EXCEPT)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from cairn.query.select import run_query
from cairn.sql.dispatch import handles
from cairn.sql.refusals import not_supported
from cairn.sql.result import ResultSet

if TYPE_CHECKING:
    from cairn.fe.session import Session


@handles(exp.Select, exp.SetOperation)
def select(session: "Session", statement: exp.Expression) -> ResultSet:
    if statement.find(exp.Lock) is not None:
        raise not_supported("SELECT ... FOR UPDATE / FOR SHARE (Cairn has no row locks)")
    return ResultSet(run_query(session, statement, session.frontend.data_access))
