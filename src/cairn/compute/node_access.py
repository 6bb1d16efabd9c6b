"""NodeDataAccess: DataAccess over compute nodes, or the FE's embedded engine while none is registered.

A scan is cut into one fragment per node: the tablets each node owns (ComputeNodeRegistry), with
the query's projection and pushed-down filter. Fragments run concurrently; the Arrow results come
back and are bound on the FE's DuckDB connection, which finishes the query. A node that fails
(killed, unreachable) is taken out and its fragment runs again on the others, so a statement
either gets every tablet's rows exactly once or fails with a clear error — never a partial answer.
Pins against vacuum stay in the FE (the embedded engine's pin counts).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.flight as flight
from sqlglot import exp

from cairn import errors
from cairn.catalog.model import Table
from cairn.compute.fragment import fragment
from cairn.compute.registry import ComputeNodeRegistry, NodeState
from cairn.compute.requests import (
    ROWSETS_VIEW,
    WRITTEN_ROWSETS,
    CompactRequest,
    RemoteError,
    RowsetRef,
    ScanRequest,
    VolumeRef,
    WriteRequest,
)
from cairn.compute.spooled_load import spool
from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError, ComputeNodeFailedError, NoComputeNodeError, VolumeNotRegisteredError
from cairn.lake.keyed import already_merged
from cairn.lake.manifest import MANIFESTS, Rowset
from cairn.lake.rowset_writer import WrittenRowset
from cairn.lake.sqltext import aliased, cast, column, create_temp_view, sql
from cairn.lake.sqltext import table as sqltable
from cairn.lake.tablet_files import LoadMemory
from cairn.query.data_access import LocalDataAccess, TableScan, column_expressions, empty_relation
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore
from cairn.storage.volume import COMPUTE_ACCESS_KEY, COMPUTE_SECRET_KEY, StorageVolume

log = logging.getLogger(__name__)

T = TypeVar("T")
# Rows per record batch a load streams to its compute node.
WRITE_BATCH_ROWS = 1 << 17


class _NodeFailed(Exception):
    """A node could not do its part (connection refused or lost, node died)."""


def _remote(exc: flight.FlightError) -> Exception | None:
    """The error a node raised on purpose (query, storage or refusal), or None for a node failure."""
    # A node's own error may come back as another Flight error kind (raised mid-stream, or while a
    # put is still sending); what marks it is the RemoteError it carries.
    text = str(exc)
    start = text.find("{")
    if start < 0:
        return None
    try:
        found = RemoteError.model_validate(json.JSONDecoder().raw_decode(text, start)[0])
    except ValueError:
        return None
    if found.kind == "duckdb":
        kind = getattr(duckdb, found.name, duckdb.Error)
        return kind(found.message.replace(f'"{ROWSETS_VIEW}"', "table").replace(ROWSETS_VIEW, "table"))
    kind = getattr(errors, found.name, CairnError)
    return (kind if isinstance(kind, type) and issubclass(kind, CairnError) else CairnError)(found.message)


def _stable_number(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class NodeDataAccess:
    """Sends scans, writes and compactions to compute nodes (see the module docstring)."""

    def __init__(self, local: LocalDataAccess, registry: ComputeNodeRegistry, config: FeConfig) -> None:
        self.local = local
        self.registry = registry
        self.config = config
        self.fragments_sent = 0
        self.retries = 0
        self._warned_volumes: set[str] = set()

    # -- pins and counters live in the FE -------------------------------------------------------

    def pin(self, keys: list[str]) -> list[str]:
        return self.local.pin(keys)

    def release(self, keys: list[str]) -> None:
        self.local.release(keys)

    def pinned(self) -> set[str]:
        return self.local.pinned()

    @property
    def partitions_read(self) -> int:
        return self.local.partitions_read

    @property
    def objects_read(self) -> int:
        return self.local.objects_read

    def splits_work(self) -> bool:
        return self.uses_nodes()

    def uses_nodes(self) -> bool:
        """True when compute nodes are registered; False to use the embedded engine. Raises
        NoComputeNodeError when none is registered and the embedded engine is switched off."""
        if self.registry.registered():
            return True
        if self.config.embedded_compute_node:
            return False
        raise NoComputeNodeError(
            "Compute node not found. No compute node is registered: add one with "
            "ALTER SYSTEM ADD COMPUTE NODE \"host:heartbeat_service_port\"")

    # -- running work on nodes, with retry on the others -------------------------------------------

    def _on_nodes(self, items: list[int], volume: StorageVolume,
                  work: Callable[[NodeState, list[int]], T]) -> list[T]:
        """Run `work(node, its items)` for every node owning some of `items`, concurrently; items of
        a node that fails go to the remaining nodes, until all are done or no node is left. A node
        that does not know `volume` yet is given its definition, and the work runs again."""
        failed: dict[str, str] = {}
        pending, results = list(items), []
        while pending:
            nodes = self.registry.alive(exclude=failed)
            if not nodes:
                if failed:
                    raise ComputeNodeFailedError(
                        "Compute node failed while running the statement and no other is alive: "
                        + "; ".join(f"{a}: {m}" for a, m in failed.items()))
                states = self.registry.states()
                down = "; ".join(f"{s.address} ({s.err_msg or 'no heartbeat yet'})" for s in states)
                raise NoComputeNodeError(f"Compute node not found. Check if any compute node is down: {down}")
            groups = self.registry.assign(pending, nodes)
            by_address = {n.address: n for n in nodes}
            pending = []

            def attempt(address: str) -> T:
                try:
                    node = by_address[address]
                    try:
                        return work(node, groups[address])
                    except flight.FlightError as exc:
                        if not isinstance(_remote(exc), VolumeNotRegisteredError):
                            raise
                    self._register(node, volume)
                    return work(node, groups[address])
                except flight.FlightError as exc:
                    remote = _remote(exc)
                    if remote is not None:
                        raise remote from None
                    raise _NodeFailed(str(exc).splitlines()[0]) from None
                except (OSError, pa.ArrowException) as exc:
                    raise _NodeFailed(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

            with ThreadPoolExecutor(max_workers=len(groups)) as pool:
                futures = {address: pool.submit(attempt, address) for address in groups}
                self.fragments_sent += len(futures)
                for address, future in futures.items():
                    try:
                        results.append(future.result())
                    except _NodeFailed as exc:
                        failed[address] = str(exc)
                        self.registry.mark_failed(address, str(exc))
                        pending.extend(groups[address])
            if pending:
                self.retries += 1
                log.warning("retrying %d items of failed compute nodes on the others", len(pending))
        return results

    def _node_volume(self, volume: StorageVolume) -> StorageVolume:
        """What nodes are given of `volume`: its compute credentials in place of its own keys. A volume
        without them still works, with the FE's keys; that is logged once per volume, as nodes can
        then reach the cluster's metadata too."""
        if volume.gives_nodes_its_own_keys and volume.name not in self._warned_volumes:
            self._warned_volumes.add(volume.name)
            log.warning("storage volume %s has no compute credentials: compute nodes are given its own keys, "
                        "which reach the cluster's metadata as well as its data; set '%s' and '%s' "
                        "(ALTER STORAGE VOLUME, or aws_s3_compute_access_key / aws_s3_compute_secret_key in "
                        "fe.conf for the builtin volume) to keys allowed only '<location>/<cluster id>/data/'",
                        volume.name, COMPUTE_ACCESS_KEY, COMPUTE_SECRET_KEY)
        return volume.for_compute_nodes()

    def _register(self, node: NodeState, volume: StorageVolume) -> None:
        """Give `node` the definition of `volume` as nodes see it (compute credentials included), over
        the authenticated channel."""
        action = flight.Action("register_volume", volume.model_dump_json().encode())
        list(self.registry.client(node).do_action(action))

    # -- DataAccess ---------------------------------------------------------------------------

    def bind(self, con: duckdb.DuckDBPyConnection, view_name: str, scan: TableScan) -> list[str]:
        if not self.uses_nodes():
            return self.local.bind(con, view_name, scan)
        table = scan.table
        read = [p for p in scan.partitions if p.manifest_key]
        manifests = MANIFESTS.get_many(scan.store, [key for p in read if (key := p.manifest_key)])
        tablets: dict[int, list[Rowset]] = {}
        for partition, manifest in zip(read, manifests):
            for tablet, rowsets in manifest.tablets.items():
                if rowsets and (partition.tablet_ids is None or tablet in partition.tablet_ids):
                    tablets[tablet] = rowsets
        keys = self.local.pin([r.key for rowsets in tablets.values() for r in rowsets])
        self.local.partitions_read += len(scan.partitions)
        self.local.objects_read += len(keys)
        # The fragment over no rows: its shape, and the whole answer when no tablet has data.
        nothing = exp.select(*column_expressions(table)).from_(
            empty_relation(table).subquery("__empty")).subquery(ROWSETS_VIEW)
        on_nothing = fragment(table, scan.columns, scan.filters, scan.aggregate, nothing)
        if not tablets:
            con.execute(sql(create_temp_view(view_name, on_nothing)))
            return keys
        # Arrow carries some types differently (HUGEINT comes back as DECIMAL(38,0)): cast them back.
        shape = con.sql(sql(on_nothing))
        volume = self._node_volume(scan.store.volume)
        request = ScanRequest(volume=VolumeRef.of(volume),
                              cluster_id=ClusterKeys.of_key(keys[0]).cluster_id, table=table, rowsets=[], columns=scan.columns, filters=scan.filters,
                              aggregate=scan.aggregate, merged=already_merged(tablets.values()))

        def scan_on(node: NodeState, items: list[int]) -> pa.Table:
            refs = [RowsetRef(key=r.key, checksum=r.checksum, deletes=r.deletes,
                              schema_version=r.schema_version) for t in items for r in tablets[t]]
            ticket = flight.Ticket(request.model_copy(update={"rowsets": refs}).model_dump_json().encode())
            return self.registry.client(node).do_get(ticket).read_all()

        parts = self._on_nodes(sorted(tablets), volume, scan_on)
        data = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        con.register(f"{view_name}__rows", data)
        casts = [aliased(cast(column(name), str(kind)), name) for name, kind in zip(shape.columns, shape.types)]
        con.execute(sql(create_temp_view(view_name, exp.select(*casts).from_(sqltable(f"{view_name}__rows")))))
        return keys

    def write(self, con: duckdb.DuckDBPyConnection, select: exp.Query, store: ObjectStore, keys: ClusterKeys,
              db_id: int, table: Table, scratch: Path) -> tuple[int, list[WrittenRowset]]:
        if not self.uses_nodes():
            return self.local.write(con, select, store, keys, db_id, table, scratch)
        reader = con.sql(sql(select)).to_arrow_reader(WRITE_BATCH_ROWS)
        try:
            return self._write_spooled(reader.schema, reader, store, keys, db_id, table, scratch)
        finally:
            reader.close()

    def write_batches(self, schema: pa.Schema, batches: Iterable[pa.Table], store: ObjectStore, keys: ClusterKeys,
                      db_id: int, table: Table, scratch: Path, buffer_bytes: int,
                      memory: LoadMemory | None = None) -> tuple[int, list[WrittenRowset]]:
        if not self.uses_nodes():
            return self.local.write_batches(schema, batches, store, keys, db_id, table, scratch, buffer_bytes, memory)
        return self._write_spooled(schema, batches, store, keys, db_id, table, scratch)

    def _write_spooled(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch | pa.Table], store: ObjectStore,
                       keys: ClusterKeys, db_id: int, table: Table, scratch: Path) -> tuple[int, list[WrittenRowset]]:
        """Spool the routed rows once, then send every node the rows of the tablets it owns, all
        nodes at once; a failed node's tablets go to the others (`_on_nodes`)."""
        try:
            spooled = spool(batches, schema, scratch / "routed.arrow", table)
            if not spooled.slots:
                return 0, []
            volume = self._node_volume(store.volume)
            request = WriteRequest(volume=VolumeRef.of(volume), cluster_id=keys.cluster_id, db_id=db_id, table=table)
            descriptor = flight.FlightDescriptor.for_command(request.model_dump_json().encode())

            def write_on(node: NodeState, tablet_ids: list[int]) -> tuple[int, list[WrittenRowset]]:
                writer, answers = self.registry.client(node).do_put(descriptor, schema)
                try:
                    for batch in spooled.batches_for(tablet_ids):
                        writer.write_batch(batch)
                    writer.done_writing()
                    answer = json.loads(answers.read().to_pybytes())
                finally:
                    writer.close()
                return answer["rows"], WRITTEN_ROWSETS.validate_python(answer["rowsets"])

            written = self._on_nodes(spooled.tablet_ids, volume, write_on)
            return sum(rows for rows, _ in written), [rowset for _, rowsets in written for rowset in rowsets]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def compact(self, store: ObjectStore, rowsets: list[Rowset], target_key: str, table: Table | None = None) -> Rowset:
        if not self.uses_nodes():
            return self.local.compact(store, rowsets, target_key, table)
        volume = self._node_volume(store.volume)
        body = CompactRequest(volume=VolumeRef.of(volume), cluster_id=ClusterKeys.of_key(target_key).cluster_id,
                              rowsets=rowsets, target_key=target_key, table=table).model_dump_json()

        def compact_on(node: NodeState, _items: list[int]) -> Rowset:
            answers = list(self.registry.client(node).do_action(flight.Action("compact", body.encode())))
            return Rowset.model_validate_json(answers[0].body.to_pybytes())

        return self._on_nodes([_stable_number(target_key.rsplit("/", 1)[0])], volume, compact_on)[0]
