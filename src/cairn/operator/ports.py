"""The ports a component listens on, read from its conf file in the ConfigMap (StarRocks' keys and
defaults), so that services, probes and helper addresses match what the processes open."""

from __future__ import annotations

from pydantic import BaseModel

from cairn.config.conf_file import parse_conf_text
from cairn.errors import ConfigError


class FePorts(BaseModel):
    """fe.conf's ports."""

    http_port: int = 8030
    rpc_port: int = 9020
    query_port: int = 9030
    edit_log_port: int = 9010


class CnPorts(BaseModel):
    """cn.conf's ports."""

    thrift_port: int = 9060
    webserver_port: int = 8040
    heartbeat_service_port: int = 9050
    brpc_port: int = 8060


def conf_values(text: str | None) -> dict[str, str]:
    """The `key = value` pairs of a conf file's text; unreadable lines leave the defaults."""
    if not text:
        return {}
    try:
        return parse_conf_text(text, "configMap")
    except ConfigError:
        return {}


def fe_ports(text: str | None) -> FePorts:
    """The FE's ports from fe.conf's text (defaults for what is absent or not a number)."""
    values = conf_values(text)
    return FePorts.model_validate({k: int(v) for k, v in values.items() if k in FePorts.model_fields and v.isdigit()})


def cn_ports(text: str | None) -> CnPorts:
    """The compute node's ports from cn.conf's text."""
    values = conf_values(text)
    return CnPorts.model_validate({k: int(v) for k, v in values.items() if k in CnPorts.model_fields and v.isdigit()})
