"""Storage volumes: where a cluster's objects live (StarRocks' CREATE STORAGE VOLUME)."""

from __future__ import annotations

from enum import Enum
from urllib.parse import urlparse

from pydantic import BaseModel, Field

from cairn.errors import StorageVolumeError
from cairn.secrets import MASK, register_secret

BUILTIN_VOLUME = "builtin_storage_volume"

# Cairn: the credentials compute nodes are given for this volume instead of the volume's own. An FE
# reads and writes the whole cluster (its journal, images and snapshots); a node needs only the
# cluster's data prefix, so these keys can belong to a principal allowed no more than that.
COMPUTE_ACCESS_KEY = "cairn.compute.aws.s3.access_key"
COMPUTE_SECRET_KEY = "cairn.compute.aws.s3.secret_key"
COMPUTE_PROPERTIES = frozenset({COMPUTE_ACCESS_KEY, COMPUTE_SECRET_KEY})
# How the volume's own principal is found without static keys: a node given compute keys uses those only.
_AMBIENT_CREDENTIALS = frozenset(
    {"aws.s3.use_aws_sdk_default_behavior", "aws.s3.use_instance_profile", "aws.s3.iam_role_arn",
     "aws.s3.external_id"})

# Property keys whose values are credentials: never shown, logged or written to a manifest.
SECRET_PROPERTIES = frozenset(
    {"aws.s3.access_key", "aws.s3.secret_key", "azure.blob.shared_key", "azure.blob.sas_token",
     "gcp.gcs.service_account_private_key", "gcp.gcs.service_account_private_key_id", *COMPUTE_PROPERTIES}
)

# Cairn: milliseconds one request may take before it counts as failed (default 60 s).
REQUEST_TIMEOUT_PROPERTY = "aws.s3.request_timeout_ms"
S3_PROPERTIES = frozenset(
    {"aws.s3.region", "aws.s3.endpoint", "aws.s3.access_key", "aws.s3.secret_key",
     "aws.s3.use_aws_sdk_default_behavior", "aws.s3.use_instance_profile",
     "aws.s3.enable_path_style_access", "aws.s3.iam_role_arn", "aws.s3.external_id",
     "enabled", "aws.s3.enable_partitioned_prefix", "aws.s3.num_partitioned_prefix", REQUEST_TIMEOUT_PROPERTY,
     *COMPUTE_PROPERTIES}
)
LOCAL_PROPERTIES = frozenset({"enabled"})


class VolumeType(str, Enum):
    """Backends a storage volume can name. GCS and Azure have room here; S3 and LOCAL are built."""

    S3 = "S3"
    LOCAL = "LOCAL"
    GCS = "GS"
    AZURE = "AZBLOB"


class StorageVolume(BaseModel):
    """One storage volume as the catalog keeps it (secrets included: the catalog is the durable copy)."""

    name: str
    type: VolumeType
    locations: list[str]
    comment: str = ""
    properties: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    id: int = 0

    def model_post_init(self, _context: object) -> None:
        for key in SECRET_PROPERTIES & self.properties.keys():
            register_secret(self.properties[key])

    @property
    def location(self) -> str:
        return self.locations[0]

    def public_properties(self) -> dict[str, str]:
        """The properties with every secret masked, for SHOW, DESC, manifests and logs."""
        return {k: (MASK if k in SECRET_PROPERTIES else v) for k, v in self.properties.items()}

    @property
    def has_compute_credentials(self) -> bool:
        """True when compute nodes get their own keys for this volume (COMPUTE_ACCESS_KEY)."""
        return COMPUTE_ACCESS_KEY in self.properties

    @property
    def gives_nodes_its_own_keys(self) -> bool:
        """True when compute nodes would be handed the volume's own static keys (the FE's): an S3
        volume with `aws.s3.access_key` and no compute credentials."""
        return self.type is VolumeType.S3 and "aws.s3.access_key" in self.properties \
            and not self.has_compute_credentials

    def for_compute_nodes(self) -> "StorageVolume":
        """The definition a compute node is given: with compute credentials, those as the volume's
        keys (the volume's own keys, and any other way to find its principal, left out); without,
        the volume as it is. Never carries the compute properties themselves."""
        properties = {k: v for k, v in self.properties.items() if k not in COMPUTE_PROPERTIES}
        if self.has_compute_credentials:
            properties = {k: v for k, v in properties.items() if k not in _AMBIENT_CREDENTIALS}
            properties["aws.s3.access_key"] = self.properties[COMPUTE_ACCESS_KEY]
            properties["aws.s3.secret_key"] = self.properties[COMPUTE_SECRET_KEY]
        return self.model_copy(update={"properties": properties})

    def validate_definition(self) -> None:
        """Check type, location and property keys; raise StorageVolumeError naming the problem."""
        if len(self.locations) != 1:
            raise StorageVolumeError(f"Storage volume '{self.name}' must have exactly one location")
        scheme = urlparse(self.location).scheme
        if self.type is VolumeType.S3:
            if scheme not in {"s3", "s3a"}:
                raise StorageVolumeError(
                    f"Invalid location '{self.location}' for S3 storage volume '{self.name}': "
                    "expected s3://bucket/path")
            if not urlparse(self.location).netloc:
                raise StorageVolumeError(f"Location '{self.location}' names no bucket")
            allowed = S3_PROPERTIES
        elif self.type is VolumeType.LOCAL:
            if scheme not in {"", "file"}:
                raise StorageVolumeError(
                    f"Invalid location '{self.location}' for LOCAL storage volume '{self.name}': "
                    "expected a directory path or file:// URL")
            allowed = LOCAL_PROPERTIES
        else:
            raise StorageVolumeError(f"Storage volume type {self.type.value} is not supported yet")
        unknown = sorted(set(self.properties) - allowed)
        if unknown:
            raise StorageVolumeError(
                f"Unknown property '{unknown[0]}' for {self.type.value} storage volume '{self.name}'")
        if self.type is VolumeType.S3:
            has_key = "aws.s3.access_key" in self.properties
            has_secret = "aws.s3.secret_key" in self.properties
            if has_key != has_secret:
                raise StorageVolumeError(
                    "'aws.s3.access_key' and 'aws.s3.secret_key' must be given together")
            if (COMPUTE_ACCESS_KEY in self.properties) != (COMPUTE_SECRET_KEY in self.properties):
                raise StorageVolumeError(f"'{COMPUTE_ACCESS_KEY}' and '{COMPUTE_SECRET_KEY}' must be given together")
            if "aws.s3.region" not in self.properties and "aws.s3.endpoint" not in self.properties:
                raise StorageVolumeError("S3 storage volume needs 'aws.s3.region' or 'aws.s3.endpoint'")
