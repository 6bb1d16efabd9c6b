"""`fe.conf`: the frontend's configuration, with StarRocks' key names (REFERENCE.md)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from cairn.config.conf_file import read_conf_file
from cairn.errors import ConfigError
from cairn.secrets import register_secret

log = logging.getLogger(__name__)

# Keys that only mean something to a JVM or to StarRocks' start scripts.
JVM_ONLY_KEYS = frozenset(
    {"JAVA_OPTS", "JAVA_OPTS_FOR_JDK_9", "JAVA_OPTS_FOR_JDK_11", "JAVA_HOME", "LOG_DIR", "DATE",
     "STARROCKS_HOME", "LOG_CONSOLE"}
)


class FeConfig(BaseModel):
    """Every `fe.conf` key Cairn reads. Unknown keys are kept in `unknown_keys` and never fatal."""

    model_config = ConfigDict(validate_assignment=True, extra="ignore")

    # Ports (StarRocks defaults).
    http_port: int = 8030
    rpc_port: int = 9020
    query_port: int = 9030
    edit_log_port: int = 9010
    priority_networks: str = ""
    frontend_address: str = "127.0.0.1"

    # Where the FE keeps its local cache of metadata. Durable state lives on the storage volume.
    meta_dir: str = "./cairn-data/meta"
    sys_log_level: str = "INFO"

    # Shared-data storage.
    run_mode: str = "shared_data"
    cloud_native_storage_type: str = "S3"
    enable_load_volume_from_conf: bool = False
    aws_s3_path: str = ""
    aws_s3_region: str = ""
    aws_s3_endpoint: str = ""
    aws_s3_access_key: SecretStr = SecretStr("")
    aws_s3_secret_key: SecretStr = SecretStr("")
    aws_s3_enable_path_style_access: bool | None = None
    # Cairn: the local directory volume used when no S3 volume is loaded from the conf.
    local_storage_path: str = "./cairn-data/storage"
    # Cairn: choose a cluster when the volume holds several.
    cluster_id: str = ""

    # Journal checkpoints (DESIGN invariant 3).
    checkpoint_interval_entries: int = Field(default=1000, ge=1)
    checkpoint_interval_seconds: float = Field(default=600.0, gt=0)

    # Cluster snapshots.
    automated_cluster_snapshot_interval_seconds: int = Field(default=600, ge=1)
    automated_cluster_snapshot_retention_count: int = Field(default=1, ge=1)
    cluster_snapshot_pitr_window_seconds: int = Field(default=0, ge=0)

    # Garbage collection.
    vacuum_grace_period_seconds: float = Field(default=600.0, ge=0)
    vacuum_interval_seconds: float = Field(default=300.0, gt=0)
    # StarRocks' key: how long dropped tables and partitions stay in the recycle bin.
    catalog_trash_expire_second: float = Field(default=86400.0, ge=0)

    unknown_keys: list[str] = Field(default_factory=list, exclude=True)
    ignored_keys: list[str] = Field(default_factory=list, exclude=True)
    source: str = Field(default="<defaults>", exclude=True)

    @field_validator("enable_load_volume_from_conf", "aws_s3_enable_path_style_access", mode="before")
    @classmethod
    def _bool_words(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().lower() in {"true", "1", "yes", "on"}
        return value

    @property
    def loads_s3_volume(self) -> bool:
        """True when the builtin storage volume comes from the `aws_s3_*` keys."""
        return self.enable_load_volume_from_conf and self.cloud_native_storage_type.upper() == "S3"

    @classmethod
    def from_mapping(cls, values: dict[str, str], source: str = "<mapping>") -> "FeConfig":
        """Build a config from raw `key = value` pairs, sorting out unknown and JVM-only keys."""
        known = set(cls.model_fields) - {"unknown_keys", "ignored_keys", "source"}
        accepted = {k: v for k, v in values.items() if k in known}
        try:
            config = cls(**accepted)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{source}: invalid value for '{key}': {first['msg']}") from None
        config.ignored_keys = sorted(k for k in values if k in JVM_ONLY_KEYS)
        config.unknown_keys = sorted(k for k in values if k not in known and k not in JVM_ONLY_KEYS)
        config.source = source
        register_secret(config.aws_s3_secret_key.get_secret_value())
        register_secret(config.aws_s3_access_key.get_secret_value())
        return config

    @classmethod
    def load(cls, path: str | Path | None) -> "FeConfig":
        """Read `fe.conf` at `path`, or return the defaults when `path` is None."""
        if path is None:
            return cls()
        return cls.from_mapping(read_conf_file(path), str(path))

    def report_keys(self) -> None:
        """Log, once, the keys this FE accepted but does not use."""
        if self.ignored_keys:
            log.info("fe.conf: ignoring JVM-only keys: %s", ", ".join(self.ignored_keys))
        if self.unknown_keys:
            log.info("fe.conf: ignoring keys Cairn does not use: %s", ", ".join(self.unknown_keys))

    def set_runtime(self, key: str, value: str) -> None:
        """Change a key at runtime (ADMIN SET FRONTEND CONFIG); raises ConfigError if unknown."""
        if key not in type(self).model_fields or key in {"unknown_keys", "ignored_keys", "source"}:
            raise ConfigError(f"Config '{key}' does not exist")
        try:
            setattr(self, key, value)
        except ValidationError as exc:
            raise ConfigError(f"invalid value for '{key}': {exc.errors()[0]['msg']}") from None
