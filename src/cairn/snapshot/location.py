"""Reading a snapshot path the way StarRocks prints it, and opening its volume without an FE.

`s3://bucket/data/<cluster id>/meta/image/<snapshot>` names one snapshot; `…/<cluster id>/meta` (or
`…/meta/image`) names every snapshot of the cluster; a bare volume location names every cluster.
Credentials come from `fe.conf` (`aws_s3_*`) or the standard AWS environment variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cairn.config.fe_config import FeConfig
from cairn.errors import ConfigError
from cairn.storage.volume import StorageVolume, VolumeType


@dataclass(frozen=True)
class SnapshotLocation:
    """A volume, and optionally the cluster and snapshot within it."""

    volume: StorageVolume
    cluster_id: str | None = None
    snapshot: str | None = None


def _s3_properties(config: FeConfig | None) -> dict[str, str]:
    props: dict[str, str] = {}
    access = config.aws_s3_access_key.get_secret_value() if config else ""
    secret = config.aws_s3_secret_key.get_secret_value() if config else ""
    access = access or os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = secret or os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    endpoint = (config.aws_s3_endpoint if config else "") or os.environ.get("AWS_ENDPOINT_URL", "")
    region = (config.aws_s3_region if config else "") or os.environ.get("AWS_REGION", "") or "us-east-1"
    if access and secret:
        props["aws.s3.access_key"], props["aws.s3.secret_key"] = access, secret
    if endpoint:
        props["aws.s3.endpoint"] = endpoint
    props["aws.s3.region"] = region
    return props


def parse_location(path: str, config: FeConfig | None = None) -> SnapshotLocation:
    """Split `path` into volume, cluster and snapshot. Raises ConfigError for a path it cannot read."""
    text = path.rstrip("/")
    parts = text.split("/")
    cluster = snapshot = None
    if "meta" in parts:
        index = len(parts) - 1 - parts[::-1].index("meta")
        if index == 0:
            raise ConfigError(f"'{path}' has no cluster id before /meta")
        cluster = parts[index - 1]
        rest = parts[index + 1:]
        if rest[:1] == ["image"] and len(rest) == 2:
            snapshot = rest[1]
        elif rest not in ([], ["image"]):
            raise ConfigError(f"'{path}' is not a snapshot path (expected …/<cluster>/meta[/image[/<name>]])")
        location = "/".join(parts[:index - 1])
    else:
        location = text
    if location.startswith(("s3://", "s3a://")):
        volume = StorageVolume(name="snapshot_volume", type=VolumeType.S3, locations=[location],
                               properties=_s3_properties(config))
    else:
        volume = StorageVolume(name="snapshot_volume", type=VolumeType.LOCAL,
                               locations=[str(Path(location.removeprefix("file://")).expanduser().resolve())])
    return SnapshotLocation(volume, cluster, snapshot)
