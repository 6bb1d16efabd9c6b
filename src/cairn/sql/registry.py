"""The statement registry: each statement kind's handler and the privileges it needs, declared
together when the registry is built (`cairn.sql.statements.standard_statements`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from cairn.errors import AnalysisError, UnsupportedError
from cairn.fe.frontend import Frontend
from cairn.query.binding import tables_read
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables
from cairn.sql.result import ResultSet
from cairn.sql.show_where import rows_where

Handler = Callable[[QueryContext, Frontend, Any], ResultSet]


@dataclass(frozen=True)
class Requirement:
    """A privilege on `database`.`table` ('*' for every database or table), as GRANT names it."""

    privilege: str
    database: str = "*"
    table: str = "*"


# What a statement needs, worked out from the statement (and the tables it reads, through
# `cairn.query.binding.tables_read`, given the FE's virtual tables).
Needs = Callable[[QueryContext, Any, VirtualTables], Iterable[Requirement]]


def nothing(_ctx: QueryContext, _statement: Any, _virtual: VirtualTables) -> Iterable[Requirement]:
    """For statements about the connection itself, and for SHOW, which filters what it shows."""
    return ()


def cluster_admin(_ctx: QueryContext, _statement: Any, _virtual: VirtualTables) -> Iterable[Requirement]:
    """ALL on *.*: storage volumes, ADMIN statements, users and grants, compute nodes."""
    return (Requirement("ALL"),)


def reads(ctx: QueryContext, tree: Any, virtual: VirtualTables) -> list[Requirement]:
    """SELECT on every catalog table `tree` reads, as the binder resolves them for execution."""
    return [Requirement("SELECT", read.database or "", read.name)
            for read in tables_read(ctx, tree, virtual) if not read.virtual]


def _filtered_by_where(handler: Handler) -> Handler:
    def show(query: QueryContext, fe: Frontend, statement: exp.Show) -> ResultSet:
        result = handler(query, fe, statement)
        where = statement.args.get("where")
        return result if where is None else rows_where(fe.duckdb.cursor(), result, where)

    return show


@dataclass(frozen=True)
class Registration:
    """One statement kind: its handler, what it needs, and whether it writes (then it runs on the
    leader: an FE that does not lead forwards it there)."""

    handler: Handler
    needs: Needs
    writes: bool = False


class StatementRegistry:
    """Statement types (and SHOW kinds) → their registration. One per server, built at start-up."""

    def __init__(self) -> None:
        self._by_type: dict[type, Registration] = {}
        self._shows: dict[str, Registration] = {}

    def add(self, statement_types: type | tuple[type, ...], handler: Handler, needs: Needs,
            writes: bool = False) -> None:
        """Register `handler` for statements of these types; `needs` says which privileges they take,
        `writes` that they change the catalog or data (they run on the leader)."""
        for statement_type in statement_types if isinstance(statement_types, tuple) else (statement_types,):
            if statement_type in self._by_type:
                raise ValueError(f"two handlers for {statement_type.__name__}")
            self._by_type[statement_type] = Registration(handler, needs, writes)

    def add_show(self, kind: str, handler: Handler, needs: Needs = nothing) -> None:
        """Register the handler of `SHOW <kind>` (TABLES, DATABASES, VARIABLES, ...); its rows are
        then filtered by the statement's WHERE, if any."""
        if kind in self._shows:
            raise ValueError(f"two handlers for SHOW {kind}")
        self._shows[kind] = Registration(_filtered_by_where(handler), needs)

    def find(self, statement: Any) -> Registration:
        """The registration for `statement`. Raises UnsupportedError (AnalysisError for an unknown
        SHOW) when there is none."""
        if isinstance(statement, exp.Show):
            what = str(statement.this).upper()
            found = self._shows.get(what)
            if found is None:
                raise AnalysisError(f"SHOW {what} is not supported")
            return found
        for cls in type(statement).__mro__:
            registration = self._by_type.get(cls)
            if registration is not None:
                return registration
        raise UnsupportedError(f"Statement '{type(statement).__name__}' is not supported")
