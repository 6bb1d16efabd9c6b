"""The cluster credential: the shared secret every FE and CN of one cluster holds, carried by every
call to a compute node and checked there (DESIGN invariant 7).

It is not the FE-only key that encrypts secrets at rest and signs journal entries: a compute node
holds this one, never that one.

Where it comes from, first found wins:
1. `cluster_credential` in fe.conf / cn.conf;
2. `cluster_credential_file` in fe.conf / cn.conf: a file holding it (how a Kubernetes Secret is
   mounted), surrounding whitespace ignored;
3. the environment variable CAIRN_CLUSTER_CREDENTIAL;
4. the environment variable CAIRN_CLUSTER_CREDENTIAL_FILE, naming such a file.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from cairn.errors import ConfigError
from cairn.secrets import register_secret

CREDENTIAL_ENV = "CAIRN_CLUSTER_CREDENTIAL"
CREDENTIAL_FILE_ENV = "CAIRN_CLUSTER_CREDENTIAL_FILE"
# The header a credential travels in (HTTP and Arrow Flight's gRPC metadata alike).
CREDENTIAL_HEADER = "authorization"
_SCHEME = "Bearer "
# Shorter secrets are refused: a guessable credential is no door at all.
MIN_LENGTH = 16


def _read_file(path: str, source: str) -> str:
    try:
        text = Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the cluster credential file named by {source} ({path}): "
                          f"{exc.strerror or exc}") from None
    if not text:
        raise ConfigError(f"the cluster credential file named by {source} ({path}) is empty")
    return text


def resolve_credential(configured: SecretStr, configured_file: str) -> str | None:
    """The cluster credential from the conf keys or the environment (see the module docstring),
    registered for redaction; None when none is set anywhere."""
    if configured.get_secret_value():
        value = configured.get_secret_value()
        source = "cluster_credential"
    elif configured_file:
        value, source = _read_file(configured_file, "cluster_credential_file"), "cluster_credential_file"
    elif os.environ.get(CREDENTIAL_ENV):
        value, source = os.environ[CREDENTIAL_ENV], CREDENTIAL_ENV
    elif os.environ.get(CREDENTIAL_FILE_ENV):
        value, source = _read_file(os.environ[CREDENTIAL_FILE_ENV], CREDENTIAL_FILE_ENV), CREDENTIAL_FILE_ENV
    else:
        return None
    if len(value) < MIN_LENGTH:
        raise ConfigError(f"the cluster credential from {source} is too short: use at least {MIN_LENGTH} characters")
    register_secret(value)
    return value


def new_credential() -> str:
    """A fresh random credential (what `cairn up --cn N` hands its local nodes)."""
    value = secrets.token_urlsafe(32)
    register_secret(value)
    return value


def header_value(credential: str) -> str:
    """The value of the `authorization` header that carries `credential`."""
    return f"{_SCHEME}{credential}"


def matches(credential: str, presented: str | bytes | None) -> bool:
    """True when the header value `presented` carries `credential`; compared in constant time."""
    if presented is None:
        return False
    text = presented.decode("utf-8", "replace") if isinstance(presented, bytes) else presented
    return hmac.compare_digest(text.encode(), header_value(credential).encode())
