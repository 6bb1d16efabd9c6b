"""Tables computed from the catalog (information_schema and the like).

The FE builds one `VirtualTables` at start-up and registers each provider in it:

    tables.register("information_schema", "tables", provider)

where `provider(ctx, catalog) -> pyarrow.Table` returns the rows (with StarRocks' column names and
order). A query naming `information_schema.tables` (any case) then reads the provider's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from cairn.catalog.view import CatalogView
from cairn.query.context import QueryContext

Provider = Callable[[QueryContext, CatalogView], pa.Table]


@dataclass(frozen=True)
class SystemColumn:
    """A virtual table's column as StarRocks declares it: DESC shows `type` (StarRocks' spelling)."""

    name: str
    type: str
    nullable: bool = True


class VirtualTables:
    """The virtual tables one FE serves, by (schema, name), case-insensitively."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], Provider] = {}
        self._columns: dict[tuple[str, str], list[SystemColumn]] = {}

    def register(self, schema: str, name: str, provider: Provider,
                 columns: Sequence[SystemColumn] | None = None) -> None:
        """Make `schema.name` readable by queries; its rows come from `provider(ctx, catalog)`.
        `columns` are its declared columns (for DESC), when StarRocks' types are known."""
        key = (schema.lower(), name.lower())
        if key in self._tables:
            raise ValueError(f"virtual table {schema}.{name} registered twice")
        self._tables[key] = provider
        if columns is not None:
            self._columns[key] = list(columns)

    def declared_columns(self, schema: str | None, name: str) -> list[SystemColumn] | None:
        """The declared columns of `schema.name`, or None when it declares none."""
        return self._columns.get(((schema or "").lower(), name.lower()))

    def find(self, schema: str | None, name: str) -> Provider | None:
        """The provider of `schema.name`, or None when it is not a virtual table."""
        if not schema:
            return None
        return self._tables.get((schema.lower(), name.lower()))

    def is_virtual_schema(self, schema: str | None) -> bool:
        """True for a schema that holds only virtual tables (information_schema)."""
        return bool(schema and any(s == schema.lower() for s, _ in self._tables))
