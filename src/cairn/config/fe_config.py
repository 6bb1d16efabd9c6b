"""`fe.conf`: the frontend's configuration, with StarRocks' key names (REFERENCE.md)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, PrivateAttr, SecretStr, field_validator

from cairn import keyring
from cairn.config.cluster_credential import resolve_credential
from cairn.config.conf_model import ConfModel, LogLevel, Port, conf_bool
from cairn.config.hosts import resolve_host
from cairn.errors import ConfigError
from cairn.secrets import register_secret


class FeConfig(ConfModel):
    """Every `fe.conf` key Cairn reads. Unknown keys are kept in `unknown_keys` and never fatal."""

    _credential: str | None = PrivateAttr(default=None)
    FILE_NAME: ClassVar[str] = "fe.conf"

    # Ports (StarRocks defaults).
    http_port: Port = 8030
    rpc_port: Port = 9020
    query_port: Port = 9030
    edit_log_port: Port = 9010
    priority_networks: str = ""
    frontend_address: str = "127.0.0.1"
    # Cairn: a MySQL connection that has not finished its handshake (greeting, login) after this
    # many seconds is closed, like MySQL's connect_timeout. Idle connections follow wait_timeout.
    mysql_handshake_timeout_second: float = Field(default=10.0, gt=0)

    # Where the FE keeps its local cache of metadata. Durable state lives on the storage volume.
    meta_dir: str = "./cairn-data/meta"
    sys_log_level: LogLevel = "INFO"

    # Shared-data storage.
    run_mode: str = "shared_data"
    cloud_native_storage_type: str = "S3"
    enable_load_volume_from_conf: bool = False
    aws_s3_path: str = ""
    aws_s3_region: str = ""
    aws_s3_endpoint: str = ""
    aws_s3_access_key: SecretStr = SecretStr("")
    aws_s3_secret_key: SecretStr = SecretStr("")
    # Cairn: the keys compute nodes get for the builtin volume instead of the two above (a principal
    # allowed only the cluster's data prefix); unset, nodes get the FE's keys and the FE warns.
    aws_s3_compute_access_key: SecretStr = SecretStr("")
    aws_s3_compute_secret_key: SecretStr = SecretStr("")
    aws_s3_enable_path_style_access: bool | None = None
    # StarRocks' key (a BE/CN setting there): how long one object storage request may take before it
    # counts as failed and is retried; unset, 60 s. Applied to the volume loaded from this file.
    object_storage_request_timeout_ms: int | None = Field(default=None, gt=0)
    # Cairn: the local directory volume used when no S3 volume is loaded from the conf.
    local_storage_path: str = "./cairn-data/storage"
    # Cairn: choose a cluster when the volume holds several.
    cluster_id: str = ""

    # Cairn: the catalog key (secrets at rest, journal authentication), base64 of 32 bytes; previous
    # keys, comma-separated, are still accepted for reading after a rotation. Empty: the environment
    # (CAIRN_CATALOG_ENCRYPTION_KEY, CAIRN_CATALOG_ENCRYPTION_PREVIOUS_KEYS), else the key file.
    catalog_encryption_key: SecretStr = SecretStr("")
    catalog_encryption_previous_keys: SecretStr = SecretStr("")

    # FE high availability. StarRocks' key: a follower that has heard nothing from the leader for this
    # long tries to take the lead (Cairn's default is lower than StarRocks' 30 s: correctness rests on
    # the journal's conditional appends, so a wrong guess costs a re-election, never data). FEs
    # heartbeat each other five times per timeout, at most once a second.
    bdbje_heartbeat_timeout_second: float = Field(default=5.0, gt=0)
    # StarRocks' key: a follower whose replay is more than this many seconds behind is not "ready".
    meta_delay_toleration_second: float = Field(default=10.0, gt=0)

    # Journal checkpoints (DESIGN invariant 3).
    checkpoint_interval_entries: int = Field(default=1000, ge=1)
    checkpoint_interval_seconds: float = Field(default=600.0, gt=0)

    # Cluster snapshots.
    automated_cluster_snapshot_interval_seconds: int = Field(default=600, ge=1)
    automated_cluster_snapshot_retention_count: int = Field(default=1, ge=1)
    cluster_snapshot_pitr_window_seconds: int = Field(default=0, ge=0)

    # Compute nodes: heartbeats (StarRocks' keys) and what to do while none is registered.
    heartbeat_timeout_second: float = Field(default=5.0, gt=0)
    heartbeat_retry_times: int = Field(default=3, ge=1)
    heartbeat_interval_second: float = Field(default=5.0, gt=0)
    # Cairn: with no compute node registered, run data work in the FE's embedded engine (the
    # embedded default); false makes such statements fail, saying that no compute node exists.
    embedded_compute_node: bool = True
    # Cairn: run queries on the distributed engine (issue #14: Ray's head beside the leader FE, a
    # Ray worker in every CN that has it on too, DataFusion running the plan's fragments). Off: no
    # Ray process starts and queries run as before.
    cairn_distributed_engine: bool = False
    # Admission control of the distributed engine's queries: StarRocks' query queue (v1) names,
    # global variables there, fe.conf keys here. With enable_query_queue_select, at most
    # query_queue_concurrency_limit (> 0) queries run on the engine at once; up to
    # query_queue_max_queued_queries (> 0; 0: no bound) more wait, each for at most
    # query_queue_pending_timeout_second, then fail. Only the leader runs the engine's head, so the
    # limit holds for the whole cluster.
    enable_query_queue_select: bool = False
    query_queue_concurrency_limit: int = Field(default=0, ge=0)
    query_queue_max_queued_queries: int = Field(default=1024, ge=0)
    query_queue_pending_timeout_second: int = Field(default=300, ge=1)

    # Cairn: the cluster credential FEs and CNs share (config/cluster_credential.py: also from a file
    # or the environment).
    cluster_credential: SecretStr = SecretStr("")
    cluster_credential_file: str = ""
    # Cairn: reach compute nodes and the other FEs over TLS, trusting the certificates this CA (PEM) signed.
    cluster_tls_ca_file: str = ""
    # Cairn: serve the FE peer service (on edit_log_port) over TLS with this certificate and key (PEM).
    cluster_tls_cert_file: str = ""
    cluster_tls_key_file: str = ""

    # Compaction (StarRocks' key: a tablet is compacted once it has this many rowsets).
    lake_compaction_score_selector_min_score: int = Field(default=10, ge=2)
    lake_compaction_interval_seconds: float = Field(default=10.0, gt=0)

    # Stream Load: the largest body accepted, in MiB (StarRocks' key and default).
    streaming_load_max_mb: int = Field(default=102400, ge=1)
    # Loads (Cairn's own key): the memory a load may hold in rows between reading and writing them,
    # in MiB. Stream Load reads its body in pieces of 1/16 of it, a few ahead; rows wait for their
    # row group in half of it. Larger makes larger row groups on tables with many tablets.
    load_buffer_mb: int = Field(default=512, ge=1)
    # StarRocks' key: how many partitions an expression-partitioned table may have loads make.
    max_automatic_partition_number: int = Field(default=4096, ge=0)
    # StarRocks' key: how many partitions one load may make in an expression-partitioned table.
    auto_partition_max_creation_number_per_load: int = Field(default=4096, ge=0)

    # StarRocks' key: how many rows one call reading information_schema.partitions_meta fetches from
    # the FE. Cairn reads its catalog in one pass, so the answer is the same whatever it says.
    max_get_partitions_meta_result_count: int = Field(default=100000, ge=1)

    # StarRocks' key: CREATE TEMPORARY TABLE (and its LIKE and AS SELECT forms) is allowed.
    enable_experimental_temporary_table: bool = True

    # Garbage collection.
    vacuum_grace_period_seconds: float = Field(default=600.0, ge=0)
    vacuum_interval_seconds: float = Field(default=300.0, gt=0)
    # StarRocks' key: how long dropped tables and partitions stay in the recycle bin.
    catalog_trash_expire_second: float = Field(default=86400.0, ge=0)

    @field_validator("enable_load_volume_from_conf", "aws_s3_enable_path_style_access", "embedded_compute_node",
                     "cairn_distributed_engine", "enable_query_queue_select",
                     "enable_experimental_temporary_table", mode="before")
    @classmethod
    def _bool_words(cls, value: Any) -> Any:
        return conf_bool(value)

    @property
    def bind_address(self) -> str:
        """The address the FE's servers listen on: `frontend_address`, resolved through `CAIRN_HOSTS`
        when it is a name the map holds (the name itself stays what peers know this FE by)."""
        return resolve_host(self.frontend_address)

    @property
    def loads_s3_volume(self) -> bool:
        """True when the builtin storage volume comes from the `aws_s3_*` keys."""
        return self.enable_load_volume_from_conf and self.cloud_native_storage_type.upper() == "S3"

    def after_load(self) -> None:
        keyring.install(keyring.resolve(self.catalog_encryption_key.get_secret_value(),
                                        self.catalog_encryption_previous_keys.get_secret_value()))
        register_secret(self.aws_s3_secret_key.get_secret_value())
        register_secret(self.aws_s3_access_key.get_secret_value())
        register_secret(self.aws_s3_compute_secret_key.get_secret_value())
        register_secret(self.aws_s3_compute_access_key.get_secret_value())

    @property
    def peer_tls(self) -> bool:
        """True when the FE peer service serves TLS (both the certificate and its key are configured)."""
        if bool(self.cluster_tls_cert_file) != bool(self.cluster_tls_key_file):
            raise ConfigError("fe.conf: set both cluster_tls_cert_file and cluster_tls_key_file, or neither")
        return bool(self.cluster_tls_cert_file)

    @property
    def credential(self) -> str | None:
        """The cluster credential (conf keys, then the environment); None when none is set."""
        if self._credential is None:
            self._credential = resolve_credential(self.cluster_credential, self.cluster_credential_file)
        return self._credential
