"""Storage-volume statements. A volume is probed before it is committed, and secrets never print."""

from __future__ import annotations

import json
from collections.abc import Callable

from cairn.catalog.catalog import Catalog
from cairn.catalog.ops import AlterStorageVolume, CreateStorageVolume, DropStorageVolume, SetDefaultStorageVolume
from cairn.errors import CairnError, StorageVolumeError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.sql import extended
from cairn.sql.registry import StatementRegistry, cluster_admin
from cairn.sql.result import ResultSet
from cairn.sql.show import like_filter
from cairn.storage.object_store import open_store
from cairn.storage.volume import StorageVolume, VolumeType


def probe(volume: StorageVolume) -> None:
    """List the volume's location once, so a bad endpoint or credential fails the statement."""
    store = open_store(volume)
    try:
        store.list_folders("")
    except CairnError as exc:
        raise StorageVolumeError(f"Storage volume '{volume.name}' at {volume.location} is not usable: {exc}") from None


def _volume_type(text: str) -> VolumeType:
    try:
        return VolumeType(text.upper())
    except ValueError:
        raise StorageVolumeError(f"Unknown storage volume type '{text}'; expected S3 or LOCAL") from None


def create_storage_volume(query: QueryContext, fe: Frontend,
                          statement: extended.CreateStorageVolumeStatement) -> ResultSet:
    properties = dict(statement.properties)
    enabled = properties.get("enabled", "true").lower() != "false"
    volume = StorageVolume(name=statement.name, type=_volume_type(statement.type), locations=statement.locations,
                           comment=statement.comment, properties=properties, enabled=enabled)
    volume.validate_definition()
    existing = fe.catalog.state.storage_volumes.get(statement.name)
    if existing is not None:
        if statement.if_not_exists:
            return ResultSet.ok()
        raise StorageVolumeError(f"Storage volume '{statement.name}' already exists")
    probe(volume)

    def build(catalog: Catalog) -> CreateStorageVolume | None:
        if statement.name in catalog.state.storage_volumes:
            if statement.if_not_exists:
                return None
            raise StorageVolumeError(f"Storage volume '{statement.name}' already exists")
        return CreateStorageVolume(volume=volume.model_copy(update={"id": catalog.allocate_ids(1)[0]}))

    fe.commit_if(build)
    return ResultSet.ok()


def alter_storage_volume(query: QueryContext, fe: Frontend,
                         statement: extended.AlterStorageVolumeStatement) -> ResultSet:
    current = fe.catalog.storage_volume(statement.name)
    properties = dict(statement.properties)
    enabled = properties.pop("enabled", None)
    changed = current.model_copy(deep=True)
    changed.properties.update(properties)
    changed.validate_definition()
    if properties:
        probe(changed)
    fe.commit(lambda catalog: AlterStorageVolume(
        name=statement.name, properties=properties, comment=statement.comment,
        enabled=None if enabled is None else enabled.lower() != "false"))
    return ResultSet.ok()


def drop_storage_volume(query: QueryContext, fe: Frontend, statement: extended.DropStorageVolumeStatement) -> ResultSet:
    def build(catalog: Catalog) -> DropStorageVolume | None:
        if statement.name not in catalog.state.storage_volumes:
            if statement.if_exists:
                return None
            raise StorageVolumeError(f"Storage volume '{statement.name}' does not exist")
        if catalog.state.default_storage_volume == statement.name:
            raise StorageVolumeError(f"Storage volume '{statement.name}' is the default storage volume "
                                     "and cannot be dropped")
        users = sorted(db.name for db in catalog.state.databases.values() if db.storage_volume == statement.name)
        if users:
            raise StorageVolumeError(f"Storage volume '{statement.name}' is used by database(s) "
                                     f"{', '.join(users)} and cannot be dropped")
        for check in VOLUME_DROP_CHECKS:
            check(catalog, statement.name)
        return DropStorageVolume(name=statement.name)

    fe.commit_if(build)
    return ResultSet.ok()


# Other subsystems (cluster snapshots) add checks that refuse to drop a volume they still need.
VOLUME_DROP_CHECKS: list[Callable[[Catalog, str], None]] = []


def set_default(query: QueryContext, fe: Frontend, statement: extended.SetDefaultStorageVolume) -> ResultSet:
    def build(catalog: Catalog) -> SetDefaultStorageVolume:
        volume = catalog.storage_volume(statement.name)
        if not volume.enabled:
            raise StorageVolumeError(f"Storage volume '{statement.name}' is disabled")
        return SetDefaultStorageVolume(name=statement.name)

    fe.commit(build)
    return ResultSet.ok()


def show_storage_volumes(query: QueryContext, fe: Frontend, statement: extended.ShowStorageVolumes) -> ResultSet:
    names = like_filter(sorted(fe.catalog.state.storage_volumes), statement.like)
    return ResultSet.from_rows(["Storage Volume"], [(n,) for n in names])


def desc_storage_volume(query: QueryContext, fe: Frontend, statement: extended.DescStorageVolume) -> ResultSet:
    volume = fe.catalog.storage_volume(statement.name)
    is_default = fe.catalog.state.default_storage_volume == volume.name
    row = (volume.name, volume.type.value, str(is_default).lower(), volume.location,
           json.dumps(volume.public_properties()), str(volume.enabled).lower(), volume.comment)
    return ResultSet.from_rows(["Name", "Type", "IsDefault", "Location", "Params", "Enabled", "Comment"], [row])


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(extended.CreateStorageVolumeStatement, create_storage_volume, needs=cluster_admin, writes=True)
    statements.add(extended.AlterStorageVolumeStatement, alter_storage_volume, needs=cluster_admin, writes=True)
    statements.add(extended.DropStorageVolumeStatement, drop_storage_volume, needs=cluster_admin, writes=True)
    statements.add(extended.SetDefaultStorageVolume, set_default, needs=cluster_admin, writes=True)
    statements.add(extended.ShowStorageVolumes, show_storage_volumes, needs=cluster_admin)
    statements.add(extended.DescStorageVolume, desc_storage_volume, needs=cluster_admin)
