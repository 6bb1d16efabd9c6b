"""The DataFusion session a distributed query is planned and its fragments are run in: the settings
that let a fragment run alone in another process, the tables (lists of Parquet files) and the object
stores (one per storage volume) the session reads."""

from __future__ import annotations

import pyarrow as pa
from datafusion import SessionConfig, SessionContext
from datafusion.object_store import AmazonS3
from pydantic import BaseModel, ConfigDict, SecretStr

from cairn.errors import DistributedPlanError


class VolumeStore(BaseModel):
    """How the nodes read one storage volume's objects: an S3-compatible bucket. It travels to the
    workers inside a task, over the engine's authenticated channel; the secret key is a SecretStr,
    so no repr or log shows it."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    endpoint: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    allow_http: bool = False


class TableFiles(BaseModel):
    """A table as the Parquet files that hold its rows (local paths or `s3://bucket/key` URLs)."""

    model_config = ConfigDict(frozen=True)

    name: str
    files: tuple[str, ...]


# A join's build side up to this size is broadcast (gathered and sent whole to every task that
# probes it) instead of both sides being hash-exchanged. DataFusion's own defaults (1 MB, 128 Ki
# rows) are for the threads of one process; across nodes, broadcasting a few MB cost less than
# exchanging the probe side on TPC-H SF 1 (docs/architecture.md, "Distributed execution").
BROADCAST_BYTES = 16 * 1024 * 1024
BROADCAST_ROWS = 1024 * 1024


def session_config(partitions: int, broadcast_bytes: int = BROADCAST_BYTES,
                   broadcast_rows: int = BROADCAST_ROWS) -> SessionConfig:
    """DataFusion's settings for a distributed plan of `partitions` partitions per exchange, and
    for running one of its fragments alone in a worker process (`partitions` = 1)."""
    return (
        SessionConfig()
        .set("datafusion.optimizer.hash_join_single_partition_threshold", str(broadcast_bytes))
        .set("datafusion.optimizer.hash_join_single_partition_threshold_rows", str(broadcast_rows))
        .with_target_partitions(partitions)
        .with_information_schema(True)
        # Dynamic filters, and the work stealing between the partitions of one file scan, are
        # state shared by the operators of one process: a partition run alone in another process
        # would read every partition's rows.
        .set("datafusion.optimizer.enable_dynamic_filter_pushdown", "false")
        .set("datafusion.execution.enable_file_stream_work_stealing", "false")
        # Ray's zero-copy Arrow serialisation does not handle view types (it falls back to IPC,
        # and warns): strings are read as plain Utf8.
        .set("datafusion.execution.parquet.schema_force_view_types", "false")
        # An uncorrelated scalar subquery is otherwise a ScalarSubqueryExec whose expressions
        # cannot be decoded outside it; planned as a join, it is cut like any other.
        .set("datafusion.optimizer.enable_physical_uncorrelated_scalar_subquery", "false")
        # A round-robin repartition is an exchange like any other, and moves rows for no gain
        # when every partition already runs on its own node.
        .set("datafusion.optimizer.enable_round_robin_repartition", "false")
    )


# A build side collected once and probed by every partition (CollectLeft, a broadcast join) emits
# its unmatched rows (outer, semi and anti joins) when the last probing partition of the process
# ends; across processes none is last. A plan with such a join is planned again with lower broadcast
# thresholds, each a quarter of the one before, until no such join is broadcast: the joins whose
# build sides are smaller than the offending one's stay broadcast (on TPC-H Q21, two of five; Q2, six
# of eight), where hash-partitioning every join (Ballista's way) would add an exchange per join. The
# last step is 0: every join hash-partitioned.
THRESHOLD_STEP = 4
SMALLEST_THRESHOLD_BYTES = 4096
THRESHOLD_KEYS = ("datafusion.optimizer.hash_join_single_partition_threshold",
                  "datafusion.optimizer.hash_join_single_partition_threshold_rows")


def lower_thresholds(bytes_: int, rows: int) -> tuple[int, int]:
    """The broadcast thresholds of the next planning attempt after (`bytes_`, `rows`): a quarter of
    each, then 0 (no broadcast) once the bytes fall below a few KB."""
    if bytes_ // THRESHOLD_STEP < SMALLEST_THRESHOLD_BYTES:
        return 0, 0
    return bytes_ // THRESHOLD_STEP, rows // THRESHOLD_STEP


def _plain(t: pa.DataType) -> pa.DataType:
    if t == pa.string_view():
        return pa.string()
    if t == pa.binary_view():
        return pa.binary()
    return t


def plain_types(schema: pa.Schema) -> pa.Schema:
    """`schema` with view types (Utf8View, BinaryView) as their plain forms: Ray's zero-copy Arrow
    serialisation does not handle view types (it falls back to IPC, and warns), and a Parquet file's
    own schema may ask for them."""
    return pa.schema([f.with_type(_plain(f.type)) for f in schema], metadata=schema.metadata)


def register_volumes(ctx: SessionContext, volumes: tuple[VolumeStore, ...]) -> None:
    """Give `ctx` an object store for each volume, so `s3://bucket/...` paths read from it."""
    for v in volumes:
        secret = v.secret_access_key.get_secret_value() if v.secret_access_key is not None else None
        store = AmazonS3(bucket_name=v.bucket, region=v.region, access_key_id=v.access_key_id,
                         secret_access_key=secret, endpoint=v.endpoint, allow_http=v.allow_http)
        ctx.register_object_store("s3://", store, v.bucket)


def register_tables(ctx: SessionContext, tables: tuple[TableFiles, ...]) -> None:
    """Register each table under its name: one Parquet scan per file, a table of several files as
    their UNION ALL (DataFusion's Python API names one path per table, not a list of files)."""
    for t in tables:
        if not t.files:
            raise DistributedPlanError(f"table {t.name} has no data files to scan")
        schema = plain_types(ctx.read_parquet(t.files[0]).schema())
        frames = [ctx.read_parquet(f, schema=schema) for f in t.files]
        frame = frames[0]
        for other in frames[1:]:
            frame = frame.union(other)
        ctx.register_view(t.name, frame)
