"""DDL: CREATE / DROP DATABASE, USE, CREATE / DROP / TRUNCATE TABLE, and partition changes."""

from __future__ import annotations

from sqlglot import exp

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Database, Partition
from cairn.catalog.ops import (
    AddPartitions,
    CommitVersions,
    CreateDatabase,
    CreateTable,
    DropDatabase,
    DropPartition,
    DropTable,
    PartitionVersion,
    RenameDatabase,
)
from cairn.errors import (
    AnalysisError,
    DatabaseExistsError,
    PartitionExistsError,
    TableExistsError,
    UnknownDatabaseError,
    UnknownPartitionError,
    UnknownTableError,
)
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables
from cairn.sql import ctas, extended, temporary_tables, views
from cairn.sql.names import properties_of, table_name
from cairn.sql.partitions import next_range_lower, normalize_value
from cairn.sql.range_partitions import batch_ranges, check_overlaps, fixed_range
from cairn.sql.refusals import check_properties, not_supported
from cairn.sql.registry import Requirement, StatementRegistry, nothing
from cairn.sql.result import ResultSet
from cairn.sql.table_definition import build_table
from cairn.sql.table_like import build_like_table


def create(query: QueryContext, fe: Frontend, statement: exp.Create) -> ResultSet:
    kind = (statement.args.get("kind") or "").upper()
    if kind in {"DATABASE", "SCHEMA"}:
        return create_database(query, fe, statement)
    if kind == "TABLE" and statement.expression is not None:
        return ctas.create_table_as_select(query, fe, statement)
    if kind == "TABLE":
        return create_table(query, fe, statement)
    if kind == "VIEW":
        return views.create_view(query, fe, statement)
    raise AnalysisError(f"CREATE {kind} is not supported")


def create_database(query: QueryContext, fe: Frontend, statement: exp.Create) -> ResultSet:
    name = statement.this.name
    properties = properties_of(statement.args.get("properties"))
    check_properties(properties)
    if_not_exists = bool(statement.args.get("exists"))

    def build(catalog: Catalog) -> CreateDatabase | None:
        if name in catalog.state.databases:
            if if_not_exists:
                return None
            raise DatabaseExistsError(f"Can't create database '{name}'; database exists")
        volume = properties.pop("storage_volume", "") or catalog.state.default_storage_volume
        catalog.storage_volume(volume)
        db = Database(id=catalog.allocate_ids(1)[0], name=name, storage_volume=volume, properties=properties)
        return CreateDatabase(database=db)

    fe.commit_if(build)
    return ResultSet.ok()


def rename_database(query: QueryContext, fe: Frontend, statement: extended.AlterDatabaseRename) -> ResultSet:
    """ALTER DATABASE db RENAME new_name (StarRocks' errors for a missing source or a taken name)."""

    def build(catalog: Catalog) -> RenameDatabase:
        db = catalog.state.databases.get(statement.database)
        if db is None:
            raise UnknownDatabaseError(f"Unknown database '{statement.database}'")
        if statement.new_name == db.name:
            raise AnalysisError("Getting analyzing error. Detail message: Same database name.")
        if statement.new_name in catalog.state.databases:
            raise DatabaseExistsError(f"Can't create database '{statement.new_name}'; database exists")
        return RenameDatabase(db_id=db.id, name=statement.new_name)

    fe.commit(build)
    return ResultSet.ok()


def compact_table(query: QueryContext, fe: Frontend, statement: extended.CompactTable) -> ResultSet:
    """ALTER TABLE t COMPACT [partitions]: merge the table's tablets of more than one rowset now."""
    with fe.catalog.lock:
        db, table = fe.catalog.table(statement.database or query.database, statement.table, query.session_id)
        missing = [n for n in statement.partitions or [] if table.partition(n) is None]
        if missing:
            raise UnknownPartitionError(f"Unknown partition '{missing[0]}' in table '{table.name}'")
        db_id, table_id = db.id, table.id
    fe.compaction.compact_table(db_id, table_id, statement.partitions)
    return ResultSet.ok()


def _like_source(statement: exp.Create) -> exp.Table | None:
    """The table of CREATE TABLE ... LIKE, if the statement is one."""
    properties = statement.args.get("properties")
    like = next((p for p in (properties.expressions if properties else []) if isinstance(p, exp.LikeProperty)), None)
    return like.this if like is not None and isinstance(like.this, exp.Table) else None


def create_table(query: QueryContext, fe: Frontend, statement: exp.Create) -> ResultSet:
    temporary = temporary_tables.is_temporary(statement)
    if temporary:
        temporary_tables.check_enabled(fe)
        statement = temporary_tables.without_temporary(statement)
    db_name, name = table_name(query, statement.this.this if isinstance(statement.this, exp.Schema)
                                else statement.this)
    if_not_exists = bool(statement.args.get("exists"))
    like = _like_source(statement)
    if like is not None and isinstance(statement.this, exp.Schema):
        raise not_supported("CREATE TABLE ... LIKE with columns")
    like_db, like_name = table_name(query, like) if like is not None else (None, "")

    def build(catalog: Catalog) -> CreateTable | None:
        db = catalog.database(db_name)
        if temporary and temporary_tables.exists(db, name, query.session_id):
            if if_not_exists:
                return None
            raise temporary_tables.already_exists(name)
        if not temporary and (name in db.tables or name in db.views):
            if if_not_exists:
                return None
            raise TableExistsError(f"Getting analyzing error. Detail message: Table '{name}' already exists.")
        if like is not None:
            op = build_like_table(catalog, db, name, like_db, like_name, query.session_id,
                                  list(statement.args["properties"].expressions))
        else:
            op = build_table(catalog, db, name, statement)
        return temporary_tables.made_temporary(op, query) if temporary else op

    fe.commit_if(build)
    return ResultSet.ok()


def _drop_target(statement: exp.Drop) -> exp.Expression:
    target: exp.Expression | None = statement.this or (statement.args.get("tables") or [None])[0]
    if target is None:
        raise AnalysisError("DROP needs a name")
    return target


def drop(query: QueryContext, fe: Frontend, statement: exp.Drop) -> ResultSet:
    kind = (statement.args.get("kind") or "").upper()
    target = _drop_target(statement)
    if_exists = bool(statement.args.get("exists"))
    if kind in {"DATABASE", "SCHEMA"}:
        name = target.name

        def build_db(catalog: Catalog) -> DropDatabase | None:
            db = catalog.state.databases.get(name)
            if db is None:
                if if_exists:
                    return None
                raise UnknownDatabaseError(f"Can't drop database '{name}'; database doesn't exist")
            if not statement.args.get("force") and any(t.temporary is not None for t in db.tables.values()):
                raise AnalysisError(f"Getting analyzing error. Detail message: Database '{name}' cannot be dropped "
                                    "because there are still some temporary tables in it. If you want to forcibly "
                                    "drop, please use \"DROP DATABASE <database> FORCE.\"")
            prefix = f"{fe.keys.data_prefix}{db.id}/"
            return DropDatabase(db_id=db.id, data_prefix=prefix)

        fe.commit_if(build_db)
        if query.database == name:
            query.database = None
        return ResultSet.ok()
    if kind == "TABLE" and statement.args.get("temporary"):
        temporary_tables.drop_temporary(query, fe, target, if_exists)
        return ResultSet.ok()
    if kind == "TABLE":
        db_name, name = table_name(query, target)
        force = bool(statement.args.get("force"))  # never recovered

        def build_table_drop(catalog: Catalog) -> DropTable | None:
            db = catalog.database(db_name)
            table = db.tables.get(catalog.table_key(db, name, query.session_id))
            if table is None and name in db.views:
                raise views.wrong_object(db.name, name, "TABLE")
            if table is None:
                if if_exists:
                    return None
                raise UnknownTableError(f"Unknown table '{db.name}.{name}'")
            return DropTable(db_id=db.id, table_id=table.id,
                             data_prefix=fe.keys.table_prefix(db.id, table.id), force=force)

        fe.commit_if(build_table_drop)
        return ResultSet.ok()
    if kind == "VIEW":
        return views.drop_view(query, fe, target, if_exists, bool(statement.args.get("materialized")))
    raise AnalysisError(f"DROP {kind} is not supported")


def use(query: QueryContext, fe: Frontend, statement: exp.Use) -> ResultSet:
    name = statement.this.name
    if not fe.engine.virtual_tables.is_virtual_schema(name):
        fe.catalog.database(name)
    query.database = name
    return ResultSet.ok()


def truncate(query: QueryContext, fe: Frontend, statement: exp.TruncateTable) -> ResultSet:
    target = statement.expressions[0]
    db_name, name = table_name(query, target)
    chosen = target.args.get("partition")
    return _truncate(fe, db_name, name, [e.name for e in chosen.expressions] if chosen is not None else None,
                     query.session_id)


def truncate_partitions(query: QueryContext, fe: Frontend, statement: extended.TruncatePartitionsStatement) -> ResultSet:
    return _truncate(fe, statement.database or query.database, statement.table, statement.partitions)


def _truncate(fe: Frontend, db_name: str | None, name: str, names: list[str] | None,
              session: str = "") -> ResultSet:
    """Empty the table, or the partitions `names`, in one commit (`session`'s temporary table of
    that name, if it has one)."""

    def build(catalog: Catalog) -> CommitVersions:
        db, table = catalog.table(db_name, name, session)
        partitions = table.partitions
        if names is not None:
            missing = [n for n in names if table.partition(n) is None]
            if missing:
                raise UnknownPartitionError(f"Unknown partition '{missing[0]}' in table '{table.name}'")
            partitions = [p for p in partitions if p.name in names]
        versions = [PartitionVersion(partition_id=p.id, version=p.visible_version + 1, manifest_key=None,
                                     row_count=0, data_size=0) for p in partitions]
        return CommitVersions(db_id=db.id, table_id=table.id, txn_id=catalog.allocate_ids(1)[0], versions=versions)

    fe.commit(build)
    return ResultSet.ok()


def add_partition(query: QueryContext, fe: Frontend, statement: extended.AddPartition) -> ResultSet:
    db_name, name = statement.database or query.database, statement.table
    temporary_tables.refuse_if_temporary(query, fe.catalog, db_name, name)

    def build(catalog: Catalog) -> AddPartitions | None:
        db, table = catalog.table(db_name, name)
        # A temporary partition is checked against the other temporary ones (it may hold what a partition
        # of the table holds: it is made to replace it), and its name against every partition's.
        held = table.temp_partitions if statement.temporary else table.partitions
        existing = table.temp_partition(statement.partition) if statement.temporary else table.partition(
            statement.partition)
        if existing is not None:
            if statement.if_not_exists:
                return None
            raise PartitionExistsError(f"Duplicate partition name {statement.partition}")
        if (table.partition(statement.partition) or table.temp_partition(statement.partition)) is not None:
            raise PartitionExistsError(f"Duplicate partition name {statement.partition}")
        if table.auto_partition is not None:
            if table.partition_type == "RANGE":
                raise AnalysisError("Getting analyzing error. Detail message: Currently, you cannot manually add a "
                                    "single range partition to a table that is automatically partition.")
            if statement.values_in is not None and len(statement.values_in) > 1:
                raise AnalysisError("Getting analyzing error. Detail message: Automatically partitioned tables does "
                                    "not support multiple values in the same partition.")
        ids = catalog.allocate_ids(1 + table.buckets)
        partition = Partition(id=ids[0], name=statement.partition, tablet_ids=list(ids[1:]))
        columns = [table.column_named(c) for c in table.partition_columns]
        types = table.partition_key_types()
        if table.partition_type == "RANGE" and statement.less_than is not None:
            if statement.temporary:
                raise not_supported("A temporary partition VALUES LESS THAN (give its range: VALUES [(...), (...)))")
            upper = None if statement.less_than == [extended.MAXVALUE] else [
                normalize_value(v, t) for v, t in zip(statement.less_than, types)]
            partition.lower, partition.upper = next_range_lower(table, upper), upper
        elif table.partition_type == "RANGE" and statement.fixed_range is not None:
            partition.lower, partition.upper = fixed_range(table, *statement.fixed_range)
            check_overlaps(table, [(p.name, p.lower, p.upper) for p in held]
                           + [(partition.name, partition.lower, partition.upper)])
        elif table.partition_type == "LIST" and statement.values_in is not None:
            partition.values = [[normalize_value(v, c.type) for v, c in zip(row, columns)]
                                for row in statement.values_in]
            taken = {tuple(v) for p in held for v in (p.values or [])}
            clash = next((v for v in partition.values if tuple(v) in taken), None)
            if clash is not None:
                raise AnalysisError(f"Value ({', '.join(map(str, clash))}) is already in another partition")
        else:
            raise AnalysisError(f"Table '{table.name}' is {table.partition_type.lower()}-partitioned: "
                                "the new partition's values do not match")
        return AddPartitions(db_id=db.id, table_id=table.id, partitions=[partition], temporary=statement.temporary)

    fe.commit_if(build)
    return ResultSet.ok()


def add_partition_batch(query: QueryContext, fe: Frontend, statement: extended.AddPartitionBatch) -> ResultSet:
    """ALTER TABLE t ADD PARTITIONS START ... END ... EVERY ...: the batch's ranges as one AddPartitions
    entry; those an automatically partitioned table already has (a load made them) are not made again."""
    db_name, name = statement.database or query.database, statement.table
    temporary_tables.refuse_if_temporary(query, fe.catalog, db_name, name)

    def build(catalog: Catalog) -> AddPartitions | None:
        db, table = catalog.table(db_name, name)
        if table.partition_type != "RANGE":
            raise AnalysisError(f"Table '{table.name}' is {table.partition_type.lower()}-partitioned: "
                                "ADD PARTITIONS START ... END ... needs a RANGE table")
        held = {(p.name.lower(), tuple(p.lower or []), tuple(p.upper or [])) for p in table.partitions}
        specs = [spec for spec in batch_ranges(table, statement.start, statement.end, statement.step, statement.unit)
                 if (spec.name.lower(), tuple(spec.lower or []), tuple(spec.upper or [])) not in held]
        taken = {p.name.lower() for p in table.partitions}
        clash = next((spec.name for spec in specs if spec.name.lower() in taken), None)
        if clash is not None:
            raise PartitionExistsError(f"Duplicate partition name {clash}")
        check_overlaps(table, [(p.name, p.lower, p.upper) for p in table.partitions]
                       + [(spec.name, spec.lower, spec.upper) for spec in specs])
        if not specs:
            return None
        ids = iter(catalog.allocate_ids(len(specs) * (1 + table.buckets)))
        partitions = [Partition(id=next(ids), name=spec.name, lower=spec.lower, upper=spec.upper,
                                tablet_ids=[next(ids) for _ in range(table.buckets)]) for spec in specs]
        return AddPartitions(db_id=db.id, table_id=table.id, partitions=partitions)

    fe.commit_if(build)
    return ResultSet.ok()


def drop_partition(query: QueryContext, fe: Frontend, statement: extended.DropPartitionStatement) -> ResultSet:
    db_name, name = statement.database or query.database, statement.table
    temporary_tables.refuse_if_temporary(query, fe.catalog, db_name, name)

    def build(catalog: Catalog) -> DropPartition | None:
        db, table = catalog.table(db_name, name)
        partition = (table.temp_partition(statement.partition) if statement.temporary
                     else table.partition(statement.partition))
        if partition is None:
            if statement.if_exists:
                return None
            kind = "Temporary partition" if statement.temporary else "Partition"
            raise UnknownPartitionError(f"{kind} '{statement.partition}' does not exist in "
                                        f"table '{table.name}'")
        if len(table.partitions) == 1 and table.partition_type == "UNPARTITIONED":
            raise AnalysisError("The only partition of an unpartitioned table cannot be dropped")
        return DropPartition(db_id=db.id, table_id=table.id, partition_id=partition.id,
                             data_prefix=fe.keys.partition_prefix(db.id, table.id, partition.id),
                             temporary=statement.temporary)

    fe.commit_if(build)
    return ResultSet.ok()


def _create_needs(ctx: QueryContext, statement: exp.Create, virtual: VirtualTables) -> list[Requirement]:
    """CREATE on the database; a view or CREATE TABLE ... AS SELECT also reads its query's tables."""
    if (statement.args.get("kind") or "").upper() in {"DATABASE", "SCHEMA"}:
        return [Requirement("CREATE")]
    target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
    like = _like_source(statement)
    copied = [Requirement("SELECT", *_named(table_name(ctx, like)))] if like is not None else []
    return [Requirement("CREATE", table_name(ctx, target)[0] or ""), *copied,
            *views.view_query_needs(ctx, statement.expression, virtual)]


def _named(name: tuple[str | None, str]) -> tuple[str, str]:
    return name[0] or "", name[1]


def _drop_needs(ctx: QueryContext, statement: exp.Drop, _virtual: VirtualTables) -> list[Requirement]:
    target = statement.this or (statement.args.get("tables") or [None])[0]
    if (statement.args.get("kind") or "").upper() in {"DATABASE", "SCHEMA"}:
        return [Requirement("DROP", target.name if target is not None else "*")]
    if target is None:
        return []
    database, name = table_name(ctx, target)
    return [Requirement("DROP", database or "", name)]


def _truncate_needs(ctx: QueryContext, statement: exp.TruncateTable, _virtual: VirtualTables) -> list[Requirement]:
    database, name = table_name(ctx, statement.expressions[0])
    return [Requirement("DROP", database or "", name)]


def _truncate_partitions_needs(ctx: QueryContext, statement: extended.TruncatePartitionsStatement,
                               _virtual: VirtualTables) -> list[Requirement]:
    return [Requirement("DROP", statement.database or ctx.database or "", statement.table)]


def _alter_partition_needs(ctx: QueryContext,
                           statement: extended.AddPartition | extended.AddPartitionBatch | extended.DropPartitionStatement,
                           _virtual: VirtualTables) -> list[Requirement]:
    return [Requirement("ALTER", statement.database or ctx.database or "", statement.table)]


def _rename_database_needs(ctx: QueryContext, statement: extended.AlterDatabaseRename,
                           _virtual: VirtualTables) -> list[Requirement]:
    return [Requirement("ALTER", statement.database)]


def _compact_needs(ctx: QueryContext, statement: extended.CompactTable, _virtual: VirtualTables) -> list[Requirement]:
    return [Requirement("ALTER", statement.database or ctx.database or "", statement.table)]


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(extended.AlterDatabaseRename, rename_database, needs=_rename_database_needs, writes=True)
    statements.add(extended.CompactTable, compact_table, needs=_compact_needs, writes=True)
    statements.add(exp.Create, create, needs=_create_needs, writes=True)
    statements.add(exp.Drop, drop, needs=_drop_needs, writes=True)
    statements.add(exp.Use, use, needs=nothing)
    statements.add(exp.TruncateTable, truncate, needs=_truncate_needs, writes=True)
    statements.add(extended.TruncatePartitionsStatement, truncate_partitions, needs=_truncate_partitions_needs,
                   writes=True)
    statements.add(extended.AddPartition, add_partition, needs=_alter_partition_needs, writes=True)
    statements.add(extended.AddPartitionBatch, add_partition_batch, needs=_alter_partition_needs, writes=True)
    statements.add(extended.DropPartitionStatement, drop_partition, needs=_alter_partition_needs, writes=True)
