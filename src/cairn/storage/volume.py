"""Storage volumes: where a cluster's objects live (StarRocks' CREATE STORAGE VOLUME)."""

from __future__ import annotations

from enum import Enum
from urllib.parse import urlparse

from pydantic import BaseModel, Field

from cairn.errors import StorageVolumeError
from cairn.secrets import MASK, register_secret

BUILTIN_VOLUME = "builtin_storage_volume"

# Property keys whose values are credentials: never shown, logged or written to a manifest.
SECRET_PROPERTIES = frozenset(
    {"aws.s3.access_key", "aws.s3.secret_key", "azure.blob.shared_key", "azure.blob.sas_token",
     "gcp.gcs.service_account_private_key", "gcp.gcs.service_account_private_key_id"}
)

# Cairn: milliseconds one request may take before it counts as failed (default 60 s).
REQUEST_TIMEOUT_PROPERTY = "aws.s3.request_timeout_ms"
S3_PROPERTIES = frozenset(
    {"aws.s3.region", "aws.s3.endpoint", "aws.s3.access_key", "aws.s3.secret_key",
     "aws.s3.use_aws_sdk_default_behavior", "aws.s3.use_instance_profile",
     "aws.s3.enable_path_style_access", "aws.s3.iam_role_arn", "aws.s3.external_id",
     "enabled", "aws.s3.enable_partitioned_prefix", "aws.s3.num_partitioned_prefix", REQUEST_TIMEOUT_PROPERTY}
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
            if "aws.s3.region" not in self.properties and "aws.s3.endpoint" not in self.properties:
                raise StorageVolumeError("S3 storage volume needs 'aws.s3.region' or 'aws.s3.endpoint'")
