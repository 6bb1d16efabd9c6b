"""TLS between FEs and compute nodes, when configured: a CN serves its Flight data service and its
HTTP ports with `cluster_tls_cert_file` / `cluster_tls_key_file` (cn.conf); an FE with
`cluster_tls_ca_file` (fe.conf) speaks TLS to every node and trusts the certificates that CA signed.
Then the cluster credential and the storage volume definitions a request carries never travel in
clear text."""

from __future__ import annotations

import ssl
from pathlib import Path

from cairn.errors import ConfigError


def plaintext_warning(credential: str | None, ca_file: str) -> str | None:
    """What an FE warns once at start when it would send the cluster credential (to compute nodes
    in heartbeats and requests, to other FEs) without TLS; None when TLS is configured or there is
    no credential to send."""
    if not credential or ca_file:
        return None
    return ("the cluster credential crosses the network unencrypted: cluster_tls_ca_file is not set in "
            "fe.conf, so heartbeats and requests to compute nodes and other FEs are sent in clear text; "
            "set cluster_tls_ca_file here and cluster_tls_cert_file / cluster_tls_key_file on the nodes "
            "whenever they talk over a network you do not own")


def read_pem(path: str, key: str) -> bytes:
    """The PEM file named by conf key `key`; ConfigError naming the key when it cannot be read."""
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {key} ({path}): {exc.strerror or exc}") from None


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """The TLS context a CN's HTTP ports serve with."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load cluster_tls_cert_file / cluster_tls_key_file: {exc}") from None
    return context


def client_context(ca_file: str) -> ssl.SSLContext:
    """The TLS context an FE reaches its nodes' HTTP ports with (trusting only `ca_file`)."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load cluster_tls_ca_file ({ca_file}): {exc}") from None
