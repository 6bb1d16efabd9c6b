"""RECOVER TABLE: a dropped table back from the recycle bin, as StarRocks recovers it.

DROP TABLE keeps the table's definition in the recycle bin (`DroppedObject.table`) and vacuum keeps its
data for `catalog_trash_expire_second`; within that time RECOVER TABLE puts the table back with the
versions it had. Only the table dropped last under a name is recovered; a table of that name must not
exist; DROP TABLE ... FORCE and temporary tables are never kept.
"""

from __future__ import annotations

import time

from cairn.catalog.catalog import Catalog
from cairn.catalog.ops import RecoverTable
from cairn.errors import AnalyzerUnknownTableError, TableExistsError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables
from cairn.sql import extended
from cairn.sql.names import check_table_name
from cairn.sql.registry import Requirement, StatementRegistry
from cairn.sql.result import ResultSet


def recover_table(query: QueryContext, fe: Frontend, statement: extended.RecoverTableStatement) -> ResultSet:
    db_name, name = statement.database or query.database, statement.table
    check_table_name(name)
    keep_seconds = fe.config.catalog_trash_expire_second

    def build(catalog: Catalog) -> RecoverTable:
        db = catalog.database(db_name)
        if name in db.tables or name in db.views:
            raise TableExistsError(f"Table '{name}' already exists")
        now = time.time()
        # Past the trash time vacuum may have deleted its data: it is gone for good.
        kept = [d for d in catalog.state.recycle_bin if d.kind == "table" and d.db_id == db.id
                and d.table is not None and d.table.name == name and now - d.dropped_at < keep_seconds]
        if not kept or kept[-1].table is None:
            raise AnalyzerUnknownTableError(f"Getting analyzing error. Detail message: Unknown table '{name}'.")
        return RecoverTable(db_id=db.id, table_id=kept[-1].table.id)

    fe.commit(build)
    return ResultSet.ok()


def _recover_needs(ctx: QueryContext, statement: extended.RecoverTableStatement,
                   _virtual: VirtualTables) -> list[Requirement]:
    """What making the table anew would need: CREATE on its database."""
    return [Requirement("CREATE", statement.database or ctx.database or "")]


def register(statements: StatementRegistry) -> None:
    """Add this module's statements."""
    statements.add(extended.RecoverTableStatement, recover_table, needs=_recover_needs, writes=True)
