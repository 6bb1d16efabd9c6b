"""Statement dispatch: each statement type has one handler, registered with `@handles`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cairn.auth.authorize import authorize
from cairn.errors import UnsupportedError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.sql.result import ResultSet

Handler = Callable[[QueryContext, Frontend, Any], ResultSet]
_HANDLERS: dict[type, Handler] = {}


def handles(*statement_types: type) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of these statement types."""

    def register(handler: Handler) -> Handler:
        for statement_type in statement_types:
            if statement_type in _HANDLERS:
                raise RuntimeError(f"two handlers for {statement_type.__name__}")
            _HANDLERS[statement_type] = handler
        return handler

    return register


def execute_statement(query: QueryContext, fe: Frontend, statement: Any) -> ResultSet:
    """Check privileges, then run one parsed statement through its handler.

    Raises UnsupportedError if no handler is registered for the statement's type.
    """
    authorize(query, fe.catalog.state, statement)
    for cls in type(statement).__mro__:
        handler = _HANDLERS.get(cls)
        if handler is not None:
            return handler(query, fe, statement)
    name = type(statement).__name__
    raise UnsupportedError(f"Statement '{name}' is not supported")
