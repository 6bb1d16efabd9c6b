"""`SHOW ... WHERE <condition>`: a condition on the columns a SHOW statement returns."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from cairn.errors import AnalysisError
from cairn.sql.result import ResultSet


def rows_where(con: duckdb.DuckDBPyConnection, result: ResultSet, where: exp.Where) -> ResultSet:
    """The rows of `result` that satisfy `where` (e.g. `WHERE Field = 'k'`), evaluated on `con`."""
    if where.find(exp.Query, exp.Table) is not None or result.table is None:
        raise AnalysisError("SHOW ... WHERE takes a condition on the columns SHOW returns, without subqueries")
    source = "__cairn_show"
    try:
        con.register(source, result.table)
        query = exp.select("*").from_(source).where(where.this.copy())
        return ResultSet(con.sql(query.sql(dialect="duckdb")).to_arrow_table())
    except duckdb.Error as exc:
        raise AnalysisError(f"Getting analyzing error. Detail message: {str(exc).splitlines()[0]}.") from None
    finally:
        con.close()
