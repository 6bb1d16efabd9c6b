"""Finding the cluster an FE belongs to: from its meta_dir, its config, or the storage volume."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

from cairn.config.fe_config import FeConfig
from cairn.errors import ClusterChoiceError
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore
from cairn.storage.volume import (
    BUILTIN_VOLUME,
    COMPUTE_ACCESS_KEY,
    COMPUTE_SECRET_KEY,
    REQUEST_TIMEOUT_PROPERTY,
    StorageVolume,
    VolumeType,
)

log = logging.getLogger(__name__)

CLUSTER_FILE = "cluster.json"


def builtin_volume(config: FeConfig) -> StorageVolume:
    """The volume holding the cluster's metadata: S3 from the `aws_s3_*` keys, else a local directory."""
    if config.loads_s3_volume:
        path = config.aws_s3_path.strip()
        location = path if "://" in path else f"s3://{path.strip('/')}"
        props = {"enabled": "true"}
        if config.aws_s3_region:
            props["aws.s3.region"] = config.aws_s3_region
        if config.aws_s3_endpoint:
            props["aws.s3.endpoint"] = config.aws_s3_endpoint
        if config.aws_s3_access_key.get_secret_value():
            props["aws.s3.access_key"] = config.aws_s3_access_key.get_secret_value()
            props["aws.s3.secret_key"] = config.aws_s3_secret_key.get_secret_value()
        compute_key, compute_secret = config.aws_s3_compute_access_key, config.aws_s3_compute_secret_key
        if compute_key.get_secret_value() or compute_secret.get_secret_value():
            props[COMPUTE_ACCESS_KEY] = compute_key.get_secret_value()
            props[COMPUTE_SECRET_KEY] = compute_secret.get_secret_value()
        if config.aws_s3_enable_path_style_access is not None:
            props["aws.s3.enable_path_style_access"] = str(config.aws_s3_enable_path_style_access).lower()
        if config.object_storage_request_timeout_ms is not None:
            props[REQUEST_TIMEOUT_PROPERTY] = str(config.object_storage_request_timeout_ms)
        volume = StorageVolume(name=BUILTIN_VOLUME, type=VolumeType.S3, locations=[location], properties=props)
    else:
        location = str(Path(config.local_storage_path).expanduser().resolve())
        volume = StorageVolume(name=BUILTIN_VOLUME, type=VolumeType.LOCAL, locations=[location],
                               properties={"enabled": "true"})
    volume.validate_definition()
    return volume


def clusters_on_volume(store: ObjectStore) -> list[str]:
    """The ids of the clusters whose metadata lives on this volume."""
    found = []
    for name in store.list_folders(""):
        if store.list_folders(f"{name}/meta") and any(True for _ in store.list(ClusterKeys(name).incarnations_prefix)):
            found.append(name)
    return found


def read_cluster_file(meta_dir: Path) -> str | None:
    file = meta_dir / CLUSTER_FILE
    if not file.exists():
        return None
    cluster_id: str = json.loads(file.read_text())["cluster_id"]
    return cluster_id


def write_cluster_file(meta_dir: Path, cluster_id: str, location: str) -> None:
    meta_dir.mkdir(parents=True, exist_ok=True)
    tmp = meta_dir / (CLUSTER_FILE + ".tmp")
    tmp.write_text(json.dumps({"cluster_id": cluster_id, "volume": location}))
    tmp.replace(meta_dir / CLUSTER_FILE)


def choose_cluster(config: FeConfig, store: ObjectStore, meta_dir: Path) -> tuple[str, bool]:
    """Return (cluster id, is_new). Order: fe.conf `cluster_id`, meta_dir, the only cluster on
    the volume, or a new one. Raises ClusterChoiceError when the volume holds several."""
    if config.cluster_id:
        existing = any(True for _ in store.list(ClusterKeys(config.cluster_id).incarnations_prefix))
        return config.cluster_id, not existing
    remembered = read_cluster_file(meta_dir)
    if remembered:
        return remembered, False
    clusters = clusters_on_volume(store)
    if len(clusters) == 1:
        log.info("meta_dir %s is empty: resuming cluster %s found on storage volume %s",
                 meta_dir, clusters[0], store.description)
        return clusters[0], False
    if len(clusters) > 1:
        raise ClusterChoiceError(
            f"storage volume {store.description} holds {len(clusters)} clusters: {', '.join(clusters)}. "
            "Set 'cluster_id' in fe.conf to the one this FE should serve.")
    return str(uuid.uuid4()), True
