"""SELECT and set operations (UNION / INTERSECT / EXCEPT)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from cairn.query.select import run_query
from cairn.sql.dispatch import handles
from cairn.sql.result import ResultSet

if TYPE_CHECKING:
    from cairn.fe.session import Session


@handles(exp.Select, exp.SetOperation)
def select(session: "Session", statement: exp.Expression) -> ResultSet:
    return ResultSet(run_query(session, statement, session.frontend.data_access))
