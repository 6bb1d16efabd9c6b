"""QueryEngine: what running a query uses, wired once by the FE at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from cairn.catalog.view import CatalogView
from cairn.query.context import CancelToken
from cairn.query.data_access import DataAccess
from cairn.query.virtual_tables import VirtualTables
from cairn.storage.engine_sandbox import SandboxedEngine
from cairn.storage.object_store import ObjectStore
from cairn.storage.resolver import StoreResolver


@dataclass(frozen=True)
class EngineTable:
    """A table as the distributed engine reads it: the name the query's SQL gives it, and the
    rowset objects (on `store`) that hold its rows at the version the query reads."""

    name: str
    store: ObjectStore
    keys: tuple[str, ...]


@dataclass(frozen=True)
class RunControl:
    """How one distributed run is stopped and bounded: the statement's `cancel` token (its
    `queued` flag is set while the run waits for admission), and `query_mem_limit`, the bytes the
    query may use on each node (StarRocks' session variable; 0 is no limit)."""

    cancel: CancelToken
    query_mem_limit: int = 0


class ScaleOut(Protocol):
    """The distributed engine as the query path sees it (the FE implements it over Ray + DataFusion)."""

    def unavailable(self) -> str | None:
        """None when it can run a query now; otherwise why not (switched off, no CN worker alive,
        this FE does not run the engine's head)."""

    def run(self, sql: str, tables: list[EngineTable], expected: pa.Schema, control: RunControl) -> pa.Table:
        """The answer of `sql` (DataFusion's dialect) over `tables`, as columns named and typed as
        `expected`. Raises DistributedRefusal, before running anything, when it cannot give that
        answer with the same semantics (then the caller runs the query on its own path);
        QueryInterruptedError, its work stopped on every node, once `control.cancel` is cancelled;
        QueryQueueError when admission control refuses it; QueryMemoryExceededError when a node
        needs more than `control.query_mem_limit` for it and cannot spill."""


@dataclass(frozen=True)
class QueryEngine:
    """The catalog to bind tables in, the stores of their volumes, the data access that reads them
    (embedded or on compute nodes), the FE's DuckDB database and the virtual tables it serves; the
    distributed engine when the FE runs one."""

    catalog: CatalogView
    stores: StoreResolver
    access: DataAccess
    duckdb: SandboxedEngine
    virtual_tables: VirtualTables
    scale_out: ScaleOut | None = None
