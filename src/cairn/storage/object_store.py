"""ObjectStore: the one interface to object storage, over obstore's local, S3, GCS and Azure stores.

Contract: keys are '/'-separated paths relative to the volume's location. `put_if_absent` is the
only write (DESIGN invariant 1); `get` of a missing key raises ObjectNotFoundError; every other
backend failure becomes StorageError, or StorageUnavailableError when retrying may help.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import obstore
import obstore.exceptions as obx
from obstore.store import LocalStore, S3Store

from cairn.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    StorageError,
    StorageUnavailableError,
    StorageVolumeError,
)
from cairn.storage.fault_injection import FaultInjector, FaultKind, Op, environment_faults
from cairn.storage.volume import REQUEST_TIMEOUT_PROPERTY, StorageVolume, VolumeType

if TYPE_CHECKING:  # obstore defines its config dictionaries for type checkers only
    from obstore.store import ClientConfig, RetryConfig, S3Config

IO_CONCURRENCY = 16


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing or head request tells about one object."""

    key: str
    size: int
    last_modified: datetime


_UNREACHABLE = ("error sending request", "connection refused", "connect", "timed out", "dns", "timeout")
_DENIED = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403 Forbidden")


def _translate(exc: Exception, action: str, key: str, where: str) -> Exception:
    """Turn an obstore exception into Cairn's error types, naming the action, key and store."""
    if isinstance(exc, (obx.NotFoundError, FileNotFoundError)):
        if action == "write":
            # A put finds nothing missing but the place it writes to: the bucket is gone.
            return StorageError(f"bucket does not exist: object storage {where} while trying to {action} '{key}'")
        return ObjectNotFoundError(f"object not found: {key}")
    if isinstance(exc, obx.AlreadyExistsError):
        return ObjectExistsError(f"object already exists: {key}")
    text = str(exc)
    if isinstance(exc, (obx.PermissionDeniedError, obx.UnauthenticatedError)) or any(d in text for d in _DENIED):
        return StorageError(f"access denied by object storage {where} while trying to {action} '{key}': "
                            "check the storage volume's credentials")
    if "NoSuchBucket" in text:
        return StorageError(f"bucket does not exist: object storage {where} while trying to {action} '{key}'")
    if any(u in text.lower() for u in _UNREACHABLE):
        return StorageUnavailableError(f"object storage {where} is unreachable while trying to {action} '{key}'")
    first = text.splitlines()[0] if text else type(exc).__name__
    return StorageError(f"object storage {where} failed to {action} '{key}': {first[:300]}")


class ObjectStore:
    """A storage volume's objects, addressed by keys relative to its location."""

    def __init__(self, store: obstore.store.ObjectStore, description: str, *, volume: StorageVolume,
                 local_root: Path | None = None, faults: FaultInjector | None = None) -> None:
        self._store = store
        # The definition this store was opened from, so work can be handed to a compute node.
        self.volume = volume
        self.description = description
        self._local_root = local_root
        # Faults injected on purpose (tests, the chaos run); None in normal operation.
        self.faults = faults

    def _inject(self, op: Op, key: str) -> frozenset[FaultKind]:
        if self.faults is None:
            return frozenset()
        return self.faults.before(op, key, self.description)

    def _error(self, exc: Exception, action: str, key: str) -> Exception:
        return _translate(exc, action, key, self.description)

    # -- reads ------------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        """Return the object's bytes; raise ObjectNotFoundError if it does not exist."""
        self._inject(Op.GET, key)
        try:
            return bytes(obstore.get(self._store, key).bytes())
        except Exception as exc:  # noqa: BLE001 - translated, never swallowed
            raise self._error(exc, "read", key) from None

    def get_many(self, keys: Sequence[str]) -> list[bytes]:
        """Fetch several objects concurrently, in the order given."""
        if len(keys) <= 1:
            return [self.get(k) for k in keys]
        with ThreadPoolExecutor(max_workers=min(IO_CONCURRENCY, len(keys))) as pool:
            return list(pool.map(self.get, keys))

    def head(self, key: str) -> ObjectInfo | None:
        """Return the object's size and time, or None when it does not exist."""
        self._inject(Op.HEAD, key)
        try:
            meta = obstore.head(self._store, key)
        except Exception as exc:  # noqa: BLE001
            err = self._error(exc, "inspect", key)
            if isinstance(err, ObjectNotFoundError):
                return None
            raise err from None
        return ObjectInfo(key=meta["path"], size=meta["size"], last_modified=meta["last_modified"])

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectInfo]:
        """Yield every object under `prefix` (a folder, '/'-terminated or not), in no particular
        order (S3 lists in key order, a local directory does not).

        With `offset`, only keys greater than it are listed (a cheap way to read a log's tail).
        """
        folder = prefix.rstrip("/")
        cut = self.faults.listing_cut(self._inject(Op.LIST, prefix), prefix) if self.faults else None
        listed = 0
        try:
            stream = obstore.list(self._store, folder or None, offset=offset, chunk_size=1000)
            for chunk in stream:
                for meta in chunk:
                    if listed == cut:
                        break
                    listed += 1
                    yield ObjectInfo(key=meta["path"], size=meta["size"], last_modified=meta["last_modified"])
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "list", prefix) from None
        if cut is not None:
            raise StorageUnavailableError(f"object storage {self.description} is unreachable while trying "
                                          f"to list '{prefix}' (injected fault, after {listed} objects)")

    def list_folders(self, prefix: str) -> builtins.list[str]:
        """Return the names of the immediate sub-folders of `prefix` ('' = the volume's root)."""
        folder = prefix.strip("/")
        self._inject(Op.LIST, prefix)
        try:
            result = obstore.list_with_delimiter(self._store, folder or None)
        except Exception as exc:  # noqa: BLE001
            err = self._error(exc, "list", prefix)
            if isinstance(err, ObjectNotFoundError):
                return []
            raise err from None
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in result["common_prefixes"]]
        return sorted(names)

    def local_path(self, key: str) -> Path | None:
        """The object's file on disk, for local volumes (so readers can open it in place)."""
        if self._local_root is None:
            return None
        return self._local_root / key

    # -- writes -----------------------------------------------------------------------------

    def put_if_absent(self, key: str, data: bytes | memoryview) -> None:
        """Create the object; raise ObjectExistsError if `key` is taken. This is the commit point
        of every atomic step in Cairn."""
        faults = self._inject(Op.PUT, key)
        self._put_bytes(key, data)
        FaultInjector.after_put(faults, key, self.description)

    def _put_bytes(self, key: str, data: bytes | memoryview) -> None:
        try:
            obstore.put(self._store, key, data, mode="create")
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "write", key) from None

    def put_file_if_absent(self, key: str, path: Path) -> None:
        """Create the object from a local file (moved into place on local volumes)."""
        faults = self._inject(Op.PUT, key)
        self._put_file(key, path)
        FaultInjector.after_put(faults, key, self.description)

    def _put_file(self, key: str, path: Path) -> None:
        if self._local_root is not None:
            target = self._local_root / key
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)  # atomic create-if-absent on one file system
            except FileExistsError:
                raise ObjectExistsError(f"object already exists: {key}") from None
            except OSError:
                self._put_bytes(key, path.read_bytes())
            return
        try:
            obstore.put(self._store, key, path, mode="create")
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, "write", key) from None

    def delete(self, key: str) -> None:
        """Delete one object (vacuum only). Deleting a missing object is not an error."""
        self._inject(Op.DELETE, key)
        try:
            obstore.delete(self._store, key)
        except Exception as exc:  # noqa: BLE001
            err = self._error(exc, "delete", key)
            if not isinstance(err, ObjectNotFoundError):
                raise err from None

    def delete_many(self, keys: Sequence[str]) -> None:
        with ThreadPoolExecutor(max_workers=max(1, min(IO_CONCURRENCY, len(keys)))) as pool:
            list(pool.map(self.delete, keys))


def _s3_store(volume: StorageVolume) -> tuple[obstore.store.ObjectStore, str]:
    parsed = urlparse(volume.location)
    props = volume.properties
    endpoint = props.get("aws.s3.endpoint", "")
    if endpoint and "://" not in endpoint:
        endpoint = "http://" + endpoint
    path_style = props.get("aws.s3.enable_path_style_access")
    virtual_hosted = (path_style or "").lower() == "false" if endpoint else True
    config: S3Config = {
        "region": props.get("aws.s3.region") or "us-east-1",
        "virtual_hosted_style_request": virtual_hosted,
    }
    if endpoint:
        config["endpoint"] = endpoint
    if "aws.s3.access_key" in props:
        config["access_key_id"] = props["aws.s3.access_key"]
        config["secret_access_key"] = props["aws.s3.secret_key"]
    elif props.get("aws.s3.use_aws_sdk_default_behavior", "").lower() != "true":
        config["skip_signature"] = False
    client_options: ClientConfig = {
        "allow_http": True, "timeout": f"{int(props.get(REQUEST_TIMEOUT_PROPERTY, 60000))}ms", "connect_timeout": "5s",
    }
    retry_config: RetryConfig = {
        "max_retries": 3, "retry_timeout": timedelta(seconds=20),
        "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=2), "base": 2},
    }
    store = S3Store(parsed.netloc, prefix=parsed.path.strip("/") or None, config=config,
                    client_options=client_options, retry_config=retry_config)
    where = f"s3://{parsed.netloc}{parsed.path}" + (f" (endpoint {endpoint})" if endpoint else "")
    return store, where


def open_store(volume: StorageVolume, faults: FaultInjector | None = None) -> ObjectStore:
    """Build the ObjectStore for a storage volume; raise StorageVolumeError if it cannot be built.

    `faults` injects failures on purpose; without it, the process-wide plan in
    `CAIRN_STORE_FAULTS` applies when that variable is set (see `cairn.storage.fault_injection`).
    """
    faults = faults or environment_faults()
    try:
        if volume.type is VolumeType.LOCAL:
            parsed = urlparse(volume.location)
            root = Path(parsed.path if parsed.scheme == "file" else volume.location).expanduser().resolve()
            root.mkdir(parents=True, exist_ok=True)
            return ObjectStore(LocalStore(root, mkdir=True), str(root), local_root=root, volume=volume,
                               faults=faults)
        if volume.type is VolumeType.S3:
            store, description = _s3_store(volume)
            return ObjectStore(store, description, volume=volume, faults=faults)
    except StorageVolumeError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise StorageVolumeError(f"cannot open storage volume '{volume.name}': {exc}") from None
    raise StorageVolumeError(f"Storage volume type {volume.type.value} is not supported yet")
