"""What Cairn parses but does not implement yet: each form is refused with a clear error.

Accepting a statement and doing something other than what it says is worse than refusing it, so
every clause a handler would otherwise drop is checked here first. When a form gets implemented,
its refusal goes away from this module.
"""

from __future__ import annotations

from sqlglot import exp

from cairn.errors import UnsupportedError

# Table PROPERTIES that have no meaning for a shared-data table whose only copy lives on object
# storage (replicas, local media, index layouts, cache hints): accepted, kept and shown by
# SHOW CREATE TABLE, and otherwise no-ops.
NO_OP_PROPERTIES = frozenset({
    "replication_num", "replicated_storage", "compression", "fast_schema_evolution",
    "enable_persistent_index", "persistent_index_type", "storage_medium", "in_memory", "bucket_size",
    "datacache.enable", "datacache.partition_duration", "enable_async_write_back", "file_bundling",
    "colocate_with", "storage_format", "write_quorum", "storage_cooldown_ttl",
    # Bloom filter indexes only let a scan skip pages; the columns are checked to exist (table_definition).
    "bloom_filter_columns",
    # How StarRocks lays JSON columns out on disk (flattened sub-columns): answers are the same either way.
    "flat_json.enable", "flat_json.null.factor", "flat_json.sparsity.factor", "flat_json.column.max",
})
# Honoured by Cairn itself.
HONOURED_PROPERTIES = frozenset({"storage_volume"})
def not_supported(what: str) -> UnsupportedError:
    """The error for valid StarRocks SQL that Cairn does not implement yet."""
    return UnsupportedError(f"Getting analyzing error. Detail message: {what} is not supported yet.")


def check_properties(properties: dict[str, str]) -> None:
    """Refuse table or database PROPERTIES keys Cairn neither honours nor can ignore safely
    (StarRocks' wording)."""
    if "partition_ttl" in properties:
        # StarRocks drops a partition once it is older than the TTL; kept, its rows would still answer.
        raise not_supported("partition_ttl (dropping partitions once they are older than it)")
    unknown = {k: v for k, v in properties.items() if k not in NO_OP_PROPERTIES and k not in HONOURED_PROPERTIES}
    if unknown:
        shown = ", ".join(f"{k}={v}" for k, v in unknown.items())
        raise UnsupportedError(f"Getting analyzing error. Detail message: Unknown properties: {{{shown}}}.")


# AGGREGATE KEY value-column merges Cairn implements (lake/keyed.py merges them).
AGGREGATE_TYPES = frozenset({"SUM", "MIN", "MAX", "REPLACE", "REPLACE_IF_NOT_NULL"})
# Column definitions Cairn keeps: NULL / NOT NULL, DEFAULT, COMMENT.
_KEPT_COLUMN_CONSTRAINTS = (exp.NotNullColumnConstraint, exp.DefaultColumnConstraint, exp.CommentColumnConstraint,
                            exp.AutoIncrementColumnConstraint)


def check_column(node: exp.ColumnDef) -> None:
    """Refuse column attributes Cairn would drop: PRIMARY KEY on a column, aggregate types, ..."""
    for constraint in node.args.get("constraints") or []:
        rule = constraint.args.get("kind")
        if isinstance(rule, _KEPT_COLUMN_CONSTRAINTS):
            continue
        if isinstance(rule, exp.PrimaryKeyColumnConstraint):
            raise not_supported(f"PRIMARY KEY on column '{node.name}' (StarRocks writes PRIMARY KEY(...) after the "
                                "column list)")
        if isinstance(rule, exp.Var):
            # An AGGREGATE KEY value column's merge (SUM, MAX, ...): table_definition checks it.
            if rule.name.upper() in AGGREGATE_TYPES:
                continue
            if rule.name.upper() in ("HLL_UNION", "BITMAP_UNION", "PERCENTILE_UNION"):
                raise not_supported(f"Aggregate type {rule.name.upper()} (column '{node.name}')")
        raise not_supported(f"column attribute '{constraint.sql('starrocks')}' of column '{node.name}'")


def check_schema_item(node: exp.Expression) -> None:
    """Refuse what a CREATE TABLE column list holds besides columns and PRIMARY KEY(...) (INDEX ...)."""
    if isinstance(node, exp.ColumnDef):
        check_column(node)
    elif isinstance(node, exp.PrimaryKey):
        return
    elif isinstance(node, exp.IndexColumnConstraint):
        # A bitmap index only speeds up StarRocks' scans (kept and shown); GIN, NGRAMBF and VECTOR
        # indexes bring functions and options of their own.
        options = node.args.get("options") or []
        using = [o.args.get("using") for o in options if o.args.get("using")]
        others = [o for o in options if not o.args.get("using") and not o.args.get("comment")]
        if node.args.get("kind") or [str(u).upper() for u in using] != ["BITMAP"] or others:
            raise not_supported(f"INDEX '{node.name}' ({node.sql('starrocks')})")
    else:
        raise not_supported(f"'{node.sql('starrocks')}' in a column list")


def check_table_clause(prop: exp.Expression) -> None:
    """Refuse CREATE TABLE clauses Cairn would drop (key types, expression partitioning, ...)."""
    if isinstance(prop, exp.PartitionByListProperty):
        # RANGE takes an expression (sql.expression_partitions.range_expression), LIST only columns.
        for expression in prop.args.get("partition_expressions") or []:
            if not isinstance(expression, exp.Column):
                raise not_supported(f"Partitioning by the expression '{expression.sql('starrocks')}'")
        return
    if isinstance(prop, exp.RollupProperty):
        raise not_supported("ROLLUP")
    if isinstance(prop, exp.EngineProperty) and prop.name.upper() != "OLAP":
        raise not_supported(f"ENGINE = {prop.name}")

