"""ComputeService: a compute node's Arrow Flight data service (scans, writes, compactions).

Scans stream Arrow record batches back as DuckDB produces them; writes receive the checked,
routed rows of a load and answer with the rowsets they put; compactions merge one tablet's
rowsets. Objects are read through the node's bounded, checksummed disk cache. Errors go back as
a RemoteError in the Flight error's message, so the FE raises the same kind of error it would
have raised running the work itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.flight as flight
from pydantic import BaseModel, ValidationError
from sqlglot import exp

from cairn.compute.flight_auth import RequireCredential
from cairn.compute.fragment import fragment, parquet_source
from cairn.compute.requests import (
    WRITTEN_ROWSETS,
    CompactRequest,
    RemoteError,
    ScanRequest,
    VolumeRef,
    WriteRequest,
)
from cairn.config.cluster_credential import CREDENTIAL_ENV
from cairn.config.cluster_tls import read_pem
from cairn.config.cn_config import CnConfig
from cairn.errors import CairnError, ComputeRequestRefusedError, ConfigError, VolumeNotRegisteredError
from cairn.lake.merge import merge_rowsets
from cairn.lake.rowset_writer import write_rowsets
from cairn.lake.sqltext import table
from cairn.secrets import redact
from cairn.storage.engine_sandbox import SandboxedEngine
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_cache import ObjectCache
from cairn.storage.object_store import ObjectStore, open_store
from cairn.storage.volume import StorageVolume

log = logging.getLogger(__name__)

RequestT = TypeVar("RequestT", bound=BaseModel)
# The relation a write request's incoming record batches are registered as.
INCOMING = "__incoming"


def remote_error(exc: Exception) -> flight.FlightServerError:
    """The Flight error carrying `exc` back to the FE, its text free of secrets."""
    kind = "duckdb" if isinstance(exc, duckdb.Error) else "cairn"
    name = type(exc).__name__ if isinstance(exc, (duckdb.Error, CairnError)) else "CairnError"
    return flight.FlightServerError(RemoteError(kind=kind, name=name, message=redact(str(exc))).model_dump_json())


def refused(exc: ValidationError) -> flight.FlightServerError:
    """The Flight error answering a request a node does not accept (malformed, or naming what it must
    not touch); the first problem only, without the request's content."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = f"compute node refused the request: {first['msg']}" + (f" (at {where})" if where else "")
    return flight.FlightServerError(RemoteError(kind="cairn", name=ComputeRequestRefusedError.__name__,
                                                message=redact(message)).model_dump_json())


def parse(model: type[RequestT], data: bytes) -> RequestT:
    """`data` as a typed request; anything else is refused."""
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise refused(exc) from None


class ComputeService(flight.FlightServerBase):  # type: ignore[misc]  # pyarrow ships no types
    """The Flight server of one compute node. Every call must carry the cluster credential."""

    def __init__(self, config: CnConfig, location: str) -> None:
        credential = config.credential
        if credential is None:
            raise ConfigError("cn.conf: no cluster credential: set cluster_credential or cluster_credential_file "
                              f"(or the environment variable {CREDENTIAL_ENV}) to the value the FEs hold")
        certificates = [(read_pem(config.cluster_tls_cert_file, "cluster_tls_cert_file"),
                         read_pem(config.cluster_tls_key_file, "cluster_tls_key_file"))] if config.tls else None
        super().__init__(location, tls_certificates=certificates,
                         middleware={"credential": RequireCredential(credential)})
        self.credential = credential
        self.config = config
        self.root = Path(config.storage_root_path).expanduser().resolve()
        self.cache = ObjectCache(self.root / "cache", config.datacache_disk_size)
        self._local_data: set[Path] = set()
        self.engine = SandboxedEngine(self.root / "tmp", self.root / "spill",
                                      lambda: [self.cache.root, *self._local_data])
        self.started_at = time.time()
        self.counters: Counter[str] = Counter()
        self.running = 0
        self._lock = threading.Lock()
        self._volumes: dict[VolumeRef, StorageVolume] = {}
        # Set when the FE dropped this node (ALTER SYSTEM DROP COMPUTE NODE): its engine worker stops.
        self.dropped = threading.Event()
        # The engine head (and this node's id) the leader's last heartbeat named: the main thread
        # moves the engine worker there when it differs from the one it joined.
        self.engine_head: tuple[str, int] | None = None
        self._stores: dict[VolumeRef, ObjectStore] = {}

    # -- helpers -----------------------------------------------------------------------------

    def register_volume(self, volume: StorageVolume) -> VolumeRef:
        """Keep `volume`'s definition (in memory only) for the requests that will name it."""
        ref = VolumeRef.of(volume)
        with self._lock:
            self._volumes[ref] = volume
        return ref

    def store(self, ref: VolumeRef, cluster_id: str) -> ObjectStore:
        """The store of the volume `ref` names, opened once per definition; on a local volume, the
        cluster's data prefix becomes readable by the engine (and nothing else of the volume).
        Raises VolumeNotRegisteredError when no FE has given this node that definition yet."""
        with self._lock:
            volume = self._volumes.get(ref)
            if volume is None:
                raise VolumeNotRegisteredError(f"storage volume {ref.name} (version {ref.version}) is not "
                                               "registered on this compute node")
            store = self._stores.get(ref)
            if store is None:
                store = self._stores[ref] = open_store(volume)
            data = store.local_path(ClusterKeys(cluster_id).data_prefix)
            if data is not None:
                self._local_data.add(data)
            return store
    def _begin(self, kind: str) -> None:
        with self._lock:
            self.running += 1
            self.counters[kind] += 1

    def _end(self) -> None:
        with self._lock:
            self.running -= 1

    def _files(self, store: ObjectStore, request: ScanRequest) -> tuple[list[Path], list[str]]:
        """Local files of the request's rowsets: in place on a local volume, else from the cache
        (whose entries are held until the returned keys are released)."""
        keys = [r.key for r in request.rowsets]
        local = [path for path in map(store.local_path, keys) if path is not None]
        if len(local) == len(keys):
            return local, []
        paths = self.cache.fetch_all(store, keys, [r.checksum for r in request.rowsets])
        return paths, keys

    # -- Flight -------------------------------------------------------------------------------

    def do_get(self, context: flight.ServerCallContext, ticket: flight.Ticket) -> flight.FlightDataStream:
        request = parse(ScanRequest, ticket.ticket)
        self._begin("scans")
        try:
            if self.config.debug_scan_delay_seconds:
                time.sleep(self.config.debug_scan_delay_seconds)
            store = self.store(request.volume, request.cluster_id)
            files, held = self._files(store, request)
            query = fragment(request.table, request.columns, request.filters, request.aggregate,
                             parquet_source(request.table, files, [r.deletes for r in request.rowsets],
                                            request.merged, [r.schema_version for r in request.rowsets]))
            con = self.engine.cursor()
            reader = con.sql(query.sql(dialect="duckdb")).to_arrow_reader()
        except Exception as exc:
            self._end()
            raise remote_error(exc) from None
        return flight.GeneratorStream(reader.schema, self._stream(reader, con, store, held))

    def _stream(self, reader: pa.RecordBatchReader, con: duckdb.DuckDBPyConnection, store: ObjectStore,
                held: list[str]) -> Iterator[pa.RecordBatch]:
        try:
            for batch in reader:
                self.counters["rows_scanned"] += batch.num_rows
                yield batch
        except duckdb.Error as exc:
            raise remote_error(exc) from None
        finally:
            con.close()
            if held:
                self.cache.release(store, held)
            self._end()

    def do_put(self, context: flight.ServerCallContext, descriptor: flight.FlightDescriptor,
               reader: flight.MetadataRecordBatchReader, writer: flight.FlightMetadataWriter) -> None:
        request = parse(WriteRequest, descriptor.command)
        self._begin("writes")
        try:
            if self.config.debug_write_delay_seconds:
                time.sleep(self.config.debug_write_delay_seconds)
            store = self.store(request.volume, request.cluster_id)
            con = self.engine.cursor()
            try:
                con.register(INCOMING, reader.to_reader())
                rows, written = write_rowsets(con, exp.select("*").from_(table(INCOMING)), store,
                                              ClusterKeys(request.cluster_id), request.db_id, request.table,
                                              self.engine.scratch / uuid.uuid4().hex)
            finally:
                con.close()
            self.counters["rows_written"] += rows
            writer.write(pa.py_buffer(json.dumps({"rows": rows, "rowsets": WRITTEN_ROWSETS.dump_python(
                written, mode="json")}).encode()))
        except Exception as exc:
            raise remote_error(exc) from None
        finally:
            self._end()

    def do_action(self, context: flight.ServerCallContext, action: flight.Action) -> Iterator[bytes]:
        kind = action.type
        try:
            if kind == "compact":
                request = parse(CompactRequest, action.body.to_pybytes())
                self._begin("compactions")
                try:
                    rowset = merge_rowsets(self.engine, self.store(request.volume, request.cluster_id), self.cache,
                                           request.rowsets, request.target_key, request.table)
                finally:
                    self._end()
                return iter([rowset.model_dump_json().encode()])
            if kind == "register_volume":
                ref = self.register_volume(parse(StorageVolume, action.body.to_pybytes()))
                return iter([ref.model_dump_json().encode()])
            if kind == "clear_cache":
                self.cache.clear()
                return iter([b"{}"])
            if kind == "dropped":
                self.dropped.set()
                return iter([b"{}"])
        except flight.FlightError:
            raise
        except Exception as exc:
            raise remote_error(exc) from None
        raise flight.FlightServerError(
            RemoteError(kind="cairn", name="CairnError", message=f"unknown action '{kind}'").model_dump_json())

    def list_actions(self, context: flight.ServerCallContext) -> list[tuple[str, str]]:
        return [("compact", "merge one tablet's rowsets"), ("register_volume", "learn a storage volume's definition"),
                ("clear_cache", "empty the local object cache"),
                ("dropped", "this node left the cluster: stop its engine worker")]
