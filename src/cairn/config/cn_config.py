"""`cn.conf`: a compute node's configuration, with StarRocks' key names (REFERENCE.md)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field, PrivateAttr, SecretStr, field_validator

from cairn.config.cluster_credential import resolve_credential
from cairn.config.conf_model import ConfModel, LogLevel, Port, conf_bool
from cairn.config.hosts import resolve_host
from cairn.errors import ConfigError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(value: Any) -> Any:
    """`10G`, `512M`, `1073741824` → bytes (StarRocks writes cache sizes this way)."""
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match is None:
            raise ValueError(f"expected a size such as 10G or 536870912, got {value!r}")
        return int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    return value


class CnConfig(ConfModel):
    """Every `cn.conf` key Cairn reads. Unknown keys are kept in `unknown_keys` and never fatal."""

    _credential: str | None = PrivateAttr(default=None)
    FILE_NAME: ClassVar[str] = "cn.conf"

    # Ports (StarRocks defaults). thrift_port serves Cairn's data service (Arrow Flight).
    thrift_port: Port = 9060
    webserver_port: Port = 8040
    heartbeat_service_port: Port = 9050
    brpc_port: Port = 8060
    priority_networks: str = ""
    # Cairn: the address the node listens on (loopback by default).
    host: str = "127.0.0.1"

    # Cairn: the cluster credential FEs and CNs share (config/cluster_credential.py: also from a file
    # or the environment).
    cluster_credential: SecretStr = SecretStr("")
    cluster_credential_file: str = ""
    # Cairn: serve the data service and the HTTP ports over TLS with this certificate and key (PEM).
    cluster_tls_cert_file: str = ""
    cluster_tls_key_file: str = ""

    # Local disk cache of objects.
    storage_root_path: str = "./cairn-data/cn"
    datacache_disk_size: int = Field(default=10 << 30, gt=0)
    sys_log_level: LogLevel = "INFO"

    # Cairn: host a worker of the distributed engine (a Ray worker node) once this node has joined
    # an FE with `--join` whose fe.conf turns the engine on; its CPUs and object store size.
    cairn_distributed_engine: bool = False
    cairn_engine_cpus: int = Field(default=1, ge=1)
    cairn_engine_object_store_size: int = Field(default=512 << 20, ge=80 << 20)

    # Cairn, for fault tests: seconds each scan / write waits before it starts working.
    debug_scan_delay_seconds: float = Field(default=0.0, ge=0)
    debug_write_delay_seconds: float = Field(default=0.0, ge=0)

    @field_validator("datacache_disk_size", "cairn_engine_object_store_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        return parse_size(value)

    @field_validator("cairn_distributed_engine", mode="before")
    @classmethod
    def _bool_words(cls, value: Any) -> Any:
        return conf_bool(value)

    @property
    def bind_address(self) -> str:
        """The address the node's servers listen on: `host`, resolved through `CAIRN_HOSTS`."""
        return resolve_host(self.host)

    @property
    def credential(self) -> str | None:
        """The cluster credential (conf keys, then the environment); None when none is set."""
        if self._credential is None:
            self._credential = resolve_credential(self.cluster_credential, self.cluster_credential_file)
        return self._credential

    @property
    def tls(self) -> bool:
        """True when the node serves TLS (both the certificate and its key are configured)."""
        if bool(self.cluster_tls_cert_file) != bool(self.cluster_tls_key_file):
            raise ConfigError("cn.conf: set both cluster_tls_cert_file and cluster_tls_key_file, or neither")
        return bool(self.cluster_tls_cert_file)
