"""Tables computed from the catalog (information_schema and the like).

A subsystem registers a provider once, at import time:

    register_virtual_table("information_schema", "tables", provider)

where `provider(ctx, catalog) -> pyarrow.Table` returns the rows (with StarRocks' column names and
order). A query naming `information_schema.tables` (any case) then reads the provider's rows.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from cairn.catalog.view import CatalogView
from cairn.query.context import QueryContext

Provider = Callable[[QueryContext, CatalogView], pa.Table]
_TABLES: dict[tuple[str, str], Provider] = {}


def register_virtual_table(schema: str, name: str, provider: Provider) -> None:
    """Make `schema.name` readable by queries; its rows come from `provider(ctx, catalog)`."""
    _TABLES[(schema.lower(), name.lower())] = provider


def virtual_table(schema: str | None, name: str) -> Provider | None:
    """The provider of `schema.name`, or None when it is not a virtual table."""
    if not schema:
        return None
    return _TABLES.get((schema.lower(), name.lower()))


def is_virtual_schema(schema: str | None) -> bool:
    return bool(schema) and any(s == schema.lower() for s, _ in _TABLES)  # type: ignore[union-attr]
