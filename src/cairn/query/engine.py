"""QueryEngine: what running a query uses, wired once by the FE at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from cairn.catalog.view import CatalogView
from cairn.query.data_access import DataAccess
from cairn.query.virtual_tables import VirtualTables
from cairn.storage.engine_sandbox import SandboxedEngine
from cairn.storage.resolver import StoreResolver


@dataclass(frozen=True)
class QueryEngine:
    """The catalog to bind tables in, the stores of their volumes, the data access that reads them
    (embedded or on compute nodes), the FE's DuckDB database and the virtual tables it serves."""

    catalog: CatalogView
    stores: StoreResolver
    access: DataAccess
    duckdb: SandboxedEngine
    virtual_tables: VirtualTables
