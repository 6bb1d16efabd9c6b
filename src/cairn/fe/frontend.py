"""Frontend: opens a cluster from its storage volume, leads its journal, and wires its services.

Start-up = choose the cluster, open its newest incarnation, load the newest checkpoint image and
replay the entries after it, then take the log with an `epoch_start` entry (DESIGN invariant 2).
This is the one place where the FE's parts are built and given to each other: every service gets
the narrow interfaces it uses (the committer, the store resolver, the catalog view, the pins),
never the Frontend.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from cairn import __version__
from cairn.auth.privileges import has_privilege
from cairn.catalog.catalog import Catalog
from cairn.catalog.model import FrontendNode
from cairn.catalog.ops import AddFrontend, CreateStorageVolume, DropFrontend, Op
from cairn.catalog.view import CatalogView
from cairn.compaction.scheduler import CompactionScheduler
from cairn.compute.node_access import NodeDataAccess
from cairn.compute.registry import ComputeNodeRegistry
from cairn.config.fe_config import FeConfig
from cairn.errors import FrontendMembershipError, PeerUnavailableError
from cairn.fe import temporary_sweep
from cairn.fe.committer import JournalCommitter
from cairn.fe.connections import Connections
from cairn.fe.engine_host import EngineHost
from cairn.fe.frontends_table import TABLE_COLUMNS, TABLE_TYPES, frontend_rows
from cairn.fe.leadership import REPLAY_SECONDS, Leadership, heartbeat_seconds
from cairn.fe.membership import Membership
from cairn.fe.metrics import FrontendMetrics
from cairn.fe.peer_client import PeerClient
from cairn.fe.peers import FrontendRole, FrontendStatus, JoinRequest
from cairn.fe.scheduler import BackgroundScheduler
from cairn.journal.cluster import (
    builtin_volume,
    choose_cluster,
    clusters_on_volume,
    read_cluster_file,
    write_cluster_file,
)
from cairn.journal.entry import JournalEntry
from cairn.journal.image import CheckpointImage
from cairn.journal.incarnation import choose_incarnation, create_incarnation, new_cluster_incarnation
from cairn.journal.log import Journal
from cairn.journal.position import JournalPosition
from cairn.lake.auto_partition import PartitionLimits
from cairn.lake.load import LoadContext
from cairn.query import information_schema
from cairn.query.context import QueryContext
from cairn.query.data_access import LocalDataAccess
from cairn.query.engine import QueryEngine
from cairn.query.virtual_tables import VirtualTables
from cairn.snapshot.job import SnapshotJobs
from cairn.storage.engine_sandbox import SandboxedEngine
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_cache import ObjectCache
from cairn.storage.object_store import ObjectStore, open_store
from cairn.storage.resolver import VolumeStores
from cairn.storage.volume import StorageVolume, VolumeType
from cairn.vacuum.live_set import LiveSources
from cairn.vacuum.vacuum import Vacuum

log = logging.getLogger(__name__)

# `--join`: how often a starting FE asks for membership before it gives up, and the pause between.
JOIN_ATTEMPTS = 30
JOIN_RETRY_SECONDS = 1.0
# The snapshot schedule is checked this often; the interval itself is a catalog setting.
SNAPSHOT_TICK_SECONDS = 1.0


class Frontend:
    """One FE process's view of its cluster. Create with `Frontend.open(config)`."""

    def __init__(self, config: FeConfig) -> None:
        self.config = config
        self.peer_client: PeerClient
        self.name = f"{config.frontend_address}_{config.edit_log_port}_{uuid.uuid4().hex[:8]}"
        self.start_time = time.time()
        self._join_requested = False
        # The sole member this FE replaces (it started without --helper on a one-FE cluster elsewhere).
        self._replaces = ""
        self.meta_dir = Path(config.meta_dir).expanduser().resolve()
        self.meta_volume: StorageVolume = builtin_volume(config)
        self.meta_store: ObjectStore = open_store(self.meta_volume)
        self.created_cluster = False
        self.keys: ClusterKeys
        self.committer: JournalCommitter
        self.stores = VolumeStores(lambda name: self.catalog.storage_volume(name), self.meta_volume,
                                   self.meta_store)
        self.metrics = FrontendMetrics(lambda: self.catalog.state, lambda: self.position.entry_id,
                                       lambda: self.journal.rejected, lambda: self.is_leader,
                                       lambda: self.config.automated_cluster_snapshot_interval_seconds)
        # One sandboxed DuckDB database per FE; each statement runs on its own cursor (own temp views).
        self.duckdb = SandboxedEngine(self.meta_dir / "tmp", self.meta_dir / "spill",
                                      lambda: [self.meta_dir / "cache", *self._local_data_directories()])
        self.scheduler = BackgroundScheduler()
        # The client connections on this FE (SHOW PROCESSLIST, KILL).
        self.connections = Connections()
        self.compute_nodes: ComputeNodeRegistry
        self.data_access: NodeDataAccess
        self.snapshots: SnapshotJobs
        self.vacuum: Vacuum
        self.compaction: CompactionScheduler
        self.loads: LoadContext
        self.engine: QueryEngine
        self.membership: Membership
        self.leadership: Leadership

    # -- start-up ---------------------------------------------------------------------------

    @classmethod
    def open(cls, config: FeConfig, helper: str | None = None, lead_at_once: bool = False,
             join: bool = False) -> "Frontend":
        """Open (or create) the cluster, then lead it or follow its leader. `helper` (host:edit_log_port
        of an FE of the cluster) is how an FE joins on its first start; `lead_at_once` takes the lead
        without waiting for a silent leader (the FE that just restored the cluster); `join` asks the
        leader to list this FE as a follower when it is not a member (what a Kubernetes pod does
        instead of a person typing ALTER SYSTEM ADD FOLLOWER). Raises CairnError, having written
        nothing, when this FE may not join."""
        fe = cls(config)
        fe._join_requested = join
        fe._open(helper, lead_at_once)
        return fe

    def _peer_client(self, cluster_id: str) -> PeerClient:
        return PeerClient(cluster_id, self.config.credential, self.config.cluster_tls_ca_file)

    def _open(self, helper: str | None, lead_at_once: bool) -> None:
        joined = helper is not None and read_cluster_file(self.meta_dir) is None
        if helper is not None and joined:
            cluster_id, is_new = self._join(helper), False
        else:
            if helper is not None:  # as StarRocks does once an FE has its meta: it joined already
                log.info("--helper %s is not used: meta_dir %s already names this FE's cluster", helper,
                         self.meta_dir)
            cluster_id, is_new = choose_cluster(self.config, self.meta_store, self.meta_dir)
        self.keys = ClusterKeys(cluster_id)
        self.peer_client = self._peer_client(cluster_id)
        if is_new:
            create_incarnation(self.meta_store, self.keys, new_cluster_incarnation(cluster_id))
            log.info("created new cluster %s on %s", cluster_id, self.meta_store.description)
            self.created_cluster = True
        incarnation = choose_incarnation(self.meta_store, self.keys)
        self.committer = JournalCommitter(self.config, self.name, self.meta_store, self.keys)
        self.committer.load(incarnation)
        self._wire_services()
        leads = self._admit(joined, helper is not None, lead_at_once)
        write_cluster_file(self.meta_dir, cluster_id, self.meta_volume.location)
        if leads:
            self.leadership.lead_at_once()
        else:
            self.leadership.start_following()
        self.compute_nodes.heartbeat_all()
        self._schedule_background_work()

    def _join(self, helper: str) -> str:
        """The cluster the FE at `helper` serves, when that cluster lives on this FE's volume and lists
        this FE as a member. Only an FE of a cluster on this volume (holding its catalog key) answers
        this FE's peer token for that cluster, so each cluster on the volume is asked in turn."""
        candidates = [self.config.cluster_id] if self.config.cluster_id else clusters_on_volume(self.meta_store)
        if not candidates:
            raise FrontendMembershipError(
                f"Cannot join through --helper {helper}: this FE's storage volume {self.meta_store.description} "
                "holds no cluster (an FE joins the cluster whose metadata lives on its own storage volume)")
        why = ""
        for cluster_id in candidates:
            try:
                info = self._peer_client(cluster_id).cluster_info(helper)
            except PeerUnavailableError as exc:
                why = exc.message
                continue
            if self.address not in info.members and self._join_requested:
                self._request_membership(self._peer_client(cluster_id), info.leader_address or helper, helper)
            elif self.address not in info.members:
                raise FrontendMembershipError(
                    f"This FE ({self.address}) has not been added to cluster {cluster_id}. On the leader "
                    f"({info.leader_address or helper}) run ALTER SYSTEM ADD FOLLOWER \"{self.address}\" (or ADD "
                    "OBSERVER) first")
            log.info("joining cluster %s through helper %s", cluster_id, helper)
            return cluster_id
        raise FrontendMembershipError(f"Cannot join through --helper {helper}: {why}. The helper must be an FE of "
                                      "a cluster on this FE's storage volume, with the same catalog key")

    def _admit(self, joined: bool, has_helper: bool, lead_at_once: bool) -> bool:
        """May this FE serve its cluster, and does it lead at once? Raises FrontendMembershipError,
        having written nothing, for an FE the membership does not list, or one whose name (its
        host:edit_log_port) another running FE of the cluster already has.

        An FE the membership does not list takes over a one-FE cluster (its only FE moved to a new
        address) only when it was started without --helper (an FE given a helper was meant to join
        a cluster, as a restore's left-out FEs are) and that member does not answer."""
        try:
            running = self.peer_client.heartbeat(self.address, self.own_status())
        except PeerUnavailableError:
            pass
        else:
            raise FrontendMembershipError(
                f"Another FE of cluster {self.keys.cluster_id} already runs as {self.address} (name {running.name}): "
                "each FE needs its own host:edit_log_port")
        nodes = self.membership.nodes()
        me = self.membership.node(self.address)
        if not nodes or lead_at_once:
            return True  # a new cluster, one from before FEs were listed, or the FE that restored it
        if me is not None:
            # Nobody led this incarnation yet (a restore just opened it): any follower may start it.
            alone = [n.address for n in nodes] == [self.address]
            return me.type == "follower" and (alone or not self.catalog.state.leader_address)
        if self._join_requested and has_helper and not joined:
            # As in StarRocks, an FE that was dropped comes back only by a person's decision: --join
            # adds a fresh FE (a new pod), never one whose meta still holds the cluster it left.
            raise FrontendMembershipError(
                f"This FE ({self.address}) is not a member of cluster {self.keys.cluster_id} (it was dropped, or "
                f"left out by a restore), and its meta_dir {self.meta_dir} still holds that cluster: --join does "
                "not add it back. Either empty its meta_dir and start it again with --join, or on the leader run "
                f"ALTER SYSTEM ADD FOLLOWER \"{self.address}\" (or ADD OBSERVER) first")
        if self._join_requested and has_helper:
            self._request_membership(self.peer_client, self.catalog.state.leader_address or "", None)
            return False
        if len(nodes) == 1 and not joined and not has_helper and not self._answers(nodes[0].address):
            log.warning("FE %s takes over cluster %s from its only member, %s", self.address,
                        self.keys.cluster_id, nodes[0].address)
            self._replaces = nodes[0].address
            return True
        raise FrontendMembershipError(
            f"This FE ({self.address}) is not a member of cluster {self.keys.cluster_id} (its FEs: "
            f"{', '.join(n.address for n in nodes)}). On the leader run ALTER SYSTEM ADD FOLLOWER "
            f"\"{self.address}\" (or ADD OBSERVER), then start this FE with --helper <leader host>:<edit_log_port>")

    def _request_membership(self, client: PeerClient, leader: str, helper: str | None) -> None:
        """Ask the leader to list this FE as a follower. A leader that moved is found again through
        `helper` (or this FE's view of the journal); bounded retries, then FrontendMembershipError."""
        request = JoinRequest(host=self.config.frontend_address, edit_log_port=self.config.edit_log_port)
        why = "no leader is known"
        for _attempt in range(JOIN_ATTEMPTS):
            if leader:
                try:
                    answer = client.join(leader, request)
                except PeerUnavailableError as exc:
                    why = exc.message
                else:
                    log.info("the leader %s %s this FE (%s) as a follower", answer.leader_address,
                             "added" if answer.added else "already lists", self.address)
                    return
            time.sleep(JOIN_RETRY_SECONDS)
            if helper is not None:
                try:
                    leader = client.cluster_info(helper).leader_address
                except PeerUnavailableError as exc:
                    why = exc.message
        raise FrontendMembershipError(f"This FE ({self.address}) could not have itself added as a follower: {why}")

    def _answers(self, address: str) -> bool:
        """True when an FE of this cluster answers a heartbeat at `address`."""
        try:
            self.peer_client.heartbeat(address, self.own_status())
        except PeerUnavailableError:
            return False
        return True

    def _on_lead(self) -> None:
        """What a new leader does first: list itself as a member, record the builtin volume from
        its fe.conf, and settle snapshot jobs the previous leader left unfinished."""
        if self._replaces:
            replaced, self._replaces = self._replaces, ""
            self.commit_if(lambda c: DropFrontend(address=replaced) if any(
                n.address == replaced for n in c.state.frontends) else None)
        self.commit_if(lambda c: None if any(n.address == self.address for n in c.state.frontends) else AddFrontend(
            node=FrontendNode(host=self.config.frontend_address, edit_log_port=self.config.edit_log_port,
                              name=f"{self.config.frontend_address}_{self.config.edit_log_port}_"
                                   f"{int(time.time() * 1000)}")))
        self._refresh_builtin_volume()
        self.snapshots.recover_interrupted()
        self._sweep_temporary_tables()
        # The distributed engine's head runs beside the leader (cairn_distributed_engine).
        self.engine_host.start()

    def _refresh_builtin_volume(self) -> None:
        """The builtin volume is where this FE's conf says it is (as with StarRocks'
        `enable_load_volume_from_conf`): a bucket copied elsewhere, or new credentials in fe.conf,
        are recorded in the catalog at start-up."""
        existing = self.catalog.state.storage_volumes.get(self.meta_volume.name)
        if existing is not None and (existing.type, existing.locations, existing.properties) == (
                self.meta_volume.type, self.meta_volume.locations, self.meta_volume.properties):
            return
        if existing is None:
            volume = self.meta_volume.model_copy(update={"id": self.catalog.allocate_ids(1)[0]})
        else:
            volume = self.meta_volume.model_copy(update={"id": existing.id, "comment": existing.comment,
                                                          "enabled": existing.enabled})
            log.info("storage volume %s moved to %s (from fe.conf)", volume.name, volume.location)
        self.commit(lambda _catalog: CreateStorageVolume(volume=volume))

    def _wire_services(self) -> None:
        committer, catalog, config = self.committer, self.committer.catalog, self.config
        self.compute_nodes = ComputeNodeRegistry(catalog, config)
        self.data_access = NodeDataAccess(LocalDataAccess(ObjectCache(self.meta_dir / "cache"), self.duckdb),
                                          self.compute_nodes, config)
        self.snapshots = SnapshotJobs(committer, catalog, self.stores, self.keys, config, self.metrics)
        self.vacuum = Vacuum(LiveSources(catalog, self.data_access, lambda: self.snapshots.capturing,
                                         self.meta_store, self.stores, self.keys, config,
                                         lambda: committer.position if committer.is_leader else None))
        self.compaction = CompactionScheduler(committer, catalog, self.stores, self.keys, self.data_access, config)
        self.loads = LoadContext(catalog, committer, self.stores, self.keys, self.data_access,
                                 self.duckdb.scratch, self.metrics, self.config.load_buffer_mb << 20,
                                 lambda: PartitionLimits(self.config.max_automatic_partition_number,
                                                         self.config.auto_partition_max_creation_number_per_load))
        virtual_tables = VirtualTables()
        information_schema.register(virtual_tables)
        self.membership = Membership(catalog, self.own_status, config.bdbje_heartbeat_timeout_second)
        virtual_tables.register(information_schema.SCHEMA, "frontends", self._frontends_table)
        self.engine_host = EngineHost(config, self.compute_nodes, self.metrics)
        self.compute_nodes.engine_head = lambda: self.engine_host.address if committer.is_leader else None
        self.engine = QueryEngine(catalog, self.stores, self.data_access, self.duckdb, virtual_tables,
                                  self.engine_host if config.cairn_distributed_engine else None)
        self.leadership = Leadership(committer, self.membership, self.peer_client, config, self.address,
                                     self._on_lead)
        self.metrics.track_membership(lambda: self.own_status().role, lambda: self.replay_lag_seconds(),
                                      lambda: self.position.entry_id)

    def _schedule_background_work(self) -> None:
        config, scheduler = self.config, self.scheduler
        scheduler.add("journal replay", REPLAY_SECONDS, self.leadership.replay_tick)
        scheduler.add("fe heartbeats", heartbeat_seconds(config), self.leadership.heartbeat_tick)
        scheduler.add("checkpoint", min(5.0, config.checkpoint_interval_seconds), self.committer.checkpoint_if_due)
        scheduler.add("automated cluster snapshot", SNAPSHOT_TICK_SECONDS, self.snapshots.run_due)
        scheduler.add("vacuum", config.vacuum_interval_seconds, self._vacuum_while_leading)
        scheduler.add("heartbeats", config.heartbeat_interval_second, self.compute_nodes.heartbeat_all)
        scheduler.add("compaction", config.lake_compaction_interval_seconds, self.compaction.run_once)
        scheduler.add("temporary table sweep", temporary_sweep.SWEEP_SECONDS, self._sweep_temporary_tables)
        if config.cairn_distributed_engine:
            scheduler.add("engine head", config.heartbeat_interval_second, self._follow_engine_head)
        scheduler.start()

    def _follow_engine_head(self) -> None:
        """A follower runs its queries on the leader's engine head (the one its heartbeat names)."""
        if self.is_leader:
            return
        leader = self.leadership.leader_address()
        status = self.membership.heard(leader) if leader else None
        if status is not None and status.role is FrontendRole.LEADER:
            self.engine_host.follow(status.engine_address)

    def _sweep_temporary_tables(self) -> None:
        """Drop the temporary tables of FE processes that no longer run (a leader's start included:
        a restarted FE's sessions are gone)."""
        temporary_sweep.sweep(self.committer, self.catalog, self.membership, self.keys, self.name)

    def _vacuum_while_leading(self) -> None:
        if self.is_leader:
            self.vacuum.run()

    # -- this FE in its cluster ----------------------------------------------------------------

    @property
    def address(self) -> str:
        """`host:edit_log_port`: this FE's identity in the cluster's membership."""
        return f"{self.config.frontend_address}:{self.config.edit_log_port}"

    @property
    def role(self) -> FrontendRole:
        """LEADER, FOLLOWER or OBSERVER: what this FE is now."""
        return FrontendRole.LEADER if self.is_leader else self.leadership.role

    @property
    def ready(self) -> bool:
        """Serving reads with replay caught up to within `meta_delay_toleration_second`."""
        if self.leadership.excluded:
            return False
        return self.is_leader or self.replay_lag_seconds() <= self.config.meta_delay_toleration_second

    def replay_lag_seconds(self) -> float:
        """Seconds since this FE last saw the end of the journal (0 while it leads)."""
        return self.leadership.replay_lag_seconds()

    def _frontends_table(self, ctx: QueryContext, catalog: CatalogView) -> pa.Table:
        """information_schema.frontends: SHOW FRONTENDS's rows and each member's replay lag; only
        for users who may run SHOW FRONTENDS (ALL on *.*)."""
        rows = frontend_rows(self.membership, self.keys.cluster_id) if has_privilege(
            catalog.state, ctx.user, "ALL") else []
        arrays = [pa.array([row[i] for row in rows], type=t) for i, t in enumerate(TABLE_TYPES)]
        return pa.Table.from_arrays(arrays, names=TABLE_COLUMNS)

    def own_status(self) -> FrontendStatus:
        """What this FE says of itself in heartbeats, SHOW FRONTENDS and /api/health."""
        config = self.config
        return FrontendStatus(
            name=self.name, host=config.frontend_address, edit_log_port=config.edit_log_port,
            http_port=config.http_port, query_port=config.query_port, rpc_port=config.rpc_port,
            role=self.role, cluster_id=self.keys.cluster_id,
            incarnation=self.position.incarnation, epoch=self.catalog.state.epoch,
            replayed_journal_id=self.position.entry_id, start_time=self.start_time, version=__version__,
            ready=self.ready, replay_lag_seconds=self.replay_lag_seconds(), err_msg=self.leadership.excluded,
            engine_address=self.engine_host.address if self.is_leader else None)

    # -- the committer's state, as servers and statements read it ------------------------------

    @property
    def catalog(self) -> Catalog:
        return self.committer.catalog

    @property
    def journal(self) -> Journal:
        return self.committer.journal

    @property
    def position(self) -> JournalPosition:
        return self.committer.position

    @property
    def is_leader(self) -> bool:
        return self.committer.is_leader

    @property
    def not_leader_reason(self) -> str:
        return self.committer.not_leader_reason

    @property
    def on_commit(self) -> list[Callable[[JournalEntry, Op], None]]:
        return self.committer.on_commit

    def commit(self, build: Callable[[Catalog], Op]) -> JournalEntry:
        """See `JournalCommitter.commit`."""
        return self.committer.commit(build)

    def commit_if(self, build: Callable[[Catalog], Op | None]) -> JournalEntry | None:
        """See `JournalCommitter.commit_if`."""
        return self.committer.commit_if(build)

    def capture_image(self, while_locked: Callable[[CheckpointImage], None] | None = None) -> CheckpointImage:
        """See `JournalCommitter.capture_image`."""
        return self.committer.capture_image(while_locked)

    def checkpoint(self) -> JournalPosition:
        """Write a checkpoint image of the current catalog; return its position."""
        return self.committer.checkpoint()

    def catch_up(self, until: int | None = None) -> int:
        """Apply the log entries after the current position; return how many were applied."""
        return self.committer.catch_up(until)

    def store_for(self, volume_name: str) -> ObjectStore:
        """The ObjectStore of a storage volume the catalog knows (see `VolumeStores`)."""
        return self.stores(volume_name)

    def _local_data_directories(self) -> list[Path]:
        """The data prefix of every local volume the catalog lists: what the engine reads in place."""
        if not hasattr(self, "catalog"):
            return []
        with self.catalog.lock:
            names = [v.name for v in self.catalog.state.storage_volumes.values() if v.type == VolumeType.LOCAL]
        found = (self.store_for(name).local_path(self.keys.data_prefix) for name in names)
        return [path for path in found if path is not None]

    def close(self) -> None:
        self.scheduler.close()
        self.leadership.close()
        self.engine_host.close()
        self.duckdb.close()
